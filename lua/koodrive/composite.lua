--- Calls built from other calls: the client user's own space, waiting for an asynchronous
-- job, and the file operations that exist only as jobs (koodrive-files-api.md §2.3, §5).
-- Each function is a method of a service object (`client.files:copy(items, opts)`); the
-- operations it calls are the declared ones, so their checks, retries and logs apply.
-- Waits go through koodrive.scheduler: a loop task or an OpenResty handler never blocks.
-- @module koodrive.composite
local errors = require "koodrive.errors"
local limits = require "koodrive.limits"
local pipeline = require "koodrive.pipeline"
local retry = require "koodrive.retry"
local validate = require "koodrive.validate"

local composite = {}

local CALL_KEYS = require("koodrive.options").names("call")

--- The per-call options inside `opts` (what every underlying call gets), and the caller's
-- own options (the keys of `own`); any other key is refused (a validation error naming
-- `where`). Returns call, mine or nil, err. Shared by the composite calls and the transfers.
local function split(opts, own, where)
  if opts == nil then return {}, {} end
  if type(opts) ~= "table" then
    return nil, errors.validation(where, "type", "must be a table")
  end
  local call, mine = {}, {}
  for k, v in pairs(opts) do
    if CALL_KEYS[k] then call[k] = v
    elseif own[k] then mine[k] = v
    else
      return nil, errors.validation(where, "unknown_key",
        where .. "." .. validate.key_label(k) .. " is not a known option")
    end
  end
  return call, mine
end

composite.split = split

--------------------------------------------------------------------------------------------
-- spaces:mine()
--------------------------------------------------------------------------------------------

local function is_individual(space)
  return type(space) == "table" and tostring(space.type) == "1" and type(space.containerId) == "string"
    and space.containerId ~= ""
end

--- The client user's individual space (SpaceInfoV2: containerId, rootFileId, bizRootFileId,
-- ...): `GET v2 space/{userId}?type=1`, the root Decision's first step. Several individual
-- spaces: the first the service lists. None: a decode error (the service answered, but not
-- with the space every user has).
function composite.mine(spaces, opts)
  local client = pipeline.client_of(spaces)
  local list, err = spaces:list(client.user_id, { type = 1 }, opts)
  if not list then return nil, err end
  for _, space in ipairs(list) do
    if is_individual(space) then return space end
  end
  return nil, errors.new { kind = "decode", operation = "spaces.mine",
    message = "the service listed no individual space (type 1) with a containerId for this user" }
end

--------------------------------------------------------------------------------------------
-- jobs:wait(jobId, { deadline })
--------------------------------------------------------------------------------------------

local WAIT_KEYS = { deadline = true, interval = true }

local function check_wait(mine)
  local deadline = mine.deadline or limits.JOB_DEADLINE
  local ok, err = validate.seconds(deadline, "deadline")
  if not ok then return nil, err end
  local interval = mine.interval or limits.JOB_POLL_FIRST
  ok, err = validate.seconds(interval, "interval")
  if not ok then return nil, err end
  return deadline, interval
end

local function pause(client, seconds)
  local custom = client._config.sleep
  if custom then return custom(seconds) end
  require("koodrive.scheduler").sleep(seconds)
end

local TERMINAL = { [2] = "done", [3] = "cancelled" }

-- The finished job as jobs:get gave it, with `jobId` and `state` ("done" | "cancelled").
local function finished(job, job_id, state)
  job.jobId, job.state = job_id, state
  return job
end

