--- The jobs operations (koodrive-files-api.md §5): create a batch job, read one, list them,
-- cancel one. Copy, move, delete, restore and emptying a recycle bin exist only as jobs;
-- files:copy/move/delete/restore/clear_recycled and jobs:wait are built on these in
-- koodrive.client.
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local vf = require "koodrive.validate.files"
local shape = require "koodrive.shape.jobs"

local function fail(field, rule, message)
  return nil, errors.validation(field, rule, message)
end

local TASK_TYPES = { [1] = true, [2] = true, [3] = true, [4] = true, [5] = true, [6] = true, [7] = true }
local TASK_TYPES_TEXT = "1 (copy), 2 (delete), 3 (move), 4 (restore), 5 (decompress), "
  .. "6 (package download), 7 (empty recycle bin)"

-- §5.1's table: the actionTypes of each taskType (4 and 6 have none).
local ACTIONS = {
  [1] = { [101] = true }, [2] = { [201] = true, [202] = true }, [3] = { [301] = true },
  [5] = { [501] = true, [502] = true, [503] = true }, [7] = { [701] = true },
}
local ACTIONS_TEXT = { [1] = "101", [2] = "201, 202", [3] = "301", [5] = "501, 502, 503", [7] = "701" }
local ALL_ACTIONS = {}
for _, set in pairs(ACTIONS) do for k in pairs(set) do ALL_ACTIONS[k] = true end end

-- Jobs inside one space: dstContainerId is the source space when the caller gives none
-- (§5.1 Decision: "for jobs inside one space ... send the source space id").
local SAME_SPACE = { [2] = true, [4] = true, [7] = true }

local function path_text(v, field) return vf.utf8_text(v, field, 4096) end

local function check_file_info(v, field, task, action)
  local n, err = validate.list(v, field, vf.LIST_MAX)
  if not n then return nil, err end
  local out, seen = {}, {}
  for i = 1, n do
    local where = field .. "[" .. i .. "]"
    local e = rawget(v, i)
    if type(e) ~= "table" then return fail(where, "type", "must be a table { fileId, filePath }") end
    local ok
    ok, err = validate.known_keys(e, where, { fileId = true, filePath = true })
    if not ok then return nil, err end
    local entry = {}
    if rawget(e, "fileId") ~= nil then
      entry.fileId, err = vf.id(rawget(e, "fileId"), where .. ".fileId")
      if not entry.fileId then return nil, err end
      if seen[entry.fileId] then return fail(where .. ".fileId", "duplicate", "names a file already in the list") end
      seen[entry.fileId] = true
    elseif task ~= 7 then
      return fail(where .. ".fileId", "required", "is required (only an empty-bin job may leave it out)")
    end
    if rawget(e, "filePath") ~= nil then
      entry.filePath, err = path_text(rawget(e, "filePath"), where .. ".filePath")
      if not entry.filePath then return nil, err end
    elseif action == 201 then
      return fail(where .. ".filePath", "required", "is required for a move to the recycle bin (201): restore needs it")
    end
    out[i] = entry
  end
  return out
end

local function check_task_info(v, task, action)
  if type(v) ~= "table" then return fail("taskInfo", "type", "must be a table { fileInfo, srcContainerId, ... }") end
  local ok, err = validate.known_keys(v, "taskInfo",
    { fileInfo = true, srcContainerId = true, newFilePath = true, uncompressFilePaths = true })
  if not ok then return nil, err end
  local out = {}
  if rawget(v, "srcContainerId") == nil then
    return fail("taskInfo.srcContainerId", "required", "is required")
  end
  out.srcContainerId, err = vf.container_id(rawget(v, "srcContainerId"), "taskInfo.srcContainerId")
  if not out.srcContainerId then return nil, err end
  if rawget(v, "fileInfo") ~= nil then
    out.fileInfo, err = check_file_info(rawget(v, "fileInfo"), "taskInfo.fileInfo", task, action)
    if not out.fileInfo then return nil, err end
  elseif task ~= 7 then
    return fail("taskInfo.fileInfo", "required", "is required (only an empty-bin job may leave it out)")
  end
  if rawget(v, "newFilePath") ~= nil then
    if task == 7 then return fail("taskInfo.newFilePath", "task_type", "is not used by an empty-bin job (7)") end
    out.newFilePath, err = path_text(rawget(v, "newFilePath"), "taskInfo.newFilePath")
    if not out.newFilePath then return nil, err end
  end
  local paths = rawget(v, "uncompressFilePaths")
  if paths ~= nil then
    if task ~= 5 then
      return fail("taskInfo.uncompressFilePaths", "task_type", "is only for decompression jobs (5)")
    end
    local n
    n, err = validate.list(paths, "taskInfo.uncompressFilePaths")
    if not n then return nil, err end
    out.uncompressFilePaths = {}
    for i = 1, n do
      out.uncompressFilePaths[i], err = path_text(rawget(paths, i), "taskInfo.uncompressFilePaths[" .. i .. "]")
      if not out.uncompressFilePaths[i] then return nil, err end
    end
  end
  return out
