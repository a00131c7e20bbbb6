-- koodrive_local.routes_sharing: shares (koodrive-sharing-groups-api.md §1)
-- and backup scopes and record files (§5).
--
-- A share belongs to its creator; "received" lists the live shares of other
-- users whose userIds name the caller. Unknown or someone else's share ->
-- 13000309 (inside an HTTP 200, like the recorded unbind). Backup scopes are
-- kept per device id and module code for any device id (the device need not
-- be bound); the backup record of local_credentials (backup_record_id) has
-- backup_record_files files.

local jsonio = require "koodrive_local.jsonio"
local kdutil = require "koodrive_local.kdutil"
local lpaging = require "koodrive_local.lpaging"
local reply = require "koodrive_local.reply"
local tree = require "koodrive_local.tree"

local array, object = jsonio.array, jsonio.object
local kd, kd_param_error = reply.kd, reply.kd_param_error
local opt = kdutil.opt
local auth_decode = require("koodrive_local.auth").percent_decode

local M = {}

local function missing() return kd(200, 13000309, "Resource does not exist.") end

local function optional_list(v, max)
  v = opt(v)
  if v == nil then return true, nil end
  if type(v) == "table" and next(v) == nil then return true, {} end
  local l = kdutil.string_list(v, max)
  return l ~= nil, l
end

local function expire_text(days)
  return os.date("!%Y-%m-%d %H:%M:%S", math.floor(kdutil.now_ms() / 1000) + days * 86400)
end

