-- koodrive_local.nginx_app: the local service inside nginx's Lua module (one
-- worker, so all state is this Lua VM's; see koodrive_local.launch for the
-- configuration). nginx does the HTTP/1.1 work - keep-alive, pipelining,
-- chunked bodies, Expect: 100-continue, limits, thousands of connections -
-- and this file turns an nginx request into the service's request table and
-- the service's answer back into an nginx response:
--
--   serve()       content handler of every path (location /)
--   serve_blob()  content handler of /_local/blobs/ (no body limit, streamed in)
--   serve_store() content handler of /_store/ (koodrive_local.objstore)
--   error_page()  the answer of errors nginx finds itself (400, 413, 431...),
--                 in the service's envelope instead of nginx's HTML
--   ready(...)    init_worker: writes the port file once the port is open
--
-- Waiting (delays, trickled bytes, a stall) goes through ngx.sleep and
-- cosockets, which yield: one connection's wait holds up no other.

-- luacheck: globals ngx (nginx's API table; handlers set ngx.status and ngx.header fields)

local koodrive_local = require "koodrive_local"
local creds = require "local_credentials"
local state = require "koodrive_local.state"

local M = {}

local JSON = "application/json;charset=UTF-8"
local svc = koodrive_local.new(creds)

---------------------------------------------------------------------------
-- Requests

-- Header values as the verifier wants them: lowercase names, repeated
-- headers joined with ", " (the usual list combination).
local function request_headers()
  local out = {}
  for k, v in pairs(ngx.req.get_headers(0)) do
    out[k] = type(v) == "table" and table.concat(v, ", ") or v
  end
  return out
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- The whole body: in memory up to client_body_buffer_size, else from the
-- temporary file nginx wrote.
local function buffered_body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if data then return data end
  local file = ngx.req.get_body_file()
  return file and read_file(file) or ""
end

-- A Content-Length body read straight from the connection in 1 MiB pieces
-- (no temporary file), for blobs; chunked ones go through buffered_body.
local function streamed_body()
  local len = tonumber(ngx.var.http_content_length or "")
  if not len or ngx.var.http_transfer_encoding then return buffered_body() end
  if len == 0 then return "" end
  local sock = assert(ngx.req.socket())
  sock:settimeout(30000)
  local parts, left = {}, len
  while left > 0 do
    local n = left < 1048576 and left or 1048576
    local data, err = sock:receive(n)
    if not data then return nil, err end
    parts[#parts + 1] = data
    left = left - n
  end
  return table.concat(parts)
end

local function request(body)
  local target = ngx.var.request_uri
  local path, query = target:match("^([^?]*)%?(.*)$")
  return {
    method = ngx.req.get_method(), target = target, path = path or target, query = query,
    headers = request_headers(), body = body,
  }
end

---------------------------------------------------------------------------
-- Raw answers: the downstream connection itself

local linger_zero = require("koodrive_local.rst").linger_zero

local conn = {}

-- RST instead of an answer: SO_LINGER 0 on this connection's descriptor,
-- then nginx closes it without a response (444), and close() sends a reset.
function conn.abort()
  linger_zero(tonumber(ngx.var.remote_port), tonumber(ngx.var.server_port))
  return ngx.exit(444)
end

-- Reads and drops whatever arrives until the client closes or `seconds` pass;
-- then the connection is closed without an answer.
function conn.wait_gone(_, seconds)
  local sock = ngx.req.socket(true)
  if sock then
    sock:settimeout(1000)
    local deadline = ngx.now() + seconds
    while ngx.now() < deadline do
      local data, err = sock:receiveany(65536)
      if not data and err ~= "timeout" then break end
    end
  end
  return ngx.exit(444)
end

---------------------------------------------------------------------------
-- Answers

local function emit(chunk)
  local ok = ngx.print(chunk)
  if ok then ok = ngx.flush(true) end
  return ok ~= nil
end

local function send(status, headers, body, head_only)
  ngx.status = status
  local seen = {}
  for _, hv in ipairs(headers or {}) do
    ngx.header[hv[1]] = hv[2]
    seen[hv[1]:lower()] = true
  end
  if not seen["content-type"] then ngx.header["Content-Type"] = JSON end
  if not seen["x-request-id"] then ngx.header["X-Request-Id"] = state.request_id() end
  if type(body) == "function" then
    -- a streamed body: its length is in the headers already
    ngx.send_headers()
    ngx.flush(true)
    if not head_only then body(emit, ngx.sleep) end
    return
  end
  ngx.header["Content-Length"] = #body
  if not head_only then ngx.print(body) end
end

local function answer(req)
  local delay, why = koodrive_local.header_delay(req)
  local ok, s, h, b
  if not delay then
    ok, s, b, delay = true, 400, koodrive_local.error_body(400, why, req.path), 0
  else
    ok, s, h, b = xpcall(svc.handle, debug.traceback, svc, req, ngx.sleep)
  end
  if not ok or not (type(s) == "function" or type(s) == "number" and b ~= nil) then
    ngx.log(ngx.ERR, "handler error on ", req.method, " ", req.target, ": ",
      ok and "bad handler result" or tostring(s))
    s, h, b = 500, nil, koodrive_local.error_body(500, "internal error", req.path)
  end
  if delay > 0 then ngx.sleep(delay / 1000) end
  if type(s) == "function" then return s(conn) end
  return send(s, h, b, req.method == "HEAD")
end

--- Content handler of every service and control path.
function M.serve()
  return answer(request(buffered_body()))
end

--- Content handler of /_local/blobs/: the body is not limited to 10 MiB.
function M.serve_blob()
  local body = ngx.req.get_method() == "PUT" and streamed_body() or buffered_body()
  if not body then return ngx.exit(400) end
  return answer(request(body))
end

--- Content handler of /_store/: the object store streams its own bodies.
function M.serve_store()
  return require("koodrive_local.objstore").serve(svc)
end

local REASONS = {
  [400] = "bad request", [408] = "request timeout", [411] = "length required",
  [413] = "body too large", [414] = "request target too long",
  [431] = "header section too large", [494] = "header section too large",
  [500] = "internal error", [501] = "unsupported transfer coding",
  [505] = "HTTP version not supported",
}

--- The answer of an error nginx found before any handler ran.
function M.error_page()
  local status = tonumber(ngx.var.uri:match("(%d+)$"))
  if not REASONS[status] then status = 500 end
  ngx.status = status
  local uri = ngx.var.request_uri
  local body = koodrive_local.error_body(status, REASONS[status], uri and uri:match("^[^?]*"))
  ngx.header["Content-Type"] = JSON
  ngx.header["Content-Length"] = #body
  ngx.header["X-Request-Id"] = state.request_id()
  ngx.print(body)
end

-- Every half second: once watch_pid is gone, remove the prefix and stop the
-- master gracefully (this worker's parent), so no nginx outlives its starter.
local function watch(pid, prefix)
  local function alive()
    local f = io.open("/proc/" .. pid .. "/stat", "rb")
    if not f then return false end
    local st = f:read("*a"):match("^%d+ %b() (%a)")
    f:close()
    return st ~= "Z" and st ~= "X"
  end
  ngx.timer.every(0.5, function(premature)
    if premature or alive() then return end
    local f = io.open("/proc/self/stat", "rb")
    local master = f and f:read("*a"):match("^%d+ %b() %a (%d+)")
    if f then f:close() end
    if prefix ~= "" and prefix:match("^/tmp/") then os.execute("rm -rf '" .. prefix .. "'") end
    if master then os.execute("kill -QUIT " .. master) end
  end)
end

--- init_worker: the port is open (the master listens before the worker
-- starts), so write the port file (temp name + rename) and say so; watch
-- the process that started nginx when given one.
function M.ready(port_file, host, port, watch_pid, prefix)
  if watch_pid then watch(watch_pid, prefix) end
  if port_file and port_file ~= "" then
    local tmp = port_file .. ".tmp"
    local f = assert(io.open(tmp, "w"))
    f:write(port, "\n")
    f:close()
    assert(os.rename(tmp, port_file))
  end
  io.stdout:write(string.format("listening on %s:%d\n", host, port))
  io.stdout:flush()
end

return M
