-- The spaces, files, jobs and favorites operations: the request each one sends (method, path,
-- query, headers, body), the results they shape, the answers they refuse, and their paging.
local koodrive = require "koodrive"
local json = require "koodrive.json"
local fixtures = require "support.fixtures"

local C = "IAADfsBFCO6WtAtuA315074383680425b8aa9a130cba2d4"
local USER = "1505084218764547200"
local JOB = "1289250105886769024"

local function prep_client()
  return assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = USER, token = "spec-token-value",
    transport = fixtures.never() })
end

-- A client whose transport answers each request with the next of `answers` ({status, body});
-- a body table is sent as JSON.
local function answering(answers)
  local t = { requests = {}, n = 0 }
  function t.send(self, req)
    self.requests[#self.requests + 1] = req
    self.n = self.n + 1
    local a = answers[self.n] or answers[#answers]
    local body = type(a.body) == "table" and assert(json.encode(a.body)) or a.body
    return { status = a.status or 200, headers = { ["content-type"] = "application/json" }, body = body }
  end
  local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = USER, token = "spec-token-value",
    transport = t, retries = false })
  return client, t
end

-- An empty JSON array (a Lua {} is written as an object).
local EMPTY = json.array {}

local function answer(body, status) return answering { { body = body, status = status } } end

local function split_url(url)
  local path, query = url:match("^https://[^/]+([^?]*)%??(.*)$")
  return path, query
end

local unpack = table.unpack or unpack -- luacheck: ignore 143

