-- Bad input is refused with a validation error naming the field and rule, before anything is sent.
local koodrive = require "koodrive"
local fixtures = require "support.fixtures"

local function client_with_spy(overrides)
  local spy = fixtures.never()
  local config = { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "spec-token",
    transport = spy, retries = false }
  for k, v in pairs(overrides or {}) do config[k] = v end
  return assert(koodrive.new(config)), spy
end

local function iot_with_spy()
  local spy = fixtures.never()
  return assert(koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = fixtures.PROJECT_ID,
    token = "spec-iam", transport = spy, retries = false }), spy
end

-- Asserts a refused call: nil, a validation error on `field` breaking `rule`, nothing sent.
local function refused(spy, field, rule, result, err)
  assert.is_nil(result)
  assert.is_table(err, "expected an error table")
  assert.are.equal("validation", err.kind)
  assert.are.equal(field, err.field)
  assert.are.equal(rule, err.rule)
  assert.matches(field, err.message, 1, true)
  assert.are.equal(0, #spy.requests, "a request was sent")
end

local TRACE = string.rep("a", 58)

describe("validation before sending", function()
  describe("devices:bind fields", function()
    local cases = {
      { "machineCode missing", { deviceName = "x" }, "machineCode", "required" },
      { "machineCode with a space", { machineCode = "a b" }, "machineCode", "pattern" },
      { "machineCode with a dash", { machineCode = "a-b" }, "machineCode", "pattern" },
      { "machineCode of 65 characters", { machineCode = string.rep("a", 65) }, "machineCode", "length" },
      { "machineCode empty", { machineCode = "" }, "machineCode", "length" },
      { "machineCode a number", { machineCode = 20251217 }, "machineCode", "type" },
      { "deviceName with a dot", { machineCode = "m", deviceName = "a.b" }, "deviceName", "pattern" },
      { "deviceName of 33 characters", { machineCode = "m", deviceName = string.rep("n", 33) }, "deviceName", "length" },
      { "deviceOS with a dash", { machineCode = "m", deviceOS = "a-b" }, "deviceOS", "pattern" },
      { "deviceOS with a dot", { machineCode = "m", deviceOS = "os.1" }, "deviceOS", "pattern" },
      { "an unknown field", { machineCode = "m", devicename = "x" }, "device.devicename", "unknown_option" },
      { "not a table", "m", "device", "type" },
    }
    for _, c in ipairs(cases) do
      it("refuses " .. c[1], function()
        local client, spy = client_with_spy()
        refused(spy, c[3], c[4], client.devices:bind(c[2]))
      end)
    end

    it("accepts the documented characters", function()
      local client, spy = client_with_spy()
      spy.send = function(self, req)
        self.requests[#self.requests + 1] = req
        return { status = 200, headers = {}, body = '{"code":0,"msg":"success","data":{"deviceId":"1","machineCode":"A_z09"}}' }
      end
      assert(client.devices:bind { machineCode = "A_z09", deviceName = "My-device_1 x", deviceOS = "Harmony OS_4" })
      assert.are.equal(1, #spy.requests)
    end)
  end)

  describe("path segments", function()
    for _, bad in ipairs { "a/b", "..", "a..b", "x\r\ny", "id\0", "", "a%2Fb", "a?b", "a#b", "a\\b" } do
      it("refuses the device id " .. string.format("%q", bad), function()
        local client, spy = client_with_spy()
        refused(spy, "deviceId", bad == "" and "length" or "path_segment", client.devices:unbind(bad))
      end)
    end
    it("refuses a table as device id", function()
      local client, spy = client_with_spy()
      refused(spy, "deviceId", "type", client.devices:unbind({}))
    end)
    it("refuses a group id with a slash", function()
      local client, spy = client_with_spy()
      refused(spy, "groupId", "path_segment", client.usergroups:delete_members("1/2", { "1" }))
    end)
    it("refuses a policy id with '..'", function()
      local iot, spy = iot_with_spy()
      refused(spy, "policy_id", "hex24",
        iot.device_policies:unbind("..", { target_type = "device", target_ids = { "a" } }))
    end)
    it("refuses a project id that is not a safe segment (at construction)", function()
      local iot, err = koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = "p/../q",
        token = "t", transport = fixtures.never() }
      assert.is_nil(iot)
      assert.are.equal("config", err.kind)
      assert.are.equal("project_id", err.field)
    end)
  end)

  describe("user ids", function()
    local cases = {
      { "letters", { "12a" }, "userIds[1]", "user_id" },
      { "20 digits", { "12345678901234567890" }, "userIds[1]", "user_id" },
      { "2^63", { "9223372036854775808" }, "userIds[1]", "user_id" },
      { "a negative sign", { "-1" }, "userIds[1]", "user_id" },
      { "a float", { 1.5 }, "userIds[1]", "user_id" },
      { "a boolean", { "1", true }, "userIds[2]", "user_id" },
      { "an empty list", {}, "userIds", "length" },
      { "a string instead of a list", "123", "userIds", "type" },
      { "a list with holes", { "1", nil, "3" }, "userIds", "type" },
    }
    for _, c in ipairs(cases) do
      it("refuses " .. c[1], function()
        local client, spy = client_with_spy()
        refused(spy, c[3], c[4], client.usergroups:delete_members("369528171409614001", c[2]))
      end)
    end
    it("accepts 2^63-1 exactly", function()
      local client, spy = client_with_spy()
      client.usergroups:delete_members("1", { "9223372036854775807" })
      assert.are.equal('{"amendModRoles":[{"userId":9223372036854775807}]}', spy.requests[1].body)
    end)
    if not math.type then
      -- Lua 5.1 and LuaJIT have no integers: a number id is a double, which cannot hold
      -- every digit of a 19-digit id, so ids must be strings there (exact on every interpreter).
      it("refuses a number id where Lua has no integers (5.1, LuaJIT)", function()
        local client, spy = client_with_spy()
        refused(spy, "userIds[1]", "user_id", client.usergroups:delete_members("1", { 12 }))
        local c, err = koodrive.new { endpoint = fixtures.ENDPOINT, user_id = 42, token = "t",
          transport = fixtures.never() }
        assert.is_nil(c)
        assert.are.equal("user_id", err.field)
      end)
    end
    it("refuses a bad X-User-Id at construction", function()
      for _, bad in ipairs { "abc", "12345678901234567890", "9223372036854775808", "", 12.5 } do
        local c, err = koodrive.new { endpoint = fixtures.ENDPOINT, user_id = bad, token = "t",
          transport = fixtures.never() }
        assert.is_nil(c)
        assert.are.equal("config", err.kind)
        assert.are.equal("user_id", err.field)
      end
    end)
  end)

  describe("IoTDA targets", function()
    local function ids(n)
      local t = {}
      for i = 1, n do t[i] = "target_" .. i end
      return t
    end
    local cases = {
      { "an unknown target_type", { target_type = "devices", target_ids = { "a" } }, "target_type", "enum" },
      { "no target ids", { target_type = "device", target_ids = {} }, "target_ids", "length" },
      { "21 target ids", { target_type = "device", target_ids = ids(21) }, "target_ids", "length" },
      { "a numeric target id", { target_type = "device", target_ids = { 5 } }, "target_ids[1]", "type" },
      { "a target id with CR LF", { target_type = "device", target_ids = { "a\r\n" } }, "target_ids[1]", "control" },
      { "an unknown key", { target_type = "device", target_ids = { "a" }, force = true }, "targets.force", "unknown_option" },
    }
    for _, c in ipairs(cases) do
      it("refuses " .. c[1], function()
        local iot, spy = iot_with_spy()
        refused(spy, c[3], c[4], iot.device_policies:unbind("5c90fa7d3c4e4405e8525079", c[2]))
      end)
    end
    it("accepts exactly 20 ids", function()
      local iot, spy = iot_with_spy()
      iot.device_policies:unbind("5c90fa7d3c4e4405e8525079", { target_type = "device", target_ids = ids(20) })
      assert.are.equal(1, #spy.requests)
    end)
  end)

  describe("per-call options", function()
    local cases = {
      { "a 57-character trace id", { trace_id = string.rep("a", 57) }, "trace_id", "trace_id" },
      { "a 59-character trace id", { trace_id = string.rep("a", 59) }, "trace_id", "trace_id" },
      { "a trace id with a space", { trace_id = string.rep("a", 57) .. " " }, "trace_id", "trace_id" },
      { "a trace id with CR LF", { trace_id = string.rep("a", 56) .. "\r\n" }, "trace_id", "trace_id" },
      { "a language with CR LF", { language = "en\r\nX-Evil: 1" }, "language", "control" },
      { "a negative timeout", { timeout = -1 }, "timeout", "range" },
      { "a string timeout", { timeout = "5" }, "timeout", "type" },
      { "an unknown option", { retries = 3 }, "options.retries", "unknown_option" },
    }
    for _, c in ipairs(cases) do
      it("refuses " .. c[1], function()
        local client, spy = client_with_spy()
        refused(spy, c[3], c[4], client.devices:list(c[2]))
      end)
    end
    it("refuses options that are not a table", function()
      local client, spy = client_with_spy()
      refused(spy, "options", "type", client.devices:list("fast"))
    end)
    it("refuses extra arguments", function()
      local client, spy = client_with_spy()
      refused(spy, "arguments", "arity", client.devices:list({}, {}))
    end)
    it("sends a valid trace id and language", function()
      local client, spy = client_with_spy()
      client.devices:bind({ machineCode = "m" }, { trace_id = TRACE, language = "zh-CN" })
      local h = spy.requests[1].headers
      assert.are.equal(TRACE, h["X-Traceid"])
      assert.are.equal("zh-CN", h.language)
    end)
  end)

  describe("header values in configuration", function()
    it("refuses a token with a line break", function()
      local c, err = koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "abc\r\nX-Evil: 1" }
      assert.is_nil(c)
      assert.are.equal("config", err.kind)
      assert.are.equal("token", err.field)
      assert.are.equal("header_value", err.rule)
      assert.is_nil(err.message:find("abc", 1, true), "the token leaked into the message")
    end)
    it("refuses a language with a line feed", function()
      local c, err = koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t", language = "en\n" }
      assert.is_nil(c)
      assert.are.equal("language", err.field)
    end)
    it("refuses an IoTDA instance id with CR", function()
      local c, err = koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = "p", token = "t",
        instance_id = "i\r" }
      assert.is_nil(c)
      assert.are.equal("instance_id", err.field)
    end)
  end)

  describe("generic call", function()
    local cases = {
      { "a '..' segment", { method = "GET", path = "/koodrive/../admin" }, "path", "path_segment" },
      { "a query in the path", { method = "GET", path = "/a?b=1" }, "path", "path" },
      { "a relative path", { method = "GET", path = "a" }, "path", "type" },
      { "an unknown method", { method = "TRACE", path = "/a" }, "method", "enum" },
      { "a function query value", { method = "GET", path = "/a", query = { f = print } }, "query.f", "type" },
      { "a boolean body", { method = "POST", path = "/a", body = true }, "body", "type" },
      { "an unknown key", { method = "GET", path = "/a", headers = {} }, "request.headers", "unknown_option" },
    }
    for _, c in ipairs(cases) do
      it("refuses " .. c[1], function()
        local client, spy = client_with_spy()
        refused(spy, c[3], c[4], client:call(c[2]))
      end)
    end
  end)
end)
