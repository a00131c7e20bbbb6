--- The spaces operations (koodrive-files-api.md §2): one space of an owner (v1) and every
-- space of a user (v2). `spaces:mine()` (the client user's individual space and its root
-- ids, per the root Decision) is built on these in koodrive.client.
local errors = require "koodrive.errors"
local validate = require "koodrive.validate"
local vf = require "koodrive.validate.files"
local shape = require "koodrive.shape.files"

local SPACE_TYPES = { [0] = true, [1] = true, [2] = true }
local SPACE_TYPES_TEXT = "0 (department), 1 (individual), 2 (group)"

-- The query table of a spaces call: `type` (required for v1) and, for v1, `containerId`
-- (to pick one of several individual spaces). nil stands for {} where nothing is required.
local function space_query(required, allow_container)
  return function(v, field)
    if v == nil and not required then return {} end
    if type(v) ~= "table" then
      return nil, errors.validation(field, "type", "must be a table { type = ... }")
    end
    local ok, err = validate.known_keys(v, field, { type = true, containerId = allow_container })
    if not ok then return nil, err end
    local out = {}
    local t = rawget(v, "type")
    if t == nil then
      if required then return nil, errors.validation("type", "required", "is required") end
    else
      out.type, err = vf.enum_int(t, "type", SPACE_TYPES, SPACE_TYPES_TEXT)
      if not out.type then return nil, err end
    end
    if rawget(v, "containerId") ~= nil then
      out.containerId, err = vf.container_id(rawget(v, "containerId"), "containerId")
      if not out.containerId then return nil, err end
    end
    return out
  end
end

local function query(a)
  local q = {}
  if a.query.type then q[#q + 1] = { "type", a.query.type } end
  if a.query.containerId then q[#q + 1] = { "containerId", a.query.containerId } end
  return q
end

return {
  {
    name = "spaces.get",
    method = "GET", path = "/koodrive/ose/v1/space/{ownerId}",
    args = {
      { name = "ownerId", check = vf.segment_id },
      { name = "query", check = space_query(true, true) },
    },
    query = query,
    result = shape.space,
  },
  {
    name = "spaces.list",
    method = "GET", path = "/koodrive/ose/v2/space/{ownerId}",
    args = {
      { name = "ownerId", check = vf.segment_id },
      { name = "query", check = space_query(false, nil) },
    },
    query = query,
    result = shape.spaces,
  },
}
