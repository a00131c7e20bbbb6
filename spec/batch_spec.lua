-- Bulk helpers: bounded concurrency, progress, and every input item accounted for as done or
-- failed, also when whole calls fail at the transport level.
local koodrive = require "koodrive"
local socket = require "socket"
local local_service = require "local_service"
local creds = require "local_credentials"
local fixtures = require "support.fixtures"
local timing = require "support.timing"

local server
local POLICY = creds.iotda.policy_id

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)
after_each(function() server.control("/_local/reset") end)

local function client(extra)
  local config = { endpoint = server.url, user_id = "1000000000000000077", token = "local-token-alice",
    timeout = 10 }
  for k, v in pairs(extra or {}) do config[k] = v end
  return assert(koodrive.new(config))
end

local function iot(extra)
  local config = { endpoint = server.url, project_id = creds.iotda.project_id,
    token = next(creds.iotda.tokens), timeout = 10 }
  for k, v in pairs(extra or {}) do config[k] = v end
  return assert(koodrive.iotda.new(config))
end

local function targets(prefix, n)
  local t = {}
  for i = 1, n do t[i] = string.format("%s_%03d", prefix, i) end
  return t
end

-- Binds ids to the policy, 20 per call, through the generic call.
local function bind_targets(i, ids)
  for first = 1, #ids, 20 do
    local chunk = {}
    for k = first, math.min(first + 19, #ids) do chunk[#chunk + 1] = ids[k] end
    assert(i:call { method = "POST",
      path = "/v5/iot/" .. creds.iotda.project_id .. "/device-policies/" .. POLICY .. "/bind",
      body = { target_type = "device", target_ids = chunk } })
  end
end

-- Every id appears exactly once across the given lists of ids.
local function assert_accounted(ids, ...)
  local seen = {}
  for _, list in ipairs { ... } do
    for _, id in ipairs(list) do
      assert.is_nil(seen[id], "id reported twice: " .. id)
      seen[id] = true
    end
  end
  for _, id in ipairs(ids) do assert.is_true(seen[id], "id not reported: " .. id) end
end

describe("devices:unbind_many", function()
  it("reports mixed success item by item, with progress", function()
    local c = client()
    local ids = {}
    for i = 1, 3 do ids[#ids + 1] = assert(c.devices:bind { machineCode = "bulk_" .. i }).deviceId end
    table.insert(ids, 2, "1000000000000000009")
    local seen = {}
    local out = assert(c.devices:unbind_many(ids, { concurrency = 2,
      progress = function(done, total, id, result, err)
        seen[#seen + 1] = { done = done, total = total, id = id, ok = result ~= nil, err = err }
      end }))
    assert.are.equal(3, #out.done)
    assert.are.equal(1, #out.failed)
    assert.are.equal("1000000000000000009", out.failed[1].deviceId)
    assert.are.equal("api", out.failed[1].error.kind)
    assert.are.equal(13000309, out.failed[1].error.code)
    for _, d in ipairs(out.done) do assert.are.equal(d.deviceId, d.device.deviceId) end
    assert.are.equal(4, #seen)
    for i, p in ipairs(seen) do
      assert.are.equal(i, p.done)
      assert.are.equal(4, p.total)
    end
    assert.are.same({}, assert(c.devices:list()))
  end)

  it("keeps at most `concurrency` calls in flight", function()
    local c = client()
    local ids = {}
    for i = 1, 6 do ids[i] = assert(c.devices:bind { machineCode = "conc_" .. i }).deviceId end
    assert.are.equal(200, server.control("/_local/delay?ms=200"))
    local t0 = socket.gettime()
    local out = assert(c.devices:unbind_many(ids, { concurrency = 2 }))
    local elapsed = socket.gettime() - t0
    assert.are.equal(6, #out.done)
    -- 6 calls of 200 ms, 2 at a time: three rounds (all at once would be one, one by one six)
    assert.is_true(elapsed >= 0.55, string.format("took %.2f s: more than 2 in flight?", elapsed))
    assert.is_true(elapsed < timing.limit(1.1), string.format("took %.2f s: calls did not overlap", elapsed))
  end)

  it("reports every item failed when the service cannot be reached", function()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    local c = client { endpoint = "http://127.0.0.1:" .. port }
    local out = assert(c.devices:unbind_many({ "1", "2", "3" }))
    assert.are.equal(0, #out.done)
    assert.are.equal(3, #out.failed)
    for i, f in ipairs(out.failed) do
      assert.are.equal(tostring(i), f.deviceId)
      assert.are.equal("transport", f.error.kind)
    end
  end)

  it("refuses a bad id before sending anything", function()
    local spy = fixtures.never()
    local c = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t", transport = spy })
    local out, err = c.devices:unbind_many({ "1", "../2" })
    assert.is_nil(out)
    assert.are.equal("validation", err.kind)
    assert.are.equal("deviceIds[2]", err.field)
    assert.are.equal(0, #spy.requests)
    out, err = c.devices:unbind_many({ "1" }, { concurrency = 0 })
    assert.is_nil(out)
    assert.are.equal("concurrency", err.field)
  end)
end)

describe("usergroups:delete_members_many", function()
  it("accounts for every id across groups, partial and failed calls included", function()
    local c = client()
    local members = creds.koodrive.group_members
    local out = assert(c.usergroups:delete_members_many({
      { creds.koodrive.group_id, { members[1], "1111111111111111111" } },
      { "999999999", { members[2] } },
    }))
    assert.are.same({ { groupId = creds.koodrive.group_id, userId = members[1] } }, out.deleted)
    assert.are.equal(2, #out.failed)
    assert.are.equal("1111111111111111111", out.failed[1].userId)
    assert.is_true(out.failed[1].refused)
    assert.are.equal(members[2], out.failed[2].userId)
    assert.are.equal("999999999", out.failed[2].groupId)
    assert.are.equal(13000309, out.failed[2].error.code)
    assert.are.equal(1, out.groups[1].result.status)
    assert.are.equal("api", out.groups[2].error.kind)
  end)
end)

describe("device_policies:unbind_all", function()
  it("splits more than 20 targets into calls of 20 and reports each target", function()
    local i = iot()
    local bound, unbound = targets("bound", 23), targets("unbound", 22)
    bind_targets(i, bound)
    local all = {}
    for k = 1, 23 do all[#all + 1] = bound[k]; if unbound[k] then all[#all + 1] = unbound[k] end end
    local out = assert(i.device_policies:unbind_all(POLICY, { target_type = "device", target_ids = all },
      { concurrency = 2 }))
    assert.are.equal(3, out.calls)
    assert.are.equal(23, #out.success_targets)
    assert.are.equal(22, #out.failure_targets)
    local failed = {}
    for _, f in ipairs(out.failure_targets) do
      failed[#failed + 1] = f.target_id
      assert.are.equal("IOTDA.015207", f.error_code)
    end
    assert_accounted(all, out.success_targets, failed)
  end)

  -- A reset may come after the request reached the service (issue 10: "Batch results tell the
  -- truth"): its targets may have been unbound, so they are uncertain, not failed.
  it("reports every target of a call reset at the transport level as uncertain", function()
    local inner = koodrive.transport.curl()
    local calls = 0
    local flaky = { send = function(_, req)
      calls = calls + 1
      if calls == 2 then return nil, "connection reset by peer" end
      return inner:send(req)
    end }
    local i = iot { transport = flaky, retries = false }
    local ids = targets("flaky", 45)
    bind_targets(iot(), ids)
    local out = assert(i.device_policies:unbind_all(POLICY, { target_type = "device", target_ids = ids }))
    assert.are.equal(3, out.calls)
    assert.are.equal(25, #out.success_targets)
    assert.are.equal(0, #out.failure_targets)
    assert.are.equal(20, #out.uncertain_targets)
    local failed = {}
    for _, f in ipairs(out.uncertain_targets) do
      assert.is_true(f.error.uncertain)
      assert.are.equal(1, #f.history)
      failed[#failed + 1] = f.target_id
      assert.are.equal("KOODRIVE.TRANSPORT", f.error_code)
      assert.are.equal("transport", f.error.kind)
    end
    assert.are.same(targets("flaky", 40), (function()
      local t = {}
      for k = 1, 20 do t[k] = ids[k] end
      for k = 1, 20 do t[20 + k] = failed[k] end
      return t
    end)())
    assert_accounted(ids, out.success_targets, failed)
    inner:close()
  end)

  it("validates every chunk before sending any", function()
    local spy = fixtures.never()
    local i = assert(koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = "p", token = "t",
      transport = spy })
    local ids = targets("v", 30)
    ids[25] = "bad\nid"
    local out, err = i.device_policies:unbind_all(POLICY, { target_type = "device", target_ids = ids })
    assert.is_nil(out)
    assert.are.equal("validation", err.kind)
    assert.are.equal("target_ids[25]", err.field)
    out, err = i.device_policies:unbind_all(POLICY, { target_type = "group", target_ids = { "a" } })
    assert.is_nil(out)
    assert.are.equal("target_type", err.field)
    assert.are.equal(0, #spy.requests)
  end)

  it("runs on the current loop inside koodrive.run", function()
    local i = iot()
    local ids = targets("inrun", 25)
    bind_targets(i, ids)
    local out = koodrive.run(function()
      return assert(i.device_policies:unbind_all(POLICY, { target_type = "device", target_ids = ids }))
    end)
    assert.are.equal(25, #out.success_targets)
    assert.are.equal(2, out.calls)
  end)
end)
