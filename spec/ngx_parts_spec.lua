-- koodrive.transfer.ngx_parts: the parts engine over nginx cosockets, driven from a content
-- handler of a real Debian nginx (one worker, LuaJIT) against that same nginx: dav_methods PUT
-- stores bodies, static GET serves Range, limit_rate slows transfers, and Lua locations play
-- hostile peers (resets mid-body, short bodies, oversized headers, a stalled answer, a 200 to
-- a ranged request, a wrong Content-Range). Engine and peers share the worker, so every case
-- that finishes also shows the engine never blocked it. This file only starts processes and
-- makes HTTP requests with LuaSocket, so any interpreter runs it.
local json = require "koodrive.json"
local nginx = require "support.nginx"
local sys = require "support.sys"

local HANDLERS = [==[
local ngx_parts = require "koodrive.transfer.ngx_parts"
local cjson = require "cjson.safe"

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
  local r = drain(e)
  e:close()
  return { results = r, ri = read(dir() .. "/ri"), rm = read(dir() .. "/rm"), long = read(dir() .. "/long") }
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
  local r = drain(e)
  e:close()
  return { results = r }
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
  local last, monotonic, max_running = 0, true, 0
  out.results = drain(e, function()
    max_running = math.max(max_running, e:running())
    local p = e:progress()
    if p < last then monotonic = false end
    last = p
  end)
  out.monotonic, out.max_running, out.progress = monotonic, max_running, e:progress()
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
  e:add { id = 8, method = "PUT", url = base() .. "/h/reset_put", path = dir() .. "/big.bin", offset = 0,
    size = 4 * 1024 * 1024 }
  get(9, "/h/close_delimited")                       -- no length: the body ends with the connection
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
]==]

local CONF = [[
@MODULES@
@USER@
daemon off;
master_process on;
worker_processes 1;
pid @PREFIX@/logs/nginx.pid;
error_log @PREFIX@/logs/error.log info;
events { worker_connections 256; }
http {
  access_log off;
  @TEMP_PATHS@
  lua_package_path "@LUA_PATH@";
  lua_package_cpath "@LUA_CPATH@";
  lua_ssl_trusted_certificate @PREFIX@/trusted.pem;
  lua_socket_log_errors off;
  server {
    listen 127.0.0.1:@PORT@;
    client_max_body_size 0;
    location /run/ { content_by_lua_block { require("parts_test").run() } }
    location /h/ { content_by_lua_block { require("parts_test").hostile() } }
    location /store/ { root @PREFIX@/www; dav_methods PUT; create_full_put_path on; }
    location /slow/ { alias @PREFIX@/www/store/; limit_rate 400k; }
    location /norange/ { alias @PREFIX@/www/store/; max_ranges 0; }
    location = /e403 { return 403 "denied here"; }
    location = /e500 { return 500 "oops"; }
    location = /headers {
      content_by_lua_block {
        ngx.req.read_body()
        local names = {}
        for k in pairs(ngx.req.get_headers()) do names[#names + 1] = k end
        table.sort(names)
        ngx.status = 403
        ngx.print(table.concat(names, ","))
      }
    }
    location = /badrange {
      content_by_lua_block {
        ngx.status = 206
        ngx.header["Content-Range"] = "bytes 0-9/100"
        ngx.print(("x"):rep(10))
      }
    }
  }
  server {
    listen 127.0.0.1:@PORT2@ ssl;
    ssl_certificate @PREFIX@/trusted.pem;
    ssl_certificate_key @PREFIX@/trusted.key;
    location /store/ { root @PREFIX@/www; }
  }
  server {
    listen 127.0.0.1:@PORT3@ ssl;
    ssl_certificate @PREFIX@/rogue.pem;
    ssl_certificate_key @PREFIX@/rogue.key;
    location /store/ { root @PREFIX@/www; }
  }
}
]]

local SIZE = 20 * 1024 * 1024 + 12345
local srv, dir

local function sha(path) return sys.capture("sha256sum " .. sys.quote(path)):match("^(%x+)") end
local function slice_sha(path, offset, size)
  return sys.capture(string.format("tail -c +%d %s 2>/dev/null | head -c %d | sha256sum", offset + 1,
    sys.quote(path), size)):match("^(%x+)")
end

-- Runs a case in nginx; its decoded result.
local function run(case, query)
  local status, _, body = nginx.get(srv.port, "/run/" .. case .. (query and ("?" .. query) or ""), 60)
  assert(status == 200, "case " .. case .. ": " .. tostring(status) .. " " .. tostring(body))
  return assert(json.decode(body))
end

local function by_id(list)
  local t = {}
  for _, r in ipairs(list) do t[r.id] = r end
  return t
end

setup(function()
  local ok, why = nginx.available()
  if not ok then error(why) end
  local certs = os.tmpname()
  os.remove(certs)
  sys.run("mkdir -p " .. sys.quote(certs))
  local files = { ["lua/parts_test.lua"] = HANDLERS, ["www/store/d1"] = ("0123456789"):rep(10),
    ["www/store/d2"] = ("z"):rep(300000) }
  for _, name in ipairs { "trusted", "rogue" } do
    sys.run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout " ..
      sys.quote(certs .. "/" .. name .. ".key") .. " -out " .. sys.quote(certs .. "/" .. name .. ".pem") ..
      " >/dev/null 2>&1")
    files[name .. ".pem"] = sys.read(certs .. "/" .. name .. ".pem")
    files[name .. ".key"] = sys.read(certs .. "/" .. name .. ".key")
  end
  sys.run("rm -rf " .. sys.quote(certs))
  srv = nginx.start { conf = CONF, files = files, ports = 3 }
  dir = srv.dir
  sys.run(string.format("head -c %d /dev/urandom > %s", SIZE, sys.quote(dir .. "/big.bin")))
end)

