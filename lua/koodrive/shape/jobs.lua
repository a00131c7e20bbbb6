--- Results of the jobs operations (koodrive-files-api.md §5), as koodrive.shape's functions:
-- (body, args, call, opts) -> result, or nil and a message for a "decode" error.
local json = require "koodrive.json"
local fields = require "koodrive.shape.fields"

local shape = {}

local absent, check = fields.absent, fields.check

--- The page size jobs.list sends when the caller gives none (the most §5.3 allows).
shape.LIST_LIMIT = 100

-- JobInfo (§5.2, §5.3). status: 0 pending, 1 processing, 2 done, 3 cancelled.
local JOB = {
  taskId = "id", taskName = "string", userId = "id", taskType = "integer", actionType = "integer",
  status = "integer", taskResultCode = "integer", resultCode = "text", progress = "count",
  downloadUrl = "string", contentNum = "count", containerId = "id", tenantId = "id",
  beginTime = "text", endTime = "text", createTime = "text",
}

local function check_job(j, where, required)
  local ok, err = check(j, where, JOB, required)
  if not ok then return nil, err end
  if not absent(j.status) and (j.status < 0 or j.status > 3) then
    return nil, "'" .. where .. ".status' is not 0, 1, 2 or 3"
  end
  return j
end

--- jobs.create: `data` is the job id (§5.1: "data = task id (string)").
function shape.job_created(body)
  local id = fields.id_string(body, "data")
  if not id then return nil, "'data' is not a job id" end
  return { jobId = id }
end

--- jobs.get: the `data` object with jobInfo.status an integer 0..3 (taskType, actionType,
-- taskResultCode integers when present); a job other than the one asked for is a
-- contradiction.
function shape.job_detail(body, args)
  local data = body.data
  if not json.is_object(data) then return nil, "'data' is not an object" end
  local job, err = check_job(data.jobInfo, "data.jobInfo", { "status" })
  if not job then return nil, err end
  if not absent(job.taskId) and job.taskId ~= args.jobId then
    return nil, "'data.jobInfo.taskId' is not the job that was asked for"
  end
  local ok
  ok, err = check(data, "data", { taskInfos = "objects", uncompressedFileList = "array" })
  if not ok then return nil, err end
  return data
end

--- jobs.list: an offset page of the JobInfo in `data` (no total: a short page ends it).
-- Every job has a taskId and a status, each job once, and matches the type and status
-- filters that were sent.
function shape.job_page(body, args, _, opts)
  local data = body.data
  if absent(data) then data = setmetatable({}, json.array_mt) end
  if not json.is_array(data) then return nil, "'data' is not an array of jobs" end
  local q, seen = args.query or {}, {}
  for i = 1, #data do
    local where = "data[" .. i .. "]"
    local job, err = check_job(data[i], where, { "taskId", "status" })
    if not job then return nil, err end
    if seen[job.taskId] then return nil, "'" .. where .. ".taskId' repeats an earlier job" end
    seen[job.taskId] = true
    if q.type and not absent(job.taskType) and job.taskType ~= q.type then
      return nil, "'" .. where .. ".taskType' is not the type that was asked for"
    end
    if q.status and job.status ~= q.status then
      return nil, "'" .. where .. ".status' is not the status that was asked for"
    end
  end
  local limit = opts and opts.page_size or shape.LIST_LIMIT
  return require("koodrive.paging").offset_page(body, data, opts, limit)
end

--- jobs.cancel: `{code, msg}` (2024) or `{data}` (2025-08); the result names the job.
function shape.job_cancelled(body, args)
  local data = body.data
  if not absent(data) and type(data) ~= "string" then return nil, "'data' is not a string" end
  return { jobId = args.jobId, data = not absent(data) and data or nil }
end

return shape
