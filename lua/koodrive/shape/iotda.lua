--- Results of the IoTDA device-policy family (iotda-api.md), from decoded responses.
-- Each function takes (body, args, call, opts) and returns the result, or nil and a message
-- for a "decode" error. A result has the documented types and concerns what was asked: a
-- policy other than the one named, a target that was not sent, a listed id at or above the
-- marker sent are contradictions, never successes. Messages name fields, never values.
local json = require "koodrive.json"
local common = require "koodrive.shape"

local shape = {}

local absent, id_string, requested_ids = common.absent, common.id_string, common.requested_ids

local function is_hex24(v)
  return type(v) == "string" and #v == 24 and not v:find("[^0-9A-Fa-f]")
end

-- An optional string field: absent (nil/null) or a string; nil and a message otherwise.
local function optional_string(t, k, where)
  local v = t[k]
  if absent(v) then return true end
  if type(v) ~= "string" then return nil, "'" .. where .. "." .. k .. "' is not a string" end
  return true
end

-- yyyyMMdd'T'HHmmss'Z', e.g. 20151212T121212Z (iotda-api.md, Policy).
local STAMP = "^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$"

local function string_list(v, where)
  if not json.is_array(v) then return nil, "'" .. where .. "' is not an array of strings" end
  for i = 1, #v do
    if type(v[i]) ~= "string" then return nil, "'" .. where .. "[" .. i .. "]' is not a string" end
  end
  return v
end

-- Statement[] of an answer: objects with effect (string), actions and resources (strings).
local function statements(v, where)
  if not json.is_array(v) then return nil, "'" .. where .. "' is not an array of statements" end
  for i = 1, #v do
    local st, at = v[i], where .. "[" .. i .. "]"
    if not json.is_object(st) then return nil, "'" .. at .. "' is not a statement (an object)" end
    if type(st.effect) ~= "string" then return nil, "'" .. at .. ".effect' is not a string" end
    for _, k in ipairs { "actions", "resources" } do
      local ok, err = string_list(st[k], at .. "." .. k)
      if not ok then return nil, err end
    end
  end
  return v
end

-- A Policy (with_statement) or ListDevicePolicyBase: policy_id of 24 hex characters
-- (required: the result is about it), the other fields typed when present.
local function policy_object(p, where, with_statement)
  if not json.is_object(p) then return nil, "'" .. where .. "' is not a policy (an object)" end
  if not is_hex24(p.policy_id) then
    return nil, "'" .. where .. ".policy_id' is not a policy id (24 hexadecimal characters)"
  end
  for _, k in ipairs { "app_id", "policy_name" } do
    local ok, err = optional_string(p, k, where)
    if not ok then return nil, err end
  end
  for _, k in ipairs { "create_time", "update_time" } do
    local v = p[k]
    if not absent(v) and (type(v) ~= "string" or not v:find(STAMP)) then
      return nil, "'" .. where .. "." .. k .. "' is not a time like 20151212T121212Z"
    end
  end
  if with_statement and not absent(p.statement) then
    local ok, err = statements(p.statement, where .. ".statement")
    if not ok then return nil, err end
  end
  return p
end

-- A field of the answer that must be what was sent, when the answer has it.
local function agrees(body, k, sent, where)
  if sent ~= nil and not absent(body[k]) and body[k] ~= sent then
    return nil, "'" .. (where or k) .. "' is not the " .. k .. " that was sent"
  end
  return true
end

--- device_policies.create: the new Policy, with the policy_name and app_id that were sent.
function shape.policy_created(body, args)
  local p, err = policy_object(body, "policy", true)
  if not p then return nil, err end
  for _, k in ipairs { "policy_name", "app_id" } do
    local ok, e = agrees(body, k, args.policy[k])
    if not ok then return nil, e end
  end
  return p
end

--- device_policies.get and update: the Policy asked for (and, after update, with the
-- policy_name sent). Ids compare without regard to case (hex).
function shape.policy(body, args)
  local p, err = policy_object(body, "policy", true)
  if not p then return nil, err end
  if p.policy_id:lower() ~= args.policy_id:lower() then
    return nil, "'policy_id' is not the policy_id that was sent"
  end
  if args.policy then
    local ok, e = agrees(body, "policy_name", args.policy.policy_name)
    if not ok then return nil, e end
  end
  return p
end

--- device_policies.delete: 204 with an empty body; the result names the policy deleted.
function shape.policy_deleted(_, args)
  return { policy_id = args.policy_id }
end

-- The `page` object: count (an integer >= 0) and marker (24 hex), both optional.
local function page_fields(body)
  local page = body.page
  if absent(page) then return nil, nil end
  if not json.is_object(page) then return nil, nil, "'page' is not an object" end
  local count, marker
  if not absent(page.count) then
    count = json.integer(page, "count")
    if not count or count < 0 then return nil, nil, "'page.count' is not a whole number >= 0" end
  end
  if not absent(page.marker) then
    if not is_hex24(page.marker) then return nil, nil, "'page.marker' is not 24 hexadecimal characters" end
    marker = page.marker
  end
  return count, marker
end

local function marker_page(body, items, opts, marker, count)
  local paging = require "koodrive.paging"
  -- The service's default page is 10 (iotda-api.md §2, §8).
  return paging.marker_page(body, items, opts, (opts and opts.page_size) or 10, marker, count)
end

