--- files:download(fileId, dest, opts): koodrive-transfer-api.md §6 and §7 on the C engine.
-- The file's size comes from its detail, its URL from files/download; the bytes arrive in
-- ranged GETs (up to `concurrency` at once) written with pwrite into "<dest>.koodrive-part"
-- beside the destination, which is renamed into place only when its size (and the SHA-256,
-- when the service gives one) matches. A journal beside it records the ranges written, so a
-- rerun (resume = true, the default) fetches only the rest. The SHA-256 is computed while the
-- bytes arrive, by a thread that follows the ranges written in order
-- (koodrive.sign.follow_hasher), not by a second pass over the file after the last byte.
local errors = require "koodrive.errors"
local core = require "koodrive.core"
local json = require "koodrive.json"
local pipeline = require "koodrive.pipeline"
local engine = require "koodrive.transfer.engine"
local digest = require "koodrive.transfer.digest"
local plan = require "koodrive.transfer.plan"
local retry = require "koodrive.retry"

local download = {}

download.RANGE = 16 * 1024 * 1024 -- bytes per ranged GET
-- Seconds between two checkpoints of the journal. A checkpoint first makes the part file's
-- data durable (core.sync), then lists the ranges written; doing it per range would cost a
-- forced writeback every 16 MiB (make bench: ~25% of a 1 GiB download), and a journal written
-- without it could claim bytes a power cut loses. Ranges finished since the last checkpoint
-- are fetched again after a crash.
download.CHECKPOINT = 2
local OWN = { containerId = true, concurrency = true, progress = true, resume = true, overwrite = true }

local function fail(field, rule, message) return nil, errors.validation(field, rule, message) end
local EEXIST = 17 -- errno "File exists" on Linux and the BSDs

local function io_error(field, message) return nil, errors.new { kind = "io", field = field, message = message } end

local function options(opts)
  local call, own = require("koodrive.composite").split(opts, OWN, "options")
  if not call then return nil, own end
  if own.containerId == nil then return fail("containerId", "required", "is required") end
  local c = own.concurrency or 4
  if type(c) ~= "number" or c % 1 ~= 0 or c < 1 or c > 64 then
    return fail("concurrency", "range", "must be a whole number from 1 to 64")
  end
  own.concurrency = c
  if own.progress ~= nil and type(own.progress) ~= "function" then
    return fail("progress", "type", "must be a function(done_bytes, total_bytes)")
  end
  if own.resume == nil then own.resume = true end
  return own, call
end

local function load_ranges(path, file_id, size)
  local f = io.open(path, "rb")
  if not f then return {} end
  local t = json.decode(f:read("*a") or "")
  f:close()
  if type(t) ~= "table" or t.fileId ~= file_id or t.size ~= size or type(t.done) ~= "table" then return {} end
  local done = {}
  for _, i in ipairs(t.done) do if type(i) == "number" then done[i] = true end end
  return done
end

-- The follower is told how far the file is written without a gap: to the end of the
-- ranges done from the first on (they finish in about the order they started).
-- With the engine `e`, also into the first range not done yet, as far as it is written: then
-- what is left to hash after the last byte is at most the ranges that finish together, less
-- what of them came in order.
local function advance_follower(spec, e)
  local f = spec.follower
  if not f then return end
  local i = spec.contiguous or 1
  while spec.ranges[i] and spec.done[i] do i = i + 1 end
  spec.contiguous = i
  local last = spec.ranges[i - 1]
  if last then f:advance(last.offset + last.size) end
  local written = e and spec.ranges[i] and e:progress(i)
  if written and written > 0 then f:advance(spec.ranges[i].offset + written) end
end

-- A thread hashing `path` as it is written, or nil when none can be had (the SHA-256 is then
-- computed after the last byte, as before).
local function new_follower(path)
  return (require("koodrive.sign").follow_hasher(path))
end

-- The SHA-256 of the whole file from its follower, once it has read the last byte: waits in
-- steps that let a loop task's or nginx's other work run.
local function followed_sha256(f, size)
  f:finish(size)
  local cooperative = engine.cooperative()
  while true do
    local hex, err = f:wait(cooperative and 0 or 0.05)
    if hex then return hex end
    if err ~= "pending" then return io_error("dest", "could not be hashed: " .. tostring(err)) end
    engine.yield()
  end
end

