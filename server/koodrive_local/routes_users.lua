-- koodrive_local.routes_users: the user directory (koodrive-sharing-groups-api.md
-- §3) and space usage by user (§4). The directory holds the seed users (the
-- user_id, the group members, the carrier user) and those added by POST users.
-- One department ("1") only; deptId filters by it.

local jsonio = require "koodrive_local.jsonio"
local kdutil = require "koodrive_local.kdutil"
local lpaging = require "koodrive_local.lpaging"
local reply = require "koodrive_local.reply"
local routes_groups = require "koodrive_local.routes_groups"
local tree = require "koodrive_local.tree"

local array, object = jsonio.array, jsonio.object
local kd, kd_param_error = reply.kd, reply.kd_param_error
local opt = kdutil.opt

local M = {}

-- GET userList?offset=&limit=[&deptId=&isDirect=&keyWord=] (offset, limit required)
-- -> {code,msg,data:[{name,userId,deptId,deptName,mobile,role,status,id}]}, no total
local function user_list(svc, _, req)
  local q = kdutil.query(req)
  local offset, limit = kdutil.int(q.offset, 0), kdutil.int(q.limit, 1, 100)
  if not offset or not limit then return kd_param_error() end
  if q.isDirect and q.isDirect ~= "true" and q.isDirect ~= "false" then return kd_param_error() end
  local st, all = svc.state, {}
  for _, id in ipairs(st.user_order) do
    local u = st.users[id]
    if (not q.deptId or q.deptId == "" or q.deptId == u.deptId)
      and (not q.keyWord or q.keyWord == "" or u.name:find(q.keyWord, 1, true)) then
      all[#all + 1] = object("name", u.name, "userId", id, "deptId", u.deptId, "deptName", u.deptName,
        "mobile", u.mobile, "role", u.role, "status", u.status, "id", id)
    end
  end
  return kd(200, 0, "success", "data", array(lpaging.offset(all, offset, limit)))
end

-- POST users {userId, modifyUserInfoReq?{deptId?, role?}} -> {code,msg} (recorded),
-- plus data {id: department id} when modifyUserInfoReq was sent (newer pages).
local function add_user(svc, _, req)
  local b = kdutil.body(req)
  if not b or not routes_groups.valid_user_id(b.userId) then return kd_param_error() end
  local m = opt(b.modifyUserInfoReq)
  if m ~= nil and (type(m) ~= "table" or jsonio.is_array(m) and next(m) ~= nil) then return kd_param_error() end
  local dept, role = m and opt(m.deptId), m and opt(m.role)
  if (dept ~= nil and not kdutil.str(dept, 64)) or (role ~= nil and not kdutil.int(role, 0, 9)) then
    return kd_param_error()
  end
  local st = svc.state
  local u = st.users[b.userId]
  if not u then
    u = { userId = b.userId, name = "User " .. b.userId, deptId = "1", deptName = "Local department",
      mobile = "", role = 1, status = 1 }
    st.users[b.userId] = u
    st.user_order[#st.user_order + 1] = b.userId
  end
  u.deptId, u.role = dept or u.deptId, kdutil.int(role) or u.role
  if m == nil then return kd(200, 0, "success") end
  return kd(200, 0, "success", "data", object("id", u.deptId))
end

-- POST space/usage/user {userIds? <=50, offset?, limit?} -> {code,msg,total,data:[UserSpaceQuota]}
local function usage(svc, _, req)
  local b = kdutil.body(req)
  if not b then return kd_param_error() end
  local offset = opt(b.offset) == nil and 0 or kdutil.int(opt(b.offset), 0)
  local limit = opt(b.limit) == nil and 100 or kdutil.int(opt(b.limit), 1, 100)
  local ids = opt(b.userIds)
  if not offset or not limit or (ids ~= nil and not (type(ids) == "table" and next(ids) == nil)
    and not kdutil.string_list(ids, 50)) then
    return kd_param_error()
  end
  local st = svc.state
  if ids == nil or next(ids) == nil then ids = st.user_order end
  local all = {}
  for _, id in ipairs(ids) do
    if not routes_groups.valid_user_id(id) then return kd_param_error() end
    local space = tree.user_space(st, id)
    all[#all + 1] = object("userId", id, "quota", space.capacity, "used", tree.used(st, space),
      "createTime", space.createTime, "effectiveTime", space.createTime, "expirationTime", "")
  end
  return kd(200, 0, "success", "total", #all, "data", array(lpaging.offset(all, offset, limit)))
end

local V1 = "^/koodrive/ose/v1/"

M.routes = {
  { "GET", V1 .. "userList$", user_list },
  { "POST", V1 .. "users$", add_user },
  { "POST", V1 .. "space/usage/user$", usage },
}

return M
