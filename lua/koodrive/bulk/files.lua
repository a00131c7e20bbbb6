--- Bulk helpers of the files family: lists above a documented limit split into calls, every
-- item accounted for (koodrive-files-api.md §6.1: at most 100 favorites a call).
-- @module koodrive.bulk.files
local batch = require "koodrive.batch"
local errors = require "koodrive.errors"
local pipeline = require "koodrive.pipeline"
local common = require "koodrive.bulk.sharing"

local M = {}

M.FAVORITES_CHUNK = 100

local split_options, distinct, global_index, item_error =
  common.split_options, common.distinct, common.global_index, common.item_error

-- A favorites entry's identity: the file, in its space.
local function entry_key(e)
  if type(e) ~= "table" then return nil end
  local c, f = rawget(e, "containerId"), rawget(e, "fileId")
  if type(c) ~= "string" or type(f) ~= "string" then return nil end
  return c .. "\0" .. f
end

--- favorites:set_many(entries, starred [, opts]) -> { done = {fileIds}, failed = { {fileId,
-- code, message, error?} }, uncertain = { {fileId, code, message, error, history} }, calls,
-- callback_error }: 100 entries a call; every entry is checked before the first call, and each
-- ends up in exactly one list (a call that failed: its entries failed, or uncertain when that
-- call may have been carried out).
function M.set_favorites(service, entries, starred, opts)
  local bopts, call_opts = split_options(opts)
  if not bopts then return nil, call_opts end
  if type(starred) ~= "boolean" then
    return nil, errors.validation("starred", "type", "must be a boolean")
  end
  local list, index = distinct(entries, "entries", entry_key)
  if not list then return nil, index end
  local chunks = batch.chunks(list, M.FAVORITES_CHUNK)
  for c, chunk in ipairs(chunks) do
    local ok, err = pipeline.check(service, "set", chunk, starred, call_opts)
    if not ok then return nil, global_index(err, "entries", c, M.FAVORITES_CHUNK, index) end
  end
  local results, err = batch.map(chunks, function(chunk) return service:set(chunk, starred, call_opts) end, bopts)
  if not results then return nil, err end
  local out = { done = {}, failed = {}, uncertain = {}, calls = #chunks }
  for c, r in ipairs(results) do
    local result, call_err = r[1], r[2]
    if result then
      for _, id in ipairs(result.done) do out.done[#out.done + 1] = id end
      for _, f in ipairs(result.failed) do out.failed[#out.failed + 1] = f end
    else
      local target = call_err.uncertain and out.uncertain or out.failed
      for _, e in ipairs(chunks[c]) do
        local f = item_error(call_err)
        f.fileId, f.message, f.msg = e.fileId, f.msg, nil
        target[#target + 1] = f
      end
    end
  end
  out.callback_error = results.callback_error
  return out
end

return M
