--- The nginx transport: requests go out on nginx's own non-blocking sockets (cosockets), so a
-- call made from an OpenResty request handler or timer waits without stalling the other
-- requests of the worker.
--
--   local t = koodrive.transport.ngx { pool_size = 30, keepalive_timeout = 60 }
--
-- It works where cosockets work: rewrite, server_rewrite, access, content, timer, ssl_cert,
-- ssl_session_fetch, ssl_client_hello (and preread in the stream module). Elsewhere
-- (init_by_lua, init_worker_by_lua, set, header/body filters, log, balancer) `send` returns a
-- transport error; `koodrive.transport.auto()` picks libcurl there instead.
--
-- Two backends, chosen by opts.backend:
--   "auto" (default)  lua-resty-http when `require "resty.http"` succeeds, else "cosocket"
--   "resty.http"      lua-resty-http (an error when it is not installed)
--   "cosocket"        the built-in HTTP/1.1 client below, on ngx.socket.tcp alone, so that
--                     Debian's nginx + libnginx-mod-http-lua (no lua-resty-http) is enough
--
-- Connections are kept alive in nginx's per-worker cosocket pools, one pool per scheme, host,
-- port, TLS name and verification mode. TLS is verified unless the request says
-- `insecure = true`; the trusted CAs are nginx's `lua_ssl_trusted_certificate` (a request's
-- `ca_file` cannot be applied to a cosocket), host names need nginx's `resolver`.
--
-- The result carries, besides status/headers/body: `backend` ("cosocket" | "resty.http"),
-- `reused` (how often the connection had been used before: 0 for a new one) and
-- `new_connections` (1 or 0), for logs and tests.
local errors = require "koodrive.errors"
local failures = require "koodrive.transport.failures"
local limits = require "koodrive.limits"
local validate = require "koodrive.validate"

local ngx = ngx -- luacheck: ignore (the global of nginx's Lua module; nil elsewhere)

local M = {}

local Ngx = {}
Ngx.__index = Ngx
Ngx.__name = "koodrive.transport.ngx"

--- ngx.get_phase() values in which cosockets may be used (lua-nginx-module and
-- stream-lua-nginx-module: the contexts of ngx.socket.tcp).
M.COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true, preread = true,
}

--- The current nginx phase when cosockets can be used in it; otherwise nil and the phase
-- (or a reason when this is not nginx at all).
function M.usable()
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" or type(ngx.socket) ~= "table" then
    return nil, "not running inside nginx"
  end
  local phase = ngx.get_phase()
  if M.COSOCKET_PHASES[phase] then return phase end
  return nil, phase
end

local MAX_HEADER_BYTES = 256 * 1024
local DEFAULT_OP_TIMEOUT = 60 -- seconds, for a request without timeouts (nginx's own default)
local READ_CHUNK = 64 * 1024

--------------------------------------------------------------------------------------------
-- Errors, mapped as the curl transport maps libcurl's
--------------------------------------------------------------------------------------------

-- The one constructor of transport errors (koodrive.transport.failures): nginx's failures
-- have reasons, not libcurl codes.
local function failure(reason, message)
  return nil, failures.new(reason, message)
end

local function too_large(max_body)
  return failure("too_large", "response body larger than the " .. max_body .. " byte limit")
end

--------------------------------------------------------------------------------------------
-- The request: URL, header block, timeouts
--------------------------------------------------------------------------------------------

--- Splits an http(s) URL; returns scheme, host (brackets kept for IPv6), port, target.
local function parse_url(url)
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

--- Milliseconds for a cosocket timeout: at least 1, whole.
local function ms(seconds) return math.max(1, math.floor(seconds * 1000 + 0.5)) end

--- A deadline keeper for one request: connect/TLS get min(connect_timeout, time left),
-- send and receive get the time left of the request's total `timeout` (curl's semantics).
local function clock_for(request)
  ngx.update_time()
  local start = ngx.now()
  local total = tonumber(request.timeout)
  if total and total <= 0 then total = nil end
  local connect = tonumber(request.connect_timeout)
  if not connect or connect <= 0 then connect = DEFAULT_OP_TIMEOUT end
  local c = {}
  function c.left()
    if not total then return DEFAULT_OP_TIMEOUT end
    return total - (ngx.now() - start)
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
-- The built-in HTTP/1.1 client on cosockets
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

