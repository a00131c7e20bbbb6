--- files:upload(source, opts): the upload flow of koodrive-transfer-api.md §7 on the C engine.
-- One hashing pass (koodrive.sign.part_hasher: the whole file's SHA-256 and the hashCtx of
-- every part boundary), create, PUTs of the parts to their presigned URLs (koodrive.curl.parts:
-- up to `concurrency` at once, each streamed from the file with pread), complete. A journal
-- (koodrive.transfer.journal) records the fileId and the parts stored, so that running the
-- same upload again sends only the rest.
local errors = require "koodrive.errors"
local pipeline = require "koodrive.pipeline"
local core = require "koodrive.core"
local plan = require "koodrive.transfer.plan"
local journal = require "koodrive.transfer.journal"
local engine = require "koodrive.transfer.engine"

local upload = {}

local SERVICE_KEYS = { containerId = true, parentFolder = true, fileName = true, autoRename = true,
  fileType = true, description = true, mimeType = true, createdTime = true }
local OWN_KEYS = { part_size = true, concurrency = true, progress = true, journal = true }

local HASH_STEP = (ngx and 1 or 8) * 1024 * 1024 -- bytes hashed between two chances for the host to run (nginx: 1 MiB)

local function fail(field, rule, message) return nil, errors.validation(field, rule, message) end

