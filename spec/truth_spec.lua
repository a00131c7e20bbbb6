-- Success only when the service said so (issue 10): plausible but wrong answers are decode
-- errors carrying the response, never results; and batch results tell the truth about calls
-- that may have been carried out. Answers come from a scripted transport (a custom transport
-- is part of the public interface), keyed by method and path.
local koodrive = require "koodrive"
local fixtures = require "support.fixtures"

local DEVICE = "1775406005920779393"
local U1, U2 = "3432423464657862424", "132543141414141414"
local POLICY = "5c90fa7d3c4e4405e8525079"

-- A transport answering each "METHOD path" from its own queue: a response { status, body }
-- (status 200 by default) or an error table { kind, reason } (a transport failure).
local function scripted(script)
  local t = { requests = {}, queues = {} }
  for key, steps in pairs(script) do t.queues[key] = { n = 0, steps = steps } end
  function t.send(self, req)
    self.requests[#self.requests + 1] = req
    local key = req.method .. " " .. req.url:match("^https?://[^/]+([^?]*)")
    local q = self.queues[key] or self.queues["*"]
    assert(q, "unexpected request " .. key)
    q.n = q.n + 1
    local step = q.steps[math.min(q.n, #q.steps)]
    if step.kind then
      return nil, koodrive.errors.new { kind = step.kind, reason = step.reason, message = step.kind .. " " .. tostring(step.reason) }
    end
    return { status = step.status or 200, headers = {}, body = step.body }
  end
  return t
end

local RETRIES = { base_delay = 0, max_delay = 0, max_attempts = 3 }

local function kd(script, retries)
  local t = scripted(script)
  return assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "T-SECRET-1",
    transport = t, retries = retries or false, sleep = function() end }), t
end

local function iot(script, retries)
  local t = scripted(script)
  return assert(koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = fixtures.PROJECT_ID,
    token = "T-SECRET-2", transport = t, retries = retries or false, sleep = function() end }), t
end

local LIST = "GET /koodrive/ose/v1/backup/device"
local BIND = "POST /koodrive/ose/v1/backup/device"
local UNBIND = "DELETE /koodrive/ose/v1/backup/device/" .. DEVICE
local BATCH = "POST /koodrive/ose/v1/usergroups/g1/members/batchDelete"
local IOT = "POST /v5/iot/" .. fixtures.PROJECT_ID .. "/device-policies/" .. POLICY .. "/unbind"

local function dev(id, machine)
  return '{"deviceId":"' .. id .. '","machineCode":"' .. (machine or "m1") .. '","deviceName":"n"}'
end

local calls = {
  list = function(c) return c.devices:list() end,
  bind = function(c) return c.devices:bind { machineCode = "m1" } end,
  unbind = function(c) return c.devices:unbind(DEVICE) end,
  delete = function(c) return c.usergroups:delete_members("g1", { U1, U2 }) end,
  iot = function(c) return c.device_policies:unbind(POLICY, { target_type = "device", target_ids = { "d1", "d2" } }) end,
}
local KEYS = { list = LIST, bind = BIND, unbind = UNBIND, delete = BATCH, iot = IOT }

