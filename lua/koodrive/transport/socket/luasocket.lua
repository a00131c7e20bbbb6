--- The LuaSocket adapter of koodrive.transport.socket: blocking sockets (socket.tcp), plain
-- http only (LuaSocket has no TLS of its own), no pool. Reads go through
-- koodrive.transport.socket.buffered (LuaSocket's "*l" would buffer a hostile endless line
-- whole, and its timeouts are per call, not per request). Useful where a host gives
-- LuaSocket-compatible sockets but no libcurl, and as the plain-Lua check of the one client.
-- Internal: made by koodrive.transport.socket("luasocket").
local http1 = require "koodrive.transport.http1"
local buffered = require "koodrive.transport.socket.buffered"

local M = {}

-- LuaSocket's receive with a zero timeout hands over what has arrived; select waits for it.
local function wrap(socket, sock)
  return buffered.conn {
    read_some = function(max, seconds)
      if not sock:dirty() then
        local ready = socket.select({ sock }, nil, seconds)
        if not ready or not ready[1] then return nil, "timeout" end
      end
      sock:settimeout(0)
      local data, err, partial = sock:receive(max)
      data = data or partial
      if data and data ~= "" then return data end
      return nil, err == "closed" and "closed" or (err or "timeout")
    end,
    send = function(data, seconds)
      sock:settimeout(seconds)
      return sock:send(data)
    end,
    close = function() sock:close() end,
  }
end

function M.new()
  local socket = require "socket"
  local net = { name = "luasocket", now = socket.gettime }
  function net.open(u, o)
    if u.scheme == "https" then
      return http1.failure("tls", "the luasocket adapter speaks plain http only; use the libcurl transport for https")
    end
    local sock, serr = socket.tcp()
    if not sock then return http1.failure("transport", "cannot create a socket: " .. tostring(serr)) end
    sock:settimeout(o.clock.connect_ms() / 1000)
    local ok, err = sock:connect(http1.strip_brackets(u.host), u.port)
    if not ok then
      sock:close()
      return http1.connect_failure(err, u, o.clock)
    end
    return wrap(socket, sock)
  end
  return net
end

return M
