--- Input rules of the IoTDA device-policy family (iotda-api.md), checked before anything is
-- built or sent. Each check returns the value to send, or nil and a validation error naming
-- the field and the rule; messages never repeat the value (it may be hostile bytes).
local errors = require "koodrive.errors"
local validate = require "koodrive.validate"

local M = {}

local function fail(field, rule, message)
  return nil, errors.validation(field, rule, message)
end

-- A string of at most `max` bytes matching `pattern` (a charset), described as `text`.
local function charset(v, field, max, pattern, text)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got a " .. type(v)) end
  if #v == 0 then return fail(field, "length", "must not be empty") end
  if #v > max then return fail(field, "length", "must be at most " .. max .. " characters") end
  if not v:find(pattern) then return fail(field, "pattern", "must be " .. text) end
  return v
end

--- A policy id, also a marker: iotda-api.md "24 characters of A-F a-f 0-9". Sent as given.
function M.hex24(v, field)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got a " .. type(v)) end
  if #v ~= 24 or v:find("[^0-9A-Fa-f]") then
    return fail(field, "hex24", "must be 24 hexadecimal characters (A-F, a-f, 0-9)")
  end
  return v
end

--- policy_name in a body: <= 128 characters of [A-Za-z0-9_-].
function M.policy_name(v, field)
  return charset(v, field, 128, "^[A-Za-z0-9_%-]+$", "1-128 characters of A-Z a-z 0-9 _ -")
end

--- app_id (a resource space id): <= 36 characters of [A-Za-z0-9_-].
function M.app_id(v, field)
  return charset(v, field, 36, "^[A-Za-z0-9_%-]+$", "1-36 characters of A-Z a-z 0-9 _ -")
end

-- The list filter policy_name: "letters, digits, CJK and _?'#().,&%@!-", <= 256 characters.
-- Letters are ASCII; CJK is taken as the block U+4E00..U+9FA5 (the range Huawei Cloud's
-- name rules use for "Chinese characters"). Characters are counted, not bytes.
local FILTER_ASCII = "^[A-Za-z0-9_?'#().,&%%@!%-]$"

function M.name_filter(v, field)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got a " .. type(v)) end
  if #v == 0 then return fail(field, "length", "must not be empty") end
  local i, n, chars = 1, #v, 0
  local bad = "must be letters, digits, CJK characters (U+4E00-U+9FA5) or _?'#().,&%@!-"
  while i <= n do
    local c = v:byte(i)
    if c < 0x80 then
      if not v:sub(i, i):find(FILTER_ASCII) then return fail(field, "pattern", bad) end
      i = i + 1
    elseif c >= 0xE4 and c <= 0xE9 and i + 2 <= n then
      local c2, c3 = v:byte(i + 1), v:byte(i + 2)
      if c2 < 0x80 or c2 > 0xBF or c3 < 0x80 or c3 > 0xBF then return fail(field, "pattern", bad) end
      local cp = (c - 0xE0) * 4096 + (c2 - 0x80) * 64 + (c3 - 0x80)
      if cp < 0x4E00 or cp > 0x9FA5 then return fail(field, "pattern", bad) end
      i = i + 3
    else
      return fail(field, "pattern", bad)
    end
    chars = chars + 1
  end
  if chars > 256 then return fail(field, "length", "must be at most 256 characters") end
  return v
end

--- target_type: device, product or app (app = the whole resource space).
local TARGET_TYPES = { device = true, product = true, app = true }

function M.target_type(v, field)
  if type(v) ~= "string" or not TARGET_TYPES[v] then
    return fail(field, "enum", "must be one of device, product, app")
  end
  return v
end

--- A whole number in [lo, hi] (limit, offset).
function M.range(v, field, lo, hi)
  if type(v) ~= "number" or v ~= v or v % 1 ~= 0 then
    return fail(field, "type", "must be a whole number")
  end
  if v < lo or v > hi then
    return fail(field, "range", "must be from " .. lo .. " to " .. hi)
  end
  return math.floor(v)
end

--- offset (list, list_targets): 0..500; pages beyond it need the marker.
function M.offset(v, field) return M.range(v, field, 0, 500) end

--- { target_type, target_ids } of bind (max nil: no documented limit) and unbind (max 20).
function M.targets(spec, max)
  if type(spec) ~= "table" then
    return fail("targets", "type", "must be a table { target_type = ..., target_ids = { ... } }")
  end
  local ok, err = validate.known_keys(spec, "targets", { target_type = true, target_ids = true })
  if not ok then return nil, err end
  local target_type = rawget(spec, "target_type")
  if type(target_type) ~= "string" or not TARGET_TYPES[target_type] then
    return fail("target_type", "enum", "must be one of device, product, app")
  end
  local target_ids = rawget(spec, "target_ids")
  local n
  n, err = validate.list(target_ids, "target_ids", max)
  if not n then return nil, err end
  local ids = {}
  for i = 1, n do
    local id, e = validate.text(target_ids[i], "target_ids[" .. i .. "]", 256)
    if not id then return nil, e end
    ids[i] = id
  end
  return { target_type = target_type, target_ids = ids }
end

