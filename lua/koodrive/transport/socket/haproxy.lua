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

-- HAProxy's socket timeout is one of inactivity (a server trickling its answer a byte at a
-- time would never meet it), so a request's total timeout is kept by one watcher task: every
-- WATCH_MS it closes the sockets whose deadline has passed, and the wait on such a socket
-- returns at once (reported as a timeout). The task ends when nothing is left to watch.
M.WATCH_MS = 50
local watched, watching = {}, false -- conn -> { sock, deadline }

local function now_s()
  local t = core.now()
  return t.sec + t.usec / 1e6
end

local function watcher()
  while next(watched) do
    core.msleep(M.WATCH_MS)
    local t = now_s()
    for conn, w in pairs(watched) do
      if t >= w.deadline then
        watched[conn] = nil
        conn.expired = true
        pcall(w.sock.close, w.sock)
      end
    end
  end
  watching = false
end

local function watch(conn, sock, deadline)
  watched[conn] = { sock = sock, deadline = deadline }
  if not watching and pcall(core.register_task, watcher) then watching = true end
end

local function wrap(sock)
  local conn = { reused = 0 }
  local clock
  local function armed()
    if conn.expired then return false end
    if not clock then return true end
    local left = clock.left()
    if left <= 0 then return false end
    sock:settimeout(left)
    return true
  end
  function conn.arm(c)
    clock = c
    watch(conn, sock, now_s() + c.left())
    armed()
  end
  -- An error word, "timeout" once the watcher has closed the socket at the deadline.
  local function word(err) return conn.expired and "timeout" or err end
  local PIECE = 16 * 1024
  local ended = false -- the last line was handed over whole; the next call says so
  function conn.line_reader()
    if ended then ended = false; return nil end
    if not armed() then return nil, "timeout" end
    local line, err = sock:receive("*l")
    if not line then return nil, word(err) end
    if line == "" then return nil end
    ended = true
    return line
  end
  function conn.exact(n)
    local parts, got = {}, 0
    while got < n do
      if not armed() then return nil, "timeout" end
      local data, err = sock:receive(math.min(PIECE, n - got))
      if not data then return nil, word(err) end
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
    if err == "closed" and partial and partial ~= "" and not conn.expired then closed = true; return partial end
    return nil, word(err)
  end
  function conn.send(head, body)
    local data = body and head .. body or head
    local at = 1
    while at <= #data do
      if not armed() then return nil, "timeout" end
      local last, err = sock:send(data, at)
      if not last then return nil, word(err) end
      if last < at then return nil, "closed" end -- no progress: never loop on it
      at = last + 1
    end
    return true
  end
  function conn.keep() return false end
  function conn.close()
    watched[conn] = nil
    sock:close()
  end
  return conn
end

function M.new()
  if type(core) ~= "table" or type(core.tcp) ~= "function" then
    error("koodrive.transport.haproxy: not running inside HAProxy (no core.tcp)", 3)
  end
  local net = { name = "haproxy" }
  net.now = now_s
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
      return http1.connect_failure(err, u, o.clock)
    end
    return wrap(sock)
  end
  return net
end

return M
