-- koodrive_local.routes_groups: user groups (koodrive-sharing-groups-api.md §2,
-- koodrive-api.md §4). Groups are global (a group id names one group whoever
-- asks); GET usergroups lists the groups the caller owns or is a member of.
-- No per-user permission checks beyond that (a local choice). An unknown
-- group id answers 13000309 inside an HTTP 200, like the recorded unbind.

local auth = require "koodrive_local.auth"
local jsonio = require "koodrive_local.jsonio"
local kdutil = require "koodrive_local.kdutil"
local lpaging = require "koodrive_local.lpaging"
local reply = require "koodrive_local.reply"
local state = require "koodrive_local.state"

local array, object = jsonio.array, jsonio.object
local kd, kd_param_error = reply.kd, reply.kd_param_error

local M = {}

local function missing() return kd(200, 13000309, "Resource does not exist.") end

-- A user id as the contract wants it: 1-19 decimal digits, no sign, no
-- leading zero, at most 2^63-1. Compared as text: it never goes through a double.
local function valid_user_id(s)
  if type(s) ~= "string" or not s:match("^[1-9]%d*$") or #s > 19 then return false end
  return #s < 19 or not auth.bytes_less("9223372036854775807", s)
end
M.valid_user_id = valid_user_id

local function group_name_ok(name)
  return kdutil.name_ok(name) and kdutil.code_points(name) <= 30
end

local function group_of(svc, raw_gid)
  return svc.state.groups[auth.percent_decode(raw_gid)], auth.percent_decode(raw_gid)
end

