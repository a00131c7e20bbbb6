--- The IoTDA device-policy operations (iotda-api.md); `{project_id}` comes from the client.
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local shape = require "koodrive.shape"

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

return {
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
