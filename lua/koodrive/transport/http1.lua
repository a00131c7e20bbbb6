--- The one HTTP/1.1 client of the transports that run on a host's sockets (nginx cosockets,
-- HAProxy's core.tcp, LuaSocket): the request head, reading the status line and headers
-- within 256 KiB, chunked, sized and close-delimited bodies within the request's max_body,
-- keep-alive, the retry of a stale pooled connection, and one error mapping - over a small
-- socket interface each host adapter gives (koodrive.transport.socket.*):
--
--   net.name                         "cosocket" | "haproxy" | "luasocket" (res.backend)
--   net.now()                        seconds, for the request's clock
--   net.open(u, o) -> conn | nil, err  connected (and TLS-handshaken for https) within
--                                    o.clock; o = { clock, verify, sni, is_ip, pool, pool_size,
--                                    request }; err a koodrive error (connect/timeout/tls)
--   conn.reused                      times the connection was used before (0: new)
--   conn.arm(clock)                  timeouts for the next operation, out of the time left
--   conn.send(head, body) -> ok | nil, word   (body may be nil)
--   conn.line_reader(max) -> chunk | nil (end of line) | nil, word   one line, in chunks
--   conn.exact(n) -> data | nil, word     conn.some(max) -> data | nil, "closed" | nil, word
--   conn.keep(ms, size) -> ok        back to the host's pool (false: closed instead)
--   conn.close()
--
-- Error words are the hosts' own: "timeout", "closed", or a message.
-- Internal: not part of the API; the transports are koodrive.transport.ngx / .socket / .haproxy.
local errors = require "koodrive.errors"
local failures = require "koodrive.transport.failures"
local limits = require "koodrive.limits"
local validate = require "koodrive.validate"

local M = {}

local MAX_HEADER_BYTES = 256 * 1024
local READ_CHUNK = 64 * 1024
local DEFAULT_OP_TIMEOUT = 60 -- seconds, for a request without timeouts
M.MAX_HEADER_BYTES, M.READ_CHUNK, M.DEFAULT_OP_TIMEOUT = MAX_HEADER_BYTES, READ_CHUNK, DEFAULT_OP_TIMEOUT

local function failure(reason, message) return nil, failures.new(reason, message) end
local function too_large(max_body)
  return failure("too_large", "response body larger than the " .. max_body .. " byte limit")
end
M.failure, M.too_large = failure, too_large

--------------------------------------------------------------------------------------------
-- The URL and the clock
--------------------------------------------------------------------------------------------

--- Splits an http(s) URL; returns scheme, host (brackets kept for IPv6), port, target, authority.
function M.parse_url(url)
  if type(url) ~= "string" then return nil end
  local scheme, authority, rest = url:match("^(%a[%w+.-]*)://([^/?#]*)(.*)$")
  if not scheme then return nil end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then return nil end
  local host, port = authority:match("^(%[[%x:.]+%]):?(%d*)$")
  if not host then host, port = authority:match("^([^:@%[%]]+):?(%d*)$") end
  if not host or host == "" then return nil end
  port = tonumber(port ~= "" and port or nil) or (scheme == "https" and 443 or 80)
  if port < 1 or port > 65535 then return nil end
  rest = rest:gsub("#.*$", "")
  if rest == "" then rest = "/" elseif rest:sub(1, 1) == "?" then rest = "/" .. rest end
  if rest:find("[%s%c]") then return nil end
  return scheme, host, port, rest, authority
end

--- Milliseconds for a socket timeout: at least 1, whole.
local function ms(seconds) return math.max(1, math.floor(seconds * 1000 + 0.5)) end
M.ms = ms

--- A deadline keeper for one request: connect/TLS get min(connect_timeout, time left),
-- send and receive get the time left of the request's total `timeout` (curl's semantics).
function M.clock(request, now)
  local start = now()
  local total = tonumber(request.timeout)
  if total and total <= 0 then total = nil end
  local connect = tonumber(request.connect_timeout)
  if not connect or connect <= 0 then connect = DEFAULT_OP_TIMEOUT end
  local c = {}
  function c.left()
    if not total then return DEFAULT_OP_TIMEOUT end
    return total - (now() - start)
  end
  function c.expired() return total ~= nil and c.left() <= 0 end
  function c.connect_ms() return ms(math.max(0.001, math.min(connect, c.left()))) end
  function c.io_ms() return ms(math.max(0.001, c.left())) end
  function c.timeout_message(what)
    if total then
      return string.format("%s timed out: the request's %gs timeout elapsed", what, total)
    end
    return what .. " timed out"
  end
  return c
