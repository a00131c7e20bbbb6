-- Spec of the local service's IoTDA device-policy routes (server/koodrive_local/iotda_routes.lua
-- and iotda_policies.lua), in-process: requests go to the service's handler as nginx would
-- hand them over, authenticated with a token or signed with server/koodrive_local/auth.lua's
-- own SDK-HMAC-SHA256 and V11-HMAC-SHA256 functions (the server's oracle, never the
-- library's signer). The library against the service over HTTP is integration_iotda_spec.
local cjson = require("cjson").new()
local auth = require "koodrive_local.auth"
local service = require "koodrive_local.init"
local routes = require "koodrive_local.iotda_routes"

local creds = dofile("server/local_credentials.lua")

local HOST = "127.0.0.1:8080"
local POLICY = creds.iotda.policy_id
local BASE = "/v5/iot/" .. creds.iotda.project_id .. "/device-policies"
local AK, SK = next(creds.iotda.aksk)
local STATEMENT = { { effect = "ALLOW", actions = { "iotda:devices:publish" }, resources = { "topic:/v1/a" } } }

-- Request headers for `mode` ("token", "sdk", "v11"), signed over method, path, query, body.
local function headers_for(mode, method, path, query, body)
  if mode == "token" then return { host = HOST, ["x-auth-token"] = "local-iam-token" } end
  local h = { host = HOST, ["x-sdk-date"] = auth.compact_date(os.time()) }
  local signed = { "host", "x-sdk-date" }
  if body ~= "" then
    h["content-type"] = "application/json"
    signed = { "content-type", "host", "x-sdk-date" }
  end
  local creq = assert(auth.canonical_request { method = method, path = path, query = query, headers = h,
    body = body, signed = signed })
  if mode == "sdk" then
    h.authorization = auth.sdk_authorization(AK, signed, auth.sdk_signature(SK, h["x-sdk-date"], creq))
  else
    local info = auth.v11_info(h["x-sdk-date"], creds.iotda.region, creds.iotda.service)
    h.authorization = auth.v11_authorization(AK, info, signed, auth.v11_signature(AK, SK, h["x-sdk-date"], info, creq))
  end
  return h
end

local function new_service()
  local svc = service.new(creds)
  local function call(mode, method, path, query, body)
    if type(body) == "table" then body = cjson.encode(body) end
    body = body or ""
    local req = { method = method, path = path, query = query, body = body,
      headers = headers_for(mode, method, path, query, body) }
    local status, headers, text = svc:handle(req, function() end)
    local ok, doc = pcall(cjson.decode, text)
    return { status = status, headers = headers, body = text, json = ok and doc or nil }
  end
  return svc, call
end

local function created(call, mode, name)
  local r = call(mode, "POST", BASE, nil, { policy_name = name, statement = STATEMENT })
  assert.are.equal(201, r.status, r.body)
  return r.json
end

for _, mode in ipairs { "token", "sdk", "v11" } do
  describe("local IoTDA device policies (" .. mode .. ")", function()
    it("creates, shows, updates and deletes a policy; delete unbinds its targets", function()
      local _, call = new_service()
      local p = created(call, mode, "lamp_" .. mode)
      assert.matches("^%x+$", p.policy_id)
      assert.are.equal(24, #p.policy_id)
      assert.matches("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$", p.create_time)
      assert.are.same(STATEMENT, p.statement)
      local path = BASE .. "/" .. p.policy_id
      local shown = call(mode, "GET", path)
      assert.are.equal(200, shown.status)
      assert.are.same(p, shown.json)
      local up = call(mode, "PUT", path, nil, { policy_name = "renamed" })
      assert.are.equal(200, up.status)
      assert.are.equal("renamed", up.json.policy_name)
      assert.are.same(STATEMENT, up.json.statement)
      assert.are.equal(200, call(mode, "POST", path .. "/bind", nil,
        { target_type = "product", target_ids = { "prod_1" } }).status)
      local del = call(mode, "DELETE", path)
      assert.are.equal(204, del.status)
      assert.are.equal("", del.body)
      local gone = call(mode, "GET", path)
      assert.are.equal(404, gone.status)
      assert.are.same({ error_code = "IOTDA.015206", error_msg = "The device policy does not exist." }, gone.json)
      assert.are.equal(404, call(mode, "POST", path .. "/list-targets", nil, {}).status)
    end)

    it("refuses what breaks the documented rules with IOTDA.000006 (400)", function()
      local _, call = new_service()
      local bad = {
        { "POST", BASE, { policy_name = "a b", statement = STATEMENT } },
        { "POST", BASE, { policy_name = string.rep("a", 129), statement = STATEMENT } },
        { "POST", BASE, { policy_name = "ok", app_id = string.rep("a", 37), statement = STATEMENT } },
        { "POST", BASE, { policy_name = "ok", statement = {} } },
        { "POST", BASE, { policy_name = "ok", statement = { { effect = "allow", actions = { "a:b:c" },
          resources = { "topic:x" } } } } },
        { "POST", BASE, { policy_name = "ok", statement = { { effect = "DENY", actions = { "a:b" },
          resources = { "topic:x" } } } } },
        { "PUT", BASE .. "/" .. POLICY, {} },
        { "GET", BASE .. "/" .. "5c90fa7d3c4e4405e852507g" },
        { "POST", BASE .. "/" .. POLICY .. "/unbind", { target_type = "device", target_ids = {} } },
        { "POST", BASE .. "/" .. POLICY .. "/list-targets", { limit = 51 } },
        { "POST", BASE .. "/" .. POLICY .. "/list-targets", { target_type = "group" } },
        { "POST", BASE .. "/" .. POLICY .. "/list-targets", "[1]" },
      }
      for i, b in ipairs(bad) do
        local r = call(mode, b[1], b[2], nil, b[3])
        assert.are.equal(400, r.status, "case " .. i)
        assert.are.equal("IOTDA.000006", r.json.error_code, "case " .. i)
      end
      for _, q in ipairs { "limit=0", "limit=51", "offset=501", "marker=zz", "app_id=a%20b" } do
        assert.are.equal(400, call(mode, "GET", BASE, q).status, q)
      end
    end)

    it("holds at most 50 policies per instance", function()
      local _, call = new_service()
      for i = 2, 50 do created(call, mode, "p" .. i) end
      local r = call(mode, "POST", BASE, nil, { policy_name = "one_too_many", statement = STATEMENT })
      assert.are.equal(400, r.status)
      assert.are.equal("IOTDA.000006", r.json.error_code)
      assert.truthy(r.json.error_msg:find("50", 1, true))
    end)

    it("lists in descending id order below the marker, with offset, limit and page", function()
      local _, call = new_service()
      local ids = { POLICY }
      for i = 1, 12 do ids[#ids + 1] = created(call, mode, "list_" .. i).policy_id end
      table.sort(ids, function(a, b) return a > b end)
      local first = call(mode, "GET", BASE, "limit=5")
      assert.are.equal(200, first.status)
      local got = {}
      for i, p in ipairs(first.json.policies) do got[i] = p.policy_id; assert.is_nil(p.statement) end
      assert.are.same({ ids[1], ids[2], ids[3], ids[4], ids[5] }, got)
      assert.are.same({ count = 13, marker = ids[5] }, first.json.page)
      local second = call(mode, "GET", BASE, "limit=5&marker=" .. ids[5]:upper() .. "&offset=2")
      assert.are.equal(ids[8], second.json.policies[1].policy_id)
      assert.are.equal(5, #second.json.policies)
      local last = call(mode, "GET", BASE, "marker=" .. ids[11])
      assert.are.equal(2, #last.json.policies)
      assert.are.equal(POLICY == ids[13] and POLICY or ids[13], last.json.page.marker)
      local named = call(mode, "GET", BASE, "policy_name=list_1")
      assert.are.equal(4, #named.json.policies) -- list_1, list_10, list_11, list_12
      local space = call(mode, "GET", BASE, "app_id=" .. creds.iotda.policy_app_id)
      assert.are.equal(1, #space.json.policies)
      assert.are.equal(POLICY, space.json.policies[1].policy_id)
      local empty = call(mode, "GET", BASE, "marker=000000000000000000000000")
      assert.are.same({}, empty.json.policies)
      assert.is_nil(empty.json.page.marker)
      assert.truthy(empty.body:find('"policies":[]', 1, true))
    end)

    it("binds, unbinds and lists targets with marker paging", function()
      local _, call = new_service()
      local path = BASE .. "/" .. POLICY
      local ids = {}
      for i = 1, 30 do ids[i] = string.format("dev_%02d", i) end
      local bound = call(mode, "POST", path .. "/bind", nil, { target_type = "device", target_ids = ids })
      assert.are.equal(200, bound.status)
      assert.are.equal(30, #bound.json.success_targets)
      local too_many = {}
      for i = 1, 101 do too_many[i] = "x" .. i end
      assert.are.equal(400, call(mode, "POST", path .. "/bind", nil,
        { target_type = "device", target_ids = too_many }).status)
      -- seeded: 2 devices and 1 product; 33 in all
      local seen, marker, pages = {}, nil, 0
      repeat
        local r = call(mode, "POST", path .. "/list-targets", nil, { limit = 8, marker = marker })
        assert.are.equal(200, r.status)
        assert.are.equal(33, r.json.page.count)
        for _, t in ipairs(r.json.targets) do
          assert.is_nil(seen[t.target_type .. ":" .. t.target_id])
          seen[t.target_type .. ":" .. t.target_id] = true
        end
        marker, pages = r.json.page.marker, pages + 1
      until #r.json.targets < 8
      assert.are.equal(5, pages)
      local n = 0
      for _ in pairs(seen) do n = n + 1 end
      assert.are.equal(33, n)
      local products = call(mode, "POST", path .. "/list-targets", nil, { target_type = "product" })
      assert.are.same({ { target_type = "product", target_id = "64a7ba7ef9cb063d27e16b97" } }, products.json.targets)
      local un = call(mode, "POST", path .. "/unbind", nil, { target_type = "device", target_ids = { "dev_01", "nope" } })
      assert.are.same({ "dev_01" }, un.json.success_targets)
      assert.are.equal("nope", un.json.failure_targets[1].target_id)
      assert.are.equal("IOTDA.015207", un.json.failure_targets[1].error_code)
      -- an empty body is {} for list-targets
      assert.are.equal(10, #call(mode, "POST", path .. "/list-targets", nil, "").json.targets)
    end)
  end)
end

describe("local IoTDA gateway", function()
  it("refuses a request without credentials, a wrong token and another project", function()
    local svc = service.new(creds)
    local function raw(headers, path)
      local s, _, b = svc:handle({ method = "GET", path = path or BASE, headers = headers, body = "" }, function() end)
      return s, cjson.decode(b)
    end
    local s, doc = raw { host = HOST }
    assert.are.equal(401, s)
    assert.are.equal("APIGW.0301", doc.error_code)
    s, doc = raw { host = HOST, ["x-auth-token"] = "not-a-token" }
    assert.are.equal(401, s)
    assert.are.equal("APIGW.0307", doc.error_code)
    s, doc = raw({ host = HOST, ["x-auth-token"] = "local-iam-token" }, "/v5/iot/other/device-policies")
    assert.are.equal(404, s)
    assert.are.equal("APIGW.0101", doc.error_code)
  end)

  it("refuses a signature over another body", function()
    local _, call = new_service()
    local svc = service.new(creds)
    local body = cjson.encode { policy_name = "a", statement = STATEMENT }
    local h = headers_for("sdk", "POST", BASE, nil, body)
    local s = svc:handle({ method = "POST", path = BASE, headers = h, body = body:gsub('"a"', '"b"') }, function() end)
    assert.are.equal(401, s)
    assert.are.equal(201, call("sdk", "POST", BASE, nil, body).status)
  end)
end)

describe("local IoTDA control: seeding policies", function()
  it("adds N policies past the cap, listed by marker across more than 50", function()
    local svc, call = new_service()
    local s, _, text = routes.control(svc, { method = "POST", query = "count=70" })
    assert.are.equal(200, s)
    local doc = cjson.decode(text)
    assert.are.equal(70, #doc.policy_ids)
    assert.are.equal(71, doc.total)
    local all, marker = {}, nil
    repeat
      local r = call("token", "GET", BASE, "limit=50" .. (marker and ("&marker=" .. marker) or ""))
      for _, p in ipairs(r.json.policies) do all[#all + 1] = p.policy_id end
      marker = r.json.page.marker
    until #r.json.policies < 50
    assert.are.equal(71, #all)
    for i = 2, #all do assert.is_true(all[i - 1] > all[i]) end
    assert.are.equal(POLICY, all[71])
    -- the cap still holds for create
    assert.are.equal(400, call("token", "POST", BASE, nil, { policy_name = "x", statement = STATEMENT }).status)
    -- a reset brings the seed back
    svc:clear()
    assert.are.equal(1, #call("token", "GET", BASE).json.policies)
  end)

  it("refuses a bad count and other methods", function()
    local svc = service.new(creds)
    for _, q in ipairs { "count=0", "count=1001", "count=x", "" } do
      assert.are.equal(400, (routes.control(svc, { method = "POST", query = q })), q)
    end
    assert.are.equal(405, (routes.control(svc, { method = "GET", query = "count=1" })))
  end)
end)
