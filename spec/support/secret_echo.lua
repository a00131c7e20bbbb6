-- support.secret_echo: starts spec/support/echo_main.lua, a service on 127.0.0.1 that echoes
-- the caller's credentials back in its errors (see that file for the styles).
--   local server = echo.start { "secret one", "secret two" }   -- { url, pid, stop }
--   ...
--   server.stop()   -- in a finally/teardown; safe to call twice
local socket = require "socket"
local sys = require "support.sys"

local M = {}

function M.start(secrets, opts)
  opts = opts or {}
  local lua = opts.lua or os.getenv("KOODRIVE_SERVER_LUA") or "lua5.4"
  local secrets_file, port_file, log_file = os.tmpname(), os.tmpname(), os.tmpname()
  os.remove(port_file)
  sys.write(secrets_file, table.concat(secrets, "\n") .. "\n")
  local inner = string.format("%s spec/support/echo_main.lua %s %s </dev/null >%s 2>&1 & echo $!",
    sys.quote(lua), sys.quote(secrets_file), sys.quote(port_file), sys.quote(log_file))
  local p = assert(io.popen("sh -c " .. sys.quote(inner), "r"))
  local pid = tonumber(p:read("*l"))
  p:close()
  assert(pid, "echo server: could not start " .. lua)
  local handle, stopped = { pid = pid }, false
  function handle.stop()
    if stopped then return end
    stopped = true
    os.execute("kill " .. pid .. " 2>/dev/null")
    local deadline = socket.gettime() + 2
    while sys.alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
    if sys.alive(pid) then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
    for _, f in ipairs { secrets_file, port_file, log_file } do os.remove(f) end
  end
  local deadline = socket.gettime() + 10
  while true do
    local port = tonumber((sys.read(port_file) or ""):match("^(%d+)"))
    if port then handle.url = "http://127.0.0.1:" .. port; break end
    if not sys.alive(pid) or socket.gettime() > deadline then
      local log = sys.read(log_file) or ""
      handle.stop()
      error("echo server did not start: " .. log, 2)
    end
    socket.sleep(0.02)
  end
  return handle
end

return M