-- { name, call, status, body, expected kind }
local refused = {
  -- the code: the integer 0 or the string "0", nothing that merely converts to 0
  { 'code "0x0"', "list", 200, '{"code":"0x0","data":[]}' },
  { 'code " 0 "', "list", 200, '{"code":" 0 ","data":[]}' },
  { 'code "0e99"', "list", 200, '{"code":"0e99","data":[]}' },
  { "code 1e-400", "list", 200, '{"code":1e-400,"data":[]}' },
  { "code 0.0", "list", 200, '{"code":0.0,"data":[]}' },
  { "code 0e0", "list", 200, '{"code":0e0,"data":[]}' },
  { 'code "00"', "list", 200, '{"code":"00","data":[]}' },
  { 'code "-0"', "list", 200, '{"code":"-0","data":[]}' },
  { "code false", "list", 200, '{"code":false,"data":[]}' },
  { "code null", "list", 200, '{"code":null,"data":[]}' },
  { "code []", "list", 200, '{"code":[],"data":[]}' },
  { "code twice (1 then 0)", "list", 200, '{"code":1,"code":0,"data":[]}' },
  { "a JSON array at the top", "list", 200, '[{"code":0,"data":[]}]' },
  { "JSON, a NUL and garbage", "list", 200, '{"code":0,"data":[]}\0{"code":1}' },
  { "JSON and trailing text", "list", 200, '{"code":0,"data":[]} x' },
  { "1e999 in the body", "list", 200, '{"code":0,"data":[],"n":1e999}' },
  { "NaN in the body", "list", 200, '{"code":0,"data":[],"n":NaN}' },
  { "nesting 10000 deep", "list", 200, '{"code":0,"data":[],"x":' .. ("["):rep(10000) .. ("]"):rep(10000) .. "}" },
  { "HTTP 201 with code 0", "list", 201, '{"code":0,"data":[]}' },
  { "HTTP 206 with code 0", "list", 206, '{"code":0,"data":[]}' },
  -- devices.list: data is an array of BoundDeviceEntity
  { "data an object", "list", 200, '{"code":0,"data":{}}' },
  { "data missing", "list", 200, '{"code":0}' },
  { "data null", "list", 200, '{"code":0,"data":null}' },
  { "a numeric deviceId", "list", 200, '{"code":0,"data":[{"deviceId":17}]}' },
  { "a deviceName number", "list", 200, '{"code":0,"data":[{"deviceId":"1","deviceName":5}]}' },
  { "a device listed twice", "list", 200, '{"code":0,"data":[' .. dev("1") .. "," .. dev("1") .. "]}" },
  -- devices.bind: the binding of the machineCode sent
  { "bind data []", "bind", 200, '{"code":0,"data":[]}' },
  { "bind of another machineCode", "bind", 200, '{"code":0,"data":' .. dev("9", "other") .. "}" },
  { "bind without machineCode", "bind", 200, '{"code":0,"data":{"deviceId":"9"}}' },
  { "bind data a list of the device", "bind", 200, '{"code":0,"data":[' .. dev("9") .. "]}" },
  -- devices.unbind: the device asked for
  { "unbind naming another device", "unbind", 200, '{"code":0,"data":' .. dev("1842812272691451648") .. "}" },
  { "unbind without data", "unbind", 200, '{"code":0}' },
  -- usergroups.delete_members: status and failedList agree, only ids that were sent
  { "failedList with an id never sent", "delete", 200, '{"code":0,"status":1,"failedList":["999"]}' },
  { "status 2 with every id deleted", "delete", 200, '{"code":0,"status":2}' },
  { "status 2 with an empty failedList", "delete", 200, '{"code":0,"status":2,"failedList":[]}' },
  { "status 0 with failures", "delete", 200, '{"code":0,"status":0,"failedList":["' .. U1 .. '"]}' },
  { "status 1 with every id failed", "delete", 200, '{"code":0,"status":1,"failedList":["' .. U1 .. '","' .. U2 .. '"]}' },
  { "status 3", "delete", 200, '{"code":0,"status":3}' },
  { 'status "0"', "delete", 200, '{"code":0,"status":"0"}' },
  { "status 0.0", "delete", 200, '{"code":0,"status":0.0}' },
  { "failedList without status", "delete", 200, '{"code":0,"failedList":["' .. U1 .. '"]}' },
  { "failedList an object", "delete", 200, '{"code":0,"status":0,"failedList":{}}' },
  -- IoTDA unbind: only the targets sent, each once, the policy asked for, HTTP 200
  { "success_targets with a target never sent", "iot", 200, '{"success_targets":["d1","d2","zz"]}' },
  { "a target in both lists", "iot", 200,
    '{"success_targets":["d1","d2"],"failure_targets":[{"target_id":"d1","error_code":"X"}]}' },
  { "another policy_id", "iot", 200, '{"policy_id":"ffffffffffffffffffffffff","success_targets":["d1","d2"]}' },
  { "another target_type", "iot", 200, '{"target_type":"product","success_targets":["d1","d2"]}' },
  { "success_targets an object", "iot", 200, '{"success_targets":{}}' },
  { "a failure without target_id", "iot", 200, '{"failure_targets":[{"error_code":"X"}]}' },
  { "HTTP 202", "iot", 202, '{"success_targets":["d1","d2"]}' },
  { "a top-level array", "iot", 200, '[]' },
}

