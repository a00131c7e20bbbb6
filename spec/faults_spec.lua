-- Fault injection: every fault the local service can serve (POST /_local/fault, see "Fault
-- injection" in server/koodrive_local/faults.lua) against the real libcurl client. For each one: the error of the right
-- kind, retries only where allowed (counted on the server through GET /_local/requests), no
-- hang past the configured timeout, memory bounded by max_body, and the next call on the same
-- client succeeding. The service itself must survive every fault (after_each checks it).
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"
local faults = require "support.faults"
local socket = require "socket"

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)
after_each(function()
  -- whatever the spec did, the service still answers, and is back to its seed with no fault armed
  assert.are.equal(200, (server.control("/_local/reset")))
end)

local FAST = { base_delay = 0.01, max_delay = 0.05 }     -- max_attempts 3, max_elapsed 30
local MIB = 1024                                          -- in KiB
local POLICY = creds.iotda.policy_id

-- overrides: false removes an option, except retries = false (retrying off)
local function merge(config, overrides)
  for k, v in pairs(overrides or {}) do
    if v == false and k ~= "retries" then v = nil end
    config[k] = v
  end
  return config
end

local function client(overrides)
  local config = merge({ endpoint = server.url, user_id = creds.koodrive.user_id, token = "local-token-alice",
    timeout = 2, connect_timeout = 1, retries = FAST }, overrides)
  return assert(koodrive.new(config))
end

local function iot_client(overrides)
  local ak, sk = next(creds.iotda.aksk)
  local config = { endpoint = server.url, project_id = creds.iotda.project_id, ak = ak, sk = sk,
    region = creds.iotda.region, timeout = 2, connect_timeout = 1, retries = FAST }
  merge(config, overrides)
  return assert(koodrive.iotda.new(config))
end

local function requests_since(n0) return faults.count(server) - n0 end

-- The call failed with an error having these fields.
local function assert_error(expected, result, err)
  assert.is_nil(result, "expected an error, got a result")
  assert.is_table(err)
  for k, v in pairs(expected) do
    assert.are.equal(v, err[k], "err." .. k .. " of " .. tostring(err))
  end
end

