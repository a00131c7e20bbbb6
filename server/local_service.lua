-- local_service: start and stop the local KooDrive + IoTDA service (nginx with
-- its Lua module running server/koodrive_local/) from a spec, the demo or a
-- script of your own. Works from any Lua with LuaSocket.
--
--   local svc = require "local_service"   -- with server/?.lua on package.path
--   local server = svc.start()          -- { port, url, pid, stop, control, get }
--   server.control("/_local/fault?kind=503&count=2")   -- POST: status, body
--   local body = server.get("/_local/requests")        -- GET: body, status
--   ...
--   server.stop()                       -- in teardown/finally; safe to call twice
--
-- opts (all optional):
--   root     repository root (else found from this file's location, else ".")
--   timeout  seconds to wait for the service to answer (default 10)
--   args     extra arguments as for server/main.lua: only "--access-log" is known
--   lua      ignored (the service used to run on lua5.4; nginx runs it on LuaJIT now)
--
-- pid is the nginx master's; stop() sends it QUIT, then KILL if needed, and
-- removes its prefix directory. nginx's output goes to a temporary log file
-- whose text is put into the error if it does not start.

local socket = require "socket"

local M = {}

-- The repository root: the directory above this file (server/).
local function default_root()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) == "@" then
    local dir = src:sub(2):match("^(.*)/server/[^/]*$")
    if dir then return dir end
    if src:match("^@server/") then return "." end
  end
  return "."
end

-- koodrive_local.launch from this file's directory, whatever package.path holds.
local function launcher(root)
  local ok, launch = pcall(require, "koodrive_local.launch")
  if ok then return launch end
  return dofile(root .. "/server/koodrive_local/launch.lua")
end

function M.start(opts)
  opts = opts or {}
  local root = opts.root or default_root()
  local launch = launcher(root)
  root = launch.absolute(root)
  local access_log = false
  for _, a in ipairs(opts.args or {}) do
    if a == "--access-log" then access_log = true else error("local service: unknown argument " .. a, 2) end
  end
  local log_file = os.tmpname()
  local started, why = launch.start { root = root, timeout = opts.timeout, log_file = log_file,
    access_log = access_log }
  if not started then
    local log = launch.read(log_file) or ""
    os.remove(log_file)
    error("local service did not start: " .. tostring(why) .. "\n" .. log, 2)
  end

  local pid, port = started.pid, started.port
  local handle = { pid = pid, port = port, url = "http://127.0.0.1:" .. port, log_file = log_file }
  local stopped = false

  function handle.stop()
    if stopped then return end
    stopped = true
    launch.stop(pid)
    os.execute("rm -rf " .. launch.quote(started.prefix))
    os.remove(log_file)
  end

  --- Sends a control request (POST /_local/...) and returns the status and the body, e.g.
  -- handle.control("/_local/delay?ms=300"), handle.control("/_local/reset") or
  -- handle.control("/_local/fault?kind=503&count=2").
  function handle.control(path)
    local http = require "socket.http"
    local ltn12 = require "ltn12"
    local out = {}
    local _, status = http.request { url = handle.url .. path, method = "POST",
      headers = { ["content-length"] = "0" }, sink = ltn12.sink.table(out) }
    return status, table.concat(out)
  end

  --- GET of a local helper (e.g. "/_local/requests"): returns the body and the status.
  function handle.get(path)
    local http = require "socket.http"
    local ltn12 = require "ltn12"
    local out = {}
    local _, status = http.request { url = handle.url .. path, sink = ltn12.sink.table(out) }
    return table.concat(out), status
  end
  return handle
end

M._socket = socket   -- LuaSocket is this module's dependency (launch uses it too)

return M