--- device_policies.list: a page of ListDevicePolicyBase from `policies`. Records come in
-- descending id order below the marker sent (iotda-api.md §2): an id at or above it, or
-- one listed twice, contradicts the request, as does another resource space's policy
-- when app_id was given.
function shape.policy_list(body, args, _, opts)
  local list = body.policies
  if absent(list) then list = setmetatable({}, json.array_mt) elseif not json.is_array(list) then
    return nil, "'policies' is not an array"
  end
  local below = opts and type(opts.cursor) == "string" and opts.cursor:lower() or nil
  local seen = {}
  for i = 1, #list do
    local where = "policies[" .. i .. "]"
    local p, err = policy_object(list[i], where, false)
    if not p then return nil, err end
    local id = p.policy_id:lower()
    if seen[id] then return nil, "'" .. where .. "' repeats a policy_id" end
    seen[id] = true
    if below and id >= below then return nil, "'" .. where .. ".policy_id' is not below the marker sent" end
    local ok, aerr = agrees(p, "app_id", args.query.app_id, where .. ".app_id")
    if not ok then return nil, aerr end
  end
  local count, marker, perr = page_fields(body)
  if perr then return nil, perr end
  return marker_page(body, list, opts, marker, count)
end

--- device_policies.list_targets: a page of { target_type, target_id } from `targets`, of
-- the target_type asked for when one was.
local TARGET_TYPES = { device = true, product = true, app = true }

function shape.policy_targets(body, args, _, opts)
  local list = body.targets
  if absent(list) then list = setmetatable({}, json.array_mt) elseif not json.is_array(list) then
    return nil, "'targets' is not an array"
  end
  local only = args.query.target_type
  for i = 1, #list do
    local t, where = list[i], "targets[" .. i .. "]"
    if not json.is_object(t) then return nil, "'" .. where .. "' is not a target (an object)" end
    if not id_string(t, "target_id") then return nil, "'" .. where .. ".target_id' is not a target id" end
    t.target_id = id_string(t, "target_id")
    if not absent(t.target_type) and not TARGET_TYPES[t.target_type] then
      return nil, "'" .. where .. ".target_type' is not device, product or app"
    end
    local ok, err = agrees(t, "target_type", only, where .. ".target_type")
    if not ok then return nil, err end
  end
  local count, marker, perr = page_fields(body)
  if perr then return nil, perr end
  return marker_page(body, list, opts, marker, count)
end

-- A failure_targets entry (iotda-api.md: `{target_id, error_code, error_msg}`).
local function failure_entry(f, i, wanted)
  local where = "failure_targets[" .. i .. "]"
  if not json.is_object(f) then return nil, "'" .. where .. "' is not an object" end
  local id = id_string(f, "target_id")
  if not id then return nil, "'" .. where .. ".target_id' is not a target id" end
  if not wanted[id] then return nil, "'" .. where .. ".target_id' is a target that was not sent" end
  for _, k in ipairs { "error_code", "error_msg" } do
    if not absent(f[k]) and type(f[k]) ~= "string" then return nil, "'" .. where .. "." .. k .. "' is not a string" end
  end
  return { target_id = id, error_code = f.error_code, error_msg = f.error_msg }
end

--- device_policies.unbind (and bind): every requested target is reported exactly once, as
-- succeeded, failed or (after an earlier attempt that may have been carried out) uncertain.
-- iotda-api.md: "Response 200: policy_id, target_type, success_targets (array of strings),
-- failure_targets (array of {target_id, error_code, error_msg}). Every field may be absent."
-- A target that was not sent, one in both lists, or another policy or target type is a
-- contradiction. A target the service left out of both lists is reported as failed with
-- error_code "KOODRIVE.UNREPORTED": nothing silently disappears.
function shape.policy_unbind(body, args, call)
  local wanted = {}
  for _, id in ipairs(args.targets.target_ids) do wanted[id] = true end
  local success, succeeded = requested_ids(body.success_targets, "success_targets", wanted)
  if not success then return nil, succeeded end
  succeeded = succeeded or {}
  local failure_raw = body.failure_targets
  if absent(failure_raw) then failure_raw = {} elseif not json.is_array(failure_raw) then
    return nil, "'failure_targets' is not an array"
  end
  local failure, seen = {}, {}
  for i = 1, #failure_raw do
    local f, err = failure_entry(failure_raw[i], i, wanted)
    if not f then return nil, err end
    if succeeded[f.target_id] then
      return nil, "'failure_targets[" .. i .. "]' names a target also in 'success_targets'"
    end
    if not seen[f.target_id] then
      seen[f.target_id] = true
      failure[#failure + 1] = f
    end
  end
  for k, want in pairs { policy_id = args.policy_id, target_type = args.targets.target_type } do
    if not absent(body[k]) and body[k] ~= want then return nil, "'" .. k .. "' is not the one that was sent" end
  end
  for _, id in ipairs(args.targets.target_ids) do
    if not succeeded[id] and not seen[id] then
      seen[id] = true
      failure[#failure + 1] = { target_id = id, error_code = "KOODRIVE.UNREPORTED",
        error_msg = "the service reported neither success nor failure for this target" }
    end
  end
  local uncertain = {}
  if call and call.ambiguous and #failure > 0 then failure, uncertain = {}, failure end
  return {
    policy_id = args.policy_id,
    target_type = args.targets.target_type,
    success_targets = success,
    failure_targets = failure,
    uncertain_targets = uncertain,
    history = call and call.ambiguous and call.history or nil,
  }
end

--- device_policies.bind: the same per-id promise as unbind (iotda-api.md §6).
shape.policy_bind = shape.policy_unbind

return shape
