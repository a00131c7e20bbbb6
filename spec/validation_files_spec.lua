-- Every input rule of the spaces, files, jobs and favorites operations is checked before
-- anything is sent, and the error names the field and the rule (never the value).
local koodrive = require "koodrive"
local fixtures = require "support.fixtures"
local vf = require "koodrive.validate.files"

local C = "IAADfsBFCO6WtAtuA315074383680425b8aa9a130cba2d4"
local SECRET = "s3cr3t-never-in-a-message"

local unpack = table.unpack or unpack -- luacheck: ignore 143

local function client()
  local t = fixtures.never()
  return assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID,
    token = "spec-token-value", transport = t }), t
end

local function list_req(extra)
  local r = { containerId = C, parentFileId = "root" }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

local function job(extra, info)
  local r = { taskType = 2, actionType = 202, taskInfo = { srcContainerId = C, fileInfo = { { fileId = "F1" } } } }
  for k, v in pairs(info or {}) do r.taskInfo[k] = v end
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

local function ids(n, prefix)
  local out = {}
  for i = 1, n do out[i] = { fileId = (prefix or "F") .. i, containerId = C } end
  return out
end

local function file_infos(n)
  local out = {}
  for i = 1, n do out[i] = { fileId = "F" .. i } end
  return out
end

local long = string.rep("名", 251)

