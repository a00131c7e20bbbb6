--- Every API operation of koodrive, declared once as data.
--
-- An operation names its service object and method (`devices.list` becomes
-- `client.devices:list(...)`), its HTTP method and path template, the positional arguments
-- it takes with the rule each must pass, how to build the body, and how to shape the
-- decoded response into the result. `koodrive.pipeline` sends all of them the same way.
-- Adding an endpoint is adding an entry here.
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local shape = require "koodrive.shape"

local operations = {}

-- Patterns from the KooDrive contract, in explicit ASCII classes (%w and %s follow the C
-- locale, and %s would let CR, LF and tabs through). The contract's \s is taken as a space:
-- control characters are refused in every field.
local MACHINE_CODE = "^[A-Za-z0-9_]+$"
local DEVICE_NAME = "^[A-Za-z0-9_ %-]+$"
local DEVICE_OS = "^[A-Za-z0-9_ ]+$"

local function check_bind_fields(device)
  if type(device) ~= "table" then
    return nil, errors.validation("device", "type",
      "must be a table with machineCode (and optionally deviceName, deviceOS)")
  end
  local ok, err = validate.known_keys(device, "device",
    { machineCode = true, deviceName = true, deviceOS = true })
  if not ok then return nil, err end
  local function field(name, pattern, max, text, required)
    local v = rawget(device, name)
    if v == nil then
      if required then
        return nil, errors.validation(name, "required", "is required")
      end
      return true
    end
    if type(v) == "string" and (#v < 1 or #v > max) then
      return nil, errors.validation(name, "length",
        "must be 1-" .. max .. " characters")
    end
    local _, terr = validate.text(v, name, max)
    if terr and terr.rule ~= "ascii" then return nil, terr end
    return validate.pattern(v, name, pattern, text)
  end
  ok, err = field("machineCode", MACHINE_CODE, 64, "^[a-zA-Z0-9_]{1,64}$", true)
  if not ok then return nil, err end
  ok, err = field("deviceName", DEVICE_NAME, 32, "^[a-zA-Z0-9-_ ]{1,32}$ (ASCII; space is the only white space)")
  if not ok then return nil, err end
  ok, err = field("deviceOS", DEVICE_OS, 32, "^[a-zA-Z0-9_ ]{1,32}$ (ASCII; space is the only white space)")
  if not ok then return nil, err end
  return { machineCode = rawget(device, "machineCode"), deviceName = rawget(device, "deviceName"),
    deviceOS = rawget(device, "deviceOS") }
end

-- Distinct, canonical user ids, in the caller's order.
local function check_user_ids(ids)
  local n, err = validate.list(ids, "userIds")
  if not n then return nil, err end
  local out, seen = {}, {}
  for i = 1, n do
    local id, e = validate.user_id(ids[i], "userIds[" .. i .. "]")
    if not id then return nil, e end
    if not seen[id] then
      seen[id] = true
      out[#out + 1] = id
    end
  end
  return out
end

local TARGET_TYPES = { device = true, product = true, app = true }

local function check_unbind_targets(spec)
  if type(spec) ~= "table" then
    return nil, errors.validation("targets", "type",
      "must be a table { target_type = ..., target_ids = { ... } }")
  end
  local ok, err = validate.known_keys(spec, "targets", { target_type = true, target_ids = true })
  if not ok then return nil, err end
  local target_type = rawget(spec, "target_type")
  if type(target_type) ~= "string" or not TARGET_TYPES[target_type] then
    return nil, errors.validation("target_type", "enum", "must be one of device, product, app")
  end
  local target_ids = rawget(spec, "target_ids")
  local n
  n, err = validate.list(target_ids, "target_ids", 20)
  if not n then return nil, err end
  local ids = {}
  for i = 1, n do
    local id, e = validate.text(target_ids[i], "target_ids[" .. i .. "]", 256)
    if not id then return nil, e end
    ids[i] = id
  end
  return { target_type = target_type, target_ids = ids }
end

--- KooDrive operations (KooDrive auth: bearer token or app signature).
operations.koodrive = {
  {
    name = "devices.list",
    method = "GET", path = "/koodrive/ose/v1/backup/device",
    args = {},
    result = shape.device_list,
  },
  {
    name = "devices.bind",
    method = "POST", path = "/koodrive/ose/v1/backup/device",
    args = { { name = "device", check = check_bind_fields } },
    body = function(a) return json.encode(a.device) end,
    idempotent = false,
    result = shape.bound_device,
  },
  {
    name = "devices.unbind",
    method = "DELETE", path = "/koodrive/ose/v1/backup/device/{deviceId}",
    args = { { name = "deviceId", check = validate.path_segment } },
    result = shape.unbound_device,
    -- Retried after an attempt that may have unbound the device, "Resource does not exist"
    -- (13000309, koodrive-api.md's error table) is what that attempt's success looks like.
    already_done = function(err) return err.kind == "api" and err.code == 13000309 end,
  },
  {
    name = "usergroups.delete_members",
    method = "POST", path = "/koodrive/ose/v1/usergroups/{groupId}/members/batchDelete",
    args = {
      { name = "groupId", check = validate.path_segment },
      { name = "userIds", check = check_user_ids },
    },
    body = function(a)
      local roles = {}
      for i, id in ipairs(a.userIds) do roles[i] = { userId = json.int64(id) } end
      return json.encode({ amendModRoles = roles })
    end,
    result = shape.delete_members,
  },
}

--- IoTDA operations (IAM token or AK/SK signing); `{project_id}` comes from the client.
operations.iotda = {
  {
    name = "device_policies.unbind",
    method = "POST", path = "/v5/iot/{project_id}/device-policies/{policy_id}/unbind",
    args = {
      { name = "policy_id", check = validate.path_segment },
      { name = "targets", check = check_unbind_targets },
    },
    body = function(a) return json.encode(a.targets) end,
    status = 200, -- iotda-api.md: "Response 200: policy_id, target_type, ..."
    result = shape.policy_unbind,
  },
}

return operations