local function pool_name(scheme, host, port, sni, verify)
  local name = "koodrive:" .. scheme .. "://" .. host .. ":" .. port
  if scheme == "https" then name = name .. "|" .. (sni or "") .. "|" .. (verify and "v" or "nv") end
  return name
end

local function strip_brackets(host) return (host:gsub("^%[(.*)%]$", "%1")) end

-- Words added to a connect timeout of a host name: the time bounded name resolution too.
local function resolving(is_ip) return is_ip and "" or " (name resolution included)" end

--- Runs connect() (a cosocket connect, which resolves a host name first) within the call's
-- connect time. nginx resolves with its own `resolver_timeout` (30 s by default), which no
-- socket timeout bounds: for a host name the connect runs in a light thread, and a second one
-- that sleeps the connect time ends it. Returns connect()'s results, or nil and "timeout".
-- An IP address needs no resolver: connected right here.
local function connect_within(connect, is_ip, clock)
  if is_ip then return connect() end
  local outcome
  local spawned, worker = pcall(ngx.thread.spawn, function()
    local ok, err = connect()
    outcome = { ok, err }
  end)
  if not spawned or not worker then return connect() end -- no light threads in this phase
  if outcome then -- finished without waiting (a pooled connection): reap the thread
    ngx.thread.wait(worker)
    return outcome[1], outcome[2]
  end
  local limit = clock.connect_ms() / 1000
  local timer = ngx.thread.spawn(function() ngx.sleep(limit) end)
  ngx.thread.wait(worker, timer)
  if outcome then
    ngx.thread.kill(timer)
    return outcome[1], outcome[2]
  end
  ngx.thread.kill(worker)
  return nil, "timeout"
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

local function send_cosocket(self, request, u, clock)
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

--------------------------------------------------------------------------------------------
-- lua-resty-http
--------------------------------------------------------------------------------------------

local function resty_version(http)
  local major, minor = tostring(http._VERSION or "0.0"):match("^(%d+)%.(%d+)")
  return tonumber(major) or 0, tonumber(minor) or 0
end

local function resty_connect_failure(err, u, clock, tls)
  if err == "timeout" or (err and (err:find("timeout", 1, true) or err:find("timed out", 1, true))) then
    return failure("timeout", clock.timeout_message("connect to " .. u.authority))
  end
  local e = tostring(err)
  if tls and (e:find("handshake", 1, true) or e:find("certificate", 1, true) or e:find("ssl", 1, true)
      or e:find("^%d+: ")) then
    return failure("tls", "TLS handshake with " .. u.authority .. " failed: " .. e ..
      " (the ngx transport trusts the CAs of nginx's lua_ssl_trusted_certificate)")
  end
  local hint = e:find("resolver", 1, true) and " (set nginx's `resolver` directive)" or ""
  return failure("connect", "connect to " .. u.authority .. " failed: " .. e .. hint)
end

