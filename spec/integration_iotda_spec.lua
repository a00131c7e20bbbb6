-- The IoTDA device-policy family through real libcurl against the local service on
-- 127.0.0.1, in token, AK/SK SDK-HMAC-SHA256 and AK/SK V11-HMAC-SHA256 (derived) modes:
-- the whole life of a policy, and marker paging across pages with pages()/each()/all().
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)

local POLICY = creds.iotda.policy_id
local STATEMENT = { { effect = "DENY", actions = { "iotda:devices:subscribe" },
  resources = { "topic:/v1/${devices.deviceId}/secret/#" } } }

local function reset()
  local status = server.control("/_local/reset")
  assert.are.equal(200, status)
end

local function client(mode)
  local ak, sk = next(creds.iotda.aksk)
  local config = { endpoint = server.url, project_id = creds.iotda.project_id, timeout = 10 }
  if mode == "token" then
    config.token = next(creds.iotda.tokens)
  else
    config.ak, config.sk, config.region, config.derived = ak, sk, creds.iotda.region, mode == "derived"
  end
  return assert(koodrive.iotda.new(config))
end

-- Creates policies until the instance holds `n` (the seed is one of them).
local function fill(iot, n)
  local made = {}
  for i = 2, n do
    made[#made + 1] = assert(iot.device_policies:create { policy_name = "fill_" .. i, statement = STATEMENT }).policy_id
  end
  return made
end

local function first_n(list, n)
  local out = {}
  for i = 1, n do out[i] = list[i] end
  return out
end

local function ids_of(list, key)
  local out = {}
  for i, item in ipairs(list) do out[i] = item[key or "policy_id"] end
  return out
end

for _, mode in ipairs { "token", "sdk", "derived" } do
  describe("IoTDA device policies in " .. mode .. " mode", function()
    before_each(reset)

    it("creates, gets, updates, binds, lists targets, unbinds and deletes a policy", function()
      local iot = client(mode)
      local p = assert(iot.device_policies:create { policy_name = "door_" .. mode, app_id = "space_1",
        statement = STATEMENT })
      assert.are.equal(24, #p.policy_id)
      assert.are.equal("door_" .. mode, p.policy_name)
      assert.are.equal("space_1", p.app_id)
      assert.are.same(STATEMENT, p.statement)
      local got = assert(iot.device_policies:get(p.policy_id))
      assert.are.same(p, got)
      local up = assert(iot.device_policies:update(p.policy_id, { policy_name = "door2_" .. mode }))
      assert.are.equal("door2_" .. mode, up.policy_name)
      assert.are.same(STATEMENT, up.statement)
      local bound = assert(iot.device_policies:bind(p.policy_id, { target_type = "device", target_ids = { "d1", "d2" } }))
      assert.are.same({ "d1", "d2" }, bound.success_targets)
      assert.are.same({}, bound.failure_targets)
      local page = assert(iot.device_policies:list_targets(p.policy_id, { target_type = "device" }))
      assert.are.same({ "d2", "d1" }, ids_of(page.items, "target_id"))
      assert.are.equal(2, page.total)
      assert.is_nil(page.next)
      local un = assert(iot.device_policies:unbind(p.policy_id, { target_type = "device", target_ids = { "d1", "d9" } }))
      assert.are.same({ "d1" }, un.success_targets)
      assert.are.equal("d9", un.failure_targets[1].target_id)
      assert.are.equal("IOTDA.015207", un.failure_targets[1].error_code)
      local gone = assert(iot.device_policies:delete(p.policy_id))
      assert.are.same({ policy_id = p.policy_id }, gone)
      local _, err = iot.device_policies:get(p.policy_id)
      assert.are.equal("api", err.kind)
      assert.are.equal(404, err.status)
      assert.are.equal("IOTDA.015206", err.code)
      _, err = iot.device_policies:delete(p.policy_id)
      assert.are.equal("IOTDA.015206", err.code)
      iot:close()
    end)

    it("pages through every policy by marker with pages(), each() and all()", function()
      local iot = client(mode)
      local made = fill(iot, 50)
      local _, err = iot.device_policies:create { policy_name = "one_too_many", statement = STATEMENT }
      assert.are.equal("api", err.kind)
      assert.are.equal(400, err.status)
      assert.are.equal("IOTDA.000006", err.code)
      made[#made + 1] = POLICY
      table.sort(made, function(a, b) return a > b end)

      local pages, seen = 0, {}
      for page, perr in iot.device_policies:pages(nil, { page_size = 7 }) do
        assert.is_nil(perr)
        pages = pages + 1
        assert.are.equal(50, page.total)
        for _, p in ipairs(page.items) do seen[#seen + 1] = p.policy_id end
      end
      assert.are.equal(8, pages) -- 7 full pages and one of 1
      assert.are.same(made, seen)

      local each = {}
      for p, eerr in iot.device_policies:each({}, { page_size = 50 }) do
        assert.is_nil(eerr)
        each[#each + 1] = p.policy_id
      end
      -- 50 exactly: the first page is full, the second (empty) one ends the listing
      assert.are.same(made, each)

      local all = assert(iot.device_policies:all(nil, { page_size = 9 }))
      assert.are.same(made, ids_of(all))
      local some, more = iot.device_policies:all(nil, { page_size = 9, max_items = 12 })
      assert.are.same(first_n(made, 12), ids_of(some))
      assert.is_true(more)

      -- a saved continuation resumes; offset skips within the first records
      local first = assert(iot.device_policies:list(nil, { page_size = 10 }))
      local second = assert(iot.device_policies:list(nil, { page_size = 10, cursor = first.next }))
      assert.are.equal(made[11], second.items[1].policy_id)
      local skipped = assert(iot.device_policies:list(nil, { page_size = 10, offset = 5 }))
      assert.are.equal(made[6], skipped.items[1].policy_id)
      iot:close()
    end)

    it("filters by app_id and policy_name", function()
      local iot = client(mode)
      assert(iot.device_policies:create { policy_name = "alpha_1", app_id = "space_a", statement = STATEMENT })
      assert(iot.device_policies:create { policy_name = "beta_1", statement = STATEMENT })
      local a = assert(iot.device_policies:all { app_id = "space_a" })
      assert.are.same({ "alpha_1" }, ids_of(a, "policy_name"))
      local b = assert(iot.device_policies:all { policy_name = "beta" })
      assert.are.same({ "beta_1" }, ids_of(b, "policy_name"))
      iot:close()
    end)

    it("pages through a policy's targets", function()
      local iot = client(mode)
      local ids = {}
      for i = 1, 40 do ids[i] = string.format("t_%02d", i) end
      -- no split: one bind call of 40 ids
      local bound = assert(iot.device_policies:bind(POLICY, { target_type = "device", target_ids = ids }))
      assert.are.equal(40, #bound.success_targets)
      local targets = assert(iot.device_policies:list_targets_all(POLICY, nil, { page_size = 6 }))
      assert.are.equal(43, #targets) -- and the seeded 2 devices + 1 product
      local n = 0
      for page in iot.device_policies:list_targets_pages(POLICY, { target_type = "device" }, { page_size = 20 }) do
        n = n + 1
        for _, t in ipairs(page.items) do assert.are.equal("device", t.target_type) end
      end
      assert.are.equal(3, n)
      local count = 0
      for t in iot.device_policies:list_targets_each(POLICY, { target_type = "product" }) do
        count = count + 1
        assert.are.equal("64a7ba7ef9cb063d27e16b97", t.target_id)
      end
      assert.are.equal(1, count)
      -- a server limit error surfaces as is (the local service takes 100 ids per bind)
      local many = {}
      for i = 1, 101 do many[i] = "m" .. i end
      local _, err = iot.device_policies:bind(POLICY, { target_type = "device", target_ids = many })
      assert.are.equal("IOTDA.000006", err.code)
      iot:close()
    end)
  end)
end

describe("IoTDA marker paging over more than 50 policies", function()
  before_each(reset)

  it("lists 121 seeded policies in 3 pages of 50", function()
    local status = server.control("/_local/iotda/policies?count=120")
    assert.are.equal(200, status)
    local iot = client("token")
    local sizes = {}
    for page in iot.device_policies:pages(nil, { page_size = 50 }) do sizes[#sizes + 1] = #page.items end
    assert.are.same({ 50, 50, 21 }, sizes)
    local all = assert(iot.device_policies:all(nil, { page_size = 50 }))
    assert.are.equal(121, #all)
    for i = 2, #all do assert.is_true(all[i - 1].policy_id > all[i].policy_id) end
    iot:close()
  end)
end)
