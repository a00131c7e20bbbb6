--- files:upload_many(items, opts) and files:download_many(items, opts): several transfers as
-- one bounded batch (koodrive.batch.map: `files` transfers at a time, each with its own
-- `concurrency` parts), every item checked before the first byte is read or sent, and every
-- item accounted for in exactly one of done / failed / uncertain (uncertain: the last call
-- of that transfer may have been carried out - an upload's create or complete - so the file
-- may exist on the service).
local batch = require "koodrive.batch"
local errors = require "koodrive.errors"
local upload = require "koodrive.transfer.upload"
local download = require "koodrive.transfer.download"

local many = {}

many.MAX_FILES = 16 -- transfers at once

local function fail(field, rule, message) return nil, errors.validation(field, rule, message) end

-- The options of the batch itself; the rest are every transfer's options.
local function split(opts, per_item_keys)
  if opts ~= nil and type(opts) ~= "table" then return fail("options", "type", "must be a table") end
  local shared, own = {}, {}
  for k, v in pairs(opts or {}) do
    if k == "files" or k == "progress" or k == "on_item" then own[k] = v
    elseif per_item_keys[k] then return fail("options", "per_item", "options." .. k .. " belongs to each item")
    else shared[k] = v end
  end
  local n = own.files or 2
  if type(n) ~= "number" or n % 1 ~= 0 or n < 1 or n > many.MAX_FILES then
    return fail("files", "range", "must be a whole number from 1 to " .. many.MAX_FILES)
  end
  own.files = n
  for _, k in ipairs { "progress", "on_item" } do
    if own[k] ~= nil and type(own[k]) ~= "function" then return fail(k, "type", "must be a function") end
  end
  return shared, own
end

-- An item's own options over the shared ones.
local function merged(shared, item, skip)
  local t = {}
  for k, v in pairs(shared) do t[k] = v end
  if type(item) == "table" then
    for k, v in pairs(item) do if not skip[k] then t[k] = v end end
  end
  return t
end

-- The error of item i, its field named as items[i].field.
local function at(i, err)
  local g = "items[" .. i .. "]"
  err.field = err.field and (g .. "." .. err.field) or g
  err.message = g .. ": " .. tostring(err.message)
  err.index = i
  return err
end

local function list_of(items)
  if type(items) ~= "table" or #items == 0 then return fail("items", "type", "must be a non-empty list") end
  for k in pairs(items) do
    if type(k) ~= "number" or k % 1 ~= 0 or k < 1 or k > #items then
      return fail("items", "type", "must be a list (1..n), got the key " .. tostring(k))
    end
  end
  return #items
end

-- Runs the prepared jobs `files` at a time; sums their bytes for progress.
local function run(jobs, own, execute, describe)
  local moved, totals, total = {}, {}, 0
  for i, job in ipairs(jobs) do totals[i] = job.size or 0; total = total + totals[i]; moved[i] = 0 end
  local sum = 0
  for i, job in ipairs(jobs) do
    job.index = i
    if own.progress then
      job.own.progress = function(done, t)
        if totals[i] == 0 and t then totals[i] = t; total = total + t end
        sum = sum + done - moved[i]
        moved[i] = done
        own.progress(sum, total)
      end
    end
  end
  local results, err = batch.map(jobs, function(job) return execute(job) end, { concurrency = own.files,
    progress = own.on_item and function(_, _, job, result, ierr) own.on_item(job.index, result, ierr) end })
  if not results then return nil, err end
  local out = { done = {}, failed = {}, uncertain = {}, callback_error = results.callback_error }
  for i, r in ipairs(results) do
    local entry = describe(jobs[i])
    entry.index = i
    if r[1] then
      entry.result = r[1]
      out.done[#out.done + 1] = entry
    else
      entry.error = r[2]
      local target = type(r[2]) == "table" and r[2].uncertain and out.uncertain or out.failed
      target[#target + 1] = entry
    end
  end
  return out
end

--- files:upload_many(items, opts) -> { done = { {index, source, result} }, failed = { {index,
-- source, error} }, uncertain = {...}, callback_error } or nil, err. An item is a source (a path
-- or { data = ... }) or a table { source = ..., <upload options of this item> }; opts are the
-- upload options of every item, plus files (at once, default 2), progress(done_bytes,
-- total_bytes) over them all and on_item(index, result, err).
function many.upload(files, items, opts)
  local n, lerr = list_of(items)
  if not n then return nil, lerr end
  local shared, own = split(opts, { source = true })
  if not shared then return nil, own end
  local jobs, seen = {}, {}
  for i = 1, n do
    local item = items[i]
    local source, item_opts = item, shared
    if type(item) == "table" and item.data == nil then
      source, item_opts = item.source, merged(shared, item, { source = true })
    end
    local job, err = upload.prepare(files, source, item_opts)
    if not job then return nil, at(i, err) end
    -- Two uploads of one file at once would share its journal.
    local key = job.own.journal or (job.src.path and "path:" .. job.src.path)
    if key and seen[key] then
      return nil, at(i, errors.validation("source", "duplicate", "is the same file (or journal) as items[" ..
        seen[key] .. "]"))
    end
    if key then seen[key] = i end
    job.size, job.source = job.src.size, source
    jobs[i] = job
  end
  return run(jobs, own, function(job) return upload.execute(files, job) end,
    function(job) return { source = job.source } end)
end

--- files:download_many(items, opts) -> { done = { {index, fileId, result} }, failed = { {index,
-- fileId, error} }, uncertain = {}, callback_error } or nil, err. An item is { fileId, dest,
-- <download options of this item> }, or a fileId with opts.dir (a folder: each file lands
-- there under its own name, checked to be a plain name); opts are the download options of
-- every item, plus dir, files (at once, default 2), progress(done_bytes, total_bytes) and
-- on_item(index, result, err). Two items never write one destination.
function many.download(files, items, opts)
  local n, lerr = list_of(items)
  if not n then return nil, lerr end
  local dir = type(opts) == "table" and opts.dir or nil
  if dir ~= nil then
    local st = type(dir) == "string" and require("koodrive.core").stat(dir)
    if not (st and st.type == "directory") then return fail("dir", "folder", "must be an existing folder") end
  end
  local base = {}
  for k, v in pairs(type(opts) == "table" and opts or {}) do if k ~= "dir" then base[k] = v end end
  local shared, own = split(opts and base, { fileId = true, dest = true })
  if not shared then return nil, own end
  local jobs, claimed = {}, {}
  local function claim(job) -- a folder item's name is known only from its detail
    return function(path)
      if claimed[path] and claimed[path] ~= job then
        return nil, errors.validation("dest", "duplicate", path .. " is another item's destination in this batch")
      end
      claimed[path] = job
      return true
    end
  end
  for i = 1, n do
    local item = items[i]
    local id, dest, item_opts = item, dir, shared
    if type(item) == "table" then
      id, dest, item_opts = item.fileId, item.dest or dir, merged(shared, item, { fileId = true, dest = true })
    end
    if dest == nil then return nil, at(i, errors.validation("dest", "required", "needs a dest, or opts.dir")) end
    local job, err = download.prepare(files, id, dest, item_opts)
    if not job then return nil, at(i, err) end
    if job.dest then
      if claimed[job.dest] then
        return nil, at(i, errors.validation("dest", "duplicate", "is also the destination of another item"))
      end
      claimed[job.dest] = job
    else
      job.claim = claim(job)
    end
    jobs[i] = job
  end
  return run(jobs, own, function(job) return download.execute(files, job) end,
    function(job) return { fileId = job.file_id } end)
end

return many
