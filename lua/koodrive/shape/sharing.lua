--- Results of the sharing family (koodrive-sharing-groups-api.md): shares, user groups,
-- users, space usage, backups, sessions. Each function takes (body, args, call, opts) and
-- returns the result, or nil and a message for a "decode" error. Ids come back as strings
-- (numbers that are whole and below 2^53 are written as their digits); an answer about an
-- id that was not sent is a contradiction. Messages name fields and types, never values.
local json = require "koodrive.json"
local common = require "koodrive.shape"

local S = {}

local absent, id_string = common.absent, common.id_string
S.id_string = id_string

local function paging() return require "koodrive.paging" end

--- The page size a listing sends: the per-call page_size, else the documented default.
function S.limit(opts, default)
  return (opts and opts.page_size) or default
end

-- A shallow copy of object `o` with `key` (an id) as a string; nil and a message when `o`
-- is not an object, or the id is missing (required) or not an id.
local function entry(o, where, key, required)
  if not json.is_object(o) then return nil, "'" .. where .. "' is not an object" end
  local out = {}
  for k, v in pairs(o) do out[k] = v end
  if absent(o[key]) then
    if required then return nil, "'" .. where .. "." .. key .. "' is missing" end
    out[key] = nil
    return out
  end
  local id = id_string(o, key)
  if not id then return nil, "'" .. where .. "." .. key .. "' is not an id" end
  out[key] = id
  return out
end

-- The entries of array `list` (named `name`) as copies with `key` a string id; absent or
-- null is no entries only when `optional`.
local function entries(list, name, key, required, optional)
  if absent(list) and optional then return {} end
  if not json.is_array(list) then return nil, "'" .. name .. "' is not an array" end
  local out = {}
  for i = 1, #list do
    local e, err = entry(list[i], name .. "[" .. i .. "]", key, required)
    if not e then return nil, err end
    out[i] = e
  end
  -- Marked as an array, as a decoded one is (koodrive.paging checks its items with is_array).
  return setmetatable(out, json.array_mt)
end

-- Fields that must be strings (or absent/null) in `o`.
local function strings(o, where, keys)
  for _, k in ipairs(keys) do
    if not absent(o[k]) and type(o[k]) ~= "string" then
      return nil, "'" .. where .. "." .. k .. "' is not a string"
    end
  end
  return true
end

-- A continuation cursor: a string, or absent/null/"" at the end (returned as nil).
local function cursor(body, key)
  local v = body[key]
  if absent(v) or v == "" then return nil end
  if type(v) ~= "string" then return nil, "'" .. key .. "' is not a string" end
  return v
end

-- `total` when present: a whole number >= 0.
local function total(body)
  if absent(body.total) then return nil end
  local n = json.integer(body, "total")
  if not n or n < 0 then return nil, "'total' is not a whole number" end
  return n
end

--------------------------------------------------------------------------------------------
-- Shares
--------------------------------------------------------------------------------------------

local LINK_TEXT = { "shortUrl", "linkUrl", "extractCode", "comment", "expireTime", "displayName" }

-- The shareLink object of a create/update answer.
local function share_link(body)
  local link, err = entry(body.shareLink, "shareLink", "shareId", true)
  if not link then return nil, err end
  local ok, serr = strings(link, "shareLink", LINK_TEXT)
  if not ok then return nil, serr end
  return link
end

--- shares.create: the new shareLink {shareId, shortUrl, linkUrl, extractCode, ...}.
function S.share_created(body) return share_link(body) end

--- shares.update: the shareLink, which must be the share that was changed.
function S.share_updated(body, args)
  local link, err = share_link(body)
  if not link then return nil, err end
  if link.shareId ~= args.shareId then return nil, "'shareLink.shareId' is not the shareId that was sent" end
  return link
end

-- shares.list / shares.received: a cursor page of shareLinks.
local function share_page(body, opts, required)
  local items, err = entries(body.shareLinks, "shareLinks", "shareId", required, true)
  if not items then return nil, err end
  for i, link in ipairs(items) do
    local ok, serr = strings(link, "shareLinks[" .. i .. "]", LINK_TEXT)
    if not ok then return nil, serr end
    if not absent(link.files) and not json.is_array(link.files) then
      return nil, "'shareLinks[" .. i .. "].files' is not an array"
    end
  end
  local next_cursor, cerr = cursor(body, "nextCursor")
  if cerr then return nil, cerr end
  return paging().cursor_page(body, items, next_cursor, opts)
end

function S.share_list(body, _, _, opts) return share_page(body, opts, true) end
-- ShareWithMeLink's fields beyond the shared files are not in our copy: shareId optional.
function S.share_received(body, _, _, opts) return share_page(body, opts, false) end

-- A per-item code: 0 or "0" is success; another integer (or digit string) a failure.
local function item_code(o)
  local v = o.code
  if type(v) == "number" then return json.integer(o, "code") end
  if type(v) == "string" and v:find("^%-?%d+$") then return tonumber(v) end
  return nil
