--- The lua-resty-http backend of koodrive.transport.ngx: the same pools, clock, limits and
-- errors as the built-in client (koodrive.transport.ngx.http1, whose request head validates
-- the headers), with lua-resty-http doing the HTTP; versions before 0.16 connect and
-- handshake in two steps, before 0.10 have a single timeout.
-- Internal: not part of the API.
local limits = require "koodrive.limits"
local connect = require "koodrive.transport.ngx.connect"
local http1 = require "koodrive.transport.ngx.http1"

local M = {}

local MAX_HEADER_BYTES, READ_CHUNK = connect.MAX_HEADER_BYTES, connect.READ_CHUNK
local failure, too_large = connect.failure, connect.too_large
local pool_name, strip_brackets = connect.pool_name, connect.strip_brackets
local connect_within = connect.connect_within
local has_token, FRAMING, request_head = http1.has_token, http1.FRAMING, http1.request_head

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

--- Sends the request through lua-resty-http (self.resty_http); res or nil, err.
function M.send(self, request, u, clock)
  local head, close_after = request_head(request, u.target, u.authority) -- validates headers
  if not head then return nil, close_after end
  for _ = 1, self.pool_size + 1 do
    local res, err, retry = resty_exchange(self, request, u, clock, close_after)
    if res or not retry or clock.expired() then return res, err end
  end
  return failure("transport", "every pooled connection to " .. u.authority .. " was closed by the server")
end

return M
