--- Input rules of the sharing family (shares, user groups, users, space usage, backups,
-- sessions): koodrive-sharing-groups-api.md. Each check returns the value to send (a plain
-- copy: the caller's table is read once, with rawget, and never sent itself) or nil and a
-- validation error naming the field and the rule. Messages never repeat the value.
local errors = require "koodrive.errors"
local validate = require "koodrive.validate"

local V = {}

local function fail(field, rule, message)
  return nil, errors.validation(field, rule, message)
end

--- An opaque service id (share, file, container, group, device, record): printable ASCII,
-- 1..256 bytes. Whole numbers below 2^53 are taken as their digits (ids are strings).
function V.id(v, field)
  if type(v) == "number" and v % 1 == 0 and v >= 0 and v < 2 ^ 53 then v = string.format("%d", v) end
  return validate.text(v, field, 256)
end

--- An integer in [lo, hi] (a Lua number with no fraction).
function V.int(v, field, lo, hi)
  if type(v) ~= "number" or v ~= v or v % 1 ~= 0 then
    return fail(field, "type", "must be a whole number, got a " .. type(v))
  end
  if v < lo or v > hi then
    return fail(field, "range", "must be from " .. string.format("%d", lo) .. " to " .. string.format("%d", hi))
  end
  return v
end

--- One of the listed integers.
function V.int_enum(v, field, allowed)
  if type(v) ~= "number" or v ~= v or v % 1 ~= 0 or not allowed[v] then
    local names = {}
    for k in pairs(allowed) do names[#names + 1] = k end
    table.sort(names)
    return fail(field, "enum", "must be one of " .. table.concat(names, ", ") .. " (an integer)")
  end
  return v
end

--- One of the listed strings.
function V.str_enum(v, field, allowed, shown)
  if type(v) ~= "string" or not allowed[v] then
    return fail(field, "enum", "must be one of " .. shown .. " (a string)")
  end
  return v
end

--- A JSON string of valid UTF-8 without control characters, 1..max characters (code points).
function V.utf8_text(v, field, max, allow_empty)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got a " .. type(v)) end
  local ok, err = validate.utf8(v, field)
  if not ok then return nil, err end
  if v == "" and not allow_empty then return fail(field, "length", "must not be empty") end
  if v:find("[%z\1-\31\127]") then return fail(field, "control", "must not contain control characters") end
  local _, chars = v:gsub("[^\128-\191]", "")
  if max and chars > max then return fail(field, "length", "must be at most " .. max .. " characters") end
  return v
end

--- A boolean.
function V.boolean(v, field)
  if type(v) ~= "boolean" then return fail(field, "type", "must be a boolean, got a " .. type(v)) end
  return v
end

--- A list of 1..max ids, distinct, in the caller's order (repeats dropped).
function V.id_list(v, field, max, check)
  check = check or V.id
  local n, err = validate.list(v, field, max)
  if not n then return nil, err end
  local out, seen = {}, {}
  for i = 1, n do
    local id, e = check(rawget(v, i), field .. "[" .. i .. "]")
    if not id then return nil, e end
    if not seen[id] then
      seen[id] = true
      out[#out + 1] = id
    end
  end
  return out
end

--- A request table: only `rules`' keys, each checked by its rule; `required` lists the keys
-- that must be present. Returns the plain copy to send.
function V.request(v, field, rules, required)
  if type(v) ~= "table" then return fail(field, "type", "must be a table, got a " .. type(v)) end
  local ok, err = validate.known_keys(v, field, rules)
  if not ok then return nil, err end
  local out = {}
  for _, k in ipairs(required or {}) do
    if rawget(v, k) == nil then return fail(k, "required", "is required") end
  end
  for k, rule in pairs(rules) do
    local x = rawget(v, k)
    if x ~= nil then
      local checked, e = rule(x, k)
      if checked == nil then return nil, e end
      out[k] = checked
    end
  end
  return out
end

--- An optional request table: nil is an empty one.
function V.optional_request(v, field, rules, required)
  if v == nil then v = {} end
  return V.request(v, field, rules, required)
end

--- An object passed through unread (backup ScopeBaseInfo, permissions): a table that can be
-- written as JSON.
function V.json_object(v, field)
  if type(v) ~= "table" then return fail(field, "type", "must be a table, got a " .. type(v)) end
  local ok, err = validate.json_body(v, field)
  if not ok then return nil, err end
  return v
end

--------------------------------------------------------------------------------------------
-- User group names (CreateUserGroup: 1..30 characters, none of < > | : " * ? / \, no
-- emoji, not "." or "..")
--------------------------------------------------------------------------------------------

-- Code points of the UTF-8 text `s` (valid UTF-8 already checked).
local function code_points(s)
  local out = {}
  for ch in s:gmatch("[%z\1-\127\194-\244][\128-\191]*") do
    local c = ch:byte(1)
    local cp
    if c < 0x80 then cp = c
    elseif c < 0xE0 then cp = (c - 0xC0) * 64 + ch:byte(2) - 0x80
    elseif c < 0xF0 then cp = ((c - 0xE0) * 64 + ch:byte(2) - 0x80) * 64 + ch:byte(3) - 0x80
    else cp = (((c - 0xF0) * 64 + ch:byte(2) - 0x80) * 64 + ch:byte(3) - 0x80) * 64 + ch:byte(4) - 0x80 end
    out[#out + 1] = cp
  end
  return out
end

-- Emoji blocks (pictographs, symbols and dingbats, flags, keycaps, the joiner and variation
-- selectors that build emoji sequences, tag characters). CJK and other letters of the
-- supplementary planes stay allowed.
local EMOJI = {
  { 0x1F000, 0x1FAFF }, { 0x2600, 0x27BF }, { 0x2B00, 0x2BFF }, { 0x2300, 0x23FF },
  { 0xFE00, 0xFE0F }, { 0x200D, 0x200D }, { 0x20E3, 0x20E3 }, { 0xE0000, 0xE007F },
  { 0x3030, 0x3030 }, { 0x303D, 0x303D }, { 0x3297, 0x3297 }, { 0x3299, 0x3299 },
}

local function is_emoji(cp)
  for _, r in ipairs(EMOJI) do
    if cp >= r[1] and cp <= r[2] then return true end
  end
  return false
end

--- groupName: 1..30 characters, no `< > | : " * ? / \`, no emoji, not "." or "..".
function V.group_name(v, field)
  local s, err = V.utf8_text(v, field, 30)
  if not s then return nil, err end
  if s:find('[<>|:"*?/\\]') then
    return fail(field, "characters", 'must not contain < > | : " * ? / or \\')
  end
  if s == "." or s == ".." then return fail(field, "name", "must not be '.' or '..'") end
  for _, cp in ipairs(code_points(s)) do
    if is_emoji(cp) then return fail(field, "emoji", "must not contain emoji") end
  end
  return s
end

--------------------------------------------------------------------------------------------
-- User ids as exact JSON integers (batchAdd / batchDelete)
--------------------------------------------------------------------------------------------

--- Distinct, canonical user ids, in the caller's order (as usergroups.delete_members takes).
function V.user_ids(ids, field)
  return V.id_list(ids, field or "userIds", nil, validate.user_id)
end

-- A permission template id (AmendModRole.template, a Long: -1 = custom): a Lua integer, or
-- a string of digits with an optional leading '-'. Returned as digits for json.int64.
local function template_id(v, field)
  if type(v) == "number" and v % 1 == 0 and v > -2 ^ 53 and v < 2 ^ 53 then
    return string.format("%d", v)
  end
  if type(v) == "string" and v:find("^%-?[0-9]+$") and #v <= 19 then
    if v:sub(1, 1) == "-" then
      local d, err = validate.user_id(v:sub(2), field)
      if not d then return nil, err end
      return "-" .. d
    end
    return validate.user_id(v, field)
  end
  return fail(field, "type", "must be an integer (a Long; -1 = custom), got a " .. type(v))
end

-- capabilities: { name = boolean, ... } (addChildNodePermission, copyPermission, ...).
local function capabilities(v, field)
  if type(v) ~= "table" then return fail(field, "type", "must be a table of booleans, got a " .. type(v)) end
  local out = {}
  for k, x in next, v do
    if type(k) ~= "string" or not k:find("^[A-Za-z][A-Za-z0-9_]*$") or #k > 64 then
      return fail(field, "type", "keys must be capability names (ASCII letters and digits)")
    end
    if type(x) ~= "boolean" then return fail(field .. "." .. k, "type", "must be a boolean") end
    out[k] = x
  end
  return out
end

--- add_members' members: a list of user ids, or of { userId, template?, capabilities? }
-- (AmendModRole). Returns { userIds = {...}, roles = { {userId, template?, capabilities?} } }
-- with each id once (a repeat is refused: two roles for one user are a contradiction).
function V.members(list, field)
  field = field or "members"
  local n, err = validate.list(list, field, nil)
  if not n then return nil, err end
  local ids, roles, seen = {}, {}, {}
  for i = 1, n do
    local item, where = rawget(list, i), field .. "[" .. i .. "]"
    local role
    if type(item) == "table" then
      role, err = V.request(item, where, { userId = validate.user_id, template = template_id,
        capabilities = capabilities }, { "userId" })
      if not role then return nil, err end
    else
      local id
      id, err = validate.user_id(item, where)
      if not id then return nil, err end
      role = { userId = id }
    end
    if seen[role.userId] then
      return fail(where, "duplicate", "names a user already in the list")
    end
    seen[role.userId] = true
    ids[#ids + 1] = role.userId
    roles[#roles + 1] = role
  end
  return { userIds = ids, roles = roles }
end

--------------------------------------------------------------------------------------------
-- Sessions
--------------------------------------------------------------------------------------------

--- A credential (token, refresh token, session id, authorization code): it goes into a
-- header or a JSON string, so printable ASCII, 1..HEADER_MAX bytes. Messages never show it.
function V.credential(v, field)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got a " .. type(v)) end
  if v == "" then return fail(field, "length", "must not be empty") end
  local ok, err = validate.header_value(v, field)
  if not ok then return nil, err end
  return v
end

--- A per-call header option (agent_name, backup_lock_id): printable ASCII, 1..1024 bytes.
-- (Op options are checked even when absent: nil passes as nil, with no error.)
function V.header_option(v, field)
  if v == nil then return nil end
  if v == "" then return fail(field, "length", "must not be empty") end
  return validate.header_value(v, field, 1024)
end

return V
