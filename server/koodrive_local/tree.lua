-- koodrive_local.tree: the spaces and their folder trees.
--
-- st.spaces[containerId] = space { containerId, type "1"|"2", ownerId,
--   bizRootFileId, rootFileId, bizSboxFileId, capacity, createTime }
-- st.nodes[fileId] = node { id, space = containerId, fileName, fileType,
--   size, parent = fileId | nil (the two roots), children = { ids in creation
--   order }, recycled (this node was deleted to the bin), recycledTime,
--   filePath (the fileIdPath it had when deleted: restore uses it), seq }
-- A node is "in the bin" when it or an ancestor is recycled; the bin lists
-- the recycled nodes themselves.
--
-- Root ids: bizRootFileId is the root folder node (its name "root" followed
-- by the containerId, as the full-path example shows); rootFileId (v2) is a
-- second id naming the same folder; "root" and "sbox" are aliases.

local kdutil = require "koodrive_local.kdutil"
local jsonio = require "koodrive_local.jsonio"

local array, object = jsonio.array, jsonio.object

local M = {}

M.CAPACITY = "107374182400"           -- 100 GiB, as a string like the other SpaceInfo fields

local function add_node(st, space, parent, name, ftype, size, id)
  st.seq = st.seq + 1
  local now = kdutil.iso_now()
  local node = { id = id or kdutil.new_id(st, "F", 32), space = space.containerId, fileName = name,
    fileType = ftype or "10", size = size or 0, parent = parent and parent.id, children = {},
    seq = st.seq, createdTime = now, editedTime = now }
  st.issued[node.id] = true
  st.nodes[node.id] = node
  if parent then parent.children[#parent.children + 1] = node.id end
  return node
end

--- A space (type "1" individual, "2" group) with fixed ids when `fixed` gives them.
function M.new_space(st, type_, owner, fixed)
  fixed = fixed or {}
  local cid = fixed.containerId or kdutil.new_id(st, "IAAD", 41)
  local space = { containerId = cid, type = type_, ownerId = owner, capacity = M.CAPACITY,
    createTime = kdutil.iso_now() }
  st.spaces[cid] = space
  st.issued[cid] = true
  local root = add_node(st, space, nil, "root" .. cid, "10", 0,
    fixed.bizRootFileId or (kdutil.random_alnum(12) .. "root" .. cid))
  local sbox = add_node(st, space, nil, "sbox" .. cid, "10", 0, fixed.bizSboxFileId)
  space.bizRootFileId, space.bizSboxFileId = root.id, sbox.id
  space.rootFileId = fixed.rootFileId or kdutil.new_id(st, "R", 32)
  st.issued[space.rootFileId] = true
  return space
end

--- The individual space of a user, made on first use.
function M.user_space(st, user)
  local cid = st.user_space[user]
  if cid then return st.spaces[cid] end
  local space = M.new_space(st, "1", user)
  st.user_space[user] = space.containerId
  return space
end

--- The space of a group (made on first use for groups created later), or nil.
function M.group_space(st, gid)
  if not st.groups[gid] then return nil end
  local cid = st.group_space[gid]
  if cid then return st.spaces[cid] end
  local space = M.new_space(st, "2", gid)
  st.group_space[gid] = space.containerId
  return space
end

--- The space a user may work in: theirs (type 1) or a group's (type 2); else
-- nil and the error code (13000301 unknown space, 13000410 someone else's).
function M.usable_space(st, user, cid)
  local space = type(cid) == "string" and st.spaces[cid]
  if not space then return nil, 13000301 end
  if space.type == "1" and space.ownerId ~= user then return nil, 13000410 end
  return space
end

--- The node an id (or alias) names inside a space, or nil.
function M.resolve(st, space, fid)
  if fid == "root" or fid == space.rootFileId then return st.nodes[space.bizRootFileId] end
  if fid == "sbox" then return st.nodes[space.bizSboxFileId] end
  local node = type(fid) == "string" and st.nodes[fid]
  if node and node.space == space.containerId then return node end
  return nil
end

function M.in_bin(st, node)
  while node do
    if node.recycled then return true end
    node = node.parent and st.nodes[node.parent]
  end
  return false
end

function M.is_folder(node) return node.fileType == "10" end

--- The active (not recycled) children of a folder, in creation order.
function M.children(st, node)
  local out = {}
  for _, id in ipairs(node.children) do
    local c = st.nodes[id]
    if c and not c.recycled then out[#out + 1] = c end
  end
  return out
end

--- The recycled nodes of a space (the bin's top level), in deletion order.
function M.bin(st, space)
  local out = {}
  for _, n in pairs(st.nodes) do
    if n.space == space.containerId and n.recycled then out[#out + 1] = n end
  end
  table.sort(out, function(a, b) return a.recycledSeq < b.recycledSeq end)
  return out
end

function M.find_child(st, parent, name, except)
  for _, c in ipairs(M.children(st, parent)) do
    if c.fileName == name and c ~= except then return c end
  end
  return nil
end

--- The name to use under parent: name itself when free; with mode 2 the name
-- with a timestamp appended; else nil (13000405).
function M.free_name(st, parent, name, mode, except)
  if not M.find_child(st, parent, name, except) then return name end
  if mode ~= 2 then return nil end
  local base = name .. "_" .. os.date("!%Y%m%d%H%M%S", math.floor(kdutil.now_ms() / 1000))
  local candidate, k = base, 1
  while M.find_child(st, parent, candidate, except) do
    k = k + 1
    candidate = base .. "(" .. k .. ")"
  end
  return candidate
end

function M.add(st, space, parent, name, ftype, size, id)
  return add_node(st, space, parent, name, ftype, size, id)
end

--- fileIdPath and namePath of a node, from its root.
function M.path(st, node)
  local ids, names = {}, {}
  while node do
    table.insert(ids, 1, node.id)
    table.insert(names, 1, node.fileName)
    node = node.parent and st.nodes[node.parent]
  end
  return "/" .. table.concat(ids, "/"), "/" .. table.concat(names, "/")
end

--- Whether `node` is `ancestor` or below it.
function M.below(st, node, ancestor)
  while node do
    if node == ancestor then return true end
    node = node.parent and st.nodes[node.parent]
  end
  return false
end

--- Counts under a folder: total size, folders, files (recursive or direct).
function M.stats(st, node, recursive)
  local size, dirs, files = 0, 0, 0
  local function walk(n)
    for _, c in ipairs(M.children(st, n)) do
      if M.is_folder(c) then
        dirs = dirs + 1
        if recursive then walk(c) end
      else
        files, size = files + 1, size + (c.size or 0)
      end
    end
  end
  walk(node)
  return size, dirs, files
end

--- Every active node of a space below its roots (for search), in creation order.
function M.all_active(st, space)
  local out = {}
  for _, n in pairs(st.nodes) do
    if n.space == space.containerId and n.parent and not M.in_bin(st, n) then out[#out + 1] = n end
  end
  table.sort(out, function(a, b) return a.seq < b.seq end)
  return out
end

local function unlink(st, node)
  local parent = node.parent and st.nodes[node.parent]
  if not parent then return end
  for i, id in ipairs(parent.children) do
    if id == node.id then table.remove(parent.children, i); break end
  end
end

--- Moves a node to the bin (logical delete), keeping where it was.
function M.recycle(st, node, file_path)
  st.seq = st.seq + 1
  node.recycled, node.recycledSeq, node.recycledTime = true, st.seq, kdutil.iso_now()
  node.filePath = file_path or (M.path(st, node))
end

--- Deletes a node and everything below it for good.
function M.destroy(st, node)
  unlink(st, node)
  local function drop(n)
    for _, id in ipairs(n.children) do
      local c = st.nodes[id]
      if c then drop(c) end
    end
    st.nodes[n.id] = nil
    for _, stars in pairs(st.stars) do stars:remove(n.id) end
  end
  drop(node)
end

--- Out of the bin, into its old parent when that is still active, else the root.
function M.restore(st, node)
  local space = st.spaces[node.space]
  local parent = node.parent and st.nodes[node.parent]
  node.recycled, node.recycledSeq, node.recycledTime = nil, nil, nil
  if not parent or M.in_bin(st, parent) then
    unlink(st, node)
    parent = st.nodes[space.bizRootFileId]
    node.parent = parent.id
    parent.children[#parent.children + 1] = node.id
  end
  node.fileName = M.free_name(st, parent, node.fileName, 2, node)
  node.filePath = nil
end

function M.move(st, node, dst_parent)
  unlink(st, node)
  local function respace(n)
    n.space = dst_parent.space
    for _, id in ipairs(n.children) do if st.nodes[id] then respace(st.nodes[id]) end end
  end
  respace(node)
  node.parent = dst_parent.id
  node.fileName = M.free_name(st, dst_parent, node.fileName, 2, node)
  dst_parent.children[#dst_parent.children + 1] = node.id
end

function M.copy(st, node, dst_parent)
  local space = st.spaces[dst_parent.space]
  local name = M.free_name(st, dst_parent, node.fileName, 2)
  local function dup(n, parent, nm)
    local c = add_node(st, space, parent, nm, n.fileType, n.size)
    for _, child in ipairs(M.children(st, n)) do dup(child, c, child.fileName) end
    return c
  end
  return dup(node, dst_parent, name)
end

local function suffix(node)
  if M.is_folder(node) then return nil end
  return node.fileName:match("%.([^.]+)$")
end

--- The file object of the detail page (and every listing).
function M.json(st, node, user)
  local stars = user and st.stars[user]
  local parent = node.parent and array { node.parent } or array()
  return object("category", "drive#file", "id", node.id, "fileName", node.fileName,
    "fileType", node.fileType,
    "mimeType", node.mimeType or (M.is_folder(node) and "folder" or "application/octet-stream"),
    "size", node.size or 0, "sha256", node.sha256, "fileSuffix", suffix(node), "parentFolder", parent,
    "containers", array { node.space }, "recycled", M.in_bin(st, node),
    "favorite", stars and stars:has(node.id) or false,
    "createdTime", node.createdTime, "editedTime", node.editedTime, "recycledTime", node.recycledTime)
end

function M.space_json(st, space)
  local used = M.used(st, space)
  return object("type", space.type, "status", "1", "ownerId", space.ownerId, "containerId", space.containerId,
    "bizRootFileId", space.bizRootFileId, "bizSboxFileId", space.bizSboxFileId,
    "rootFileId", space.rootFileId, "capacity", space.capacity, "spaceUsed", tostring(used),
    "tenantId", "local-tenant", "creator", space.ownerId, "modifier", space.ownerId,
    "createTime", space.createTime, "updateTime", space.createTime)
end

--- Bytes used by the files of a space (the active ones and the bin).
function M.used(st, space)
  local n = 0
  for _, node in pairs(st.nodes) do
    if node.space == space.containerId then n = n + (node.size or 0) end
  end
  return n
end

return M