-- POST usergroups {groupName, sourceType} -> {"code":0,"msg":"OK","id":".."} (recorded)
local function create(svc, ctx, req)
  local b = kdutil.body(req)
  if not b or not group_name_ok(b.groupName) then return kd_param_error() end
  local source = kdutil.int(b.sourceType, 0, 1)
  if not source or type(b.sourceType) ~= "number" then return kd_param_error() end
  local st = svc.state
  local id = kdutil.new_id(st, "", 18, true)
  local now = state.iso_now()
  st.groups[id] = { name = b.groupName, members = state.ordered_set(), sourceType = source,
    ownerId = ctx.user, createdTime = now, updatedTime = now }
  st.group_order[#st.group_order + 1] = id
  return kd(200, 0, "OK", "id", id)
end

-- GET usergroups?pageSize=&pageCursor=&sourceType=[&groupName=]: all three
-- required (pageCursor may be empty: the first page).
local function list(svc, ctx, req)
  local q = kdutil.query(req)
  local size = kdutil.int(q.pageSize, 1, 100)
  local source = kdutil.int(q.sourceType, 0, 1)
  if not size or not source or q.pageCursor == nil then return kd_param_error() end
  local st, mine = svc.state, {}
  for _, gid in ipairs(st.group_order) do
    local g = st.groups[gid]
    if g.sourceType == source and (g.ownerId == ctx.user or g.members:has(ctx.user))
      and (not q.groupName or q.groupName == "" or g.name:find(q.groupName, 1, true)) then
      mine[#mine + 1] = gid
    end
  end
  local page, nxt = lpaging.slice(st, mine, q.pageCursor, size)
  if not page then return kd_param_error() end
  local out = array()
  for _, gid in ipairs(page) do
    local g = st.groups[gid]
    out[#out + 1] = object("id", gid, "groupName", g.name, "ownerId", g.ownerId,
      "createdTime", g.createdTime, "updatedTime", g.updatedTime)
  end
  return kd(200, 0, "success", "nextCursor", nxt, "total", #mine, "userGroupList", out)
end

-- PUT usergroups/{id} {groupName, sourceType, userId?, role?, iconUrl?, top?} -> {"code":0,"msg":"OK"}
local function update(svc, _, req, raw_gid)
  local b = kdutil.body(req)
  if not b or not group_name_ok(b.groupName) or type(b.sourceType) ~= "number"
    or not kdutil.int(b.sourceType, 0, 1) then return kd_param_error() end
  local top = kdutil.opt(b.top)
  if top ~= nil and top ~= "0" and top ~= "1" then return kd_param_error() end
  local g = group_of(svc, raw_gid)
  if not g then return missing() end
  g.name, g.sourceType, g.updatedTime = b.groupName, kdutil.int(b.sourceType), state.iso_now()
  g.iconUrl, g.top = kdutil.opt(b.iconUrl) or g.iconUrl, top or g.top
  return kd(200, 0, "OK")
end

local function delete(svc, _, _, raw_gid)
  local g, gid = group_of(svc, raw_gid)
  if not g then return missing() end
  local st = svc.state
  st.groups[gid] = nil
  for i, x in ipairs(st.group_order) do
    if x == gid then table.remove(st.group_order, i); break end
  end
  st.group_space[gid] = nil
  return kd(200, 0, "OK")
end

-- GET usergroups/{id}/members?offset=&limit=[&keyWord=] (offset 0 and limit
-- 100 when absent) -> {code,msg,total,userGroupMemberInfos:[...]}
local function members(svc, _, req, raw_gid)
  local q = kdutil.query(req)
  local offset = q.offset == nil and 0 or (q.offset:match("^%d+$") and #q.offset <= 9 and tonumber(q.offset))
  local limit = q.limit == nil and 100 or (q.limit:match("^%d+$") and #q.limit <= 3 and tonumber(q.limit))
  if not offset or not limit or limit < 1 or limit > 100 then return kd_param_error() end
  local g = group_of(svc, raw_gid)
  if not g then return missing() end
  local st, all = svc.state, {}
  for _, id in ipairs(g.members.items) do
    local u = st.users[id]
    local name = u and u.name or ("User " .. id)
    local kw = q.keyWord
    if not kw or kw == "" or name:find(kw, 1, true) or id:find(kw, 1, true) then
      all[#all + 1] = object("userId", id, "userName", name, "deptId", u and u.deptId or "1",
        "deptName", u and u.deptName or "Local department", "mobile", u and u.mobile or "",
        "createdTime", g.createdTime, "updatedTime", g.updatedTime)
    end
  end
  return kd(200, 0, "success", "total", #all, "userGroupMemberInfos", array(lpaging.offset(all, offset, limit)))
end

-- The user ids of a batchAdd / batchDelete body, as exact digit strings, or nil.
-- JSON integers of 19 digits do not survive a double, so cjson is only used
-- to check the structure; the digits are read from the raw text.
local function batch_user_ids(raw)
  local doc = jsonio.decode(raw)
  if type(doc) ~= "table" then return nil end
  local ids = {}
  if doc.amendModRoles ~= nil then
    local roles = doc.amendModRoles
    if not jsonio.is_array(roles) or #roles == 0 then return nil end
    for _, r in ipairs(roles) do
      if type(r) ~= "table" or type(r.userId) ~= "number" then return nil end
    end
    -- the value must end at "," or "}" so that 1.5 or 3e18 do not pass as 1 or 3
    for digits in raw:gmatch('"userId"%s*:%s*(%-?%d+)%s*[,}]') do ids[#ids + 1] = digits end
    if #ids ~= #roles then return nil end
  elseif doc.userIds ~= nil then
    -- the documentation example's form: {"userIds":["...", ...]}
    if not jsonio.is_array(doc.userIds) or #doc.userIds == 0 then return nil end
    for i, v in ipairs(doc.userIds) do
      if type(v) ~= "string" then return nil end
      ids[i] = v
    end
  else
    return nil
  end
  for _, id in ipairs(ids) do
    if not valid_user_id(id) then return nil end
  end
  return ids
end


-- POST usergroups/{id}/members/batchAdd {amendModRoles:[{userId:<int>,template?}]}
-- -> {code:0,msg:"OK",id:<group id>,status,failedList} (the recorded example
-- answers {code,msg,id}; status and failedList from the 2024 table). An id
-- already a member is in failedList.
local function batch_add(svc, _, req, raw_gid)
  local ids = batch_user_ids(req.body)
  if not ids then return kd_param_error() end
  local doc = jsonio.decode(req.body)
  for _, r in ipairs(doc.amendModRoles or {}) do
    local t = kdutil.opt(r.template)
    if t ~= nil and not kdutil.int(t) then return kd_param_error() end
  end
  local g, gid = group_of(svc, raw_gid)
  if not g then return missing() end
  local failed, added, seen = array(), 0, {}
  for _, id in ipairs(ids) do
    if not seen[id] then
      seen[id] = true
      if g.members:add(id) then added = added + 1 else failed[#failed + 1] = id end
    end
  end
  local status = (#failed == 0) and 0 or (added == 0 and 2 or 1)
  return kd(200, 0, "OK", "id", gid, "status", status, "failedList", failed)
end

local function batch_delete(self, _, req, raw_gid)
  local ids = batch_user_ids(req.body)
  if not ids then return kd_param_error() end
  local g = self.state.groups[auth.percent_decode(raw_gid)]
  if not g then return kd(200, 13000309, "Resource does not exist.") end
  local failed, deleted, seen = array(), 0, {}
  for _, id in ipairs(ids) do
    if not seen[id] then          -- an id named twice is handled once
      seen[id] = true
      if g.members:remove(id) then deleted = deleted + 1 else failed[#failed + 1] = id end
    end
  end
  local status = (#failed == 0) and 0 or (deleted == 0 and 2 or 1)
  return kd(200, 0, "Success", "status", status, "failedList", failed)
end


local V1 = "^/koodrive/ose/v1/"

M.routes = {
  { "POST", V1 .. "usergroups$", create },
  { "GET", V1 .. "usergroups$", list },
  { "PUT", V1 .. "usergroups/([^/]+)$", update },
  { "DELETE", V1 .. "usergroups/([^/]+)$", delete },
  { "GET", V1 .. "usergroups/([^/]+)/members$", members },
  { "POST", V1 .. "usergroups/([^/]+)/members/batchAdd$", batch_add },
  { "POST", V1 .. "usergroups/([^/]+)/members/batchDelete$", batch_delete },
}

return M