-- The final error of a call that made `n` attempts.
local function assert_attempts(n, err)
  assert.are.equal(n, err.attempts, tostring(err))
  assert.is_table(err.history)
  assert.are.equal(n, #err.history)
  for i, entry in ipairs(err.history) do assert.are.equal(i, entry.attempt) end
  assert.truthy(tostring(err):find("attempts=" .. n, 1, true), tostring(err))
end

-- The next call on the same client succeeds (and reaches the service once).
local function assert_next_call_ok(c)
  local n0 = faults.count(server)
  local devices, err = c.devices:list()
  assert.is_table(devices, "next call failed: " .. tostring(err))
  assert.are.equal(1, requests_since(n0))
  return devices
end

local function bind_one(c, machine)
  return assert(c.devices:bind({ machineCode = machine or "FAULTS_1", deviceName = "faults" }, { retry = false }))
end

---------------------------------------------------------------------------------------------
describe("fault: connection reset", function()
  it("is a transport error, one attempt with retries = false, then the next call succeeds", function()
    local c = client { retries = false }
    faults.arm(server, "reset")
    local n0 = faults.count(server)
    local devices, err = c.devices:list()
    assert_error({ kind = "transport", reason = "transport", retryable = true }, devices, err)
    assert_attempts(1, err)
    assert.are.equal(1, requests_since(n0))
    assert_next_call_ok(c)
  end)

  -- libcurl by itself sends a request again on a fresh connection when a reused keep-alive
  -- connection dies before any byte of the answer. koodrive lets it for requests that may be
  -- repeated (idempotent ones, or opted in) and gives the others a fresh connection.
  it("lets libcurl resend an idempotent call once when a reused connection died unanswered", function()
    local c = client { retries = false }
    assert(c.devices:list())                        -- the connection the next call reuses
    faults.arm(server, "reset")
    local n0 = faults.count(server)
    assert(c.devices:list())
    assert.are.equal(2, requests_since(n0))
    assert_next_call_ok(c)
  end)

  it("is one request with retries = false on a fresh connection", function()
    local c = client { retries = false }
    faults.arm(server, "reset")
    local n0 = faults.count(server)
    local devices, err = c.devices:list()
    assert.are.equal(1, requests_since(n0))
    assert_error({ kind = "transport", reason = "transport" }, devices, err)
    assert_next_call_ok(c)
  end)

  it("is retried for devices:list: the second attempt succeeds", function()
    local c = client()
    faults.arm(server, "reset")
    local n0 = faults.count(server)
    assert(c.devices:list())
    assert.are.equal(2, requests_since(n0))
    assert.are.same({ "reset", "-" }, faults.seen(server))
    assert_next_call_ok(c)
  end)

  for _, reused in ipairs { false, true } do
    it("is not retried for devices:bind without { retry = true }" ..
      (reused and ", also on a reused keep-alive connection" or ""), function()
      local c = client()
      if reused then assert(c.devices:list()) end
      faults.arm(server, "reset", { count = 3 })
      local n0 = faults.count(server)
      local device, err = c.devices:bind { machineCode = "RESET_BIND" }
      assert.are.equal(1, requests_since(n0))
      assert_error({ kind = "transport", reason = "transport" }, device, err)
      assert_attempts(1, err)
      server.control("/_local/reset")
      assert.are.same({}, assert_next_call_ok(c))     -- nothing was bound
    end)
  end

  it("is retried for devices:bind with { retry = true }, binding once", function()
    local c = client()
    faults.arm(server, "reset")
    local n0 = faults.count(server)
    local device = assert(c.devices:bind({ machineCode = "RESET_RETRY" }, { retry = true }))
    assert.are.equal(2, requests_since(n0))
    local devices = assert_next_call_ok(c)
    assert.are.equal(1, #devices)
    assert.are.equal(device.deviceId, devices[1].deviceId)
  end)

  it("gives up after max_attempts, with one history entry per attempt", function()
    local c = client()
    faults.arm(server, "reset", { count = 3 })
    local n0 = faults.count(server)
    local devices, err = c.devices:list()
    assert_error({ kind = "transport", reason = "transport" }, devices, err)
    assert_attempts(3, err)
    for i, entry in ipairs(err.history) do
      assert.are.equal("transport", entry.kind)
      assert.are.equal("transport", entry.reason)
      if i < 3 then assert.is_number(entry.delay) end
    end
    assert.are.equal(3, requests_since(n0))
    assert_next_call_ok(c)
  end)
end)

---------------------------------------------------------------------------------------------
-- A stall (no answer) and a trickle (a head, then the body a byte at a time) both end in the
-- timeout; each fault has the same two cases, the stall a few more.
for _, fault in ipairs {
  { name = "stall", title = "stall past the timeout", first = "times out within the configured timeout" },
  { name = "trickle", title = "slow trickle body", first = "times out mid-body within the configured timeout" },
} do
  describe("fault: " .. fault.title, function()
    it(fault.first .. " with retries = false", function()
      local c = client { retries = false, timeout = 0.5 }
      faults.arm(server, fault.name)
      local n0 = faults.count(server)
      local elapsed, devices, err = faults.timed(c.devices.list, c.devices)
      assert_error({ kind = "timeout", retryable = true }, devices, err)
      assert_attempts(1, err)
      assert.is_true(elapsed >= 0.45 and elapsed < 2, "took " .. elapsed .. " s")
      assert.are.equal(1, requests_since(n0))
      assert_next_call_ok(c)
    end)

    it("is retried for devices:list and the second attempt succeeds", function()
      local c = client { timeout = 0.5 }
      faults.arm(server, fault.name)
      local n0 = faults.count(server)
      local elapsed = faults.timed(function() assert(c.devices:list()) end)
      assert.is_true(elapsed < 2.5, "took " .. elapsed .. " s")
      assert.are.equal(2, requests_since(n0))
      assert_next_call_ok(c)
    end)

    if fault.name ~= "stall" then return end

    it("bounds the whole call by max_attempts x timeout when every attempt stalls", function()
      local c = client { timeout = 0.5 }
      faults.arm(server, "stall", { count = 3 })
      local n0 = faults.count(server)
      local elapsed, devices, err = faults.timed(c.devices.list, c.devices)
      assert_error({ kind = "timeout" }, devices, err)
      assert_attempts(3, err)
      assert.is_true(elapsed < 3 * 0.5 + 2, "took " .. elapsed .. " s")
      assert.are.equal(3, requests_since(n0))
      assert_next_call_ok(c)
    end)

    it("is not retried for devices:bind", function()
      local c = client { timeout = 0.5 }
      faults.arm(server, "stall", { count = 3 })
      local n0 = faults.count(server)
      local elapsed, device, err = faults.timed(c.devices.bind, c.devices, { machineCode = "STALL_BIND" })
      assert_error({ kind = "timeout" }, device, err)
      assert_attempts(1, err)
      assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
      assert.are.equal(1, requests_since(n0))
      server.control("/_local/reset")
      assert_next_call_ok(c)
    end)

    it("honours a per-call timeout", function()
      local c = client { retries = false, timeout = 10 }
      faults.arm(server, "stall")
      local elapsed, devices, err = faults.timed(c.devices.list, c.devices, { timeout = 0.3 })
      assert_error({ kind = "timeout" }, devices, err)
      assert.is_true(elapsed < 1.5, "took " .. elapsed .. " s")
      assert_next_call_ok(c)
    end)
  end)
end

---------------------------------------------------------------------------------------------
describe("fault: HTTP 500 with code 13000201", function()
  it("is an api error with the service's code, one attempt with retries = false", function()
    local c = client { retries = false }
    faults.arm(server, "500")
    local n0 = faults.count(server)
    local devices, err = c.devices:list()
    assert_error({ kind = "api", status = 500, code = 13000201, msg = "inner server invoke failure",
      retryable = true }, devices, err)
    assert_attempts(1, err)
    assert.are.equal(1, requests_since(n0))
    assert_next_call_ok(c)
  end)

  it("is retried (code 13000201) and the second attempt succeeds", function()
    local c = client()
    faults.arm(server, "500")
    local n0 = faults.count(server)
    assert(c.devices:list())
    assert.are.equal(2, requests_since(n0))
    assert_next_call_ok(c)
  end)

  it("stops after max_attempts with the history of every attempt", function()
    local c = client()
    faults.arm(server, "500", { count = 3 })
    local n0 = faults.count(server)
    local devices, err = c.devices:list()
    assert_error({ kind = "api", status = 500, code = 13000201 }, devices, err)
    assert_attempts(3, err)
    for i, entry in ipairs(err.history) do
      assert.are.same({ "api", 500, 13000201 }, { entry.kind, entry.status, entry.code })
      assert.is_string(entry.message)
      if i < 3 then
        assert.is_number(entry.delay)
        assert.is_true(entry.delay >= 0 and entry.delay <= FAST.max_delay)
      end
    end
    assert.are.equal(3, requests_since(n0))
    assert_next_call_ok(c)
  end)
end)

---------------------------------------------------------------------------------------------
for _, status in ipairs { 502, 503 } do
  describe("fault: HTTP " .. status .. " with an HTML gateway page", function()
    it("is an http error without a code, one attempt with retries = false", function()
      local c = client { retries = false }
      faults.arm(server, tostring(status))
      local n0 = faults.count(server)
      local devices, err = c.devices:list()
      assert_error({ kind = "http", status = status, retryable = true }, devices, err)
      assert.is_nil(err.code)
      assert_attempts(1, err)
      assert.are.equal(1, requests_since(n0))
      assert_next_call_ok(c)
    end)

    it("is retried for devices:list and the second attempt succeeds", function()
      local c = client()
      faults.arm(server, tostring(status))
      local n0 = faults.count(server)
      assert(c.devices:list())
      assert.are.equal(2, requests_since(n0))
      assert.are.same({ tostring(status), "-" }, faults.seen(server))
      assert_next_call_ok(c)
    end)

    it("is not retried for devices:bind without { retry = true }", function()
      local c = client()
      faults.arm(server, tostring(status), { count = 3 })
      local n0 = faults.count(server)
      local device, err = c.devices:bind { machineCode = "GW_BIND" }
      assert_error({ kind = "http", status = status }, device, err)
      assert_attempts(1, err)
      assert.are.equal(1, requests_since(n0))
      server.control("/_local/reset")
      assert_next_call_ok(c)
    end)

    it("is not retried with a per-call { retry = false }", function()
      local c = client()
      faults.arm(server, tostring(status))
      local n0 = faults.count(server)
      local devices, err = c.devices:list { retry = false }
      assert_error({ kind = "http", status = status }, devices, err)
      assert.are.equal(1, requests_since(n0))
      assert_next_call_ok(c)
    end)
  end)
end

describe("retries of the generic call", function()
  it("retries GET, PUT and DELETE but not POST or PATCH unless { retry = true }", function()
    local c = client()
    for _, case in ipairs {
      { "GET", 2 }, { "PUT", 2 }, { "DELETE", 2 }, { "POST", 1 }, { "PATCH", 1 },
    } do
      local method, expected = case[1], case[2]
      server.control("/_local/reset")
      faults.arm(server, "503", { count = 1 })
      local n0 = faults.count(server)
      -- a path the service does not route: a retried call ends in its 404 envelope
      local _, err = c:call { method = method, path = "/koodrive/ose/v1/nowhere" }
      assert.are.equal(expected, requests_since(n0), method)
      if expected == 1 then
        assert.are.same({ "http", 503 }, { err.kind, err.status }, method)
      else
        assert.are.same({ "api", 404, 13000309 }, { err.kind, err.status, err.code }, method)
      end
    end
    server.control("/_local/reset")
    faults.arm(server, "503")
    local n0 = faults.count(server)
    local _, err = c:call { method = "POST", path = "/koodrive/ose/v1/nowhere", body = {}, retry = true }
    assert.are.equal(2, requests_since(n0))
    assert.are.equal(404, err.status)
  end)

  it("signs every attempt afresh", function()
    local inner = koodrive.transport.curl()
    local sent = {}
    local t = { send = function(_, req)
      sent[#sent + 1] = { date = req.headers["X-Date"], authorization = req.headers.Authorization }
      return inner:send(req)
    end }
    local ticks = 0
    local app_id, app_secret = next(creds.koodrive.apps)
    local c = client { token = false, app_id = app_id, app_secret = app_secret, transport = t,
      clock = function() ticks = ticks + 1; return os.time() - 60 + ticks end }
    faults.arm(server, "503", { count = 2 })
    assert(c.devices:list())
    assert.are.equal(3, #sent)
    assert.are_not.equal(sent[1].date, sent[2].date)
    assert.are_not.equal(sent[2].date, sent[3].date)
    assert.are_not.equal(sent[1].authorization, sent[2].authorization)
    assert.are_not.equal(sent[2].authorization, sent[3].authorization)
    inner:close()
  end)
end)

---------------------------------------------------------------------------------------------
describe("fault: 429 with Retry-After", function()
  it("is an api error with status 429, retryable, with retries = false", function()
    local c = client { retries = false }
    faults.arm(server, "429")
    local devices, err = c.devices:list()
    assert_error({ kind = "api", status = 429, code = 429, retryable = true }, devices, err)
    assert_attempts(1, err)
    assert_next_call_ok(c)
  end)

  it("waits at least Retry-After seconds before the next attempt", function()
    local c = client()
    faults.arm(server, "429", { retry_after = 1 })
    local n0 = faults.count(server)
    local elapsed = faults.timed(function() assert(c.devices:list()) end)
    assert.is_true(elapsed >= 0.95 and elapsed < 3, "took " .. elapsed .. " s")
    assert.are.equal(2, requests_since(n0))
    assert_next_call_ok(c)
  end)

  it("understands Retry-After as an HTTP date", function()
    local c = client()
    local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 2)
    faults.arm(server, "429", { retry_after = date })
    local n0 = faults.count(server)
    local elapsed = faults.timed(function() assert(c.devices:list()) end)
    assert.is_true(elapsed >= 0.9 and elapsed < 4, "took " .. elapsed .. " s")
    assert.are.equal(2, requests_since(n0))
  end)

  it("stops at once when Retry-After is past max_elapsed", function()
    local c = client { retries = { base_delay = 0.01, max_delay = 0.05, max_elapsed = 2 } }
    faults.arm(server, "429", { retry_after = 10 })
    local n0 = faults.count(server)
    local elapsed, devices, err = faults.timed(c.devices.list, c.devices)
    assert_error({ kind = "api", status = 429 }, devices, err)
    assert_attempts(1, err)
    assert.is_true(elapsed < 1, "took " .. elapsed .. " s")
    assert.are.equal(1, requests_since(n0))
    assert_next_call_ok(c)
  end)
end)

---------------------------------------------------------------------------------------------
-- A 2xx whose body is not the expected JSON is a decode error and never retried: the service
-- did answer, and the same request would get the same answer.
for _, case in ipairs {
  { "truncated", "a body cut in the middle of the JSON" },
  { "html", "an HTML page" },
  { "empty", "an empty body" },
} do
  local kind, what = case[1], case[2]
  describe("fault: 200 with " .. what, function()
    it("is a decode error, not retried, and the next call succeeds", function()
      local c = client()
      faults.arm(server, kind, { count = 3 })
      local n0 = faults.count(server)
      local devices, err = c.devices:list()
      assert_error({ kind = "decode", status = 200, retryable = false }, devices, err)
      assert_attempts(1, err)
      assert.are.equal(1, requests_since(n0))
      server.control("/_local/reset")
      assert_next_call_ok(c)
    end)
  end)
end

---------------------------------------------------------------------------------------------
describe("fault: a success envelope labelled text/plain", function()
  it("is decoded whatever the Content-Type says", function()
    local c = client()
    local device = bind_one(c)
    faults.arm(server, "content_type")
    local n0 = faults.count(server)
    local devices = assert(c.devices:list())
    assert.are.equal(1, #devices)
    assert.are.equal(device.deviceId, devices[1].deviceId)
    assert.are.equal(1, requests_since(n0))
    assert_next_call_ok(c)
  end)
end)

describe("fault: invalid UTF-8 in a device name", function()
  it("succeeds, passing the bytes through unchanged", function()
    local c = client()
    faults.arm(server, "bad_utf8")
    local n0 = faults.count(server)
    local devices = assert(c.devices:list())
    assert.are.equal(1, #devices)
    assert.are.equal("bad\255\254name", devices[1].deviceName)
    assert.are.equal("1842812272691451648", devices[1].deviceId)
    assert.are.equal(1, requests_since(n0))
    assert_next_call_ok(c)
  end)
end)

describe("fault: a 64 KiB response header", function()
  it("succeeds (the core accepts headers up to 256 KiB)", function()
    local c = client()
    local device = bind_one(c)
    faults.arm(server, "big_header")
    local n0 = faults.count(server)
    local devices = assert(c.devices:list())
    assert.are.equal(device.deviceId, devices[1].deviceId)
    assert.are.equal(1, requests_since(n0))
    assert_next_call_ok(c)
  end)
end)

describe("fault: a 50 MiB body", function()
  it("is a too_large transport error, not retried, with memory bounded by max_body", function()
    local c = client()
    assert(c.devices:list())
    faults.arm(server, "huge", { count = 3 })
    local n0 = faults.count(server)
    local used, devices, err = faults.memory(function() return c.devices:list() end)
    assert_error({ kind = "transport", reason = "too_large", retryable = false }, devices, err)
    if os.getenv("FAULTS_VERBOSE") then
      print(("\nhuge: Lua heap +%.0f KiB, RSS %s +%s KiB"):format(used.lua_kb,
        used.peak and "peak" or "after", tostring(used.rss_kb)))
    end
    assert_attempts(1, err)
    assert.are.equal(1, requests_since(n0))
    -- 50 MiB were offered; the default max_body is 8 MiB
    assert.is_true(used.lua_kb < 20 * MIB, ("Lua heap grew %.0f KiB"):format(used.lua_kb))
    if used.rss_kb then
      assert.is_true(used.rss_kb < 20 * MIB, ("RSS grew %d KiB"):format(used.rss_kb))
    end
    server.control("/_local/reset")
    assert_next_call_ok(c)
  end)

  it("is refused early with a smaller max_body", function()
    local c = client { max_body = 64 * 1024 }
    faults.arm(server, "huge")
    local used, devices, err = faults.memory(function() return c.devices:list() end)
    assert_error({ kind = "transport", reason = "too_large" }, devices, err)
    assert.is_true(used.lua_kb < 4 * MIB, ("Lua heap grew %.0f KiB"):format(used.lua_kb))
    assert_next_call_ok(c)
  end)
end)

---------------------------------------------------------------------------------------------
describe("IoTDA under faults", function()
  it("retries device_policies:unbind (idempotent) on a 503", function()
    local iot = iot_client()
    local target = "faults_target"
    assert(iot:call { method = "POST", retry = false,
      path = "/v5/iot/" .. creds.iotda.project_id .. "/device-policies/" .. POLICY .. "/bind",
      body = { target_type = "device", target_ids = { target } } })
    faults.arm(server, "503", { path = "/v5/" })
    local n0 = faults.count(server)
    local result = assert(iot.device_policies:unbind(POLICY, { target_type = "device", target_ids = { target } }))
    assert.are.same({ target }, result.success_targets)
    assert.are.equal(2, requests_since(n0))
  end)

  it("times out a stalled call within the timeout and then succeeds", function()
    local iot = iot_client { retries = false, timeout = 0.5 }
    faults.arm(server, "stall", { path = "/v5/" })
    local elapsed, result, err = faults.timed(iot.device_policies.unbind, iot.device_policies, POLICY,
      { target_type = "device", target_ids = { "never_bound" } })
    assert_error({ kind = "timeout" }, result, err)
    assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
    local again = assert(iot.device_policies:unbind(POLICY, { target_type = "device", target_ids = { "never_bound" } }))
    assert.are.equal(1, #again.failure_targets)
  end)
end)

---------------------------------------------------------------------------------------------
describe("the local service's fault control", function()
  local function raw_request(path)
    local s = assert(socket.connect("127.0.0.1", server.port))
    assert(s:send("GET " .. path .. " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
    return s
  end

  it("keeps serving other connections while one stalls and one huge answer is not read", function()
    faults.arm(server, "stall", { path = "/koodrive/stall" })
    faults.arm(server, "huge", { path = "/koodrive/huge" })
    local stalled = raw_request("/koodrive/stall")
    local unread = raw_request("/koodrive/huge")
    -- both raw requests reach the server (in either order) before the client's calls
    local deadline = socket.gettime() + 3
    while #faults.seen(server) < 2 and socket.gettime() < deadline do socket.sleep(0.02) end
    local first_two = faults.seen(server)
    table.sort(first_two)
    assert.are.same({ "huge", "stall" }, first_two)
    local c = client()
    for _ = 1, 3 do
      local elapsed = faults.timed(function() assert(c.devices:list()) end)
      assert.is_true(elapsed < 1, "took " .. elapsed .. " s")
    end
    -- the stalled request got nothing; the huge answer began
    stalled:settimeout(0.1)
    local data, err, partial = stalled:receive(1)
    assert.are.same({ nil, "timeout", "" }, { data, err, partial })
    unread:settimeout(1)
    assert.are.equal("HTTP/1.1 200 OK", unread:receive("*l"))
    stalled:close()
    unread:close()
    local seen = faults.seen(server)
    assert.are.same({ "-", "-", "-" }, { seen[3], seen[4], seen[5] })
    assert.are.equal(5, #seen)
  end)

  it("consumes faults in arming order, only on paths with the armed prefix", function()
    local c = client { retries = false }
    local iot = iot_client { retries = false }
    faults.arm(server, "503", { path = "/v5/" })
    faults.arm(server, "502")
    local _, err = c.devices:list()
    assert.are.equal(502, err.status)
    _, err = iot.device_policies:unbind(POLICY, { target_type = "device", target_ids = { "x" } })
    assert.are.equal(503, err.status)
    assert(c.devices:list())
    assert.are.same({ "502", "503", "-" }, faults.seen(server))
    local log = faults.log(server)
    assert.are.equal("GET", log.requests[1].method)
    assert.are.equal("/koodrive/ose/v1/backup/device", log.requests[1].path)
    assert.are.equal("POST", log.requests[2].method)
  end)

  it("refuses bad fault requests and lists what is armed", function()
    assert.are.equal(400, (server.control("/_local/fault?kind=nonsense")))
    assert.are.equal(400, (server.control("/_local/fault")))
    assert.are.equal(400, (server.control("/_local/fault?kind=500&count=0")))
    assert.are.equal(400, (server.control("/_local/fault?kind=500&path=/_local/health")))
    assert.are.equal(400, (server.control("/_local/fault?kind=500&extra=1")))
    faults.arm(server, "empty", { count = 2, path = "/v5/" })
    local body = server.get("/_local/faults")
    assert.truthy(body:find('{"kind":"empty","remaining":2,"path":"/v5/"}', 1, true), body)
    server.control("/_local/reset")
    assert.truthy(server.get("/_local/faults"):find('"faults":[]', 1, true))
  end)

  it("trickles a complete head, then the body a byte every 200 ms", function()
    faults.arm(server, "trickle")
    local s = raw_request("/koodrive/ose/v1/backup/device")   -- unsigned: the 400 envelope, trickled
    s:settimeout(2)
    local length
    repeat
      local line = assert(s:receive("*l"))
      length = length or tonumber(line:match("^Content%-Length: (%d+)$"))
    until line == ""
    local t0 = faults.now()
    s:settimeout(0.7)
    local data, _, partial = s:receive(length)
    local got = data or partial
    s:close()
    assert.is_true(length > 10)
    assert.is_true(#got >= 2 and #got <= 5, #got .. " bytes in " .. (faults.now() - t0) .. " s")
    assert.are.equal(('{"code":13000102'):sub(1, #got), got)
  end)

  it("keeps the newest 1000 requests in the log and counts them all", function()
    local s = assert(socket.connect("127.0.0.1", server.port))
    local n = 1005
    local out = {}
    for i = 1, n do
      out[i] = "GET /nowhere/" .. i .. " HTTP/1.1\r\nHost: 127.0.0.1\r\n" ..
        (i == n and "Connection: close\r\n" or "") .. "\r\n"
    end
    assert(s:send(table.concat(out)))
    s:settimeout(10)
    s:receive("*a")                                   -- every answer, up to the close
    s:close()
    local log = faults.log(server)
    assert.are.equal(n, log.count)
    assert.are.equal(1000, #log.requests)
    assert.are.equal("/nowhere/6", log.requests[1].path)
    assert.are.equal("/nowhere/" .. n, log.requests[1000].path)
  end)
end)
