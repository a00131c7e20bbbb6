--- files:download(fileId, dest, opts): koodrive-transfer-api.md §6 and §7 on the C engine.
-- The file's size comes from its detail, its URL from files/download; the bytes arrive in
-- ranged GETs (up to `concurrency` at once) written with pwrite into "<dest>.koodrive-part"
-- beside the destination, which is renamed into place only when its size (and the SHA-256,
-- when the service gives one) matches. A journal beside it records the ranges written, so a
-- rerun (resume = true, the default) fetches only the rest.
local errors = require "koodrive.errors"
local core = require "koodrive.core"
local json = require "koodrive.json"
local pipeline = require "koodrive.pipeline"
local engine = require "koodrive.transfer.engine"
local scheduler = require "koodrive.scheduler"

local download = {}

download.RANGE = 16 * 1024 * 1024 -- bytes per ranged GET
local OWN = { containerId = true, concurrency = true, progress = true, resume = true, overwrite = true }

local function fail(field, rule, message) return nil, errors.validation(field, rule, message) end
local function io_error(field, message) return nil, errors.new { kind = "io", field = field, message = message } end

local function options(opts)
  local own, call = {}, {}
  local call_keys = require("koodrive.options").names("call")
  for k, v in pairs(opts or {}) do
    if OWN[k] then own[k] = v
    elseif call_keys[k] then call[k] = v
    else return fail("options", "unknown_key", "options." .. tostring(k) .. " is not a known option") end
  end
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

local function save_ranges(path, file_id, size, done)
  local list = {}
  for i in pairs(done) do list[#list + 1] = i end
  table.sort(list)
  local ok, msg = core.write_atomic(path, json.encode { fileId = file_id, size = size, done = json.array(list) })
  if not ok then return io_error("dest", msg) end
  return true
end

-- Fetches the ranges not yet written; true or nil, err.
local function fetch(files, spec)
  local e = engine.new_parts { concurrency = spec.concurrency }
  local attempts, refreshed, by_id, used = {}, false, {}, {}
  local function add(i, url)
    used[i] = url
    local r = spec.ranges[i]
    local ranged = spec.size > 0 and not (#spec.ranges == 1 and r.offset == 0)
    e:add { id = i, method = "GET", url = url, path = spec.tmp, offset = r.offset, size = r.size, range = ranged }
    attempts[i] = (attempts[i] or 0) + 1
    by_id[i] = r
  end
  for i in ipairs(spec.ranges) do if not spec.done[i] then add(i, spec.url) end end
  local function finish(ok, err) e:close(); return ok, err end
  while e:pending() > 0 do
    local list = e:poll(scheduler.current().name ~= "thread" and 0 or 0.05)
    for _, d in ipairs(list) do
      local r = by_id[d.id]
      if not d.error and (d.status == 206 or d.status == 200) and d.bytes == r.size then
        spec.done[d.id] = true
        local ok, err = save_ranges(spec.journal, spec.file_id, spec.size, spec.done)
        if not ok then return finish(nil, err) end
      elseif d.status == 403 and used[d.id] ~= spec.url then
        add(d.id, spec.url) -- sent before the URL was renewed
      elseif d.status == 403 and not refreshed then
        refreshed = true
        local u, err = files:download_urls(spec.containerId, { spec.file_id }, spec.call)
        if not u then return finish(nil, err) end
        if not u.succeeded[1] then
          return finish(nil, errors.new { kind = "api",
            message = "no fresh download URL: " .. tostring(u.failed[1].msg) })
        end
        spec.url = u.succeeded[1].url
        add(d.id, spec.url)
      elseif d.error and d.error.reason == "range_ignored" then
        return finish(nil, "restart")
      elseif (d.error and d.error.reason ~= "write" or (d.status or 0) >= 500)
          and attempts[d.id] < engine.MAX_ATTEMPTS then
        scheduler.sleep(math.min(4, 0.25 * 2 ^ (attempts[d.id] - 1)))
        add(d.id, spec.url)
      else
        local why = d.error and engine.hide_query(d.error.message) or ("HTTP " .. tostring(d.status))
        return finish(nil, errors.new { kind = d.error and d.error.reason == "write" and "io" or "transport",
          field = "dest", status = d.status, message = "range " .. d.id .. ": " .. why })
      end
    end
    if spec.progress then
      local n = 0
      for i in pairs(spec.done) do n = n + spec.ranges[i].size end
      spec.progress(math.min(spec.size, n), spec.size)
    end
    if scheduler.current().name ~= "thread" then scheduler.sleep(0.002) end
  end
  return finish(true)
end

--- files:download(fileId, dest, opts) -> { fileId, path, size } or nil, err.
function download.run(files, file_id, dest, opts)
  if opts ~= nil and type(opts) ~= "table" then return fail("options", "type", "must be a table") end
  if type(dest) ~= "string" or dest == "" then return fail("dest", "type", "must be a file path") end
  local own, call = options(opts)
  if not own then return nil, call end
  local existing = core.stat(dest)
  if existing and not own.overwrite then
    return fail("dest", "exists", "exists already (overwrite = true replaces it)")
  end
  if existing and existing.type ~= "file" then return fail("dest", "file", "is not a regular file") end
  local client = pipeline.client_of(files)
  local ok, verr = client:check_operation("files.download_urls", own.containerId, { file_id }, call)
  if not ok then return nil, verr end

  local info, ierr = files:get(file_id, { containerId = own.containerId }, call)
  if not info then return nil, ierr end
  local size = tonumber(info.size)
  if not size then return nil, errors.new { kind = "decode", message = "the file's detail gives no size" } end
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
    local f, msg = io.open(tmp, "wb")
    if not f then return io_error("dest", msg) end
    f:close()
  end
  local ranges, offset = {}, 0
  repeat
    local n = math.min(download.RANGE, size - offset)
    ranges[#ranges + 1] = { offset = offset, size = n }
    offset = offset + n
  until offset >= size
  local spec = { files = files, file_id = file_id, containerId = own.containerId, size = size,
    url = urls.succeeded[1].url,
    ranges = ranges, done = done, tmp = tmp, journal = jpath, concurrency = own.concurrency,
    progress = own.progress, call = call }
  local fetched, ferr = fetch(files, spec)
  if fetched == nil and ferr == "restart" then
    -- The server ignored a Range: everything again, from 0, in one GET.
    os.remove(tmp)
    local f = io.open(tmp, "wb"); if f then f:close() end
    spec.ranges, spec.done = { { offset = 0, size = size } }, {}
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
  local moved, merr = os.rename(tmp, dest)
  if not moved then return io_error("dest", merr) end
  os.remove(jpath)
  return { fileId = file_id, path = dest, size = size }
end

return download