--- Waits until job `jobId` is done (status 2) or cancelled (3), polling jobs:get every 1 s,
-- doubling to 10 s (the §5.5 Decision), and returns the job (`jobInfo`, per-item `taskInfos`,
-- plus `jobId` and `state`): items that failed inside a finished job are part of the result,
-- not an error. At the deadline (default 600 s) a `timeout` error with `job_id`: the job keeps
-- running on the service (cancel it with jobs:cancel). A failed poll returns that error, with
-- `job_id` too.
function composite.wait(jobs, job_id, opts)
  local client = pipeline.client_of(jobs)
  local call, mine = split(opts, WAIT_KEYS, "options")
  if not call then return nil, mine end
  local deadline, interval = check_wait(mine)
  if not deadline then return nil, interval end
  local ok, err = client:check_operation("jobs.get", job_id, call)
  if not ok then return nil, err end
  local started, slept = retry.now(), 0
  while true do
    local job, gerr = jobs:get(job_id, call)
    if not job then
      gerr.job_id = job_id
      return nil, gerr
    end
    local status = job.jobInfo and job.jobInfo.status
    if TERMINAL[status] then return finished(job, job_id, TERMINAL[status]) end
    -- Elapsed time is the real time or the time slept, whichever is longer: a custom sleep
    -- (the client's `sleep` option) that returns at once still reaches the deadline.
    local elapsed = math.max(retry.now() - started, slept)
    if elapsed >= deadline then
      return nil, errors.new { kind = "timeout", reason = "job_deadline", operation = "jobs.wait",
        job_id = job_id, message = "job " .. job_id .. " did not finish within " .. deadline ..
          " s; it keeps running on the service (jobs:cancel stops it)" }
    end
    local wait = math.min(interval, deadline - elapsed)
    pause(client, wait)
    slept = slept + wait
    interval = math.min(interval * 2, limits.JOB_POLL_MAX)
  end
end

--------------------------------------------------------------------------------------------
-- files:copy / move / delete / restore / clear_recycled
--------------------------------------------------------------------------------------------

local JOB_KEYS = { srcContainerId = true, dstContainerId = true, newFilePath = true, wait = true,
  deadline = true, interval = true, permanent = true }

-- taskType and actionType of each job (koodrive-files-api.md §5.1).
local KINDS = {
  copy = { taskType = 1, actionType = 101, cross = true },
  move = { taskType = 3, actionType = 301, cross = true },
  delete = { taskType = 2, actionType = 201 },
  restore = { taskType = 4 },
}

-- Creates the job and, unless opts.wait == false, waits for it.
local function run_job(files, kind, items, opts)
  local client = pipeline.client_of(files)
  local call, mine = split(opts, JOB_KEYS, "options")
  if not call then return nil, mine end
  local spec = KINDS[kind]
  if mine.wait ~= nil and type(mine.wait) ~= "boolean" then
    return nil, errors.validation("wait", "type", "must be a boolean")
  end
  if mine.permanent ~= nil and (kind ~= "delete" or type(mine.permanent) ~= "boolean") then
    return nil, errors.validation("permanent", kind == "delete" and "type" or "unknown_key",
      kind == "delete" and "must be a boolean" or "is an option of delete only")
  end
  if not spec.cross and mine.dstContainerId ~= nil and mine.dstContainerId ~= mine.srcContainerId then
    return nil, errors.validation("dstContainerId", "same_space",
      "a " .. kind .. " job stays in its space: give srcContainerId only")
  end
  if mine.wait ~= false then
    local deadline, interval = check_wait(mine)
    if not deadline then return nil, interval end
  end
  local action = spec.actionType
  if kind == "delete" and mine.permanent then action = 202 end
  local req = {
    taskType = spec.taskType, actionType = action,
    taskInfo = { fileInfo = items, srcContainerId = mine.srcContainerId, newFilePath = mine.newFilePath },
    -- Same-space jobs send the source space as the target (§5.1 Decision).
    dstContainerId = spec.cross and mine.dstContainerId or mine.srcContainerId,
  }
  local created, err = client.jobs:create(req, call)
  if not created then
    err.operation = "files." .. kind
    return nil, err
  end
  if mine.wait == false then return created end
  local wait = { deadline = mine.deadline, interval = mine.interval }
  for k, v in pairs(call) do wait[k] = v end -- the polls get the caller's per-call options too
  return client.jobs:wait(created.jobId, wait)
end

for kind in pairs(KINDS) do
  composite[kind] = function(files, items, opts) return run_job(files, kind, items, opts) end
end

-- Whether createTime `a` is after `b`: numbers (or digit strings, epoch ms) by value, other
-- texts (ISO dates) as text; a missing time is never later.
local function later(a, b)
  if a == nil then return false end
  if b == nil then return true end
  local na, nb = tonumber(a), tonumber(b)
  if na and nb then return na > nb end
  return tostring(a) > tostring(b)
end

--- Empties a space's recycle bin (POST files/recycle). The answer names no job: per the §5.5
-- Decision the newest taskType 7 job (by createTime) is followed. Returns that finished job, or
-- `{ jobId = nil }` when the service lists none (the clear was accepted), or with
-- `wait = false` the job it found without waiting.
function composite.clear_recycled(files, container_id, opts)
  local client = pipeline.client_of(files)
  local call, mine = split(opts, { wait = true, deadline = true, interval = true }, "options")
  if not call then return nil, mine end
  if mine.wait ~= nil and type(mine.wait) ~= "boolean" then
    return nil, errors.validation("wait", "type", "must be a boolean")
  end
  local deadline, interval = check_wait(mine)
  if not deadline then return nil, interval end
  local ok, err = files:recycle_clear(container_id, call)
  if not ok then return nil, err end
  local jobs, lerr = client.jobs:all({ type = 7 }, call)
  if not jobs then return nil, lerr end
  local newest
  for _, j in ipairs(jobs) do
    if type(j.taskId) == "string" and (newest == nil or later(j.createTime, newest.createTime)) then
      newest = j
    end
  end
  if not newest then return { jobId = nil } end
  if mine.wait == false then return { jobId = newest.taskId } end
  return client.jobs:wait(newest.taskId, { deadline = deadline, interval = interval })
end

return composite