describe("an answer that contradicts the contract or the request", function()
  for _, case in ipairs(refused) do
    it("is a decode error, not a success: " .. case[1], function()
      local c = (case[2] == "iot" and iot or kd) { [KEYS[case[2]]] = { { status = case[3], body = case[4] } } }
      local result, err = calls[case[2]](c)
      assert.is_nil(result)
      assert.are.equal("decode", err.kind, tostring(err))
      assert.are.equal(case[3], err.status)
      assert.is_true(err.uncertain) -- the service answered: what it did is unknown
      assert.is_nil(tostring(err):find("SECRET", 1, true))
    end)
  end

  it("carries a redacted snippet of the response", function()
    local c = kd { [UNBIND] = { { body = '{"code":0,"data":' .. dev("1842812272691451648", "T-SECRET-1") .. "}" } } }
    local _, err = c.devices:unbind(DEVICE)
    assert.are.equal("decode", err.kind)
    assert.matches("1842812272691451648", err.body, 1, true)
    assert.is_nil(err.body:find("T-SECRET-1", 1, true))
  end)
end)

describe("an answer the contract allows", function()
  it("is a success for code 0, code \"0\" and code -0", function()
    for _, code in ipairs { "0", '"0"', "-0" } do
      local c = kd { [LIST] = { { body = '{"code":' .. code .. ',"data":[' .. dev("1") .. "]}" } } }
      local devices = assert(c.devices:list())
      assert.are.equal("1", devices[1].deviceId)
    end
  end)

  it("is the service's error for another integer code (a number or a digit string) or a code that is no number", function()
    for _, code in ipairs { "13000309", '"13000309"', '"KD13000309"' } do
      local c = kd { [LIST] = { { body = '{"code":' .. code .. ',"msg":"Resource does not exist."}' } } }
      local _, err = c.devices:list()
      assert.are.equal("api", err.kind)
      assert.are.equal(code == '"KD13000309"' and "KD13000309" or 13000309, err.code)
    end
  end)

  it("is an api error for an IoTDA error_code inside a 200", function()
    local c = iot { [IOT] = { { body = '{"error_code":"IOTDA.000006","error_msg":"Invalid input data."}' } } }
    local _, err = c.device_policies:unbind(POLICY, { target_type = "device", target_ids = { "d1" } })
    assert.are.equal("api", err.kind)
    assert.are.equal("IOTDA.000006", err.code)
  end)

  it("keeps an empty device list, null optional fields and a partial delete", function()
    local c = kd { [LIST] = { { body = '{"code":0,"data":[]}' } },
      [BATCH] = { { body = '{"code":0,"status":1,"failedList":[' .. U2 .. "]}" } } }
    assert.are.same({}, assert(c.devices:list()))
    local r = assert(c.usergroups:delete_members("g1", { U1, U2 }))
    assert.are.same({ U1 }, r.deleted)
    assert.are.same({ U2 }, r.failedList)
    assert.are.same({}, r.uncertain)
    local c2 = kd { [LIST] = { { body = '{"code":0,"data":[{"deviceId":"1","deviceName":null}]}' } } }
    assert.are.equal("1", assert(c2.devices:list())[1].deviceId)
  end)

  it("accounts for every IoTDA target: listed, repeated or left out", function()
    local c = iot { [IOT] = { { body = '{"success_targets":["d1","d1"]}' } } }
    local r = assert(c.device_policies:unbind(POLICY, { target_type = "device", target_ids = { "d1", "d2" } }))
    assert.are.same({ "d1" }, r.success_targets)
    assert.are.equal("d2", r.failure_targets[1].target_id)
    assert.are.equal("KOODRIVE.UNREPORTED", r.failure_targets[1].error_code)
  end)
end)

local RESET = { kind = "transport", reason = "transport" }
local TIMEOUT = { kind = "timeout", reason = "timeout" }
local REFUSED = { kind = "transport", reason = "connect" }
local NOT_FOUND = { body = '{"code":13000309,"msg":"Resource does not exist."}' }

