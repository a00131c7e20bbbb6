-- Through real libcurl to the local KooDrive + IoTDA service on 127.0.0.1, in every auth mode.
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)

local function koodrive_client(overrides)
  local config = { endpoint = server.url, user_id = creds.koodrive.user_id, token = "local-token-alice",
    timeout = 10, connect_timeout = 5 }
  for k, v in pairs(overrides or {}) do config[k] = v or nil end
  return assert(koodrive.new(config))
end

local function app_client(overrides)
  local app_id, app_secret = next(creds.koodrive.apps)
  local o = { token = false, app_id = app_id, app_secret = app_secret }
  for k, v in pairs(overrides or {}) do o[k] = v end
  return koodrive_client(o)
end

local function iot_client(overrides)
  local ak, sk = next(creds.iotda.aksk)
  local config = { endpoint = server.url, project_id = creds.iotda.project_id, ak = ak, sk = sk,
    region = creds.iotda.region, timeout = 10 }
  for k, v in pairs(overrides or {}) do config[k] = v or nil end
  return assert(koodrive.iotda.new(config))
end

-- A curl transport that remembers what libcurl reported about each connection.
local function observed_curl()
  local inner = koodrive.transport.curl()
  local seen = {}
  return { seen = seen, send = function(_, req)
    local res, err = inner:send(req)
    if res then seen[#seen + 1] = { port = res.local_port, new = res.new_connections } end
    return res, err
  end, close = function() inner:close() end }
end

local function device_ids(list)
  local ids = {}
  for _, d in ipairs(list) do ids[#ids + 1] = d.deviceId end
  return ids
end

for _, mode in ipairs { "token", "app" } do
  describe("KooDrive in " .. mode .. " mode", function()
    local user = mode == "token" and "1000000000000000001" or "1000000000000000002"
    local function client()
      return (mode == "token" and koodrive_client or app_client) { user_id = user }
    end

    it("binds, lists and unbinds a device, keeping state", function()
      local c = client()
      local before = assert(c.devices:list())
      local device = assert(c.devices:bind { machineCode = "M_" .. mode, deviceName = "Lab " .. mode, deviceOS = "android" })
      assert.matches("^[1-9]%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d$", device.deviceId)
      assert.are.equal("M_" .. mode, device.machineCode)
      local during = assert(c.devices:list())
      assert.are.equal(#before + 1, #during)
      assert.are.equal(device.deviceId, during[#during].deviceId)
      local gone = assert(c.devices:unbind(device.deviceId))
      assert.are.equal(device.deviceId, gone.deviceId)
      local after = assert(c.devices:list())
      assert.are.same(device_ids(before), device_ids(after))
      local again, err = c.devices:unbind(device.deviceId)
      assert.is_nil(again)
      assert.are.equal("api", err.kind)
      assert.are.equal(13000309, err.code)
      c:close()
    end)

    for _, skew in ipairs { 120, -16 * 60 } do
      it("learns the server's clock from a refusal of X-Date " .. (skew > 0 and "in the future" or "16 minutes old"), function()
        local records = {}
        local c = (mode == "token" and koodrive_client or app_client) {
          clock = function() return os.time() + skew end,
          logger = function(r) records[#records + 1] = r end }
        assert(c.devices:list())
        -- the first attempt was refused with the service's 401 for its date, the second passed
        assert.are.equal(2, #records)
        assert.are.equal(401, records[1].status)
        assert.are.equal("api", records[1].error_kind)
        assert.are.equal(200, records[2].status)
        -- later calls sign at the server's time straight away, never ahead of it
        assert(c.devices:list())
        assert.are.equal(3, #records)
        local sent = records[3].request_headers["X-Date"]
        assert.is_true(sent <= os.date("!%Y%m%dT%H%M%SZ"), "signed ahead of the server: " .. sent)
      end)
    end

    it("reports the refusal when the clock is off and retrying is not possible", function()
      local c = (mode == "token" and koodrive_client or app_client) { clock = function() return os.time() + 120 end }
      -- prepare signs with the client's clock: the server refuses it as sent
      local req = assert(c:prepare { method = "GET", path = "/koodrive/ose/v1/backup/device" })
      local raw = koodrive.transport.curl()
      local res = assert(raw:send(req))
      raw:close()
      assert.are.equal(401, res.status)
      assert.matches('"code":%s*401', res.body)
    end)
  end)
end

describe("KooDrive auth refused", function()
  it("refuses an unknown bearer token", function()
    local _, err = koodrive_client({ token = "not-a-known-token" }).devices:list()
    assert.are.equal("api", err.kind)
    assert.are.equal(401, err.status)
  end)

  it("refuses an app signature made with the wrong secret", function()
    local _, err = app_client({ app_secret = "wrong-secret" }).devices:list()
    assert.are.equal(401, err.status)
    assert.is_nil(tostring(err):find("wrong-secret", 1, true))
  end)
end)

describe("delete_members against the local service", function()
  it("reports the non-member as failed and the members as deleted, 19 digits intact", function()
    local c = app_client()
    local members = creds.koodrive.group_members
    local result = assert(c.usergroups:delete_members(creds.koodrive.group_id,
      { members[1], "1111111111111111111" }))
    assert.are.equal(1, result.status)
    assert.are.same({ "1111111111111111111" }, result.failedList)
    assert.are.same({ members[1] }, result.deleted)
    local again = assert(c.usergroups:delete_members(creds.koodrive.group_id, { members[1] }))
    assert.are.equal(2, again.status)
    assert.are.same({ members[1] }, again.failedList)
    assert.are.same({}, again.deleted)
  end)

  it("goes through the generic call with a query", function()
    local c = koodrive_client()
    local envelope = assert(c:call { method = "GET", path = "/koodrive/ose/v1/usergroups",
      query = { pageSize = 100, pageCursor = "", sourceType = 1 } })
    assert.are.equal(0, envelope.code)
  end)
end)

describe("IoTDA against the local service", function()
  local POLICY = creds.iotda.policy_id

  for _, mode in ipairs { "token", "sdk", "derived" } do
    it("unbinds policy targets with " .. mode .. " auth, reporting each target", function()
      local iot
      if mode == "token" then
        iot = iot_client { ak = false, sk = false, token = next(creds.iotda.tokens) }
      else
        iot = iot_client { derived = mode == "derived" }
      end
      local target = "lua_spec_target_" .. mode
      assert(iot:call { method = "POST",
        path = "/v5/iot/" .. creds.iotda.project_id .. "/device-policies/" .. POLICY .. "/bind",
        body = { target_type = "device", target_ids = { target } } })
      local result = assert(iot.device_policies:unbind(POLICY,
        { target_type = "device", target_ids = { target, "never_bound_" .. mode } }))
      assert.are.same({ target }, result.success_targets)
      assert.are.equal(1, #result.failure_targets)
      assert.are.equal("never_bound_" .. mode, result.failure_targets[1].target_id)
      assert.are.equal("IOTDA.015207", result.failure_targets[1].error_code)
    end)
  end

  it("is refused by the gateway with a wrong SK, in both signing modes", function()
    for _, derived in ipairs { false, true } do
      local iot = iot_client { sk = "wrong-sk-value", derived = derived }
      local _, err = iot.device_policies:unbind(POLICY, { target_type = "device", target_ids = { "x" } })
      assert.are.equal("api", err.kind)
      assert.are.equal(401, err.status)
      assert.matches("^APIGW", err.code)
      assert.is_string(err.request_id)
      assert.is_nil(tostring(err):find("wrong-sk-value", 1, true))
    end
  end)
end)

describe("HTTP through libcurl", function()
  it("reuses one connection for consecutive calls on a client (keep-alive)", function()
    local t = observed_curl()
    local c = koodrive_client { transport = t }
    for _ = 1, 5 do assert(c.devices:list()) end
    assert.are.equal(5, #t.seen)
    assert.are.equal(1, t.seen[1].new)
    for i = 2, 5 do
      assert.are.equal(0, t.seen[i].new, "call " .. i .. " opened a new connection")
      assert.are.equal(t.seen[1].port, t.seen[i].port)
    end
    t:close()
  end)

  it("times out a slow answer as a 'timeout' error within the configured time", function()
    local inner = koodrive.transport.curl()
    local slow = { send = function(_, req)
      req.headers["X-Local-Delay-Ms"] = "3000"
      return inner:send(req)
    end }
    -- One attempt, timed on the monotonic clock: with retries on, three attempts and their
    -- backoff come to about 2 s, too close to any bound under ASan.
    local c = koodrive_client { transport = slow, timeout = 0.5, retries = false }
    local started = require("koodrive.core").monotonic()
    local _, err = c.devices:list()
    local elapsed = require("koodrive.core").monotonic() - started
    assert.are.equal("timeout", err.kind)
    assert.is_true(err.retryable)
    assert.is_true(elapsed >= 0.45, "gave up after " .. elapsed .. " s, before the timeout")
    assert.is_true(elapsed < require("support.timing").limit(2.5),
      "took " .. elapsed .. " s for a 0.5 s timeout against a 3 s delay")
    inner:close()
  end)

  it("caps the response size with an error instead of unbounded memory", function()
    local c = koodrive_client { user_id = "1000000000000000003", max_body = 256 }
    for i = 1, 4 do assert(c.devices:bind { machineCode = "big_" .. i, deviceName = string.rep("n", 32) }) end
    local devices, err = c.devices:list()
    assert.is_nil(devices)
    assert.are.equal("transport", err.kind)
    assert.are.equal("too_large", err.reason)
    assert.is_false(err.retryable)
    assert.is_truthy(c.devices:bind { machineCode = "after_cap" })
  end)

  it("reports a refused connection as a transport error", function()
    local socket = require "socket"
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    local c = koodrive_client { endpoint = "http://127.0.0.1:" .. port }
    local _, err = c.devices:list()
    assert.are.equal("transport", err.kind)
    assert.are.equal("connect", err.reason)
    assert.is_true(err.retryable)
  end)

  it("frees the libcurl handle on close, after which the transport refuses use", function()
    local t = koodrive.transport.curl()
    local c = koodrive_client { transport = t }
    assert(c.devices:list())
    t:close()
    t:close()
    assert.has_error(function() c.devices:list() end, nil)
  end)
end)