describe("the request of each operation", function()
  local cases = {
    { "spaces.get", { USER, { type = 1, containerId = C } }, "GET", "/koodrive/ose/v1/space/" .. USER,
      "containerId=" .. C .. "&type=1" },
    { "spaces.list", { USER }, "GET", "/koodrive/ose/v2/space/" .. USER, "" },
    { "spaces.list", { USER, { type = 2 } }, "GET", "/koodrive/ose/v2/space/" .. USER, "type=2" },
    { "files.list", { { containerId = C, parentFileId = "root" } }, "POST", "/koodrive/ose/v1/files/0", "",
      { containerId = C, parentFileId = "root" } },
    { "files.list", { { containerId = C, parentFileId = "sbox", sortInfo = { sortType = "4", sortDirection = 2 },
      fileType = 15, fileName = "年报", imageProcess = "image/resize,m_lfit,h_128,w_128", hidden = false },
      { page_size = 50, cursor = "CUR1" } }, "POST", "/koodrive/ose/v1/files/0", "",
      { containerId = C, parentFileId = "sbox", sortInfo = { sortType = 4, sortDirection = 2 }, fileType = "15",
        fileName = "年报", imageProcess = "image/resize,m_lfit,h_128,w_128", hidden = false,
        pageInfo = { pageSize = 50, pageCursor = "CUR1" } } },
    { "files.list_recycled", { { containerId = C, parentFileId = "root" }, { page_size = 7 } }, "POST",
      "/koodrive/ose/v1/files/1", "", { containerId = C, parentFileId = "root", pageInfo = { pageSize = 7 } } },
    { "files.list_team", { "G100", { containerId = C, parentFileId = "root" } }, "POST",
      "/koodrive/ose/v1/files/G100/0", "team_type=0", { containerId = C, parentFileId = "root" } },
    { "files.list_team", { "G100", { containerId = C, parentFileId = "root" }, { team_type = 2 } }, "POST",
      "/koodrive/ose/v1/files/G100/0", "team_type=2", { containerId = C, parentFileId = "root" } },
    { "files.list_team_recycled", { "G100", { containerId = C, parentFileId = "root" }, { team_type = 2 } },
      "POST", "/koodrive/ose/v1/files/G100/1", "team_type=2", { containerId = C, parentFileId = "root" } },
    { "files.get", { "F1", { containerId = C, imageProcess = "image/resize,w_64" } }, "POST",
      "/koodrive/ose/v1/files/F1/detail", "", { containerId = C, imageProcess = "image/resize,w_64" } },
    { "files.mkdir", { { fileName = "新建 folder", containerId = C, parentFolder = "F9" } }, "POST",
      "/koodrive/ose/v1/directory", "",
      { fileName = "新建 folder", containerId = C, parentFolder = { "F9" }, fileType = "10", renameMode = 3 } },
    { "files.mkdir", { { fileName = "a", containerId = C, parentFolder = { "root" }, renameMode = 2,
      description = "plain", mimeType = "application/x-folder", createdTime = "2025-12-17T06:19:01.803Z",
      editedTime = "2025-12-17T06:19:01.803Z", fileType = "10" } }, "POST", "/koodrive/ose/v1/directory", "",
      { fileName = "a", containerId = C, parentFolder = { "root" }, renameMode = 2, description = "plain",
        mimeType = "application/x-folder", createdTime = "2025-12-17T06:19:01.803Z",
        editedTime = "2025-12-17T06:19:01.803Z", fileType = "10" } },
    { "files.rename", { "F1", { containerId = C, name = "b.txt" } }, "POST", "/koodrive/ose/v1/files/rename/F1", "",
      { containerId = C, name = "b.txt", renameMode = 3 } },
    { "files.path", { "F1", C }, "GET", "/koodrive/ose/v1/files/path", "containerId=" .. C .. "&fileId=F1" },
    { "files.stats", { "root", C }, "GET", "/koodrive/ose/v1/files/statsDir", "containerId=" .. C .. "&fileId=root" },
    { "files.stats", { "F1", C, { recursive = false, includeDirCount = true, includeFileCount = false,
      includeTotalSize = true, type = 1, extensions = { "JPG", "png" }, categorys = "15,20", hidden = false,
      isRecycled = true } }, "GET", "/koodrive/ose/v1/files/statsDir",
      "categorys=15%2C20&containerId=" .. C .. "&extensions=JPG%2Cpng&fileId=F1&hidden=false&includeDirCount=true" ..
      "&includeFileCount=false&includeTotalSize=true&isRecycled=true&recursive=false&type=1" },
    { "files.search", { { searchType = "team", filter = { keyWord = "report", ownerId = "u1" },
      sortInfo = { sortType = 2 }, recycled = false, recursived = true } }, "POST", "/koodrive/ose/v1/files/search", "",
      { searchType = "team", filter = { keyWord = "report", ownerId = "u1" }, sortInfo = { sortType = 2 },
        recycled = false, recursived = true, pageInfo = { pageSize = 100, pageCursor = json.null } } },
    { "files.search", { { searchType = "personal" }, { page_size = 5, cursor = "N2" } }, "POST",
      "/koodrive/ose/v1/files/search", "", { searchType = "personal", pageInfo = { pageSize = 5, pageCursor = "N2" } } },
    { "files.recycle_clear", { C }, "POST", "/koodrive/ose/v1/files/recycle", "", { containerId = C } },
    { "jobs.create", { { taskType = 1, actionType = 101, taskInfo = { srcContainerId = C,
      fileInfo = { { fileId = "F1" }, { fileId = "F2", filePath = "/root/F2" } }, newFilePath = "/root/dst" },
      dstContainerId = "C2" } }, "POST", "/koodrive/ose/v1/jobs", "",
      { taskType = 1, actionType = 101, taskInfo = { srcContainerId = C, fileInfo = { { fileId = "F1" },
        { fileId = "F2", filePath = "/root/F2" } }, newFilePath = "/root/dst" }, dstContainerId = "C2" } },
    { "jobs.create", { { taskType = 4, taskInfo = { srcContainerId = C, fileInfo = { { fileId = "F1" } } } } },
      "POST", "/koodrive/ose/v1/jobs", "",
      { taskType = 4, taskInfo = { srcContainerId = C, fileInfo = { { fileId = "F1" } } }, dstContainerId = C } },
    { "jobs.create", { { taskType = 7, actionType = 701, taskInfo = { srcContainerId = C } } }, "POST",
      "/koodrive/ose/v1/jobs", "", { taskType = 7, actionType = 701, taskInfo = { srcContainerId = C },
        dstContainerId = C } },
    { "jobs.create", { { taskType = 5, actionType = 503, taskInfo = { srcContainerId = C,
      fileInfo = { { fileId = "Z1" } }, uncompressFilePaths = { "a/b.txt" } }, dstContainerId = C,
      password = "archive-pass" } }, "POST", "/koodrive/ose/v1/jobs", "",
      { taskType = 5, actionType = 503, taskInfo = { srcContainerId = C, fileInfo = { { fileId = "Z1" } },
        uncompressFilePaths = { "a/b.txt" } }, dstContainerId = C, password = "archive-pass" } },
    { "jobs.get", { JOB }, "GET", "/koodrive/ose/v1/" .. JOB, "" },
    { "jobs.list", { nil }, "GET", "/koodrive/ose/v1/jobs", "limit=100&offset=0" },
    { "jobs.list", { { type = 7, status = "1" }, { cursor = 200, page_size = 20 } }, "GET", "/koodrive/ose/v1/jobs",
      "limit=20&offset=200&status=1&type=7" },
    { "jobs.cancel", { JOB }, "POST", "/koodrive/ose/v1/cancel", "", { jobId = JOB } },
    { "favorites.set", { { { containerId = C, fileId = "F1" }, { containerId = "C2", fileId = "F2" } }, false },
      "POST", "/koodrive/ose/v1/star/batch", "",
      { starred = false, subRequestList = { { containerId = C, fileId = "F1" }, { containerId = "C2", fileId = "F2" } } } },
    { "favorites.list", { nil }, "GET", "/koodrive/ose/v1/star/files", "" },
    { "favorites.list", { { sortType = 1, sortDirection = 1, fileType = "20", imageProcess = "image/resize,w_8" },
      { page_size = 30, cursor = "S1" } }, "GET", "/koodrive/ose/v1/star/files",
      "fileType=20&imageProcess=image%2Fresize%2Cw_8&pageCursor=S1&pageSize=30&sortDirection=1&sortType=1" },
  }
  for i, case in ipairs(cases) do
    local name, args, method, path, query, body = unpack(case)
    it(("%s #%d: %s %s"):format(name, i, method, path), function()
      local req, err = prep_client():prepare_operation(name, unpack(args))
      assert.is_nil(err)
      assert.are.equal(method, req.method)
      local p, q = split_url(req.url)
      assert.are.equal(path, p)
      assert.are.equal(query, q)
      assert.are.equal("Bearer spec-token-value", req.headers.Authorization)
      assert.is_nil(req.headers["x-hw-share-folder-id"])
      if body then
        assert.are.equal("application/json", req.headers["Content-Type"])
        assert.are.same(body, json.decode(req.body))
      else
        assert.are.equal("", req.body)
      end
    end)
  end

  it("writes pageSize as a JSON integer and leaves empty optional fields out", function()
    local req = assert(prep_client():prepare_operation("files.list", { containerId = C, parentFileId = "root" },
      { page_size = 10 }))
    assert.matches('"pageSize":10[,}]', req.body)
    assert.not_matches("sortInfo", req.body)
    assert.not_matches("pageCursor", req.body)
  end)

  it("sends renameMode as a JSON integer", function()
    local req = assert(prep_client():prepare_operation("files.rename", "F1", { containerId = C, name = "x" }))
    assert.matches('"renameMode":3[,}]', req.body)
  end)

  local share_cases = {
    { "files.get", "F1", { containerId = C } },
    { "files.mkdir", { fileName = "d", containerId = C } },
    { "files.rename", "F1", { containerId = C, name = "n" } },
    { "files.path", "F1", C },
    { "files.stats", "F1", C, {} },
    { "files.search", { searchType = "personal" } },
    { "jobs.create", { taskType = 2, actionType = 202, taskInfo = { srcContainerId = C, fileInfo = { { fileId = "F1" } } } } },
  }
  for _, case in ipairs(share_cases) do
    it(case[1] .. " sends x-hw-share-folder-id from the share_folder_id option", function()
      local args = { unpack(case, 2) }
      args[#args + 1] = { share_folder_id = "FshareFolder01" }
      local req, err = prep_client():prepare_operation(case[1], unpack(args))
      assert.is_nil(err)
      assert.are.equal("FshareFolder01", req.headers["x-hw-share-folder-id"])
    end)
  end

  it("signs the extra header in app mode", function()
    local c = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = USER, app_id = "spec-app",
      app_secret = "spec-app-secret", transport = fixtures.never() })
    local req = assert(c:prepare_operation("files.get", "F1", { containerId = C }, { share_folder_id = "S9" }))
    assert.are.equal("S9", req.headers["x-hw-share-folder-id"])
    assert.matches("^HMAC%-SHA256 ", req.headers.Authorization)
  end)

  it("refuses share_folder_id where the contract does not list the header", function()
    local _, err = prep_client():prepare_operation("files.list", { containerId = C, parentFileId = "root" },
      { share_folder_id = "S9" })
    assert.are.equal("validation", err.kind)
    assert.are.equal("unknown_option", err.rule)
  end)