-- Statement (iotda-api.md "Shared objects"): effect ALLOW|DENY; actions of the form
-- service:resource:operation (documented: iotda:devices:publish, iotda:devices:subscribe);
-- resources 1..10 of type:name in letters, digits and /{}$=+#?*:._-.
local EFFECTS = { ALLOW = true, DENY = true }
local ACTION = "^[A-Za-z0-9_%-]+:[A-Za-z0-9_%-]+:[A-Za-z0-9_%-]+$"
local RESOURCE = "^[A-Za-z0-9_%-]+:[A-Za-z0-9/{}$=+#?*:._%-]+$"
-- Lengths the contract leaves open; generous bounds so a runaway value is refused here.
local ACTION_MAX, RESOURCE_MAX, ACTIONS_MAX, STATEMENTS_MAX = 128, 1024, 32, 64

local function strings(v, field, max, list_max, pattern, text)
  local n, err = validate.list(v, field, list_max)
  if not n then return nil, err end
  local out = {}
  for i = 1, n do
    local s, e = charset(v[i], field .. "[" .. i .. "]", max, pattern, text)
    if not s then return nil, e end
    out[i] = s
  end
  return out
end

local function statement(st, where)
  if type(st) ~= "table" then return fail(where, "type", "must be a table { effect, actions, resources }") end
  local ok, err = validate.known_keys(st, where, { effect = true, actions = true, resources = true })
  if not ok then return nil, err end
  local effect = rawget(st, "effect")
  if type(effect) ~= "string" or not EFFECTS[effect] then
    return fail(where .. ".effect", "enum", "must be ALLOW or DENY")
  end
  local actions
  actions, err = strings(rawget(st, "actions"), where .. ".actions", ACTION_MAX, ACTIONS_MAX, ACTION,
    "service:resource:operation, e.g. iotda:devices:publish or iotda:devices:subscribe")
  if not actions then return nil, err end
  local resources
  resources, err = strings(rawget(st, "resources"), where .. ".resources", RESOURCE_MAX, 10, RESOURCE,
    "type:name in letters, digits and /{}$=+#?*:._-, e.g. topic:/v1/${devices.deviceId}/test/hello")
  if not resources then return nil, err end
  return { effect = effect, actions = actions, resources = resources }
end

--- A Statement[]: 1..64 statements, each checked; a fresh copy to send.
function M.statements(v, field)
  local n, err = validate.list(v, field, STATEMENTS_MAX)
  if not n then return nil, err end
  local out = {}
  for i = 1, n do
    local st, e = statement(v[i], field .. "[" .. i .. "]")
    if not st then return nil, e end
    out[i] = st
  end
  return out
end

--- create's request: policy_name (required), app_id (optional), statement (required).
function M.create_request(req)
  if type(req) ~= "table" then
    return fail("policy", "type", "must be a table { policy_name, app_id, statement }")
  end
  local ok, err = validate.known_keys(req, "policy", { policy_name = true, app_id = true, statement = true })
  if not ok then return nil, err end
  local out = {}
  if rawget(req, "policy_name") == nil then return fail("policy_name", "required", "is required") end
  out.policy_name, err = M.policy_name(rawget(req, "policy_name"), "policy_name")
  if not out.policy_name then return nil, err end
  if rawget(req, "app_id") ~= nil then
    out.app_id, err = M.app_id(rawget(req, "app_id"), "app_id")
    if not out.app_id then return nil, err end
  end
  if rawget(req, "statement") == nil then return fail("statement", "required", "is required") end
  out.statement, err = M.statements(rawget(req, "statement"), "statement")
  if not out.statement then return nil, err end
  return out
end

--- update's request: policy_name and/or statement; neither is refused (nothing to change).
function M.update_request(req)
  if type(req) ~= "table" then
    return fail("policy", "type", "must be a table { policy_name, statement }")
  end
  local ok, err = validate.known_keys(req, "policy", { policy_name = true, statement = true })
  if not ok then return nil, err end
  local out = {}
  local name, st = rawget(req, "policy_name"), rawget(req, "statement")
  if name == nil and st == nil then
    return fail("policy", "required", "must give policy_name or statement (nothing to change)")
  end
  if name ~= nil then
    out.policy_name, err = M.policy_name(name, "policy_name")
    if not out.policy_name then return nil, err end
  end
  if st ~= nil then
    out.statement, err = M.statements(st, "statement")
    if not out.statement then return nil, err end
  end
  return out
end

-- A filter table with only `allowed` keys, each checked by its rule; nil means none given.
local function filters(q, field, rules)
  if q == nil then return {} end
  if type(q) ~= "table" then return fail(field, "type", "must be a table") end
  local allowed = {}
  for k in pairs(rules) do allowed[k] = true end
  local ok, err = validate.known_keys(q, field, allowed)
  if not ok then return nil, err end
  local out = {}
  for k, rule in pairs(rules) do
    local v = rawget(q, k)
    if v ~= nil then
      out[k], err = rule(v, k)
      if out[k] == nil then return nil, err end
    end
  end
  return out
end

--- list's filters: { app_id, policy_name } (both optional; the table too).
function M.list_query(q)
  return filters(q, "query", { app_id = M.app_id, policy_name = M.name_filter })
end

--- list_targets' filters: { target_type } (optional; the table too).
function M.targets_query(q)
  return filters(q, "query", { target_type = M.target_type })
end

return M
