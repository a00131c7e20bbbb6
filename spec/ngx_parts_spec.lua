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
  lua_shared_dict parts 1m;
  server {
    listen 127.0.0.1:@PORT@;
    client_max_body_size 0;
    location /run/ { content_by_lua_block { require("support.ngx_parts_cases").run() } }
    location /h/ { content_by_lua_block { require("support.ngx_parts_cases").hostile() } }
    location /store/ { root @PREFIX@/www; dav_methods PUT; create_full_put_path on; }
    location /slow/ { alias @PREFIX@/www/store/; limit_rate 400k; }
    location /norange/ { alias @PREFIX@/www/store/; max_ranges 0; }
    location = /conn { return 200 "$connection $connection_requests"; }
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
    listen 127.0.0.1:@PORT4@;
    location /h/ { content_by_lua_block { require("support.ngx_parts_cases").hostile() } }
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
  local files = { ["www/store/d1"] = ("0123456789"):rep(10),
    ["www/store/d2"] = ("z"):rep(300000) }
  for _, name in ipairs { "trusted", "rogue" } do
    sys.run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout " ..
      sys.quote(certs .. "/" .. name .. ".key") .. " -out " .. sys.quote(certs .. "/" .. name .. ".pem") ..
      " >/dev/null 2>&1")
    files[name .. ".pem"] = sys.read(certs .. "/" .. name .. ".pem")
    files[name .. ".key"] = sys.read(certs .. "/" .. name .. ".key")
  end
  sys.run("rm -rf " .. sys.quote(certs))
  srv = nginx.start { conf = CONF, files = files, ports = 4, extra_lua_path = nginx.root .. "/spec/?.lua" }
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
    -- a range from 0 answered 200 with the whole file: the store ignored Range
    assert.are.equal(200, r[4].status)
    assert.are.equal("range_ignored", r[4].error.reason)
    assert.is_true(#(out.r0 or "") <= 50)
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

  it("reports reason write for an unopenable path or a link, read for a short or missing source", function()
    local out = run("files", "size=" .. SIZE)
    local r = by_id(out.results)
    assert.are.equal("write", r[4].error.reason)
    assert.matches("symbolic link", r[4].error.message)
    assert.are.equal("mine", out.victim)
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
    assert.is_true(out.own_seen > 0, "transfer 2 never showed its own bytes while running")
    assert.is_nil(out.own_after)
    assert.is_nil(out.own_unknown)
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

  it("reports every transfer once, and counts it as pending until then (polled as the flows poll)", function()
    local out = run("accounting")
    assert.are.same({ count = 24, once = true, late = 0 }, out)
  end)

  it("sends a part again on a new connection when its pooled one was dropped unanswered", function()
    local out = run("stale", "port=" .. srv.ports[4])
    local r = by_id(out.results)
    assert.is_nil(r[1].error)
    assert.is_nil(r[2].error)
    assert.are.equal(2, r[2].bytes)
    assert.are.equal("ok", out.body)
    assert.are.equal(1, out.dropped) -- the pooled connection was tried, and dropped
  end)

  it("keeps a connection alive for the next part only after an answer read to its end", function()
    local out = run("keepalive")
    local r = by_id(out.results)
    assert.is_nil(r[1].error)
    assert.are.equal("range_mismatch", r[3].error.reason)
    local c1, n1 = out.seen[1]:match("^(%d+) (%d+)$")
    local c2, n2 = out.seen[2]:match("^(%d+) (%d+)$")
    local c4 = out.seen[4]:match("^(%d+) %d+$")
    assert.are.equal(c1, c2) -- the same connection, its next request
    assert.are.equal(tonumber(n1) + 1, tonumber(n2))
    -- the stopped answer came on that connection too (the pool hands out the last one put
    -- back); it was closed, not pooled
    assert.are_not.equal(c1, c4)
  end)

  it("survives hostile peers: resets, short bodies, huge headers, stalls, garbage, bad framing", function()
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
    assert.is_true(r[8].bytes < 16 * 1024 * 1024, r[8].bytes .. " bytes handed over before the reset")
    assert.is_nil(r[9].error)
    assert.are.equal("until the end", out.close_delimited)
    assert.are.equal("transport", r[10].error.reason)
    assert.are.equal("transport", r[11].error.reason)
    assert.are.equal(0, r[11].bytes)
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
