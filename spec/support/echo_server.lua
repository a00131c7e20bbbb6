-- support.echo_server: a tiny HTTP/1.1 server on 127.0.0.1 (LuaSocket, one process, select)
-- that answers every request with what it saw, for the fork, proxy and connection specs.
--
--   local echo = require "support.echo_server"
--   local s = echo.start { name = "origin" }   -- s.url, s.port, s.requests(), s.stats(), s.stop()
--
-- Every answer is a KooDrive-style success: {"code":0,"msg":"success","data":{ served_by = name,
-- target = request target, conn = connection number, peer = client port, trace = X-Traceid,
-- marker = X-Marker }}. "?delay=MS" in the target holds the answer back MS milliseconds.
-- It answers absolute targets (http://host/path) too, so it serves as an HTTP proxy that
-- forges its answers; CONNECT gets 403. GET /__stats answers {accepted, open, max_open}
-- (that connection counted). Each request is also appended to a log file, one line of
-- tab-separated fields: conn, peer, method, target, Proxy-Authorization, Authorization.
--
-- Run as a script (what start() does): lua5.4 spec/support/echo_server.lua PORT NAME LOG
local socket = require "socket"

local function serve(port, name, log_path)
  local server = assert(socket.bind("127.0.0.1", port, 1024))
  server:settimeout(0)
  local log = assert(io.open(log_path, "a"))
  local clients, state = {}, {}
  local accepted, open, max_open = 0, 0, 0
  local scheduled = {} -- { at, sock, data }
  local function json_string(s)
    return '"' .. tostring(s):gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  end
  local function answer(sock, st, method, target, headers)
    local data
    if target == "/__stats" then
      data = string.format('{"accepted":%d,"open":%d,"max_open":%d}', accepted, open, max_open)
    else
      data = string.format('{"served_by":%s,"target":%s,"conn":%d,"peer":%d,"trace":%s,"marker":%s}',
        json_string(name), json_string(target), st.conn, st.peer, json_string(headers["x-traceid"] or ""),
        json_string(headers["x-marker"] or ""))
    end
    log:write(table.concat({ st.conn, st.peer, method, target, headers["proxy-authorization"] or "-",
      headers.authorization or "-" }, "\t"), "\n")
    log:flush()
    local status = method == "CONNECT" and "403 Forbidden" or "200 OK"
    local body = method == "CONNECT" and "" or ('{"code":0,"msg":"success","data":' .. data .. '}')
    local out = "HTTP/1.1 " .. status .. "\r\nContent-Type: application/json\r\nContent-Length: " ..
      #body .. "\r\n\r\n" .. body
    local delay = tonumber(target:match("[?&]delay=(%d+)") or 0)
    scheduled[#scheduled + 1] = { at = socket.gettime() + delay / 1000, sock = sock, data = out }
  end
  -- Parses whole requests out of st.buf.
  local function parse(sock, st)
    while true do
      local head_end = st.buf:find("\r\n\r\n", 1, true)
      if not head_end then return end
      local head = st.buf:sub(1, head_end - 1)
      local method, target = head:match("^(%u+) (%S+) HTTP/1%.%d")
      if not method then return "bad" end
      local headers = {}
      for k, v in head:gmatch("\r\n([^:\r\n]+):[ \t]*([^\r\n]*)") do headers[k:lower()] = v end
      local len = tonumber(headers["content-length"] or 0) or 0
      if #st.buf < head_end + 3 + len then return end
      st.buf = st.buf:sub(head_end + 4 + len)
      answer(sock, st, method, target, headers)
    end
  end
  local function drop(sock)
    for i, c in ipairs(clients) do
      if c == sock then table.remove(clients, i) break end
    end
    state[sock] = nil
    open = open - 1
    sock:close()
  end
  while true do
    local now = socket.gettime()
    local wait = 0.2
    for _, s in ipairs(scheduled) do wait = math.min(wait, math.max(0, s.at - now)) end
    local readable = socket.select({ server, unpack(clients) }, nil, wait)
    for _, sock in ipairs(readable) do
      if sock == server then
        local c = server:accept()
        while c do
          c:settimeout(0)
          accepted, open = accepted + 1, open + 1
          if open > max_open then max_open = open end
          local _, peer = c:getpeername()
          state[c] = { buf = "", conn = accepted, peer = tonumber(peer) or 0 }
          clients[#clients + 1] = c
          c = server:accept()
        end
      elseif state[sock] then
        local data, err, partial = sock:receive(65536)
        local st = state[sock]
        st.buf = st.buf .. (data or partial or "")
        if err == "closed" or (data == nil and err ~= "timeout") or parse(sock, st) == "bad" then
          drop(sock)
        end
      end
    end
    now = socket.gettime()
    local later = {}
    for _, s in ipairs(scheduled) do
      if s.at <= now then
        if state[s.sock] then
          s.sock:settimeout(2)
          if not s.sock:send(s.data) then drop(s.sock) else s.sock:settimeout(0) end
        end
      else
        later[#later + 1] = s
      end
    end
    scheduled = later
  end
end

if arg and arg[0] and arg[0]:find("echo_server%.lua$") and ... then
  unpack = unpack or table.unpack -- luacheck: ignore 121
  serve(tonumber((...)), select(2, ...), select(3, ...))
  return
end

local sys = require "support.sys"

local M = {}

--- Starts a server in its own lua5.4 process; opts.name names it in every answer.
function M.start(opts)
  local name = opts and opts.name or "origin"
  local log = os.tmpname()
  for _ = 1, 3 do
    local port = sys.free_port()
    local p = io.popen("sh -c 'exec lua5.4 spec/support/echo_server.lua " .. port .. " " .. name .. " " ..
      log .. " >/dev/null 2>&1 & echo $!'")
    local pid = p:read("*l")
    p:close()
    local deadline = socket.gettime() + 5
    while socket.gettime() < deadline and sys.alive(pid) do
      local c = socket.connect("127.0.0.1", port)
      if c then
        c:close()
        local s = { port = port, url = "http://127.0.0.1:" .. port, log = log, pid = pid }
        --- Every request seen so far: { conn, peer, method, target, proxy_authorization, authorization }.
        function s.requests()
          local list = {}
          for line in (sys.read(log) or ""):gmatch("[^\n]+") do
            local f = {}
            for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
            list[#list + 1] = { conn = tonumber(f[1]), peer = tonumber(f[2]), method = f[3], target = f[4],
              proxy_authorization = f[5] ~= "-" and f[5] or nil, authorization = f[6] ~= "-" and f[6] or nil }
          end
          return list
        end
        --- { accepted, open, max_open } as the server counts them now.
        function s.stats()
          local c2 = assert(socket.connect("127.0.0.1", port))
          c2:settimeout(5)
          c2:send("GET /__stats HTTP/1.1\r\nHost: x\r\n\r\n")
          local len
          repeat
            local line = assert(c2:receive("*l"))
            len = len or tonumber(line:match("^[Cc]ontent%-[Ll]ength: *(%d+)"))
          until line == ""
          local text = assert(c2:receive(len))
          c2:close()
          local a, o, m = text:match('"accepted":(%d+),"open":(%d+),"max_open":(%d+)')
          return { accepted = tonumber(a), open = tonumber(o) - 1, max_open = tonumber(m) }
        end
        function s.stop()
          os.execute("kill " .. pid .. " 2>/dev/null")
          os.remove(log)
        end
        return s
      end
      socket.sleep(0.05)
    end
    os.execute("kill -9 " .. pid .. " 2>/dev/null")
  end
  error("echo server did not start")
end

return M
