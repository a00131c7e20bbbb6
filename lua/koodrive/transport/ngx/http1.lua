--- The built-in HTTP/1.1 client of koodrive.transport.ngx: the one client of
-- koodrive.transport.http1 over nginx's cosockets (ngx.socket.tcp alone, so that Debian's
-- nginx + libnginx-mod-http-lua, without lua-resty-http, is enough). This file is the
-- cosocket side of its socket interface: nginx's per-worker pools, the bounded name
-- resolution, TLS verified against lua_ssl_trusted_certificate, keep-alive.
-- Internal: not part of the API.
local http1 = require "koodrive.transport.http1"
local connect = require "koodrive.transport.ngx.connect"

local ngx = ngx -- luacheck: ignore (the global of nginx's Lua module; nil elsewhere)

local M = {}

local failure = connect.failure
local pool_name, resolving, connect_within = connect.pool_name, connect.resolving, connect.connect_within

local fresh_serial = 0

local PIECE = 64 * 1024

--- A connection (the socket interface of koodrive.transport.http1) on a cosocket. A
-- cosocket's read timeout is one of inactivity: every wait is armed again with the time left
-- of the request's total timeout, and bodies are read in pieces, so a server trickling its
-- answer cannot keep a call alive past that (a line, at most 8 KiB, is read in one wait).
local function wrap(sock, reused)
  local lines = sock:receiveuntil("\n")
  local clock
  local function armed()
    if not clock then return true end
    if clock.expired() then return false end
    sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
    return true
  end
  local conn = { reused = reused }
  function conn.arm(c) clock = c; armed() end
  function conn.line_reader(max)
    if not armed() then return nil, "timeout" end
    return lines(max)
  end
  function conn.send(head, body)
    if not armed() then return nil, "timeout" end
    return sock:send(body and { head, body } or head)
  end
  function conn.exact(n)
    local parts, got = {}, 0
    while got < n do
      if not armed() then return nil, "timeout" end
      -- receiveany returns what has come: each wait is bounded by the time left.
      local data, err = sock:receiveany(math.min(PIECE, n - got))
      if not data then return nil, err end
      parts[#parts + 1] = data
      got = got + #data
    end
    return table.concat(parts)
  end
  function conn.some(max)
    if not armed() then return nil, "timeout" end
    return sock:receiveany(max)
  end
  function conn.keep(keep_ms, size) return sock:setkeepalive(keep_ms, size) and true or false end
  function conn.close() sock:close() end
  return conn
end

local function open(u, o)
  local sock, serr = ngx.socket.tcp()
  if not sock then return failure("transport", "cannot create a socket: " .. tostring(serr)) end
  local clock = o.clock
  local pool = pool_name(u.scheme, u.host, u.port, o.sni, o.verify)
  if o.fresh then
    -- A request that must not be sent twice gets a connection of its own (a name no pool
    -- has), so it never meets a stale pooled one; it is closed afterwards (close_after).
    fresh_serial = fresh_serial + 1
    pool = pool .. "#fresh" .. fresh_serial
  end
  sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
  local ok, err = connect_within(function()
    return sock:connect(u.host, u.port, { pool = pool, pool_size = o.pool_size })
  end, o.is_ip, clock)
  if not ok then
    if err == "timeout" or (err and err:find("timed out", 1, true)) then
      return failure("timeout", clock.timeout_message("connect to " .. u.authority) .. resolving(o.is_ip))
    end
    local hint = ""
    if err and err:find("resolver", 1, true) then hint = " (set nginx's `resolver` directive)" end
    return failure("connect", "connect to " .. u.authority .. " failed: " .. tostring(err) .. hint)
  end
  local reused = sock:getreusedtimes() or 0
  if u.scheme == "https" and reused == 0 then
    sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
    local session, herr = sock:sslhandshake(nil, o.sni, o.verify)
    if not session then
      sock:close()
      if herr == "timeout" then
        return failure("timeout", clock.timeout_message("TLS handshake with " .. u.authority))
      end
      local hint = ""
      if o.verify then
        hint = " (the ngx transport trusts the CAs of nginx's lua_ssl_trusted_certificate" ..
          " and checks chains up to lua_ssl_verify_depth" ..
          (o.request.ca_file and "; the request's ca_file cannot be used by cosockets" or "") .. ")"
      end
      return failure("tls", "TLS handshake with " .. u.authority .. " failed: " .. tostring(herr) .. hint)
    end
  end
  return wrap(sock, reused)
end

M.net = { name = "cosocket", now = function() return ngx.now() end, open = open }

--- Sends the request with the built-in client; res or nil, err.
function M.send(self, request, u, clock) return http1.send(self, M.net, request, u, clock) end

-- The head and its reader, shared with the lua-resty-http backend and the cosocket parts
-- engine (koodrive.transfer.ngx_parts).
M.has_token, M.FRAMING, M.request_head = http1.has_token, http1.FRAMING, http1.request_head
M.read_line, M.read_headers = http1.read_line, http1.read_headers

return M
