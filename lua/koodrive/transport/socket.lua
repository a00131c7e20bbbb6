--- A transport over a host's own sockets: koodrive.transport.http1 (the one HTTP/1.1 client,
-- the same parser, limits and errors as the nginx transport's built-in client) over an
-- adapter of the socket interface.
--
--   local t = koodrive.transport.socket("luasocket")         -- LuaSocket, blocking
--   local t = koodrive.transport.socket("haproxy")           -- HAProxy's core.tcp (= transport.haproxy())
--   local t = koodrive.transport.socket("cqueues")           -- cqueues sockets, TLS verified (luaossl)
--   local t = koodrive.transport.socket(my_net)              -- any adapter (see transport/http1.lua)
--
-- opts: pool_size (connections kept per host where the adapter pools; default 30),
-- keepalive_timeout (seconds, default 60). Proxies are refused (never sent direct).
local errors = require "koodrive.errors"
local http1 = require "koodrive.transport.http1"

local M = {}

local Socket = {}
Socket.__index = Socket
Socket.__name = "koodrive.transport.socket"
Socket.proxy = false -- pipeline.common_config refuses a client's proxy with this transport

M.ADAPTERS = { luasocket = "koodrive.transport.socket.luasocket", haproxy = "koodrive.transport.socket.haproxy",
  cqueues = "koodrive.transport.socket.cqueues" }

function Socket:send(request)
  if type(request) ~= "table" then error("socket transport: send needs a request table", 2) end
  if self.closed then error("attempt to use a closed " .. tostring(self), 2) end
  if request.proxy and (request.proxy ~= "env" or require("koodrive.pipeline").env_proxy()) then
    return nil, errors.config("proxy", "unsupported",
      "the " .. self.net.name .. " transport cannot send through a proxy; use the libcurl transport")
  end
  local u, err = http1.target(request)
  if not u then return nil, err end
  return http1.send(self, self.net, request, u, http1.clock(request, self.net.now))
end

function Socket:close()
  if self.net.close_all then self.net.close_all() end
  self.closed = true
end
Socket.__close = Socket.close

function Socket.__tostring(t) return "koodrive.transport.socket (" .. t.net.name .. ")" end

--- net: an adapter name of M.ADAPTERS or an adapter table; opts as above (and the adapter's own).
function M.new(net, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("koodrive.transport.socket: opts must be a table", 2) end
  if type(net) == "string" then
    local name = M.ADAPTERS[net]
    if not name then error("koodrive.transport.socket: no adapter named '" .. net .. "'", 2) end
    net = require(name).new(opts)
  end
  if type(net) ~= "table" or type(net.open) ~= "function" or type(net.now) ~= "function" then
    error("koodrive.transport.socket: the adapter needs open(u, o) and now()", 2)
  end
  local pool_size, keepalive_ms = http1.pool_options(opts, "koodrive.transport.socket")
  return setmetatable({ net = net, pool_size = pool_size, keepalive_ms = keepalive_ms }, Socket)
end

return M
