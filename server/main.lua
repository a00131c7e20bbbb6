-- main: runs the local KooDrive + IoTDA development service on nginx (Debian's
-- nginx with libnginx-mod-http-lua; the service is server/koodrive_local/).
--
--   lua5.4 server/main.lua [--port N] [--port-file PATH] [--host 127.0.0.1] [--access-log]
--
-- Any Lua with LuaSocket runs this launcher. --port 0 (the default) takes a
-- free port. Once listening, the port number is written to --port-file
-- (through a temporary name and a rename, so a reader never sees half a file)
-- and "listening on HOST:PORT" is printed. Runs until killed (Ctrl-C, or a
-- signal to this process: nginx notices within a second and stops too).

-- koodrive_local.* from this file's directory whatever the current directory is.
local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. dir .. "/?/init.lua;" .. package.path

local launch = require "koodrive_local.launch"

local function usage(msg)
  if msg then io.stderr:write("main.lua: ", msg, "\n") end
  io.stderr:write("usage: lua5.4 server/main.lua [--port N] [--port-file PATH] [--host ADDR] [--access-log]\n")
  os.exit(msg and 2 or 0)
end

local opts = { host = "127.0.0.1", port = 0 }
local i = 1
while i <= #arg do
  local a = arg[i]
  local function value()
    i = i + 1
    if arg[i] == nil then usage(a .. " needs a value") end
    return arg[i]
  end
  if a == "--port" then
    local v = value()
    opts.port = v:match("^%d+$") and tonumber(v)
    if not opts.port or opts.port > 65535 then usage("bad --port") end
  elseif a == "--port-file" then
    opts.port_file = value()
  elseif a == "--host" then
    opts.host = value()
  elseif a == "--access-log" then
    opts.access_log = true
  elseif a == "--help" or a == "-h" then
    usage()
  else
    usage("unknown argument " .. a)
  end
  i = i + 1
end

local root = launch.absolute(dir .. "/..")
local me = launch.own_pid()
-- A free port can be taken between the probe and nginx's bind: then try another.
for _ = 1, opts.port == 0 and 4 or 1 do
  local port = opts.port ~= 0 and opts.port or launch.free_port(opts.host)
  local prefix = launch.configure { root = root, host = opts.host, port = port,
    port_file = opts.port_file, access_log = opts.access_log, watch_pid = me }
  -- nginx in the foreground (daemon off): its output is ours
  os.execute("env -u LUA_PATH -u LUA_CPATH " .. launch.command(prefix) .. " </dev/null")
  local log = launch.read(prefix .. "/logs/error.log") or ""
  os.execute("rm -rf " .. launch.quote(prefix))
  if not log:find("Address already in use", 1, true) then
    if log:find("%[emerg%]") then io.stderr:write(log) os.exit(1) end
    os.exit(0)
  end
end
io.stderr:write("main.lua: no free port found\n")
os.exit(1)
