-- client:prepare_operation and client:check_operation (the public entries the CLI's dry runs
-- and the bulk helpers use instead of the clients' internals), batch.chunks, and validators
-- that produce the error kind their caller asks for.
local koodrive = require "koodrive"
local batch = require "koodrive.batch"
local validate = require "koodrive.validate"
local fixtures = require "support.fixtures"

local WHEN = fixtures.epoch("20251217T061900Z")

-- A transport that keeps what it is given and answers every request with `body`.
local function answering(body)
  local t = { requests = {} }
  function t.send(self, req)
    local copy = { method = req.method, url = req.url, body = req.body or "", headers = {} }
    for k, v in pairs(req.headers) do copy.headers[k] = v end
    self.requests[#self.requests + 1] = copy
    return { status = 200, headers = { ["content-type"] = "application/json" }, body = body }
  end
  return t
end

local function kd(transport, extra)
  local config = { endpoint = "http://127.0.0.1:1/base", user_id = "42", app_id = "app",
    app_secret = "app-secret-value", clock = function() return WHEN end, retries = false,
    transport = transport or fixtures.never() }
  for k, v in pairs(extra or {}) do config[k] = v end
  return assert(koodrive.new(config))
end

describe("client:prepare_operation", function()
  it("returns the signed request the operation sends, byte for byte, without sending it", function()
    local never = fixtures.never()
    local req = assert(kd(never):prepare_operation("devices.unbind", "1505084218764547200"))
    assert.are.equal(0, #never.requests)
    local t = answering('{"code":0,"data":{"deviceId":"1505084218764547200"}}')
    kd(t).devices:unbind("1505084218764547200")
    local sent = assert(t.requests[1])
    assert.are.equal(sent.method, req.method)
    assert.are.equal(sent.url, req.url)
    assert.are.equal("http://127.0.0.1:1/base/koodrive/ose/v1/backup/device/1505084218764547200", req.url)
    assert.are.same(sent.headers, req.headers)
    assert.matches("^HMAC%-SHA256 ", req.headers.Authorization)
    assert.are.equal("", req.body)
  end)

  it("takes the per-call options after the arguments and encodes the body", function()
    local trace = ("a"):rep(58)
    local req = assert(kd():prepare_operation("usergroups.delete_members", "g1", { "7", "8" },
      { trace_id = trace, language = "en-US" }))
    assert.are.equal("POST", req.method)
    assert.matches("/usergroups/g1/members/batchDelete$", req.url)
    assert.are.equal(trace, req.headers["X-Traceid"])
    assert.are.equal("en-US", req.headers.language)
    assert.are.equal('{"amendModRoles":[{"userId":7},{"userId":8}]}', req.body)
  end)

  it("fills the client's path values on IoTDA clients", function()
    local iot = assert(koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = fixtures.PROJECT_ID,
      token = "iam-token", transport = fixtures.never() })
    local req = assert(iot:prepare_operation("device_policies.unbind", "5c90fa7d3c4e4405e8525079",
      { target_type = "device", target_ids = { "d1" } }))
    assert.matches("/v5/iot/" .. fixtures.PROJECT_ID .. "/device%-policies/5c90fa7d3c4e4405e8525079/unbind$", req.url)
  end)

  it("returns the call's own validation error for bad arguments, and sends nothing", function()
    local never = fixtures.never()
    local client = kd(never)
    local req, err = client:prepare_operation("devices.unbind", "../x")
    assert.is_nil(req)
    local _, call_err = client.devices:unbind("../x")
    assert.are.equal("validation", err.kind)
    assert.are.equal(call_err.field, err.field)
    assert.are.equal(call_err.rule, err.rule)
    assert.are.equal("devices.unbind", err.operation)
    local _, arity = client:prepare_operation("devices.list", {}, "extra")
    assert.are.equal("arity", arity.rule)
    assert.are.equal(0, #never.requests)
  end)

  it("refuses a name that is no operation of the client", function()
    local client = kd()
    for _, name in ipairs { "devices.nope", "device_policies.unbind", "devices", 42, nil } do
      local req, err = client:prepare_operation(name)
      assert.is_nil(req)
      assert.are.equal("validation", err.kind)
      assert.are.equal("operation", err.field)
      assert.matches("devices%.list", err.message)
    end
  end)
end)

describe("client:check_operation", function()
  it("accepts good arguments and refuses bad ones without building or sending", function()
    local never = fixtures.never()
    -- No token yet: building would ask the provider, checking must not.
    local asked = 0
    local client = assert(koodrive.new { endpoint = "http://127.0.0.1:1", user_id = "1",
      token_provider = function() asked = asked + 1; return "t" end, transport = never })
    assert.is_true(client:check_operation("devices.unbind", "123"))
    assert.is_true(client:check_operation("usergroups.delete_members", "g", { "1" }, { retry = true }))
    local ok, err = client:check_operation("usergroups.delete_members", "g", { "1" }, { retry = 1 })
    assert.is_nil(ok)
    assert.are.equal("retry", err.field)
    ok, err = client:check_operation("devices.bind", { deviceName = 7 })
    assert.is_nil(ok)
    assert.are.equal("validation", err.kind)
    assert.are.equal(0, asked)
    assert.are.equal(0, #never.requests)
  end)
end)

describe("batch.chunks", function()
  it("cuts a list into lists of at most size, in order", function()
    assert.are.same({ { 1, 2 }, { 3, 4 }, { 5 } }, batch.chunks({ 1, 2, 3, 4, 5 }, 2))
    assert.are.same({ { 1, 2, 3 } }, batch.chunks({ 1, 2, 3 }, 20))
    assert.are.same({}, batch.chunks({}, 20))
    assert.are.same({ { "a" }, { "b" } }, batch.chunks({ "a", "b", "c" }, 1, 2))
  end)

  it("counts an id in a later chunk by its place in the caller's list", function()
    local ids = {}
    for i = 1, 45 do ids[i] = "d" .. i end
    ids[43] = "bad\n"
    local never = fixtures.never()
    local iot = assert(koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = fixtures.PROJECT_ID,
      token = "iam-token", transport = never })
    local out, err = iot.device_policies:unbind_all("5c90fa7d3c4e4405e8525079", { target_type = "device", target_ids = ids })
    assert.is_nil(out)
    assert.are.equal("target_ids[43]", err.field)
    assert.are.equal(0, #never.requests)
  end)
end)

describe("validators", function()
  it("produce the kind the caller asks for, validation by default", function()
    local checks = {
      function(k) return validate.seconds(0, "timeout", k) end,
      function(k) return validate.count(-1, "max_body", 10, k) end,
      function(k) return validate.file_path("", "ca_file", k) end,
      function(k) return validate.endpoint("http://a b", "endpoint", k) end,
      function(k) return validate.header_value("a\nb", "token", nil, k) end,
      function(k) return validate.language("??", "language", k) end,
      function(k) return validate.user_id("x", "user_id", k) end,
      function(k) return validate.path_segment("a/b", "project_id", k) end,
    }
    for i, check in ipairs(checks) do
      local v, err = check("config")
      assert.is_nil(v, i)
      assert.are.equal("config", err.kind, i)
      v, err = check()
      assert.is_nil(v, i)
      assert.are.equal("validation", err.kind, i)
    end
  end)

  it("give client options config errors from koodrive.new", function()
    for _, bad in ipairs { { timeout = 0 }, { max_body = -1 }, { ca_file = "" }, { user_id = "x" },
      { language = "??" }, { endpoint = "http://a b" }, { token = "a\nb" } } do
      local config = { endpoint = "http://127.0.0.1:1", user_id = "1", token = "t" }
      for k, v in pairs(bad) do config[k] = v end
      local client, err = koodrive.new(config)
      assert.is_nil(client)
      assert.are.equal("config", err.kind, next(bad))
      assert.are.equal(next(bad), err.field)
    end
  end)
end)
