--- Bulk work with bounded concurrency, and the bulk helpers built on it.
-- Every input item is accounted for, in exactly one outcome, whatever happens to the calls:
--   done       the service said it was done;
--   failed     the service refused it, or it was never sent (connect refused, TLS...);
--   uncertain  it may have been done: the call's last attempt got no readable answer (a reset,
--              a timeout, a 502/503/504, an answer that contradicts the request), or it was
--              retried after such an attempt and the service then said "not found" / "not a
--              member" - what the earlier attempt's success looks like. Each carries the error
--              (or result) and the attempt `history`.
-- A progress callback that raises does not stop the work or lose results: its first error is
-- returned as `callback_error` and it is not called again.
-- @module koodrive.batch
local errors = require "koodrive.errors"
local pipeline = require "koodrive.pipeline"
local scheduler = require "koodrive.scheduler"
local validate = require "koodrive.validate"

local batch = {}

local limits = require "koodrive.limits"
local options = require "koodrive.options"

local DEFAULT_CONCURRENCY, MAX_CONCURRENCY = limits.CONCURRENCY, limits.CONCURRENCY_MAX
-- The options every bulk helper takes (koodrive.options, BatchOptions).
local BATCH_OPTIONS = options.names("batch")

-- Checks { concurrency, progress }; returns a plain copy (metamethods are not consulted).
local function check_options(opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    return nil, errors.validation("options", "type", "must be a table, got a " .. type(opts))
  end
  local ok, err = validate.known_keys(opts, "options", allowed)
  if not ok then return nil, err end
  local c = rawget(opts, "concurrency")
  if c ~= nil and (type(c) ~= "number" or c ~= c or c < 1 or c > MAX_CONCURRENCY or c % 1 ~= 0) then
    return nil, errors.validation("concurrency", "range", "must be a whole number from 1 to " .. MAX_CONCURRENCY)
  end
  local progress = rawget(opts, "progress")
  if progress ~= nil and type(progress) ~= "function" then
    return nil, errors.validation("progress", "type", "must be a function(done, total, item, result, err)")
  end
  return { concurrency = c, progress = progress }
end

-- A plain copy of a list validated by validate.list (n items).
local function copy_list(t, n)
  local out = {}
  for i = 1, n do out[i] = rawget(t, i) end
  return out
end

--- The items of `list` (its first `n`, #list by default; read with rawget) in lists of at
-- most `size`, in order: chunks({1, 2, 3}, 2) is { {1, 2}, {3} }. Bulk helpers split their ids
-- with it (IoTDA takes 20 targets a call); the CLI does the same for its own bulk commands.
---@param list any[]
---@param size integer
---@param n? integer
---@return any[][]
function batch.chunks(list, size, n)
  n = n or #list
  local out = {}
  for first = 1, n, size do
    local chunk = {}
    for i = first, math.min(first + size - 1, n) do chunk[#chunk + 1] = rawget(list, i) end
    out[#out + 1] = chunk
  end
  return out
end

-- Puts `prefix` before the field an error names (and its message, which starts with it).
local function within(prefix, err)
  if err.field then
    err.field = prefix .. err.field
    err.message = prefix .. err.message
  end
  return err
end

--- Runs work(item) for every item, at most `concurrency` at a time, and returns a list of
-- { result, err } in the order of `items` (with `callback_error`, the text of the first error
-- progress raised, if it did). progress(done, total, item, result, err) is called as each item
-- finishes. Inside a loop task the work runs on that loop, in an
-- OpenResty handler on nginx's light threads, elsewhere on a private loop that this call
-- drives until everything is done (`koodrive.scheduler`).
---@param items any[]
---@param work fun(item: any): any, any returns result, err
---@param opts? koodrive.BatchOptions
---@return {[1]: any, [2]: any}[]|nil results
---@return koodrive.Error|nil err
function batch.map(items, work, opts)
  if type(items) ~= "table" then
    return nil, errors.validation("items", "type", "must be an array, got a " .. type(items))
  end
  local n, lerr = validate.list(items, "items")
  if not n then
    if lerr.rule ~= "length" then return nil, lerr end
    n = 0 -- an empty list is nothing to do
  end
  if type(work) ~= "function" then
    return nil, errors.validation("fn", "type", "must be a function(item) -> result, err")
  end
  local oerr
  opts, oerr = check_options(opts, BATCH_OPTIONS)
  if not opts then return nil, oerr end
  items = copy_list(items, n)
  local total = n
  local results, next_index, finished = {}, 0, 0
  local progress = opts and opts.progress
  local function worker()
    while next_index < total do
      next_index = next_index + 1
      local i = next_index
      local result, err = work(items[i])
      results[i] = { result, err }
      finished = finished + 1
      -- The caller's callback must not cost the results of work already sent: an error it
      -- raises is kept (the first one, as text) and it is not called again; the work goes on.
      if progress then
        local ok, cerr = pcall(progress, finished, total, items[i], result, err)
        if not ok then
          progress = nil
          local shown, text = pcall(tostring, cerr)
          results.callback_error = validate.safe_text(shown and text or "an error value", 500)
        end
      end
    end
  end
  local workers = math.min((opts and opts.concurrency) or DEFAULT_CONCURRENCY, total)
  -- Where the workers run is the scheduler's choice: the running loop's tasks, nginx's light
  -- threads, or a private loop driven until they are done.
  local sched = scheduler.current()
  local handles = {}
  for k = 1, workers do handles[k] = sched.spawn(worker) end
  sched.wait(handles)
  return results
end

--- devices:unbind_many(ids [, {concurrency, progress}]) ->
-- { done = { {deviceId, device} }, failed = { {deviceId, error} },
--   uncertain = { {deviceId, error, history} }, callback_error = text | nil }
---@param service koodrive.DevicesService
---@param ids string[]
---@param opts? koodrive.BatchOptions
---@return koodrive.UnbindManyResult|nil result
---@return koodrive.Error|nil err
function batch.unbind_devices(service, ids, opts)
  local o, err = check_options(opts, BATCH_OPTIONS)
  if not o then return nil, err end
  local n
  n, err = validate.list(ids, "deviceIds")
  if not n then return nil, err end
  ids = copy_list(ids, n)
  for i = 1, n do
    local ok, e = validate.path_segment(ids[i], "deviceIds[" .. i .. "]")
    if not ok then return nil, e end
  end
  local out = { done = {}, failed = {}, uncertain = {} }
  local results = batch.map(ids, function(id) return service:unbind(id) end, o)
  for i, r in ipairs(results) do
    local e = r[2]
    if r[1] then
      out.done[#out.done + 1] = { deviceId = ids[i], device = r[1] }
    elseif e.uncertain then
      out.uncertain[#out.uncertain + 1] = { deviceId = ids[i], error = e, history = e.history }
    else
      out.failed[#out.failed + 1] = { deviceId = ids[i], error = e }
    end
  end
  out.callback_error = results.callback_error
  return out
end

--- usergroups:delete_members_many({ {groupId, userIds}, ... } [, opts]) ->
-- { deleted = { {groupId, userId} }, failed = { {groupId, userId, error} },
--   uncertain = { {groupId, userId, error | result, history} }, groups = { {groupId, result | error} },
--   callback_error = text | nil }
-- An id the service refused has error = nil and refused = true; an id in a call that failed
-- has that call's error. An id the service called failed after an earlier attempt that may
-- have deleted it is uncertain (with the call's result), as is every id of a call whose last
-- attempt got no readable answer (with its error).
---@param service koodrive.UsergroupsService
---@param groups table[] { {groupId, userIds}, ... }
---@param opts? koodrive.BatchOptions
---@return koodrive.DeleteMembersManyResult|nil result
---@return koodrive.Error|nil err
function batch.delete_members(service, groups, opts)
  local o, err = check_options(opts, BATCH_OPTIONS)
  if not o then return nil, err end
  local n
  n, err = validate.list(groups, "groups")
  if not n then return nil, err end
  -- Every group is checked in full (ids included) before the first call is sent; from here
  -- on only plain { groupId, userIds } copies are used.
  local given = groups
  groups = {}
  for i = 1, n do
    local g = rawget(given, i)
    local prefix = "groups[" .. i .. "]"
    if type(g) ~= "table" then
      return nil, errors.validation(prefix, "type", "must be { groupId, userIds }, got a " .. type(g))
    end
    local group_id, ids = rawget(g, 1), rawget(g, 2)
    if group_id == nil then group_id = rawget(g, "groupId") end
    if ids == nil then ids = rawget(g, "userIds") end
    local ok, e = validate.path_segment(group_id, prefix .. ".groupId")
    if not ok then return nil, e end
    local count
    count, e = validate.list(ids, prefix .. ".userIds")
    if not count then return nil, e end
    ids = copy_list(ids, count)
    ok, e = pipeline.check(service, "delete_members", group_id, ids)
    if not ok then return nil, within(prefix .. ".", e) end
    groups[i] = { group_id, ids }
  end
  local out = { deleted = {}, failed = {}, uncertain = {}, groups = {} }
  local results = batch.map(groups, function(g)
    return service:delete_members(g[1], g[2])
  end, o)
  for i, r in ipairs(results) do
    local g = groups[i]
    local group_id, ids = g[1], g[2]
    local result, call_err = r[1], r[2]
    out.groups[i] = { groupId = group_id, result = result, error = call_err }
    if result then
      for _, id in ipairs(result.deleted) do out.deleted[#out.deleted + 1] = { groupId = group_id, userId = id } end
      for _, id in ipairs(result.failedList) do
        out.failed[#out.failed + 1] = { groupId = group_id, userId = id, refused = true }
      end
      for _, id in ipairs(result.uncertain or {}) do
        out.uncertain[#out.uncertain + 1] = { groupId = group_id, userId = id, result = result,
          history = result.history }
      end
    else
      local list = call_err.uncertain and out.uncertain or out.failed
      for _, id in ipairs(ids) do
        list[#list + 1] = { groupId = group_id, userId = tostring(id), error = call_err,
          history = call_err.uncertain and call_err.history or nil }
      end
    end
  end
  out.callback_error = results.callback_error
  return out
end

local CHUNK = 20

--- device_policies:unbind_all(policy_id, { target_type, target_ids = any number } [, opts])
-- -> { policy_id, target_type, success_targets, failure_targets, uncertain_targets, calls,
--      callback_error }
-- The ids go in calls of 20; a call that fails as a whole reports each of its ids as failed,
-- with error_code the service's code (or `"KOODRIVE.<KIND>"`) and `error` the error itself -
-- in uncertain_targets instead when the call may have been carried out (`error.uncertain`).
-- A call's own uncertain_targets (failures heard after an ambiguous attempt) are kept.
---@param service koodrive.DevicePoliciesService
---@param policy_id string
---@param targets koodrive.PolicyTargets
---@param opts? koodrive.BatchOptions
---@return koodrive.PolicyUnbindResult|nil result
---@return koodrive.Error|nil err
function batch.unbind_policy_targets(service, policy_id, targets, opts)
  local o, err = check_options(opts, BATCH_OPTIONS)
  if not o then return nil, err end
  if type(targets) ~= "table" then
    return nil, errors.validation("targets", "type",
      "must be a table { target_type, target_ids }, got a " .. type(targets))
  end
  local ok, kerr = validate.known_keys(targets, "targets", { target_type = true, target_ids = true })
  if not ok then return nil, kerr end
  local target_ids = rawget(targets, "target_ids")
  targets = { target_type = rawget(targets, "target_type") }
  local n
  n, err = validate.list(target_ids, "target_ids")
  if not n then return nil, err end
  local chunks = batch.chunks(target_ids, CHUNK, n)
  -- Validate every chunk before sending any, so bad input sends nothing. An error names the
  -- id by its index in the caller's list, not in its chunk.
  for c, ids in ipairs(chunks) do
    local valid, verr = pipeline.check(service, "unbind", policy_id,
      { target_type = targets.target_type, target_ids = ids })
    if not valid then
      local i = verr.field and tonumber(verr.field:match("^target_ids%[(%d+)%]$"))
      if i then
        local global = "target_ids[" .. ((c - 1) * CHUNK + i) .. "]"
        verr.message = global .. verr.message:sub(#verr.field + 1)
        verr.field = global
      end
      return nil, verr
    end
  end
  local out = { policy_id = policy_id, target_type = targets.target_type,
    success_targets = {}, failure_targets = {}, uncertain_targets = {}, calls = #chunks }
  local results = batch.map(chunks, function(ids)
    return service:unbind(policy_id, { target_type = targets.target_type, target_ids = ids })
  end, o)
  for i, r in ipairs(results) do
    local result, call_err = r[1], r[2]
    if result then
      for _, id in ipairs(result.success_targets) do out.success_targets[#out.success_targets + 1] = id end
      for _, f in ipairs(result.failure_targets) do out.failure_targets[#out.failure_targets + 1] = f end
      for _, f in ipairs(result.uncertain_targets or {}) do
        f.history = result.history
        out.uncertain_targets[#out.uncertain_targets + 1] = f
      end
    else
      local code = call_err.code or ("KOODRIVE." .. call_err.kind:upper())
      local list = call_err.uncertain and out.uncertain_targets or out.failure_targets
      for _, id in ipairs(chunks[i]) do
        list[#list + 1] = { target_id = id, error_code = code, error_msg = call_err.message,
          error = call_err, history = call_err.uncertain and call_err.history or nil }
      end
    end
  end
  out.callback_error = results.callback_error
  return out
end

return batch