teardown(function() if srv then srv.stop() end end)

describe("koodrive.transfer.ngx_parts (cosockets, in a content handler)", function()
  it("PUTs the parts of a 20 MiB file with concurrency 4, byte-exact", function()
    local out = run("putparts", "size=" .. SIZE)
    local ps = 5 * 1024 * 1024
    local n = math.ceil(SIZE / ps)
    assert.are.equal(n, out.pending)
    assert.is_true(out.max_running <= 4 and out.max_running >= 2)
    local r = by_id(out.results)
    for i = 1, n do
      assert.is_nil(r[i].error)
      assert.is_true(r[i].status == 201 or r[i].status == 204, tostring(r[i].status))
      local off = (i - 1) * ps
      assert.are.equal(math.min(ps, SIZE - off), r[i].bytes)
      assert.are.equal(slice_sha(dir .. "/big.bin", off, r[i].bytes), sha(dir .. "/www/store/p" .. i))
    end
    assert.are.equal(SIZE, out.progress)
  end)

  it("sends only Host and Content-Length with a PUT, Host (and Range) with a GET", function()
    local out = run("headers")
    local r = by_id(out.results)
    assert.are.equal(403, r[1].status)
    assert.are.equal("content-length,host", r[1].body)
    assert.are.equal("host", r[2].body)
    assert.are.equal("host,range", r[3].body)
    assert.are.equal("", out.h2) -- a non-2xx body never goes to the file
  end)

  it("PUTs slices of a Lua string (data =) and refuses what the C engine refuses", function()
    local out = run("data")
    for _, r in ipairs(out.results) do assert.is_nil(r.error) end
    local s = ("0123456789"):rep(1000) .. "tail"
    assert.are.equal(s:sub(1, 4000), sys.read(dir .. "/www/store/dd1"))
    assert.are.equal(s:sub(4001), sys.read(dir .. "/www/store/dd2"))
    assert.are.equal("", sys.read(dir .. "/www/store/dd3"))
    assert.is_false(out.past_end_accepted)
    assert.is_false(out.zero_range_accepted)
  end)

  it("GETs a file in 4 ranged pieces written at their offsets", function()
    local out = run("rangedget", "size=" .. SIZE)
    assert.is_nil(out.put.error)
    for i, r in ipairs(out.results) do
      assert.is_nil(r.error)
      assert.are.equal(206, r.status)
      assert.matches("^bytes " .. (i - 1) * out.piece .. "%-", r.content_range)
    end
    assert.are.equal(sha(dir .. "/big.bin"), sha(dir .. "/got.bin"))
    assert.are.equal(2 * SIZE, out.progress + SIZE) -- the GETs' bytes (the PUT had its own engine)
  end)

  it("reports range_ignored, range_mismatch and a body longer than asked, writing nothing", function()
    local out = run("ranges")
    local r = by_id(out.results)
    assert.are.equal(200, r[1].status)
    assert.are.equal("range_ignored", r[1].error.reason)
    assert.are.equal(0, r[1].bytes)
    assert.are.equal("", out.ri)
    assert.are.equal("range_mismatch", r[2].error.reason)
    assert.are.equal("", out.rm)
    assert.are.equal("range_mismatch", r[3].error.reason) -- 100 bytes came for size = 10
    assert.are.equal("", out.long)
  end)

  it("reports 403 and 500 with their bodies (capped) and leaves the file untouched", function()
    local out = run("errors")
    local r = by_id(out.results)
    assert.are.equal(403, r[1].status)
    assert.are.equal("denied", r[1].body)
    assert.is_nil(r[1].error)
    assert.are.equal(500, r[2].status)
    assert.are.equal("oops", r[2].body)
    assert.are.equal("original", out.keep)
  end)

  it("reports reason write for an unopenable path, read for a short or missing source", function()
    local r = by_id(run("files", "size=" .. SIZE).results)
    assert.are.equal("write", r[1].error.reason)
    assert.matches("No such file", r[1].error.message)
    assert.are.equal("read", r[2].error.reason)
    assert.are.equal(10, r[2].bytes)
    assert.are.equal("read", r[3].error.reason)
    assert.matches("No such file", r[3].error.message)
  end)

  it("reports connect for a refused connection, transport for a URL it cannot use", function()
    local r = by_id(run("connect", "port=" .. nginx.free_port()).results)
    assert.are.equal("connect", r[1].error.reason)
    assert.are.equal(0, r[1].status)
    assert.are.equal("transport", r[2].error.reason)
  end)

  it("runs at most `concurrency` at once, FIFO; poll(0) does not wait; cancel; progress", function()
    local out = run("fifo")
    assert.are.equal(0, out.running_before) -- queued until poll starts them, as in C
    assert.are.same({}, out.first)
    assert.are.equal(2, out.running)
    assert.are.equal(5, out.pending)
    assert.is_true(out.cancel_queued)
    assert.is_true(out.cancel_running)
    assert.is_false(out.cancel_unknown)
    assert.are.equal(3, out.pending_after)
    assert.is_true(out.max_running <= 2)
    assert.is_true(out.monotonic)
    local ids = {}
    for _, r in ipairs(out.results) do
      ids[#ids + 1] = r.id
      assert.is_nil(r.error)
      assert.are.equal(300000, r.bytes)
    end
    assert.are.same({ 2, 3, 4 }, ids)
    assert.is_true(out.progress >= 900000)
  end)

  it("closes with transfers in flight; use after close is an error; bad options raise", function()
    local out = run("close")
    assert.is_true(out.progress > 0)
    assert.are.equal(2, out.running)
    assert.matches("attempt to use a closed parts engine", out.poll_error)
    assert.matches("attempt to use a closed parts engine", out.add_error)
    assert.is_true(out.bad_concurrency)
    assert.is_true(out.bad_timeout)
  end)

  it("survives hostile peers: resets, short bodies, huge headers, stalls, garbage, chunked", function()
    local out = run("hostile")
    if os.getenv("KD_DEBUG") then print(json.encode(out)) end
    local r = by_id(out.results)
    assert.are.equal("reset", r[1].error.reason)
    assert.are.equal(500, r[1].bytes)
    assert.are.equal("reset", r[2].error.reason)
    assert.are.equal(50, r[2].bytes)
    assert.are.equal("too_large", r[3].error.reason)
    assert.are.equal("timeout", r[4].error.reason)
    assert.is_nil(r[5].error)
    assert.are.equal(26, r[5].bytes)
    assert.are.equal("abcdefghijklmnopqrstuvwxyz", out.chunked)
    assert.are.equal("transport", r[6].error.reason)
    assert.are.equal("reset", r[7].error.reason)
    assert.are.equal("reset", r[8].error.reason)
    assert.is_true(r[8].bytes < 4 * 1024 * 1024)
    assert.is_nil(r[9].error)
    assert.are.equal("until the end", out.close_delimited)
  end)

  it("verifies TLS against nginx's trusted certificates unless insecure", function()
    local out = run("tls", "trusted=" .. srv.ports[2] .. "&rogue=" .. srv.ports[3])
    local v, i = by_id(out.verified), by_id(out.insecure)
    assert.is_nil(v[1].error)
    assert.are.equal(200, v[1].status)
    assert.are.equal("tls", v[2].error.reason)
    assert.is_nil(i[1].error)
    assert.is_nil(i[2].error)
    assert.are.equal(("0123456789"):rep(10), out.file)
  end)
end)
