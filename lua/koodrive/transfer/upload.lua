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
local put_parts = require "koodrive.transfer.put_parts"

local upload = {}

local SERVICE_KEYS = { containerId = true, parentFolder = true, fileName = true, autoRename = true,
  fileType = true, description = true, mimeType = true, createdTime = true }
local OWN_KEYS = { part_size = true, concurrency = true, progress = true, journal = true }

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

-- Create's request and answer are a few hundred bytes a part each (hashCtx and a URL per
-- part: ~2 MiB of Lua garbage for a 4 GiB file). A PUT loop allocates little Lua memory, so
-- the collector would not get to it before the parts' libcurl buffers are allocated beside
-- it (make bench: peak RSS 4 MiB higher at 4 GiB than at 256 MiB). Two collection cycles are
-- finished here instead, in bounded steps: never a full collection at once, since the heap
-- is the host's (an nginx worker's, a game's) and may be large.
-- Parts from which this is worth it (a module field so that a spec can lower it).
upload.COLLECT_FROM = 64
local function collect_garbage()
  local cycles = 0
  for _ = 1, 32 do
    if collectgarbage("step", 1024) then
      cycles = cycles + 1
      if cycles == 2 then break end
    end
  end
  -- What the collector freed stays in the C heap, where the parts' buffers would not reuse it
  -- (src/memory.c): the free pages go back to the system.
  core.release_memory()
end

local function basename(path) return (path:match("([^/]+)$")) end

-- { [partNumber] = uploadUrl } of a create or uploadUrl answer's parts: only the strings are
-- kept for the PUTs, not the answer's tables (820 of them for a 4 GiB file).
local function url_strings(parts)
  local out = {}
  for n, p in pairs(parts) do out[n] = p.uploadUrl end
  return out
end

local KEYS = {}
for k in pairs(SERVICE_KEYS) do KEYS[k] = true end
for k in pairs(OWN_KEYS) do KEYS[k] = true end

--- Splits and checks the options; returns service fields, own options, call options.
local function options(opts, src, source)
  local call, mine = require("koodrive.composite").split(opts, KEYS, "options")
  if not call then return nil, mine end
  local fields, own = {}, {}
  for k, v in pairs(mine) do
    if SERVICE_KEYS[k] then fields[k] = v else own[k] = v end
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

--- Everything an upload can be refused for before a byte is read or sent: the source, the
-- options, the part plan, the create request as the service will take it. Returns the job
-- upload.execute runs, or nil, err.
function upload.prepare(files, source, opts)
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
  fields.multiParts = nil -- (execute builds the real one, with the contexts: not kept meanwhile)
  if not ok then return nil, cerr end
  return { src = src, fields = fields, own = own, call = call, part_size = part_size, parts = parts,
    concurrent = concurrent }
end

--- Runs a prepared upload: hashing, create (or the journal's upload), the parts, complete.
function upload.execute(files, job)
  local src, fields, own, call = job.src, job.fields, job.own, job.call
  local part_size, parts, concurrent = job.part_size, job.parts, job.concurrent
  local digest, herr = require("koodrive.transfer.digest").of(src, part_size, "source")
  if not digest then return nil, herr end
  fields.sha256 = digest.sha256

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
  end

  local file_id, urls, resumed = nil, {}, 0
  local stored = {}
  if record then
    file_id = record.fileId
    for _, n in ipairs(record.stored) do
      -- only part numbers of this plan, each once: a journal is a file anyone may have edited
      if parts[n] and parts[n].partNumber == n and not stored[n] then stored[n] = true; resumed = resumed + 1 end
    end
    local todo = {}
    for _, p in ipairs(parts) do if not stored[p.partNumber] then todo[#todo + 1] = p end end
    if #todo > 0 then
      local r, uerr = files:upload_urls(file_id, plan.multi_parts(todo, digest.contexts, concurrent), call)
      if not r then
        if uerr.code ~= 13000401 then return nil, uerr end
        record, file_id, stored, resumed = nil, nil, {}, 0 -- the upload is gone: start over
      else
        urls = url_strings(r.parts)
      end
    end
  end
  local file_name = fields.fileName
  if not record then
    fields.multiParts = plan.multi_parts(parts, digest.contexts, concurrent)
    local r, err = files:create_upload(fields, call)
    -- The request's part list (820 entries with their hashCtx for a 4 GiB file) is not needed
    -- past create, nor is the answer beyond its fileId, fileName and URLs: neither is held for
    -- the rest of the upload.
    fields.multiParts = nil
    if not r then return nil, err end
    if r.rapidUpload or r.exist then
      if own.journal then journal.remove(own.journal) end
      return { fileId = r.fileId, fileName = r.fileName, size = src.size, sha256 = digest.sha256,
        rapidUpload = r.rapidUpload, exist = r.exist, parts = 0, resumed_parts = 0 }
    end
    file_id, urls, file_name = r.fileId, url_strings(r.parts), r.fileName or file_name
    r = nil -- luacheck: ignore 311 (dropped before the collection below)
    if #parts >= upload.COLLECT_FROM then collect_garbage() end
    identity.fileId = file_id
    if own.journal then
      local jok, jerr = journal.save(own.journal, identity, {})
      if not jok then return nil, jerr end
    end
  end
  identity.fileId = file_id

  -- Sends the parts not in `stored`, then completes.
  local function send_and_complete()
    local sent, terr = put_parts.run(files, {
      file_id = file_id, src = src, parts = parts, stored = stored, urls = urls, contexts = digest.contexts,
      concurrent = concurrent, concurrency = own.concurrency, progress = own.progress, call = call,
      on_stored = own.journal and function(list) return journal.save(own.journal, identity, list) end,
    })
    if not sent then return nil, terr end
    if src.path then
      -- Bytes sent after the file changed are not the bytes hashed: never complete those.
      local now = core.stat(src.path)
      if not now or now.size ~= src.size or now.mtime ~= src.mtime then
        if own.journal then journal.remove(own.journal) end
        return nil, errors.new { kind = "io", field = "source", message = "changed while it was being " ..
          "uploaded; nothing was completed (run the upload again to send it as it is now)" }
      end
    end
    return files:complete_upload(file_id, digest.sha256, call)
  end

  local done, derr = send_and_complete()
  if not done and resumed > 0 and derr.code == 13000402 then
    -- The service does not hold what the journal said was stored (parts lost, or a journal
    -- edited or copied): the client's record is the only one (koodrive-transfer-api.md §7
    -- Decision), so every part is sent again, once, under fresh URLs.
    local r, uerr = files:upload_urls(file_id, plan.multi_parts(parts, digest.contexts, concurrent), call)
    if not r then derr = uerr else
      stored, resumed, urls = {}, 0, url_strings(r.parts)
      done, derr = send_and_complete()
    end
  end
  if not done then
    -- An upload the service has refused as a whole (integrity) or forgotten is not resumable:
    -- its journal goes, so that the next run starts a new upload instead of failing again.
    if own.journal and (derr.code == 13000402 or derr.code == 13000401) then journal.remove(own.journal) end
    return nil, derr
  end
  if own.journal then journal.remove(own.journal) end
  return { fileId = file_id, fileName = file_name, size = src.size,
    sha256 = digest.sha256, rapidUpload = false, parts = #parts, resumed_parts = resumed }
end

--- files:upload(source, opts) -> { fileId, fileName, size, sha256, rapidUpload, parts,
-- resumed_parts } or nil, err.
function upload.run(files, source, opts)
  local job, err = upload.prepare(files, source, opts)
  if not job then return nil, err end
  return upload.execute(files, job)
end

return upload