end

--- The request of jobs.create, checked and completed (dstContainerId defaulted for jobs
-- inside one space).
local function check_job_request(v, field)
  if type(v) ~= "table" then return fail(field, "type", "must be a table { taskType, taskInfo, ... }") end
  local ok, err = validate.known_keys(v, field,
    { taskType = true, actionType = true, taskInfo = true, dstContainerId = true, password = true })
  if not ok then return nil, err end
  local out = {}
  if rawget(v, "taskType") == nil then return fail("taskType", "required", "is required") end
  out.taskType, err = vf.enum_int(rawget(v, "taskType"), "taskType", TASK_TYPES, TASK_TYPES_TEXT)
  if not out.taskType then return nil, err end
  local task = out.taskType
  if rawget(v, "actionType") ~= nil then
    out.actionType, err = vf.enum_int(rawget(v, "actionType"), "actionType", ALL_ACTIONS, "an actionType of §5.1")
    if not out.actionType then return nil, err end
    if not (ACTIONS[task] and ACTIONS[task][out.actionType]) then
      return fail("actionType", "task_type", ACTIONS[task] and ("must be " .. ACTIONS_TEXT[task] ..
        " for taskType " .. task) or ("is not used by taskType " .. task))
    end
  elseif task <= 3 then
    return fail("actionType", "required", "is required for taskType " .. task .. " (" .. ACTIONS_TEXT[task] .. ")")
  end
  out.taskInfo, err = check_task_info(rawget(v, "taskInfo"), task, out.actionType)
  if not out.taskInfo then return nil, err end
  if rawget(v, "dstContainerId") ~= nil then
    out.dstContainerId, err = vf.container_id(rawget(v, "dstContainerId"), "dstContainerId")
    if not out.dstContainerId then return nil, err end
  elseif SAME_SPACE[task] then
    out.dstContainerId = out.taskInfo.srcContainerId
  else
    return fail("dstContainerId", "required", "is required for taskType " .. task)
  end
  if rawget(v, "password") ~= nil then
    -- The archive password: checked, never quoted in a message.
    out.password, err = vf.utf8_text(rawget(v, "password"), "password", 256)
    if not out.password then return nil, err end
  end
  return out
end

local STATUSES = { [0] = true, [1] = true, [2] = true, [3] = true }

local function list_query(v, field)
  if v == nil then return {} end
  if type(v) ~= "table" then return fail(field, "type", "must be a table { type, status }") end
  local ok, err = validate.known_keys(v, field, { type = true, status = true })
  if not ok then return nil, err end
  local out = {}
  if rawget(v, "type") ~= nil then
    out.type, err = vf.enum_int(rawget(v, "type"), "type", TASK_TYPES, TASK_TYPES_TEXT)
    if not out.type then return nil, err end
  end
  if rawget(v, "status") ~= nil then
    out.status, err = vf.enum_int(rawget(v, "status"), "status", STATUSES,
      "0 (pending), 1 (processing), 2 (done), 3 (cancelled)")
    if not out.status then return nil, err end
  end
  return out
end

return {
  {
    name = "jobs.create",
    method = "POST", path = "/koodrive/ose/v1/jobs",
    args = { { name = "req", check = check_job_request } },
    options = { share_folder_id = vf.share_folder_id },
    headers = function(_, opts)
      if opts and opts.share_folder_id then return { ["x-hw-share-folder-id"] = opts.share_folder_id } end
      return {}
    end,
    body = function(a) return json.encode(a.req) end,
    idempotent = false,
    result = shape.job_created,
  },
  {
    name = "jobs.get",
    -- The job id is the whole path under v1 (§5.2): validate.files.job_id keeps it from
    -- naming another route.
    method = "GET", path = "/koodrive/ose/v1/{jobId}",
    args = { { name = "jobId", check = vf.job_id } },
    code_optional = true,
    result = shape.job_detail,
  },
  {
    name = "jobs.list",
    method = "GET", path = "/koodrive/ose/v1/jobs",
    args = { { name = "query", check = list_query } },
    query = function(a, opts)
      opts = opts or {}
      local q = {}
      if a.query.type then q[#q + 1] = { "type", a.query.type } end
      if a.query.status then q[#q + 1] = { "status", a.query.status } end
      -- §5.3 Decision: the first page is offset=0; offset and limit are always sent.
      q[#q + 1] = { "offset", opts.cursor or 0 }
      q[#q + 1] = { "limit", opts.page_size or shape.LIST_LIMIT }
      return q
    end,
    paging = "offset", page_max = 100,
    code_optional = true,
    result = shape.job_page,
  },
  {
    name = "jobs.cancel",
    method = "POST", path = "/koodrive/ose/v1/cancel",
    args = { { name = "jobId", check = vf.job_id } },
    body = function(a) return json.encode({ jobId = a.jobId }) end,
    code_optional = true, -- §5.4: newer pages answer {data} without code
    result = shape.job_cancelled,
  },
}
