-- Path resolution of the `koodrive` command (lua/koodrive/cli/paths.lua) against a scripted
-- fake client: nested paths, ids taken as given, the root, names that two entries share (also
-- across pages), missing segments, files in the middle of a path, listing errors, caching, and
-- the job items' filePath from files:path. Then the commands over the real library and a
-- scripted transport: what goes on the wire to resolve a path, and a job's request.
local paths = require "koodrive.cli.paths"
local exit = require "koodrive.cli.exit"

local CONTAINER = "IAADfsBFCO6WtAtuAb7e92cde625843cfb7f4ceba802e0b"

-- A fake client over `tree`: { [parentId] = { entries } }. files:each yields the entries of
-- a folder in pages of `page` items (the way the library's each() walks pages), and records
-- every page it "fetched" in calls.
local function fake(tree, opts)
  opts = opts or {}
  local calls = { pages = {}, mine = 0, path = {} }
  local client = { calls = calls }
  client.spaces = {
    mine = function()
      calls.mine = calls.mine + 1
      if opts.mine_error then return nil, opts.mine_error end
      return { containerId = CONTAINER, bizRootFileId = "biz-root", rootFileId = "space-root" }
    end,
  }
  client.files = {
    each = function(_, req, call_opts)
      assert(req.containerId == CONTAINER, "containerId " .. tostring(req.containerId))
      assert(call_opts.page_size == 100)
      local entries = tree[req.parentFileId] or {}
      local page_size = opts.page or 2
      local i, page_no = 0, 0
      return function()
        if i % page_size == 0 then
          page_no = page_no + 1
          if opts.fail_on and opts.fail_on.parent == req.parentFileId and opts.fail_on.page == page_no then
            i = math.huge
            return nil, opts.fail_on.err
          end
          if i < #entries then table.insert(calls.pages, req.parentFileId .. "#" .. page_no) end
        end
        i = i + 1
        if i > #entries then return nil end
        return entries[i]
      end
    end,
    path = function(_, id, container)
      table.insert(calls.path, id)
      assert(container == CONTAINER)
      if id == "no-path" then return {} end
      return { fileIdPath = "DEUI7pa0C24Aroot" .. container .. "/" .. id, namePath = "x" }
    end,
  }
  return client
end

local function folder(id, name) return { id = id, fileName = name, fileType = "10" } end
local function file(id, name) return { id = id, fileName = name, fileType = "26", size = 12 } end

local TREE = {
  root = { folder("p", "Projects"), file("r1", "readme.txt"), folder("d", "Docs"),
    file("dup1", "twice"), folder("e", "empty"), file("dup2", "twice") },
  p = { folder("p26", "2026"), folder("p25", "2025"), file("pf", "plan.docx") },
  p26 = { file("a", "a.txt"), file("b", "b.txt"), file("c", "c.txt"), file("d1", "d.txt"),
    file("e1", "e.txt"), folder("late", "deep") },
  late = { file("deepest", "x y.txt") },
}

describe("cli paths", function()
  it("tells paths from ids", function()
    assert.is_true(paths.is_path("/"))
    assert.is_true(paths.is_path("/a/b"))
    assert.is_false(paths.is_path("123456"))
    assert.is_false(paths.is_path("a/b"))
    assert.is_false(paths.is_path(""))
  end)

  it("splits paths; repeated and trailing slashes are one, . and .. refused", function()
    assert.are.same({}, paths.split("/"))
    assert.are.same({ "a", "b c" }, paths.split("//a///b c/"))
    local s, err = paths.split("/a/../b")
    assert.is_nil(s)
    assert.are.same("bad_path", err.kind)
    assert.truthy(err.message:find('"." and ".."', 1, true))
    s, err = paths.split("relative")
    assert.is_nil(s)
    assert.are.same("bad_path", err.kind)
  end)

  it("check_all passes ids and well-formed paths, ends the command on a bad path (4)", function()
    paths.check_all { "123", "/a/b", "/", "x/../y" }
    local ok, f = pcall(paths.check_all, { "/ok", "/a/../b" })
    assert.is_false(ok)
    assert.is_true(exit.is_failure(f))
    assert.are.same(4, f.code)
    assert.truthy(f.message:find("/a/../b", 1, true))
  end)

  it("resolves nested paths, following folders page after page", function()
    local c = fake(TREE)
    local r = paths.resolver(c)
    local t = assert(r:resolve("/Projects/2026/deep/x y.txt"))
    assert.are.same("deepest", t.id)
    assert.are.same("/Projects/2026/deep/x y.txt", t.path)
    assert.are.same("x y.txt", t.entry.fileName)
    -- p26 has 6 entries: three pages of 2, all read (the last one has "deep").
    assert.are.same({ "root#1", "root#2", "root#3", "p#1", "p#2", "p26#1", "p26#2", "p26#3", "late#1" },
      c.calls.pages)
    assert.are.same(1, c.calls.mine)
  end)

  it("takes ids as given, without any call", function()
    local c = fake(TREE)
    local t = assert(paths.resolver(c):resolve("987654321"))
    assert.are.same({ id = "987654321", arg = "987654321" }, t)
    assert.are.same({}, c.calls.pages)
    assert.are.same(0, c.calls.mine)
  end)

  it("/ is the root alias; its concrete id is bizRootFileId", function()
    local c = fake(TREE)
    local r = paths.resolver(c)
    local t = assert(r:resolve("/"))
    assert.are.same("root", t.id)
    assert.is_true(t.root)
    assert.are.same("biz-root", assert(r:concrete_id(t)))
    assert.are.same("p", assert(r:concrete_id(assert(r:resolve("/Projects")))))
  end)

  it("a name two entries share is an ambiguity listing both ids, even on different pages", function()
    local c = fake(TREE)
    local t, err = paths.resolver(c):resolve("/twice")
    assert.is_nil(t)
    assert.are.same("ambiguous", err.kind)
    assert.are.same({ "dup1", "dup2" }, err.ids)
    assert.truthy(err.message:find("dup1, dup2", 1, true), err.message)
    assert.truthy(err.message:find("give the id", 1, true), err.message)
    -- dup2 is on the third page: every page was read.
    assert.are.same({ "root#1", "root#2", "root#3" }, c.calls.pages)
  end)

  it("a missing segment is not found, naming the segment and where it was looked for", function()
    local r = paths.resolver(fake(TREE))
    local t, err = r:resolve("/Projects/2027/new")
    assert.is_nil(t)
    assert.are.same("not_found", err.kind)
    assert.are.same("/Projects/2027", err.path)
    assert.truthy(err.message:find("no file or folder named '2027' in /Projects", 1, true), err.message)
    t, err = r:resolve("/nothing")
    assert.is_nil(t)
    assert.truthy(err.message:find("'nothing' in /", 1, true), err.message)
    t, err = r:resolve("/empty/x")
    assert.is_nil(t)
    assert.are.same("/empty/x", err.path)
  end)

  it("names are matched exactly (case and spaces)", function()
    local r = paths.resolver(fake(TREE))
    assert.is_nil((r:resolve("/projects")))
    assert.is_nil((r:resolve("/Projects/2026/deep/x  y.txt")))
  end)

  it("a file in the middle of a path is not a folder", function()
    local c = fake(TREE)
    local t, err = paths.resolver(c):resolve("/readme.txt/x")
    assert.is_nil(t)
    assert.are.same("not_folder", err.kind)
    assert.truthy(err.message:find("/readme.txt is not a folder", 1, true), err.message)
    t, err = paths.resolver(c):folder("/Projects/plan.docx")
    assert.is_nil(t)
    assert.are.same("not_folder", err.kind)
    assert.are.same("p", assert(paths.resolver(c):folder("/Projects")).id)
    assert.are.same("some-id", assert(paths.resolver(c):folder("some-id")).id)
  end)

  it("lists each folder once per resolver", function()
    local c = fake(TREE)
    local r = paths.resolver(c)
    assert(r:resolve("/Projects/2026/a.txt"))
    local before = #c.calls.pages
    assert.are.same("b", assert(r:resolve("/Projects/2026/b.txt")).id)
    assert.are.same("pf", assert(r:resolve("/Projects/plan.docx")).id)
    assert.are.same(before, #c.calls.pages)
    assert.are.same(1, c.calls.mine)
  end)

  it("a listing error mid-way is returned as it came", function()
    local boom = { kind = "transport", message = "reset" }
    local c = fake(TREE, { fail_on = { parent = "p26", page = 2, err = boom } })
    local t, err = paths.resolver(c):resolve("/Projects/2026/deep")
    assert.is_nil(t)
    assert.are.equal(boom, err)
    local mine_err = { kind = "api", message = "no space" }
    t, err = paths.resolver(fake(TREE, { mine_error = mine_err })):resolve("/Projects")
    assert.is_nil(t)
    assert.are.equal(mine_err, err)
  end)

  it("a given container id is used without asking for the space", function()
    local c = fake(TREE)
    local r = paths.resolver(c, { container_id = CONTAINER })
    assert.are.same("p", assert(r:resolve("/Projects")).id)
    assert.are.same(0, c.calls.mine)
    local other = paths.resolver(fake(TREE), { container_id = "other" })
    local id, err = other:root_id()
    assert.is_nil(id)
    assert.truthy(err.message:find("give the folder's id", 1, true))
  end)

  it("parent_and_name: the parent folder of a new entry and its name", function()
    local r = paths.resolver(fake(TREE))
    local parent, name = r:parent_and_name("/Projects/2026/new")
    assert.are.same("p26", parent.id)
    assert.are.same("new", name)
    parent, name = r:parent_and_name("/top")
    assert.is_true(parent.root)
    assert.are.same("top", name)
    parent, name = r:parent_and_name("/nope/new")
    assert.is_nil(parent)
    assert.are.same("not_found", name.kind)
    parent, name = r:parent_and_name("/")
    assert.is_nil(parent)
    assert.are.same("bad_path", name.kind)
  end)

  it("job items carry the service's fileIdPath as filePath", function()
    local c = fake(TREE)
    local r = paths.resolver(c)
    local item = assert(r:job_item(assert(r:resolve("/Projects/plan.docx"))))
    assert.are.same({ fileId = "pf", filePath = "DEUI7pa0C24Aroot" .. CONTAINER .. "/pf" }, item)
    item = assert(r:job_item(assert(r:resolve("/"))))
    assert.are.same("biz-root", item.fileId)
    local none, err = r:job_item({ id = "no-path", arg = "no-path" })
    assert.is_nil(none)
    assert.are.same("decode", err.kind)
  end)

  it("fail: not found exits 5, other path errors 4, library errors by kind", function()
    local function code_of(err)
      local ok, f = pcall(paths.fail, err)
      assert.is_false(ok)
      assert.is_true(exit.is_failure(f))
      return f.code
    end
    local r = paths.resolver(fake(TREE))
    assert.are.same(5, code_of(select(2, r:resolve("/nope"))))
    assert.are.same(4, code_of(select(2, r:resolve("/twice"))))
    assert.are.same(4, code_of(select(2, r:resolve("/readme.txt/x"))))
    assert.are.same(6, code_of(require("koodrive.errors").new { kind = "transport", message = "x" }))
    assert.are.same("v", paths.must("v"))
  end)
end)

-- The commands in-process, for the blocks below (config.koodrive_client is replaced per test).
local cli = require "koodrive.cli"
local config = require "koodrive.cli.config"
local json = require "koodrive.json"
local real_client = config.koodrive_client
local ENV = { KOODRIVE_ENDPOINT = "http://127.0.0.1:9", KOODRIVE_USER_ID = "1505084218764547200",
  KOODRIVE_TOKEN = "paths-spec-token", HOME = "/nonexistent" }

local function run(argv)
  local out, err = {}, {}
  local code = cli.main(argv, { out = function(s) out[#out + 1] = s end, err = function(s) err[#err + 1] = s end,
    getenv = function(name) return ENV[name] end, stdin = io.open("/dev/null") })
  return code, table.concat(out), table.concat(err)
end

-- The real library under the commands, over a transport answering a script in order (the
-- requests kept): what goes on the wire for a path, and a job from creation to its end.
describe("koodrive files (the library over a scripted transport)", function()
  local koodrive = require "koodrive"
  local USER = "1505084218764547200"
  local transport

  local function script(bodies)
    transport = { requests = {} }
    function transport.send(_, req)
      transport.requests[#transport.requests + 1] = req
      local b = table.remove(bodies, 1)
      if b == nil then return nil, { kind = "transport", reason = "connect", message = "script ended" } end
      return { status = 200, body = assert(json.encode(b)), headers = {} }
    end
  end

  local SPACE = { code = 0, data = { { type = "1", ownerId = USER, containerId = "C1", bizRootFileId = "B1",
    rootFileId = "R1" } } }

  before_each(function()
    config.koodrive_client = function()
      return assert(koodrive.new { endpoint = "http://127.0.0.1:9", user_id = USER, token = "files-spec-token",
        transport = transport })
    end
  end)
  after_each(function() config.koodrive_client = real_client end)

  local function body_of(i) return assert(json.decode(transport.requests[i].body)) end

  it("ls by path: the space, then each folder on the way, page after page", function()
    script { SPACE,
      { code = 0, files = { { id = "X1", fileName = "other", fileType = "10" } }, nextCursor = "c2" },
      { code = 0, files = { { id = "P1", fileName = "Projects", fileType = "10" } }, nextCursor = "" },
      { code = 0, files = { { id = "F1", fileName = "a.txt", fileType = "26", size = 5 } } } }
    local code, out, err = run { "files", "ls", "/Projects", "--json" }
    assert.are.equal(0, code, err)
    local doc = assert(json.decode(out))
    assert.are.same({ "C1", "P1", "F1" }, { doc.containerId, doc.parentFileId, doc.files[1].id })
    local r = transport.requests
    assert.are.equal(4, #r)
    assert.are.equal("GET", r[1].method)
    assert.truthy(r[1].url:find("/koodrive/ose/v2/space/" .. USER .. "?type=1", 1, true), r[1].url)
    assert.are.same({ "C1", "root", 100 }, { body_of(2).containerId, body_of(2).parentFileId, body_of(2).pageInfo.pageSize })
    assert.are.same({ "root", "c2" }, { body_of(3).parentFileId, body_of(3).pageInfo.pageCursor })
    assert.are.equal("P1", body_of(4).parentFileId)
  end)

  it("rm by path: files:path's fileIdPath in the job, the job waited for", function()
    script { SPACE,
      { code = 0, files = { { id = "P1", fileName = "Projects", fileType = "10" } } },
      { code = 0, files = { { id = "F1", fileName = "a.txt", fileType = "26" } } },
      { code = 0, fileIdPath = "rootC1/P1/F1", namePath = "rootC1/Projects/a.txt" },
      { code = 0, data = "J1" },
      { code = 0, data = { jobInfo = { taskId = "J1", status = 2, taskResultCode = 1 }, taskInfos = json.array({}) } } }
    local code, out, err = run { "files", "rm", "/Projects/a.txt" }
    assert.are.equal(0, code, err)
    assert.are.equal("job J1: 2 done, 1 all succeeded\n", out)
    local r = transport.requests
    assert.truthy(r[4].url:find("/koodrive/ose/v1/files/path?", 1, true), r[4].url)
    assert.truthy(r[4].url:find("fileId=F1", 1, true), r[4].url)
    assert.truthy(r[5].url:find("/koodrive/ose/v1/jobs$"), r[5].url)
    local job = body_of(5)
    assert.are.same({ 2, 201, "C1", "C1" }, { job.taskType, job.actionType, job.dstContainerId, job.taskInfo.srcContainerId })
    assert.are.same({ { fileId = "F1", filePath = "rootC1/P1/F1" } }, job.taskInfo.fileInfo)
    assert.truthy(r[6].url:find("/koodrive/ose/v1/J1$"), r[6].url)
  end)

  it("mkdir: the directory body with its parent; a listing error ends the command with its kind", function()
    script { SPACE,
      { code = 0, files = { { id = "P1", fileName = "Projects", fileType = "10" } } },
      { code = 0, files = json.array({}) },
      { code = 0, id = "N1", fileName = "new" } }
    local code, out, err = run { "files", "mkdir", "/Projects/new" }
    assert.are.equal(0, code, err)
    assert.truthy(out:find("new   folder  -     N1", 1, true), out)
    local mk = body_of(4)
    assert.are.same({ "new", "10", "C1", { "P1" } }, { mk.fileName, mk.fileType, mk.containerId, mk.parentFolder })
    script { SPACE, { code = 0, files = "nope" } }
    code, out, err = run { "files", "ls", "/Projects" }
    assert.are.same({ 5, "" }, { code, out })
    assert.truthy(err:find("decode", 1, true), err)
  end)

  it("a folder listing that repeats its cursor is an error (5), never a wrong answer", function()
    local page = { code = 0, files = { { id = "X1", fileName = "other", fileType = "10" } }, nextCursor = "c1" }
    script { SPACE, page, page }
    local code, out, err = run { "files", "info", "/Projects" }
    assert.are.same({ 5, "" }, { code, out })
    assert.truthy(err:find("cursor it was sent", 1, true), err)
    assert.are.equal(3, #transport.requests)
  end)
end)
