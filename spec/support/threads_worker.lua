-- threads_worker: what each thread of spec/support/threads_harness.c runs, in a lua_State of
-- its own, right after the threads were released together from a barrier.
--
--   worker(index, url, rounds) -> "N koodrive calls ok, N iotda calls ok" | raises
--
-- Everything signs: a KooDrive client in app mode (HMAC-SHA256) and two IoTDA clients with
-- AK/SK (SDK-HMAC-SHA256 and V11-HMAC-SHA256 derived signing), so the first `require
-- "koodrive"`, the first load of koodrive.sign and koodrive.curl and the first signature of
-- every thread race. Each round binds a device of this thread's own user (blocking handle) and
-- binds and unbinds a policy target of its own; then all the devices are unbound in one
-- batch (libcurl multi handle, four in flight), and a file goes up in two parallel parts and
-- comes back. Every answer is checked: a wrong signature
-- would be refused by the local service (401), a mixed-up answer would not match.
local index, url, rounds = ...
local koodrive = require "koodrive"
local creds = require "local_credentials"

local function fail(fmt, ...) error(string.format("thread %d: " .. fmt, index, ...), 0) end

local function ok(what, res, err)
  if res == nil then fail("%s: %s", what, tostring(err)) end
  return res
end

local app_id, app_secret = next(creds.koodrive.apps)
local ak, sk = next(creds.iotda.aksk)
local project, policy = creds.iotda.project_id, creds.iotda.policy_id
local user = string.format("71%017d", index) -- a 19-digit user id no other thread uses

local kd = ok("koodrive.new", koodrive.new { endpoint = url, user_id = user, app_id = app_id,
  app_secret = app_secret, timeout = 30, connect_timeout = 10 })
local iots = {}
for _, derived in ipairs { false, true } do
  iots[#iots + 1] = ok("koodrive.iotda.new", koodrive.iotda.new { endpoint = url, project_id = project,
    ak = ak, sk = sk, region = creds.iotda.region, derived = derived, timeout = 30 })
end

local kd_calls, iot_calls, bound = 0, 0, {}
local before = ok("devices:list", kd.devices:list())
kd_calls = kd_calls + 1
for round = 1, rounds do
  local code = string.format("thread%d_round%d", index, round)
  local device = ok("devices:bind", kd.devices:bind { machineCode = code, deviceName = "Thread " .. index,
    deviceOS = "android" })
  if device.machineCode ~= code then fail("bound %s, got %s", code, tostring(device.machineCode)) end
  bound[round] = device.deviceId
  kd_calls = kd_calls + 1

  local iot = iots[round % 2 + 1] -- SDK and V11 in turn
  local target, never = "thread_target_" .. code, "never_bound_" .. code
  ok("policy bind", iot:call { method = "POST", path = "/v5/iot/" .. project .. "/device-policies/" .. policy .. "/bind",
    body = { target_type = "device", target_ids = { target } } })
  local result = ok("device_policies:unbind", iot.device_policies:unbind(policy,
    { target_type = "device", target_ids = { target, never } }))
  local s, f = result.success_targets, result.failure_targets
  if #s ~= 1 or s[1] ~= target then fail("success_targets %s, not %s", table.concat(s, ","), target) end
  if #f ~= 1 or f[1].target_id ~= never or f[1].error_code ~= "IOTDA.015207" then
    fail("failure_targets do not name %s with IOTDA.015207", never)
  end
  iot_calls = iot_calls + 2
end
-- The unbinds go through the libcurl multi handle of a loop, four in flight at a time.
local unbound = ok("devices:unbind_many", kd.devices:unbind_many(bound, { concurrency = 4 }))
if #unbound.failed > 0 then fail("unbind_many: %s", tostring(unbound.failed[1].error)) end
for i, d in ipairs(unbound.done) do
  if d.deviceId ~= bound[i] or d.device.deviceId ~= bound[i] then fail("unbind_many mixed up %s", bound[i]) end
end
kd_calls = kd_calls + #unbound.done
-- A transfer: the part hasher and a parts engine (a multi handle of its own) in every thread
-- at once; 5 KooDrive calls (spaces:mine, create, complete, detail, download).
local space = ok("spaces:mine", kd.spaces:mine()).containerId
local data = string.rep(string.char(64 + index), 5242880 + 4096 * index)
local up = ok("files:upload", kd.files:upload({ data = data }, { containerId = space, autoRename = 2,
  fileName = "thread" .. index .. ".bin", concurrency = 2 }))
if up.parts ~= 2 then fail("uploaded in %s parts, not 2", tostring(up.parts)) end
local dest = os.tmpname()
ok("files:download", kd.files:download(up.fileId, dest, { containerId = space, overwrite = true }))
local f = assert(io.open(dest, "rb"))
local back = f:read("*a")
f:close()
os.remove(dest)
if back ~= data then fail("downloaded %d bytes that are not the %d uploaded", #back, #data) end
kd_calls = kd_calls + 5
local after = ok("devices:list", kd.devices:list())
kd_calls = kd_calls + 1
if #after ~= #before then fail("%d devices before the rounds, %d after", #before, #after) end

kd:close()
for _, iot in ipairs(iots) do iot:close() end
return string.format("%d koodrive calls ok, %d iotda calls ok", kd_calls, iot_calls)