-- The source: { path, size, mtime } of a file, or { data, size } of bytes in memory.
local function open_source(source)
  if type(source) == "string" then
    local st, msg = core.stat(source)
    if not st then return fail("source", "file", msg) end
    if st.type ~= "file" then return fail("source", "file", "is not a regular file") end
    return { path = source, size = st.size, mtime = st.mtime }
  end
  if type(source) == "table" and type(source.data) == "string" then
    return { data = source.data, size = #source.data }
  end
  return fail("source", "type", "must be a file path or { data = string }")
end

-- The hashing pass: sha256 and the contexts of every part boundary.
local function hash(src, part_size)
  local h = require("koodrive.sign").part_hasher(part_size)
  if src.data then
    h:update(src.data)
  else
    while true do
      local n, err = h:read_file(src.path, HASH_STEP)
      if not n then return nil, errors.new { kind = "io", field = "source", message = err } end
      if n == 0 then break end
      engine.yield()
    end
    if h:size() ~= src.size then
      return nil, errors.new { kind = "io", field = "source", message = "the source changed size while it was read" }
    end
  end
  return h:finish()
end

local function basename(path) return (path:match("([^/]+)$")) end

--- Splits and checks the options; returns service fields, own options, call options.
local function options(opts, src, source)
  local fields, own, call = {}, {}, {}
  local call_keys = require("koodrive.options").names("call")
  for k, v in pairs(opts or {}) do
    if SERVICE_KEYS[k] then fields[k] = v
    elseif OWN_KEYS[k] then own[k] = v
    elseif call_keys[k] then call[k] = v
    else return fail("options", "unknown_key", "options." .. tostring(k) .. " is not a known option") end
  end
  if fields.containerId == nil then return fail("containerId", "required", "is required") end
  fields.parentFolder = fields.parentFolder or { "root" }
  fields.fileName = fields.fileName or (src.path and basename(src.path))
  if fields.fileName == nil then return fail("fileName", "required", "is required for a data source") end
  fields.autoRename = fields.autoRename or 3
  fields.fileType = fields.fileType or "45"
  local c = own.concurrency or 4
  if type(c) ~= "number" or c % 1 ~= 0 or c < 1 or c > 64 then
    return fail("concurrency", "range", "must be a whole number from 1 to 64")
  end
  own.concurrency = c
  if own.progress ~= nil and type(own.progress) ~= "function" then
    return fail("progress", "type", "must be a function(done_bytes, total_bytes)")
  end
  if own.journal == nil then own.journal = src.path and journal.default_path(source) or false end
  if own.journal ~= false and type(own.journal) ~= "string" then
    return fail("journal", "type", "must be a path, or false for none")
  end
  return fields, own, call
end

--- files:upload(source, opts) -> { fileId, fileName, size, sha256, rapidUpload, parts,
-- resumed_parts } or nil, err.
function upload.run(files, source, opts)
  local client = pipeline.client_of(files)
  if opts ~= nil and type(opts) ~= "table" then return fail("options", "type", "must be a table") end
  local src, serr = open_source(source)
  if not src then return nil, serr end
  local fields, own, call = options(opts, src, source)
  if not fields then return nil, own end
  local part_size, perr = plan.part_size(src.size, own.part_size)
  if not part_size then return nil, perr end
  local parts = plan.parts(src.size, part_size)
  local concurrent = #parts > 1 and own.concurrency > 1
  -- Checked before anything is read or sent: the request as create will take it.
  fields.length, fields.sha256 = src.size, ("0"):rep(64)
  fields.multiParts = plan.multi_parts(parts, nil, false)
  local ok, cerr = client:check_operation("files.create_upload", fields, call)
  if not ok then return nil, cerr end

  local digest, herr = hash(src, part_size)
  if not digest then return nil, herr end
  fields.sha256 = digest.sha256
  fields.multiParts = plan.multi_parts(parts, digest.contexts, concurrent)

  local record = own.journal and journal.load(own.journal)
  local identity = { size = src.size, mtime = src.mtime and string.format("%.6f", src.mtime),
    sha256 = digest.sha256, part_size = part_size,
    concurrent = concurrent, containerId = fields.containerId, parent = fields.parentFolder[1] or fields.parentFolder,
    fileName = fields.fileName }
  if record and not journal.matches(record, identity) then record = nil end
  if record and record.concurrent ~= concurrent then
    -- The mode the upload was created in stays: its parts were planned with (or without)
    -- partOffset and hashCtx.
    concurrent = record.concurrent == true
    identity.concurrent = concurrent
    fields.multiParts = plan.multi_parts(parts, digest.contexts, concurrent)
  end

  local file_id, urls, resumed = nil, {}, 0
  local stored = {}
  if record then
    file_id = record.fileId
    for _, n in ipairs(record.stored) do stored[n] = true; resumed = resumed + 1 end
    local todo = {}
    for _, p in ipairs(parts) do if not stored[p.partNumber] then todo[#todo + 1] = p end end
    if #todo > 0 then
      local r, uerr = files:upload_urls(file_id, plan.multi_parts(todo, digest.contexts, concurrent), call)
      if not r then
        if uerr.code ~= 13000401 then return nil, uerr end
        record, file_id, stored, resumed = nil, nil, {}, 0 -- the upload is gone: start over
      else
        urls = r.parts
      end
    end
  end
  local created
  if not record then
    local r, err = files:create_upload(fields, call)
    if not r then return nil, err end
    created = r
    if r.rapidUpload or r.exist then
      if own.journal then journal.remove(own.journal) end
      return { fileId = r.fileId, fileName = r.fileName, size = src.size, sha256 = digest.sha256,
        rapidUpload = r.rapidUpload, exist = r.exist, parts = 0, resumed_parts = 0 }
    end
    file_id, urls = r.fileId, r.parts
    identity.fileId = file_id
    if own.journal then
      local jok, jerr = journal.save(own.journal, identity, {})
      if not jok then return nil, jerr end
    end
  end
  identity.fileId = file_id

  local sent, terr = engine.put_parts(files, {
    file_id = file_id, src = src, parts = parts, stored = stored, urls = urls, contexts = digest.contexts,
    concurrent = concurrent, concurrency = own.concurrency, progress = own.progress, call = call,
    on_stored = own.journal and function(list) return journal.save(own.journal, identity, list) end,
  })
  if not sent then return nil, terr end

  local done, derr = files:complete_upload(file_id, digest.sha256, call)
  if not done then return nil, derr end
  if own.journal then journal.remove(own.journal) end
  return { fileId = file_id, fileName = created and created.fileName or fields.fileName, size = src.size,
    sha256 = digest.sha256, rapidUpload = false, parts = #parts, resumed_parts = resumed }
end

return upload
