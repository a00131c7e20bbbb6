--- The transfer operations of the files service (koodrive-transfer-api.md §1, §3, §5, §6.1):
-- create an upload, fresh part URLs, complete it, and download URLs. The bytes themselves go
-- to presigned object-store URLs, never through these calls (koodrive.transfer).
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local vf = require "koodrive.validate.files"
local plan = require "koodrive.transfer.plan"
local shape = require "koodrive.shape.transfers"

local function fail(field, rule, message) return nil, errors.validation(field, rule, message) end

local function whole(v) return type(v) == "number" and v == v and v % 1 == 0 end

local function bytes(v, field, max)
  if not whole(v) or v < 0 or v > max then
    return fail(field, "range", "must be a whole number of bytes from 0 to " .. string.format("%d", max))
  end
  return v
end

local function sha256_hex(v, field)
  if type(v) ~= "string" or not v:find("^" .. ("%x"):rep(64) .. "$") or v:find("%u") then
    return fail(field, "sha256", "must be 64 lowercase hexadecimal characters")
  end
  return v
end

local function text(max) return function(v, field) return vf.utf8_text(v, field, max) end end

-- parentFolder as for mkdir (one id), marked as a JSON array for the encoder.
local function parent_folder(v, field)
  local r, err = vf.parent_folder(v, field)
  if not r then return nil, err end
  return json.array(r)
end

-- MultiPartInfo (§2): partNumber 1..10000, partSize within bounds, partOffset and hashCtx
-- (eight unsigned 32-bit integers) only for concurrent uploads.
local PART_KEYS = { partNumber = true, partSize = true, partOffset = true, hashCtx = true }
local function part_info(p, field)
  if type(p) ~= "table" then return fail(field, "type", "must be a MultiPartInfo table") end
  local ok, err = validate.known_keys(p, field, PART_KEYS)
  if not ok then return nil, err end
  if not whole(p.partNumber) or p.partNumber < 1 or p.partNumber > plan.MAX_PARTS then
    return fail(field .. ".partNumber", "range", "must be a whole number from 1 to 10000")
  end
  local size, serr = bytes(p.partSize, field .. ".partSize", plan.MAX_PART)
  if not size then return nil, serr end
  local out = { partNumber = p.partNumber, partSize = size }
  if p.partOffset ~= nil then
    local off, oerr = bytes(p.partOffset, field .. ".partOffset", plan.MAX_LENGTH)
    if not off then return nil, oerr end
    if off % plan.BLOCK ~= 0 then return fail(field .. ".partOffset", "block", "must be a multiple of 64") end
    out.partOffset = off
  end
  if p.hashCtx ~= nil then
    local ctx = p.hashCtx
    if type(ctx) ~= "table" or #ctx ~= 8 then
      return fail(field .. ".hashCtx", "type", "must be eight 32-bit integers")
    end
    local copy = {}
    for i = 1, 8 do
      if not whole(ctx[i]) or ctx[i] < 0 or ctx[i] > 4294967295 then
        return fail(field .. ".hashCtx", "range", "must be eight unsigned 32-bit integers")
      end
      copy[i] = ctx[i]
    end
    out.hashCtx = json.array(copy)
  end
  return out
end

local function multi_parts(v, field)
  local n, err = validate.list(v, field, plan.MAX_PARTS)
  if not n then return nil, err end
  if n == 0 then return fail(field, "required", "must list at least one part") end
  local out, seen = {}, {}
  for i = 1, n do
    local p, perr = part_info(v[i], field .. "[" .. i .. "]")
    if not p then return nil, perr end
    if seen[p.partNumber] then return fail(field .. "[" .. i .. "]", "duplicate", "repeats a partNumber") end
    seen[p.partNumber] = true
    out[i] = p
  end
  return json.array(out)
end

local CREATE_RULES = {
  containerId = vf.container_id, fileName = vf.name, fileType = text(16), parentFolder = parent_folder,
  length = function(v, f) return bytes(v, f, plan.MAX_LENGTH) end,
  uploadMode = function(v, f)
    if v ~= "multipart" then return fail(f, "enum", 'must be "multipart" (the only documented mode)') end
    return v
  end,
  uploadType = function(v, f) return vf.enum_int(v, f, { [1] = true }, "1 (multipart)") end,
  autoRename = function(v, f) return vf.enum_int(v, f, { [2] = true, [3] = true, [4] = true }, "2, 3, 4") end,
  sha256 = sha256_hex, multiParts = multi_parts,
  description = text(512), mimeType = text(255), createdTime = text(64),
}
local CREATE_REQUIRED = { "fileName", "fileType", "parentFolder", "length", "autoRename", "sha256" }

local function create_request(v, field)
  local r, err = vf.request(v, field, CREATE_RULES, CREATE_REQUIRED)
  if not r then return nil, err end
  -- Decision (mode): always multipart, uploadType 1.
  r.uploadMode, r.uploadType = "multipart", 1
  return r
end

local share_header, SHARE_OPTION = vf.share_header, vf.SHARE_OPTION

local function file_ids(v, field)
  local n, err = validate.list(v, field, 100)
  if not n then return nil, err end
  if n == 0 then return fail(field, "required", "must list at least one fileId") end
  local out = {}
  for i = 1, n do
    local id, ierr = vf.id(v[i], field .. "[" .. i .. "]")
    if not id then return nil, ierr end
    out[i] = id
  end
  return json.array(out)
end

return {
  {
    name = "files.create_upload",
    method = "POST", path = "/koodrive/ose/v1/files/create",
    args = { { name = "req", check = create_request } },
    options = SHARE_OPTION, headers = share_header,
    body = function(a) return json.encode(a.req) end,
    idempotent = false, code_optional = true,
    result = shape.created_upload,
  },
  {
    name = "files.upload_urls",
    method = "POST", path = "/koodrive/ose/v1/files/multipart/uploadUrl",
    args = { { name = "fileId", check = vf.id }, { name = "multiParts", check = multi_parts } },
    options = SHARE_OPTION, headers = share_header,
    body = function(a) return json.encode { fileId = a.fileId, multiParts = a.multiParts } end,
    code_optional = true,
    result = shape.upload_urls,
  },
  {
    name = "files.complete_upload",
    method = "POST", path = "/koodrive/ose/v1/files/complete",
    args = { { name = "fileId", check = vf.id }, { name = "sha256", check = sha256_hex } },
    options = SHARE_OPTION, headers = share_header,
    body = function(a) return json.encode { fileId = a.fileId, sha256 = a.sha256 } end,
    code_optional = true,
    result = function(_, a) return { fileId = a.fileId, completed = true } end,
  },
  {
    name = "files.download_urls",
    method = "POST", path = "/koodrive/ose/v1/files/download",
    args = { { name = "containerId", check = vf.container_id }, { name = "fileIds", check = file_ids } },
    body = function(a) return json.encode { containerId = a.containerId, fileIds = a.fileIds } end,
    code_optional = true,
    result = shape.download_urls,
  },
}
