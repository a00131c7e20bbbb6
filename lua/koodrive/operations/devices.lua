--- The backup-device operations (koodrive-api.md §1-§3): client.devices:list/bind/unbind.
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local shape = require "koodrive.shape"

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

return {
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
}