-- One exchange through lua-resty-http; like `exchange`, the third result says a reused
-- connection failed before any answer (safe to retry on another connection).
local function resty_exchange(self, request, u, clock, close_after)
  local http = self.resty_http
  local httpc, nerr = http.new()
  if not httpc then return failure("transport", "lua-resty-http: " .. tostring(nerr)) end
  local function set_timeouts(connecting)
    if httpc.set_timeouts then
      httpc:set_timeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
    else -- lua-resty-http before 0.10
      httpc:set_timeout(connecting and clock.connect_ms() or clock.io_ms())
    end
  end
  set_timeouts(true)
  local host = strip_brackets(u.host)
  local is_ip = host:match("^[%d.]+$") or host:find(":", 1, true)
  local verify = not request.insecure
  local sni = not is_ip and host or nil
  local pool = pool_name(u.scheme, u.host, u.port, sni, verify)
  local tls = u.scheme == "https"
  local major, minor = resty_version(http)
  local ok, err
  if major > 0 or minor >= 16 then
    ok, err = connect_within(function()
      return httpc:connect { scheme = u.scheme, host = u.host, port = u.port, pool = pool,
        pool_size = self.pool_size, ssl_server_name = sni, ssl_verify = verify }
    end, is_ip, clock)
  else
    ok, err = connect_within(function()
      return httpc:connect(u.host, u.port, { pool = pool, pool_size = self.pool_size })
    end, is_ip, clock)
    if ok and tls and (httpc:get_reused_times() or 0) == 0 then
      ok, err = httpc:ssl_handshake(nil, sni, verify)
    end
  end
  if not ok then return resty_connect_failure(err, u, clock, tls) end
  local reused = httpc:get_reused_times() or 0

  local headers = {}
  for name, value in pairs(request.headers or {}) do
    if not FRAMING[name:lower()] then headers[name] = value end
  end
  local body = request.body
  if body == nil and (request.method == "POST" or request.method == "PUT" or request.method == "PATCH") then
    body = ""
  end
  set_timeouts(false)
  local res, rerr = httpc:request { method = request.method, path = u.target, headers = headers, body = body }
  if not res then
    httpc:close()
    if rerr == "timeout" then
      return failure("timeout", clock.timeout_message("reading the answer from " .. u.authority))
    end
    local r, e = failure("transport", "request to " .. u.authority .. " failed: " .. tostring(rerr))
    return r, e, reused > 0
  end

  local out = {}
  local header_bytes = 0
  for name, value in pairs(res.headers or {}) do
    if type(value) == "table" then value = table.concat(value, ", ") end
    value = tostring(value)
    header_bytes = header_bytes + #name + #value + 4
    local lower = name:lower()
    out[lower] = out[lower] and (out[lower] .. ", " .. value) or value
  end
  if header_bytes > MAX_HEADER_BYTES then
    httpc:close()
    return failure("too_large", "response headers larger than 256 KiB")
  end

  local max_body = tonumber(request.max_body) or limits.MAX_BODY
  local length = tonumber(out["content-length"])
  if length and length > max_body then httpc:close(); return too_large(max_body) end
  local parts, total = {}, 0
  local until_close = not length and not has_token(out["transfer-encoding"], "chunked")
  if res.has_body and res.body_reader then
    while true do
      set_timeouts(false)
      local chunk, berr = res.body_reader(READ_CHUNK)
      if berr == "closed" and until_close then
        -- a body delimited by the connection's end: the reader hands over the rest with "closed"
        if chunk then total = total + #chunk; parts[#parts + 1] = chunk end
        if total > max_body then httpc:close(); return too_large(max_body) end
        close_after = true
        break
      end
      if berr then
        httpc:close()
        if berr == "timeout" then
          return failure("timeout", clock.timeout_message("reading the answer body from " .. u.authority))
        end
        return failure("transport", "reading the answer body from " .. u.authority .. " failed: " .. tostring(berr))
      end
      if not chunk then break end
      total = total + #chunk
      if total > max_body then httpc:close(); return too_large(max_body) end
      parts[#parts + 1] = chunk
    end
  end
  if close_after then
    httpc:close()
  else
    local kok = httpc:set_keepalive(self.keepalive_ms, self.pool_size)
    if not kok then httpc:close() end
  end
  return { status = res.status, headers = out, body = table.concat(parts), backend = "resty.http",
    reused = reused, new_connections = reused == 0 and 1 or 0 }
end

local function send_resty(self, request, u, clock)
  local head, close_after = request_head(request, u.target, u.authority) -- validates headers
  if not head then return nil, close_after end
  for _ = 1, self.pool_size + 1 do
    local res, err, retry = resty_exchange(self, request, u, clock, close_after)
    if res or not retry or clock.expired() then return res, err end
  end
  return failure("transport", "every pooled connection to " .. u.authority .. " was closed by the server")
end

--------------------------------------------------------------------------------------------
-- The transport object
--------------------------------------------------------------------------------------------

-- Cosockets cannot go through a proxy: a client given one refuses this transport when it is
-- made (pipeline.common_config reads this field), and a request carrying one (through the
-- auto transport) is refused here, never sent direct.
Ngx.proxy = false

function Ngx:send(request)
  if type(request) ~= "table" then error("ngx transport: send needs a request table", 2) end
  if request.proxy and (request.proxy ~= "env" or require("koodrive.pipeline").env_proxy()) then
    return nil, errors.config("proxy", "unsupported",
      "the ngx transport cannot send through a proxy; use the libcurl transport")
  end
  local phase, where = M.usable()
  if not phase then
    return failure("transport", "the ngx transport cannot send here (" .. tostring(where) ..
      "): cosockets work only in rewrite, access, content, timer and ssl_* phases;" ..
      " use koodrive.transport.auto() to fall back to libcurl")
  end
  local scheme, host, port, target, authority = parse_url(request.url)
  if not scheme then
    return nil, errors.new { kind = "validation", field = "url", rule = "url",
      message = "url must be an absolute http(s) URL", retryable = false }
  end
  local u = { scheme = scheme, host = host, port = port, target = target, authority = authority }
  local clock = clock_for(request)
  if self:backend_name() == "resty.http" then return send_resty(self, request, u, clock) end
  return send_cosocket(self, request, u, clock)
end

--- "resty.http" or "cosocket": the backend this transport sends with.
function Ngx:backend_name()
  if self.resty_http == nil then
    self.resty_http = false
    if self.backend ~= "cosocket" then
      local ok, http = pcall(require, "resty.http")
      if ok and type(http) == "table" and type(http.new) == "function" then
        self.resty_http = http
      elseif self.backend == "resty.http" then
        error("koodrive.transport.ngx: backend \"resty.http\" but lua-resty-http cannot be loaded: " ..
          tostring(http), 2)
      end
    end
  end
  return self.resty_http and "resty.http" or "cosocket"
end

-- luacheck: push ignore 212 (self: the method every transport has)
function Ngx:close() end -- connections belong to nginx's pools
-- luacheck: pop

function Ngx.__tostring(t) return "koodrive.transport.ngx (" .. t.backend .. ")" end

--- Creates the transport. opts (all optional):
--   backend            "auto" | "cosocket" | "resty.http" (see above)
--   pool_size          connections kept per pool and worker (default 30)
--   keepalive_timeout  seconds an idle pooled connection is kept (default 60)
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("koodrive.transport.ngx: opts must be a table", 2) end
  local backend = opts.backend or "auto"
  if backend ~= "auto" and backend ~= "cosocket" and backend ~= "resty.http" then
    error("koodrive.transport.ngx: backend must be \"auto\", \"cosocket\" or \"resty.http\"", 2)
  end
  local pool_size = opts.pool_size or 30
  if type(pool_size) ~= "number" or pool_size < 1 or pool_size % 1 ~= 0 then
    error("koodrive.transport.ngx: pool_size must be a positive whole number", 2)
  end
  local keepalive = opts.keepalive_timeout or 60
  if type(keepalive) ~= "number" or keepalive <= 0 then
    error("koodrive.transport.ngx: keepalive_timeout must be a positive number of seconds", 2)
  end
  return setmetatable({ backend = backend, pool_size = pool_size, keepalive_ms = ms(keepalive) }, Ngx)
end

return M
