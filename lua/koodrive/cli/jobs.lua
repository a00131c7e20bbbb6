--- `koodrive jobs ls|show|cancel`, and how every command prints a job (files mv, cp, rm,
-- restore end with one).
local json = require "koodrive.json"
local config = require "koodrive.cli.config"
local output = require "koodrive.cli.output"
local exit = require "koodrive.cli.exit"

local EXIT = exit.EXIT

-- koodrive-files-api.md §5.1 and §5.3: task types and job states.
local TASK_TYPES = { ["1"] = "copy", ["2"] = "delete", ["3"] = "move", ["4"] = "restore", ["5"] = "unzip",
  ["6"] = "package", ["7"] = "empty bin" }
local STATES = { ["0"] = "pending", ["1"] = "processing", ["2"] = "done", ["3"] = "cancelled" }
-- taskResultCode: documented for share tasks only; the contract's Decision reads batch jobs alike.
local RESULTS = { ["1"] = "all succeeded", ["2"] = "partly failed", ["3"] = "all failed" }

local function word(map, v)
  if v == nil or v == json.null then return nil end
  local w = map[tostring(v)]
  return w and (tostring(v) .. " " .. w) or tostring(v)
end

local JOB_COLUMNS = {
  { "taskId", "taskId" },
  { "type", function(j) return word(TASK_TYPES, j.taskType) end },
  { "actionType", "actionType" },
  { "status", function(j) return word(STATES, j.status) end },
  { "result", function(j) return word(RESULTS, j.taskResultCode) end },
  { "createTime", "createTime" },
}

-- A task entry's file and outcome. §5.2 names taskInfos without its fields: these are the
-- ones the local service gives (fileId, newFileId, code, msg), with the job-level names as
-- fallbacks; whatever is absent shows as "-" (--json has the entries as given).
local TASK_COLUMNS = {
  { "fileId", function(t) return t.fileId or t.srcFileId or t.id end },
  { "newFileId", "newFileId" },
  { "code", function(t) if t.code ~= nil then return t.code end return t.resultCode or t.taskResultCode end },
  { "msg", function(t) return t.msg or t.resultMsg or t.message end },
}

local jobs = {}

--- The exit code of a finished job: 0 all succeeded (or no result code), 1 partly failed,
-- 5 all failed or cancelled.
---@param job table { jobInfo = { status, taskResultCode } }
---@return integer
function jobs.exit_code(job)
  local info = type(job.jobInfo) == "table" and job.jobInfo or {}
  if tostring(info.status) == "3" then return EXIT.service end
  local result = tostring(info.taskResultCode)
  if result == "2" then return EXIT.partial end
  if result == "3" then return EXIT.service end
  return EXIT.ok
end

--- Prints a job ({ jobId, jobInfo, taskInfos } as the library returns it): one line with its
-- state, the task entries as a table; with --json the job as given. `header` adds JSON fields.
---@param ctx table
---@param job table
---@param header table|nil
---@param code integer|nil the exit code (default: jobs.exit_code)
---@return integer
function jobs.report(ctx, job, header, code)
  local info = type(job.jobInfo) == "table" and job.jobInfo or {}
  local id = job.jobId or info.taskId
  if ctx.args.json then
    local doc = {}
    for k, v in pairs(header or {}) do doc[k] = v end
    for k, v in pairs(job) do doc[k] = v end
    doc.jobId = id
    ctx.out(output.encode(doc) .. "\n")
  else
    local line = "job " .. tostring(id) .. ": " .. (word(STATES, info.status) or "status unknown")
    local result = word(RESULTS, info.taskResultCode)
    if result then line = line .. ", " .. result end
    ctx.out(require("koodrive.errors").printable(line) .. "\n")
    local tasks = type(job.taskInfos) == "table" and job.taskInfos or {}
    if #tasks > 0 then ctx.out(output.columns_text(tasks, TASK_COLUMNS)) end
  end
  return code or jobs.exit_code(job)
end

--- Prints the id of a job that was started and not waited for.
---@param ctx table
---@param job table { jobId }
---@return integer
function jobs.started(ctx, job)
  if ctx.args.json then
    ctx.out(output.encode({ jobId = job.jobId, waited = false }) .. "\n")
  else
    ctx.out("job " .. require("koodrive.errors").printable(tostring(job.jobId)) ..
      ' started (see "koodrive jobs show ' .. tostring(job.jobId) .. '")\n')
  end
  return EXIT.ok
