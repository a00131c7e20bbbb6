-- luv_host.lua: koodrive inside a libuv loop (Neovim's vim.uv / vim.loop, luvit, lua-luv),
-- woken by libcurl's sockets instead of a polling timer. Configured like quickstart.lua
-- (KOODRIVE_ENDPOINT, KOODRIVE_USER_ID, credentials). In Neovim, pass vim.uv (or vim.loop)
-- and drop the uv.run() at the end: the editor runs its loop already.
local uv = require "luv"
local koodrive = require "koodrive"

local client = assert(koodrive.default())
local host = require("koodrive.hosts.luv")(uv)

local listed = {}
for i = 1, 5 do
  host.spawn(function()
    local devices = assert(client.devices:list()) -- reads sequentially; the uv loop goes on
    listed[i] = #devices
  end)
end

-- The host's own work keeps its pace meanwhile.
local ticks = 0
local tick = uv.new_timer()
tick:start(10, 10, function()
  ticks = ticks + 1
  if #listed == 5 then tick:stop(); tick:close() end
end)

uv.run() -- returns once the calls are done: the host leaves no watcher behind
print(string.format("listed devices 5 times (%d each) in %d wakes; the host's timer ran %d times",
  listed[1], host.wakes, ticks))
host.close()
uv.run()