local function extract_ok(c)
  return c == nil or (type(c) == "string" and #c == 8 and c:match("^[0-9a-zA-Z]+$") ~= nil)
end

local function link_json(st, s, full)
  local files = array()
  if full then
    for _, id in ipairs(s.fileIds) do
      local n = st.nodes[id]
      if n then files[#files + 1] = tree.json(st, n) end
    end
  end
  return object("shareId", s.shareId, "shortUrl", s.shortUrl, "linkUrl", s.linkUrl,
    "extractCode", s.extractCode, "comment", s.comment, "expireTime", s.expireTime,
    "createTime", full and s.createTime or nil, "updateTime", full and s.updateTime or nil,
    "shareTime", full and s.createTime or nil, "scope", full and s.scope or nil,
    "files", full and files or nil, "displayName", full and s.displayName or nil,
    "permission", full and s.permission or nil, "status", full and 0 or nil,
    "viewCnt", full and 0 or nil, "downloadCnt", full and 0 or nil, "saveCnt", full and 0 or nil)
end

-- POST share {scope, fileIds, containerId, validDays, userIds?, ...} -> {code,msg,shareLink}
local function create(svc, ctx, req)
  local b = kdutil.body(req)
  if not b then return kd_param_error() end
  local scope, days = kdutil.int(b.scope, 1, 3), kdutil.int(b.validDays, 1, 365)
  local ids = kdutil.string_list(b.fileIds, 100)
  if not scope or not days or not ids then return kd_param_error() end
  local okU, users = optional_list(b.userIds, 1000)
  local okD = optional_list(b.deptIds, 1000)
  local okG = optional_list(b.groupIds, 1000)
  local okP = optional_list(b.phoneNumbers, 1000)
  local code, comment, perm = opt(b.extractCode), opt(b.comment), opt(b.permission)
  if not (okU and okD and okG and okP) or (code ~= nil and type(code) ~= "string")
    or (comment ~= nil and (type(comment) ~= "string" or #comment >= 512))
    or (perm ~= nil and type(perm) ~= "table") or (opt(b.expireTime) ~= nil and type(b.expireTime) ~= "string") then
    return kd_param_error()
  end
  for k, v in pairs(perm or {}) do
    if type(k) ~= "string" or type(v) ~= "boolean" then return kd_param_error() end
  end
  local st = svc.state
  local space, err = tree.usable_space(st, ctx.user, b.containerId)
  if not space then return kd(400, err, "The space cannot be used.") end
  for _, id in ipairs(ids) do
    local n = tree.resolve(st, space, id)
    if not n or not n.parent or tree.in_bin(st, n) then return kd(400, 13000309, "Resource does not exist.") end
  end
  local short = kdutil.random_alnum(10)
  local s = { shareId = kdutil.new_id(st, "", 19, true), shortUrl = short,
    linkUrl = "https://koodrive.local/s/" .. short, extractCode = code or "", comment = comment or "",
    expireTime = opt(b.expireTime) or expire_text(days), owner = ctx.user, scope = scope,
    fileIds = ids, userIds = users or {}, permission = perm, createTime = kdutil.iso_now(),
    displayName = st.nodes[tree.resolve(st, space, ids[1]).id].fileName }
  s.updateTime = s.createTime
  st.shares[s.shareId] = s
  st.share_order[#st.share_order + 1] = s.shareId
  return kd(200, 0, "success", "shareLink", link_json(st, s, false))
end

local function names(list, user)
  for _, u in ipairs(list) do if u == user then return true end end
  return false
end

-- GET share and share/received ?pageSize=&pageCursor=&sortDirection=&displayName=
-- -> {code,msg,nextCursor,shareLinks:[...]}
local function lister(received)
  return function(svc, ctx, req)
    local q = kdutil.query(req)
    local size = q.pageSize == nil and 100 or kdutil.int(q.pageSize, 1, 100)
    local dir = q.sortDirection == nil and 2 or kdutil.int(q.sortDirection, 1, 2)
    if not size or not dir then return kd_param_error() end
    local st, items = svc.state, {}
    for _, id in ipairs(st.share_order) do
      local s = st.shares[id]
      local wanted
      if received then wanted = s.owner ~= ctx.user and names(s.userIds, ctx.user)
      else wanted = s.owner == ctx.user end
      if wanted and (not q.displayName or q.displayName == "" or s.displayName:find(q.displayName, 1, true)) then
        items[#items + 1] = s
      end
    end
    if dir == 2 then
      for i = 1, math.floor(#items / 2) do items[i], items[#items + 1 - i] = items[#items + 1 - i], items[i] end
    end
    local page, nxt = lpaging.slice(st, items, q.pageCursor, size)
    if not page then return kd_param_error() end
    local out = array()
    for _, s in ipairs(page) do out[#out + 1] = link_json(st, s, true) end
    return kd(200, 0, "success", "nextCursor", nxt, "shareLinks", out)
  end
end

-- PUT share/{id} {validDays 0..365, extractCode?, comment?, expireTime?} -> {code,msg,shareLink}
local function update(svc, ctx, req, raw_id)
  local b = kdutil.body(req)
  if not b then return kd_param_error() end
  local days = kdutil.int(b.validDays, 0, 365)
  local code, comment = opt(b.extractCode), opt(b.comment)
  if opt(b.expireTime) ~= nil and type(b.expireTime) ~= "string" then return kd_param_error() end
  if not days or not extract_ok(code) or (comment ~= nil and (type(comment) ~= "string" or #comment >= 512)) then
    return kd_param_error()
  end
  local st = svc.state
  local s = st.shares[auth_decode(raw_id)]
  if not s or s.owner ~= ctx.user then return missing() end
  s.extractCode, s.comment = code or s.extractCode, comment or s.comment
  s.expireTime = opt(b.expireTime) or (days > 0 and expire_text(days) or "")
  s.updateTime = kdutil.iso_now()
  return kd(200, 0, "success", "shareLink", link_json(st, s, true))
end

-- POST share/cancel {shareIds 1..100} -> {subResponseList:[{shareId,code,msg}],code,msg} (recorded)
local function cancel(svc, ctx, req)
  local b = kdutil.body(req)
  local ids = b and kdutil.string_list(b.shareIds, 100)
  if not ids then return kd_param_error() end
  local st, out, seen = svc.state, array(), {}
  for _, id in ipairs(ids) do
    if not seen[id] then
      seen[id] = true
      local s = st.shares[id]
      if s and s.owner == ctx.user then
        st.shares[id] = nil
        for i, x in ipairs(st.share_order) do
          if x == id then table.remove(st.share_order, i); break end
        end
        out[#out + 1] = object("shareId", id, "code", 0, "msg", "success")
      else
        out[#out + 1] = object("shareId", id, "code", 13000309, "msg", "Resource does not exist.")
      end
    end
  end
  return reply.json(200, object("subResponseList", out, "code", 0, "msg", "Success."))
end

local MODULES = { ["100"] = true, ["101"] = true, ["102"] = true }

-- POST backup/device/{id}/scope {moduleCode, scopeList 1..100} -> {code,msg,scopeIdList}
local function add_scopes(svc, _, req, raw_dev)
  local b = kdutil.body(req)
  local mc = b and (type(b.moduleCode) == "number" and tostring(b.moduleCode) or b.moduleCode)
  if not b or not MODULES[mc] then return kd_param_error() end
  local list = b.scopeList
  if type(list) ~= "table" or not jsonio.is_array(list) or #list == 0 or #list > 100 then return kd_param_error() end
  for _, sc in ipairs(list) do
    if type(sc) ~= "table" or jsonio.is_array(sc) or not kdutil.str(sc.localPath, 4096) then return kd_param_error() end
  end
  local st, dev = svc.state, auth_decode(raw_dev)
  st.scopes[dev] = st.scopes[dev] or {}
  local kept = st.scopes[dev][mc] or {}
  st.scopes[dev][mc] = kept
  local ids = array()
  for _, sc in ipairs(list) do
    local id = kdutil.new_id(st, "", 18, true)
    sc = kdutil.mark(sc)
    sc.scopeId, sc.moduleCode = id, mc
    kept[#kept + 1] = sc
    ids[#ids + 1] = id
  end
  return kd(200, 0, "success", "scopeIdList", ids)
end

-- GET backup/device/{id}/scope?moduleCode= -> {code,msg,scopeList}
local function list_scopes(svc, _, req, raw_dev)
  local mc = kdutil.query(req).moduleCode
  if not MODULES[mc] then return kd_param_error() end
  local per = svc.state.scopes[auth_decode(raw_dev)] or {}
  return kd(200, 0, "success", "scopeList", array(per[mc] or {}))
end

-- GET backup/record/{id}/files?pageSize=&cursor= -> {code,msg,data:[BackupFile],nextCursor}
local function record_files(svc, _, req, raw_id)
  local q = kdutil.query(req)
  local size = kdutil.int(q.pageSize, 1, 100)
  if not size or (q.cursor and #q.cursor > 1000) then return kd_param_error() end
  local st = svc.state
  local files = st.records[auth_decode(raw_id)]
  if not files then return missing() end
  local page, nxt = lpaging.slice(st, files, q.cursor, size)
  if not page then return kd_param_error() end
  local out = array()
  for _, f in ipairs(page) do
    out[#out + 1] = object("fileId", f.fileId, "fileName", f.fileName, "sha256", f.sha256, "size", f.size,
      "description", f.description, "createTime", f.createTime)
  end
  return kd(200, 0, "success", "data", out, "nextCursor", nxt)
end

local V1 = "^/koodrive/ose/v1/"

M.routes = {
  { "POST", V1 .. "share$", create },
  { "GET", V1 .. "share$", lister(false) },
  { "GET", V1 .. "share/received$", lister(true) },
  { "POST", V1 .. "share/cancel$", cancel },
  { "PUT", V1 .. "share/([^/]+)$", update },
  { "POST", V1 .. "backup/device/([^/]+)/scope$", add_scopes },
  { "GET", V1 .. "backup/device/([^/]+)/scope$", list_scopes },
  { "GET", V1 .. "backup/record/([^/]+)/files$", record_files },
}

return M
