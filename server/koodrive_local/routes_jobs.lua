-- koodrive_local.routes_jobs: asynchronous jobs (koodrive-files-api.md §5).
--
-- A job is pending (0) for st.job_timing.pending_ms, then processing (1) for
-- processing_ms, then done (2) - in real time, read from the clock whenever a
-- request comes (tick runs before every KooDrive route), so no timer is
-- needed. Its work is applied at the first tick after it is due, in creation
-- order; a job cancelled before that (status 3) changes nothing.
-- POST /_local/jobs?pending_ms=&processing_ms= sets the durations of later jobs.
--
-- Per item, taskInfos[i] gets code 0 or the error code (13000309 unknown
-- file, 13000303 not in the bin, 13000304 bad target folder, 13000306 already
-- in the bin, 13000307 folder into itself, 13000312 already in the target);
-- jobInfo.taskResultCode is 1 all succeeded, 2 partly failed, 3 all failed.

local jsonio = require "koodrive_local.jsonio"
local kdutil = require "koodrive_local.kdutil"
local reply = require "koodrive_local.reply"
local state = require "koodrive_local.state"
local tree = require "koodrive_local.tree"

local array, object = jsonio.array, jsonio.object
local kd, kd_param_error = reply.kd, reply.kd_param_error
local opt = kdutil.opt

local M = {}

local ACTIONS = { [1] = { [101] = true }, [2] = { [201] = true, [202] = true }, [3] = { [301] = true } }
local NAMES = { [1] = "copy", [2] = "delete", [3] = "move", [4] = "restore", [7] = "clearRecycle" }

local function status_of(job)
  if job.final then return job.final end
  local ms = (state.now() - job.created) * 1000
  if ms < job.pending_ms then return 0 end
  if ms < job.pending_ms + job.processing_ms then return 1 end
  return 2
end

-- The target folder of a copy or move: newFilePath as a folder id, "root",
-- or a fileIdPath ("/.../<folder id>"); nil when absent (the root).
local function target(st, space, new_path)
  if new_path == nil or new_path == "" then return tree.resolve(st, space, "root") end
  local id = new_path:match("([^/]+)/*$")
  local node = id and tree.resolve(st, space, id)
  if node and tree.is_folder(node) and not tree.in_bin(st, node) then return node end
  return nil
end

local function apply_item(st, job, item, src, dst)
  local node = tree.resolve(st, src, item.fileId)
  if not node or not node.parent then return 13000309 end
  local t, a = job.taskType, job.actionType
  if t == 1 or t == 3 then
    if tree.in_bin(st, node) then return 13000306 end
    local folder = target(st, dst, job.newFilePath)
    if not folder then return 13000304 end
    if tree.below(st, folder, node) then return 13000307 end
    if t == 1 then
      item.newFileId = tree.copy(st, node, folder).id
    else
      if node.parent == folder.id then return 13000312 end
      tree.move(st, node, folder)
    end
  elseif t == 2 and a == 201 then
    if tree.in_bin(st, node) then return 13000306 end
    tree.recycle(st, node, item.filePath)
  elseif t == 2 then
    tree.destroy(st, node)
  elseif t == 4 then
    if not node.recycled then return 13000303 end
    tree.restore(st, node)
  end
  return 0
end

