-- Every operation against the contract's recorded examples, through the replay transport.
local fixtures = require "support.fixtures"

describe("devices:list", function()
  it("returns the bound devices as plain tables with string ids", function()
    local client, t = fixtures.client("devices-list", "two devices bound")
    local devices, err = client.devices:list()
    assert.is_nil(err)
    assert.are.equal(2, #devices)
    assert.are.same({
      deviceId = "1775406005920779393", machineCode = "20250911", deviceName = "Magic v3",
      deviceOS = "android", createTime = "2025-09-15T06:14:48.630Z",
    }, devices[1])
    assert.are.equal("1842812272691451648", devices[2].deviceId)
    assert.are.same({}, t:unused())
    local sent = t.requests[1]
    assert.are.equal("GET", sent.method)
    assert.are.equal(fixtures.ENDPOINT .. "/koodrive/ose/v1/backup/device", sent.url)
    assert.are.equal("Bearer spec-token-value", sent.headers.Authorization)
    assert.are.equal(fixtures.USER_ID, sent.headers["X-User-Id"])
    assert.matches("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$", sent.headers["X-Date"])
    assert.is_nil(sent.body)
  end)

  it("returns an empty array when no device is bound", function()
    local client = fixtures.client("devices-list", "no device bound")
    local devices, err = client.devices:list()
    assert.is_nil(err)
    assert.are.same({}, devices)
  end)

  it("reports a refused token as an api error with the HTTP status", function()
    local client = fixtures.client("devices-list", "token refused")
    local devices, err = client.devices:list()
    assert.is_nil(devices)
    assert.are.equal("api", err.kind)
    assert.are.equal(401, err.status)
    assert.are.equal(401, err.code)
    assert.are.equal("Unauthorized", err.msg)
    assert.are.equal("devices.list", err.operation)
    assert.is_false(err.retryable)
  end)
end)

describe("devices:bind", function()
  it("sends the fields as JSON and returns the new binding", function()
    local client, t = fixtures.client("devices-bind", "bind")
    local device, err = client.devices:bind { machineCode = "20251217", deviceName = "Magic-v5",
      deviceOS = "android" }
    assert.is_nil(err)
    assert.are.equal("1842812272691451648", device.deviceId)
    assert.are.equal("2025-12-17T06:19:01.803Z", device.createTime)
    assert.are.equal("application/json", t.requests[1].headers["Content-Type"])
  end)

  it("reports a parameter check failure (HTTP 400, code 13000102)", function()
    local client = fixtures.client("devices-bind", "parameter check failed")
    local device, err = client.devices:bind { machineCode = "20251217" }
    assert.is_nil(device)
    assert.are.equal("api", err.kind)
    assert.are.equal(400, err.status)
    assert.are.equal(13000102, err.code)
    assert.are.equal("Verify parameters failed.", err.msg)
    assert.is_false(err.retryable)
  end)
end)

describe("devices:unbind", function()
  it("deletes by id and returns the unbound device", function()
    local client, t = fixtures.client("devices-unbind", "unbind")
    local device, err = client.devices:unbind("1775406005920779393")
    assert.is_nil(err)
    assert.are.equal("1775406005920779393", device.deviceId)
    assert.are.equal("Magic v3", device.deviceName)
    assert.are.equal("DELETE", t.requests[1].method)
  end)

  it("treats a non-zero code inside HTTP 200 as an api error", function()
    local client = fixtures.client("devices-unbind", "unknown device (error in a 200)")
    local device, err = client.devices:unbind("1000000000000000001")
    assert.is_nil(device)
    assert.are.equal("api", err.kind)
    assert.are.equal(200, err.status)
    assert.are.equal(13000309, err.code)
    assert.are.equal("Resource does not exist.", err.msg)
  end)

  it("marks an inner server failure (500, 13000201) retryable", function()
    local client = fixtures.client("devices-unbind", "server failure")
    local device, err = client.devices:unbind("1775406005920779393")
    assert.is_nil(device)
    assert.are.equal("api", err.kind)
    assert.are.equal(500, err.status)
    assert.are.equal(13000201, err.code)
    assert.is_true(err.retryable)
  end)
end)

describe("usergroups:delete_members", function()
  local ids = { "3432423464657862424", "132543141414141414" }

  it("sends every id digit for digit and reports all deleted", function()
    local client, t = fixtures.client("usergroups-delete-members", "all deleted")
    local result, err = client.usergroups:delete_members("369528171409614001", ids)
    assert.is_nil(err)
    assert.are.same({ status = 0, failedList = {}, deleted = ids, uncertain = {} }, result)
    assert.are.equal('{"amendModRoles":[{"userId":3432423464657862424},{"userId":132543141414141414}]}',
      t.requests[1].body)
  end)

  it("reports a partial failure id by id", function()
    local client = fixtures.client("usergroups-delete-members", "partly deleted")
    local result, err = client.usergroups:delete_members("369528171409614001", ids)
    assert.is_nil(err)
    assert.are.equal(1, result.status)
    assert.are.same({ "132543141414141414" }, result.failedList)
    assert.are.same({ "3432423464657862424" }, result.deleted)
  end)

  it("reads a response without status as all deleted", function()
    local client = fixtures.client("usergroups-delete-members", "example response without status")
    local result, err = client.usergroups:delete_members("369528171409614001", { "3432423464657862424" })
    assert.is_nil(err)
    assert.are.same({ status = 0, failedList = {}, deleted = { "3432423464657862424" }, uncertain = {} }, result)
  end)

  if math.type then
    it("accepts Lua integers and writes them exactly", function()
      local client, t = fixtures.client("usergroups-delete-members", "partly deleted")
      local result = assert(client.usergroups:delete_members("369528171409614001",
        { 3432423464657862424, 132543141414141414 }))
      assert.are.same({ "3432423464657862424" }, result.deleted)
      assert.matches("3432423464657862424", t.requests[1].body, 1, true)
    end)
  end
end)

describe("iotda device_policies:unbind", function()
  local POLICY = "5c90fa7d3c4e4405e8525079"
  local targets = { target_type = "device", target_ids = {
    "64a7ba7ef9cb063d27e16b97_123456", "64a7ba7ef9cb063d27e16b97_123457",
    "64a7ba7ef9cb063d27e16b97_123458" } }

  it("reports success and failure per target", function()
    local iot, t = fixtures.iot("iotda-unbind-device-policy", "partly unbound")
    local result, err = iot.device_policies:unbind(POLICY, targets)
    assert.is_nil(err)
    assert.are.equal(POLICY, result.policy_id)
    assert.are.equal("device", result.target_type)
    assert.are.same({ "64a7ba7ef9cb063d27e16b97_123456", "64a7ba7ef9cb063d27e16b97_123457" },
      result.success_targets)
    assert.are.same({ { target_id = "64a7ba7ef9cb063d27e16b97_123458", error_code = "IOTDA.015207",
      error_msg = "Invalid input. The target does not bind the device-policy." } }, result.failure_targets)
    local sent = t.requests[1]
    assert.are.equal("spec-iam-token-value", sent.headers["X-Auth-Token"])
    assert.are.equal(fixtures.IOT_ENDPOINT .. "/v5/iot/" .. fixtures.PROJECT_ID ..
      "/device-policies/" .. POLICY .. "/unbind", sent.url)
  end)

  it("reports the service's invalid-input error with its request id", function()
    local iot = fixtures.iot("iotda-unbind-device-policy", "invalid input")
    -- The operation refuses an empty list before sending; the generic call can still send one.
    local body, err = iot:call { method = "POST",
      path = "/v5/iot/" .. fixtures.PROJECT_ID .. "/device-policies/" .. POLICY .. "/unbind",
      body = { target_type = "device", target_ids = require("koodrive").array {} } }
    assert.is_nil(body)
    assert.are.equal("api", err.kind)
    assert.are.equal(400, err.status)
    assert.are.equal("IOTDA.000006", err.code)
    assert.are.equal("Invalid input data.", err.msg)
    assert.are.equal("8d3c1f0e2b7a4d9e8f1a2b3c4d5e6f70", err.request_id)
  end)

  it("reports an unknown policy (404)", function()
    local iot = fixtures.iot("iotda-unbind-device-policy", "policy not found")
    local result, err = iot.device_policies:unbind("000000000000000000000000",
      { target_type = "product", target_ids = { "64a7ba7ef9cb063d27e16b97" } })
    assert.is_nil(result)
    assert.are.equal("api", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("IOTDA.015206", err.code)
    assert.are.equal("a1b2c3d4e5f60718293a4b5c6d7e8f90", err.request_id)
    assert.are.equal("device_policies.unbind", err.operation)
  end)

  it("reports a gateway signature refusal in AK/SK mode", function()
    local iot, t = fixtures.iot("iotda-unbind-device-policy", "gateway rejects the signature",
      { token = false, ak = "SPECACCESSKEY", sk = "spec-secret-key-value" })
    local result, err = iot.device_policies:unbind(POLICY,
      { target_type = "device", target_ids = { "64a7ba7ef9cb063d27e16b97_123456" } })
    assert.is_nil(result)
    assert.are.equal("api", err.kind)
    assert.are.equal(401, err.status)
    assert.are.equal("APIGW.0301", err.code)
    local auth = t.requests[1].headers.Authorization
    assert.matches("^SDK%-HMAC%-SHA256 Access=SPECACCESSKEY, SignedHeaders=content%-type;host;x%-sdk%-date, Signature=%x+$", auth)
    assert.is_nil(tostring(err):find("spec-secret-key-value", 1, true))
  end)

  it("reports a target the service left out of both lists as failed", function()
    local t = require("koodrive").transport.replay { interactions = { {
      name = "silent", request = { method = "POST",
        path = "/v5/iot/" .. fixtures.PROJECT_ID .. "/device-policies/" .. POLICY .. "/unbind" },
      response = { status = 200, body = { success_targets = { "a" } } } } } }
    local iot = assert(require("koodrive").iotda.new { endpoint = fixtures.IOT_ENDPOINT,
      project_id = fixtures.PROJECT_ID, token = "x-token", transport = t })
    local result = assert(iot.device_policies:unbind(POLICY, { target_type = "app", target_ids = { "a", "b" } }))
    assert.are.same({ "a" }, result.success_targets)
    assert.are.equal(1, #result.failure_targets)
    assert.are.equal("b", result.failure_targets[1].target_id)
    assert.are.equal("KOODRIVE.UNREPORTED", result.failure_targets[1].error_code)
  end)
end)

describe("operations.SERVICES", function()
  -- The map a client loads families by must name every service each family declares, and
  -- only those: a service missing from it would have no object on the client.
  it("names, for every service, the family module that declares it", function()
    local operations = require "koodrive.operations"
    for profile, map in pairs(operations.SERVICES) do
      local declared = {}
      for _, op in ipairs(operations[profile]) do
        local service = op.name:match("^([%w_]+)%.")
        declared[service] = true
        local families = map[service]
        assert.is_not_nil(families, profile .. ": " .. service .. " is missing from SERVICES")
        if type(families) == "string" then families = { families } end
        local found = false
        for _, family in ipairs(families) do
          for _, o in ipairs(require("koodrive.operations." .. family)) do
            if o == op then found = true end
          end
        end
        assert.is_true(found, op.name .. " is not declared by the families SERVICES names for " .. service)
      end
      for service in pairs(map) do
        assert.is_true(declared[service] == true, profile .. ": SERVICES names " .. service .. ", which declares nothing")
      end
    end
  end)
end)
