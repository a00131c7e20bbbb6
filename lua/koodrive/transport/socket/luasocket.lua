--- The LuaSocket adapter of koodrive.transport.socket: blocking sockets (socket.tcp), plain
-- http only (LuaSocket has no TLS of its own), no pool. Every read goes through a buffer
-- filled at most 16 KiB at a time, so a line is never read further than the client's limit
-- (LuaSocket's "*l" would buffer a hostile endless line whole). Useful where a host gives
-- LuaSocket-compatible sockets but no libcurl, and as the plain-Lua check of the one client.
-- Internal: made by koodrive.transport.socket("luasocket").
local http1 = require "koodrive.transport.http1"

local M = {}

local FILL = 16 * 1024

local function wrap(socket, sock)
  local conn = { reused = 0 }
  local buf, closed, clock = "", false, nil
  -- Every wait gets the time left of the request's total timeout, not a fresh one: a server
  -- trickling its answer a byte at a time cannot keep a call alive past that.
  function conn.arm(c) clock = c end
  local function left() return clock and clock.left() or 60 end

  -- At least one more byte into buf, within the armed time; nil and a word otherwise.
  local function fill()
    if closed then return nil, "closed" end
    if not sock:dirty() then
      local wait = left()
      if wait <= 0 then return nil, "timeout" end
      local ready, _, serr = socket.select({ sock }, nil, wait)
      if not ready or not ready[1] then return nil, serr == "timeout" and "timeout" or (serr or "timeout") end
    end
    sock:settimeout(0)
    local data, err, partial = sock:receive(FILL)
    data = data or partial
    if data and data ~= "" then buf = buf .. data; return true end
    if err == "closed" then closed = true; return nil, "closed" end
    return nil, err or "timeout"
  end

  local reading_line = false
  function conn.line_reader(max)
    if reading_line == "end" then reading_line = false; return nil end
    while true do
      local lf = buf:find("\n", 1, true)
      if lf then
        local chunk = buf:sub(1, lf - 1)
        if #chunk > max then chunk, buf = buf:sub(1, max), buf:sub(max + 1)
        else buf = buf:sub(lf + 1); reading_line = "end" end
        if chunk == "" and reading_line == "end" then reading_line = false; return nil end
        return chunk
      end
      if #buf >= max then
        local chunk = buf:sub(1, max)
        buf = buf:sub(max + 1)
        return chunk
      end
      local ok, err = fill()
      if not ok then return nil, err end
    end
  end
  function conn.exact(n)
    while #buf < n do
      local ok, err = fill()
      if not ok then return nil, err end
    end
    local data = buf:sub(1, n)
    buf = buf:sub(n + 1)
    return data
  end
  function conn.some(max)
    if buf == "" then
      local ok, err = fill()
      if not ok then return nil, err end
    end
    local data = buf:sub(1, max)
    buf = buf:sub(max + 1)
    return data
  end
  function conn.send(head, body)
    local wait = left()
    if wait <= 0 then return nil, "timeout" end
    sock:settimeout(wait)
    local ok, err = sock:send(body and head .. body or head)
    return ok, err
  end
  function conn.keep() return false end
  function conn.close() sock:close() end
  return conn
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
      if err == "timeout" then
        return http1.failure("timeout", o.clock.timeout_message("connect to " .. u.authority))
      end
      return http1.failure("connect", "connect to " .. u.authority .. " failed: " .. tostring(err))
    end
    return wrap(socket, sock)
  end
  return net
end

return M