local function apply(st, job)
  job.final, job.endTime = 2, tostring(kdutil.now_ms())
  local src, dst = st.spaces[job.srcContainerId], st.spaces[job.dstContainerId]
  if job.taskType == 7 then
    for _, n in ipairs(tree.bin(st, src)) do
      job.items[#job.items + 1] = { fileId = n.id, code = 0 }
      tree.destroy(st, n)
    end
  else
    for _, item in ipairs(job.items) do item.code = apply_item(st, job, item, src, dst) end
  end
  local failed = 0
  for _, item in ipairs(job.items) do if item.code ~= 0 then failed = failed + 1 end end
  job.taskResultCode = failed == 0 and 1 or (failed == #job.items and 3 or 2)
end

--- Applies every job whose time has come, oldest first.
function M.tick(st)
  for _, id in ipairs(st.job_order) do
    local job = st.jobs[id]
    if not job.final and status_of(job) == 2 then apply(st, job) end
  end
end

--- A new job: spec { taskType, actionType, srcContainerId, dstContainerId,
-- newFilePath, items = { {fileId, filePath} } }; returns its id.
function M.start(st, user, spec)
  local id = kdutil.new_id(st, "", 19, true)
  local job = { taskId = id, userId = user, taskType = spec.taskType, actionType = spec.actionType,
    srcContainerId = spec.srcContainerId, dstContainerId = spec.dstContainerId,
    newFilePath = spec.newFilePath, items = spec.items, created = state.now(),
    createTime = tostring(kdutil.now_ms()), pending_ms = st.job_timing.pending_ms,
    processing_ms = st.job_timing.processing_ms }
  st.jobs[id] = job
  st.job_order[#st.job_order + 1] = id
  M.tick(st)
  return id
end

local function job_info(job)
  local status = status_of(job)
  return object("taskId", job.taskId, "taskName", NAMES[job.taskType], "userId", job.userId,
    "taskType", job.taskType, "actionType", job.actionType, "status", status,
    "taskResultCode", job.taskResultCode, "resultCode", status == 2 and 0 or nil,
    "progress", status >= 2 and 100 or (status == 1 and 50 or 0), "contentNum", #job.items,
    "containerId", job.dstContainerId, "tenantId", "local-tenant",
    "beginTime", status >= 1 and tostring(math.floor((job.created * 1000) + job.pending_ms)) or nil,
    "endTime", job.endTime, "createTime", job.createTime)
end

local function fail(code, msg) return kd(400, code, msg) end

-- POST jobs {taskType, actionType?, taskInfo{fileInfo, srcContainerId, newFilePath?}, dstContainerId}
-- -> {code,msg,data:"<job id>"}
local function create(svc, ctx, req)
  local b = kdutil.body(req)
  if not b then return kd_param_error() end
  local t, a = kdutil.int(b.taskType), kdutil.int(opt(b.actionType))
  if not t or not NAMES[t] then return kd_param_error() end
  if opt(b.actionType) ~= nil and not a then return kd_param_error() end
  if ACTIONS[t] and not ACTIONS[t][a] then return kd_param_error() end
  if (t == 4 and a ~= nil) or (t == 7 and a ~= nil and a ~= 701) then return kd_param_error() end
  local info = opt(b.taskInfo)
  if type(info) ~= "table" or not kdutil.str(info.srcContainerId, 64) or not kdutil.str(b.dstContainerId, 64) then
    return kd_param_error()
  end
  local new_path = opt(info.newFilePath)
  if new_path ~= nil and type(new_path) ~= "string" then return kd_param_error() end
  local items, list = {}, opt(info.fileInfo)
  if t ~= 7 or list ~= nil then
    if type(list) ~= "table" or not jsonio.is_array(list) or #list == 0 or #list > 1000 then
      return kd_param_error()
    end
    for i, f in ipairs(list) do
      if type(f) ~= "table" or not kdutil.str(f.fileId, 64) then return kd_param_error() end
      local fp = opt(f.filePath)
      if (fp ~= nil and type(fp) ~= "string") or (a == 201 and not kdutil.str(fp, 4096)) then
        return kd_param_error()
      end
      items[i] = { fileId = f.fileId, filePath = fp }
    end
  end
  local st = svc.state
  for _, cid in ipairs { info.srcContainerId, b.dstContainerId } do
    local space, code = tree.usable_space(st, ctx.user, cid)
    if not space then return fail(code, "The space cannot be used.") end
  end
  local id = M.start(st, ctx.user, { taskType = t, actionType = a or (t == 7 and 701 or nil),
    srcContainerId = info.srcContainerId, dstContainerId = b.dstContainerId, newFilePath = new_path,
    items = t == 7 and {} or items })
  return kd(200, 0, "success", "data", id)
end

local function mine(svc, ctx, id)
  local job = svc.state.jobs[id]
  if job and job.userId == ctx.user then return job end
  return nil
end

-- GET /koodrive/ose/v1/{jobId} -> {code,msg,data:{jobInfo,taskInfos,uncompressedFileList}}
local function get(svc, ctx, _, id)
  local job = mine(svc, ctx, id)
  if not job then return fail(13000309, "Resource does not exist.") end
  local infos = array()
  for _, item in ipairs(job.items) do
    infos[#infos + 1] = object("fileId", item.fileId, "filePath", item.filePath, "newFileId", item.newFileId,
      "code", item.code, "msg", item.code and (item.code == 0 and "success" or "failed") or nil)
  end
  return kd(200, 0, "success", "data", object("jobInfo", job_info(job), "taskInfos", infos,
    "uncompressedFileList", array()))
end

-- GET jobs?offset=&limit=[&type=&status=] (offset, limit required) -> {code,msg,data:[JobInfo]}, no total
local function list(svc, ctx, req)
  local q = kdutil.query(req)
  local offset, limit = kdutil.int(q.offset, 0), kdutil.int(q.limit, 1, 100)
  local t = q.type and kdutil.int(q.type, 1, 7)
  local s = q.status and kdutil.int(q.status, 0, 3)
  if not offset or not limit or (q.type and not t) or (q.status and not s) then return kd_param_error() end
  local st, all = svc.state, {}
  for _, id in ipairs(st.job_order) do
    local job = st.jobs[id]
    if job.userId == ctx.user and (not t or job.taskType == t) and (not s or status_of(job) == s) then
      all[#all + 1] = job_info(job)
    end
  end
  local out = array()
  for i = offset + 1, math.min(offset + limit, #all) do out[#out + 1] = all[i] end
  return kd(200, 0, "success", "data", out)
end

-- POST cancel {jobId} -> {code:0,msg:"OK",data:"<job id>"}: the recorded 2024
-- shape and the newer pages' {data} in one.
local function cancel(svc, ctx, req)
  local b = kdutil.body(req)
  local id = b and b.jobId
  if type(id) == "number" then id = kdutil.int(id) and string.format("%d", id) end
  if not kdutil.str(id, 64) then return kd_param_error() end
  local job = mine(svc, ctx, id)
  if not job then return fail(13000309, "Resource does not exist.") end
  if status_of(job) > 1 then return fail(13000102, "The job has already finished.") end
  job.final, job.endTime = 3, tostring(kdutil.now_ms())
  return kd(200, 0, "OK", "data", id)
end

local V1 = "^/koodrive/ose/v1/"

M.routes = {
  { "POST", V1 .. "jobs$", create },
  { "GET", V1 .. "jobs$", list },
  { "POST", V1 .. "cancel$", cancel },
  { "GET", V1 .. "(%d+)$", get },
}

return M
