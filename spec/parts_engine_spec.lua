-- curl.parts: the C engine of part PUTs and ranged GETs to presigned URLs
-- (koodrive-transfer-api.md sections 4 and 6.2), against a real Debian nginx on 127.0.0.1:
-- dav_methods PUT stores bodies to files, static GET serves Range, limit_rate slows
-- connections so that transfers overlap, Lua locations answer what nginx alone would not.
local curl = require "koodrive.curl"
local failures = require "koodrive.transport.failures"
local nginx = require "support.nginx"
local socket = require "socket"

local CONF = [[
@MAIN@
events { worker_connections 256; }
http {
  access_log off;
  @TEMP_PATHS@
  server {
    listen 127.0.0.1:@PORT@;
    client_max_body_size 0;
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
    location = /longrange {
      content_by_lua_block {
        ngx.status = 206
        ngx.header["Content-Range"] = "bytes 5-14/100"
        ngx.print(("y"):rep(30))
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
}
]]

local srv, dir, big, big_sha
local SIZE = 20 * 1024 * 1024 + 12345

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

local function sha(path) return sh("sha256sum " .. path):match("^(%x+)") end
local function slice_sha(path, offset, size)
  return sh(string.format("tail -c +%d %s 2>/dev/null | head -c %d | sha256sum", offset + 1, path, size))
    :match("^(%x+)")
end
local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Polls until nothing is pending (bounded); returns the results by id.
local function drain(e, seconds, on_step)
  local by_id, deadline = {}, socket.gettime() + (seconds or 20)
  while e:pending() > 0 do
    assert(socket.gettime() < deadline, "transfers did not finish in time")
    for _, r in ipairs(e:poll(0.05)) do by_id[r.id] = r end
    if on_step then on_step() end
  end
  return by_id
end

setup(function()
  local ok, why = nginx.available()
  if not ok then error(why) end
  srv = nginx.start { conf = CONF, files = { ["www/store/.keep"] = "" } }
  dir = srv.dir
  big = dir .. "/big.bin"
  assert(os.execute(string.format("head -c %d /dev/urandom > %s", SIZE, big)))
  big_sha = sha(big)
end)

teardown(function() if srv then srv.stop() end end)

describe("curl.parts", function()
  it("PUTs the parts of a 20 MiB file with concurrency 4, byte-exact", function()
    local e = curl.parts { concurrency = 4 }
    local ps = 5 * 1024 * 1024
    local n = math.ceil(SIZE / ps)
    for i = 1, n do
      local off = (i - 1) * ps
      e:add { id = i, method = "PUT", url = srv.url .. "/store/p" .. i, path = big, offset = off,
        size = math.min(ps, SIZE - off) }
    end
    assert.are.equal(n, e:pending())
    local max_running = 0
    local results = drain(e, 30, function() max_running = math.max(max_running, e:running()) end)
    assert.is_true(max_running <= 4)
    for i = 1, n do
      local r = results[i]
      assert.is_nil(r.error)
      assert.is_true(r.status == 201 or r.status == 204, tostring(r.status))
      local off = (i - 1) * ps
      assert.are.equal(math.min(ps, SIZE - off), r.bytes)
      assert.are.equal(slice_sha(big, off, r.bytes), sha(dir .. "/www/store/p" .. i))
    end
    assert.are.equal(SIZE, e:progress())
    e:close()
  end)

  it("sends only Host and Content-Length with a PUT, Host (and Range) with a GET", function()
    local e = curl.parts { concurrency = 2 }
    e:add { id = 1, method = "PUT", url = srv.url .. "/headers", data = "hello", offset = 0, size = 5 }
    e:add { id = 2, method = "GET", url = srv.url .. "/headers", path = dir .. "/h2", offset = 0 }
    e:add { id = 3, method = "GET", url = srv.url .. "/headers", path = dir .. "/h3", offset = 3,
      size = 4, range = true }
    local r = drain(e)
    assert.are.equal(403, r[1].status)
    assert.are.equal("content-length,host", r[1].body)
    assert.are.equal("host", r[2].body)
    assert.are.equal("host,range", r[3].body)
    assert.are.equal("", read(dir .. "/h2")) -- a non-2xx body never goes to the file
    e:close()
  end)

  it("carries nothing of one transfer into the next on a kept handle (concurrency 1)", function()
    -- One handle does every transfer here, in turn: a range, a PUT, a refusal or a cancel
    -- before must leave no trace on what comes after.
    local e = curl.parts { concurrency = 1 }
    local function one(t)
      e:add(t)
      return drain(e)[t.id]
    end
    assert.are.equal(201, one { id = 1, method = "PUT", url = srv.url .. "/store/ru1", data = "hello world",
      offset = 0, size = 11 }.status)
    local r = one { id = 2, method = "GET", url = srv.url .. "/headers", path = dir .. "/ru-h1", offset = 3,
      size = 4, range = true }
    assert.are.equal("host,range", r.body)
    r = one { id = 3, method = "GET", url = srv.url .. "/headers", path = dir .. "/ru-h2", offset = 0 }
    assert.are.equal("host", r.body) -- no Range left over
    r = one { id = 4, method = "GET", url = srv.url .. "/store/ru1", path = dir .. "/ru-a", offset = 0 }
    assert.are.same({ 200, "hello world" }, { r.status, read(dir .. "/ru-a") })
    r = one { id = 5, method = "PUT", url = srv.url .. "/headers", data = "abc", offset = 0, size = 3 }
    assert.are.same({ 403, "content-length,host" }, { r.status, r.body })
    r = one { id = 6, method = "GET", url = srv.url .. "/headers", path = dir .. "/ru-h3", offset = 0 }
    assert.are.equal("host", r.body) -- a GET again, with no body and no Content-Length
    r = one { id = 7, method = "PUT", url = srv.url .. "/store/ru2", path = big, offset = 1000, size = 4194304 }
    assert.is_nil(r.error)
    assert.are.equal(slice_sha(big, 1000, 4194304), sha(dir .. "/www/store/ru2"))
    e:add { id = 8, method = "GET", url = srv.url .. "/slow/ru2", path = dir .. "/ru-x", offset = 0 } -- ~10 s
    e:poll(0.05)
    assert.are.equal(1, e:running())
    assert.is_true(e:cancel(8))
    r = one { id = 9, method = "GET", url = srv.url .. "/e403", path = dir .. "/ru-b", offset = 0 }
    assert.are.same({ 403, "denied here" }, { r.status, r.body })
    r = one { id = 10, method = "GET", url = srv.url .. "/store/ru1", path = dir .. "/ru-c", offset = 6,
      size = 5, range = true }
    assert.are.same({ 206, "world" }, { r.status, read(dir .. "/ru-c"):sub(7) })
    assert.is_nil(r.error)
    e:close()
  end)

  it("PUTs slices of a Lua string (data =)", function()
    local data = ("0123456789"):rep(1000) .. "tail"
    local e = curl.parts { concurrency = 3 }
    e:add { id = 1, method = "PUT", url = srv.url .. "/store/d1", data = data, offset = 0, size = 4000 }
    e:add { id = 2, method = "PUT", url = srv.url .. "/store/d2", data = data, offset = 4000,
      size = #data - 4000 }
    e:add { id = 3, method = "PUT", url = srv.url .. "/store/d3", data = data, offset = 0, size = 0 }
    data = nil -- luacheck: ignore
    collectgarbage()
    local r = drain(e)
    for i = 1, 3 do assert.is_nil(r[i].error) end
    local s = ("0123456789"):rep(1000) .. "tail"
    assert.are.equal(s:sub(1, 4000), read(dir .. "/www/store/d1"))
    assert.are.equal(s:sub(4001), read(dir .. "/www/store/d2"))
    assert.are.equal("", read(dir .. "/www/store/d3"))
    assert.has_error(function()
      e:add { id = 4, method = "PUT", url = srv.url .. "/x", data = "abc", offset = 2, size = 5 }
    end)
    e:close()
  end)

  it("GETs a file in 4 ranged pieces written at their offsets", function()
    local e = curl.parts { concurrency = 4 }
    local out = dir .. "/got.bin"
    local piece = math.ceil(SIZE / 4)
    for i = 1, 4 do
      local off = (i - 1) * piece
      e:add { id = i, method = "GET", url = srv.url .. "/store/whole", path = out, offset = off,
        size = i < 4 and piece or nil, range = true }
    end
    -- the whole file first, by PUT
    local up = curl.parts { concurrency = 1 }
    up:add { id = 1, method = "PUT", url = srv.url .. "/store/whole", path = big, offset = 0, size = SIZE }
    assert.is_nil(drain(up)[1].error)
    up:close()
    local r = drain(e)
    for i = 1, 4 do
      assert.is_nil(r[i].error)
      assert.are.equal(206, r[i].status)
      assert.matches("^bytes " .. (i - 1) * piece .. "%-", r[i].content_range)
    end
    assert.are.equal(big_sha, sha(out))
    assert.are.equal(SIZE, e:progress())
    e:close()
  end)

  it("reports range_ignored for a 200 to a ranged request past 0, writing nothing", function()
    local e = curl.parts { concurrency = 2 }
    e:add { id = 1, method = "GET", url = srv.url .. "/norange/d1", path = dir .. "/ri", offset = 100,
      size = 50, range = true }
    local r = drain(e)[1]
    assert.are.equal(200, r.status)
    assert.are.equal("range_ignored", r.error.reason)
    assert.are.equal(0, r.bytes)
    assert.are.equal("", read(dir .. "/ri"))
    e:add { id = 2, method = "GET", url = srv.url .. "/badrange", path = dir .. "/rm", offset = 5,
      size = 10, range = true }
    r = drain(e)[2]
    assert.are.equal("range_mismatch", r.error.reason)
    assert.are.equal("", read(dir .. "/rm"))
    e:close()
  end)

  it("never writes past the range asked: a 206 longer than its range, a 200 from 0", function()
    local e = curl.parts { concurrency = 2 }
    e:add { id = 1, method = "GET", url = srv.url .. "/longrange", path = dir .. "/lr", offset = 5,
      size = 10, range = true }
    local r = drain(e)[1]
    assert.are.equal("range_mismatch", r.error.reason)
    assert.matches("longer than the 10 bytes asked", r.error.message)
    assert.is_true(#(read(dir .. "/lr") or "") <= 15)
    -- A store without Range support answers a range from 0 with the whole file: range_ignored
    -- (the download restarts in one GET), and no byte past the range is written.
    e:add { id = 2, method = "GET", url = srv.url .. "/norange/d1", path = dir .. "/r0", offset = 0,
      size = 50, range = true }
    r = drain(e)[2]
    assert.are.equal(200, r.status)
    assert.are.equal("range_ignored", r.error.reason)
    assert.is_true(#(read(dir .. "/r0") or "") <= 50, #(read(dir .. "/r0") or "") .. " bytes written")
    e:close()
  end)

  it("reports 403 and 500 with their bodies and leaves the file untouched", function()
    local f = assert(io.open(dir .. "/keep", "wb"))
    f:write("original")
    f:close()
    local e = curl.parts { concurrency = 2, max_error_body = 6 }
    e:add { id = 1, method = "GET", url = srv.url .. "/e403", path = dir .. "/keep", offset = 0 }
    e:add { id = 2, method = "PUT", url = srv.url .. "/e500", data = "abc", offset = 0, size = 3 }
    local r = drain(e)
    assert.are.equal(403, r[1].status)
    assert.are.equal("denied", r[1].body) -- capped at max_error_body
    assert.is_nil(r[1].error)
    assert.are.equal(500, r[2].status)
    assert.are.equal("oops", r[2].body)
    assert.are.equal("original", read(dir .. "/keep"))
    e:close()
  end)

  it("reports reason write for ENOSPC, an unopenable path or a link, read for a short source", function()
    local e = curl.parts { concurrency = 3 }
    e:add { id = 1, method = "GET", url = srv.url .. "/store/d1", path = "/dev/full", offset = 0 }
    e:add { id = 2, method = "GET", url = srv.url .. "/store/d1", path = dir .. "/no/such/dir/f",
      offset = 0 }
    -- the source is shorter than the part (it shrank since the plan was made)
    e:add { id = 3, method = "PUT", url = srv.url .. "/store/short", path = big, offset = SIZE - 10,
      size = 100 }
    e:add { id = 4, method = "PUT", url = srv.url .. "/store/x", path = dir .. "/missing", offset = 0,
      size = 1 }
    -- a link planted at the file a GET writes: refused (O_NOFOLLOW), its target untouched
    local victim = assert(io.open(dir .. "/victim", "wb")); victim:write("mine"); victim:close()
    assert(os.execute("ln -sf " .. dir .. "/victim " .. dir .. "/planted"))
    e:add { id = 5, method = "GET", url = srv.url .. "/store/d1", path = dir .. "/planted", offset = 0 }
    local r = drain(e)
    assert.are.equal("write", r[5].error.reason)
    assert.matches("symbolic links", r[5].error.message)
    assert.are.equal("mine", read(dir .. "/victim"))
    assert.are.equal("write", r[1].error.reason)
    assert.matches("No space left", r[1].error.message)
    assert.are.equal("write", r[2].error.reason)
    assert.matches("No such file", r[2].error.message)
    assert.are.equal("read", r[3].error.reason)
    assert.are.equal(10, r[3].bytes)
    assert.are.equal("read", r[4].error.reason)
    e:close()
  end)

  it("maps libcurl codes to the reasons koodrive.transport.failures gives them", function()
    for _, entry in pairs(failures.CURL) do
      assert.are.equal(entry[2], curl.parts_reason(entry[1]))
    end
    assert.are.equal("reset", curl.parts_reason(56))
    local e = curl.parts { concurrency = 1, connect_timeout = 2 }
    e:add { id = 1, method = "GET", url = "http://127.0.0.1:" .. nginx.free_port() .. "/x",
      path = dir .. "/c", offset = 0 }
    local r = drain(e)[1]
    assert.are.equal("connect", r.error.reason)
    assert.are.equal(7, r.error.code)
    e:close()
  end)

  it("runs at most `concurrency` at once, FIFO; poll(0) does not block; cancel; progress", function()
    local e = curl.parts { concurrency = 2 }
    for i = 1, 5 do
      e:add { id = i, method = "GET", url = srv.url .. "/slow/p1", path = dir .. "/s" .. i,
        offset = 0, size = 300000, range = true }
    end
    local t0 = socket.gettime()
    assert.are.same({}, e:poll(0))
    assert.is_true(socket.gettime() - t0 < 0.05)
    assert.are.equal(2, e:running())
    assert.are.equal(5, e:pending())
    assert.is_true(e:cancel(5))  -- queued
    assert.is_true(e:cancel(1))  -- running
    assert.is_false(e:cancel(99))
    assert.are.equal(3, e:pending())
    local last, order, seen = 0, {}, {}
    local r = drain(e, 20, function()
      assert.is_true(e:running() <= 2)
      local p = e:progress()
      assert.is_true(p >= last)
      last = p
      -- a running transfer's own bytes so far (what the download's hashing thread follows)
      for id = 2, 4 do
        local n = e:progress(id)
        if n then
          assert.is_true(n >= (seen[id] or 0) and n <= 300000)
          seen[id] = n
        end
      end
    end)
    for id in pairs(r) do order[#order + 1] = id end
    table.sort(order)
    assert.are.same({ 2, 3, 4 }, order)
    for i = 2, 4 do assert.are.equal(300000, r[i].bytes) end
    assert.is_true(e:progress() >= 900000)
    assert.is_true((seen[2] or 0) > 0 and (seen[3] or 0) > 0, "no running transfer showed its bytes")
    assert.is_nil(e:progress(2)) -- finished: not running any more
    assert.is_nil(e:progress(99))
    e:close()
  end)

  it("in a forked child reports every transfer as forked; the parent carries on", function()
    local fork = require "support.fork"
    local e = curl.parts { concurrency = 1 }
    for i = 1, 2 do
      e:add { id = i, method = "GET", url = srv.url .. "/slow/p1", path = dir .. "/f" .. i,
        offset = 0, size = 200000, range = true }
    end
    e:poll(0.05)
    assert.are.equal(1, e:running())
    local text = fork.run(function()
      local got = {}
      for _, r in ipairs(e:poll(0)) do got[#got + 1] = r.id .. "=" .. r.error.reason end
      table.sort(got)
      local left = e:pending()
      e:close()
      return table.concat(got, ",") .. ";" .. left
    end)
    -- the running one and the queued one: the child must not send either
    assert.are.equal("1=forked,2=forked;0", text)
    local r = drain(e)
    assert.are.equal(200000, r[1].bytes)
    assert.are.equal(200000, r[2].bytes)
    e:close()
  end)

  it("closes with transfers in flight; use after close is an error", function()
    local e = curl.parts { concurrency = 2 }
    for i = 1, 3 do
      e:add { id = i, method = "GET", url = srv.url .. "/slow/p1", path = dir .. "/z" .. i, offset = 0 }
    end
    e:poll(0.1)
    assert.is_true(e:progress() > 0)
    e:close()
    e:close()
    assert.has_error(function() e:poll(0) end, "attempt to use a closed parts engine")
    assert.has_error(function() e:add { id = 1, method = "GET", url = "x", path = "y", offset = 0 } end)
    assert.has_error(function() curl.parts { concurrency = 0 } end)
    assert.has_error(function() e.add(nil, {}) end)
  end)
end)
