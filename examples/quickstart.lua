-- quickstart.lua: every koodrive operation once, printed readably.
--
-- Configuration comes from the environment (the demo sets it for the local service):
--   KOODRIVE_ENDPOINT, KOODRIVE_USER_ID, KOODRIVE_TOKEN (or KOODRIVE_APP_ID + KOODRIVE_APP_SECRET)
--   KOODRIVE_GROUP_ID, KOODRIVE_MEMBER_IDS (comma-separated user ids to remove from the group)
--   IOTDA_ENDPOINT, IOTDA_PROJECT_ID, IOTDA_AK + IOTDA_SK (or IOTDA_TOKEN), IOTDA_REGION,
--   IOTDA_POLICY_ID, IOTDA_TARGET_IDS (comma-separated device ids to unbind from the policy)
local koodrive = require "koodrive"

local env = os.getenv

local function list(s)
  local out = {}
  for item in (s or ""):gmatch("[^,%s]+") do out[#out + 1] = item end
  return out
end

-- Stops with the error's log line: it never contains a secret.
local function check(result, err)
  if result == nil then
    io.stderr:write(tostring(err), "\n")
    os.exit(1)
  end
  return result
end

local function show_device(d)
  return string.format("%s  %-12s %-10s %-8s %s", d.deviceId, d.machineCode, d.deviceName or "-",
    d.deviceOS or "-", d.createTime)
end

-- The default client reads KOODRIVE_ENDPOINT, KOODRIVE_USER_ID and the credentials.
local client = check(koodrive.default())
print("client: " .. tostring(client))

print("\n== bind a device")
local device = check(client.devices:bind { machineCode = "20251217", deviceName = "Magic-v5", deviceOS = "android" })
print("bound    " .. show_device(device))

print("\n== list devices")
for _, d in ipairs(check(client.devices:list())) do print("         " .. show_device(d)) end

print("\n== unbind the device")
print("unbound  " .. show_device(check(client.devices:unbind(device.deviceId))))

print("\n== delete members from a user group")
local group = env("KOODRIVE_GROUP_ID")
local result = check(client.usergroups:delete_members(group, list(env("KOODRIVE_MEMBER_IDS"))))
print(string.format("group %s: status %d (0 all deleted, 1 partly, 2 none)", group, result.status))
for _, id in ipairs(result.deleted) do print("  deleted  " .. id) end
for _, id in ipairs(result.failedList) do print("  failed   " .. id) end

print("\n== unbind targets from an IoTDA device policy")
local iot = check(koodrive.iotda.new {
  endpoint = env("IOTDA_ENDPOINT"), project_id = env("IOTDA_PROJECT_ID"),
  ak = env("IOTDA_AK"), sk = env("IOTDA_SK"), token = env("IOTDA_TOKEN"), region = env("IOTDA_REGION"),
})
print("client: " .. tostring(iot))
local unbound = check(iot.device_policies:unbind(env("IOTDA_POLICY_ID"),
  { target_type = "device", target_ids = list(env("IOTDA_TARGET_IDS")) }))
print("policy " .. unbound.policy_id .. " (" .. unbound.target_type .. ")")
for _, id in ipairs(unbound.success_targets) do print("  unbound  " .. id) end
for _, f in ipairs(unbound.failure_targets) do
  print(string.format("  failed   %s  %s %s", f.target_id, f.error_code, f.error_msg))
end