describe("a retried call after an attempt that may have been carried out", function()
  for name, first in pairs { reset = RESET, timeout = TIMEOUT, ["HTTP 502"] = { status = 502, body = "<html>" } } do
    it("reports unbind's 'not found' after a " .. name .. " as uncertain, with the history", function()
      local c = kd({ [UNBIND] = { first, NOT_FOUND } }, RETRIES)
      local result, err = c.devices:unbind(DEVICE)
      assert.is_nil(result)
      assert.are.equal("api", err.kind)
      assert.are.equal(13000309, err.code)
      assert.is_true(err.ambiguous)
      assert.is_true(err.uncertain)
      assert.are.equal(2, #err.history)
      assert.is_true(err.history[1].ambiguous)
      assert.is_false(err.history[2].ambiguous)
    end)
  end

  it("reports 'not found' after a refused connection (nothing was sent) as refused", function()
    local c = kd({ [UNBIND] = { REFUSED, NOT_FOUND } }, RETRIES)
    local _, err = c.devices:unbind(DEVICE)
    assert.are.equal(13000309, err.code)
    assert.is_falsy(err.uncertain)
    assert.is_falsy(err.ambiguous)
  end)

  it("reports batchDelete's failedList after a timeout as uncertain, not refused", function()
    local c = kd({ [BATCH] = { TIMEOUT, { body = '{"code":0,"status":2,"failedList":["' .. U1 .. '","' .. U2 .. '"]}' } } },
      RETRIES)
    local r = assert(c.usergroups:delete_members("g1", { U1, U2 }))
    assert.are.same({}, r.failedList)
    assert.are.same({ U1, U2 }, r.uncertain)
    assert.are.equal(1, #r.history)
    local many = assert(kd({ [BATCH] = { TIMEOUT, { body = '{"code":0,"status":1,"failedList":["' .. U2 .. '"]}' } } },
      RETRIES).usergroups:delete_members_many { { "g1", { U1, U2 } } })
    assert.are.same({ { groupId = "g1", userId = U1 } }, many.deleted)
    assert.are.same({}, many.failed)
    assert.are.equal(1, #many.uncertain)
    assert.are.equal(U2, many.uncertain[1].userId)
    assert.are.equal(1, #many.uncertain[1].history)
  end)

  it("reports IoTDA failures after a 504 as uncertain_targets", function()
    local c = iot({ [IOT] = { { status = 504, body = "" },
      { body = '{"success_targets":["d1"],"failure_targets":[{"target_id":"d2","error_code":"IOTDA.015207"}]}' } } },
      RETRIES)
    local r = assert(c.device_policies:unbind_all(POLICY, { target_type = "device", target_ids = { "d1", "d2" } }))
    assert.are.same({ "d1" }, r.success_targets)
    assert.are.same({}, r.failure_targets)
    assert.are.equal("d2", r.uncertain_targets[1].target_id)
    assert.are.equal(1, #r.uncertain_targets[1].history)
  end)
end)

describe("devices:unbind_many", function()
  local function ids(n)
    local out = {}
    for i = 1, n do out[i] = string.format("17754060059207790%02d", i) end
    return out
  end

  it("puts every id in exactly one of done, failed and uncertain", function()
    local list = ids(4)
    local base = "DELETE /koodrive/ose/v1/backup/device/"
    local c = kd({
      [base .. list[1]] = { { body = '{"code":0,"data":' .. dev(list[1]) .. "}" } },
      [base .. list[2]] = { RESET, NOT_FOUND },                 -- done by the first attempt, probably
      [base .. list[3]] = { NOT_FOUND },                        -- refused: it was never bound
      [base .. list[4]] = { TIMEOUT, TIMEOUT, TIMEOUT },        -- nobody knows
    }, RETRIES)
    local out = assert(c.devices:unbind_many(list))
    assert.are.same({ list[1] }, { out.done[1].deviceId })
    assert.are.equal(1, #out.done)
    assert.are.equal(1, #out.failed)
    assert.are.equal(list[3], out.failed[1].deviceId)
    assert.are.equal(2, #out.uncertain)
    local seen = {}
    for _, u in ipairs(out.uncertain) do
      seen[u.deviceId] = true
      assert.is_true(#u.history >= 2)
      assert.is_true(u.error.uncertain)
    end
    assert.is_true(seen[list[2]] and seen[list[4]])
  end)

  it("reports every result when the progress callback raises, and the callback's error", function()
    local list = ids(12)
    local script = {}
    for _, id in ipairs(list) do
      script["DELETE /koodrive/ose/v1/backup/device/" .. id] = { { body = '{"code":0,"data":' .. dev(id) .. "}" } }
    end
    local c, t = kd(script)
    local seen = 0
    local out = assert(c.devices:unbind_many(list, { concurrency = 3, progress = function()
      seen = seen + 1
      error("progress bar broke")
    end }))
    assert.are.equal(1, seen)                 -- not called again after raising
    assert.are.equal(12, #t.requests)         -- the work went on
    assert.are.equal(12, #out.done)           -- and nothing sent went unreported
    assert.matches("progress bar broke", out.callback_error, 1, true)
  end)
end)
