-- OpenResty: koodrive.batch, the bulk helpers and koodrive.spawn/wait run their calls
-- concurrently on nginx's light threads (over cosockets, with the default transport), retry
-- backoff waits on ngx.sleep without holding the worker, and a host name nginx's resolver
-- cannot answer ends within the call's own timeout as a `timeout` error.
-- Debian's nginx + libnginx-mod-http-lua with one worker (see spec/support/nginx.lua), the
-- local service answering every call 1 s late; this file only starts processes and makes
-- HTTP requests with LuaSocket.
local socket = require "socket"
local cjson = require "cjson"
local nginx = require "support.nginx"
local timing = require "support.timing"
local faults = require "support.faults"
local sys = require "support.sys"
local local_service = require "local_service"

local HANDLERS = [==[
local koodrive = require "koodrive"
local has_scheduler, scheduler = pcall(require, "koodrive.scheduler")
local cjson = require "cjson.safe"
local creds = require "local_credentials"

local unpack = table.unpack or unpack
local M = {}
local SERVICE

function M.init(service) SERVICE = service end

local function client(args, extra)
  local config = { endpoint = args.endpoint or SERVICE, user_id = creds.koodrive.user_id,
    token = "local-token-alice", timeout = tonumber(args.timeout) or 10, retries = false }
  if args.via == "cosocket" then config.transport = koodrive.transport.ngx { backend = "cosocket" } end
  for k, v in pairs(extra or {}) do config[k] = v end
  return assert(koodrive.new(config))
end

local function now() ngx.update_time() return ngx.now() end

local function errors_of(list)
  local out = {}
  for _, e in ipairs(list) do out[#out + 1] = tostring(e) end
  return out
end

local routes = {}

function routes.batch(args)
  local c = client(args)
  local t0 = now()
  local results = koodrive.batch({ 1, 2, 3, 4 }, function() return c.devices:list() end, { concurrency = 4 })
  local elapsed = now() - t0
  local ok, errs = 0, {}
  for _, r in ipairs(results) do
    if type(r[1]) == "table" then ok = ok + 1 else errs[#errs + 1] = r[2] end
  end
  return { ok = ok, errors = errors_of(errs), elapsed = elapsed, scheduler = has_scheduler and scheduler.current().name or "none" }
end

function routes.spawn(args)
  local c = client(args)
  local t0 = now()
  local function work()
    local hs = {}
    for i = 1, 4 do hs[i] = koodrive.spawn(function() return c.devices:list() end) end
    koodrive.wait(unpack(hs))
    return hs
  end
  local hs = args.run == "1" and koodrive.run(work) or work()
  local elapsed = now() - t0
  local ok, errs = 0, {}
  for _, h in ipairs(hs) do
    if h.done and type(h.result) == "table" then ok = ok + 1 else errs[#errs + 1] = h.err or h.error end
  end
  return { ok = ok, errors = errors_of(errs), elapsed = elapsed }
end

function routes.bulk(args)
  local c = client(args)
  local t0 = now()
  local out = c.devices:unbind_many({ "1000000000000000001", "1000000000000000002",
    "1000000000000000003", "1000000000000000004" }, { concurrency = 4 })
  return { accounted = #out.done + #out.failed, elapsed = now() - t0 }
end

function routes.spawnerror()
  local h = koodrive.spawn(function() error("light thread exploded") end)
  local ok, err = pcall(koodrive.wait, h)
  return { ok = ok, message = tostring(err), done = h.done }
end

function routes.retry(args)
  local c = client(args, { retries = { max_attempts = 2 } })
  local t0 = now()
  local list, err = c.devices:list()
  return { ok = list ~= nil, message = err and tostring(err), elapsed = now() - t0 }
end

function routes.ping() return { ok = true, at = now() } end

function routes.resolve(args)
  local c = client(args)
  local t0 = now()
  local list, err = c.devices:list()
  return { ok = list ~= nil, kind = err and err.kind, reason = err and err.reason,
    message = err and err.message, elapsed = now() - t0 }
end

function M.handle()
  local name = ngx.var.uri:match("^/%w+/(%w+)$")
  local route = routes[name]
  if not route then return ngx.exit(404) end
  ngx.header.content_type = "application/json"
  ngx.say(cjson.encode(route(ngx.req.get_uri_args())))
end

return M
]==]

-- A DNS server that answers every A query with 127.0.0.1 (run as its own process, since
-- this one blocks in its HTTP requests): argv[1] is the file it writes its UDP port to.
local DNS_STUB = [==[
local socket = require "socket"
local u = assert(socket.udp())
assert(u:setsockname("127.0.0.1", 0))
local _, port = u:getsockname()
local f = assert(io.open(arg[1], "w"))
f:write(port)
f:close()
while true do
  local q, ip, p = u:receivefrom()
  if q and #q >= 17 then
    local i = 13
    while i <= #q and q:byte(i) ~= 0 do i = i + q:byte(i) + 1 end
    local qtype = (q:byte(i + 1) or 0) * 256 + (q:byte(i + 2) or 0)
    local answer = qtype == 1 and "\192\12\0\1\0\1\0\0\0\60\0\4\127\0\0\1" or ""
    u:sendto(q:sub(1, 2) .. "\129\128\0\1\0" .. string.char(#answer > 0 and 1 or 0) .. "\0\0\0\0" ..
      q:sub(13, i + 4) .. answer, ip, p)
  end
end
]==]

local CONF = [[
@MAIN@
events { worker_connections 256; }
http {
  access_log off;
  @TEMP_PATHS@
  lua_package_path "@LUA_PATH@";
  lua_package_cpath "@LUA_CPATH@";
  # A resolver that never answers (a UDP port the spec holds open and never reads).
  resolver 127.0.0.1:@DNS_PORT@ ipv6=off;
  resolver_timeout 30s;
  init_by_lua_block { require("kd_conc").init("@SERVICE@") }
  server {
    listen 127.0.0.1:@PORT@;
    location /kd/ { content_by_lua_block { require("kd_conc").handle() } }
    location /resolved/ {
      resolver 127.0.0.1:@DNS_STUB_PORT@ ipv6=off;
      content_by_lua_block { require("kd_conc").handle() }
    }
  }
}
]]

local service, srv, dns, stub

-- Starts DNS_STUB with the interpreter of the local service; returns { port, stop }.
local function start_dns_stub()
  local dir = os.tmpname()
  os.remove(dir)
  sys.run("mkdir -p " .. sys.quote(dir))
  sys.write(dir .. "/dns.lua", DNS_STUB)
  local lua = os.getenv("KOODRIVE_SERVER_LUA") or "lua5.4"
  local pid = tonumber(sys.capture("sh -c " .. sys.quote(lua .. " " .. sys.quote(dir .. "/dns.lua") .. " " ..
    sys.quote(dir .. "/port") .. " >/dev/null 2>&1 & echo $!")):match("(%d+)"))
  local port
  for _ = 1, 200 do
    port = tonumber(sys.read(dir .. "/port") or "")
    if port then break end
    socket.sleep(0.02)
  end
  assert(port, "the DNS stub did not start")
  return { port = port, stop = function()
    os.execute("kill " .. pid .. " 2>/dev/null")
    os.execute("rm -rf " .. sys.quote(dir))
  end }
end

local function timed_get(path)
  local t0 = socket.gettime()
  local status, _, body = nginx.get(srv.port, path, 40)
  local elapsed = socket.gettime() - t0
  assert(status == 200, "GET " .. path .. " -> " .. tostring(status) .. ": " .. tostring(body) ..
    "\n" .. srv.log():sub(-3000))
  return cjson.decode(body), elapsed
end

setup(function()
  local ok, why = nginx.available()
  assert(ok, why)
  service = local_service.start()
  dns = assert(socket.udp())
  assert(dns:setsockname("127.0.0.1", 0))
  local _, dns_port = dns:getsockname()
  stub = start_dns_stub()
  srv = nginx.start { conf = CONF, files = { ["lua/kd_conc.lua"] = HANDLERS },
    vars = { SERVICE = service.url, DNS_PORT = dns_port, DNS_STUB_PORT = stub.port } }
end)

teardown(function()
  if srv then srv.stop() end
  if service then service.stop() end
  if dns then dns:close() end
  if stub then stub.stop() end
end)

after_each(function() service.control("/_local/reset") end)

describe("OpenResty concurrency (one worker, calls answered 1 s late)", function()
  before_each(function() assert.are.equal(200, service.control("/_local/delay?ms=1000")) end)

  for _, via in ipairs { "default", "cosocket" } do
    it("koodrive.batch runs 4 calls of 1 s on light threads in well under 4 s (" .. via .. " transport)", function()
      local r, elapsed = timed_get("/kd/batch?via=" .. via)
      assert.are.equal(4, r.ok, table.concat(r.errors, "; "))
      assert.is_true(r.elapsed >= 0.95, "answered before the service's delay: " .. r.elapsed)
      assert.is_true(r.elapsed < timing.limit(2.5), string.format("4 calls took %.2f s", r.elapsed))
      assert.are.equal("ngx", r.scheduler)
      assert.is_true(elapsed < timing.limit(3))
      print(string.format("\n  [openresty] batch of 4 calls of 1 s (%s): %.2f s", via, r.elapsed))
    end)
  end

  it("koodrive.spawn/wait in a handler, without koodrive.run, run 4 calls concurrently", function()
    local r = timed_get("/kd/spawn")
    assert.are.equal(4, r.ok, table.concat(r.errors, "; "))
    assert.is_true(r.elapsed >= 0.95)
    assert.is_true(r.elapsed < timing.limit(2.5), string.format("4 calls took %.2f s", r.elapsed))
  end)

  it("koodrive.run in a handler spawns light threads too", function()
    local r = timed_get("/kd/spawn?run=1")
    assert.are.equal(4, r.ok, table.concat(r.errors, "; "))
    assert.is_true(r.elapsed < timing.limit(2.5), string.format("4 calls took %.2f s", r.elapsed))
  end)

  it("a bulk helper (unbind_many, concurrency 4) accounts for every id in well under 4 s", function()
    local r = timed_get("/kd/bulk")
    assert.are.equal(4, r.accounted)
    assert.is_true(r.elapsed < timing.limit(2.5), string.format("4 calls took %.2f s", r.elapsed))
  end)
end)

describe("OpenResty light-thread tasks", function()
  it("an error in a spawned task is raised again by koodrive.wait", function()
    local r = timed_get("/kd/spawnerror")
    assert.is_false(r.ok)
    assert.is_true(r.done)
    assert.matches("light thread exploded", r.message)
  end)
end)

describe("OpenResty retry backoff", function()
  it("waits on ngx.sleep: another request to the same worker is answered meanwhile", function()
    local n0 = faults.count(service)
    faults.arm(service, "429", { count = 1, retry_after = 2 })
    local t0 = socket.gettime()
    local slow = nginx.send_get(srv.port, "/kd/retry", 20)
    socket.sleep(0.4) -- the first attempt has been refused; the call waits >= 2 s to retry
    local ping, ping_time = timed_get("/kd/ping")
    assert.is_true(ping.ok)
    assert.is_true(ping_time < timing.limit(0.5), string.format("a request during the backoff took %.2f s", ping_time))
    local status, _, body = nginx.read_answer(slow)
    local total = socket.gettime() - t0
    assert.are.equal(200, status, body)
    local r = cjson.decode(body)
    assert.is_true(r.ok, r.message)
    assert.is_true(r.elapsed >= 2, "the retry did not wait for Retry-After: " .. r.elapsed)
    assert.is_true(total < timing.limit(6))
    assert.are.equal(2, faults.count(service) - n0)
  end)
end)

describe("OpenResty name resolution", function()
  for _, via in ipairs { "default", "cosocket" } do
    it("a host name the resolver answers connects (twice: new, then pooled) (" .. via .. ")", function()
      local endpoint = "http://koodrive-service.test:" .. service.port
      for _ = 1, 2 do
        local r = timed_get("/resolved/resolve?via=" .. via .. "&endpoint=" .. endpoint)
        assert.is_true(r.ok, r.message)
      end
    end)
  end

  for _, via in ipairs { "default", "cosocket" } do
    it("a host name the resolver never answers ends as a timeout within timeout = 2 (" .. via .. ")", function()
      local r, elapsed = timed_get("/kd/resolve?timeout=2&via=" .. via ..
        "&endpoint=http://koodrive-unanswered.invalid:" .. nginx.free_port())
      assert.is_false(r.ok)
      assert.are.equal("timeout", r.kind, r.message)
      assert.matches("name resolution", r.message)
      assert.is_true(r.elapsed >= 1.9, "ended before the timeout: " .. r.elapsed)
      assert.is_true(elapsed < timing.limit(5), string.format("took %.2f s (nginx's resolver_timeout is 30 s)", elapsed))
    end)
  end
end)
