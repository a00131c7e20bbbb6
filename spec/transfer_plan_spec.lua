-- The part plan (koodrive-transfer-api.md §2 Decision "plan"), the transfer operations'
-- checks before anything is sent, the recorded complete example, and the file helpers the
-- transfers use (core.stat, core.write_atomic, core.sync).
local plan = require "koodrive.transfer.plan"
local fixtures = require "support.fixtures"
local core = require "koodrive.core"
local koodrive = require "koodrive"
local json = require "koodrive.json"

local MiB = 1024 * 1024

describe("transfer plan", function()
  it("takes 5 MiB parts up to 10000 of them, then the smallest multiple of 64 that fits", function()
    assert.are.equal(5242880, plan.part_size(0))
    assert.are.equal(5242880, plan.part_size(5242880 * 10000))
    local big = 5242880 * 10000 + 1
    local size = plan.part_size(big)
    assert.are.equal(0, size % 64)
    assert.is_true(size * 10000 >= big and (size - 64) * 10000 < big)
    assert.are.equal(plan.part_size(plan.MAX_LENGTH) % 64, 0)
  end)

  it("refuses a part size out of bounds, not a multiple of 64, or giving too many parts", function()
    for _, bad in ipairs { 5242880 - 64, 5242881, plan.MAX_PART + 64, 1.5, "8" } do
      local s, err = plan.part_size(100 * MiB, bad)
      assert.is_nil(s)
      assert.are.equal("part_size", err.field)
    end
    assert.is_nil((plan.part_size(5242880 * 10001, 5242880)))
    assert.are.equal(8 * MiB, plan.part_size(100 * MiB, 8 * MiB))
  end)

  it("refuses a length over 200 GiB or not a whole number", function()
    assert.is_nil((plan.part_size(plan.MAX_LENGTH + 1)))
    assert.is_nil((plan.part_size(-1)))
    assert.is_nil((plan.part_size(0.5)))
  end)

  it("cuts parts with offsets; the last takes the rest; 0 bytes is one empty part", function()
    assert.are.same({ { partNumber = 1, partSize = 0, partOffset = 0 } }, plan.parts(0, 5242880))
    local parts = plan.parts(12 * MiB, 5 * MiB)
    assert.are.equal(3, #parts)
    assert.are.same({ 5 * MiB, 5 * MiB, 2 * MiB }, { parts[1].partSize, parts[2].partSize, parts[3].partSize })
    assert.are.same({ 0, 5 * MiB, 10 * MiB }, { parts[1].partOffset, parts[2].partOffset, parts[3].partOffset })
    assert.are.equal(2, #plan.parts(10 * MiB, 5 * MiB))
  end)

  it("puts partOffset and hashCtx in concurrent plans only", function()
    local parts = plan.parts(10 * MiB, 5 * MiB)
    local ctx = { { 1, 2, 3, 4, 5, 6, 7, 8 }, { 9, 10, 11, 12, 13, 14, 15, 4294967295 } }
    -- (the packed form of sign.part_hasher's finish: 32 bytes a part, words big-endian)
    local packed = {}
    for _, words in ipairs(ctx) do
      for _, w in ipairs(words) do
        packed[#packed + 1] = string.char(math.floor(w / 16777216), math.floor(w / 65536) % 256,
          math.floor(w / 256) % 256, w % 256)
      end
    end
    packed = table.concat(packed)
    local c = plan.multi_parts(parts, packed, true)
    assert.are.same({ partNumber = 2, partSize = 5 * MiB, partOffset = 5 * MiB, hashCtx = ctx[2] }, c[2])
    assert.are.same(ctx[1], c[1].hashCtx)
    if math.type then
      for _, v in ipairs(c[2].hashCtx) do assert.are.equal("integer", math.type(v)) end
    end
    local s = plan.multi_parts(parts, packed, false)
    assert.are.same({ partNumber = 2, partSize = 5 * MiB }, s[2])
  end)
end)

describe("transfer operations, checked before sending", function()
  local client = assert(koodrive.new { endpoint = "https://kd.example.com", user_id = "1", token = "t" })
  local function create(req) return client:prepare_operation("files.create_upload", req) end
  local good = { containerId = "IAADx", fileName = "a.bin", fileType = "45", parentFolder = "root",
    length = 12, autoRename = 3, sha256 = ("ab"):rep(32), multiParts = { { partNumber = 1, partSize = 12 } } }
  local function with(k, v)
    local t = {}
    for a, b in pairs(good) do t[a] = b end
    t[k] = v
    return t
  end

  it("always sends multipart mode and uploadType 1", function()
    local body = json.decode(assert(create(good)).body)
    assert.are.equal("multipart", body.uploadMode)
    assert.are.equal(1, body.uploadType)
    assert.are.same({ "root" }, body.parentFolder)
  end)

  it("refuses bad fields by name", function()
    for field, bad in pairs { fileName = "a/b", sha256 = ("AB"):rep(32), autoRename = 1, length = -1,
        uploadMode = "put", multiParts = { { partNumber = 0, partSize = 1 } } } do
      local r, err = create(with(field, bad))
      assert.is_nil(r, field)
      assert.are.equal("validation", err.kind)
      assert.matches(field, err.field)
    end
    local r, err = create(with("multiParts", { { partNumber = 1, partSize = 1, hashCtx = { 1, 2, 3 } } }))
    assert.is_nil(r)
    assert.matches("hashCtx", err.field)
    r, err = create(with("multiParts", { { partNumber = 1, partSize = 1 }, { partNumber = 1, partSize = 1 } }))
    assert.is_nil(r)
    assert.are.equal("duplicate", err.rule)
  end)

  it("refuses more than 100 fileIds for download URLs", function()
    local ids = {}
    for i = 1, 101 do ids[i] = "F" .. i end
    local r, err = client:prepare_operation("files.download_urls", "IAADx", ids)
    assert.is_nil(r)
    assert.are.equal("fileIds", err.field)
  end)
end)

describe("recorded files:complete_upload", function()
  local SHA = ("0123456789abcdef"):rep(4)
  it("sends fileId and the sha256 (64 lowercase hex)", function()
    local c, t = fixtures.client("files-complete", "upload complete")
    local r, err = c.files:complete_upload("FiqNTAYdzXtKhenh29A9EXJvhaKQqcYVS", SHA)
    assert.is_nil(err)
    assert.are.same({ fileId = "FiqNTAYdzXtKhenh29A9EXJvhaKQqcYVS", completed = true }, r)
    assert.are.equal(SHA, json.decode(t.requests[1].body).sha256)
    assert.are.same({}, t:unused())
  end)

  it("reports the integrity failure 13000402 as an api error", function()
    local c = fixtures.client("files-complete", "integrity check failed (illustrative)")
    local r, err = c.files:complete_upload("FiqNTAYdzXtKhenh29A9EXJvhaKQqcYVS", SHA)
    assert.is_nil(r)
    assert.are.equal("api", err.kind)
    assert.are.equal(13000402, err.code)
  end)
end)

describe("file helpers", function()
  it("stat tells size, type and mtime; a missing path is an error with errno", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb")); f:write(("x"):rep(1000)); f:close()
    local st = assert(core.stat(path))
    assert.are.equal(1000, st.size)
    assert.are.equal("file", st.type)
    assert.is_true(math.abs(st.mtime - os.time()) < 120)
    assert.are.equal("directory", core.stat("/tmp").type)
    os.remove(path)
    local none, msg, errno = core.stat(path)
    assert.is_nil(none)
    assert.matches("No such file", msg)
    assert.are.equal(2, errno)
  end)

  it("release_memory gives the heap's free pages back to the system (glibc)", function()
    -- LuaJIT keeps its heap in its own allocator, and ASan and valgrind replace malloc: only
    -- PUC Lua on glibc's malloc can show it. Elsewhere it still answers with a boolean.
    if jit or require("support.timing").slow then
      assert.is_boolean(core.release_memory())
      return
    end
    local function rss_kib() return require("support.faults").proc_kb("VmRSS") end
    -- 20 MiB of 100 KiB strings (each under glibc's mmap threshold, so in the heap), all
    -- freed but the last, which keeps the heap's top from shrinking by itself.
    local keep = {}
    for i = 1, 200 do keep[i] = ("k"):rep(100 * 1024 - 1) .. string.char(i % 256) end
    local last = keep[200]
    keep = nil -- luacheck: ignore 311
    collectgarbage(); collectgarbage()
    local before = rss_kib()
    assert.is_true(core.release_memory())
    local after = rss_kib()
    assert.is_true(before - after > 8 * 1024, ("RSS %d -> %d KiB"):format(before, after))
    assert.are.equal(100 * 1024, #last)
  end)

  it("rename_noreplace moves a file to a free name and never over an existing one", function()
    local sys = require "support.sys"
    local dir = sys.tmp_dir()
    local function put(name, text) sys.write(dir .. "/" .. name, text) end
    local function get(name) return sys.read(dir .. "/" .. name) end
    put("a", "new")
    assert.is_true(core.rename_noreplace(dir .. "/a", dir .. "/b"))
    assert.are.same({ nil, "new" }, { get("a"), get("b") })
    put("c", "other")
    local ok, msg, errno = core.rename_noreplace(dir .. "/c", dir .. "/b")
    assert.is_nil(ok)
    assert.are.equal(17, errno)
    assert.matches("cannot rename to .*/b: File exists", msg)
    assert.are.same({ "other", "new" }, { get("c"), get("b") })
    ok, msg = core.rename_noreplace(dir .. "/none", dir .. "/d")
    assert.is_nil(ok)
    assert.matches("No such file", msg)
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("never writes through a link planted where it writes (write_atomic, create_new)", function()
    local dir = require("support.sys").tmp_dir()
    local victim = dir .. "/victim"
    local f = assert(io.open(victim, "wb")); f:write("mine"); f:close()
    local pid = assert(io.open("/proc/self/stat")):read("*l"):match("^(%d+)")
    -- the name write_atomic used to write first (path.tmp-PID), and the file itself
    assert(os.execute(("ln -s %s %s/j.tmp-%s"):format(victim, dir, pid)))
    assert.is_true(core.write_atomic(dir .. "/j", "journal"))
    assert.are.equal("mine", assert(io.open(victim, "rb")):read("*a"))
    assert.are.equal("journal", assert(io.open(dir .. "/j", "rb")):read("*a"))
    local left = io.popen("ls -A " .. dir):read("*a")
    assert.are.equal("j\nj.tmp-" .. pid .. "\nvictim\n", left) -- nothing else left behind
    assert(os.execute(("ln -s %s %s/part"):format(victim, dir)))
    local ok, msg, errno = core.create_new(dir .. "/part")
    assert.is_nil(ok)
    assert.are.equal(17, errno, msg)
    assert(os.execute(("ln -s %s/nothing %s/dangling"):format(dir, dir)))
    assert.is_nil((core.create_new(dir .. "/dangling")))
    assert.is_false(require("support.sys").succeeds("test -e " .. dir .. "/nothing"))
    assert.is_true(core.create_new(dir .. "/fresh"))
    assert.are.equal("", assert(io.open(dir .. "/fresh", "rb")):read("*a"))
    assert.are.equal("link", core.stat(dir .. "/part", true).type)
    assert.are.equal("file", core.stat(dir .. "/part").type)
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("write_atomic replaces a file whole and leaves nothing behind when it cannot", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local path = dir .. "/journal"
    assert(core.write_atomic(path, "first"))
    assert(core.write_atomic(path, "second"))
    assert.are.equal("second", assert(io.open(path)):read("*a"))
    local p = assert(io.popen("ls -A " .. dir))
    local listing = p:read("*a")
    p:close()
    assert.are.equal("journal\n", listing)
    local ok, msg = core.write_atomic(dir .. "/missing/journal", "x")
    assert.is_nil(ok)
    assert.matches("cannot create", msg)
    -- sync: a file's data made durable, or why not
    assert.is_true(core.sync(path))
    local none, why, errno = core.sync(dir .. "/missing/file")
    assert.is_nil(none)
    assert.matches("cannot open .*missing/file", why)
    assert.are.equal(2, errno)
    os.execute("rm -rf " .. dir)
  end)
end)
