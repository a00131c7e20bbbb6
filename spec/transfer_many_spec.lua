-- files:upload_many and files:download_many against the local service: a bounded batch in
-- which every item is checked before anything is sent and ends up in exactly one of done /
-- failed / uncertain, with the service's own checks (parts, hashCtx, sha256) on every upload.
local koodrive = require "koodrive"
local json = require "koodrive.json"
local download = require "koodrive.transfer.download"
local local_service = require "local_service"
local creds = require "local_credentials"

local server, c, space, dir
local MiB = 1024 * 1024

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end
local function sha(path) return (sh("sha256sum " .. path):match("^(%x+)")) end
local function sha_of(s)
  local f = assert(io.open(dir .. "/tmp.sha", "wb")); f:write(s); f:close()
  return sha(dir .. "/tmp.sha")
end
local function log() return json.decode((server.get("/_local/requests"))) end
local function file(name, size)
  local path = dir .. "/" .. name
  assert(os.execute("head -c " .. size .. " /dev/urandom > " .. path))
  return path
end
local tag = 0
local function unique(name) tag = tag + 1; return tag .. "-" .. name end

setup(function()
  server = local_service.start()
  dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir .. "/in " .. dir .. "/out"))
  c = assert(koodrive.new { endpoint = server.url, user_id = creds.koodrive.user_id,
    token = "local-token-alice", timeout = 30, connect_timeout = 5 })
  space = assert(c.spaces:mine()).containerId
end)
teardown(function()
  if server then server.stop() end
  if dir then os.execute("rm -rf " .. dir) end
end)

describe("files:upload_many", function()
  it("uploads paths, bytes and items with their own options, two at a time, every one accounted for", function()
    local a, b = file("in/a.bin", 6 * MiB + 1), file("in/b.bin", 3)
    local names = { unique("a.bin"), unique("bytes.txt"), unique("b.bin") }
    local seen, items_done, last = 0, {}, -1
    local r = assert(c.files:upload_many({
      { source = a, fileName = names[1], concurrency = 2 },
      { source = { data = "in memory" }, fileName = names[2] },
      { source = b, fileName = names[3] },
    }, { containerId = space, files = 2,
      progress = function(done, total)
        assert.is_true(done >= last and done <= total)
        last, seen = done, total
      end,
      on_item = function(i, result) items_done[#items_done + 1] = { i, result and result.fileName } end }))
    assert.are.same({ 3, 0, 0 }, { #r.done, #r.failed, #r.uncertain })
    table.sort(r.done, function(x, y) return x.index < y.index end)
    assert.are.same({ sha(a), sha_of("in memory"), sha(b) },
      { r.done[1].result.sha256, r.done[2].result.sha256, r.done[3].result.sha256 })
    assert.are.equal(a, r.done[1].source)
    assert.are.equal(6 * MiB + 1 + 9 + 3, seen)
    assert.are.equal(seen, last)
    assert.are.equal(3, #items_done)
  end)

  it("refuses the whole batch, naming the item, before anything is sent", function()
    local a = file("in/c.bin", 10)
    local cases = {
      { { a, dir .. "/in/none.bin" }, "items[2].source" },
      { { a, { source = a, fileName = "x" } }, "items[2].source" }, -- one journal, two uploads
      { { { data = "x" } }, "items[1].fileName" },
      { { a, { source = a, fileName = "a/b" } }, "items[2].fileName" },
      { {}, "items" },
    }
    local mark = log()
    for _, case in ipairs(cases) do
      local r, err = c.files:upload_many(case[1], { containerId = space })
      assert.is_nil(r)
      assert.are.equal(case[2], err.field, tostring(err))
    end
    local _, err = c.files:upload_many({ a }, { containerId = space, files = 99 })
    assert.are.equal("files", err.field)
    assert.are.equal(mark.count, log().count)
  end)

  it("reports the item the service refuses as failed and uploads the others", function()
    local name = unique("taken.bin")
    assert(c.files:upload({ data = "first" }, { containerId = space, fileName = name }))
    local r = assert(c.files:upload_many({
      { source = { data = "second" }, fileName = name },      -- autoRename 3: refused
      { source = { data = "third" }, fileName = unique("free.bin") },
    }, { containerId = space, files = 1 }))
    assert.are.same({ 1, 1 }, { #r.done, #r.failed })
    assert.are.same({ 2, 1 }, { r.done[1].index, r.failed[1].index })
    assert.are.equal("api", r.failed[1].error.kind)
  end)
end)

describe("files:download_many", function()
  local function put(name, size, parent)
    local src = file("in/" .. name, size)
    local r = assert(c.files:upload(src, { containerId = space, fileName = name, parentFolder = parent }))
    return src, r.fileId
  end

  it("downloads into a folder under each file's name, and to explicit paths", function()
    local n1, n2 = unique("one.bin"), unique("two.bin")
    local s1, id1 = put(n1, 5 * MiB + 3)
    local s2, id2 = put(n2, 100)
    local out = dir .. "/out"
    local r = assert(c.files:download_many({ id1, { fileId = id2, dest = out .. "/renamed.bin" } },
      { containerId = space, dir = out }))
    assert.are.same({ 2, 0 }, { #r.done, #r.failed })
    assert.are.equal(sha(s1), sha(out .. "/" .. n1))
    assert.are.equal(sha(s2), sha(out .. "/renamed.bin"))
  end)

  it("never lets two items write one destination", function()
    local name = unique("same.bin")
    local folder = assert(c.files:mkdir { fileName = unique("elsewhere"), containerId = space })
    local _, id1 = put(name, 1000)
    local _, id2 = put(name, 2000, { folder.id })
    local out = dir .. "/out/dup"
    assert(os.execute("mkdir -p " .. out))
    local r = assert(c.files:download_many({ id1, id2 }, { containerId = space, dir = out, files = 2 }))
    assert.are.same({ 1, 1 }, { #r.done, #r.failed })
    assert.truthy(({ exists = true, duplicate = true })[r.failed[1].error.rule], tostring(r.failed[1].error))
    local size = #assert(io.open(out .. "/" .. name, "rb")):read("*a")
    assert.are.equal(r.done[1].index == 1 and 1000 or 2000, size)
    -- explicit destinations are checked before any call
    local mark = log()
    local none, err = c.files:download_many({ { fileId = id1, dest = out .. "/x" }, { fileId = id2, dest = out .. "/x" } },
      { containerId = space })
    assert.is_nil(none)
    assert.are.same({ "items[2].dest", "duplicate" }, { err.field, err.rule })
    assert.are.equal(mark.count, log().count)
  end)

  it("takes only plain names from the service for a folder", function()
    for _, bad in ipairs { "", ".", "..", "../up", "a/b", ".hidden", "nul\0byte", ("x"):rep(256), 7 } do
      assert.is_nil(download.safe_name(bad), tostring(bad))
    end
    for _, good in ipairs { "a.bin", "文件.txt", "a..", "x y" } do
      assert.are.equal(good, download.safe_name(good))
    end
  end)
end)