end

--- The error of a connect (or TLS handshake, what = "TLS handshake with") that failed with
-- the host's word `err`: a timeout, else `reason` ("connect" by default).
function M.connect_failure(err, u, clock, what, reason)
  what = what or "connect to"
  if err == "timeout" then return failure("timeout", clock.timeout_message(what .. " " .. u.authority)) end
  return failure(reason or "connect", what .. " " .. u.authority .. " failed: " .. tostring(err))
end

--- pool_size and keepalive_timeout of a transport's opts, checked: pool_size, keepalive ms.
function M.pool_options(opts, who)
  local pool_size = opts.pool_size or 30
  if type(pool_size) ~= "number" or pool_size < 1 or pool_size % 1 ~= 0 then
    error(who .. ": pool_size must be a positive whole number", 3)
  end
  local keepalive = opts.keepalive_timeout or 60
  if type(keepalive) ~= "number" or keepalive <= 0 then
    error(who .. ": keepalive_timeout must be a positive number of seconds", 3)
  end
  return pool_size, ms(keepalive)
end

local function strip_brackets(host) return (host:gsub("^%[(.*)%]$", "%1")) end
M.strip_brackets = strip_brackets

--------------------------------------------------------------------------------------------
-- The request head
--------------------------------------------------------------------------------------------

--- Whether a header's comma-separated value list holds `token` (case-insensitive).
local function has_token(value, token)
  if not value then return false end
  for item in value:gmatch("[^,]+") do
    if item:match("^%s*(.-)%s*$"):lower() == token then return true end
  end
  return false
end

local FRAMING = { ["content-length"] = true, ["transfer-encoding"] = true, expect = true }

local function header_error(name)
  return nil, errors.new { kind = "validation", field = "headers", rule = "header_value",
    message = "header '" .. tostring(name) .. "' is not a safe header line", retryable = false }
end

