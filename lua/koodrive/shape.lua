--- Turning decoded responses into results.
-- Each function takes (body, args, call) - the decoded response body, the validated
-- arguments of the call and what the pipeline knows of the call's attempts
-- (`call.ambiguous`: an earlier attempt may have been carried out) - and returns the result,
-- or nil and a message for a "decode" error.
--
-- A result is returned only when the answer has the documented types and concerns what was
-- asked; an answer that contradicts the request is a decode error, never a success. Messages
-- name fields and types, never values: a hostile answer may echo a secret.
-- Results keep the service's field names.
local json = require "koodrive.json"

local shape = {}

local null = json.null

local function absent(v)
  return v == nil or v == null
end
--- Whether a field is absent or JSON null.
shape.absent = absent

--- Integer ids that fit a double may arrive as numbers: results always carry strings.
-- Only whole numbers below 2^53 written as integers are ids.
local function id_string(t, k)
  local v = t[k]
  if type(v) == "number" then
    local n = json.integer(t, k)
    if n then return string.format("%d", n) end
    return nil
  end
  if type(v) == "string" and v ~= "" then return v end
  return nil
end
shape.id_string = id_string

--- The service's `code` as a number when it is the integer 0 (or the string "0") or any
-- other integer / canonical integer string; nil when it is anything else (0.0, "0x0", " 0 ",
-- "00", "-0", "0e99", true, a table...). koodrive-api.md: "{"code": <int>, ...}; code 0 is
-- success". 1e-400 never gets here: the JSON reader refuses numbers that underflow.
function shape.code(body)
  local v = body.code
  if type(v) == "number" then return json.integer(body, "code") end
  if type(v) == "string" and (v == "0" or v:find("^%-?[1-9]%d*$")) then return tonumber(v) end
  return nil
end

-- BoundDeviceEntity (koodrive-api.md §1): "all strings: deviceId, machineCode, deviceName,
-- deviceOS, createTime". deviceId is required (the result is about it); the others may be
-- absent or null (deviceName and deviceOS are optional at bind), never another type.
local DEVICE_TEXT = { "machineCode", "deviceName", "deviceOS", "createTime" }

-- `where` names the entity in messages ("data"), with `[i]` appended when i is given: the
-- name is built only for a message, not for every entity of a listing.
local function named(where, i) return i and (where .. "[" .. i .. "]") or where end

local function check_device(d, where, i)
  if type(d) ~= "table" or getmetatable(d) ~= nil then
    return nil, "'" .. named(where, i) .. "' is not a device entity (an object)"
  end
  local id = d.deviceId
  if type(id) ~= "string" or id == "" then
    return nil, "'" .. named(where, i) .. "' is not a device entity with a deviceId string"
  end
  for n = 1, #DEVICE_TEXT do
    local k = DEVICE_TEXT[n]
    local v = d[k]
    if v ~= nil and v ~= null and type(v) ~= "string" then
      return nil, "'" .. named(where, i) .. "." .. k .. "' is not a string"
    end
  end
  return d
end

--- devices.list: the `data` array of BoundDeviceEntity. koodrive-api.md §1:
-- `"data":[BoundDeviceEntity, ...]` - an object, a missing `data` or a device listed twice
-- is not a list of the bound devices.
function shape.device_list(body)
  local data = body.data
  if not json.is_array(data) then return nil, "'data' is not an array of devices" end
  local seen = {}
  for i, d in ipairs(data) do
    local ok, err = check_device(d, "data", i)
    if not ok then return nil, err end
    if seen[d.deviceId] then return nil, "'data[" .. i .. "]' repeats a deviceId" end
    seen[d.deviceId] = true
  end
  return data
end

--- devices.bind: the new binding in `data`, for the machineCode that was sent.
-- koodrive-api.md §2: `"data":BoundDeviceEntity` - "the new binding with its deviceId".
function shape.bound_device(body, args)
  local d, err = check_device(body.data, "data")
  if not d then return nil, err end
  if d.machineCode ~= args.device.machineCode then
    return nil, "'data.machineCode' is not the machineCode that was sent"
  end
  return d
end

--- devices.unbind: the device that was unbound, which must be the one asked for.
-- koodrive-api.md §3: `"data":BoundDeviceEntity` - "the device that was unbound".
function shape.unbound_device(body, args)
  local d, err = check_device(body.data, "data")
  if not d then return nil, err end
  if d.deviceId ~= args.deviceId then return nil, "'data.deviceId' is not the deviceId that was sent" end
  return d
end

-- The ids of a list of ids (absent or null: none), each one of `wanted`; nil and a message
-- for a list that is not an array of requested ids. Repeats are dropped.
local function requested_ids(list, name, wanted)
  if absent(list) then return {} end
  if not json.is_array(list) then return nil, "'" .. name .. "' is not an array" end
  local out, seen = {}, {}
  for i = 1, #list do
    local id = id_string(list, i)
    if not id then return nil, "'" .. name .. "[" .. i .. "]' is not an id" end
    if not wanted[id] then return nil, "'" .. name .. "[" .. i .. "]' is an id that was not sent" end
    if not seen[id] then
      seen[id] = true
      out[#out + 1] = id
    end
  end
  return out, seen
end
shape.requested_ids = requested_ids

--- usergroups.delete_members: every requested id ends up in exactly one of `deleted`,
-- `failedList` or (after an earlier attempt that may have been carried out) `uncertain`.
-- koodrive-api.md §4: `status` (0 all deleted, 1 partly, 2 none), `failedList` (array of
-- strings: the ids that failed); "a missing status with code 0 means all succeeded".
-- A status that disagrees with failedList, or an id that was not sent, is a contradiction.
function shape.delete_members(body, args, call)
  return shape.member_outcome(body, args.userIds, call, "deleted")
end

--- The batch member answer of batchDelete and batchAdd: every id of `ids` in exactly one of
-- `failedList`, `<done_key>` ("deleted" / "added") or `uncertain`, with `status` checked
-- against them (the rules of usergroups.delete_members above).
function shape.member_outcome(body, ids, call, done_key)
  local wanted = {}
  for _, id in ipairs(ids) do wanted[id] = true end
  local failed, is_failed = requested_ids(body.failedList, "failedList", wanted)
  if not failed then return nil, is_failed end
  is_failed = is_failed or {}
  local done = {}
  for _, id in ipairs(ids) do
    if not is_failed[id] then done[#done + 1] = id end
  end
  local status
  if absent(body.status) then
    if #failed > 0 then return nil, "'failedList' names ids but 'status' is missing (all succeeded)" end
    status = 0
  else
    status = json.integer(body, "status")
    if status ~= 0 and status ~= 1 and status ~= 2 then return nil, "'status' is not 0, 1 or 2" end
    local expected = (#failed == 0 and 0) or (#done == 0 and 2) or 1
    if status ~= expected then return nil, "'status' contradicts 'failedList'" end
  end
  -- After an ambiguous attempt, "failed" most likely means "already done by that attempt":
  -- such ids are reported as uncertain, never as refused.
  local uncertain = {}
  if call and call.ambiguous and #failed > 0 then failed, uncertain = {}, failed end
  return { status = status, failedList = failed, [done_key] = done, uncertain = uncertain,
    history = call and call.ambiguous and call.history or nil }
end

return shape
