-- local_service: start and stop the local KooDrive + IoTDA service (server/main.lua)
-- from a spec, the demo or a script of your own.
--
--   local svc = require "local_service"   -- with server/?.lua on package.path
--   local server = svc.start()          -- { port, url, pid, stop, control, get }
--   server.control("/_local/fault?kind=503&count=2")   -- POST: status, body
--   local body = server.get("/_local/requests")        -- GET: body, status
--   ...
--   server.stop()                       -- in teardown/finally; safe to call twice
--
-- opts (all optional):
--   lua      interpreter to run the server with (else $KOODRIVE_SERVER_LUA, else "lua5.4")
--   root     repository root (else found from this file's location, else ".")
--   timeout  seconds to wait for the port file (default 5)
--   args     extra command-line arguments for server/main.lua (list of strings)
--
-- The server runs in the background; its stdout and stderr go to a
-- temporary log file whose text is put into the error if it does not start.

local socket = require "socket"

local M = {}

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

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

-- Whether the process still runs. A zombie counts as gone: it has exited,
-- and whether someone reaps it soon is not ours to wait for.
local function alive(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  if stat then
    local state = stat:match("^%d+ %b() (%a)")
    return state ~= "Z" and state ~= "X"
  end
  if read_file("/proc/self/stat") then return false end   -- /proc works, so it is gone
  -- os.execute gives true|nil on Lua 5.2+, the exit status (0 on success) on 5.1 and LuaJIT
  local ok = os.execute("kill -0 " .. pid .. " 2>/dev/null")
  return ok == true or ok == 0
end

function M.start(opts)
  opts = opts or {}
  local lua = opts.lua or os.getenv("KOODRIVE_SERVER_LUA") or "lua5.4"
  local root = opts.root or default_root()
  local timeout = opts.timeout or 5

  local port_file = os.tmpname()
  os.remove(port_file)                 -- the server creates it once it listens
  local log_file = os.tmpname()

  local extra = {}
  for _, a in ipairs(opts.args or {}) do extra[#extra + 1] = shell_quote(a) end
  local inner = string.format("%s %s --port 0 --port-file %s %s </dev/null >%s 2>&1 & echo $!",
    shell_quote(lua), shell_quote(root .. "/server/main.lua"), shell_quote(port_file),
    table.concat(extra, " "), shell_quote(log_file))
  local p = assert(io.popen("sh -c " .. shell_quote(inner), "r"))
  local pid = tonumber(p:read("*l"))
  p:close()
  if not pid then
    os.remove(log_file)
    error("local service: could not start " .. lua)
  end

  local handle = { pid = pid }
  local stopped = false

  function handle.stop()
    if stopped then return end
    stopped = true
    os.execute("kill " .. pid .. " 2>/dev/null")
    local deadline = socket.gettime() + 2
    while alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
    if alive(pid) then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
    os.remove(port_file)
    os.remove(port_file .. ".tmp")
    os.remove(log_file)
  end

  local deadline = socket.gettime() + timeout
  local port
  while true do
    local text = read_file(port_file)
    port = text and tonumber(text:match("^(%d+)"))
    if port then break end
    local exited = not alive(pid)
    if exited or socket.gettime() >= deadline then
      local log = read_file(log_file) or ""
      handle.stop()
      error(string.format("local service (pid %d) %s; its output:\n%s", pid,
        exited and "exited before listening" or string.format("not listening after %gs", timeout), log), 2)
    end
    socket.sleep(0.02)
  end

  handle.port = port
  handle.url = "http://127.0.0.1:" .. port

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
  handle.log_file = log_file
  return handle
end

return M
