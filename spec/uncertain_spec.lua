-- Batch results tell the truth, against the local service over real libcurl: an unbind whose
-- answer is lost after the service did the work (the "trickle" fault runs the route, then
-- sends its answer too slowly for the client's timeout) is retried, hears "Resource does not
-- exist", and must be reported as uncertain - it was in fact unbound - never as refused.
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"
local faults = require "support.faults"

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)
after_each(function() assert.are.equal(200, (server.control("/_local/reset"))) end)

local function client()
  return assert(koodrive.new { endpoint = server.url, user_id = creds.koodrive.user_id,
    token = "local-token-alice", timeout = 0.6, connect_timeout = 1,
    retries = { base_delay = 0.01, max_delay = 0.05 } })
end

describe("unbind_many after an answer lost in transit", function()
  it("reports the device as uncertain with its history, not as refused, and every id once", function()
    local c = client()
    local a = assert(c.devices:bind { machineCode = "lost_answer" })
    local b = assert(c.devices:bind { machineCode = "clean_answer" })
    faults.arm(server, "trickle", { path = "/koodrive/ose/v1/backup/device/" .. a.deviceId })
    local out = assert(c.devices:unbind_many({ a.deviceId, b.deviceId, "1000000000000000001" }, { concurrency = 1 }))
    assert.are.equal(1, #out.done)
    assert.are.equal(b.deviceId, out.done[1].deviceId)
    assert.are.equal(1, #out.failed) -- never bound: refused, nothing ambiguous before
    assert.are.equal("1000000000000000001", out.failed[1].deviceId)
    assert.are.equal(13000309, out.failed[1].error.code)
    assert.are.equal(1, #out.uncertain)
    local u = out.uncertain[1]
    assert.are.equal(a.deviceId, u.deviceId)
    assert.are.equal(13000309, u.error.code)
    assert.are.equal("timeout", u.history[1].kind)
    assert.is_true(u.history[1].ambiguous)
    -- and it was in fact unbound by the attempt whose answer was lost
    local left = assert(c.devices:list())
    for _, d in ipairs(left) do assert.are_not.equal(a.deviceId, d.deviceId) end
  end)

  it("reports batchDelete's failedList after the lost answer as uncertain, not refused", function()
    local c = client()
    local group = creds.koodrive.group_id
    local m1, m2 = creds.koodrive.group_members[1], creds.koodrive.group_members[2]
    faults.arm(server, "trickle", { path = "/koodrive/ose/v1/usergroups/" .. group .. "/members/batchDelete" })
    local out = assert(c.usergroups:delete_members_many { { group, { m1, m2 } } })
    assert.are.same({}, out.deleted)
    assert.are.same({}, out.failed)
    assert.are.equal(2, #out.uncertain)
    for _, u in ipairs(out.uncertain) do
      assert.are.equal("timeout", u.history[1].kind)
      assert.are.equal(2, u.result.status) -- what the service said the second time
    end
    -- they were in fact removed by the first attempt
    local members = assert(c:call { method = "GET", path = "/koodrive/ose/v1/usergroups/" .. group .. "/members" })
    local text = require("koodrive.json").encode(members)
    assert.is_nil(text:find(m1, 1, true))
    assert.is_nil(text:find(m2, 1, true))
  end)

  it("the CLI reports such a device as uncertain (not refused) and does not crash", function()
    local c = client()
    local a = assert(c.devices:bind { machineCode = "cli_lost_answer" })
    faults.arm(server, "trickle", { path = "/koodrive/ose/v1/backup/device/" .. a.deviceId })
    local env = { KOODRIVE_ENDPOINT = server.url, KOODRIVE_USER_ID = creds.koodrive.user_id,
      KOODRIVE_TOKEN = "local-token-alice", KOODRIVE_TIMEOUT = "0.6" }
    local out, err = {}, {}
    local cli = require "koodrive.cli"
    local code = cli.main({ "devices", "unbind", a.deviceId, "--json" }, {
      out = function(s) out[#out + 1] = s end, err = function(s) err[#err + 1] = s end,
      getenv = function(name) return env[name] end })
    local doc = assert(require("koodrive.json").decode(table.concat(out)), table.concat(err))
    assert.are_not.equal(0, code)
    assert.are.equal(a.deviceId, doc.results[1].id)
    assert.is_false(doc.results[1].ok)
    assert.is_true(doc.results[1].uncertain)
  end)
end)
