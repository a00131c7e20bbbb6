-- koodrive_local.routes_files: listing, detail, directory, rename, path,
-- statsDir, search and emptying the bin (koodrive-files-api.md §3, §4).
-- File errors answer HTTP 400 with the codes of the §1 table (13000301
-- unknown space, 13000309 unknown file, 13000405 duplicate name, 13000410
-- someone else's space, ...); bad parameters 13000102.

local jsonio = require "koodrive_local.jsonio"
local kdutil = require "koodrive_local.kdutil"
local lpaging = require "koodrive_local.lpaging"
local reply = require "koodrive_local.reply"
local routes_jobs = require "koodrive_local.routes_jobs"
local tree = require "koodrive_local.tree"

local array, object = jsonio.array, jsonio.object
local kd, kd_param_error = reply.kd, reply.kd_param_error
local opt = kdutil.opt

local M = {}

local MESSAGES = {
  [13000301] = "Container does not exist or its state is abnormal.",
  [13000306] = "File to operate on is in the recycle bin.",
  [13000309] = "Resource does not exist.",
  [13000404] = "Parent directory is in the recycle bin.",
  [13000405] = "Duplicate file name.",
  [13000406] = "Operation not allowed on a folder.",
  [13000410] = "No permission on the space.",
  [13000413] = "Unsupported search type.",
  [13000414] = "Search type is empty.",
}
local function fail(code)
  if code == 13000102 then return kd_param_error() end
  return kd(400, code, MESSAGES[code] or "Failed.")
end
M.fail = fail

-- The caller's space named by a body or query field, or nil and the error code.
local function space_for(st, user, cid)
  if type(cid) ~= "string" or cid == "" or #cid > 64 then return nil, 13000102 end
  return tree.usable_space(st, user, cid)
end

local SORT_KEYS = {
  [1] = function(n) return n.fileName end, [2] = function(n) return n.size or 0 end,
  [3] = function(n) return n.createdTime end, [4] = function(n) return n.editedTime end,
  [5] = function(n) return n.recycledSeq or 0 end, [6] = function(n) return n.fileType end,
}

local function sorted(items, sort)
  sort = type(sort) == "table" and sort or {}
  local key = SORT_KEYS[kdutil.int(opt(sort.sortType)) or 0]
  local desc = kdutil.int(opt(sort.sortDirection)) == 2
  -- without a sort key the order given (the folder's) stays: ties keep their positions
  local pos = {}
  for i, n in ipairs(items) do pos[n] = i end
  table.sort(items, function(a, b)
    local ka, kb = key and key(a), key and key(b)
    if ka ~= kb then if desc then return ka > kb end return ka < kb end
    return pos[a] < pos[b]
  end)
  return items
end

-- pageInfo {pageSize (default 100, 1..100, number or digit string), pageCursor}
local function page_info(pi, required)
  pi = opt(pi)
  if pi == nil then
    if required then return nil end
    return 100, nil
  end
  if type(pi) ~= "table" then return nil end
  local size = opt(pi.pageSize) == nil and not required and 100 or kdutil.int(opt(pi.pageSize), 1, 100)
  local cursor = opt(pi.pageCursor)
  if not size or (cursor ~= nil and type(cursor) ~= "string") then return nil end
  return size, cursor
end

-- POST files/0|1 and files/{groupId}/0|1?team_type=2
-- -> {code,msg,category,files:[...],nextCursor}
local function listing(svc, ctx, req, a, b)
  local gid, kind = b and a or nil, b or a
  local body = kdutil.body(req)
  if not body or not kdutil.str(body.parentFileId, 64) then return kd_param_error() end
  local st = svc.state
  local space, err = space_for(st, ctx.user, body.containerId)
  if not space then return fail(err) end
  if gid then
    local team_type = kdutil.query(req).team_type or "0"
    if team_type ~= "0" and team_type ~= "2" then return kd_param_error() end
    local gs = team_type == "2" and tree.group_space(st, gid)
    if not gs or gs ~= space then return fail(13000301) end
  elseif space.type ~= "1" then
    return fail(13000410)
  end
  local size, cursor = page_info(body.pageInfo)
  if not size then return kd_param_error() end
  local items
  if kind == "1" then
    items = tree.bin(st, space)
  else
    local parent = tree.resolve(st, space, body.parentFileId)
    if not parent then return fail(13000309) end
    if not tree.is_folder(parent) then return fail(13000406) end
    if tree.in_bin(st, parent) then return fail(13000306) end
    items = tree.children(st, parent)
  end
  local ftype, fname = opt(body.fileType), opt(body.fileName)
  local kept = {}
  for _, n in ipairs(items) do
    if (ftype == nil or ftype == "" or n.fileType == tostring(ftype))
      and (fname == nil or fname == "" or (type(fname) == "string" and n.fileName:find(fname, 1, true))) then
      kept[#kept + 1] = n
    end
  end
  local page, nxt = lpaging.slice(st, sorted(kept, opt(body.sortInfo)), cursor, size)
  if not page then return kd_param_error() end
  local out = array()
  for _, n in ipairs(page) do out[#out + 1] = tree.json(st, n, ctx.user) end
  return kd(200, 0, "success", "category", "drive#fileList", "files", out, "nextCursor", nxt)
end

-- POST files/{id}/detail {containerId} -> {code,msg,data:file}
local function detail(svc, ctx, req, fid)
  local body = kdutil.body(req)
  if not body then return kd_param_error() end
  local st = svc.state
  local space, err = space_for(st, ctx.user, body.containerId)
  if not space then return fail(err) end
  local node = tree.resolve(st, space, fid)
  if not node then return fail(13000309) end
  return kd(200, 0, "success", "data", tree.json(st, node, ctx.user))
end

local function rename_mode(v)
  v = opt(v)
  if v == nil then return 3 end
  return kdutil.int(v, 1, 3)
end

-- POST directory {fileName, fileType:"10", containerId, parentFolder?, renameMode?}
-- -> {code,msg,data:folder}
local function directory(svc, ctx, req)
  local body = kdutil.body(req)
  if not body or not kdutil.name_ok(body.fileName) or tostring(opt(body.fileType)) ~= "10" then
    return kd_param_error()
  end
  local mode = rename_mode(body.renameMode)
  local pf = opt(body.parentFolder)
  if not mode or (pf ~= nil and not kdutil.string_list(pf, 100)) then return kd_param_error() end
  local desc = opt(body.description)
  if desc ~= nil and (type(desc) ~= "string" or (kdutil.code_points(desc) or 513) > 512) then
    return kd_param_error()
  end
  local st = svc.state
  local space, err = space_for(st, ctx.user, body.containerId)
  if not space then return fail(err) end
  local parent = tree.resolve(st, space, pf and pf[1] or "root")
  if not parent then return fail(13000309) end
  if not tree.is_folder(parent) then return fail(13000406) end
  if tree.in_bin(st, parent) then return fail(13000404) end
  local name = tree.free_name(st, parent, body.fileName, mode)
  if not name then return fail(13000405) end
  local node = tree.add(st, space, parent, name, "10", 0)
  node.description = desc
  -- parentFolder echoes the parent as sent (an alias like "root" stays "root"),
  -- so a client can check the folder landed where it asked (local choice)
  local out = tree.json(st, node, ctx.user)
  if pf then out.vals.parentFolder = array { pf[1] } end
  return kd(200, 0, "success", "data", out)
end

-- POST files/rename/{id} {containerId, name, renameMode 2|3} -> {code,msg} (recorded)
local function rename(svc, ctx, req, fid)
  local body = kdutil.body(req)
  if not body or not kdutil.name_ok(body.name) then return kd_param_error() end
  local mode = rename_mode(body.renameMode)
  if not mode then return kd_param_error() end
  local st = svc.state
  local space, err = space_for(st, ctx.user, body.containerId)
  if not space then return fail(err) end
  local node = tree.resolve(st, space, fid)
  if not node then return fail(13000309) end
  if not node.parent then return kd_param_error() end     -- the roots keep their names
  if tree.in_bin(st, node) then return fail(13000306) end
  local name = tree.free_name(st, st.nodes[node.parent], body.name, mode, node)
  if not name then return fail(13000405) end
  node.fileName, node.editedTime = name, kdutil.iso_now()
  return kd(200, 0, "success")
end

-- GET files/path?fileId=&containerId= -> {fileIdPath,namePath,code,msg} (recorded)
local function path(svc, ctx, req)
  local q = kdutil.query(req)
  if not kdutil.str(q.fileId, 64) then return kd_param_error() end
  local st = svc.state
  local space, err = space_for(st, ctx.user, q.containerId)
  if not space then return fail(err) end
  local node = tree.resolve(st, space, q.fileId)
  if not node then return fail(13000309) end
  local ids, names = tree.path(st, node)
  return kd(200, 0, "OK", "fileIdPath", ids, "namePath", names)
end

local function bool_param(v, default)
  if v == nil or v == "" then return default end
  if v == "true" then return true end
  if v == "false" then return false end
  return nil
end

-- GET files/statsDir?fileId=&containerId=&recursive=&includeDirCount=... -> {code,msg,data}
local function stats_dir(svc, ctx, req)
  local q = kdutil.query(req)
  if not kdutil.str(q.fileId, 64) then return kd_param_error() end
  local rec, dirs_on = bool_param(q.recursive, true), bool_param(q.includeDirCount, true)
  local files_on, size_on = bool_param(q.includeFileCount, true), bool_param(q.includeTotalSize, true)
  if rec == nil or dirs_on == nil or files_on == nil or size_on == nil then return kd_param_error() end
  local st = svc.state
  local space, err = space_for(st, ctx.user, q.containerId)
  if not space then return fail(err) end
  local node = tree.resolve(st, space, q.fileId)
  if not node then return fail(13000309) end
  if not tree.is_folder(node) then return fail(13000406) end
  local size, dirs, files = tree.stats(st, node, rec)
  return kd(200, 0, "success", "data", object("totalSize", size_on and size or nil,
    "subDirCount", dirs_on and dirs or nil, "subFileCount", files_on and files or nil))
end

-- POST files/search {searchType, pageInfo{pageSize, pageCursor}, filter{keyWord}}
-- -> {code,msg,files,total,nextPageCursor ("" at the end)}. personal: the
-- caller's space; team: the spaces of the groups the caller owns or is in.
local function search(svc, ctx, req)
  local body = kdutil.body(req)
  if not body then return kd_param_error() end
  local stype = opt(body.searchType)
  if stype == nil or stype == "" then return fail(13000414) end
  if stype ~= "personal" and stype ~= "team" then return fail(13000413) end
  local size, cursor = page_info(body.pageInfo, true)
  if not size then return kd_param_error() end
  local filter = opt(body.filter)
  if filter ~= nil and type(filter) ~= "table" then return kd_param_error() end
  local kw = filter and opt(filter.keyWord)
  if kw ~= nil and type(kw) ~= "string" then return kd_param_error() end
  local st, spaces = svc.state, {}
  if stype == "personal" then
    spaces[1] = tree.user_space(st, ctx.user)
  else
    for _, gid in ipairs(st.group_order) do
      local g = st.groups[gid]
      if g.ownerId == ctx.user or g.members:has(ctx.user) then spaces[#spaces + 1] = tree.group_space(st, gid) end
    end
  end
  local hits, lkw = {}, kw and kw:lower()
  for _, space in ipairs(spaces) do
    for _, n in ipairs(tree.all_active(st, space)) do
      if not lkw or lkw == "" or n.fileName:lower():find(lkw, 1, true) then hits[#hits + 1] = n end
    end
  end
  hits = sorted(hits, opt(body.sortInfo))
  local page, nxt = lpaging.slice(st, hits, cursor, size)
  if not page then return kd_param_error() end
  local out = array()
  for _, n in ipairs(page) do
    local f = tree.json(st, n, ctx.user)
    local ids, names = tree.path(st, n)
    local space = st.spaces[n.space]
    f.keys[#f.keys + 1], f.keys[#f.keys + 2], f.keys[#f.keys + 3], f.keys[#f.keys + 4] =
      "namePath", "idPath", "containerId", "containerType"
    f.vals.namePath, f.vals.idPath, f.vals.containerId, f.vals.containerType = names, ids, space.containerId,
      tonumber(space.type)
    out[#out + 1] = f
  end
  return kd(200, 0, "success", "files", out, "total", #hits, "nextPageCursor", nxt)
end

-- POST files/recycle {containerId} -> {code,msg} (recorded); a taskType 7 job empties the bin.
local function recycle(svc, ctx, req)
  local body = kdutil.body(req)
  if not body then return kd_param_error() end
  local st = svc.state
  local space, err = space_for(st, ctx.user, body.containerId)
  if not space then return fail(err) end
  routes_jobs.start(st, ctx.user, { taskType = 7, actionType = 701, srcContainerId = space.containerId,
    dstContainerId = space.containerId, items = {} })
  return kd(200, 0, "success")
end

local V1 = "^/koodrive/ose/v1/"

M.routes = {
  { "POST", V1 .. "files/search$", search },
  { "POST", V1 .. "files/recycle$", recycle },
  { "GET", V1 .. "files/path$", path },
  { "GET", V1 .. "files/statsDir$", stats_dir },
  { "POST", V1 .. "files/rename/([^/]+)$", rename },
  { "POST", V1 .. "files/([^/]+)/detail$", detail },
  { "POST", V1 .. "files/([01])$", listing },
  { "POST", V1 .. "files/([^/]+)/([01])$", listing },
  { "POST", V1 .. "directory$", directory },
}

return M