end

--- shares.cancel: every id sent is accounted for, in `cancelled`, `failed` ({shareId, code,
-- msg}) or, after an earlier attempt that may have been carried out, `uncertain`.
-- koodrive-sharing-groups-api.md 1.5: `subResponseList[] {shareId, code, msg}`, per-item code
-- 0 or "0" = cancelled. An id the service left out is failed with code "KOODRIVE.UNREPORTED";
-- an id that was not sent, or one reported twice with different outcomes, is a contradiction.
function S.shares_cancelled(body, args, call)
  local wanted = {}
  for _, id in ipairs(args.shareIds) do wanted[id] = true end
  local list = body.subResponseList
  if absent(list) then list = {} elseif not json.is_array(list) then
    return nil, "'subResponseList' is not an array"
  end
  local outcome = {}
  local failed_by = {}
  for i = 1, #list do
    local where = "subResponseList[" .. i .. "]"
    local item = list[i]
    if not json.is_object(item) then return nil, "'" .. where .. "' is not an object" end
    local id = id_string(item, "shareId")
    if not id then return nil, "'" .. where .. ".shareId' is not an id" end
    if not wanted[id] then return nil, "'" .. where .. ".shareId' is a share that was not sent" end
    local code = item_code(item)
    if code == nil then return nil, "'" .. where .. ".code' is not an integer" end
    if not absent(item.msg) and type(item.msg) ~= "string" then return nil, "'" .. where .. ".msg' is not a string" end
    local ok = code == 0
    if outcome[id] ~= nil and outcome[id] ~= ok then
      return nil, "'" .. where .. "' contradicts an earlier entry for the same share"
    end
    outcome[id] = ok
    if not ok and not failed_by[id] then failed_by[id] = { shareId = id, code = code, msg = item.msg } end
  end
  local cancelled, failed = {}, {}
  for _, id in ipairs(args.shareIds) do
    if outcome[id] == true then cancelled[#cancelled + 1] = id
    elseif outcome[id] == false then failed[#failed + 1] = failed_by[id]
    else
      failed[#failed + 1] = { shareId = id, code = "KOODRIVE.UNREPORTED",
        msg = "the service reported neither success nor failure for this share" }
    end
  end
  local uncertain = {}
  if call and call.ambiguous and #failed > 0 then failed, uncertain = {}, failed end
  return { cancelled = cancelled, failed = failed, uncertain = uncertain,
    history = call and call.ambiguous and call.history or nil }
end

--------------------------------------------------------------------------------------------
-- User groups
--------------------------------------------------------------------------------------------

-- failedList: an array of ids (absent or null: none).
local function id_array(list, name)
  if absent(list) then return {} end
  if not json.is_array(list) then return nil, "'" .. name .. "' is not an array" end
  local out = {}
  for i = 1, #list do
    local id = id_string(list, i)
    if not id then return nil, "'" .. name .. "[" .. i .. "]' is not an id" end
    out[i] = id
  end
  return out
end

--- usergroups.create: { id = the new group's id, failedList }. CreateUserGroup's example
-- answers {"code":0,"msg":"OK","id":"xxx"} (Decision 2.1: read the id from `id`).
function S.group_created(body)
  local id = id_string(body, "id")
  if not id then return nil, "'id' (the new group's id) is missing or not an id" end
  local failed, err = id_array(body.failedList, "failedList")
  if not failed then return nil, err end
  return { id = id, failedList = failed }
end

--- usergroups.list: a cursor page of userGroupList {id, groupName, ownerId, ...}, with total.
function S.group_list(body, _, _, opts)
  local items, err = entries(body.userGroupList, "userGroupList", "id", true, true)
  if not items then return nil, err end
  for i, g in ipairs(items) do
    local ok, serr = strings(g, "userGroupList[" .. i .. "]", { "groupName" })
    if not ok then return nil, serr end
    if not absent(g.ownerId) then
      g.ownerId = id_string(g, "ownerId")
      if not g.ownerId then return nil, "'userGroupList[" .. i .. "].ownerId' is not an id" end
    end
  end
  local next_cursor, cerr = cursor(body, "nextCursor")
  if cerr then return nil, cerr end
  local t, terr = total(body)
  if terr then return nil, terr end
  return paging().cursor_page(body, items, next_cursor, opts, t)
end

--- usergroups.update / usergroups.delete: { groupId } (the answer is code and msg only).
function S.group_done(_, args) return { groupId = args.groupId } end

S.MEMBERS_LIMIT = 100

--- usergroups.members: an offset page of userGroupMemberInfos {userId, userName, ...}.
function S.group_members(body, _, _, opts)
  local items, err = entries(body.userGroupMemberInfos, "userGroupMemberInfos", "userId", true, true)
  if not items then return nil, err end
  for i, m in ipairs(items) do
    local ok, serr = strings(m, "userGroupMemberInfos[" .. i .. "]", { "userName", "deptName", "mobile" })
    if not ok then return nil, serr end
  end
  local t, terr = total(body)
  if terr then return nil, terr end
  return paging().offset_page(body, items, opts, S.limit(opts, S.MEMBERS_LIMIT), t)
end

--- usergroups.add_members: every requested id in exactly one of `added`, `failedList` or
-- (after an earlier attempt that may have been carried out) `uncertain`; `status` 0 all,
-- 1 partly, 2 none - missing with code 0 means all (the 2024-07 example answers without it).
-- The same reading as usergroups.delete_members (koodrive-api.md §4).
function S.members_added(body, args, call)
  return common.member_outcome(body, args.members.userIds, call, "added")
end

--------------------------------------------------------------------------------------------
-- Users and space usage
--------------------------------------------------------------------------------------------

S.USERS_LIMIT = 100

--- users.list: an offset page of `data` (the example's `list` when `data` is absent); no
-- total, so the listing ends at a page shorter than the limit (Decision 3.1).
function S.user_list(body, _, _, opts)
  local list = body.data
  if absent(list) then list = body.list end
  local items, err = entries(list, "data", "userId", false, true)
  if not items then return nil, err end
  for i, u in ipairs(items) do
    local ok, serr = strings(u, "data[" .. i .. "]", { "name", "deptName", "mobile" })
    if not ok then return nil, serr end
    if not absent(u.deptId) then
      u.deptId = id_string(u, "deptId")
      if not u.deptId then return nil, "'data[" .. i .. "].deptId' is not an id" end
    end
  end
  return paging().offset_page(body, items, opts, S.limit(opts, S.USERS_LIMIT))
end

--- users.create: { id = the department id (2024-12 pages: data.id) or nil }.
function S.user_created(body)
  local data = body.data
  if absent(data) then return {} end
  if not json.is_object(data) then return nil, "'data' is not an object" end
  if absent(data.id) then return {} end
  local id = id_string(data, "id")
  if not id then return nil, "'data.id' is not an id" end
  return { id = id }
end

S.USAGE_LIMIT = 50

--- usage.by_user: an offset page of UserSpaceQuota {quota, userId, used, ...} with total;
-- with userIds sent, every entry must be about one of them.
function S.usage(body, args, _, opts)
  local items, err = entries(body.data, "data", "userId", true, true)
  if not items then return nil, err end
  local wanted
  if args.userIds then
    wanted = {}
    for _, id in ipairs(args.userIds) do wanted[id] = true end
  end
  for i, u in ipairs(items) do
    local where = "data[" .. i .. "]"
    if wanted and not wanted[u.userId] then return nil, "'" .. where .. ".userId' is a user that was not sent" end
    -- quota is documented as a string: a number is taken as its digits.
    if type(u.quota) == "number" then
      u.quota = id_string(u, "quota") or tostring(u.quota)
    elseif not absent(u.quota) and type(u.quota) ~= "string" then
      return nil, "'" .. where .. ".quota' is not a string"
    end
    if not absent(u.used) and type(u.used) ~= "number" then return nil, "'" .. where .. ".used' is not a number" end
  end
  local t, terr = total(body)
  if terr then return nil, terr end
  return paging().offset_page(body, items, opts, S.limit(opts, S.USAGE_LIMIT), t)
end

--------------------------------------------------------------------------------------------
-- Backups (carrier)
--------------------------------------------------------------------------------------------

--- backups.add_scopes: the answer as given (its fields are not in our copy of the page).
function S.scopes_added(body) return body end

--- backups.scopes: { scopeList = the array (fields not documented in our copy) }.
function S.scopes(body)
  local list = body.scopeList
  if absent(list) then return { scopeList = {} } end
  if not json.is_array(list) then return nil, "'scopeList' is not an array" end
  for i = 1, #list do
    if not json.is_object(list[i]) then return nil, "'scopeList[" .. i .. "]' is not an object" end
  end
  return { scopeList = list }
end

--- backups.record_files: a cursor page of BackupFile {fileId, fileName, sha256, size, ...}.
function S.backup_files(body, _, _, opts)
  local items, err = entries(body.data, "data", "fileId", true, true)
  if not items then return nil, err end
  for i, f in ipairs(items) do
    local where = "data[" .. i .. "]"
    local ok, serr = strings(f, where, { "fileName", "sha256", "description", "createTime" })
    if not ok then return nil, serr end
    local size = f.size
    if not absent(size) and type(size) ~= "number" and not (type(size) == "string" and size:find("^%d+$")) then
      return nil, "'" .. where .. ".size' is not a number"
    end
  end
  local next_cursor, cerr = cursor(body, "nextCursor")
  if cerr then return nil, cerr end
  return paging().cursor_page(body, items, next_cursor, opts)
end

return S
