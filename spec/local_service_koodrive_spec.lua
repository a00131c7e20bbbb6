-- The local service's file routes (koodrive-files-api.md): spaces, folder tree, listing with
-- every paging mode, search, statsDir, path, the recycle bin, jobs over real time, favorites.
-- Driven through the library's generic client:call (and client:prepare + LuaSocket where
-- the status or a body without `code` matters), in token and app mode.
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"
local cjson = require("cjson").new()
local http = require "socket.http"
local ltn12 = require "ltn12"
local socket = require "socket"

local KD = creds.koodrive
local USER, SPACE = KD.user_id, KD.space
local CID, ROOT = SPACE.containerId, SPACE.bizRootFileId
local DOCS, README, Y2025, BEACH = "FlocalDocs0000000000000000000000001", "FlocalReadme00000000000000000000001",
  "Flocal2025000000000000000000000001", "FlocalBeach00000000000000000000001"

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)

-- A raw request to the service: status and decoded body (nil when not JSON).
local function raw(method, url, body, headers)
  local out = {}
  headers = headers or {}
  headers["Content-Length"] = tostring(#(body or ""))
  local _, status = http.request { url = url, method = method, headers = headers,
    source = body and ltn12.source.string(body) or nil, sink = ltn12.sink.table(out) }
  local text = table.concat(out)
  local ok, doc = pcall(cjson.decode, text)
  return status, ok and doc or nil, text
end

local function control(path, body)
  local status, doc = raw("POST", server.url .. path, body, { ["Content-Type"] = "application/json" })
  assert.are.equal(200, status, path)
  return doc
end

local function client(mode, user)
  local config = { endpoint = server.url, user_id = user or USER, timeout = 10, connect_timeout = 5 }
  if mode == "token" then
    config.token = "local-token-alice"
  else
    config.app_id, config.app_secret = next(KD.apps)
  end
  return assert(koodrive.new(config))
end

-- The request client:call would send, sent with LuaSocket: status and decoded body.
local function send(c, spec)
  local req = assert(c:prepare(spec))
  local headers = {}
  for k, v in pairs(req.headers) do headers[k] = v end
  return raw(req.method, req.url, req.body ~= "" and req.body or nil, headers)
end

local function list_page(c, parent, size, cursor, extra)
  local body = { containerId = CID, parentFileId = parent, pageInfo = { pageSize = size, pageCursor = cursor } }
  for k, v in pairs(extra or {}) do body[k] = v end
  return assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/0", body = body })
end

local function names_of(files)
  local out = {}
  for i, f in ipairs(files) do out[i] = f.fileName end
  return out
end

-- Every page of a listing: the pages and all the names.
local function all_pages(c, parent, size)
  local pages, names, cursor = {}, {}, nil
  for _ = 1, 50 do
    local page = list_page(c, parent, size, cursor)
    pages[#pages + 1] = page
    for _, f in ipairs(page.files) do names[#names + 1] = f.fileName end
    if page.nextCursor == "" then return pages, names end
    assert.are_not.equal(cursor, page.nextCursor)
    cursor = page.nextCursor
  end
  error("listing did not end")
end

local function job_of(c, id)
  return assert(c:call { method = "GET", path = "/koodrive/ose/v1/" .. id }).data
end

local function new_job(c, body)
  local r = assert(c:call { method = "POST", path = "/koodrive/ose/v1/jobs", body = body })
  assert.matches("^%d+$", r.data)
  return r.data
end

local function delete_body(ids, action)
  local info = {}
  for i, id in ipairs(ids) do info[i] = { fileId = id, filePath = "/" .. ROOT .. "/" .. id } end
  return { taskType = 2, actionType = action or 201, taskInfo = { srcContainerId = CID, fileInfo = info },
    dstContainerId = CID }
end

local function wait_done(c, id)
  for _ = 1, 100 do
    local job = job_of(c, id)
    if job.jobInfo.status >= 2 then return job end
    socket.sleep(0.05)
  end
  error("job " .. id .. " did not finish")
end

for _, mode in ipairs { "token", "app" } do
  describe("local KooDrive files in " .. mode .. " mode", function()
    before_each(function() control("/_local/reset") end)

    it("answers the seeded space in v1 and v2, and makes one for a new user", function()
      local c = client(mode)
      local v1 = assert(c:call { method = "GET", path = "/koodrive/ose/v1/space/" .. USER, query = { type = 1 } })
      assert.are.same({ "1", USER, CID, ROOT, SPACE.rootFileId, SPACE.bizSboxFileId },
        { v1.data.type, v1.data.ownerId, v1.data.containerId, v1.data.bizRootFileId, v1.data.rootFileId,
          v1.data.bizSboxFileId })
      assert.are.equal("6756", v1.data.spaceUsed)
      local v2 = assert(c:call { method = "GET", path = "/koodrive/ose/v2/space/" .. USER })
      assert.are.equal(CID, v2.data[1].containerId)
      assert.are.equal("2", v2.data[2].type)          -- the seeded group's space
      local other = "4000000000000000004"
      local s = assert(client(mode, other):call { method = "GET", path = "/koodrive/ose/v2/space/" .. other,
        query = { type = 1 } })
      assert.are.equal(1, #s.data)
      assert.matches("^IAAD", s.data[1].containerId)
      assert.are_not.equal(CID, s.data[1].containerId)
      local _, err = c:call { method = "GET", path = "/koodrive/ose/v1/space/" .. USER }
      assert.are.equal(13000102, err.code)
      _, err = c:call { method = "GET", path = "/koodrive/ose/v1/space/" .. USER, query = { type = 1, containerId = "IAADx" } }
      assert.are.equal(13000301, err.code)
    end)

    it("lists the root with cursor pages, sorting and a fileType filter", function()
      local c = client(mode)
      local pages, names = all_pages(c, "root", 2)
      assert.are.equal(2, #pages)
      assert.are.same({ "Documents", "Photos", "readme.txt" }, names)
      local f = pages[2].files[1]
      assert.are.same({ README, "45", 100, { ROOT } }, { f.id, f.fileType, f.size, f.parentFolder })
      local sorted = list_page(c, "root", 10, nil, { sortInfo = { sortType = 1, sortDirection = 2 } })
      assert.are.same({ "readme.txt", "Photos", "Documents" }, names_of(sorted.files))
      local folders = list_page(c, DOCS, 10, nil, { fileType = "10" })
      assert.are.same({ "2025" }, names_of(folders.files))
      local team = assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/" .. KD.group_id .. "/0",
        query = { team_type = 2 }, body = { containerId = KD.group_space.containerId, parentFileId = "root" } })
      assert.are.same({ "Team documents" }, names_of(team.files))
      local _, err = c:call { method = "POST", path = "/koodrive/ose/v1/files/0",
        body = { containerId = CID, parentFileId = "nope" } }
      assert.are.equal(13000309, err.code)
      _, err = c:call { method = "POST", path = "/koodrive/ose/v1/files/0",
        body = { containerId = CID, parentFileId = "root", pageInfo = { pageSize = 101 } } }
      assert.are.equal(13000102, err.code)
      _, err = client(mode, "4000000000000000004"):call { method = "POST", path = "/koodrive/ose/v1/files/0",
        body = { containerId = CID, parentFileId = "root" } }
      assert.are.equal(13000410, err.code)
    end)

    it("pages partially, with empty first pages, and can repeat a cursor", function()
      local c = client(mode)
      control("/_local/paging?mode=partial")
      local pages, names = all_pages(c, "root", 2)
      assert.are.equal(3, #pages)
      for _, p in ipairs(pages) do assert.are.equal(1, #p.files) end
      assert.are.same({ "Documents", "Photos", "readme.txt" }, names)
      control("/_local/paging?mode=empty_first&pages=2")
      pages, names = all_pages(c, "root", 2)
      assert.are.same({ 0, 0, 2, 1 }, { #pages[1].files, #pages[2].files, #pages[3].files, #pages[4].files })
      assert.are.same({ "Documents", "Photos", "readme.txt" }, names)
      control("/_local/paging?mode=repeat_cursor")
      local first = list_page(c, "root", 1)
      local second = list_page(c, "root", 1, first.nextCursor)
      assert.are.equal(first.nextCursor, second.nextCursor)
      control("/_local/paging?mode=normal")
      assert.are.equal(1, #all_pages(c, "root", 100))
      local status = raw("POST", server.url .. "/_local/paging?mode=sideways")
      assert.are.equal(400, status)
    end)

    it("creates folders with the name rules, renames, and answers detail and path", function()
      local c = client(mode)
      local d = assert(c:call { method = "POST", path = "/koodrive/ose/v1/directory",
        body = { fileName = "Projects", fileType = "10", containerId = CID, parentFolder = { DOCS } } })
      assert.are.same({ "Projects", "10", { DOCS } }, { d.data.fileName, d.data.fileType, d.data.parentFolder })
      local _, err = c:call { method = "POST", path = "/koodrive/ose/v1/directory",
        body = { fileName = "Projects", fileType = "10", containerId = CID, parentFolder = { DOCS } } }
      assert.are.same({ 13000405, 400 }, { err.code, err.status })
      local again = assert(c:call { method = "POST", path = "/koodrive/ose/v1/directory",
        body = { fileName = "Projects", fileType = "10", containerId = CID, parentFolder = { DOCS }, renameMode = 2 } })
      assert.matches("^Projects_%d+", again.data.fileName)
      local in_root = assert(c:call { method = "POST", path = "/koodrive/ose/v1/directory",
        body = { fileName = "Top", fileType = "10", containerId = CID, parentFolder = { "root" } } })
      assert.are.same({ "root" }, in_root.data.parentFolder)
      local top = assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/" .. in_root.data.id .. "/detail",
        body = { containerId = CID } })
      assert.are.same({ ROOT }, top.data.parentFolder)
      for _, bad in ipairs { "a/b", "a:b", "..", ".", "", "x?", string.rep("é", 251) } do
        _, err = c:call { method = "POST", path = "/koodrive/ose/v1/directory",
          body = { fileName = bad, fileType = "10", containerId = CID } }
        assert.are.equal(13000102, err.code, bad)
      end
      assert(c:call { method = "POST", path = "/koodrive/ose/v1/directory",
        body = { fileName = string.rep("é", 250), fileType = "10", containerId = CID } })
      assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/rename/" .. d.data.id,
        body = { containerId = CID, name = "Work", renameMode = 3 } })
      _, err = c:call { method = "POST", path = "/koodrive/ose/v1/files/rename/" .. d.data.id,
        body = { containerId = CID, name = "report.docx", renameMode = 3 } }
      assert.are.equal(13000405, err.code)
      local det = assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/" .. d.data.id .. "/detail",
        body = { containerId = CID } })
      assert.are.same({ d.data.id, "Work", false }, { det.data.id, det.data.fileName, det.data.recycled })
      _, err = c:call { method = "POST", path = "/koodrive/ose/v1/files/nope/detail", body = { containerId = CID } }
      assert.are.equal(13000309, err.code)
      local p = assert(c:call { method = "GET", path = "/koodrive/ose/v1/files/path",
        query = { fileId = BEACH, containerId = CID } })
      assert.are.equal("/" .. ROOT .. "/" .. DOCS .. "/" .. Y2025 .. "/" .. BEACH, p.fileIdPath)
      assert.are.equal("/root" .. CID .. "/Documents/2025/beach.jpg", p.namePath)
    end)

    it("counts a folder (recursive or not), searches by name, and adds files by control", function()
      local c = client(mode)
      local st = assert(c:call { method = "GET", path = "/koodrive/ose/v1/files/statsDir",
        query = { fileId = DOCS, containerId = CID } })
      assert.are.same({ totalSize = 6656, subDirCount = 1, subFileCount = 3 }, st.data)
      st = assert(c:call { method = "GET", path = "/koodrive/ose/v1/files/statsDir",
        query = { fileId = "root", containerId = CID, recursive = false } })
      assert.are.same({ totalSize = 100, subDirCount = 2, subFileCount = 1 }, st.data)
      local added = control("/_local/files", cjson.encode { containerId = CID, parentFileId = DOCS,
        fileName = "big.bin", size = 10000 })
      assert.is_string(added.id)
      st = assert(c:call { method = "GET", path = "/koodrive/ose/v1/files/statsDir",
        query = { fileId = DOCS, containerId = CID } })
      assert.are.equal(16656, st.data.totalSize)
      local s = assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/search",
        body = { searchType = "personal", pageInfo = { pageSize = 2 }, filter = { keyWord = "O" } } })
      assert.are.equal(4, s.total)                    -- Documents, Photos, report.docx, notes.txt
      assert.are.equal(2, #s.files)
      local s2 = assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/search",
        body = { searchType = "personal", pageInfo = { pageSize = 2, pageCursor = s.nextPageCursor },
          filter = { keyWord = "O" } } })
      assert.are.equal("", s2.nextPageCursor)
      assert.are.equal(2, #s2.files)
      local team = assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/search",
        body = { searchType = "team", pageInfo = { pageSize = 10 }, filter = { keyWord = "plan" } } })
      assert.are.same({ "plan.xlsx" }, names_of(team.files))
      local _, err = c:call { method = "POST", path = "/koodrive/ose/v1/files/search",
        body = { searchType = "everyone", pageInfo = { pageSize = 10 } } }
      assert.are.equal(13000413, err.code)
    end)

    it("runs a delete job pending -> processing -> done, applying it only when done", function()
      local c = client(mode)
      control("/_local/jobs?pending_ms=300&processing_ms=300")
      local id = new_job(c, delete_body { README, "nope" })
      local job = job_of(c, id)
      assert.are.same({ 0, id, 2, 201 }, { job.jobInfo.status, job.jobInfo.taskId, job.jobInfo.taskType,
        job.jobInfo.actionType })
      socket.sleep(0.35)
      assert.are.equal(1, job_of(c, id).jobInfo.status)
      assert.are.same({ "Documents", "Photos", "readme.txt" }, names_of(list_page(c, "root", 10).files))
      socket.sleep(0.35)
      job = job_of(c, id)
      assert.are.same({ 2, 2 }, { job.jobInfo.status, job.jobInfo.taskResultCode })
      assert.are.same({ 0, 13000309 }, { job.taskInfos[1].code, job.taskInfos[2].code })
      assert.are.same({ "Documents", "Photos" }, names_of(list_page(c, "root", 10).files))
      local bin = assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/1",
        body = { containerId = CID, parentFileId = "root" } })
      assert.are.same({ "readme.txt" }, names_of(bin.files))
      local listed = assert(c:call { method = "GET", path = "/koodrive/ose/v1/jobs",
        query = { offset = 0, limit = 10, type = 2, status = 2 } })
      assert.are.equal(id, listed.data[1].taskId)
      listed = assert(c:call { method = "GET", path = "/koodrive/ose/v1/jobs", query = { offset = 0, limit = 10, type = 1 } })
      assert.are.same({}, listed.data)
    end)

    it("cancels a pending job, which then changes nothing", function()
      local c = client(mode)
      control("/_local/jobs?pending_ms=300&processing_ms=300")
      local id = new_job(c, delete_body { README })
      local r = assert(c:call { method = "POST", path = "/koodrive/ose/v1/cancel", body = { jobId = id } })
      assert.are.equal(id, r.data)
      socket.sleep(0.7)
      assert.are.equal(3, job_of(c, id).jobInfo.status)
      assert.are.same({ "Documents", "Photos", "readme.txt" }, names_of(list_page(c, "root", 10).files))
      local _, err = c:call { method = "POST", path = "/koodrive/ose/v1/cancel", body = { jobId = id } }
      assert.are.equal(13000102, err.code)
      _, err = c:call { method = "POST", path = "/koodrive/ose/v1/cancel", body = { jobId = "1" } }
      assert.are.equal(13000309, err.code)
    end)

    it("copies, moves, restores, deletes for good and empties the bin", function()
      local c = client(mode)
      control("/_local/jobs?pending_ms=0&processing_ms=0")
      local function job(body) return wait_done(c, new_job(c, body)) end
      local photos = "FlocalPhotos00000000000000000000001"
      local j = job { taskType = 1, actionType = 101, dstContainerId = CID,
        taskInfo = { srcContainerId = CID, newFilePath = photos, fileInfo = { { fileId = DOCS } } } }
      assert.are.equal(1, j.jobInfo.taskResultCode)
      local st = assert(c:call { method = "GET", path = "/koodrive/ose/v1/files/statsDir",
        query = { fileId = photos, containerId = CID } })
      assert.are.same({ 6656, 2, 3 }, { st.data.totalSize, st.data.subDirCount, st.data.subFileCount })
      j = job { taskType = 3, actionType = 301, dstContainerId = CID,
        taskInfo = { srcContainerId = CID, newFilePath = "/" .. ROOT .. "/" .. photos, fileInfo = { { fileId = README } } } }
      assert.are.equal(1, j.jobInfo.taskResultCode)
      assert.are.same({ "Documents", "readme.txt" }, names_of(list_page(c, photos, 10).files))
      j = job { taskType = 3, actionType = 301, dstContainerId = CID,
        taskInfo = { srcContainerId = CID, newFilePath = Y2025, fileInfo = { { fileId = DOCS } } } }
      assert.are.same({ 3, 13000307 }, { j.jobInfo.taskResultCode, j.taskInfos[1].code })
      job(delete_body { DOCS })
      assert.are.same({ "Photos" }, names_of(list_page(c, "root", 10).files))
      j = job { taskType = 4, dstContainerId = CID, taskInfo = { srcContainerId = CID, fileInfo = { { fileId = DOCS } } } }
      assert.are.equal(1, j.jobInfo.taskResultCode)
      assert.are.same({ "Documents", "Photos" }, names_of(list_page(c, "root", 10).files))
      job(delete_body({ DOCS }, 202))
      local _, err = c:call { method = "POST", path = "/koodrive/ose/v1/files/" .. DOCS .. "/detail",
        body = { containerId = CID } }
      assert.are.equal(13000309, err.code)
      job(delete_body { photos })
      assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/recycle", body = { containerId = CID } })
      local sevens = assert(c:call { method = "GET", path = "/koodrive/ose/v1/jobs", query = { type = 7, offset = 0, limit = 10 } })
      assert.are.equal(1, #sevens.data)
      wait_done(c, sevens.data[1].taskId)
      local bin = assert(c:call { method = "POST", path = "/koodrive/ose/v1/files/1",
        body = { containerId = CID, parentFileId = "root" } })
      assert.are.same({}, bin.files)
      for _, bad in ipairs {
        { taskType = 9, taskInfo = { srcContainerId = CID, fileInfo = { { fileId = README } } }, dstContainerId = CID },
        { taskType = 1, taskInfo = { srcContainerId = CID, fileInfo = { { fileId = README } } }, dstContainerId = CID },
        { taskType = 2, actionType = 201, taskInfo = { srcContainerId = CID, fileInfo = { { fileId = README } } },
          dstContainerId = CID },
        { taskType = 2, actionType = 202, taskInfo = { srcContainerId = CID, fileInfo = {} }, dstContainerId = CID },
        { taskType = 2, actionType = 202, taskInfo = { fileInfo = { { fileId = README } } }, dstContainerId = CID },
      } do
        _, err = c:call { method = "POST", path = "/koodrive/ose/v1/jobs", body = bad }
        assert.are.equal(13000102, err.code)
      end
    end)

    it("stars files in a batch (no envelope) and lists them by cursor", function()
      local c = client(mode)
      local status, doc = send(c, { method = "POST", path = "/koodrive/ose/v1/star/batch",
        body = { starred = true, subRequestList = { { containerId = CID, fileId = DOCS },
          { containerId = CID, fileId = README }, { containerId = CID, fileId = "nope" } } } })
      assert.are.equal(200, status)
      assert.is_nil(doc.code)
      assert.are.equal(1, doc.status)
      assert.are.same({ "0", "0", "13000309" }, { doc.subResponseList[1].code, doc.subResponseList[2].code,
        doc.subResponseList[3].code })
      local p1 = assert(c:call { method = "GET", path = "/koodrive/ose/v1/star/files", query = { pageSize = 1 } })
      assert.are.same({ "readme.txt" }, names_of(p1.starFiles))   -- newest first by default
      assert.is_true(p1.starFiles[1].favorite)
      local p2 = assert(c:call { method = "GET", path = "/koodrive/ose/v1/star/files",
        query = { pageSize = 1, pageCursor = p1.nextCursor } })
      assert.are.same({ "Documents" }, names_of(p2.starFiles))
      assert.are.equal("", p2.nextCursor)
      _, doc = send(c, { method = "POST", path = "/koodrive/ose/v1/star/batch",
        body = { starred = false, subRequestList = { { containerId = CID, fileId = DOCS } } } })
      assert.are.equal(0, doc.status)
      local all = assert(c:call { method = "GET", path = "/koodrive/ose/v1/star/files" })
      assert.are.same({ "readme.txt" }, names_of(all.starFiles))
      status = send(c, { method = "POST", path = "/koodrive/ose/v1/star/batch", body = { starred = true } })
      assert.are.equal(400, status)
    end)
  end)
end
