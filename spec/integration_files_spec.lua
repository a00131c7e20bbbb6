-- The spaces, files, jobs and favorites operations through real libcurl against the local
-- service on 127.0.0.1, in token and app mode: a folder tree that keeps its state, jobs that
-- move through pending -> processing -> done, the recycle bin, favorites and the paginators.
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)

local function make_client(mode, user)
  local config = { endpoint = server.url, user_id = user or creds.koodrive.user_id, timeout = 10,
    connect_timeout = 5 }
  if mode == "token" then
    config.token = "local-token-alice"
  else
    local app_id, app_secret = next(creds.koodrive.apps)
    config.app_id, config.app_secret = app_id, app_secret
  end
  return assert(koodrive.new(config))
end

local function names(items)
  local out = {}
  for _, f in ipairs(items) do out[#out + 1] = f.fileName end
  table.sort(out)
  return out
end

local function find(items, name)
  for _, f in ipairs(items) do
    if f.fileName == name then return f end
  end
  return nil
end

for _, mode in ipairs { "token", "app" } do
  describe("files against the local service in " .. mode .. " mode", function()
    local c, space, C, tag

    before_each(function()
      c = make_client(mode)
      space = assert(c.spaces:mine())
      C = space.containerId
      tag = mode .. "-" .. tostring(os.time()) .. "-" .. tostring(math.random(1, 1e6))
    end)
    after_each(function() c:close() end)

    it("finds the user's individual space with v1 and v2", function()
      assert.are.equal("1", space.type)
      assert.is_string(space.bizRootFileId)
      local one = assert(c.spaces:get(creds.koodrive.user_id, { type = 1 }))
      assert.are.equal(C, one.containerId)
      local all = assert(c.spaces:list(creds.koodrive.user_id))
      local found = false
      for _, s in ipairs(all) do found = found or s.containerId == C end
      assert.is_true(found)
    end)

    it("makes, lists, reads, renames and locates folders", function()
      local top = assert(c.files:mkdir { fileName = "top " .. tag, containerId = C })
      assert.are.equal("10", top.fileType)
      local child = assert(c.files:mkdir { fileName = "子 " .. tag, containerId = C, parentFolder = top.id })
      -- a clash is refused by default (renameMode 3), not renamed
      local dup, derr = c.files:mkdir { fileName = "子 " .. tag, containerId = C, parentFolder = top.id }
      assert.is_nil(dup)
      assert.are.equal("api", derr.kind)
      assert.are.equal(13000405, derr.code)

      local listed = assert(c.files:all { containerId = C, parentFileId = top.id })
      assert.are.same({ "子 " .. tag }, names(listed))
      local root = assert(c.files:all { containerId = C, parentFileId = "root" })
      assert.truthy(find(root, "top " .. tag))

      local detail = assert(c.files:get(child.id, { containerId = C }))
      assert.are.equal(child.id, detail.id)
      assert.are.equal(top.id, detail.parentFolder[1])

      assert(c.files:rename(child.id, { containerId = C, name = "renamed " .. tag }))
      assert.are.equal("renamed " .. tag, assert(c.files:get(child.id, { containerId = C })).fileName)
      local clash, cerr = c.files:rename(child.id, { containerId = C, name = "renamed " .. tag })
      if clash == nil then assert.are.equal(13000405, cerr.code) end

      local p = assert(c.files:path(child.id, C))
      assert.are.equal(child.id, p.fileIds[#p.fileIds])
      assert.are.equal("renamed " .. tag, p.names[#p.names])
      assert.are.equal("top " .. tag, p.names[#p.names - 1])

      local stats = assert(c.files:stats(top.id, C))
      assert.are.equal(1, stats.subDirCount)
      assert.are.equal(0, stats.subFileCount)
    end)

    it("pages a folder with every page size and resumes from next", function()
      local top = assert(c.files:mkdir { fileName = "paged " .. tag, containerId = C })
      for i = 1, 5 do
        assert(c.files:mkdir { fileName = ("f%02d"):format(i), containerId = C, parentFolder = top.id })
      end
      local req = { containerId = C, parentFileId = top.id, sortInfo = { sortType = 1, sortDirection = 1 } }
      local first = assert(c.files:list(req, { page_size = 2 }))
      assert.is_true(#first.items <= 2)
      assert.is_string(first.next)
      local seen = {}
      for item, err in c.files:each(req, { page_size = 2 }) do
        assert.is_nil(err)
        seen[#seen + 1] = item.fileName
      end
      table.sort(seen)
      assert.are.same({ "f01", "f02", "f03", "f04", "f05" }, seen)
      local rest = assert(c.files:all(req, { page_size = 2, cursor = first.next }))
      assert.are.equal(5 - #first.items, #rest)
      local capped = assert(c.files:all(req, { page_size = 2, max_items = 3 }))
      assert.are.equal(3, #capped)
    end)

    describe("with the service's paging modes", function()
      after_each(function() server.control("/_local/paging?mode=normal") end)

      local function folder_of_five()
        local top = assert(c.files:mkdir { fileName = "modes " .. tag, containerId = C })
        for i = 1, 5 do
          assert(c.files:mkdir { fileName = ("m%02d"):format(i), containerId = C, parentFolder = top.id })
        end
        return { containerId = C, parentFileId = top.id }
      end

      for _, paging_mode in ipairs { "partial", "empty_first" } do
        it("follows " .. paging_mode .. " pages to the end of files, search and favorites", function()
          local req = folder_of_five()
          local all = assert(c.files:all(req))
          assert.are.equal(5, #all)
          assert(c.favorites:set({ { containerId = C, fileId = all[1].id }, { containerId = C, fileId = all[2].id } },
            true))
          assert.are.equal(200, (server.control("/_local/paging?mode=" .. paging_mode .. "&pages=2")))
          local pages, items = 0, 0
          for page, err in c.files:pages(req, { page_size = 2 }) do
            assert.is_nil(err)
            pages, items = pages + 1, items + #page.items
          end
          assert.are.equal(5, items)
          assert.is_true(pages > 3)
          local seen = {}
          for f, err in c.files:search_each({ searchType = "personal", filter = { keyWord = "m0" } }, { page_size = 2 }) do
            assert.is_nil(err)
            seen[f.id] = true
          end
          for _, f in ipairs(all) do assert.is_true(seen[f.id], f.fileName) end
          local starred = assert(c.favorites:all(nil, { page_size = 1 }))
          local ids = {}
          for _, f in ipairs(starred) do ids[f.id] = true end
          assert.is_true(ids[all[1].id] and ids[all[2].id])
        end)
      end

      it("stops with an error when the service repeats a cursor", function()
        local req = folder_of_five()
        assert.are.equal(200, (server.control("/_local/paging?mode=repeat_cursor")))
        local list, err = c.files:all(req, { page_size = 2 })
        assert.is_nil(list)
        assert.are.equal("decode", err.kind)
        assert.are.equal(2, #err.items)
      end)
    end)

    it("searches by name", function()
      assert(c.files:mkdir { fileName = "needle " .. tag, containerId = C })
      local found = assert(c.files:search_all { searchType = "personal", filter = { keyWord = "needle " .. tag } })
      assert.truthy(find(found, "needle " .. tag))
    end)

    it("stars and unstars files, every entry reported", function()
      local f = assert(c.files:mkdir { fileName = "star " .. tag, containerId = C })
      local r = assert(c.favorites:set({ { containerId = C, fileId = f.id } }, true))
      assert.are.equal(0, r.status)
      assert.are.same({ f.id }, r.done)
      local starred = assert(c.favorites:all())
      local found = false
      for _, s in ipairs(starred) do found = found or s.id == f.id end
      assert.is_true(found)
      local partly = assert(c.favorites:set({ { containerId = C, fileId = f.id },
        { containerId = C, fileId = "FnoSuchFile" .. tag:gsub("%W", "") } }, false))
      assert.are.same({ f.id }, partly.done)
      assert.are.equal(1, #partly.failed)
      assert.are.equal(1, partly.status)
    end)

    it("copies, deletes to the bin, restores and empties the bin through jobs", function()
      local top = assert(c.files:mkdir { fileName = "jobs " .. tag, containerId = C })
      local a = assert(c.files:mkdir { fileName = "a", containerId = C, parentFolder = top.id })
      local dst = assert(c.files:mkdir { fileName = "dst " .. tag, containerId = C })
      local copied = assert(c.jobs:create { taskType = 1, actionType = 101, dstContainerId = C,
        taskInfo = { srcContainerId = C, fileInfo = { { fileId = a.id } },
          newFilePath = assert(c.files:path(dst.id, C)).fileIdPath } })
      assert.is_string(copied.jobId)
      local done = assert(c.jobs:wait(copied.jobId, { deadline = 30, interval = 0.2 }))
      assert.are.equal(2, done.jobInfo.status)
      assert.are.same({ "a" }, names(assert(c.files:all { containerId = C, parentFileId = dst.id })))

      local path = assert(c.files:path(a.id, C)).fileIdPath
      local del = assert(c.jobs:create { taskType = 2, actionType = 201,
        taskInfo = { srcContainerId = C, fileInfo = { { fileId = a.id, filePath = path } } } })
      assert(c.jobs:wait(del.jobId, { deadline = 30, interval = 0.2 }))
      assert.are.same({}, names(assert(c.files:all { containerId = C, parentFileId = top.id })))
      local bin = assert(c.files:list_recycled_all { containerId = C, parentFileId = "root" })
      assert.truthy(find(bin, "a"))

      local back = assert(c.jobs:create { taskType = 4,
        taskInfo = { srcContainerId = C, fileInfo = { { fileId = a.id, filePath = path } } } })
      assert(c.jobs:wait(back.jobId, { deadline = 30, interval = 0.2 }))
      assert.are.same({ "a" }, names(assert(c.files:all { containerId = C, parentFileId = top.id })))

      local listed = assert(c.jobs:all({ type = 1 }, { page_size = 1 }))
      local ours = false
      for _, j in ipairs(listed) do ours = ours or j.taskId == copied.jobId end
      assert.is_true(ours)

      local cleared = assert(c.files:recycle_clear(C))
      assert.are.equal(C, cleared.containerId)
    end)

    it("runs the file jobs built on these operations (copy, delete, restore, clear_recycled)", function()
      local src = assert(c.files:mkdir { fileName = "fj " .. tag, containerId = C })
      local dst = assert(c.files:mkdir { fileName = "fj-dst " .. tag, containerId = C })
      local item = assert(c.files:mkdir { fileName = "x", containerId = C, parentFolder = src.id })
      local wait = { deadline = 30, interval = 0.2 }
      local function opts(extra)
        local o = { srcContainerId = C, deadline = wait.deadline, interval = wait.interval }
        for k, v in pairs(extra or {}) do o[k] = v end
        return o
      end
      assert(c.files:copy({ { fileId = item.id } }, opts { dstContainerId = C,
        newFilePath = assert(c.files:path(dst.id, C)).fileIdPath }))
      assert.are.same({ "x" }, names(assert(c.files:all { containerId = C, parentFileId = dst.id })))
      local entry = { fileId = item.id, filePath = assert(c.files:path(item.id, C)).fileIdPath }
      local deleted = assert(c.files:delete({ entry }, opts()))
      assert.are.equal(2, deleted.jobInfo.status)
      assert.are.same({}, names(assert(c.files:all { containerId = C, parentFileId = src.id })))
      assert(c.files:restore({ entry }, opts()))
      assert.are.same({ "x" }, names(assert(c.files:all { containerId = C, parentFileId = src.id })))
      assert(c.files:delete({ entry }, opts()))
      assert(c.files:clear_recycled(C, wait))
      local bin = assert(c.files:list_recycled_all { containerId = C, parentFileId = "root" })
      assert.are.same({}, bin)
    end)

    it("cancels a pending job", function()
      local top = assert(c.files:mkdir { fileName = "cancel " .. tag, containerId = C })
      local job = assert(c.jobs:create { taskType = 2, actionType = 202,
        taskInfo = { srcContainerId = C, fileInfo = { { fileId = top.id } } } })
      local r, err = c.jobs:cancel(job.jobId)
      if r then
        assert.are.equal(job.jobId, r.jobId)
        local final = assert(c.jobs:wait(job.jobId, { deadline = 30, interval = 0.2 }))
        assert.is_true(final.jobInfo.status == 3 or final.jobInfo.status == 2)
      else
        -- the job finished before the cancel arrived: the service says so with an api error
        assert.are.equal("api", err.kind)
      end
    end)

    it("reports an unknown folder and an unknown job as api errors", function()
      local _, err = c.files:get("FnoSuchFile1", { containerId = C })
      assert.are.equal("api", err.kind)
      local _, jerr = c.jobs:get("999999999999")
      assert.are.equal("api", jerr.kind)
    end)
  end)
end
