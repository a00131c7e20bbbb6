--- The built-in HTTP/1.1 client of koodrive.transport.ngx, on ngx.socket.tcp alone (so that
-- Debian's nginx + libnginx-mod-http-lua, without lua-resty-http, is enough): the request
-- head (shared with the lua-resty-http backend, which validates headers with it), reading the
-- status line and headers within 256 KiB, chunked, sized and close-delimited bodies within
-- the request's max_body, keep-alive, and the retry of a stale pooled connection.
-- Internal: not part of the API.
local errors = require "koodrive.errors"
local limits = require "koodrive.limits"
local validate = require "koodrive.validate"
local connect = require "koodrive.transport.ngx.connect"

local ngx = ngx -- luacheck: ignore (the global of nginx's Lua module; nil elsewhere)

local M = {}

local MAX_HEADER_BYTES, READ_CHUNK = connect.MAX_HEADER_BYTES, connect.READ_CHUNK
local failure, too_large = connect.failure, connect.too_large
local pool_name, strip_brackets = connect.pool_name, connect.strip_brackets
local resolving, connect_within = connect.resolving, connect.connect_within

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
    local data, rerr = conn.sock:receive(size)
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
    local data, err = conn.sock:receiveany(READ_CHUNK)
    if not data then
      if err == "closed" then return table.concat(parts) end
      return nil, err
    end
    total = total + #data
    if total > max_body then return nil, "too_large_body" end
    parts[#parts + 1] = data
  end
end

--- One exchange on one connection. Returns res, or nil, err, retry where `retry` says the
-- connection was a reused one that failed before any byte of an answer (a stale keep-alive
-- connection the server had closed): safe to send again on a new connection.
local fresh_serial = 0

local function exchange(self, u, request, clock, head, close_after)
  local sock, serr = ngx.socket.tcp()
  if not sock then return failure("transport", "cannot create a socket: " .. tostring(serr)) end
  local host = strip_brackets(u.host)
  local is_ip = host:match("^[%d.]+$") or host:find(":", 1, true)
  local verify = not request.insecure
  local sni = not is_ip and host or nil
  local pool = pool_name(u.scheme, u.host, u.port, sni, verify)
  if request.fresh_connect then
    -- A request that must not be sent twice gets a connection of its own (a name no pool
    -- has), so it never meets a stale pooled one; it is closed afterwards (close_after).
    fresh_serial = fresh_serial + 1
    pool = pool .. "#fresh" .. fresh_serial
  end

  sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
  local ok, err = connect_within(function()
    return sock:connect(u.host, u.port, { pool = pool, pool_size = self.pool_size })
  end, is_ip, clock)
  if not ok then
    if err == "timeout" or (err and err:find("timed out", 1, true)) then
      return failure("timeout", clock.timeout_message("connect to " .. u.authority) .. resolving(is_ip))
    end
    local hint = ""
    if err and err:find("resolver", 1, true) then hint = " (set nginx's `resolver` directive)" end
    return failure("connect", "connect to " .. u.authority .. " failed: " .. tostring(err) .. hint)
  end
  local reused = sock:getreusedtimes() or 0

  if u.scheme == "https" and reused == 0 then
    sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
    local session, herr = sock:sslhandshake(nil, sni, verify)
    if not session then
      sock:close()
      if herr == "timeout" then
        return failure("timeout", clock.timeout_message("TLS handshake with " .. u.authority))
      end
      local hint = ""
      if verify then
        hint = " (the ngx transport trusts the CAs of nginx's lua_ssl_trusted_certificate" ..
          " and checks chains up to lua_ssl_verify_depth" ..
          (request.ca_file and "; the request's ca_file cannot be used by cosockets" or "") .. ")"
      end
      return failure("tls", "TLS handshake with " .. u.authority .. " failed: " .. tostring(herr) .. hint)
    end
  end

  local function io_failure(what, e, got_bytes)
    sock:close()
    if e == "timeout" then return failure("timeout", clock.timeout_message(what .. " " .. u.authority)) end
    local res, err2 = failure("transport", what .. " " .. u.authority .. " failed: " .. tostring(e))
    return res, err2, reused > 0 and not got_bytes
  end

  sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
  local sent, werr = sock:send(request.body and { head, request.body } or head)
  if not sent then return io_failure("sending to", werr) end

  local conn = { sock = sock, line_reader = sock:receiveuntil("\n") }
  local status, version, headers, budget
  repeat
    sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
    local line, rerr = read_line(conn, 8192)
    if not line then
      if rerr == "too_large" then
        sock:close(); return failure("transport", "status line too long from " .. u.authority)
      end
      return io_failure("reading the answer from", rerr, status ~= nil)
    end
    local major, minor, code = line:match("^HTTP/(%d)%.(%d) (%d%d%d)")
    if not major then
      sock:close()
      return failure("transport", "not an HTTP/1.x answer from " .. u.authority .. ": " .. line:sub(1, 80))
    end
    status, version = tonumber(code), major .. "." .. minor
    local herr
    headers, herr = read_headers(conn, budget or MAX_HEADER_BYTES)
    if not headers then
      if herr == "too_large" then sock:close(); return failure("too_large", "response headers larger than 256 KiB") end
      if herr == "malformed header line" then
        sock:close(); return failure("transport", "malformed header line from " .. u.authority)
      end
      return io_failure("reading the answer from", herr, true)
    end
    budget = MAX_HEADER_BYTES
  until status >= 200 or status == 101

  local max_body = tonumber(request.max_body) or limits.MAX_BODY
  local body, berr
  -- Kept alive: HTTP/1.1, neither side said "close", and never after 101 Switching Protocols.
  local keep = version == "1.1" and not has_token(headers.connection, "close") and not close_after
    and status >= 200
  if request.method == "HEAD" or status == 204 or status == 304 or status < 200 then
    body = ""
  elseif headers["transfer-encoding"] then
    local te = headers["transfer-encoding"]:lower()
    if te:match("chunked%s*$") then
      body, berr = read_chunked(conn, max_body, MAX_HEADER_BYTES)
    else
      keep = false
      body, berr = read_until_close(conn, max_body)
    end
  elseif headers["content-length"] then
    local length
    for v in headers["content-length"]:gmatch("[^,]+") do
      local n = v:match("^%s*(%d+)%s*$")
      if not n or #n > 15 or (length and tonumber(n) ~= length) then
        sock:close()
        return failure("transport", "invalid Content-Length from " .. u.authority)
      end
      length = tonumber(n)
    end
    if length > max_body then sock:close(); return too_large(max_body) end
    if length == 0 then body = "" else body, berr = sock:receive(length) end
  else
    keep = false
    body, berr = read_until_close(conn, max_body)
  end
  if not body then
    if berr == "too_large_body" then sock:close(); return too_large(max_body) end
    if berr == "too_large" then sock:close(); return failure("too_large", "response trailers larger than 256 KiB") end
    if berr == "bad chunk size line" or berr == "bad chunk terminator" or berr == "malformed header line" then
      sock:close()
      return failure("transport", berr .. " in the chunked answer from " .. u.authority)
    end
    return io_failure("reading the answer body from", berr, true)
  end

  if keep then
    local kok = sock:setkeepalive(self.keepalive_ms, self.pool_size)
    if not kok then sock:close() end
  else
    sock:close()
  end
  return { status = status, headers = headers, body = body, backend = "cosocket",
    reused = reused, new_connections = reused == 0 and 1 or 0 }
end

--- Sends the request with the built-in client; res or nil, err.
function M.send(self, request, u, clock)
  local head, close_after = request_head(request, u.target, u.authority)
  if not head then return nil, close_after end
  close_after = close_after or request.fresh_connect
  -- A pooled connection the server has meanwhile closed fails before any answer byte:
  -- such failures are retried (a few times: the pool may hold several stale ones).
  for _ = 1, self.pool_size + 1 do
    local res, err, retry = exchange(self, u, request, clock, head, close_after)
    if res or not retry or clock.expired() then return res, err end
  end
  return failure("transport", "every pooled connection to " .. u.authority .. " was closed by the server")
end

M.has_token, M.FRAMING, M.request_head = has_token, FRAMING, request_head
-- The head reader, shared with the cosocket parts engine (koodrive.transfer.ngx_parts).
M.read_line, M.read_headers = read_line, read_headers

return M
