-- support.httpd: a small HTTP/1.1 server on LuaSocket, one coroutine per connection, for
-- the hostile echo service of spec/secrets_spec.lua (spec/support/echo_main.lua). The local
-- KooDrive + IoTDA service no longer runs on it: it runs on nginx (server/koodrive_local/).
--
-- Why coroutines: the local service must hold several keep-alive connections
-- at once and let one answer wait (X-Local-Delay-Ms) without stalling the
-- others, with nothing but LuaSocket available. Every socket is non-blocking;
-- when a read or write would block, the connection's coroutine yields what it
-- waits for, and the loop in httpd.serve puts those sockets in socket.select.
-- A coroutine may also yield a plain deadline (httpd.sleep).
--
-- HTTP scope: request line + headers (names case-insensitive), bodies framed
-- by Content-Length or by chunked transfer coding (decoded; trailers are
-- read and dropped), "Expect: 100-continue", keep-alive by default in 1.1,
-- "Connection: close" honoured, HTTP/1.0 always closed after one answer.
-- Header section at most 64 KiB (431 otherwise), body at most 10 MiB (413).
-- A connection idle for 30 s (or stuck mid-request or mid-write that long) is
-- closed. Nothing here knows about KooDrive or IoTDA: the handler and the
-- error-body function come from the caller.
--
-- Raw answers: instead of (status, headers, body) a handler may return one
-- function, raw(conn, req, close) (close: the client asked for the
-- connection to end after this answer). httpd then hands it the connection (the request
-- has been read fully) and writes nothing itself: raw uses conn:send_all,
-- M.head, M.sleep, conn:abort and conn:wait_gone to misbehave in ways a
-- complete answer cannot (reset, stall, a trickled or a huge streamed body).
-- When raw returns "keep-alive" the connection goes on with the next
-- request (raw must then have written one complete answer); otherwise it
-- is closed, gracefully unless raw aborted it.

local socket = require "socket"
local rand = require "openssl.rand"

local M = {}

M.MAX_HEADER = 64 * 1024
M.MAX_BODY = 10 * 1024 * 1024
M.IDLE = 30                 -- seconds
M.MAX_DELAY_MS = 10000
M.MAX_CONNECTIONS = 400     -- select() cannot watch descriptors past FD_SETSIZE (1024)

local REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [204] = "No Content",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [408] = "Request Timeout", [411] = "Length Required",
  [413] = "Content Too Large", [417] = "Expectation Failed", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout", [505] = "HTTP Version Not Supported",
}

local now = socket.gettime

---------------------------------------------------------------------------
-- Helpers used by handlers too

-- Sleep without blocking the other connections; only valid inside a
-- connection's coroutine (that is: inside a handler).
function M.sleep(seconds)
  coroutine.yield("sleep", nil, now() + seconds)
end

local DAYS = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" }
local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }

-- RFC 7231 IMF-fixdate. The names come from tables, not from %a/%b, whose
-- output depends on the C locale.
function M.http_date(t)
  local d = os.date("!*t", math.floor(t or os.time()))
  return string.format("%s, %02d %s %04d %02d:%02d:%02d GMT",
    DAYS[d.wday], d.day, MONTHS[d.month], d.year, d.hour, d.min, d.sec)
end