local function save_ranges(path, file_id, size, done, data_path)
  if data_path then
    local synced, msg = core.sync(data_path)
    if not synced then return io_error("dest", msg) end
  end
  local list = {}
  for i in pairs(done) do list[#list + 1] = i end
  table.sort(list)
  local ok, msg = core.write_atomic(path, json.encode { fileId = file_id, size = size, done = json.array(list) })
  if not ok then return io_error("dest", msg) end
  return true
end

-- Fetches the ranges not yet written, on engine.drive; true, "restart" (the server ignored
-- a Range) or nil, err. A 403 brings one fresh URL from files/download for all the ranges
-- left; a fresh URL refused again before any range was written ends the download.
local function fetch(files, spec)
  local generation, refreshes, written_since_refresh = 1, 0, false
  local used, todo = {}, {}
  local resumed = 0
  for i, r in ipairs(spec.ranges) do
    if spec.done[i] then resumed = resumed + r.size else todo[#todo + 1] = i end
  end
  local ranged = spec.size > 0 and not (#spec.ranges == 1 and spec.ranges[1].offset == 0)
  local restart = false
  local function range_error(i, d, why)
    return engine.item_error({ what = "range " .. i, field = "dest",
      kind = d.error and d.error.reason == "write" and "io" or "transport" }, d, why, spec.url)
  end
  local saved_at, unsaved = retry.now(), false
  advance_follower(spec)
  local ok, err = engine.drive {
    concurrency = spec.concurrency,
    ids = todo,
    add = function(e, i)
      local r = spec.ranges[i]
      used[i] = generation
      e:add { id = i, method = "GET", url = spec.url, path = spec.tmp, offset = r.offset, size = r.size,
        range = ranged and true or false }
    end,
    settle = function(d)
      local r = spec.ranges[d.id]
      if d.error and d.error.reason == "range_ignored" then
        restart = true
        return nil, "restart"
      end
      local outcome = engine.outcome(d, r.size)
      if outcome == "ok" then
        spec.done[d.id], written_since_refresh = true, true
        unsaved = true
        advance_follower(spec)
        local now = retry.now()
        if now - saved_at >= download.CHECKPOINT then
          local saved, serr = save_ranges(spec.journal, spec.file_id, spec.size, spec.done, spec.tmp)
          if not saved then return nil, serr end
          saved_at, unsaved = now, false
        end
        return "done"
      elseif outcome == "refused" then
        if used[d.id] < generation then return "again" end
        if refreshes > 0 and not written_since_refresh then
          return nil, range_error(d.id, d, "refused again after a fresh URL")
        end
        local u, uerr = files:download_urls(spec.containerId, { spec.file_id }, spec.call)
        if not u then return nil, uerr end
        if not u.succeeded[1] then
          return nil, errors.new { kind = "api", code = u.failed[1].code,
            message = "no fresh download URL: " .. tostring(u.failed[1].msg) }
        end
        spec.url = u.succeeded[1].url
        refreshes, written_since_refresh, generation = refreshes + 1, false, generation + 1
        return "again"
      elseif outcome == "retry" then
        return "retry"
      end
      return nil, range_error(d.id, d, d.error and d.error.reason == "write" and "cannot write" or "refused")
    end,
    exhausted = function(d, attempts) return range_error(d.id, d, "failed " .. attempts .. " times") end,
    progress = (spec.progress or spec.follower) and function(e)
      advance_follower(spec, e)
      if spec.progress then spec.progress(math.min(spec.size, resumed + e:progress()), spec.size) end
    end,
  }
  if restart then return nil, "restart" end
  -- A download that stops short keeps what it wrote for the rerun (a completed one has no
  -- use for the journal: it is removed once the file is in place).
  if not ok and unsaved then save_ranges(spec.journal, spec.file_id, spec.size, spec.done, spec.tmp) end
  return ok, err
end

-- The ranges fetched and checked: true, or nil, err (nothing is renamed into place).
local function fetch_checked(files, spec, sha256)
  local tmp, size = spec.tmp, spec.size
  local fetched, ferr = fetch(files, spec)
  if fetched == nil and ferr == "restart" then
    -- The server ignored a Range: everything again, from 0, in one GET.
    os.remove(tmp)
    core.create_new(tmp) -- (when it cannot be made, the GET says why)
    spec.ranges, spec.done, spec.contiguous = { { offset = 0, size = size } }, {}, nil
    if spec.follower then spec.follower:close(); spec.follower = new_follower(tmp) end
    fetched, ferr = fetch(files, spec)
    if ferr == "restart" then
      ferr = errors.new { kind = "transport", message = "the server ignored a Range request" }
    end
  end
  if not fetched then return nil, ferr end
  local st = core.stat(tmp)
  if not st or st.size ~= size then
    return nil, errors.new { kind = "transport", field = "dest",
      message = "received " .. tostring(st and st.size) .. " bytes where the file has " .. size }
  end
  if sha256 then
    local got, herr
    if spec.follower then
      got, herr = followed_sha256(spec.follower, size)
    else
      local d
      d, herr = digest.of({ path = tmp, size = size }, plan.MAX_PART, "dest")
      got = d and d.sha256
    end
    if not got then return nil, herr end
    if got ~= sha256 then
      os.remove(tmp); os.remove(spec.journal)
      return nil, errors.new { kind = "transport", field = "dest", rule = "sha256",
        message = "the bytes received do not have the file's SHA-256; nothing was put at the destination" }
    end
  end
  return true
end

--- A name a service gave that is safe to use as one file in a local folder: not empty, no
-- "/" or NUL, not "." or "..", not a hidden name (a hostile or broken service must not
-- make a download land outside the folder or over a dotfile). Returns it or nil.
function download.safe_name(name)
  if type(name) ~= "string" or name == "" or #name > 255 or name:find("[/%z]") or name:sub(1, 1) == "." then
    return nil
  end
  return name
end

local function check_dest(dest, own)
  local existing = core.stat(dest)
  if existing and not own.overwrite then
    return fail("dest", "exists", "exists already (overwrite = true replaces it)")
  end
  if existing and existing.type ~= "file" then return fail("dest", "file", "is not a regular file") end
  return true
end

--- What a download can be refused for before anything is sent. `dest` is a file path, or an
-- existing folder to save the file in under the name the service gives it. Returns the job
-- download.execute runs, or nil, err.
function download.prepare(files, file_id, dest, opts)
  if opts ~= nil and type(opts) ~= "table" then return fail("options", "type", "must be a table") end
  if type(dest) ~= "string" or dest == "" then return fail("dest", "type", "must be a file path") end
  local own, call = options(opts)
  if not own then return nil, call end
  local st = core.stat(dest)
  local dir = st and st.type == "directory" and dest:gsub("/+$", "") .. "/" or nil
  if not dir then
    local ok, err = check_dest(dest, own)
    if not ok then return nil, err end
  end
  local client = pipeline.client_of(files)
  local ok, verr = client:check_operation("files.download_urls", own.containerId, { file_id }, call)
  if not ok then return nil, verr end
  return { file_id = file_id, dest = not dir and dest or nil, dir = dir, own = own, call = call }
end

--- Runs a prepared download: detail, URL, ranges, checks, rename.
function download.execute(files, job)
  local file_id, dest, own, call = job.file_id, job.dest, job.own, job.call
  local info, ierr = files:get(file_id, { containerId = own.containerId }, call)
  if not info then return nil, ierr end
  local size = tonumber(info.size)
  if not size or size < 0 or size % 1 ~= 0 or size > plan.MAX_LENGTH then
    return nil, errors.new { kind = "decode", message = "the file's detail gives no usable size" }
  end
  if job.dir then
    local name = download.safe_name(info.fileName)
    if not name then
      return nil, errors.new { kind = "decode", field = "fileName",
        message = "the file's detail gives no name that is safe to save in a folder" }
    end
    dest = job.dir .. name
    if job.claim then
      local ok, cerr = job.claim(dest)
      if not ok then return nil, cerr end
    end
    local ok, derr = check_dest(dest, own)
    if not ok then return nil, derr end
  end
  local urls, uerr = files:download_urls(own.containerId, { file_id }, call)
  if not urls then return nil, uerr end
  if not urls.succeeded[1] then
    local f = urls.failed[1]
    return nil, errors.new { kind = "api", code = f.code, message = "no download URL: " .. tostring(f.msg) }
  end

  local tmp, jpath = dest .. ".koodrive-part", dest .. ".koodrive-download"
  local done = own.resume and core.stat(tmp) and load_ranges(jpath, file_id, size) or {}
  if not next(done) then
    os.remove(tmp)
    -- made anew (O_EXCL): whatever appears at that name in between is refused, not written through
    local made, msg = core.create_new(tmp)
    if not made then return io_error("dest", msg) end
  end
  local ranges, offset = {}, 0
  repeat
    local n = math.min(download.RANGE, size - offset)
    ranges[#ranges + 1] = { offset = offset, size = n }
    offset = offset + n
  until offset >= size
  -- (sha256 is not a documented field of the detail: checked when a service gives it)
  local sha256 = type(info.sha256) == "string" and info.sha256:match("^%x+$") and #info.sha256 == 64
    and info.sha256:lower()
  local spec = { files = files, file_id = file_id, containerId = own.containerId, size = size,
    url = urls.succeeded[1].url,
    ranges = ranges, done = done, tmp = tmp, journal = jpath, concurrency = own.concurrency,
    progress = own.progress, call = call, follower = sha256 and new_follower(tmp) or nil }
  local ok, err = fetch_checked(files, spec, sha256)
  if spec.follower then spec.follower:close() end -- (its thread ends now, whatever the outcome)
  if not ok then return nil, err end
  if own.overwrite then
    local moved, merr = os.rename(tmp, dest)
    if not moved then return io_error("dest", merr) end
  else
    -- Checked before the first byte, but a file may have appeared there since: it stays.
    local moved, merr, errno = core.rename_noreplace(tmp, dest)
    if not moved then
      if errno ~= EEXIST then return io_error("dest", merr) end
      return nil, errors.new { kind = "io", field = "dest", rule = "exists", message = "a file appeared at "
        .. "the destination while it was downloaded and was left as it is; the verified bytes wait in "
        .. tmp .. " (the same download with overwrite = true puts them there)" }
    end
  end
  os.remove(jpath)
  return { fileId = file_id, path = dest, size = size }
end

--- files:download(fileId, dest, opts) -> { fileId, path, size } or nil, err.
function download.run(files, file_id, dest, opts)
  local job, err = download.prepare(files, file_id, dest, opts)
  if not job then return nil, err end
  return download.execute(files, job)
end

return download
