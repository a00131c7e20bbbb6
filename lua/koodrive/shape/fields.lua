--- Type checks for the objects of the file-management answers (koodrive-files-api.md), shared
-- by koodrive.shape.files and koodrive.shape.jobs. A field spec maps a field name to a kind;
-- `check(obj, where, spec)` normalises the fields in place (ids to strings, counts to numbers)
-- and returns the object, or nil and a message that names the field and the type it should
-- have, never its value. Fields not in the spec pass through untouched; absent and null
-- fields are allowed unless the caller requires them.
local json = require "koodrive.json"

local fields = {}

local base = require "koodrive.shape"

local absent = base.absent
fields.absent = absent

--- An id as a string: a non-empty string, or a JSON integer below 2^53 (koodrive.shape's rule:
-- a number id is what a parser made of digits; results always carry strings). nil otherwise.
fields.id_string = base.id_string

--- A whole number >= 0 given as a JSON integer or a string of decimal digits (the tables
-- type counts as String, the examples print numbers); nil for anything else. Digit strings
-- beyond 2^53 lose precision on Lua 5.1 and LuaJIT (one number type).
function fields.count(t, k)
  local v = t[k]
  if type(v) == "number" then
    local n = json.integer(t, k)
    if n and n >= 0 then return n end
    return nil
  end
  if type(v) == "string" and v:find("^%d+$") and #v <= 19 then
    if #v == 19 and v > "9223372036854775807" then return nil end
    return math.tointeger and math.tointeger(tonumber(v)) or tonumber(v)
  end
  return nil
end

--- A whole number (possibly negative) given as a JSON integer or a canonical digit string.
function fields.integer(t, k)
  local v = t[k]
  if type(v) == "number" then return json.integer(t, k) end
  if type(v) == "string" and (v == "0" or v:find("^%-?[1-9]%d*$")) and #v <= 10 then return tonumber(v) end
  return nil
end

local KIND_TEXT = {
  id = "an id (a string)", text = "a string", string = "a string", bool = "a boolean",
  count = "a whole number", integer = "an integer", object = "an object", array = "an array",
  ids = "an array of ids", map = "an object of strings", texts = "an array of strings",
  objects = "an array of objects",
}

-- The normalised value of t[k] for `kind`, or nil when it has another type (booleans are
-- checked by fields.check: false is a value).
local function value(t, k, kind)
  local v = t[k]
  if kind == "id" then return fields.id_string(t, k)
  elseif kind == "text" then
    -- documented as a string; a JSON integer (a code such as fileType 10) is read as its digits
    if type(v) == "number" then return fields.id_string(t, k) end
    return type(v) == "string" and v or nil
  elseif kind == "string" then return type(v) == "string" and v or nil
  elseif kind == "count" then return fields.count(t, k)
  elseif kind == "integer" then return fields.integer(t, k)
  elseif kind == "object" then return json.is_object(v) and v or nil
  elseif kind == "array" then return json.is_array(v) and v or nil
  elseif kind == "objects" then
    if not json.is_array(v) then return nil end
    for i = 1, #v do if not json.is_object(v[i]) then return nil end end
    return v
  elseif kind == "ids" or kind == "texts" then
    if not json.is_array(v) then return nil end
    for i = 1, #v do
      local s = (kind == "ids" and fields.id_string(v, i)) or (kind == "texts" and type(v[i]) == "string" and v[i])
      if not s then return nil end
      v[i] = s
    end
    return v
  elseif kind == "map" then
    if not json.is_object(v) then return nil end
    for _, item in next, v do if type(item) ~= "string" then return nil end end
    return v
  end
  error("unknown field kind " .. tostring(kind))
end

--- Checks and normalises the fields of `obj` named in `spec` ({ field = kind }); `required`
-- lists fields that must be present. Returns obj, or nil and a message.
function fields.check(obj, where, spec, required)
  if not json.is_object(obj) then return nil, "'" .. where .. "' is not an object" end
  for _, k in ipairs(required or {}) do
    if absent(obj[k]) then return nil, "'" .. where .. "." .. k .. "' is missing" end
  end
  for k, kind in pairs(spec) do
    if not absent(obj[k]) then
      local v
      if kind == "bool" then v = type(obj[k]) == "boolean" or nil else v = value(obj, k, kind) end
      if v == nil then return nil, "'" .. where .. "." .. k .. "' is not " .. KIND_TEXT[kind] end
      if kind ~= "bool" then obj[k] = v end
    end
  end
  return obj
end

--- Checks every entry of the array `list` (named `where`) with `spec`; ids must not repeat
-- when `unique` names the id field. Returns the list, or nil and a message.
function fields.check_list(list, where, spec, required, unique)
  if not json.is_array(list) then return nil, "'" .. where .. "' is not an array" end
  local seen = {}
  for i = 1, #list do
    local item, err = fields.check(list[i], where .. "[" .. i .. "]", spec, required)
    if not item then return nil, err end
    if unique then
      local id = item[unique]
      if seen[id] then return nil, "'" .. where .. "[" .. i .. "]." .. unique .. "' repeats an earlier entry" end
      seen[id] = true
    end
  end
  return list
end

return fields