--- The request head as one string; nil and a validation error for an unsafe header.
local function request_head(request, target, authority)
  local method = request.method
  if type(method) ~= "string" or not method:match("^[%w!#$%%&'*+.^_`|~-]+$") then
    return nil, errors.new { kind = "validation", field = "method", rule = "method",
      message = "method must be an HTTP token", retryable = false }
  end
  local body = request.body
  if body ~= nil and type(body) ~= "string" then
    return nil, errors.new { kind = "validation", field = "body", rule = "type",
      message = "body must be a string", retryable = false }
  end
  local lines = { method .. " " .. target .. " HTTP/1.1" }
  local has, close_after = {}, false
  local headers = request.headers or {}
  -- Sorted, so a request's bytes do not depend on table order.
  local names = {}
  for name in pairs(headers) do
    if type(name) ~= "string" then return header_error(name) end
    names[#names + 1] = name
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local value = validate.header_line(name, headers[name])
    if not value then return header_error(name) end
    local lower = name:lower()
    -- Framing is this transport's business, and an Expect round trip is never wanted.
    if not FRAMING[lower] then
      has[lower] = true
      if lower == "connection" and has_token(value, "close") then close_after = true end
      lines[#lines + 1] = name .. ": " .. value
    end
  end
  if not has.host then lines[#lines + 1] = "Host: " .. authority end
  if body ~= nil or method == "POST" or method == "PUT" or method == "PATCH" then
    lines[#lines + 1] = "Content-Length: " .. #(body or "")
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = ""
  return table.concat(lines, "\r\n"), close_after
end

M.has_token, M.FRAMING, M.request_head = has_token, FRAMING, request_head

--------------------------------------------------------------------------------------------
-- Reading the answer
--------------------------------------------------------------------------------------------

--- Reads one line (LF or CRLF ended) of at most `limit` bytes without ever buffering more.
local function read_line(conn, limit)
  local parts, n = {}, 0
  while true do
    local data, err = conn.line_reader(4096)
    if not data then
      if err then return nil, err end
      local line = table.concat(parts)
      if line:sub(-1) == "\r" then line = line:sub(1, -2) end
      return line
    end
    n = n + #data
    if n > limit then return nil, "too_large" end
    parts[#parts + 1] = data
  end
end

--- Reads the header block after the status line into { [lowercase] = value }.
local function read_headers(conn, budget)
  local headers, last = {}, nil
  while true do
    local line, err = read_line(conn, budget)
    if not line then return nil, err end
    budget = budget - #line - 2
    if budget < 0 then return nil, "too_large" end
    if line == "" then return headers, budget end
    if line:find("^[ \t]") and last then -- obsolete line folding
      headers[last] = headers[last] .. " " .. line:match("^[ \t]*(.-)[ \t]*$")
    else
      local name, value = line:match("^([^:%s]+):[ \t]*(.-)[ \t]*$")
      if not name then return nil, "malformed header line" end
      name = name:lower()
      if headers[name] then headers[name] = headers[name] .. ", " .. value
      else headers[name] = value end
      last = name
    end
  end
end

--- Reads a chunked body; returns it, or nil and an error word.
local function read_chunked(conn, max_body, budget)
  local parts, total = {}, 0
  while true do
    local line, err = read_line(conn, 1024)
    if not line then return nil, err == "too_large" and "bad chunk size line" or err end
    local hex = line:match("^%s*(%x+)%s*[;]?") or line:match("^%s*(%x+)%s*$")
    if not hex or #hex > 8 then return nil, "bad chunk size line" end
    local size = tonumber(hex, 16)
    if size == 0 then
      -- trailers, dropped; the empty line ends the message
      local trailers, terr = read_headers(conn, budget)
      if not trailers then return nil, terr end
      return table.concat(parts)
    end
    total = total + size
    if total > max_body then return nil, "too_large_body" end
    local data, rerr = conn.exact(size)
    if not data then return nil, rerr end
    parts[#parts + 1] = data
    local crlf, cerr = read_line(conn, 2)
    if not crlf then return nil, cerr == "too_large" and "bad chunk terminator" or cerr end
    if crlf ~= "" then return nil, "bad chunk terminator" end
  end
end

--- Reads a body delimited by the server closing the connection.
local function read_until_close(conn, max_body)
  local parts, total = {}, 0
  while true do
    local data, err = conn.some(READ_CHUNK)
    if not data then
      if err == "closed" then return table.concat(parts) end
      return nil, err
    end
    total = total + #data
    if total > max_body then return nil, "too_large_body" end
    parts[#parts + 1] = data
  end
end

M.read_line, M.read_headers, M.read_chunked, M.read_until_close = read_line, read_headers, read_chunked,
  read_until_close

--- One exchange on one connection. Returns res, or nil, err, retry where `retry` says the
-- connection was a reused one that failed before any byte of an answer (a stale keep-alive
-- connection the server had closed): safe to send again on a new connection.
local function exchange(self, net, u, request, clock, head, close_after)
  local host = strip_brackets(u.host)
  local is_ip = host:match("^[%d.]+$") or host:find(":", 1, true)
  local conn, oerr = net.open(u, { clock = clock, verify = not request.insecure,
    sni = not is_ip and host or nil, is_ip = is_ip and true or false, pool_size = self.pool_size,
    fresh = request.fresh_connect, request = request })
  if not conn then return nil, oerr end
  local reused = conn.reused or 0

  local function io_failure(what, e, got_bytes)
    conn.close()
    if e == "timeout" then return failure("timeout", clock.timeout_message(what .. " " .. u.authority)) end
    local res, err2 = failure("transport", what .. " " .. u.authority .. " failed: " .. tostring(e))
    return res, err2, reused > 0 and not got_bytes
  end
  local function broken(message)
    conn.close()
    return failure("transport", message)
  end

  conn.arm(clock)
  local sent, werr = conn.send(head, request.body)
  if not sent then return io_failure("sending to", werr) end

  local status, version, headers, budget
  repeat
    conn.arm(clock)
    local line, rerr = M.read_line(conn, 8192)
    if not line then
      if rerr == "too_large" then return broken("status line too long from " .. u.authority) end
      return io_failure("reading the answer from", rerr, status ~= nil)
    end
    local major, minor, code = line:match("^HTTP/(%d)%.(%d) (%d%d%d)")
    if not major then
      return broken("not an HTTP/1.x answer from " .. u.authority .. ": " .. line:sub(1, 80))
    end
    status, version = tonumber(code), major .. "." .. minor
    local herr
    headers, herr = M.read_headers(conn, budget or MAX_HEADER_BYTES)
    if not headers then
      if herr == "too_large" then conn.close(); return failure("too_large", "response headers larger than 256 KiB") end
      if herr == "malformed header line" then return broken("malformed header line from " .. u.authority) end
      return io_failure("reading the answer from", herr, true)
    end
    budget = MAX_HEADER_BYTES
  until status >= 200 or status == 101

  local max_body = tonumber(request.max_body) or limits.MAX_BODY
  local body, berr
  -- Kept alive: HTTP/1.1, neither side said "close", and never after 101 Switching Protocols.
  local keep = version == "1.1" and not M.has_token(headers.connection, "close") and not close_after
    and status >= 200
  conn.arm(clock)
  if request.method == "HEAD" or status == 204 or status == 304 or status < 200 then
    body = ""
  elseif headers["transfer-encoding"] then
    local te = headers["transfer-encoding"]:lower()
    if te:match("chunked%s*$") then
      body, berr = M.read_chunked(conn, max_body, MAX_HEADER_BYTES)
    else
      keep = false
      body, berr = M.read_until_close(conn, max_body)
    end
  elseif headers["content-length"] then
    local length
    for v in headers["content-length"]:gmatch("[^,]+") do
      local n = v:match("^%s*(%d+)%s*$")
      if not n or #n > 15 or (length and tonumber(n) ~= length) then
        return broken("invalid Content-Length from " .. u.authority)
      end
      length = tonumber(n)
    end
    if length > max_body then conn.close(); return too_large(max_body) end
    if length == 0 then body = "" else body, berr = conn.exact(length) end
  else
    keep = false
    body, berr = M.read_until_close(conn, max_body)
  end
  if not body then
    if berr == "too_large_body" then conn.close(); return too_large(max_body) end
    if berr == "too_large" then conn.close(); return failure("too_large", "response trailers larger than 256 KiB") end
    if berr == "bad chunk size line" or berr == "bad chunk terminator" or berr == "malformed header line" then
      return broken(berr .. " in the chunked answer from " .. u.authority)
    end
    return io_failure("reading the answer body from", berr, true)
  end

  if not (keep and conn.keep(self.keepalive_ms, self.pool_size)) then conn.close() end
  return { status = status, headers = headers, body = body, backend = net.name,
    reused = reused, new_connections = reused == 0 and 1 or 0 }
end

--- Sends `request` (u: its parsed URL) over `net`; res or nil, err. `self` holds pool_size
-- and keepalive_ms.
function M.send(self, net, request, u, clock)
  local head, close_after = M.request_head(request, u.target, u.authority)
  if not head then return nil, close_after end
  close_after = close_after or request.fresh_connect
  -- A pooled connection the server has meanwhile closed fails before any answer byte:
  -- such failures are retried (a few times: the pool may hold several stale ones).
  for _ = 1, (self.pool_size or 1) + 1 do
    local res, err, retry = exchange(self, net, u, request, clock, head, close_after)
    if res or not retry or clock.expired() then return res, err end
  end
  return failure("transport", "every pooled connection to " .. u.authority .. " was closed by the server")
end

--- The request as `u` for M.send, or nil and a validation error for a URL that is not http(s).
function M.target(request)
  local scheme, host, port, target, authority = M.parse_url(request.url)
  if not scheme then
    return nil, errors.new { kind = "validation", field = "url", rule = "url",
      message = "url must be an absolute http(s) URL", retryable = false }
  end
  return { scheme = scheme, host = host, port = port, target = target, authority = authority }
end

return M