function M.request_id()
  return (rand.bytes(16):gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

---------------------------------------------------------------------------
-- One connection: buffered non-blocking reads and writes that yield

local Conn = {}
Conn.__index = Conn

local function new_conn(sock)
  return setmetatable({ sock = sock, buf = "" }, Conn)
end

-- Some bytes from the socket, waiting (by yielding) if none are there.
-- Returns the chunk, or nil and "closed" / "timeout".
function Conn:recv_some()
  while true do
    local data, err, partial = self.sock:receive(65536)
    local chunk = data or partial
    if chunk and #chunk > 0 then return chunk end
    if err ~= "timeout" then return nil, "closed" end
    if coroutine.yield("read", self.sock, now() + M.IDLE) == "timeout" then
      return nil, "timeout"
    end
  end
end

-- Appends to the buffer; used while looking for the end of a line or of the
-- header section (bounded sizes, so plain concatenation is fine).
function Conn:fill()
  local chunk, err = self:recv_some()
  if not chunk then return nil, err end
  self.buf = self.buf .. chunk
  return true
end

-- Exactly n bytes; large bodies are gathered in a table, not by repeated
-- concatenation.
function Conn:read_exact(n)
  if #self.buf >= n then
    local out = self.buf:sub(1, n)
    self.buf = self.buf:sub(n + 1)
    return out
  end
  local parts, have = { self.buf }, #self.buf
  self.buf = ""
  while have < n do
    local chunk, err = self:recv_some()
    if not chunk then return nil, err end
    parts[#parts + 1] = chunk
    have = have + #chunk
  end
  local all = table.concat(parts)
  self.buf = all:sub(n + 1)
  return all:sub(1, n)
end

-- One line without its CRLF (or bare LF); nil, "too long" past max bytes.
function Conn:read_line(max)
  while true do
    local e = self.buf:find("\n", 1, true)
    if e then
      local line = self.buf:sub(1, e - 1):gsub("\r$", "")
      self.buf = self.buf:sub(e + 1)
      return line
    end
    if #self.buf > max then return nil, "too long" end
    local ok, err = self:fill()
    if not ok then return nil, err end
  end
end

function Conn:send_all(data)
  local i = 1
  while i <= #data do
    local last, err, partial = self.sock:send(data, i)
    if last then
      i = last + 1
    else
      if err ~= "timeout" then return nil, err end
      i = partial + 1
      if coroutine.yield("write", self.sock, now() + M.IDLE) == "timeout" then
        return nil, "timeout"
      end
    end
  end
  return true
end

-- Close gracefully: stop sending, then drain what the client may still be
-- sending for a moment. Closing with unread input would make the kernel send
-- a reset, and the client could lose the answer we just wrote (413 case).
function Conn:close()
  if self.closed then return end
  self.closed = true
  self.sock:shutdown("send")
  local deadline = now() + 1
  while now() < deadline do
    local data, err, partial = self.sock:receive(65536)
    if err and err ~= "timeout" then break end
    if not data and (not partial or #partial == 0) then
      if coroutine.yield("read", self.sock, deadline) == "timeout" then break end
    end
  end
  self.sock:close()
end

-- Close abruptly: SO_LINGER with a zero timeout makes close() send a TCP
-- RST instead of a FIN, so the peer sees "connection reset".
function Conn:abort()
  if self.closed then return end
  self.closed = true
  self.sock:setoption("linger", { on = true, timeout = 0 })
  self.sock:close()
end

-- Waits, reading and dropping whatever arrives, until the peer closes the
-- connection or `seconds` pass. Returns "closed" or "timeout". Only the
-- calling connection waits: the others are served meanwhile.
function Conn:wait_gone(seconds)
  local deadline = now() + seconds
  self.buf = ""
  while true do
    local _, err, partial = self.sock:receive(65536)
    if err and err ~= "timeout" then return "closed" end
    if not (partial and #partial > 0) then
      if now() >= deadline then return "timeout" end
      if coroutine.yield("read", self.sock, deadline) == "timeout" then return "timeout" end
    end
  end
end

---------------------------------------------------------------------------
-- Request parsing

-- A failed parse: the HTTP status to answer with (the connection is then
-- closed), or nil to close without an answer (the peer went away).
local function fail(status, why) return nil, status, why end

local TOKEN = "^[%w!#$%%&'*+.^_`|~%-]+$"

local function parse_head(head)
  local lines = {}
  for line in (head .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = line end

  local method, target, major, minor = lines[1]:match("^(%S+) (%S+) HTTP/(%d)%.(%d)$")
  if not method or not method:match(TOKEN) then return fail(400, "bad request line") end
  if major ~= "1" then return fail(505, "HTTP version not supported") end
  if target:sub(1, 1) ~= "/" then return fail(400, "request target must be a path") end

  local headers, list = {}, {}
  for i = 2, #lines do
    local line = lines[i]
    if line ~= "" then
      if line:match("^[ \t]") then return fail(400, "folded header line") end
      local name, value = line:match("^([^:]+):[ \t]*(.-)[ \t]*$")
      if not name or not name:match(TOKEN) then return fail(400, "bad header line") end
      -- control characters other than tab would let a value smuggle lines
      if value:find("[\0-\8\10-\31\127]") then return fail(400, "control character in header") end
      local key = name:lower()
      list[#list + 1] = { name, value }
      local old = headers[key]
      if old == nil then
        headers[key] = value
      elseif key == "host" then
        return fail(400, "duplicate Host")
      elseif key == "content-length" then
        if old ~= value then return fail(400, "conflicting Content-Length") end
      else
        headers[key] = old .. ", " .. value   -- the usual list combination
      end
    end
  end

  local path, query = target:match("^([^?]*)%?(.*)$")
  if not path then path = target end
  return {
    method = method, target = target, path = path, query = query,
    version = "1." .. minor, headers = headers, header_list = list,
  }
end

local function has_token(value, token)
  if not value then return false end
  for t in value:gmatch("[^,%s]+") do
    if t:lower() == token then return true end
  end
  return false
end

local function read_chunked(conn)
  local parts, total = {}, 0
  while true do
    local line, err = conn:read_line(4096)
    if not line then
      if err == "too long" then return fail(400, "chunk size line too long") end
      return fail(nil)
    end
    local size_hex = line:match("^(%x+)[ \t]*;?.*$")
    if not size_hex or #size_hex > 8 then return fail(400, "bad chunk size") end
    local size = tonumber(size_hex, 16)
    if size == 0 then break end
    total = total + size
    if total > M.MAX_BODY then return fail(413, "body too large") end
    local data = conn:read_exact(size)
    if not data then return fail(nil) end
    parts[#parts + 1] = data
    local crlf = conn:read_line(2)
    if crlf ~= "" then return fail(400, "bad chunk terminator") end
  end
  -- trailer fields: read up to the empty line and drop them
  local trailer = 0
  while true do
    local line, err = conn:read_line(M.MAX_HEADER)
    if not line then
      if err == "too long" then return fail(431, "trailer too large") end
      return fail(nil)
    end
    if line == "" then break end
    trailer = trailer + #line
    if trailer > M.MAX_HEADER then return fail(431, "trailer too large") end
  end
  return table.concat(parts)
end

-- Reads one request. Returns req, or nil plus a status (nil: just close).
local function read_request(conn)
  -- wait for the end of the header section; empty lines before the request
  -- line are tolerated (RFC 9112 section 2.2)
  local head_end, body_start
  while true do
    conn.buf = conn.buf:gsub("^\r?\n", "")
    local s, e = conn.buf:find("\r?\n\r?\n")
    if s then
      if s > M.MAX_HEADER then return fail(431, "header section too large") end
      head_end, body_start = s - 1, e + 1
      break
    end
    if #conn.buf > M.MAX_HEADER then return fail(431, "header section too large") end
    local ok = conn:fill()
    if not ok then return fail(nil) end   -- closed or idle: no answer owed
  end
  local head = conn.buf:sub(1, head_end)
  conn.buf = conn.buf:sub(body_start)

  local req, status, why = parse_head(head)
  if not req then return fail(status, why) end
  local h = req.headers
  if req.version == "1.1" and not h["host"] then return fail(400, "missing Host") end

  -- body framing
  local te, cl = h["transfer-encoding"], h["content-length"]
  local length, chunked = 0, false
  if te then
    if cl then return fail(400, "both Transfer-Encoding and Content-Length") end
    if te:lower() ~= "chunked" then return fail(501, "unsupported transfer coding") end
    if req.version ~= "1.1" then return fail(400, "chunked in HTTP/1.0") end
    chunked = true
  elseif cl then
    if not cl:match("^%d+$") or #cl > 12 then return fail(400, "bad Content-Length") end
    length = tonumber(cl)
    if length > M.MAX_BODY then return fail(413, "body too large") end
  end

  local expect = h["expect"]
  if expect then
    if expect:lower() ~= "100-continue" then return fail(417, "unsupported expectation") end
    -- only promise to read a body that has not already arrived
    if req.version == "1.1" and (chunked or length > #conn.buf) then
      if not conn:send_all("HTTP/1.1 100 Continue\r\n\r\n") then return fail(nil) end
    end
  end

  if chunked then
    local body, st, w = read_chunked(conn)
    if not body then return fail(st, w) end
    req.body = body
  elseif length > 0 then
    local body = conn:read_exact(length)
    if not body then return fail(nil) end
    req.body = body
  else
    req.body = ""
  end
  return req
end

---------------------------------------------------------------------------
-- Responses

-- The status line and header section of an answer whose body has `length`
-- bytes (headers: list of {name, value}; Content-Type defaults to JSON).
-- Raw handlers use it to write a head and then the body at their own pace.
function M.head(status, headers, length, close)
  local out = { string.format("HTTP/1.1 %d %s\r\n", status, REASONS[status] or "Unknown") }
  local seen = {}
  for _, hv in ipairs(headers or {}) do
    out[#out + 1] = hv[1] .. ": " .. hv[2] .. "\r\n"
    seen[hv[1]:lower()] = true
  end
  if not seen["content-type"] then out[#out + 1] = "Content-Type: application/json;charset=UTF-8\r\n" end
  out[#out + 1] = "Content-Length: " .. length .. "\r\n"
  out[#out + 1] = "Date: " .. M.http_date() .. "\r\n"
  if not seen["x-request-id"] then out[#out + 1] = "X-Request-Id: " .. M.request_id() .. "\r\n" end
  out[#out + 1] = close and "Connection: close\r\n" or "Connection: keep-alive\r\n"
  out[#out + 1] = "\r\n"
  return table.concat(out)
end

local function render(status, headers, body, close, head_only)
  local head = M.head(status, headers, #body, close)
  if head_only then return head end
  return head .. body
end

local function log(fmt, ...)
  io.stderr:write(os.date("!%Y-%m-%dT%H:%M:%SZ "), string.format(fmt, ...), "\n")
  io.stderr:flush()
end
M.log = log

-- The per-connection loop. opts.handler(req) -> status, headers, body where
-- headers is a list of {name, value}, or -> raw (a function, see the top of
-- this file); opts.error_body(status, reason, req) -> body for errors found
-- here (req may be nil when the request could not be parsed).
local function serve_connection(conn, opts)
  while true do
    local req, status, why = read_request(conn)
    if not req then
      if status then
        local body = opts.error_body(status, why, nil)
        conn:send_all(render(status, nil, body, true, false))
      end
      break
    end

    local close = req.version == "1.0" or has_token(req.headers["connection"], "close")
    local rstatus, rheaders, rbody, raw

    -- X-Local-Delay-Ms: answer N ms later. The work is done first and only
    -- the answer waits, like a slow network after a successful call, which
    -- is what client timeout and retry tests need to see.
    local delay = req.headers["x-local-delay-ms"]
    local delay_ms = 0
    if delay then
      delay_ms = delay:match("^%d+$") and #delay <= 6 and tonumber(delay)
      if not delay_ms or delay_ms > M.MAX_DELAY_MS then
        rstatus, rheaders, rbody = 400, nil, opts.error_body(400, "X-Local-Delay-Ms must be 0-10000", req)
        delay_ms = 0
      end
    end

    if not rstatus then
      local ok, s, hs, b = xpcall(opts.handler, debug.traceback, req)
      if ok and type(s) == "function" then
        raw = s
      elseif ok and type(s) == "number" and type(b) == "string" then
        rstatus, rheaders, rbody = s, hs, b
      else
        log("handler error on %s %s: %s", req.method, req.target, ok and "bad handler result" or tostring(s))
        rstatus, rheaders, rbody = 500, nil, opts.error_body(500, "internal error", req)
      end
    end

    if delay_ms > 0 then M.sleep(delay_ms / 1000) end

    if raw then
      if opts.access_log then log("%s %s -> raw", req.method, req.target) end
      local ok, result = xpcall(raw, debug.traceback, conn, req, close)
      if not ok then log("raw handler error on %s %s: %s", req.method, req.target, tostring(result)) end
      if not (ok and result == "keep-alive") or close or conn.closed then break end
    else
      if opts.access_log then log("%s %s -> %d", req.method, req.target, rstatus) end
      if not conn:send_all(render(rstatus, rheaders, rbody, close, req.method == "HEAD")) then break end
      if close then break end
    end
  end
  conn:close()
end

---------------------------------------------------------------------------
-- The scheduler

-- opts: host, port, handler, error_body, on_listen(port), access_log.
-- Never returns (the process is stopped by a signal).
function M.serve(opts)
  local server = assert(socket.bind(opts.host or "127.0.0.1", opts.port or 0, 64))
  server:settimeout(0)
  local _, port = server:getsockname()
  if opts.on_listen then opts.on_listen(tonumber(port)) end

  -- task: { co, conn, wait = "read"|"write"|"sleep", sock, deadline }
  local tasks = {}
  local count = 0

  local function step(task, reason)
    local ok, kind, sock, deadline = coroutine.resume(task.co, reason)
    if not ok then
      log("connection error: %s", tostring(kind))
      task.conn.sock:close()
    end
    if coroutine.status(task.co) == "dead" then
      tasks[task] = nil
      count = count - 1
      if not task.conn.closed then task.conn.sock:close() end
    else
      task.wait, task.sock, task.deadline = kind, sock, deadline
    end
  end

  while true do
    local recvt, sendt, by_sock = { server }, {}, {}
    local soonest
    for task in pairs(tasks) do
      if task.wait == "read" then
        recvt[#recvt + 1] = task.sock; by_sock[task.sock] = task
      elseif task.wait == "write" then
        sendt[#sendt + 1] = task.sock; by_sock[task.sock] = task
      end
      if task.deadline and (not soonest or task.deadline < soonest) then soonest = task.deadline end
    end
    local timeout = soonest and math.max(0, soonest - now()) or nil

    local readable, writable = socket.select(recvt, sendt, timeout)

    if readable[server] then
      -- accept every pending connection
      while true do
        local client = server:accept()
        if not client then break end
        if count >= M.MAX_CONNECTIONS then
          client:close()
        else
          client:settimeout(0)
          client:setoption("tcp-nodelay", true)
          local conn = new_conn(client)
          local task = { conn = conn }
          task.co = coroutine.create(function() serve_connection(conn, opts) end)
          tasks[task] = true
          count = count + 1
          step(task)
        end
      end
    end

    local ready = {}
    for _, list in ipairs({ readable, writable }) do
      for _, sock in ipairs(list) do
        local task = by_sock[sock]
        if task then ready[task] = "ready" end
      end
    end
    local t = now()
    for task in pairs(tasks) do
      if not ready[task] and task.deadline and task.deadline <= t then ready[task] = "timeout" end
    end
    for task, reason in pairs(ready) do
      -- a task may already have finished or moved on in this round
      if tasks[task] then step(task, reason) end
    end
  end
end

return M