end)

describe("results", function()
  it("spaces:get returns the SpaceInfo with ids as strings", function()
    local client = answer { code = 0, msg = "success", data = { type = 1, ownerId = USER, containerId = C,
      bizRootFileId = "Froot", capacity = 1073741824, spaceUsed = "10" } }
    local s, err = client.spaces:get(USER, { type = 1 })
    assert.is_nil(err)
    assert.are.equal("1", s.type)
    assert.are.equal("1073741824", s.capacity)
    assert.are.equal(C, s.containerId)
  end)

  it("spaces:list returns the array, and spaces:mine the individual space", function()
    local body = { code = 0, data = { { type = "2", ownerId = "G77", containerId = "CG" }, { type = "1",
      ownerId = USER, containerId = C, rootFileId = "R1", bizRootFileId = "B1" } } }
    local client, t = answering { { body = body }, { body = { code = 0, data = { body.data[2] } } } }
    local list = assert(client.spaces:list(USER))
    assert.are.equal(2, #list)
    assert.are.equal("G77", list[1].ownerId)
    local mine = assert(client.spaces:mine())
    assert.are.equal(C, mine.containerId)
    assert.are.equal("B1", mine.bizRootFileId)
    assert.matches("/koodrive/ose/v2/space/" .. USER .. "%?type=1$", t.requests[2].url)
  end)

  it("files:get reads the file from data or from the body", function()
    for _, body in ipairs {
      { code = 0, data = { id = "F1", fileName = "a.txt", size = 12, recycled = false, parentFolder = { "P1" } } },
      { code = 0, msg = "ok", id = "F1", fileName = "a.txt", size = "12", recycled = false, parentFolder = { "P1" } },
    } do
      local f, err = answer(body).files:get("F1", { containerId = C })
      assert.is_nil(err)
      assert.are.equal("F1", f.id)
      assert.are.equal(12, f.size)
      assert.is_false(f.recycled)
      assert.is_nil(f.code)
    end
  end)

  it("files:mkdir returns the new folder", function()
    local f = assert(answer({ id = 123456, fileName = "d", fileType = "10" }).files:mkdir { fileName = "d",
      containerId = C })
    assert.are.equal("123456", f.id)
  end)

  it("files:stats takes counts as numbers or digit strings", function()
    local s = assert(answer({ code = 0, data = { totalSize = "90071992547", subDirCount = 3, subFileCount = "0" } })
      .files:stats("F1", C))
    assert.are.same({ totalSize = 90071992547, subDirCount = 3, subFileCount = 0 }, s)
  end)

  it("jobs:create returns the job id as a string", function()
    for _, data in ipairs { JOB, 1289250105886769 } do
      local r = assert(answer({ code = 0, msg = "success", data = data }).jobs:create { taskType = 2,
        actionType = 202, taskInfo = { srcContainerId = C, fileInfo = { { fileId = "F1" } } } })
      assert.are.equal(type(data) == "string" and data or "1289250105886769", r.jobId)
    end
  end)

  it("jobs:get normalises status, taskType and taskResultCode to integers", function()
    local job = assert(answer({ code = 0, data = { jobInfo = { taskId = JOB, status = "2", taskType = 1,
      taskResultCode = "2" }, taskInfos = { { fileId = "F1", code = "13000311" } } } }).jobs:get(JOB))
    assert.are.equal(2, job.jobInfo.status)
    assert.are.equal(2, job.jobInfo.taskResultCode)
    assert.are.equal(1, #job.taskInfos)
  end)

  it("jobs:cancel accepts the newer {data} answer", function()
    local r = assert(answer({ data = "cancelled" }).jobs:cancel(JOB))
    assert.are.same({ jobId = JOB, data = "cancelled" }, r)
  end)

  it("favorites:set reports every file once, unreported ones as failed", function()
    local entries = { { containerId = C, fileId = "F1" }, { containerId = C, fileId = "F2" },
      { containerId = C, fileId = "F3" } }
    local r = assert(answer({ status = 1, subResponseList = { { fileId = "F1", code = "0" },
      { fileId = "F2", code = "13000309", message = "Resource does not exist." } } }).favorites:set(entries, true))
    assert.are.equal(1, r.status)
    assert.are.same({ "F1" }, r.done)
    assert.are.equal(2, #r.failed)
    assert.are.same({ fileId = "F2", code = "13000309", message = "Resource does not exist." }, r.failed[1])
    assert.are.equal("F3", r.failed[2].fileId)
    assert.are.equal("KOODRIVE.UNREPORTED", r.failed[2].code)
  end)

  it("favorites:list keeps autoDeleted on the page", function()
    local page = assert(answer({ code = 0, nextCursor = "N1", autoDeleted = 2,
      starFiles = { { id = "F1", category = "drive#file", favorite = true } } }).favorites:list())
    assert.are.equal(2, page.autoDeleted)
    assert.are.equal("N1", page.next)
    assert.are.equal("F1", page.items[1].id)
  end)

  it("files:search gives total and ends on an empty nextPageCursor", function()
    local page = assert(answer({ code = 0, total = 1, nextPageCursor = "", files = { { id = "F1",
      containerType = 1 } } }).files:search { searchType = "personal" })
    assert.are.equal(1, page.total)
    assert.is_nil(page.next)
  end)
end)

describe("answers that are refused (decode errors naming the field, never its value)", function()
  local SECRET = "s3cr3t-value-never-shown"
  local cases = {
    { "spaces.get", { USER, { type = 1 } }, { code = 0, data = { containerId = C, ownerId = "999" } }, "ownerId" },
    { "spaces.get", { USER, { type = 1 } }, { code = 0, data = { containerId = C, type = "2" } }, "data.type" },
    { "spaces.get", { USER, { type = 1 } }, { code = 0, data = { containerId = { SECRET } } }, "containerId" },
    { "spaces.get", { USER, { type = 1 } }, { code = 0, data = { capacity = 1 } }, "containerId' is missing" },
    { "spaces.list", { USER }, { code = 0, data = { id = SECRET } }, "'data' is not an array" },
    { "spaces.list", { USER }, { code = 0, data = { { containerId = C, type = "1", ownerId = "999" } } },
      "data[1].ownerId" },
    { "spaces.list", { USER }, { code = 0, data = { { containerId = C }, { containerId = C } } }, "repeats" },
    { "files.list", { { containerId = C, parentFileId = "root" } }, { files = { { id = 1.5 } } }, "files[1].id" },
    { "files.list", { { containerId = C, parentFileId = "root" } }, { files = { { id = "A" }, { id = "A" } } },
      "repeats" },
    { "files.list", { { containerId = C, parentFileId = "root" } }, { nextCursor = "N" }, "'files' is missing" },
    { "files.list", { { containerId = C, parentFileId = "root" } }, { files = EMPTY, nextCursor = 5 }, "nextCursor" },
    { "files.list", { { containerId = C, parentFileId = "root" } }, { files = { { id = "A", size = SECRET } } },
      "files[1].size" },
    { "files.list", { { containerId = C, parentFileId = "root" }, { cursor = "SAME" } },
      { files = EMPTY, nextCursor = "SAME" }, "cursor it was sent" },
    { "files.get", { "F1", { containerId = C } }, { data = { id = "F2" } }, "not the file that was asked for" },
    { "files.get", { "F1", { containerId = C } }, { data = { id = "F1", recycled = "false" } }, "recycled" },
    { "files.get", { "F1", { containerId = C } }, { data = { id = "F1", properties = { a = 1 } } }, "properties" },
    { "files.mkdir", { { fileName = "d", containerId = C } }, { id = "D1", fileType = "15" }, "fileType" },
    { "files.mkdir", { { fileName = "d", containerId = C } }, { id = "D1", fileName = "d_2025" }, "fileName" },
    { "files.mkdir", { { fileName = "d", containerId = C, parentFolder = "P1" } },
      { id = "D1", parentFolder = { "P2" } }, "parentFolder" },
    { "files.path", { "F1", C }, { code = 0, fileIdPath = "/R/F2", namePath = "/r/b" }, "does not end at the file" },
    { "files.path", { "F1", C }, { code = 0, fileIdPath = "/R/F1", namePath = "/r" }, "number of segments" },
    { "files.path", { "F1", C }, { code = 0, fileIdPath = 7, namePath = "/r" }, "fileIdPath" },
    { "files.stats", { "F1", C }, { code = 0, data = { subDirCount = -1 } }, "subDirCount" },
    { "files.stats", { "F1", C }, { code = 0, data = { totalSize = "1e3" } }, "totalSize" },
    { "files.stats", { "F1", C }, { code = 0 }, "'data' is not an object" },
    { "files.search", { { searchType = "personal" } }, { code = 0, files = EMPTY, total = SECRET }, "total" },
    { "jobs.create", { { taskType = 7, taskInfo = { srcContainerId = C } } }, { code = 0, data = { SECRET } },
      "'data' is not a job id" },
    { "jobs.create", { { taskType = 7, taskInfo = { srcContainerId = C } } }, { code = 0 }, "'data' is not a job id" },
    { "jobs.get", { JOB }, { code = 0, data = { jobInfo = { status = 4 } } }, "status" },
    { "jobs.get", { JOB }, { code = 0, data = { jobInfo = { status = "done" } } }, "status" },
    { "jobs.get", { JOB }, { code = 0, data = { jobInfo = {} } }, "status' is missing" },
    { "jobs.get", { JOB }, { code = 0, data = { jobInfo = { status = 2, taskId = "77" } } }, "not the job" },
    { "jobs.get", { JOB }, { code = 0, data = { jobInfo = { status = 2, taskResultCode = 1.5 } } }, "taskResultCode" },
    { "jobs.get", { JOB }, { code = 0, data = { jobInfo = { status = 2 }, taskInfos = { 1 } } }, "taskInfos" },
    { "jobs.list", { { type = 2 } }, { code = 0, data = { { taskId = "1", status = 0, taskType = 3 } } }, "taskType" },
    { "jobs.list", { { status = 1 } }, { code = 0, data = { { taskId = "1", status = 2 } } }, "status" },
    { "jobs.list", { nil }, { code = 0, data = { { taskId = "1", status = 0 }, { taskId = "1", status = 0 } } },
      "repeats" },
    { "jobs.cancel", { JOB }, { data = { SECRET } }, "'data' is not a string" },
    { "favorites.set", { { { containerId = C, fileId = "F1" } }, true },
      { status = 0, subResponseList = { { fileId = "F9", code = "0" } } }, "not sent" },
    { "favorites.set", { { { containerId = C, fileId = "F1" } }, true },
      { status = 0, subResponseList = { { fileId = "F1", code = "13000309" } } }, "contradicts" },
    { "favorites.set", { { { containerId = C, fileId = "F1" } }, true },
      { status = 2, subResponseList = { { fileId = "F1", code = "0" } } }, "contradicts" },
    { "favorites.set", { { { containerId = C, fileId = "F1" } }, true },
      { subResponseList = { { fileId = "F1", code = "0" } } }, "status" },
    { "favorites.set", { { { containerId = C, fileId = "F1" } }, true },
      { status = 0, subResponseList = { { fileId = "F1", code = "zero" } } }, "code" },
    { "favorites.set", { { { containerId = C, fileId = "F1" } }, true },
      { status = 1, subResponseList = { { fileId = "F1", code = "0" }, { fileId = "F1", code = "1" } } },
      "both done and failed" },
    { "favorites.list", { nil }, { starFiles = EMPTY, autoDeleted = "many" }, "autoDeleted" },
    { "favorites.list", { nil }, { starFiles = { { fileName = SECRET } } }, "starFiles[1].id" },
  }
  for i, case in ipairs(cases) do
    local name, args, body, what = unpack(case)
    it(("%s #%d: %s"):format(name, i, what), function()
      local client = answer(body)
      local service, method = name:match("^(%w+)%.([%w_]+)$")
      local result, err = client[service][method](client[service], unpack(args))
      assert.is_nil(result)
      assert.are.equal("decode", err.kind)
      assert.are.equal(name, err.operation)
      assert.matches(what, err.message, 1, true)
      assert.not_matches(SECRET, err.message, 1, true)
    end)
  end

  it("a non-zero code is an api error even where code is optional", function()
    local _, err = answer({ code = 13000309, msg = "Resource does not exist." }).jobs:cancel(JOB)
    assert.are.equal("api", err.kind)
    assert.are.equal(13000309, err.code)
  end)

  it("a code absent with HTTP 200 is not enough where the contract documents code", function()
    local _, err = answer({ data = { totalSize = 1 } }).files:stats("F1", C)
    assert.is_not_nil(err)
    assert.are.equal("decode", err.kind)
  end)
end)

describe("paging", function()
  local req = { containerId = C, parentFileId = "root" }

  it("files:each follows partial and empty pages to the end", function()
    local client, t = answering {
      { body = { files = { { id = "A" } }, nextCursor = "c1" } },
      { body = { files = EMPTY, nextCursor = "c2" } },
      { body = { files = { { id = "B" }, { id = "C" } }, nextPageCursor = "c3" } },
      { body = { files = { { id = "D" } } } },
    }
    local ids = {}
    for item, err in client.files:each(req, { page_size = 2 }) do
      assert.is_nil(err)
      ids[#ids + 1] = item.id
    end
    assert.are.same({ "A", "B", "C", "D" }, ids)
    assert.are.equal(4, #t.requests)
    assert.are.same({ pageSize = 2, pageCursor = "c2" }, json.decode(t.requests[3].body).pageInfo)
  end)

  it("files:all stops at max_items and resumes from a saved next", function()
    local client, t = answering {
      { body = { files = { { id = "A" }, { id = "B" } }, nextCursor = "c1" } },
      { body = { files = { { id = "C" } } } },
    }
    local list = assert(client.files:all(req, { max_items = 1 }))
    assert.are.same({ "A" }, { list[1].id })
    local page = assert(client.files:list(req, { cursor = "c1" }))
    assert.is_nil(page.next)
    assert.are.equal("c1", json.decode(t.requests[2].body).pageInfo.pageCursor)
  end)

  it("an error mid-iteration is yielded once", function()
    local client = answering {
      { body = { files = { { id = "A" } }, nextCursor = "c1" } },
      { body = { files = { { id = 2.5 } } } },
    }
    local seen, errs = {}, 0
    for item, err in client.files:each(req) do
      if err then errs = errs + 1 else seen[#seen + 1] = item.id end
    end
    assert.are.same({ "A" }, seen)
    assert.are.equal(1, errs)
  end)

  it("files:list_team_pages carries team_type to every page", function()
    local client, t = answering {
      { body = { files = EMPTY, nextCursor = "c1" } },
      { body = { files = EMPTY } },
    }
    local pager = client.files:list_team_pages("G1", req, { team_type = 2 })
    assert.truthy(pager:next())
    assert.truthy(pager:next())
    assert.is_nil(pager:next())
    for _, r in ipairs(t.requests) do assert.matches("team_type=2", r.url, 1, true) end
  end)

  it("jobs:all ends on a short page and sends the offsets", function()
    local client, t = answering {
      { body = { code = 0, data = { { taskId = "1", status = 2 }, { taskId = "2", status = 2 } } } },
      { body = { code = 0, data = { { taskId = "3", status = 1 } } } },
    }
    local jobs = assert(client.jobs:all(nil, { page_size = 2 }))
    assert.are.equal(3, #jobs)
    assert.matches("offset=2", t.requests[2].url, 1, true)
  end)

  it("favorites:each and search_each follow their cursors", function()
    local client, t = answering {
      { body = { starFiles = { { id = "A" } }, nextCursor = "n1" } },
      { body = { starFiles = { { id = "B" } }, nextCursor = "" } },
    }
    local n = 0
    for item in client.favorites:each() do n = n + (item and 1 or 0) end
    assert.are.equal(2, n)
    assert.matches("pageCursor=n1", t.requests[2].url, 1, true)
    local s = answering {
      { body = { code = 0, files = { { id = "A" } }, nextPageCursor = "p1", total = 2 } },
      { body = { code = 0, files = { { id = "B" } }, nextPageCursor = "", total = 2 } },
    }
    local all = assert(s.files:search_all { searchType = "personal" })
    assert.are.equal(2, #all)
  end)
end)
