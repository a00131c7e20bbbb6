-- koodrive_local.routes_transfer: upload and download (transfer-api §1-§6):
-- files/create, files/multipart/uploadUrl, files/complete, files/download.
-- Bytes go to the object store (koodrive_local.objstore); an upload record is
-- st.uploads[fileId] = { fileId, uploadId, user, space, parent, name, length,
-- sha256, concurrent, blob, blob_path, closed?, parts[n] = { size, at, offset?, ctx?, gen?,
-- stored? } } (at: where the part's bytes go in the blob; stored: see objstore.put_part). The file
-- node (tree.lua) is made at complete, with the id create gave (local choice).

local jsonio = require "koodrive_local.jsonio"
local kdutil = require "koodrive_local.kdutil"
local objstore = require "koodrive_local.objstore"
local reply = require "koodrive_local.reply"
local routes_files = require "koodrive_local.routes_files"
local sha256ctx = require "koodrive_local.sha256ctx"
local tree = require "koodrive_local.tree"

local array, object = jsonio.array, jsonio.object
local kd, kd_param_error, fail = reply.kd, reply.kd_param_error, routes_files.fail
local opt = kdutil.opt

local M = {}

M.MAX_LENGTH = 214748364800          -- 200 GiB
M.MIN_PART, M.MAX_PART = 5242880, 5368709120
M.MAX_PARTS = 10000
local U32 = 4294967295

local function no_upload() return kd(400, 13000401, "Upload task does not exist.") end
local function integrity(why) return kd(400, 13000402, "File integrity check failed: " .. why .. ".") end

local function hex64(v) return type(v) == "string" and #v == 64 and v:match("^[0-9a-f]+$") ~= nil end

local function base_url() return "http://127.0.0.1:" .. ngx.var.server_port end -- luacheck: ignore ngx

-- The part plan of multiParts (§2), or nil. Concurrent = every part carries
-- partOffset and hashCtx; sequential = none does; a mix is refused.
local function plan(mp, length)
  if type(mp) ~= "table" or not jsonio.is_array(mp) or #mp < 1 or #mp > M.MAX_PARTS then return nil end
  local parts, sum, with_ctx = {}, 0, 0
  for i, p in ipairs(mp) do
    if type(p) ~= "table" or kdutil.int(p.partNumber, 1, M.MAX_PARTS) ~= i then return nil end
    local last = i == #mp
    local size = kdutil.int(p.partSize, last and 0 or M.MIN_PART, M.MAX_PART)
    if not size then return nil end
    local off, ctx = opt(p.partOffset), opt(p.hashCtx)
    if (off == nil) ~= (ctx == nil) then return nil end
    local part = { size = size }
    if off ~= nil then
      part.offset = kdutil.int(off, 0)
      if not part.offset or type(ctx) ~= "table" or #ctx ~= 8 or not jsonio.is_array(ctx) then return nil end
      part.ctx = {}
      for k = 1, 8 do
        part.ctx[k] = kdutil.int(ctx[k], 0, U32)
        if not part.ctx[k] then return nil end
      end
      if not last and size % 64 ~= 0 then return nil end
      with_ctx = with_ctx + 1
    end
    parts[i], sum = part, sum + size
  end
  if sum ~= length or (with_ctx ~= 0 and with_ctx ~= #mp) then return nil end
  return parts, with_ctx > 0
end

-- Without multiParts the service plans itself (§2's Decision), sequentially.
local function default_plan(length)
  local size = math.max(M.MIN_PART, math.ceil(length / M.MAX_PARTS))
  size = math.ceil(size / 64) * 64
  local parts, left = {}, length
  repeat
    local n = math.min(size, left)
    parts[#parts + 1] = { size = n }
    left = left - n
  until left <= 0
  return parts
end

local function parts_json(store, up, numbers)
  local out = array()
  for _, n in ipairs(numbers) do
    local p = up.parts[n]
    out[#out + 1] = object("partNumber", n, "partSize", p.size, "partOffset", p.offset,
      "hashCtx", p.ctx and array(p.ctx) or nil, "partId", up.uploadId .. "-" .. n,
      "uploadUrl", objstore.presign(store, base_url(), "PUT", "p/" .. up.uploadId .. "/" .. n))
  end
  return out
end

-- The space of create: body containerId (a local extension) when given, else
-- the parent folder's, else (the aliases "root"/"sbox") the caller's own.
local function create_space(st, user, cid, pid)
  if cid ~= nil then return tree.usable_space(st, user, cid) end
  local node = st.nodes[pid]
  if node then return tree.usable_space(st, user, node.space) end
  return tree.user_space(st, user)
end

local function pending_name(st, parent, name)
  for _, up in pairs(st.uploads) do
    if up.parent == parent.id and up.name == name then return true end
  end
  return false
end

local function new_file(st, space, parent, name, ftype, length, sha, blob, id)
  local node = tree.add(st, space, parent, name, ftype, length, id)
  node.sha256, node.blob = sha, blob
  return node
end

local function create(svc, ctx, req)
  local b = kdutil.body(req)
  if not b or not kdutil.name_ok(b.fileName) then return kd_param_error() end
  local ftype = opt(b.fileType)
  if type(ftype) == "number" then ftype = kdutil.int(ftype, 0) and tostring(ftype) end
  local pf, length = opt(b.parentFolder), kdutil.int(b.length, 0, M.MAX_LENGTH)
  local mode, sha = kdutil.int(b.autoRename, 2, 4), opt(b.sha256)
  local desc = opt(b.description)
  if not kdutil.str(ftype, 16) or ftype == "10" or not kdutil.string_list(pf, 100) or not length
    or b.uploadMode ~= "multipart" or kdutil.int(b.uploadType) ~= 1 or not mode
    or (sha ~= nil and not hex64(sha))
    or (desc ~= nil and (type(desc) ~= "string" or (kdutil.code_points(desc) or 513) > 512))
    or (opt(b.containerId) ~= nil and not kdutil.str(b.containerId, 64)) then
    return kd_param_error()
  end
  local parts, concurrent
  if opt(b.multiParts) == nil then
    parts, concurrent = default_plan(length), false
  else
    parts, concurrent = plan(b.multiParts, length)
    if not parts then return kd_param_error() end
  end
  local st = svc.state
  local space, err = create_space(st, ctx.user, opt(b.containerId), pf[1])
  if not space then return fail(err) end
  local parent = tree.resolve(st, space, pf[1])
  if not parent then return fail(13000309) end
  if not tree.is_folder(parent) then return fail(13000406) end
  if tree.in_bin(st, parent) then return fail(13000404) end
  local function answer(fid, name, rapid, exist, up)
    local numbers = {}
    for i = 1, up and #up.parts or 0 do numbers[i] = i end
    return kd(200, 0, "success", "fileId", fid, "rapidUpload", rapid, "exist", exist,
      "containerId", space.containerId, "fileName", name, "parentFolder", array { pf[1] },
      "uploadId", up and up.uploadId or nil, "multiParts", up and parts_json(svc.store, up, numbers) or array())
  end
  local same = tree.find_child(st, parent, b.fileName)
  if mode == 4 and same and sha and same.sha256 == sha then return answer(same.id, same.fileName, false, true) end
  local name = tree.free_name(st, parent, b.fileName, mode == 3 and 3 or 2)
  if name and pending_name(st, parent, name) then
    name = mode ~= 3 and tree.free_name(st, parent, name .. "_" .. kdutil.random_alnum(4), 2) or nil
  end
  if not name then return fail(13000405) end
  local hit = sha and svc.store.by_hash[sha .. ":" .. length]
  if hit then
    local node = new_file(st, space, parent, name, ftype, length, sha, hit)
    return answer(node.id, name, true, false)
  end
  local fid = kdutil.new_id(st, "F", 32)
  local up = { fileId = fid, uploadId = kdutil.new_id(st, "U", 24), user = ctx.user, space = space.containerId,
    parent = parent.id, name = name, ftype = ftype, length = length, sha256 = sha, mode = mode,
    concurrent = concurrent, parts = parts }
  objstore.begin_upload(svc.store, up)
  st.uploads[fid], st.uploads_by_id[up.uploadId] = up, up
  return answer(fid, name, false, false, up)
end

local function upload_of(st, user, fid)
  local up = type(fid) == "string" and st.uploads[fid]
  if not up or up.user ~= user then return nil end
  return up
end

-- POST files/multipart/uploadUrl {fileId, multiParts[{partNumber, partSize,...}]} -> {code,msg,multiParts}
local function upload_url(svc, ctx, req)
  local b = kdutil.body(req)
  if not b or not kdutil.str(b.fileId, 64) then return kd_param_error() end
  local up = upload_of(svc.state, ctx.user, b.fileId)
  if not up then return no_upload() end
  local mp = opt(b.multiParts)
  if type(mp) ~= "table" or not jsonio.is_array(mp) or #mp < 1 or #mp > M.MAX_PARTS then return kd_param_error() end
  local numbers = {}
  for i, p in ipairs(mp) do
    local n = type(p) == "table" and kdutil.int(p.partNumber, 1, #up.parts)
    -- partSize, when sent, must be the planned one (the plan is fixed at create)
    if not n or (opt(p.partSize) ~= nil and kdutil.int(p.partSize) ~= up.parts[n].size) then
      return kd_param_error()
    end
    numbers[i] = n
  end
  return kd(200, 0, "success", "multiParts", parts_json(svc.store, up, numbers))
end

-- The whole file's sha256 from the parts' chained states, or nil and why. Every part's
-- bytes were hashed while its PUT streamed, from the state it must start in; the parts
-- chain when each one started in the state the previous one ended in (part 1 in SHA-256's
-- IV), so a concurrent part's hashCtx and partOffset are checked without reading a byte
-- again. Only a sequential part stored before its predecessor is hashed again, from the blob.
local function verify(up)
  local cur, offset = sha256ctx.new(), 0
  for n, p in ipairs(up.parts) do
    local s = p.stored
    if not s then return nil, "part " .. n .. " missing" end
    if s.size ~= p.size then return nil, "part " .. n .. " has the wrong size" end
    if up.concurrent and p.offset ~= offset then return nil, "part " .. n .. " partOffset" end
    if s.start ~= nil and s.start == cur:key() then
      cur = s.finish
    elseif up.concurrent then
      return nil, "part " .. n .. " hashCtx"
    else
      cur = cur:clone()
      if not objstore.rehash(up, p, cur) then return nil, "part " .. n .. " missing" end
    end
    offset = offset + p.size
  end
  return cur:clone():hex()
end

-- POST files/complete {fileId, sha256?} -> {code,msg,fileId,fileName,size,sha256}
local function complete(svc, ctx, req)
  local b = kdutil.body(req)
  if not b or not kdutil.str(b.fileId, 64) then return kd_param_error() end
  local sha = opt(b.sha256)
  if sha ~= nil and not hex64(sha) then return kd_param_error() end
  local st, store = svc.state, svc.store
  local up = upload_of(st, ctx.user, b.fileId)
  if not up then return no_upload() end
  if up.closed then return integrity("the upload is being completed") end
  -- closed to PUTs while verify may yield; reopened when the upload is not finished here
  up.closed = true
  local function refuse(answer, ...)
    up.closed = false
    return answer(...)
  end
  local digest, why = verify(up)
  if not digest then return refuse(integrity, why) end
  if (up.sha256 and up.sha256 ~= digest) or (sha and sha ~= digest) then return refuse(integrity, "sha256") end
  local space, parent = st.spaces[up.space], st.nodes[up.parent]
  if not parent or tree.in_bin(st, parent) then return refuse(fail, 13000404) end
  local name = tree.free_name(st, parent, up.name, up.mode == 3 and 3 or 2)
  if not name then return refuse(fail, 13000405) end
  st.uploads[up.fileId], st.uploads_by_id[up.uploadId] = nil, nil
  new_file(st, space, parent, name, up.ftype, up.length, digest, up.blob, up.fileId)
  store.by_hash[digest .. ":" .. up.length] = up.blob
  return kd(200, 0, "success", "fileId", up.fileId, "fileName", name, "size", up.length, "sha256", digest)
end

-- Content for a file that has none (seeded or /_local/files): byte i is i % 251.
local PATTERN
local function seed_content(store, node)
  if node.blob then return node.blob end
  if not PATTERN then
    local t = {}
    for i = 0, 251 * 261 - 1 do t[#t + 1] = string.char(i % 251) end
    PATTERN = table.concat(t)
  end
  local name, path = objstore.new_blob(store)
  local f = assert(io.open(path, "wb"))
  local left = node.size or 0
  while left > 0 do
    local n = math.min(left, #PATTERN)
    f:write(n == #PATTERN and PATTERN or PATTERN:sub(1, n))
    left = left - n
  end
  f:close()
  node.blob = name
  return name
end

-- POST files/download {containerId, fileIds (<= 100)} -> {code,msg,batchCode,downloads[]}
local function download(svc, ctx, req)
  local b = kdutil.body(req)
  if not b or not kdutil.string_list(b.fileIds, 100) or not kdutil.str(b.containerId, 64) then
    return kd_param_error()
  end
  local st = svc.state
  local space, err = tree.usable_space(st, ctx.user, b.containerId)
  if not space then return fail(err) end
  local out, good = array(), 0
  for _, fid in ipairs(b.fileIds) do
    local node = tree.resolve(st, space, fid)
    if not node or tree.is_folder(node) or tree.in_bin(st, node) then
      out[#out + 1] = object("fileId", fid, "code", "13000309",
        "msg", not node and "Resource does not exist." or "Not a downloadable file.")
    else
      local blob = seed_content(svc.store, node)
      good = good + 1
      out[#out + 1] = object("fileId", fid, "fileName", node.fileName,
        "url", objstore.presign(svc.store, base_url(), "GET", "f/" .. blob), "code", "0", "msg", "success")
    end
  end
  local batch = good == #b.fileIds and 1 or good == 0 and 2 or 0
  return kd(200, 0, "success", "batchCode", batch, "downloads", out)
end

local V1 = "^/koodrive/ose/v1/"

M.routes = {
  { "POST", V1 .. "files/create$", create },
  { "POST", V1 .. "files/multipart/uploadUrl$", upload_url },
  { "POST", V1 .. "files/complete$", complete },
  { "POST", V1 .. "files/download$", download },
}

return M
