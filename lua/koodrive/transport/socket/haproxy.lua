--- The HAProxy adapter of koodrive.transport.socket: HAProxy's Lua sockets (core.tcp), which
-- yield to HAProxy's scheduler while they wait, so a call made from a Lua service, action or
-- task never stalls the process. Plain http: core.tcp's connect_ssl cannot be told which
-- certificate authority or name to check, so https is refused unless the request says
-- `insecure = true` (use the libcurl transport outside HAProxy's event loop, or terminate TLS
-- in an HAProxy backend). No pool: each call has a connection of its own. Lines are read with
-- "*l", which HAProxy bounds by its buffer size (tune.bufsize).
-- Internal: made by koodrive.transport.haproxy() or koodrive.transport.socket("haproxy").
local http1 = require "koodrive.transport.http1"

local core = core -- luacheck: ignore (the global of HAProxy's Lua; nil elsewhere)

local M = {}

local function wrap(sock)
  local conn = { reused = 0 }
  -- HAProxy's timeout is one of inactivity: every receive is armed again with the time left
  -- of the request's total timeout, and bodies are read in pieces, so a server trickling its
  -- answer cannot keep a call alive past that.
  local clock
  local function armed()
    if not clock then return true end
    local left = clock.left()
    if left <= 0 then return false end
    sock:settimeout(left)
    return true
  end
  function conn.arm(c) clock = c; armed() end
  local PIECE = 16 * 1024
  local ended = false -- the last line was handed over whole; the next call says so
  function conn.line_reader()
    if ended then ended = false; return nil end
    if not armed() then return nil, "timeout" end
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    if line == "" then return nil end
    ended = true
    return line
  end
  function conn.exact(n)
    local parts, got = {}, 0
    while got < n do
      if not armed() then return nil, "timeout" end
      local data, err = sock:receive(math.min(PIECE, n - got))
      if not data then return nil, err end
      parts[#parts + 1] = data
      got = got + #data
    end
    return table.concat(parts)
  end
  local closed = false
  function conn.some(max)
    if closed then return nil, "closed" end
    if not armed() then return nil, "timeout" end
    local data, err, partial = sock:receive(math.min(PIECE, max))
    if data then return data end
    if err == "closed" and partial and partial ~= "" then closed = true; return partial end
    return nil, err
  end
  function conn.send(head, body)
    local data = body and head .. body or head
    local at = 1
    while at <= #data do
      if not armed() then return nil, "timeout" end
      local last, err = sock:send(data, at)
      if not last then return nil, err end
      if last < at then return nil, "closed" end -- no progress: never loop on it
      at = last + 1
    end
    return true
  end
  function conn.keep() return false end
  function conn.close() sock:close() end
  return conn
end

function M.new()
  if type(core) ~= "table" or type(core.tcp) ~= "function" then
    error("koodrive.transport.haproxy: not running inside HAProxy (no core.tcp)", 3)
  end
  local net = { name = "haproxy" }
  function net.now()
    local t = core.now()
    return t.sec + t.usec / 1e6
  end
  function net.open(u, o)
    if u.scheme == "https" and o.verify then
      return http1.failure("tls", "HAProxy's core.tcp cannot verify a TLS server; send https with" ..
        " the libcurl transport, through an HAProxy backend, or with insecure = true")
    end
    local ok_new, sock = pcall(core.tcp)
    if not ok_new or not sock then
      return http1.failure("transport", "core.tcp() is not usable here (" .. tostring(sock) ..
        "): HAProxy's sockets work in services, actions and tasks")
    end
    sock:settimeout(o.clock.connect_ms() / 1000)
    local host = http1.strip_brackets(u.host)
    local ok, err
    if u.scheme == "https" then ok, err = sock:connect_ssl(host, u.port)
    else ok, err = sock:connect(host, u.port) end
    if not ok then
      sock:close()
      if err == "timeout" then
        return http1.failure("timeout", o.clock.timeout_message("connect to " .. u.authority))
      end
      return http1.failure("connect", "connect to " .. u.authority .. " failed: " .. tostring(err))
    end
    return wrap(sock)
  end
  return net
end

return M