end

local function numeric_flag(v, name, lo, hi)
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n % 1 ~= 0 or n < lo or n > hi then
    exit.usage(name .. " must be a whole number from " .. lo .. " to " .. hi)
  end
  return n
end

local function list(ctx)
  local a = ctx.args
  local limit = output.limit(ctx)
  local query = { type = numeric_flag(a.type, "--type", 1, 7), status = numeric_flag(a.status, "--status", 0, 3) }
  local client = config.koodrive_client(ctx.config())
  if a.dry_run then return output.dry_run(ctx, { ctx.prepare(client, "jobs.list", query) }) end
  local items, err = output.collect(limit, client.jobs:each(query))
  if not items then exit.with(err) end
  if a.json then
    ctx.out(output.encode({ jobs = json.array(items) }) .. "\n")
  elseif #items == 0 then
    ctx.out("no jobs\n")
  else
    ctx.out(output.columns_text(items, JOB_COLUMNS))
  end
  return EXIT.ok
end

local function show(ctx)
  local id = ctx.args.job_id
  if not id then exit.usage("jobs show needs JOB_ID") end
  local client = config.koodrive_client(ctx.config())
  if ctx.args.dry_run then return output.dry_run(ctx, { ctx.prepare(client, "jobs.get", id) }) end
  local job, err = client.jobs:get(id)
  if not job then exit.with(err) end
  job.jobId = job.jobId or id
  -- Showing a job succeeds whatever the job's own outcome.
  return jobs.report(ctx, job, nil, EXIT.ok)
end

local function cancel(ctx)
  local id = ctx.args.job_id
  if not id then exit.usage("jobs cancel needs JOB_ID") end
  local client = config.koodrive_client(ctx.config())
  if ctx.args.dry_run then return output.dry_run(ctx, { ctx.prepare(client, "jobs.cancel", id) }) end
  local r, err = client.jobs:cancel(id)
  if not r then exit.with(err) end
  if ctx.args.json then
    ctx.out(output.encode({ jobId = id, cancelled = true }) .. "\n")
  else
    ctx.out("job " .. require("koodrive.errors").printable(id) .. " cancelled\n")
  end
  return EXIT.ok
end

local function flags(cmd)
  config.koodrive_flags(cmd)
  output.flags(cmd)
end

jobs.name = "jobs"
jobs.summary = "list, show and cancel copy/move/delete/restore jobs"
jobs.usage = "Usage: koodrive jobs ls|show|cancel [ARGS] [FLAGS]"
jobs.epilog = 'Run "koodrive jobs SUBCOMMAND --help" for details.'
jobs.commands = {
  {
    name = "ls",
    summary = "list jobs",
    usage = "Usage: koodrive jobs ls [--type N] [--status N] [--limit N] [FLAGS]",
    description = "Lists the user's jobs, page after page: taskId, type, actionType, status, result,\n" ..
      'createTime. With --json: {"jobs": [ ... ]} (the service\'s JobInfo entries).',
    declare = function(cmd)
      cmd:option("--type", "only this task type: 1 copy, 2 delete, 3 move, 4 restore, 5 unzip, 6 package, 7 empty bin")
        :argname("N"):overwrite(false)
      cmd:option("--status", "only this status: 0 pending, 1 processing, 2 done, 3 cancelled"):argname("N")
        :overwrite(false)
      output.limit_flag(cmd)
      flags(cmd)
    end,
    too_many = "jobs ls takes no arguments",
    run = list,
  },
  {
    name = "show",
    summary = "show a job and its tasks",
    usage = "Usage: koodrive jobs show JOB_ID [FLAGS]",
    description = "Prints the job's status and result, then its task entries. With --json: the job\n" ..
      "detail as the service gives it (jobInfo, taskInfos, ...).",
    declare = function(cmd)
      cmd:argument("job_id", "the job"):args("?"):argname("JOB_ID")
      flags(cmd)
    end,
    too_many = "jobs show takes one JOB_ID",
    run = show,
  },
  {
    name = "cancel",
    summary = "cancel a pending or running job",
    usage = "Usage: koodrive jobs cancel JOB_ID [FLAGS]",
    description = "Cancels a job whose status is pending or processing.",
    declare = function(cmd)
      cmd:argument("job_id", "the job"):args("?"):argname("JOB_ID")
      flags(cmd)
    end,
    too_many = "jobs cancel takes one JOB_ID",
    run = cancel,
  },
}

return jobs
