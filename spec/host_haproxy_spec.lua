-- HAProxy 2.6 (Debian's haproxy, its Lua 5.3) running examples/haproxy/: Lua services that
-- call koodrive through koodrive.transport.haproxy() (core.tcp), against the local service
-- with its answers delayed 1 s. One HAProxy thread (nbthread 1), so a call that stalled the
-- process would hold up every other request: /ping (answered by HAProxy itself) and a Lua
-- service must answer while the slow calls are in flight.
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"
local sys = require "support.sys"
local timing = require "support.timing"
local socket = require "socket"
local cjson = require "cjson"

local HAPROXY = "/usr/sbin/haproxy"
local skip_why
if timing.slow then skip_why = "not under ASan/valgrind (the host is a program of its own)"
elseif not sys.succeeds("test -x " .. HAPROXY) then skip_why = "haproxy is not installed"
elseif not sys.succeeds("test -f build/5.3/koodrive/core.so") then skip_why = "build/5.3 is not built" end

local server, tls, dir, pid, port, log_file

-- Extra services for the spec only: a client with a short timeout (for a trickled answer)
-- and one sending https to a server it cannot verify (refused before anything is sent).
local SPEC_SERVICES = [[
-- luacheck: globals core
local koodrive = require "koodrive"
local json = require "cjson"
local function client(opts)
  local config = { endpoint = os.getenv("KOODRIVE_ENDPOINT"), user_id = os.getenv("KOODRIVE_USER_ID"),
    token = os.getenv("KOODRIVE_TOKEN"), transport = koodrive.transport.haproxy(), retries = false }
  for k, v in pairs(opts) do config[k] = v end
  return assert(koodrive.new(config))
end
local function reply(applet, body)
  local text = json.encode(body)
  applet:set_status(200)
  applet:add_header("content-length", #text)
  applet:start_response()
  applet:send(text)
end
local function outcome(list, err)
  if list then return { ok = true, count = #list } end
  return { ok = false, kind = err.kind, reason = err.reason, message = tostring(err) }
end
core.register_service("spec_short", "http", function(applet)
  local t0 = core.now()
  local out = outcome(client({ timeout = 0.5 }).devices:list())
  local t1 = core.now()
  out.elapsed = (t1.sec - t0.sec) + (t1.usec - t0.usec) / 1e6
  reply(applet, out)
end)
-- No transport given: the default (koodrive.transport.auto) must pick HAProxy's sockets.
core.register_service("spec_auto", "http", function(applet)
  local c = assert(koodrive.new { endpoint = os.getenv("KOODRIVE_ENDPOINT"), user_id = os.getenv("KOODRIVE_USER_ID"),
    token = os.getenv("KOODRIVE_TOKEN"), timeout = 10 })
  local out = outcome(c.devices:list())
  out.chosen = select(2, c._config.transport:current())
  reply(applet, out)
end)
-- HAProxy's own httpclient: the service's devices, then raw sends to the TLS endpoints.
core.register_service("spec_hc", "http", function(applet)
  local out = outcome(client({ transport = koodrive.transport.haproxy { backend = "httpclient" } }).devices:list())
  local t = koodrive.transport.haproxy { backend = "httpclient" }
  for _, which in ipairs { "ca", "wrong_host", "self_signed" } do
    local res, err = t:send { method = "GET", url = os.getenv("KD_TLS_" .. which:upper()) .. "/", headers = {},
      timeout = 5 }
    out[which] = res and { status = res.status, backend = res.backend } or { reason = err.reason, kind = err.kind }
  end
  local res, err = t:send { method = "PATCH", url = os.getenv("KOODRIVE_ENDPOINT") .. "/", headers = {} }
  out.patch = res and "sent" or err.kind
  reply(applet, out)
end)
-- A task that raises: the wait that waits for it raises the error again, once.
core.register_service("spec_task_error", "http", function(applet)
  local h = koodrive.spawn(function() error("task failed on purpose", 0) end)
  local ok, err = pcall(koodrive.wait, h)
  local again = pcall(koodrive.wait, h)
  reply(applet, { raised = not ok, message = tostring(err), second_wait_ok = again })
end)
core.register_service("spec_https", "http", function(applet)
  local endpoint = os.getenv("KOODRIVE_ENDPOINT"):gsub("^http:", "https:")
  reply(applet, outcome(client({ endpoint = endpoint, timeout = 2 }).devices:list()))
end)
]]

local function get(path, timeout)
  local c = socket.tcp()
  c:settimeout(timeout or 10)
  local t0 = socket.gettime()
  assert(c:connect("127.0.0.1", port))
  c:send("GET " .. path .. " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
  local answer = c:receive("*a") or ""
  c:close()
  local body = answer:match("\r\n\r\n(.*)$") or ""
  return body, socket.gettime() - t0, tonumber(answer:match("^HTTP/1%.%d (%d+)"))
end

local function get_json(path)
  local body, elapsed = get(path)
  local ok, decoded = pcall(cjson.decode, body)
  assert(ok, "not JSON from " .. path .. ": " .. body:sub(1, 200))
  return decoded, elapsed
end

setup(function()
  if skip_why then return end
  server = local_service.start()
  tls = require("support.tls_server").start()
  -- One device, so a list says more than "empty".
  local c = assert(koodrive.new { endpoint = server.url, user_id = creds.koodrive.user_id,
    token = "local-token-alice", timeout = 10 })
  assert(c.devices:bind { machineCode = "M_haproxy", deviceName = "haproxy spec", deviceOS = "linux" })
  dir = os.tmpname()
  os.remove(dir)
  sys.run("mkdir -p " .. sys.quote(dir))
  sys.write(dir .. "/spec_services.lua", SPEC_SERVICES)
  local cfg = assert(sys.read("examples/haproxy/haproxy.cfg"))
  cfg = cfg:gsub('(  lua%-load "%${KD_ROOT}/examples/haproxy/koodrive_service.lua")',
    '%1\n  lua-load "' .. dir .. '/spec_services.lua"')
  cfg = cfg .. "  http-request use-service lua.spec_short if { path /spec/short }\n" ..
    "  http-request use-service lua.spec_https if { path /spec/https }\n" ..
    "  http-request use-service lua.spec_auto if { path /spec/auto }\n" ..
    "  http-request use-service lua.spec_hc if { path /spec/hc }\n" ..
    "  http-request use-service lua.spec_task_error if { path /spec/task_error }\n"
  -- HAProxy's httpclient trusts the private CA of the TLS endpoints.
  cfg = cfg:gsub("  nbthread 1\n", "  nbthread 1\n  httpclient.ssl.ca-file " .. tls.ca_file .. "\n", 1)
  sys.write(dir .. "/haproxy.cfg", cfg)
  port = sys.free_port()
  log_file = dir .. "/haproxy.log"
  local env = string.format("KD_ROOT=%s KD_PORT=%d KOODRIVE_ENDPOINT=%s KOODRIVE_USER_ID=%s " ..
    "KOODRIVE_TOKEN=local-token-alice", sys.quote(sys.capture("pwd"):gsub("%s+$", "")), port,
    sys.quote(server.url), sys.quote(creds.koodrive.user_id)) ..
    string.format(" KD_TLS_CA=%s KD_TLS_WRONG_HOST=%s KD_TLS_SELF_SIGNED=%s", tls.urls.ca, tls.urls.wrong_host,
      tls.urls.self_signed)
  pid = tonumber(sys.capture(env .. " " .. HAPROXY .. " -db -f " .. sys.quote(dir .. "/haproxy.cfg") ..
    " >" .. sys.quote(log_file) .. " 2>&1 & echo $!"))
  assert(pid, "haproxy did not start")
  for _ = 1, 100 do
    local probe = socket.tcp()
    probe:settimeout(0.1)
    local ok = probe:connect("127.0.0.1", port)
    probe:close()
    if ok then break end
    assert(sys.alive(pid), "haproxy exited: " .. tostring(sys.read(log_file)))
    socket.sleep(0.05)
  end
end)

teardown(function()
  if pid then
    os.execute("kill " .. pid .. " 2>/dev/null")
    for _ = 1, 50 do if not sys.alive(pid) then break end socket.sleep(0.05) end
    os.execute("kill -9 " .. pid .. " 2>/dev/null")
  end
  if dir then os.execute("rm -rf " .. sys.quote(dir)) end
  if server then server.stop() end
  if tls then tls.stop() end
end)

before_each(function() if server then server.control("/_local/delay?ms=1000") end end)

describe("HAProxy 2.6 Lua services (examples/haproxy)", function()
  it("lists devices over core.tcp", function()
    if skip_why then return pending(skip_why) end
    local r, elapsed = get_json("/kd/devices")
    assert.is_true(r.ok, r.message)
    assert.are.equal(1, r.count)
    assert.is_true(elapsed >= 1, "the answer was delayed 1 s, took " .. elapsed)
  end)

  it("answers /ping and a Lua service while two slow calls run, on one thread", function()
    if skip_why then return pending(skip_why) end
    local outs = { dir .. "/slow1", dir .. "/slow2" }
    for _, out in ipairs(outs) do
      os.execute("curl -s -m 10 http://127.0.0.1:" .. port .. "/kd/devices >" .. sys.quote(out) .. " 2>&1 &")
    end
    socket.sleep(0.3) -- both calls are waiting for the service now
    local worst, pings = 0, 0
    for _ = 1, 5 do
      local body, took = get("/ping")
      assert.are.equal("pong", body)
      local lua_body, lua_took = get("/lua/ping")
      assert.are.equal(true, cjson.decode(lua_body).pong)
      worst = math.max(worst, took, lua_took)
      pings = pings + 2
      socket.sleep(0.05)
    end
    -- The pings were answered while both calls still waited for their 1 s answers.
    assert.is_nil((sys.read(outs[1]) or ""):find("count", 1, true), "a slow call ended before the pings")
    print(string.format("\n  [haproxy] %d pings during two 1 s calls, slowest %.1f ms", pings, worst * 1000))
    assert.is_true(worst < 0.5, "a ping took " .. worst .. " s: the process was stalled")
    for _ = 1, 100 do
      if (sys.read(outs[1]) or ""):find("}", 1, true) and (sys.read(outs[2]) or ""):find("}", 1, true) then break end
      socket.sleep(0.05)
    end
    for _, out in ipairs(outs) do
      local text = sys.read(out) or ""
      local ok, r = pcall(cjson.decode, text)
      assert(ok, "not JSON: " .. text)
      assert.is_true(r.ok, r.message)
      assert.are.equal(1, r.count)
    end
  end)

  it("a client with the default transport uses HAProxy's sockets, not libcurl", function()
    if skip_why then return pending(skip_why) end
    local r = get_json("/spec/auto")
    assert.is_true(r.ok, r.message)
    assert.are.equal("haproxy", r.chosen)
  end)

  it("koodrive.batch runs its two 1 s calls at once (HAProxy tasks)", function()
    if skip_why then return pending(skip_why) end
    local r = get_json("/kd/batch")
    assert.is_true(r["1"].ok, r["1"].message)
    assert.is_true(r["2"].ok, r["2"].message)
    assert.are.equal(1, r["1"].count)
    assert.is_true(r.elapsed >= 1 and r.elapsed < timing.limit(1.8),
      string.format("two 1 s calls took %.3f s (they should overlap)", r.elapsed))
  end)

  it("a raising HAProxy task's error is raised by the wait, once", function()
    if skip_why then return pending(skip_why) end
    local r = get_json("/spec/task_error")
    assert.is_true(r.raised)
    assert.matches("^task failed on purpose\n", r.message) -- with the task's traceback, as in nginx
    assert.is_true(r.second_wait_ok)
  end)

  it("retries a 503 after a backoff on HAProxy's timers", function()
    if skip_why then return pending(skip_why) end
    server.control("/_local/delay?ms=0")
    server.control("/_local/reset")
    server.control("/_local/fault?kind=503&count=1&path=/")
    local r = get_json("/kd/retry")
    assert.is_true(r.ok, r.message)
    local log = cjson.decode((server.get("/_local/requests")))
    local faulted = 0
    for _, q in ipairs(log.requests) do if q.fault == "503" then faulted = faulted + 1 end end
    assert.are.equal(1, faulted)
    assert.are.equal(2, log.count) -- the 503, then the retry
  end)

  it("ends a trickled answer at the call's total timeout", function()
    if skip_why then return pending(skip_why) end
    server.control("/_local/delay?ms=0")
    server.control("/_local/fault?kind=trickle&count=1&path=/")
    local r = get_json("/spec/short")
    assert.is_false(r.ok, cjson.encode(r) .. " " .. server.get("/_local/requests"))
    assert.are.equal("timeout", r.kind)
    assert.is_true(r.elapsed < 1.5, "took " .. r.elapsed)
  end)

  it("refuses https it cannot verify before anything is sent", function()
    if skip_why then return pending(skip_why) end
    server.control("/_local/delay?ms=0")
    server.control("/_local/reset")
    local r = get_json("/spec/https")
    assert.is_false(r.ok)
    assert.are.equal("tls", r.reason)
    assert.matches("cannot verify", r.message)
    assert.are.equal(0, cjson.decode((server.get("/_local/requests"))).count)
  end)

  it("backend httpclient: calls, https verified by HAProxy, its no-server page a transport error", function()
    if skip_why then return pending(skip_why) end
    server.control("/_local/delay?ms=0")
    local r = get_json("/spec/hc")
    assert.is_true(r.ok, r.message)
    assert.are.equal(200, r.ca.status)
    assert.are.equal("httpclient", r.ca.backend)
    assert.are.equal("connect", r.wrong_host.reason) -- HAProxy refused the certificate's name
    assert.are.equal("connect", r.self_signed.reason)
    assert.are.equal("validation", r.patch) -- a method it cannot send, refused before sending
  end)

  it("never hit HAProxy's watchdog or a Lua error", function()
    if skip_why then return pending(skip_why) end
    assert.is_true(sys.alive(pid), "haproxy is gone")
    local log = sys.read(log_file) or ""
    assert.is_nil(log:find("watchdog", 1, true), log)
    assert.is_nil(log:find("Lua", 1, true), log)
    assert.is_nil(log:find("local-token-alice", 1, true), "the token was logged")
  end)
end)
