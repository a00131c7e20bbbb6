-- koodrive_local.routes_spaces: spaces (koodrive-files-api.md §2) and
-- favorites (§6).
--
-- Every user has an individual space (type "1", made on first use); every
-- group a group space (type "2"). Any caller may ask for any owner's space
-- (no permission model here); file calls then check that a type 1 space is
-- the caller's own (13000410 otherwise).

local jsonio = require "koodrive_local.jsonio"
local kdutil = require "koodrive_local.kdutil"
local lpaging = require "koodrive_local.lpaging"
local reply = require "koodrive_local.reply"
local routes_groups = require "koodrive_local.routes_groups"
local state = require "koodrive_local.state"
local tree = require "koodrive_local.tree"

local array, object = jsonio.array, jsonio.object
local kd, kd_param_error = reply.kd, reply.kd_param_error

local M = {}

local auth_decode = require("koodrive_local.auth").percent_decode

local function no_space() return kd(400, 13000301, "Container does not exist or its state is abnormal.") end

-- GET v1 space/{owner}?type=1|2[&containerId=] -> {code,msg,data:SpaceInfo}
local function space_v1(svc, _, req, raw_owner)
  local owner, q = auth_decode(raw_owner), kdutil.query(req)
  local st = svc.state
  local space
  if q.type == "1" then
    if not routes_groups.valid_user_id(owner) then return kd_param_error() end
    space = tree.user_space(st, owner)
  elseif q.type == "2" then
    space = tree.group_space(st, owner)
  elseif q.type == "0" then
    return no_space()             -- no departments here
  else
    return kd_param_error()
  end
  if not space then return no_space() end
  if q.containerId and q.containerId ~= "" and q.containerId ~= space.containerId then return no_space() end
  return kd(200, 0, "success", "data", tree.space_json(st, space))
end

-- GET v2 space/{owner}[?type=] -> {code,msg,data:[SpaceInfoV2...]}: the
-- user's individual space and the spaces of the groups they own or are in.
local function space_v2(svc, _, req, raw_owner)
  local owner, q = auth_decode(raw_owner), kdutil.query(req)
  if not routes_groups.valid_user_id(owner) then return kd_param_error() end
  if q.type and q.type ~= "0" and q.type ~= "1" and q.type ~= "2" then return kd_param_error() end
  local st, out = svc.state, array()
  if not q.type or q.type == "1" then out[#out + 1] = tree.space_json(st, tree.user_space(st, owner)) end
  if not q.type or q.type == "2" then
    for _, gid in ipairs(st.group_order) do
      local g = st.groups[gid]
      if g.ownerId == owner or g.members:has(owner) then
        out[#out + 1] = tree.space_json(st, tree.group_space(st, gid))
      end
    end
  end
  return kd(200, 0, "success", "data", out)
end

local function stars_of(st, user)
  local s = st.stars[user]
  if not s then
    s = state.ordered_set()
    st.stars[user] = s
  end
  return s
end

-- POST star/batch {starred, subRequestList:[{containerId,fileId}] 1..100}
-- -> {status:0|1|2, subResponseList:[{fileId,code:"0"|"1300..",message}]} (no envelope, recorded)
local function star_batch(svc, ctx, req)
  local b = kdutil.body(req)
  if not b or type(b.starred) ~= "boolean" then return kd_param_error() end
  local list = b.subRequestList
  if type(list) ~= "table" or not jsonio.is_array(list) or #list == 0 or #list > 100 then return kd_param_error() end
  local st, stars = svc.state, stars_of(svc.state, ctx.user)
  local out, ok_n = array(), 0
  for _, item in ipairs(list) do
    if type(item) ~= "table" or type(item.fileId) ~= "string" then return kd_param_error() end
  end
  for _, item in ipairs(list) do
    local space, code = tree.usable_space(st, ctx.user, item.containerId)
    local node = space and tree.resolve(st, space, item.fileId)
    if space and not node then code = 13000309 end
    if node and not node.parent then code = 13000102 end   -- the roots cannot be starred
    if node and node.parent then
      if b.starred then stars:add(node.id) else stars:remove(node.id) end
      ok_n = ok_n + 1
      out[#out + 1] = object("fileId", item.fileId, "code", "0", "message", "success")
    else
      out[#out + 1] = object("fileId", item.fileId, "code", tostring(code), "message",
        code == 13000309 and "Resource does not exist." or "Failed.")
    end
  end
  local status = ok_n == #list and 0 or (ok_n == 0 and 2 or 1)
  return reply.json(200, object("status", status, "subResponseList", out))
end

-- GET star/files?pageSize=&pageCursor=&sortDirection=&fileType= -> {code,msg,nextCursor,autoDeleted,starFiles}
local function star_files(svc, ctx, req)
  local q = kdutil.query(req)
  local size = q.pageSize == nil and 100 or kdutil.int(q.pageSize, 1, 100)
  local dir = q.sortDirection == nil and 2 or kdutil.int(q.sortDirection, 1, 2)
  if not size or not dir then return kd_param_error() end
  local st, items = svc.state, {}
  for _, id in ipairs(stars_of(st, ctx.user).items) do
    local n = st.nodes[id]
    if n and (not q.fileType or q.fileType == "" or n.fileType == q.fileType) then items[#items + 1] = n end
  end
  if dir == 2 then
    for i = 1, math.floor(#items / 2) do items[i], items[#items + 1 - i] = items[#items + 1 - i], items[i] end
  end
  local page, nxt = lpaging.slice(st, items, q.pageCursor, size)
  if not page then return kd_param_error() end
  local out = array()
  for _, n in ipairs(page) do out[#out + 1] = tree.json(st, n, ctx.user) end
  return kd(200, 0, "success", "nextCursor", nxt, "autoDeleted", 0, "starFiles", out)
end

M.routes = {
  { "GET", "^/koodrive/ose/v1/space/([^/]+)$", space_v1 },
  { "GET", "^/koodrive/ose/v2/space/([^/]+)$", space_v2 },
  { "POST", "^/koodrive/ose/v1/star/batch$", star_batch },
  { "GET", "^/koodrive/ose/v1/star/files$", star_files },
}

return M