local cases = {
  -- spaces
  { "spaces.get", { "a/b", { type = 1 } }, "ownerId", "path_segment" },
  { "spaces.get", { "usage", { type = 1 } }, "ownerId", "path_segment" },
  { "spaces.get", { "", { type = 1 } }, "ownerId", "length" },
  { "spaces.get", { "u1", {} }, "type", "required" },
  { "spaces.get", { "u1" }, "query", "type" },
  { "spaces.get", { "u1", { type = 3 } }, "type", "enum" },
  { "spaces.get", { "u1", { type = 1, containerId = string.rep("c", 65) } }, "containerId", "length" },
  { "spaces.get", { "u1", { type = 1, other = 1 } }, "query.other", "unknown_option" },
  { "spaces.list", { "u1", { type = 1, containerId = C } }, "query.containerId", "unknown_option" },
  { "spaces.list", { "u1", { type = "x" } }, "type", "enum" },
  -- listings
  { "files.list", { "nope" }, "req", "type" },
  { "files.list", { { parentFileId = "root" } }, "containerId", "required" },
  { "files.list", { { containerId = C } }, "parentFileId", "required" },
  { "files.list", { list_req { pageInfo = { pageSize = 10 } } }, "req.pageInfo", "paging" },
  { "files.list", { list_req { pagesize = 10 } }, "req.pagesize", "unknown_option" },
  { "files.list", { list_req { containerId = string.rep("c", 65) } }, "containerId", "length" },
  { "files.list", { list_req { parentFileId = string.rep("p", 65) } }, "parentFileId", "length" },
  { "files.list", { list_req { parentFileId = "a\nb" } }, "parentFileId", "control" },
  { "files.list", { list_req { containerId = "has space" } }, "containerId", "id" },
  { "files.list", { list_req { sortInfo = { sortType = 7 } } }, "sortInfo.sortType", "enum" },
  { "files.list", { list_req { sortInfo = { sortType = 0 } } }, "sortInfo.sortType", "enum" },
  { "files.list", { list_req { sortInfo = { sortDirection = 3 } } }, "sortInfo.sortDirection", "enum" },
  { "files.list", { list_req { sortInfo = { order = 1 } } }, "sortInfo.order", "unknown_option" },
  { "files.list", { list_req { sortInfo = 1 } }, "sortInfo", "type" },
  { "files.list", { list_req { fileType = "12" } }, "fileType", "enum" },
  { "files.list", { list_req { fileType = "" } }, "fileType", "enum" },
  { "files.list", { list_req { hidden = "yes" } }, "hidden", "type" },
  { "files.list", { list_req { fileName = long } }, "fileName", "length" },
  { "files.list", { list_req { fileName = "\255" } }, "fileName", "utf8" },
  { "files.list", { list_req { imageProcess = "image/\r\n" } }, "imageProcess", "control" },
  { "files.list", { list_req(), { page_size = 101 } }, "page_size", "range" },
  { "files.list", { list_req(), { page_size = 0 } }, "page_size", "range" },
  { "files.list", { list_req(), { cursor = 5 } }, "cursor", "type" },
  { "files.list", { list_req(), { team_type = 0 } }, "options.team_type", "unknown_option" },
  { "files.list_team", { "G/1", list_req() }, "groupId", "path_segment" },
  { "files.list_team", { "rename", list_req() }, "groupId", "path_segment" },
  { "files.list_team", { "G1", list_req(), { team_type = 1 } }, "team_type", "enum" },
  { "files.list_team_recycled", { "G1", list_req(), { team_type = "2x" } }, "team_type", "enum" },
  -- detail
  { "files.get", { "F1", {} }, "containerId", "required" },
  { "files.get", { "F1", { containerId = C, fileName = "x" } }, "req.fileName", "unknown_option" },
  { "files.get", { "F1/..", { containerId = C } }, "fileId", "path_segment" },
  { "files.get", { "Detail", { containerId = C } }, "fileId", "path_segment" },
  { "files.get", { "F%2F", { containerId = C } }, "fileId", "path_segment" },
  { "files.get", { "F1", { containerId = C }, { share_folder_id = "a\r\nX-Evil: 1" } }, "share_folder_id", "control" },
  { "files.get", { "F1", { containerId = C }, { share_folder_id = "" } }, "share_folder_id", "length" },
  -- mkdir
  { "files.mkdir", { { containerId = C } }, "fileName", "required" },
  { "files.mkdir", { { fileName = "d" } }, "containerId", "required" },
  { "files.mkdir", { { fileName = "a<b", containerId = C } }, "fileName", "name" },
  { "files.mkdir", { { fileName = "a|b", containerId = C } }, "fileName", "name" },
  { "files.mkdir", { { fileName = 'a"b', containerId = C } }, "fileName", "name" },
  { "files.mkdir", { { fileName = "a\\b", containerId = C } }, "fileName", "name" },
  { "files.mkdir", { { fileName = "a/b", containerId = C } }, "fileName", "name" },
  { "files.mkdir", { { fileName = "a*?", containerId = C } }, "fileName", "name" },
  { "files.mkdir", { { fileName = "a:b", containerId = C } }, "fileName", "name" },
  { "files.mkdir", { { fileName = "a>b", containerId = C } }, "fileName", "name" },
  { "files.mkdir", { { fileName = ".", containerId = C } }, "fileName", "name" },
  { "files.mkdir", { { fileName = "..", containerId = C } }, "fileName", "name" },
  { "files.mkdir", { { fileName = "", containerId = C } }, "fileName", "length" },
  { "files.mkdir", { { fileName = long, containerId = C } }, "fileName", "length" },
  { "files.mkdir", { { fileName = "a\tb", containerId = C } }, "fileName", "control" },
  { "files.mkdir", { { fileName = 5, containerId = C } }, "fileName", "type" },
  { "files.mkdir", { { fileName = "d", containerId = C, fileType = "15" } }, "fileType", "enum" },
  { "files.mkdir", { { fileName = "d", containerId = C, renameMode = 1 } }, "renameMode", "enum" },
  { "files.mkdir", { { fileName = "d", containerId = C, parentFolder = { "P1", "P2" } } }, "parentFolder", "length" },
  { "files.mkdir", { { fileName = "d", containerId = C, parentFolder = {} } }, "parentFolder", "length" },
  { "files.mkdir", { { fileName = "d", containerId = C, description = string.rep("d", 513) } }, "description", "length" },
  { "files.mkdir", { { fileName = "d", containerId = C, description = "ok \240\159\152\128" } }, "description", "emoji" },
  { "files.mkdir", { { fileName = "d", containerId = C, description = "sun \226\152\128" } }, "description", "emoji" },
  { "files.mkdir", { { fileName = "d", containerId = C, createdTime = "2025-12-17 06:19:01" } }, "createdTime", "pattern" },
  { "files.mkdir", { { fileName = "d", containerId = C, container = C } }, "req.container", "unknown_option" },
  -- rename
  { "files.rename", { "F1", { containerId = C } }, "name", "required" },
  { "files.rename", { "F1", { name = "n" } }, "containerId", "required" },
  { "files.rename", { "F1", { containerId = C, name = "x?" } }, "name", "name" },
  { "files.rename", { "F1", { containerId = C, name = long } }, "name", "length" },
  { "files.rename", { "F1", { containerId = C, name = "n", renameMode = "3x" } }, "renameMode", "enum" },
  { "files.rename", { "F1", { containerId = C, name = "n", fileName = "n" } }, "req.fileName", "unknown_option" },
  { "files.rename", { "..", { containerId = C, name = "n" } }, "fileId", "path_segment" },
  -- path, stats
  { "files.path", { "F1" }, "containerId", "type" },
  { "files.path", { "F 1", C }, "fileId", "id" },
  { "files.path", { {}, C }, "fileId", "type" },
  { "files.stats", { "F1", C, { recursive = "true" } }, "recursive", "type" },
  { "files.stats", { "F1", C, { type = 3 } }, "type", "enum" },
  { "files.stats", { "F1", C, { categorys = { "15", "99" } } }, "categorys[2]", "enum" },
  { "files.stats", { "F1", C, { extensions = ".jpg" } }, "extensions[1]", "pattern" },
  { "files.stats", { "F1", C, { extensions = ("a,"):rep(100) .. "a" } }, "extensions", "length" },
  { "files.stats", { "F1", C, { depth = 1 } }, "query.depth", "unknown_option" },
  -- search
  { "files.search", { {} }, "searchType", "required" },
  { "files.search", { { searchType = "all" } }, "searchType", "enum" },
  { "files.search", { { searchType = "team", pageInfo = {} } }, "req.pageInfo", "paging" },
  { "files.search", { { searchType = "team", filter = { keyWord = "" } } }, "filter.keyWord", "length" },
  { "files.search", { { searchType = "team", filter = "kw" } }, "filter", "type" },
  { "files.search", { { searchType = "team", filter = { size = 0 / 0 } } }, "filter.size", "json" },
  { "files.search", { { searchType = "team", recycled = 1 } }, "recycled", "type" },
  { "files.search", { { searchType = "team", sortInfo = { sortType = 9 } } }, "sortInfo.sortType", "enum" },
  { "files.search", { { searchType = "team" }, { page_size = 1000 } }, "page_size", "range" },
  { "files.recycle_clear", { nil }, "containerId", "type" },
  -- jobs
  { "jobs.create", { job { taskType = 8 } }, "taskType", "enum" },
  { "jobs.create", { job { taskType = false } }, "taskType", "enum" },
  { "jobs.create", { { taskInfo = {} } }, "taskType", "required" },
  { "jobs.create", { job { actionType = 101 } }, "actionType", "task_type" },
  { "jobs.create", { job { actionType = 999 } }, "actionType", "enum" },
  { "jobs.create", { { taskType = 1, taskInfo = { srcContainerId = C, fileInfo = { { fileId = "F1" } } },
    dstContainerId = C } }, "actionType", "required" },
  { "jobs.create", { { taskType = 3, taskInfo = { srcContainerId = C, fileInfo = { { fileId = "F1" } } },
    dstContainerId = C } }, "actionType", "required" },
  { "jobs.create", { job { taskType = 4, actionType = 401 } }, "actionType", "enum" },
  { "jobs.create", { job { taskType = 6, actionType = 501 } }, "actionType", "task_type" },
  { "jobs.create", { job { actionType = 201 } }, "taskInfo.fileInfo[1].filePath", "required" },
  { "jobs.create", { job({}, { fileInfo = file_infos(101) }) }, "taskInfo.fileInfo", "length" },
  { "jobs.create", { job({}, { fileInfo = {} }) }, "taskInfo.fileInfo", "length" },
  { "jobs.create", { job({}, { fileInfo = { { fileId = "F1" }, { fileId = "F1" } } }) }, "taskInfo.fileInfo[2].fileId",
    "duplicate" },
  { "jobs.create", { job({}, { fileInfo = { { filePath = "/a" } } }) }, "taskInfo.fileInfo[1].fileId", "required" },
  { "jobs.create", { job({}, { fileInfo = { { fileId = "F1", name = "x" } } }) }, "taskInfo.fileInfo[1].name",
    "unknown_option" },
  { "jobs.create", { job({}, { fileInfo = { "F1" } }) }, "taskInfo.fileInfo[1]", "type" },
  { "jobs.create", { job({}, { fileInfo = { { fileId = "F1", filePath = "/a\0b" } } }) },
    "taskInfo.fileInfo[1].filePath", "control" },
  { "jobs.create", { { taskType = 2, actionType = 202, taskInfo = { fileInfo = { { fileId = "F1" } } } } },
    "taskInfo.srcContainerId", "required" },
  { "jobs.create", { { taskType = 2, actionType = 202, taskInfo = { srcContainerId = C } } },
    "taskInfo.fileInfo", "required" },
  { "jobs.create", { { taskType = 1, actionType = 101, taskInfo = { srcContainerId = C,
    fileInfo = { { fileId = "F1" } } } } }, "dstContainerId", "required" },
  { "jobs.create", { { taskType = 7, actionType = 701, taskInfo = { srcContainerId = C, newFilePath = "/x" } } },
    "taskInfo.newFilePath", "task_type" },
  { "jobs.create", { job({}, { uncompressFilePaths = { "a" } }) }, "taskInfo.uncompressFilePaths", "task_type" },
  { "jobs.create", { job({}, { other = 1 }) }, "taskInfo.other", "unknown_option" },
  { "jobs.create", { job { taskName = "x" } }, "req.taskName", "unknown_option" },
  { "jobs.create", { job { dstContainerId = string.rep("d", 65) } }, "dstContainerId", "length" },
  { "jobs.create", { job { password = "p\n" .. SECRET } }, "password", "control" },
  { "jobs.create", { job(), { share_folder_id = {} } }, "share_folder_id", "type" },
  { "jobs.get", { "jobs" }, "jobId", "job_id" },
  { "jobs.get", { "cancel" }, "jobId", "job_id" },
  { "jobs.get", { "12/34" }, "jobId", "job_id" },
  { "jobs.get", { "12-34" }, "jobId", "job_id" },
  { "jobs.get", { "space" }, "jobId", "job_id" },
  { "jobs.get", { "" }, "jobId", "length" },
  { "jobs.get", { string.rep("1", 65) }, "jobId", "length" },
  { "jobs.list", { { type = 0 } }, "type", "enum" },
  { "jobs.list", { { status = 4 } }, "status", "enum" },
  { "jobs.list", { { offset = 0 } }, "query.offset", "unknown_option" },
  { "jobs.list", { nil, { cursor = -1 } }, "cursor", "range" },
  { "jobs.list", { nil, { cursor = "10" } }, "cursor", "type" },
  { "jobs.list", { nil, { page_size = 101 } }, "page_size", "range" },
  { "jobs.cancel", { "1 2" }, "jobId", "job_id" },
  -- favorites
  { "favorites.set", { ids(1) }, "starred", "required" },
  { "favorites.set", { ids(1), "yes" }, "starred", "type" },
  { "favorites.set", { ids(101), true }, "entries", "length" },
  { "favorites.set", { {}, true }, "entries", "length" },
  { "favorites.set", { { { fileId = "F1" } }, true }, "entries[1].containerId", "required" },
  { "favorites.set", { { { containerId = C } }, true }, "entries[1].fileId", "required" },
  { "favorites.set", { { { containerId = C, fileId = "F1" }, { containerId = "C2", fileId = "F1" } }, true },
    "entries[2].fileId", "duplicate" },
  { "favorites.set", { { { containerId = C, fileId = "F1", starred = true } }, true }, "entries[1].starred",
    "unknown_option" },
  { "favorites.set", { { { containerId = C, fileId = "F\0" } }, true }, "entries[1].fileId", "control" },
  { "favorites.list", { { sortType = 2 } }, "sortType", "enum" },
  { "favorites.list", { { sortDirection = 0 } }, "sortDirection", "enum" },
  { "favorites.list", { { fileType = "16" } }, "fileType", "enum" },
  { "favorites.list", { { pageSize = 10 } }, "query.pageSize", "paging" },
  { "favorites.list", { { pageCursor = "x" } }, "query.pageCursor", "paging" },
  { "favorites.list", { nil, { page_size = 200 } }, "page_size", "range" },
}

