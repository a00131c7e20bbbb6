-- batch_job.lua: the bulk tasks automation scripts run, with bounded concurrency and a
-- progress line, accounting for every item. Configured like quickstart.lua.
local koodrive = require "koodrive"

local env = os.getenv
local client = assert(koodrive.default())

-- A progress line every 5 items and at the end.
local function progress(label)
  return function(done, total)
    if done % 5 == 0 or done == total then print(string.format("  %s: %d/%d", label, done, total)) end
  end
end

-- 1. Unbind many devices (here: bind 12 first, then unbind them plus one unknown id).
local ids = {}
for i = 1, 12 do ids[i] = assert(client.devices:bind { machineCode = "batch_" .. i }).deviceId end
ids[#ids + 1] = "1000000000000000009"
local out = assert(client.devices:unbind_many(ids, { concurrency = 4, progress = progress("unbind devices") }))
print(string.format("unbound %d, failed %d", #out.done, #out.failed))
for _, f in ipairs(out.failed) do print("  " .. f.deviceId .. ": " .. tostring(f.error)) end

-- 2. Delete members from several groups at once.
local members = {}
for id in (env("KOODRIVE_MEMBER_IDS") or ""):gmatch("[^,]+") do members[#members + 1] = id end
local groups = assert(client.usergroups:delete_members_many({
  { env("KOODRIVE_GROUP_ID"), members },
  { "999999999", { "3432423464657862424" } },
}, { progress = progress("delete members") }))
print(string.format("deleted %d, failed %d", #groups.deleted, #groups.failed))
for _, f in ipairs(groups.failed) do
  print(string.format("  group %s user %s: %s", f.groupId, f.userId,
    f.refused and "refused by the service" or tostring(f.error)))
end

-- 3. Unbind more policy targets than one call takes (calls of 20).
local iot = assert(koodrive.iotda.new {
  endpoint = env("IOTDA_ENDPOINT"), project_id = env("IOTDA_PROJECT_ID"),
  ak = env("IOTDA_AK"), sk = env("IOTDA_SK"), region = env("IOTDA_REGION"),
})
local policy, targets = env("IOTDA_POLICY_ID"), {}
for i = 1, 45 do targets[i] = string.format("batch_target_%02d", i) end
for first = 1, 45, 20 do -- bind them first, through the generic call
  local chunk = {}
  for i = first, math.min(first + 19, 45) do chunk[#chunk + 1] = targets[i] end
  assert(iot:call { method = "POST", path = "/v5/iot/" .. env("IOTDA_PROJECT_ID") ..
    "/device-policies/" .. policy .. "/bind", body = { target_type = "device", target_ids = chunk } })
end
targets[46] = "never_bound_target"
local r = assert(iot.device_policies:unbind_all(policy, { target_type = "device", target_ids = targets },
  { concurrency = 3, progress = progress("unbind targets") }))
print(string.format("%d calls: %d unbound, %d failed", r.calls, #r.success_targets, #r.failure_targets))
for _, f in ipairs(r.failure_targets) do print("  " .. f.target_id .. ": " .. f.error_code) end
