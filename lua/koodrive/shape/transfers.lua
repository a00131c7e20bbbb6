--- Results of the transfer operations (koodrive-transfer-api.md §1, §3, §6.1). Messages name
-- fields, never values: a part URL carries a signature.
local json = require "koodrive.json"
local base = require "koodrive.shape"

local shape = {}
local absent = base.absent

-- The answer's fields: at the top level beside code and msg, or (tolerated) in `data`.
local function fields(body)
  if absent(body.fileId) and absent(body.multiParts) and json.is_object(body.data) then
    return body.data
  end
  return body
end

local function is_url(v)
  return type(v) == "string" and (v:find("^https?://[^%s]+$") ~= nil)
end

-- The multiParts of an answer: { [partNumber] = { partNumber, uploadUrl, ... } } for the
-- numbers that were asked (`asked`: { [partNumber] = true }); an unknown or repeated number, or
-- an uploadUrl that is not an http(s) URL, is no answer.
local function part_urls(list, asked, where)
  if absent(list) then return {} end
  if not json.is_array(list) then return nil, "'" .. where .. "' is not an array" end
  local out = {}
  for i, p in ipairs(list) do
    if type(p) ~= "table" or json.is_array(p) then
      return nil, "'" .. where .. "[" .. i .. "]' is not an object"
    end
    local n = json.integer(p, "partNumber")
    if not n or not asked[n] then
      return nil, "'" .. where .. "[" .. i .. "].partNumber' is not a part that was asked for"
    end
    if out[n] then return nil, "'" .. where .. "[" .. i .. "]' repeats a partNumber" end
    if not absent(p.uploadUrl) and not is_url(p.uploadUrl) then
      return nil, "'" .. where .. "[" .. i .. "].uploadUrl' is not an http(s) URL"
    end
    out[n] = { partNumber = n, uploadUrl = not absent(p.uploadUrl) and p.uploadUrl or nil }
  end
  return out
end

local function asked_numbers(parts)
  local asked = {}
  for _, p in ipairs(parts or {}) do asked[p.partNumber] = true end
  return asked
end

--- files.create_upload: { fileId, fileName, rapidUpload, exist, containerId, parentFolder,
-- uploadId, parts = { [partNumber] = { partNumber, uploadUrl } }, raw }.
function shape.created_upload(body, args)
  local f = fields(body)
  if type(f.fileId) ~= "string" or f.fileId == "" then return nil, "'fileId' is not a string" end
  for _, k in ipairs { "rapidUpload", "exist" } do
    if not absent(f[k]) and type(f[k]) ~= "boolean" then return nil, "'" .. k .. "' is not a boolean" end
  end
  if not absent(f.fileName) and type(f.fileName) ~= "string" then return nil, "'fileName' is not a string" end
  local asked = asked_numbers(args.req.multiParts)
  local parts, err = part_urls(f.multiParts, asked, "multiParts")
  if not parts then return nil, err end
  return { fileId = f.fileId, fileName = not absent(f.fileName) and f.fileName or args.req.fileName,
    rapidUpload = f.rapidUpload == true, exist = f.exist == true,
    containerId = not absent(f.containerId) and f.containerId or args.req.containerId,
    parentFolder = not absent(f.parentFolder) and f.parentFolder or nil,
    uploadId = type(f.uploadId) == "string" and f.uploadId or nil, parts = parts }
end

--- files.upload_urls: { fileId, parts = { [partNumber] = { partNumber, uploadUrl } } }.
function shape.upload_urls(body, args)
  local f = fields(body)
  local parts, err = part_urls(f.multiParts, asked_numbers(args.multiParts), "multiParts")
  if not parts then return nil, err end
  return { fileId = args.fileId, parts = parts }
end

--- files.download_urls: every asked id accounted for (§6.1 Decision): { batchCode,
-- succeeded = { { fileId, fileName, url } }, failed = { { fileId, code, msg } } }. An entry
-- succeeded when its url is non-empty and its code absent, 0 or "0"; an id missing from
-- `downloads` failed.
function shape.download_urls(body, args)
  local list = body.downloads
  if not absent(list) and not json.is_array(list) then return nil, "'downloads' is not an array" end
  local asked = {}
  for _, id in ipairs(args.fileIds) do asked[id] = true end
  local by_id = {}
  for i, d in ipairs(list or {}) do
    if type(d) ~= "table" or json.is_array(d) or type(d.fileId) ~= "string" then
      return nil, "'downloads[" .. i .. "]' is not an entry with a fileId string"
    end
    if not asked[d.fileId] then return nil, "'downloads[" .. i .. "].fileId' is not a file that was asked for" end
    if by_id[d.fileId] then return nil, "'downloads[" .. i .. "]' repeats a fileId" end
    by_id[d.fileId] = d
  end
  local out = { batchCode = json.integer(body, "batchCode"), succeeded = {}, failed = {} }
  for _, id in ipairs(args.fileIds) do
    local d = by_id[id]
    local code = d and d.code
    local ok_code = absent(code) or code == 0 or code == "0"
    if d and ok_code and is_url(d.url) then
      out.succeeded[#out.succeeded + 1] = { fileId = id,
        fileName = type(d.fileName) == "string" and d.fileName or nil, url = d.url }
    else
      out.failed[#out.failed + 1] = { fileId = id, code = d and not absent(code) and code or nil,
        msg = d and type(d.msg) == "string" and d.msg or (d and "no download URL" or "not in the answer") }
    end
  end
  return out
end

return shape