describe("validation of the files family", function()
  for i, case in ipairs(cases) do
    local name, args, field, rule = unpack(case)
    it(("%s #%d: %s (%s)"):format(name, i, field, rule), function()
      local c, t = client()
      local service, method = name:match("^(%w+)%.([%w_]+)$")
      local n = 0
      for k in pairs(args) do if k > n then n = k end end
      local result, err = c[service][method](c[service], unpack(args, 1, math.max(n, 1)))
      assert.is_nil(result)
      assert.are.equal("validation", err.kind)
      assert.are.equal(name, err.operation)
      assert.are.equal(field, err.field)
      assert.are.equal(rule, err.rule)
      assert.not_matches(SECRET, tostring(err), 1, true)
      assert.are.equal(0, #t.requests)
      -- prepare_operation and check_operation refuse the same way
      local _, perr = c:check_operation(name, unpack(args, 1, math.max(n, 1)))
      assert.are.equal(rule, perr.rule)
    end)
  end

  it("refuses more arguments than the operation takes", function()
    local c = client()
    local _, err = c.files:path("F1", C, {}, {})
    assert.are.equal("arity", err.rule)
  end)
end)

describe("accepted edge values", function()
  it("takes a 250-character name counted in code points, and aliases", function()
    local c = client()
    assert.truthy(c:check_operation("files.mkdir", { fileName = string.rep("名", 250), containerId = C }))
    assert.truthy(c:check_operation("files.rename", "F1", { name = "a.b c", containerId = C }))
    assert.truthy(c:check_operation("files.list", { containerId = string.rep("c", 64), parentFileId = "sbox" }))
    assert.truthy(c:check_operation("jobs.get", "A1b2C3"))
    assert.truthy(c:check_operation("jobs.get", 1289250105886769))
    assert.truthy(c:check_operation("favorites.set", ids(100), false))
    assert.truthy(c:check_operation("jobs.create", job({}, { fileInfo = file_infos(100) })))
    assert.truthy(c:check_operation("files.stats", "F1", C, { extensions = ("a,"):rep(99) .. "a" }))
  end)

  it("counts code points", function()
    assert.are.equal(3, vf.code_points("a名b"))
    assert.are.equal(1, vf.code_points("\240\159\152\128"))
  end)

  it("never raises on hostile Lua values", function()
    local c = client()
    local weird = { setmetatable({}, { __index = function() error("touched") end }), function() end, 0 / 0,
      math.huge, true, coroutine.create(function() end) }
    for _, w in ipairs(weird) do
      for _, call in ipairs {
        function() return c.files:list(w) end,
        function() return c.files:list { containerId = w, parentFileId = "root" } end,
        function() return c.files:mkdir { containerId = C, fileName = w } end,
        function() return c.jobs:create { taskType = 2, actionType = 202, taskInfo = w } end,
        function() return c.jobs:get(w) end,
        function() return c.favorites:set({ w }, true) end,
        function() return c.files:stats("F1", C, { extensions = w }) end,
        function() return c.spaces:get(w, { type = 1 }) end,
      } do
        local ok, result, err = pcall(call)
        assert.is_true(ok)
        assert.is_nil(result)
        assert.are.equal("validation", err.kind)
      end
    end
  end)
end)
