--- Turning decoded responses into results.
-- Each function takes (body, args) - the decoded response body and the validated
-- arguments of the call - and returns the result, or nil and a message for a "decode" error.
-- Results keep the service's field names.
local json = require "koodrive.json"

local shape = {}

local function is_device(v)
  return type(v) == "table" and type(v.deviceId) == "string"
end

-- Integer ids that fit a double may arrive as numbers: results always carry strings.
-- Only whole numbers below 2^53 are ids: string.format("%d") raises for a fraction on
-- Lua 5.3+ and truncates it on 5.1/5.2, so anything else is refused here on every version.
local function id_string(v)
  if type(v) == "number" then
    if v % 1 == 0 and v > -2 ^ 53 and v < 2 ^ 53 then return string.format("%d", v) end
    return nil
  end
  if type(v) == "string" then return v end
  return nil
end

--- devices.list: the `data` array of BoundDeviceEntity (absent or null means none).
function shape.device_list(body)
  local data = body.data
  if data == nil or data == json.null then return {} end
  if type(data) ~= "table" then return nil, "'data' is not an array of devices" end
  for i, d in ipairs(data) do
    if not is_device(d) then return nil, "'data[" .. i .. "]' is not a device entity" end
  end
  return data
end

--- devices.bind / devices.unbind: the BoundDeviceEntity in `data`.
function shape.device(body)
  if not is_device(body.data) then return nil, "'data' is not a device entity with a deviceId" end
  return body.data
end

--- usergroups.delete_members: every requested id ends up in exactly one of
-- `failedList` / `deleted`. A missing status with code 0 means all were deleted.
function shape.delete_members(body, args)
  local failed_raw = body.failedList
  if failed_raw == nil or failed_raw == json.null then failed_raw = {} end
  if type(failed_raw) ~= "table" then return nil, "'failedList' is not an array" end
  local failed, is_failed = {}, {}
  for i, v in ipairs(failed_raw) do
    local id = id_string(v)
    if not id then return nil, "'failedList[" .. i .. "]' is not a user id" end
    if not is_failed[id] then
      is_failed[id] = true
      failed[#failed + 1] = id
    end
  end
  local deleted = {}
  for _, id in ipairs(args.userIds) do
    if not is_failed[id] then deleted[#deleted + 1] = id end
  end
  local status = body.status
  if status == nil or status == json.null then
    status = (#failed == 0 and 0) or (#deleted == 0 and 2) or 1
  elseif type(status) ~= "number" then
    return nil, "'status' is not a number"
  end
  return { status = status, failedList = failed, deleted = deleted }
end

--- device_policies.unbind: every requested target is reported as succeeded or failed.
-- A target the service left out of both lists is reported as failed with
-- error_code "KOODRIVE.UNREPORTED": nothing silently disappears.
function shape.policy_unbind(body, args)
  local success_raw = body.success_targets
  local failure_raw = body.failure_targets
  if success_raw == nil or success_raw == json.null then success_raw = {} end
  if failure_raw == nil or failure_raw == json.null then failure_raw = {} end
  if type(success_raw) ~= "table" then return nil, "'success_targets' is not an array" end
  if type(failure_raw) ~= "table" then return nil, "'failure_targets' is not an array" end
  local seen, success, failure = {}, {}, {}
  for i, v in ipairs(success_raw) do
    local id = id_string(v)
    if not id then return nil, "'success_targets[" .. i .. "]' is not a target id" end
    seen[id] = true
    success[#success + 1] = id
  end
  for i, f in ipairs(failure_raw) do
    local id = type(f) == "table" and id_string(f.target_id)
    if not id then return nil, "'failure_targets[" .. i .. "]' has no target_id" end
    seen[id] = true
    failure[#failure + 1] = { target_id = id, error_code = f.error_code, error_msg = f.error_msg }
  end
  for _, id in ipairs(args.targets.target_ids) do
    if not seen[id] then
      failure[#failure + 1] = { target_id = id, error_code = "KOODRIVE.UNREPORTED",
        error_msg = "the service reported neither success nor failure for this target" }
    end
  end
  return {
    policy_id = body.policy_id or args.policy_id,
    target_type = body.target_type or args.targets.target_type,
    success_targets = success,
    failure_targets = failure,
  }
end

return shape
