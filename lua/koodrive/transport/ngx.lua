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
--
-- The parts: koodrive.transport.ngx.connect (errors, clock, pools, bounded name resolution),
-- koodrive.transport.ngx.http1 (the cosocket side of the one HTTP/1.1 client,
-- koodrive.transport.http1), koodrive.transport.ngx.resty
-- (lua-resty-http); this file is the transport object (backend choice, phases, send).
local errors = require "koodrive.errors"
local connect = require "koodrive.transport.ngx.connect"
local http1 = require "koodrive.transport.ngx.http1"

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

local failure, clock_for = connect.failure, connect.clock_for
local resty -- koodrive.transport.ngx.resty, loaded with the first lua-resty-http send

--------------------------------------------------------------------------------------------
-- The request's URL
--------------------------------------------------------------------------------------------

local parse_url = require("koodrive.transport.http1").parse_url
M.parse_url = parse_url -- shared with the cosocket parts engine (koodrive.transfer.ngx_parts)

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
  if self:backend_name() == "resty.http" then
    resty = resty or require "koodrive.transport.ngx.resty"
    return resty.send(self, request, u, clock)
  end
  return http1.send(self, request, u, clock)
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
  local pool_size, keepalive_ms = require("koodrive.transport.http1").pool_options(opts, "koodrive.transport.ngx")
  return setmetatable({ backend = backend, pool_size = pool_size, keepalive_ms = keepalive_ms }, Ngx)
end

return M
