-- The IoTDA device-policy operations (iotda-api.md): the exact requests they build
-- (prepare_operation), the input rules they check before sending, and what they make of
-- answers, hostile ones included (a decode error, never a false success).
local koodrive = require "koodrive"
local json = require "koodrive.json"
local fixtures = require "support.fixtures"

local P = "5c90fa7d3c4e4405e8525079"
local BASE = fixtures.IOT_ENDPOINT .. "/v5/iot/" .. fixtures.PROJECT_ID .. "/device-policies"
local STATEMENT = { { effect = "ALLOW", actions = { "iotda:devices:publish", "iotda:devices:subscribe" },
  resources = { "topic:/v1/${devices.deviceId}/test/hello" } } }

local unpack = table.unpack or unpack -- luacheck: ignore 143

-- A client whose transport answers every request with (status, body) and keeps the requests.
local function answering(status, body, overrides)
  local t = { requests = {} }
  function t.send(self, req)
    self.requests[#self.requests + 1] = req
    local text = type(body) == "table" and assert(json.encode(body)) or body or ""
    return { status = status, headers = { ["content-type"] = "application/json" }, body = text }
  end
  local config = { endpoint = fixtures.IOT_ENDPOINT, project_id = fixtures.PROJECT_ID,
    token = "spec-iam-token-value", transport = t, retries = false }
  for k, v in pairs(overrides or {}) do config[k] = v or nil end
  return assert(koodrive.iotda.new(config)), t
end

local function iot(overrides) return (answering(500, "", overrides)) end

local function prepared(name, ...)
  local req = assert(iot():prepare_operation(name, ...))
  return req
end

local function policy(over)
  local p = { policy_id = P, policy_name = "testPolicy", app_id = "space_1", statement = STATEMENT,
    create_time = "20230810T070547Z", update_time = "20230810T070547Z" }
  for k, v in pairs(over or {}) do p[k] = v end
  return p
end

describe("iotda device_policies requests", function()
  it("create: POST .../device-policies with the policy as JSON", function()
    local req = prepared("device_policies.create", { policy_name = "testPolicy", app_id = "space_1",
      statement = STATEMENT })
    assert.are.equal("POST", req.method)
    assert.are.equal(BASE, req.url)
    assert.are.equal("application/json", req.headers["Content-Type"])
    assert.are.equal("spec-iam-token-value", req.headers["X-Auth-Token"])
    assert.are.same({ policy_name = "testPolicy", app_id = "space_1", statement = STATEMENT }, json.decode(req.body))
  end)

  it("get and delete: no body and no Content-Type", function()
    for name, method in pairs { ["device_policies.get"] = "GET", ["device_policies.delete"] = "DELETE" } do
      local req = prepared(name, P)
      assert.are.equal(method, req.method)
      assert.are.equal(BASE .. "/" .. P, req.url)
      assert.are.equal("", req.body)
      assert.is_nil(req.headers["Content-Type"])
    end
  end)

  it("update: PUT with only the fields given", function()
    local req = prepared("device_policies.update", P, { statement = STATEMENT })
    assert.are.equal("PUT", req.method)
    assert.are.equal(BASE .. "/" .. P, req.url)
    assert.are.same({ statement = STATEMENT }, json.decode(req.body))
    req = prepared("device_policies.update", P, { policy_name = "n" })
    assert.are.equal('{"policy_name":"n"}', req.body)
  end)

  it("bind: one POST .../bind whatever the number of ids (no split)", function()
    local ids = {}
    for i = 1, 25 do ids[i] = "d" .. i end
    local client, t = answering(200, { success_targets = ids })
    local r = assert(client.device_policies:bind(P, { target_type = "product", target_ids = ids }))
    assert.are.equal(1, #t.requests)
    assert.are.equal(BASE .. "/" .. P .. "/bind", t.requests[1].url)
    assert.are.same({ target_type = "product", target_ids = ids }, json.decode(t.requests[1].body))
    assert.are.equal(25, #r.success_targets)
  end)

  it("list: GET with the filters and page options as query", function()
    local req = prepared("device_policies.list", { app_id = "space_1", policy_name = "灯_a" },
      { page_size = 50, cursor = P, offset = 500 })
    assert.are.equal("GET", req.method)
    assert.are.equal(BASE .. "?app_id=space_1&limit=50&marker=" .. P .. "&offset=500&policy_name=%E7%81%AF_a", req.url)
    assert.is_nil(req.headers["Content-Type"])
    assert.are.equal(BASE, prepared("device_policies.list").url)
  end)

  it("list_targets: POST with the page options in the body ({} with none)", function()
    local req = prepared("device_policies.list_targets", P, { target_type = "device" },
      { page_size = 5, cursor = "ffffffffffffffffffffffff", offset = 0 })
    assert.are.equal("POST", req.method)
    assert.are.equal(BASE .. "/" .. P .. "/list-targets", req.url)
    assert.are.same({ target_type = "device", limit = 5, marker = "ffffffffffffffffffffffff", offset = 0 },
      json.decode(req.body))
    assert.are.equal("{}", prepared("device_policies.list_targets", P).body)
  end)

  it("signs Content-Type only with a body (AK/SK)", function()
    local c = iot { token = false, ak = "AKSPEC", sk = "sk-spec-value", region = "cn-north-4" }
    local get = assert(c:prepare_operation("device_policies.get", P))
    assert.matches("SignedHeaders=host;x%-sdk%-date,", get.headers.Authorization)
    local post = assert(c:prepare_operation("device_policies.create", { policy_name = "a", statement = STATEMENT }))
    assert.matches("SignedHeaders=content%-type;host;x%-sdk%-date,", post.headers.Authorization)
  end)
end)

describe("iotda device_policies validation", function()
  -- The call is refused before anything is sent, naming the field and the rule.
  local function refused(field, rule, name, ...)
    local client, t = answering(200, {})
    local service, method = name:match("^(.-)%.(.*)$")
    local ok, err = client[service][method](client[service], ...)
    assert.is_nil(ok)
    assert.are.equal("validation", err.kind)
    assert.are.equal(field, err.field, err.message)
    assert.are.equal(rule, err.rule, err.message)
    assert.are.equal(name, err.operation)
    assert.are.equal(0, #t.requests)
  end

  it("checks policy_id as 24 hexadecimal characters on every policy call", function()
    local calls = {
      { "device_policies.get" }, { "device_policies.delete" },
      { "device_policies.update", { policy_name = "a" } },
      { "device_policies.bind", { target_type = "device", target_ids = { "a" } } },
      { "device_policies.unbind", { target_type = "device", target_ids = { "a" } } },
      { "device_policies.list_targets" },
    }
    for _, c in ipairs(calls) do
      for _, bad in ipairs { "5c90fa7d3c4e4405e852507", "5c90fa7d3c4e4405e85250790", "5c90fa7d3c4e4405e852507g",
        "../../../../../../../..xx", "5c90fa7d3c4e4405e852507%", 123456789012345678, true } do
        refused("policy_id", bad == true and "type" or (type(bad) == "number" and "type" or "hex24"),
          c[1], bad, unpack(c, 2))
      end
    end
    -- either case is hexadecimal
    assert(iot():prepare_operation("device_policies.get", "5C90FA7D3C4E4405E8525079"))
  end)

  it("checks create's fields", function()
    local function create(over)
      local req = { policy_name = "p_1-x", statement = STATEMENT }
      for k, v in pairs(over) do req[k] = v end
      return req
    end
    local C = "device_policies.create"
    refused("policy", "type", C, "p")
    refused("policy_name", "required", C, { statement = STATEMENT })
    refused("policy_name", "length", C, create { policy_name = string.rep("a", 129) })
    refused("policy_name", "pattern", C, create { policy_name = "a b" })
    refused("app_id", "length", C, create { app_id = string.rep("a", 37) })
    refused("app_id", "pattern", C, create { app_id = "a.b" })
    refused("statement", "required", C, { policy_name = "a" })
    refused("statement", "length", C, create { statement = {} })
    refused("statement[1].effect", "enum", C, create { statement = { { effect = "allow", actions = { "a:b:c" },
      resources = { "t:n" } } } })
    refused("statement[1].actions[1]", "pattern", C, create { statement = { { effect = "ALLOW",
      actions = { "iotda:devices" }, resources = { "t:n" } } } })
    refused("statement[1].actions", "length", C, create { statement = { { effect = "ALLOW", actions = {},
      resources = { "t:n" } } } })
    local eleven = {}
    for i = 1, 11 do eleven[i] = "topic:/t" .. i end
    refused("statement[1].resources", "length", C, create { statement = { { effect = "DENY",
      actions = { "iotda:devices:publish" }, resources = eleven } } })
    refused("statement[1].resources[1]", "pattern", C, create { statement = { { effect = "DENY",
      actions = { "iotda:devices:publish" }, resources = { "topic /x" } } } })
    refused("statement[1].resources[1]", "pattern", C, create { statement = { { effect = "DENY",
      actions = { "iotda:devices:publish" }, resources = { "no-type" } } } })
    refused("statement[1].colour", "unknown_option", C, create { statement = { { effect = "DENY",
      actions = { "iotda:devices:publish" }, resources = { "t:n" }, colour = 1 } } })
    refused("policy.policy_id", "unknown_option", C, create { policy_id = P })
    -- the documented characters of a resource, and any service:resource:operation action
    assert(iot():prepare_operation(C, create { statement = { { effect = "DENY", actions = { "iotda:devices:publish",
      "other_svc:things:read-all" }, resources = { "topic:/v1/${devices.deviceId}/a+b/#/x?y*z=1.{a}_-:" } } } }))
  end)

  it("refuses an update with neither field (nothing to change)", function()
    refused("policy", "required", "device_policies.update", P, {})
    refused("policy_name", "pattern", "device_policies.update", P, { policy_name = "é" })
    refused("policy.app_id", "unknown_option", "device_policies.update", P, { app_id = "a" })
  end)

  it("checks the list filters and page options", function()
    local L = "device_policies.list"
    refused("policy_name", "length", L, { policy_name = string.rep("策", 257) })
    refused("policy_name", "pattern", L, { policy_name = "a<b" })
    refused("policy_name", "pattern", L, { policy_name = "\228\184" })
    refused("policy_name", "pattern", L, { policy_name = "한" })
    refused("app_id", "pattern", L, { app_id = "a b" })
    refused("query.limit", "unknown_option", L, { limit = 5 })
    refused("page_size", "range", L, nil, { page_size = 51 })
    refused("page_size", "range", L, nil, { page_size = 0 })
    refused("cursor", "hex24", L, nil, { cursor = "next" })
    refused("offset", "range", L, nil, { offset = 501 })
    refused("offset", "type", L, nil, { offset = 1.5 })
    assert(iot():prepare_operation(L, { policy_name = string.rep("策", 256) }))
    assert(iot():prepare_operation(L, { policy_name = "aZ09_?'#().,&%@!-" }))
  end)

  it("checks targets: type, ids, 20 at most for unbind only", function()
    refused("target_type", "enum", "device_policies.bind", P, { target_type = "group", target_ids = { "a" } })
    refused("target_ids", "length", "device_policies.bind", P, { target_type = "device", target_ids = {} })
    refused("target_ids[2]", "type", "device_policies.bind", P, { target_type = "device", target_ids = { "a", 2 } })
    local ids = {}
    for i = 1, 21 do ids[i] = "d" .. i end
    refused("target_ids", "length", "device_policies.unbind", P, { target_type = "device", target_ids = ids })
    assert(iot():prepare_operation("device_policies.bind", P, { target_type = "device", target_ids = ids }))
    refused("target_type", "enum", "device_policies.list_targets", P, { target_type = "DEVICE" })
  end)
end)

describe("iotda device_policies answers", function()
  local function call(status, body, name, ...)
    local client = answering(status, body)
    local service, method = name:match("^(.-)%.(.*)$")
    return client[service][method](client[service], ...)
  end

  local function decode_error(status, body, name, ...)
    local ok, err = call(status, body, name, ...)
    assert.is_nil(ok)
    assert.are.equal("decode", err.kind, err and err.message)
    return err
  end

  local CREATE = { policy_name = "testPolicy", app_id = "space_1", statement = STATEMENT }

  it("create: any 2xx is success; the Policy with checked types", function()
    for _, status in ipairs { 200, 201, 202 } do
      local p = assert(call(status, policy(), "device_policies.create", CREATE))
      assert.are.equal(P, p.policy_id)
      assert.are.same(STATEMENT, p.statement)
    end
    for _, bad in ipairs {
      policy { policy_id = "5c90fa7d3c4e4405e852507" }, policy { policy_id = 5 }, policy { policy_id = json.null },
      policy { policy_name = "another" }, policy { app_id = "space_2" }, policy { policy_name = 7 },
      policy { statement = "ALLOW" }, policy { statement = { { effect = 1, actions = {}, resources = {} } } },
      policy { statement = { { effect = "ALLOW", actions = { 1 }, resources = {} } } },
      policy { statement = { { effect = "ALLOW", actions = {}, resources = "topic:x" } } },
      policy { create_time = "2023-08-10T07:05:47Z" }, policy { update_time = 20230810 },
    } do
      local err = decode_error(201, bad, "device_policies.create", CREATE)
      assert.is_true(err.uncertain)
    end
    decode_error(201, "[]", "device_policies.create", CREATE)
    decode_error(201, "not json", "device_policies.create", CREATE)
    decode_error(201, "", "device_policies.create", CREATE)
  end)

  it("create: the service's error as an api error, never retried", function()
    local client, t = answering(400, { error_code = "IOTDA.000006", error_msg = "Invalid input data." },
      { retries = { max_attempts = 3 } })
    local _, err = client.device_policies:create(CREATE)
    assert.are.equal("api", err.kind)
    assert.are.equal("IOTDA.000006", err.code)
    assert.are.equal(1, #t.requests)
    -- a 503 may have created it: not sent again (idempotent = false)
    client, t = answering(503, "", { retries = { max_attempts = 3, base_delay = 0.001 }, sleep = function() end })
    _, err = client.device_policies:create(CREATE)
    assert.is_true(err.uncertain)
    assert.are.equal(1, #t.requests)
  end)

  it("get and update: the policy asked for", function()
    assert.are.equal(P, assert(call(200, policy(), "device_policies.get", P)).policy_id)
    assert(call(200, policy { policy_id = P:upper() }, "device_policies.get", P))
    decode_error(200, policy { policy_id = "000000000000000000000000" }, "device_policies.get", P)
    decode_error(201, policy(), "device_policies.get", P)
    assert(call(200, policy { policy_name = "renamed" }, "device_policies.update", P, { policy_name = "renamed" }))
    decode_error(200, policy(), "device_policies.update", P, { policy_name = "renamed" })
  end)

  it("delete: 204 with an empty body; the error envelope otherwise", function()
    assert.are.same({ policy_id = P }, assert(call(204, "", "device_policies.delete", P)))
    assert.are.same({ policy_id = P }, assert(call(200, {}, "device_policies.delete", P)))
    local _, err = call(404, { error_code = "IOTDA.015206", error_msg = "The device policy does not exist." },
      "device_policies.delete", P)
    assert.are.equal("api", err.kind)
    assert.are.equal("IOTDA.015206", err.code)
    decode_error(204, "<html>", "device_policies.delete", P)
  end)

  it("delete: 'does not exist' after an attempt that may have deleted it is uncertain", function()
    local answers = { { 503, "" }, { 404, '{"error_code":"IOTDA.015206","error_msg":"The device policy does not exist."}' } }
    local t = { requests = {} }
    function t.send(self, req)
      self.requests[#self.requests + 1] = req
      local a = table.remove(answers, 1)
      return { status = a[1], headers = {}, body = a[2] }
    end
    local client = assert(koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = fixtures.PROJECT_ID,
      token = "t", transport = t, retries = { max_attempts = 2, base_delay = 0.001 }, sleep = function() end })
    local _, err = client.device_policies:delete(P)
    assert.are.equal(2, #t.requests)
    assert.are.equal("IOTDA.015206", err.code)
    assert.is_true(err.uncertain)
  end)

  it("bind: every id succeeded or failed, none disappears", function()
    local T = { target_type = "device", target_ids = { "a", "b", "c" } }
    local r = assert(call(200, { policy_id = P, target_type = "device", success_targets = { "a" },
      failure_targets = { { target_id = "b", error_code = "IOTDA.015208", error_msg = "no" } } },
      "device_policies.bind", P, T))
    assert.are.same({ "a" }, r.success_targets)
    assert.are.same({ "b", "c" }, { r.failure_targets[1].target_id, r.failure_targets[2].target_id })
    assert.are.equal("KOODRIVE.UNREPORTED", r.failure_targets[2].error_code)
    decode_error(200, { success_targets = { "z" } }, "device_policies.bind", P, T)
    decode_error(200, { success_targets = { "a" }, failure_targets = { { target_id = "a" } } }, "device_policies.bind", P, T)
    decode_error(200, { target_type = "product" }, "device_policies.bind", P, T)
    decode_error(200, { policy_id = "000000000000000000000000" }, "device_policies.bind", P, T)
  end)

  local function page_body(ids, page)
    local list = {}
    for i, id in ipairs(ids) do list[i] = { policy_id = id, policy_name = "n" .. i } end
    return { policies = list, page = page }
  end
  local A, B, C = "5c90fa7d3c4e4405e8525079", "4c90fa7d3c4e4405e8525079", "3c90fa7d3c4e4405e8525079"

  it("list: a page; next is the marker of a full page", function()
    local page = assert(call(200, page_body({ A, B }, { count = 9, marker = B }), "device_policies.list", nil,
      { page_size = 2 }))
    assert.are.same({ A, B }, { page.items[1].policy_id, page.items[2].policy_id })
    assert.are.equal(B, page.next)
    assert.are.equal(9, page.total)
    page = assert(call(200, page_body({ A }, { count = 1, marker = A }), "device_policies.list", nil, { page_size = 2 }))
    assert.is_nil(page.next)
    page = assert(call(200, page_body({ A, B }, {}), "device_policies.list", nil, { page_size = 2 }))
    assert.is_nil(page.next)
    page = assert(call(200, {}, "device_policies.list"))
    assert.are.same({}, page.items)
  end)

  it("list: answers that contradict the request are decode errors", function()
    local L = "device_policies.list"
    decode_error(200, { policies = {}, page = { count = -1 } }, L)
    decode_error(200, { policies = {}, page = { count = 1.5 } }, L)
    decode_error(200, { policies = {}, page = { marker = "zz" } }, L)
    decode_error(200, { policies = {}, page = "p" }, L)
    decode_error(200, { policies = { { policy_id = "x" } } }, L)
    decode_error(200, { policies = { "p" } }, L)
    decode_error(200, { policies = { policy_id = A } }, L)
    decode_error(200, page_body({ A, A }), L)
    decode_error(200, page_body({ A, B, C }), L, nil, { page_size = 2 })
    -- at or above the marker sent
    decode_error(200, page_body({ B }), L, nil, { cursor = B })
    decode_error(200, page_body({ A }), L, nil, { cursor = B })
    assert(call(200, page_body({ C }), L, nil, { cursor = B }))
    -- the marker sent back would loop
    decode_error(200, page_body({ C }, { marker = B }), L, nil, { cursor = B, page_size = 1 })
    -- another resource space
    local bad = page_body({ A })
    bad.policies[1].app_id = "space_2"
    decode_error(200, bad, L, { app_id = "space_1" })
  end)

  it("list_targets: targets of the type asked for", function()
    local LT = "device_policies.list_targets"
    local page = assert(call(200, { targets = { { target_type = "device", target_id = "d1" } }, page = { count = 1 } },
      LT, P, { target_type = "device" }))
    assert.are.equal("d1", page.items[1].target_id)
    assert.are.equal(1, page.total)
    decode_error(200, { targets = { { target_type = "product", target_id = "p1" } } }, LT, P, { target_type = "device" })
    decode_error(200, { targets = { { target_type = "group", target_id = "p1" } } }, LT, P)
    decode_error(200, { targets = { { target_type = "device" } } }, LT, P)
    decode_error(200, { targets = "d1" }, LT, P)
  end)

  it("pages() follows the marker and stops on a short page", function()
    local answers = {
      page_body({ A, B }, { count = 3, marker = B }),
      page_body({ C }, { count = 3, marker = C }),
    }
    local t = { requests = {} }
    function t.send(self, req)
      self.requests[#self.requests + 1] = req
      return { status = 200, headers = {}, body = assert(json.encode(table.remove(answers, 1))) }
    end
    local client = assert(koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = fixtures.PROJECT_ID,
      token = "t", transport = t, retries = false })
    local all = assert(client.device_policies:all(nil, { page_size = 2 }))
    assert.are.equal(3, #all)
    assert.are.equal(2, #t.requests)
    assert.are.equal(BASE .. "?limit=2", t.requests[1].url)
    assert.are.equal(BASE .. "?limit=2&marker=" .. B, t.requests[2].url)
  end)
end)
