-- main: starts the local KooDrive + IoTDA development service.
--
--   lua5.4 server/main.lua [--port N] [--port-file PATH] [--host 127.0.0.1] [--access-log]
--
-- --port 0 (the default) takes a free port. Once listening, the port number
-- is written to --port-file (through a temporary name and a rename, so a
-- reader never sees half a file) and "listening on HOST:PORT" is printed.
-- Runs until killed.

-- Load the sibling modules (httpd, auth, service, jsonio, local_credentials)
-- from this file's directory whatever the current directory is.
local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path

local httpd = require "httpd"
local service = require "service"

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
    opts.port = tonumber(value())
    if not opts.port or opts.port < 0 or opts.port > 65535 or math.type(opts.port) ~= "integer" then
      usage("bad --port")
    end
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

local creds = require "local_credentials"
local svc = service.new(creds)

httpd.serve {
  host = opts.host,
  port = opts.port,
  access_log = opts.access_log,
  handler = function(req) return svc:handle(req) end,
  error_body = function(status, why, req) return svc:error_body(status, why, req) end,
  on_listen = function(port)
    if opts.port_file then
      local tmp = opts.port_file .. ".tmp"
      local f = assert(io.open(tmp, "w"))
      f:write(port, "\n")
      f:close()
      assert(os.rename(tmp, opts.port_file))
    end
    io.stdout:write(string.format("listening on %s:%d\n", opts.host, port))
    io.stdout:flush()
  end,
}
