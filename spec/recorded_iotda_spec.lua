-- The contract's recorded IoTDA device-policy examples (spec/fixtures/recorded/iotda-*.json),
-- replayed: the library must send what was recorded and make of each answer what the
-- contract says.
local fixtures = require "support.fixtures"

local P = "5c90fa7d3c4e4405e8525079"
local STATEMENT = { { effect = "ALLOW", actions = { "iotda:devices:publish", "iotda:devices:subscribe" },
  resources = { "topic:/v1/${devices.deviceId}/test/hello", "topic:/v1/${devices.productId}/test/hello" } } }

describe("recorded iotda-create-device-policy", function()
  it("creates the documented policy from the documented 201 answer", function()
    local iot, t = fixtures.iot("iotda-create-device-policy", "policy created")
    local p = assert(iot.device_policies:create { policy_name = "testPolicy",
      app_id = "jeQDJQZltU8iKgFFoW060F5SGZka", statement = STATEMENT })
    assert.are.equal(P, p.policy_id)
    assert.are.equal("testPolicy", p.policy_name)
    assert.are.equal("jeQDJQZltU8iKgFFoW060F5SGZka", p.app_id)
    assert.are.same(STATEMENT, p.statement)
    assert.are.equal("20230810T070547Z", p.create_time)
    assert.are.equal("20230810T070547Z", p.update_time)
    assert.are.same({}, t:unused())
    assert.are.equal("application/json", t.requests[1].headers["Content-Type"])
  end)

  it("does not match the recording with another body", function()
    local iot = fixtures.iot("iotda-create-device-policy", "policy created")
    local ok, why = pcall(iot.device_policies.create, iot.device_policies, { policy_name = "otherPolicy",
      app_id = "jeQDJQZltU8iKgFFoW060F5SGZka", statement = STATEMENT })
    assert.is_false(ok)
    assert.truthy(tostring(why):find("differs in body", 1, true))
  end)
end)

describe("recorded iotda-delete-device-policy", function()
  it("deletes with no body and no Content-Type; 204 with an empty body is success", function()
    for _, mode in ipairs { "token", "aksk" } do
      local over = mode == "aksk" and { token = false, ak = "AKSPEC", sk = "sk-spec-value", region = "cn-north-4" } or nil
      local iot, t = fixtures.iot("iotda-delete-device-policy", "policy deleted", over)
      assert.are.same({ policy_id = P }, assert(iot.device_policies:delete(P)))
      assert.are.same({}, t:unused())
      assert.are.equal("", t.requests[1].body or "")
      assert.is_nil(t.requests[1].headers["Content-Type"])
    end
  end)
end)

describe("recorded iotda-unbind-device-policy (through operations/iotda)", function()
  it("reports each id of the documented partial answer", function()
    local iot = fixtures.iot("iotda-unbind-device-policy", "partly unbound")
    local r = assert(iot.device_policies:unbind(P, { target_type = "device", target_ids = {
      "64a7ba7ef9cb063d27e16b97_123456", "64a7ba7ef9cb063d27e16b97_123457", "64a7ba7ef9cb063d27e16b97_123458" } }))
    assert.are.same({ "64a7ba7ef9cb063d27e16b97_123456", "64a7ba7ef9cb063d27e16b97_123457" }, r.success_targets)
    assert.are.same({ { target_id = "64a7ba7ef9cb063d27e16b97_123458", error_code = "IOTDA.015207",
      error_msg = "Invalid input. The target does not bind the device-policy." } }, r.failure_targets)
  end)

  it("reports the documented 404 with its request id", function()
    local iot = fixtures.iot("iotda-unbind-device-policy", "policy not found")
    local _, err = iot.device_policies:unbind("000000000000000000000000",
      { target_type = "product", target_ids = { "64a7ba7ef9cb063d27e16b97" } })
    assert.are.equal("api", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("IOTDA.015206", err.code)
    assert.are.equal("a1b2c3d4e5f60718293a4b5c6d7e8f90", err.request_id)
  end)
end)
