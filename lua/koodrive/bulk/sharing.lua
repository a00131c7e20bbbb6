--- Bulk helpers of the sharing family: lists above a documented per-call limit are split,
-- never cut, and every id given comes back in exactly one outcome.
--   shares:cancel_many(shareIds [, opts])            100 ids a call (batchCancel, §1.5)
--   usage:by_user_many(userIds [, opts])             50 ids a call (GetSpaceUsageByUser C, §4)
--   usergroups:add_members_many(groupId, members [, opts])   100 members a call (no limit is
--       documented; 100 is the limit of every other id list of this API)
-- Every chunk is checked before the first call is sent (bad input sends nothing); an error
-- names the item by its index in the caller's list. opts: concurrency, progress (as
-- koodrive.batch) and the per-call options the operation takes (agent_name, trace_id, ...).
-- @module koodrive.bulk.sharing
local batch = require "koodrive.batch"
local errors = require "koodrive.errors"
local pipeline = require "koodrive.pipeline"
local validate = require "koodrive.validate"

local M = {}

M.CANCEL_CHUNK, M.USAGE_CHUNK, M.ADD_MEMBERS_CHUNK = 100, 50, 100

local BATCH_KEYS = { concurrency = true, progress = true }

-- Splits opts into koodrive.batch's options and the per-call options of each call.
local function split_options(opts)
  if opts == nil then return {}, nil end
  if type(opts) ~= "table" then
    return nil, errors.validation("options", "type", "must be a table, got a " .. type(opts))
  end
  local b, call = {}, {}
  for k, v in next, opts do
    if BATCH_KEYS[k] then b[k] = v else call[k] = v end
  end
  return b, next(call) ~= nil and call or nil
end

