-- cqueues_host.lua: koodrive calls from coroutines of a cqueues controller (what lua-http
-- servers run on), each reading sequentially while the controller serves the others.
-- Configured like quickstart.lua (KOODRIVE_ENDPOINT, KOODRIVE_USER_ID, credentials).
local cqueues = require "cqueues"
local koodrive = require "koodrive"

local client = assert(koodrive.default())
local cq = cqueues.new()
local host = require("koodrive.hosts.cqueues")(cqueues, { cq = cq })

local done = 0
for i = 1, 5 do
  cq:wrap(function() -- e.g. a lua-http handler
    local devices = assert(host.run(function() return client.devices:list() end))
    done = done + 1
    print(string.format("coroutine %d: %d devices", i, #devices))
  end)
end
assert(cq:loop())
print(string.format("%d calls from %d coroutines in %d wakes", done, done, host.wakes))
host.close()
