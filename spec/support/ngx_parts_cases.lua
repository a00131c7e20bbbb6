-- support.ngx_parts_cases: the nginx side of spec/ngx_parts_spec.lua (loaded by its nginx
-- worker, LuaJIT): /run/<case> drives koodrive.transfer.ngx_parts from a content handler and
-- answers what it saw as JSON; /h/<peer> are the hostile peers, on raw downstream sockets.
local ngx_parts = require "koodrive.transfer.ngx_parts"
local cjson = require "cjson.safe"

-- luacheck: globals ngx (nginx's module: a response's status and headers are set on it)

local M = {}
local cases = {}

local function base() return "http://127.0.0.1:" .. ngx.var.server_port end
local function dir() return (ngx.config.prefix():gsub("/$", "")) end

-- Polls until nothing is pending (bounded); returns the results by id (as a list, for JSON).
local function drain(e, on_step)
  local out, deadline = {}, ngx.now() + 30
  while e:pending() > 0 do
    ngx.update_time()
    if ngx.now() > deadline then error("transfers did not finish in time") end
    for _, r in ipairs(e:poll(0.05)) do out[r.id] = r end
    if on_step then on_step() end
  end
  local list = {}
  for id, r in pairs(out) do list[#list + 1] = r; r.id = id end
  table.sort(list, function(a, b) return a.id < b.id end)
  return list
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function cases.putparts(args)
  local size, ps = tonumber(args.size), 5 * 1024 * 1024
  local e = ngx_parts.new { concurrency = 4 }
  local n = math.ceil(size / ps)
  for i = 1, n do
    local off = (i - 1) * ps
    e:add { id = i, method = "PUT", url = base() .. "/store/p" .. i, path = dir() .. "/big.bin",
      offset = off, size = math.min(ps, size - off) }
  end
  local max_running, pending = 0, e:pending()
  local r = drain(e, function() max_running = math.max(max_running, e:running()) end)
  local progress = e:progress()
  e:close()
  return { results = r, max_running = max_running, pending = pending, progress = progress }
end

function cases.headers()
  local e = ngx_parts.new { concurrency = 2 }
  e:add { id = 1, method = "PUT", url = base() .. "/headers", data = "hello", offset = 0, size = 5 }
  e:add { id = 2, method = "GET", url = base() .. "/headers", path = dir() .. "/h2", offset = 0 }
  e:add { id = 3, method = "GET", url = base() .. "/headers", path = dir() .. "/h3", offset = 3,
    size = 4, range = true }
  local r = drain(e)
  e:close()
  return { results = r, h2 = read(dir() .. "/h2") }
end

function cases.data()
  local data = ("0123456789"):rep(1000) .. "tail"
  local e = ngx_parts.new { concurrency = 3 }
  e:add { id = 1, method = "PUT", url = base() .. "/store/dd1", data = data, offset = 0, size = 4000 }
  e:add { id = 2, method = "PUT", url = base() .. "/store/dd2", data = data, offset = 4000, size = #data - 4000 }
  e:add { id = 3, method = "PUT", url = base() .. "/store/dd3", data = data, offset = 0, size = 0 }
  local r = drain(e)
  local bad = pcall(e.add, e, { id = 4, method = "PUT", url = base() .. "/x", data = "abc", offset = 2, size = 5 })
  local bad_range = pcall(e.add, e, { id = 5, method = "GET", url = base() .. "/x", path = "/tmp/x",
    offset = 0, size = 0, range = true })
  e:close()
  return { results = r, past_end_accepted = bad, zero_range_accepted = bad_range }
end

function cases.rangedget(args)
  local size = tonumber(args.size)
  local up = ngx_parts.new { concurrency = 1 }
  up:add { id = 1, method = "PUT", url = base() .. "/store/whole", path = dir() .. "/big.bin", offset = 0, size = size }
  local put = drain(up)[1]
  up:close()
  local e = ngx_parts.new { concurrency = 4 }
  local piece = math.ceil(size / 4)
  for i = 1, 4 do
    e:add { id = i, method = "GET", url = base() .. "/store/whole", path = dir() .. "/got.bin",
      offset = (i - 1) * piece, size = i < 4 and piece or nil, range = true }
  end
  local r = drain(e)
  local progress = e:progress()
  e:close()
  return { put = put, results = r, piece = piece, progress = progress }
end

function cases.ranges()
  local e = ngx_parts.new { concurrency = 2 }
  e:add { id = 1, method = "GET", url = base() .. "/norange/d1", path = dir() .. "/ri", offset = 100,
    size = 50, range = true }
  e:add { id = 2, method = "GET", url = base() .. "/badrange", path = dir() .. "/rm", offset = 5,
    size = 10, range = true }
  e:add { id = 3, method = "GET", url = base() .. "/store/d1", path = dir() .. "/long", offset = 0, size = 10 }
  e:add { id = 4, method = "GET", url = base() .. "/norange/d1", path = dir() .. "/r0", offset = 0,
    size = 50, range = true }
  local r = drain(e)
  e:close()
  return { results = r, ri = read(dir() .. "/ri"), rm = read(dir() .. "/rm"), long = read(dir() .. "/long"),
    r0 = read(dir() .. "/r0") }
end

function cases.errors()
  local f = assert(io.open(dir() .. "/keep", "wb"))
  f:write("original")
  f:close()
  local e = ngx_parts.new { concurrency = 2, max_error_body = 6 }
  e:add { id = 1, method = "GET", url = base() .. "/e403", path = dir() .. "/keep", offset = 0 }
  e:add { id = 2, method = "PUT", url = base() .. "/e500", data = "abc", offset = 0, size = 3 }
  local r = drain(e)
  e:close()
  return { results = r, keep = read(dir() .. "/keep") }
end

function cases.files(args)
  local size = tonumber(args.size)
  local e = ngx_parts.new { concurrency = 3 }
  e:add { id = 1, method = "GET", url = base() .. "/store/d1", path = dir() .. "/no/such/dir/f", offset = 0 }
  e:add { id = 2, method = "PUT", url = base() .. "/store/short", path = dir() .. "/big.bin",
    offset = size - 10, size = 100 }
  e:add { id = 3, method = "PUT", url = base() .. "/store/x", path = dir() .. "/missing", offset = 0, size = 1 }
  -- a link planted at the file a GET writes: refused, and its target keeps its bytes
  local victim = assert(io.open(dir() .. "/victim", "wb")); victim:write("mine"); victim:close()
  os.remove(dir() .. "/planted")
  assert(os.execute("ln -s " .. dir() .. "/victim " .. dir() .. "/planted"))
  e:add { id = 4, method = "GET", url = base() .. "/store/d1", path = dir() .. "/planted", offset = 0 }
  local r = drain(e)
  e:close()
  return { results = r, victim = read(dir() .. "/victim") }
end

function cases.connect(args)
  local e = ngx_parts.new { concurrency = 1, connect_timeout = 2 }
  e:add { id = 1, method = "GET", url = "http://127.0.0.1:" .. args.port .. "/x", path = dir() .. "/c", offset = 0 }
  e:add { id = 2, method = "GET", url = "ftp://127.0.0.1/x", path = dir() .. "/c", offset = 0 }
  local r = drain(e)
  e:close()
  return { results = r }
end

function cases.fifo()
  local e = ngx_parts.new { concurrency = 2 }
  for i = 1, 5 do
    e:add { id = i, method = "GET", url = base() .. "/slow/d2", path = dir() .. "/s" .. i,
      offset = 0, size = 300000, range = true }
  end
  local out = { running_before = e:running() }
  out.first = e:poll(0)
  out.running, out.pending = e:running(), e:pending()
  out.cancel_queued, out.cancel_running, out.cancel_unknown = e:cancel(5), e:cancel(1), e:cancel(99)
  out.pending_after = e:pending()
  local last, monotonic, max_running, own = 0, true, 0, 0
  out.results = drain(e, function()
    max_running = math.max(max_running, e:running())
    local p = e:progress()
    if p < last then monotonic = false end
    last = p
    local mine = e:progress(2) -- a running transfer's own bytes so far
    if mine then
      if mine < own or mine > 300000 then monotonic = false end
      own = mine
    end
  end)
  out.monotonic, out.max_running, out.progress = monotonic, max_running, e:progress()
  out.own_seen, out.own_after, out.own_unknown = own, e:progress(2), e:progress(99)
  e:close()
  return out
end

function cases.close()
  local e = ngx_parts.new { concurrency = 2 }
  for i = 1, 3 do
    e:add { id = i, method = "GET", url = base() .. "/slow/d2", path = dir() .. "/z" .. i, offset = 0 }
  end
  e:poll(0.2)
  local out = { progress = e:progress(), running = e:running() }
  e:close()
  e:close()
  out.poll_error = select(2, pcall(e.poll, e, 0))
  out.add_error = select(2, pcall(e.add, e, { id = 1, method = "GET", url = "x", path = "y", offset = 0 }))
  out.bad_concurrency = not pcall(ngx_parts.new, { concurrency = 0 })
  out.bad_timeout = not pcall(ngx_parts.new, { timeout = -1 })
  return out
end

-- Polled the way the flows poll (poll(0), then a sleep): every transfer is reported once,
-- and pending() counts a transfer until its result has been handed over.
function cases.accounting()
  local e = ngx_parts.new { concurrency = 4 }
  for i = 1, 24 do
    e:add { id = i, method = i % 2 == 0 and "GET" or "PUT", url = base() .. "/store/acc" .. (i % 2 == 0 and "" or i),
      path = dir() .. "/acc" .. i, data = i % 2 == 1 and "put me" or nil, offset = 0, size = i % 2 == 1 and 6 or nil }
  end
  local seen, count, deadline = {}, 0, ngx.now() + 20
  while e:pending() > 0 and ngx.now() < deadline do
    for _, r in ipairs(e:poll(0)) do
      seen[r.id] = (seen[r.id] or 0) + 1
      count = count + 1
    end
    ngx.sleep(0.002)
  end
  local late = #e:poll(0)
  e:close()
  local once = true
  for i = 1, 24 do if seen[i] ~= 1 then once = false end end
  return { count = count, once = once, late = late }
end

-- A pooled connection the peer drops when the next request comes (a stale keep-alive
-- connection): that part is sent again on a new connection, no error reported.
function cases.stale(args)
  ngx.shared.parts:flush_all()
  local e = ngx_parts.new { concurrency = 1 }
  for i = 1, 2 do
    e:add { id = i, method = "GET", url = "http://127.0.0.1:" .. args.port .. "/h/once",
      path = dir() .. "/stale" .. i, offset = 0 }
  end
  local r = drain(e)
  e:close()
  return { results = r, dropped = ngx.shared.parts:get("dropped") or 0, body = read(dir() .. "/stale2") }
end

-- Connections kept alive: only after an answer read to its end.
function cases.keepalive()
  local e = ngx_parts.new { concurrency = 1 }
  for i, path in ipairs { "/conn", "/conn", "/store/d1", "/conn" } do
    e:add { id = i, method = "GET", url = base() .. path, path = dir() .. "/ka" .. i, offset = 0,
      size = path == "/store/d1" and 10 or nil }
  end
  local r = drain(e)
  e:close()
  local seen = {}
  for i = 1, 4 do seen[i] = read(dir() .. "/ka" .. i) end
  return { results = r, seen = seen }
end

-- Hostile peers, each a location of this nginx (below).
function cases.hostile(args)
  local e = ngx_parts.new { concurrency = 8, low_speed_time = tonumber(args.stall) or 0.5, max_error_body = 100 }
  local function get(id, path, extra)
    local t = { id = id, method = "GET", url = base() .. path, path = dir() .. "/hostile" .. id, offset = 0 }
    for k, v in pairs(extra or {}) do t[k] = v end
    e:add(t)
  end
  get(1, "/h/reset_body")                            -- Content-Length 1000, 500 bytes, connection dropped
  get(2, "/h/short", { size = 100, range = true })   -- 206 of 100 bytes, 50 sent, clean close
  get(3, "/h/big_headers")                           -- 300 KiB of headers
  get(4, "/h/stall")                                 -- no answer for longer than low_speed_time
  get(5, "/h/chunked", { size = 26, range = true })  -- a chunked 206
  get(6, "/h/garbage")                               -- not HTTP
  get(7, "/h/nothing")                               -- closed without a byte
  -- 16 MiB: more than the kernel's send buffer (4 MiB at most here) and the peer's receive
  -- window take, so the reset always comes before the last byte is handed over
  e:add { id = 8, method = "PUT", url = base() .. "/h/reset_put", path = dir() .. "/big.bin", offset = 0,
    size = 16 * 1024 * 1024 }
  get(9, "/h/close_delimited")                       -- no length: the body ends with the connection
  get(10, "/h/bad_chunk")                            -- a chunk longer than its size line says
  get(11, "/h/two_lengths")                          -- Content-Length: 5 and Content-Length: 6
  local r = drain(e)
  e:close()
  return { results = r, chunked = read(dir() .. "/hostile5"), close_delimited = read(dir() .. "/hostile9") }
end

function cases.tls(args)
  local out = {}
  for _, insecure in ipairs { false, true } do
    local e = ngx_parts.new { concurrency = 2, insecure = insecure }
    e:add { id = 1, method = "GET", url = "https://127.0.0.1:" .. args.trusted .. "/store/d1",
      path = dir() .. "/tls1", offset = 0 }
    e:add { id = 2, method = "GET", url = "https://127.0.0.1:" .. args.rogue .. "/store/d1",
      path = dir() .. "/tls2", offset = 0 }
    out[insecure and "insecure" or "verified"] = drain(e)
    e:close()
  end
  out.file = read(dir() .. "/tls1")
  return out
end

function M.run()
  local name = ngx.var.uri:match("^/run/([%w_]+)$")
  local case = cases[name]
  if not case then return ngx.exit(404) end
  local ok, res = xpcall(case, debug.traceback, ngx.req.get_uri_args())
  if not ok then ngx.status = 500; ngx.say(res); return end
  ngx.header.content_type = "application/json"
  ngx.say(cjson.encode(res))
end

-- The hostile peers: raw downstream sockets, so that anything at all can be sent.
local hostile = {}
function hostile.reset_body(sock)
  sock:send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" .. ("x"):rep(500))
  return ngx.exit(444)
end
function hostile.short(sock)
  sock:send("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99/1000\r\nContent-Length: 100\r\n\r\n" ..
    ("y"):rep(50))
end
function hostile.big_headers(sock)
  sock:send("HTTP/1.1 200 OK\r\n" .. ("X-Pad: " .. ("a"):rep(1000) .. "\r\n"):rep(300) .. "\r\n")
end
function hostile.stall() ngx.sleep(2) end
function hostile.chunked(sock)
  sock:send("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-25/26\r\nTransfer-Encoding: chunked\r\n\r\n" ..
    "a\r\nabcdefghij\r\n10;ext=1\r\nklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n")
end
function hostile.garbage(sock) sock:send("SSH-2.0-nope\r\n\r\n") end
function hostile.nothing() end
function hostile.reset_put(sock)
  sock:receive(100000) -- part of the body
  return ngx.exit(444)
end
function hostile.bad_chunk(sock)
  sock:send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY\r\n0\r\n\r\n")
end
function hostile.two_lengths(sock)
  sock:send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef")
end
function hostile.once(sock)
  sock:send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
  local next_head = sock:receiveuntil("\r\n\r\n")
  if next_head() then ngx.shared.parts:incr("dropped", 1, 0) end -- then closed unanswered
end
function hostile.close_delimited(sock)
  sock:send("HTTP/1.0 200 OK\r\n\r\nuntil the end")
end

function M.hostile()
  local name = ngx.var.uri:match("^/h/([%w_]+)$")
  local f = hostile[name]
  if not f then return ngx.exit(404) end
  f(assert(ngx.req.socket(true))) -- (nginx has read the request head already)
end

return M