-- The items of list `v` (named `field`), each once, in order (repeats would be sent, and
-- reported, twice).
local function distinct(v, field, key)
  local n, err = validate.list(v, field)
  if not n then return nil, err end
  local out, seen, index = {}, {}, {}
  for i = 1, n do
    local item = rawget(v, i)
    local k = key(item)
    if k == nil or not seen[k] then
      if k ~= nil then seen[k] = true end
      out[#out + 1] = item
      index[#out] = i
    end
  end
  return out, index
end

-- Rewrites "field[i]" in a validation error of chunk `c` to the caller's index.
local function global_index(err, field, c, size, index)
  local i = err.field and tonumber(err.field:match("^" .. field .. "%[(%d+)%]"))
  if i then
    local g = field .. "[" .. index[(c - 1) * size + i] .. "]"
    local rest = err.field:sub(#field + #tostring(i) + 3)
    err.message = g .. rest .. err.message:sub(#err.field + 1)
    err.field = g .. rest
  end
  return err
end

-- A call's failure as per-item outcome: uncertain when the call may have been carried out.
local function item_error(err)
  return { code = err.code or ("KOODRIVE." .. tostring(err.kind):upper()), msg = err.message, error = err,
    history = err.uncertain and err.history or nil }
end

local function key_of(v)
  if type(v) == "number" and v % 1 == 0 then return string.format("%d", v) end
  if type(v) == "string" then return v end
  return nil
end

-- The splitting helpers, for the other families' bulk helpers (koodrive.bulk.files).
M.split_options, M.distinct, M.global_index, M.item_error = split_options, distinct, global_index, item_error

--- shares:cancel_many(shareIds [, opts]) -> { cancelled = {ids}, failed = { {shareId, code,
-- msg, error?} }, uncertain = { {shareId, code, msg, error?, history} }, calls, callback_error }
function M.cancel_shares(service, ids, opts)
  local bopts, call_opts = split_options(opts)
  if not bopts then return nil, call_opts end
  local list, index = distinct(ids, "shareIds", key_of)
  if not list then return nil, index end
  local chunks = batch.chunks(list, M.CANCEL_CHUNK)
  for c, chunk in ipairs(chunks) do
    local ok, err = pipeline.check(service, "cancel", chunk, call_opts)
    if not ok then return nil, global_index(err, "shareIds", c, M.CANCEL_CHUNK, index) end
  end
  local results, err = batch.map(chunks, function(chunk) return service:cancel(chunk, call_opts) end, bopts)
  if not results then return nil, err end
  local out = { cancelled = {}, failed = {}, uncertain = {}, calls = #chunks }
  for c, r in ipairs(results) do
    local result, call_err = r[1], r[2]
    if result then
      for _, id in ipairs(result.cancelled) do out.cancelled[#out.cancelled + 1] = id end
      for _, f in ipairs(result.failed) do out.failed[#out.failed + 1] = f end
      for _, f in ipairs(result.uncertain) do
        f.history = result.history
        out.uncertain[#out.uncertain + 1] = f
      end
    else
      local target = call_err.uncertain and out.uncertain or out.failed
      for _, id in ipairs(chunks[c]) do
        local e = item_error(call_err)
        e.shareId = key_of(id)
        target[#target + 1] = e
      end
    end
  end
  out.callback_error = results.callback_error
  return out
end

--- usage:by_user_many(userIds [, opts]) -> { usage = { UserSpaceQuota... }, missing = {ids
-- the service gave no entry for}, failed = { {userId, code, msg, error} }, calls,
-- callback_error }. A read: a failed call is failed, never uncertain.
function M.usage_by_user(service, ids, opts)
  local bopts, call_opts = split_options(opts)
  if not bopts then return nil, call_opts end
  local list, index = distinct(ids, "userIds", key_of)
  if not list then return nil, index end
  local chunks = batch.chunks(list, M.USAGE_CHUNK)
  for c, chunk in ipairs(chunks) do
    local ok, err = pipeline.check(service, "by_user", chunk, nil, call_opts)
    if not ok then return nil, global_index(err, "userIds", c, M.USAGE_CHUNK, index) end
  end
  local results, err = batch.map(chunks, function(chunk)
    -- One page holds every id of the chunk: page_size is the chunk's size.
    local o = { page_size = M.USAGE_CHUNK }
    for k, v in pairs(call_opts or {}) do o[k] = v end
    return service:by_user(chunk, nil, o)
  end, bopts)
  if not results then return nil, err end
  local out = { usage = {}, missing = {}, failed = {}, calls = #chunks }
  for c, r in ipairs(results) do
    local page, call_err = r[1], r[2]
    local ids_of = {}
    for _, id in ipairs(chunks[c]) do ids_of[#ids_of + 1] = validate.user_id(id, "userId") end
    if page then
      local got = {}
      for _, u in ipairs(page.items) do
        out.usage[#out.usage + 1] = u
        got[u.userId] = true
      end
      for _, id in ipairs(ids_of) do
        if not got[id] then out.missing[#out.missing + 1] = id end
      end
    else
      for _, id in ipairs(ids_of) do
        local e = item_error(call_err)
        e.userId = id
        out.failed[#out.failed + 1] = e
      end
    end
  end
  out.callback_error = results.callback_error
  return out
end

--- usergroups:add_members_many(groupId, members [, opts]) -> { groupId, added = {ids},
-- failed = { {userId, refused = true} | {userId, code, msg, error} }, uncertain = { {userId,
-- ...} }, calls, callback_error }. `members` as usergroups:add_members takes them.
function M.add_members(service, group_id, members, opts)
  local bopts, call_opts = split_options(opts)
  if not bopts then return nil, call_opts end
  local list, index = distinct(members, "members", function(m)
    if type(m) == "table" then return key_of(rawget(m, "userId")) end
    return key_of(m)
  end)
  if not list then return nil, index end
  local chunks = batch.chunks(list, M.ADD_MEMBERS_CHUNK)
  for c, chunk in ipairs(chunks) do
    local ok, err = pipeline.check(service, "add_members", group_id, chunk, call_opts)
    if not ok then return nil, global_index(err, "members", c, M.ADD_MEMBERS_CHUNK, index) end
  end
  local results, err = batch.map(chunks, function(chunk)
    return service:add_members(group_id, chunk, call_opts)
  end, bopts)
  if not results then return nil, err end
  local out = { groupId = group_id, added = {}, failed = {}, uncertain = {}, calls = #chunks }
  for c, r in ipairs(results) do
    local result, call_err = r[1], r[2]
    if result then
      for _, id in ipairs(result.added) do out.added[#out.added + 1] = id end
      for _, id in ipairs(result.failedList) do out.failed[#out.failed + 1] = { userId = id, refused = true } end
      for _, id in ipairs(result.uncertain) do
        out.uncertain[#out.uncertain + 1] = { userId = id, result = result, history = result.history }
      end
    else
      local target = call_err.uncertain and out.uncertain or out.failed
      for _, m in ipairs(chunks[c]) do
        local e = item_error(call_err)
        e.userId = validate.user_id(type(m) == "table" and rawget(m, "userId") or m, "userId")
        target[#target + 1] = e
      end
    end
  end
  out.callback_error = results.callback_error
  return out
end

return M
