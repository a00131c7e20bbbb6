-- A client for spec/local_service_capacity_spec.lua, run in a child process so that it can have
-- more descriptors than busted's own limit (the spec runs it under `ulimit -n 4096`):
--
--   LUA spec/support/capacity_client.lua PORT N DELAY_MS
--
-- Opens N connections to 127.0.0.1:PORT and keeps them all open. Round 1 writes one request
-- with X-Local-Delay-Ms: DELAY_MS on every connection before reading any answer, so all N
-- wait in the server at once; round 2 sends one more request on every connection, which
-- only works if the server kept each one alive. Blocking LuaSocket only (select() cannot
-- watch descriptors past 1024). Prints "connected N", "round1 OK SECONDS", "round2 OK" and
-- "keepalive K" (answers that said Connection: keep-alive), or "error ..." and exits 1.
local socket = require "socket"

local port, n, delay = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3])

local function fail(...)
  io.write("error ", table.concat({ ... }, " "), "\n")
  os.exit(1)
end

-- One answer: status, whether it said keep-alive, its body.
local function read_answer(c)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local status = tonumber(line:match("^HTTP/1%.1 (%d+)"))
  local length, keep = 0, false
  while true do
    local h = c:receive("*l")
    if not h then return nil, "closed in the head" end
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if name and name:lower() == "content-length" then length = tonumber(value) end
    if name and name:lower() == "connection" and value:lower() == "keep-alive" then keep = true end
  end
  local body = length > 0 and c:receive(length) or ""
  if not body then return nil, "closed in the body" end
  return status, keep, body
end

local conns = {}
for i = 1, n do
  local c, err = socket.connect("127.0.0.1", port)
  if not c then fail("connect", i, err) end
  c:settimeout(30)
  conns[i] = c
end
io.write("connected ", #conns, "\n")

local request = "GET /_local/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
local t0 = socket.gettime()
-- /_local/ paths are never delayed by /_local/delay, but X-Local-Delay-Ms applies to every answer
for i, c in ipairs(conns) do
  local ok, err = c:send(request .. "X-Local-Delay-Ms: " .. delay .. "\r\n\r\n")
  if not ok then fail("send round 1", i, err) end
end
local keepalive = 0
for i, c in ipairs(conns) do
  local status, keep, body = read_answer(c)
  if status ~= 200 then fail("round 1 answer", i, tostring(status), tostring(keep)) end
  if not body:find('"msg":"ok"', 1, true) then fail("round 1 body", i, body) end
  if keep then keepalive = keepalive + 1 end
end
io.write(string.format("round1 OK %.3f\n", socket.gettime() - t0))

for i, c in ipairs(conns) do
  local ok, err = c:send(request .. "\r\n")
  if not ok then fail("send round 2", i, err) end
end
for i, c in ipairs(conns) do
  local status, keep = read_answer(c)
  if status ~= 200 then fail("round 2 answer", i, tostring(status), tostring(keep)) end
  if keep then keepalive = keepalive + 1 end
end
io.write("round2 OK\n")
io.write("keepalive ", keepalive, "\n")
for _, c in ipairs(conns) do c:close() end
