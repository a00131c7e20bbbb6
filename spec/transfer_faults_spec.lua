-- What a faulty object store does to files:upload and files:download, against the local
-- service (its store armed through /_local/store: a PUT reset after N bytes, answers of a
-- given status, URLs expired at once) and what the process itself can fail at (a full disk,
-- a coroutine that cannot yield). Each outcome is checked on the store's own counters and
-- request log, not only on what the library says.
local koodrive = require "koodrive"
local json = require "koodrive.json"
local engine = require "koodrive.transfer.engine"
local download = require "koodrive.transfer.download"
local local_service = require "local_service"
local creds = require "local_credentials"

local server, c, space, dir
local MiB, PART = 1024 * 1024, 5242880

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end
local function sha(path) return (sh("sha256sum " .. path):match("^(%x+)")) end
local function exists(path) local f = io.open(path, "rb"); if f then f:close() end; return f ~= nil end
local function store(query) return json.decode((server.get("/_local/store" .. (query or "")))) end
local function log() return json.decode((server.get("/_local/requests"))) end
-- The paths of the requests the service saw since `before` (a log()).
local function since(before)
  local now = log()
  local out, new = {}, now.count - before.count
  for i = #now.requests - new + 1, #now.requests do out[#out + 1] = now.requests[i].path:match("[^/]+$") end
  return out
end
local function count(list, name)
  local n = 0
  for _, v in ipairs(list) do if v == name then n = n + 1 end end
  return n
end
local function file(name, size)
  local path = dir .. "/" .. name
  assert(os.execute("head -c " .. size .. " /dev/urandom > " .. path))
  return path
end

setup(function()
  server = local_service.start()
  dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  c = assert(koodrive.new { endpoint = server.url, user_id = creds.koodrive.user_id,
    token = "local-token-alice", timeout = 30, connect_timeout = 5 })
  space = assert(c.spaces:mine()).containerId
end)
teardown(function()
  if server then server.stop() end
  if dir then os.execute("rm -rf " .. dir) end
end)
after_each(function() store("?reset=1") end)

describe("an upload against a faulty store", function()
  it("sends a part reset mid-body again, alone, and the service accepts the file", function()
    local src = file("reset.bin", 3 * PART)
    local before = store()
    store("?reset_after=" .. MiB)
    local r = assert(c.files:upload(src, { containerId = space, fileName = "reset.bin", concurrency = 1 }))
    local after = store()
    assert.are.equal(3 * PART, after.bytes_received - before.bytes_received)
    assert.are.equal(3 * PART + MiB, after.bytes_read - before.bytes_read) -- one MiB sent twice
    assert.are.equal(3, after.puts - before.puts)
    assert.are.equal(sha(src), r.sha256)
  end)

  it("retries a part answered 503, then goes on", function()
    local src = file("busy.bin", 2 * PART + 10)
    local before = store()
    store("?status=503&count=2")
    assert(c.files:upload(src, { containerId = space, fileName = "busy.bin", concurrency = 1 }))
    local after = store()
    assert.are.equal(2 * PART + 10, after.bytes_received - before.bytes_received)
    assert.are.equal(2 * PART + 10 + 2 * PART, after.bytes_read - before.bytes_read) -- part 1 twice more
  end)

  it("gives up on a part after its attempts, names it, and completes nothing", function()
    local saved = engine.MAX_ATTEMPTS
    engine.MAX_ATTEMPTS = 3
    local src = file("down.bin", PART + 1)
    local mark = log()
    store("?status=500&count=100")
    local r, err = c.files:upload(src, { containerId = space, fileName = "down.bin", concurrency = 1 })
    engine.MAX_ATTEMPTS = saved
    assert.is_nil(r)
    assert.are.same({ "transport", 1, 500 }, { err.kind, err.part, err.status })
    assert.truthy(tostring(err):find("failed 3 times", 1, true))
    assert.is_nil(tostring(err):find("X-Amz-Signature=", 1, true))
    assert.are.equal(0, count(since(mark), "complete"))
    assert.is_true(exists(dir .. "/.down.bin.koodrive-upload")) -- for the next run
  end)

  it("fetches fresh URLs for every part left when they expire mid-upload, once", function()
    local src = file("expire.bin", 4 * PART)
    local mark, armed = log(), false
    local r = assert(c.files:upload(src, { containerId = space, fileName = "expire.bin", concurrency = 1,
      progress = function(done)
        if done >= PART and not armed then armed = true; store("?expire=1") end
      end }))
    assert.is_true(armed)
    assert.are.equal(1, count(since(mark), "uploadUrl"))
    assert.are.equal(sha(src), r.sha256) -- and the service checked every part and the whole
  end)

  it("stops when a fresh URL is refused too, with the part named, after one uploadUrl", function()
    local src = file("deny.bin", PART)
    local mark = log()
    store("?status=403&count=100")
    local r, err = c.files:upload(src, { containerId = space, fileName = "deny.bin", concurrency = 1 })
    assert.is_nil(r)
    assert.are.equal(403, err.status)
    assert.truthy(tostring(err):find("refused again after a fresh URL", 1, true))
    local calls = since(mark)
    assert.are.same({ 1, 0 }, { count(calls, "uploadUrl"), count(calls, "complete") })
  end)
end)

describe("a source that changes", function()
  it("while its parts are sent is never completed", function()
    local src = file("moving.bin", 2 * PART)
    local mark, touched = log(), false
    local r, err = c.files:upload(src, { containerId = space, fileName = "moving.bin", concurrency = 1,
      progress = function(done)
        if done >= PART and not touched then
          touched = true
          assert(os.execute("printf more >> " .. src))
        end
      end })
    assert.is_true(touched)
    assert.is_nil(r)
    assert.are.same({ "io", "source" }, { err.kind, err.field })
    assert.are.equal(0, count(since(mark), "complete"))
    assert.is_false(exists(dir .. "/.moving.bin.koodrive-upload"))
  end)
end)

describe("a download against a faulty store", function()
  local saved
  before_each(function() saved = download.RANGE; download.RANGE = PART end)
  after_each(function() download.RANGE = saved end)

  local function uploaded(name, size)
    local src = file(name, size)
    return src, assert(c.files:upload(src, { containerId = space, fileName = name })).fileId
  end

  it("asks for a fresh URL when its URL expires mid-download and continues", function()
    local src, id = uploaded("dl-expire.bin", 3 * PART + 5)
    local dest, armed, mark = dir .. "/dl-expire.out", false, log()
    assert(c.files:download(id, dest, { containerId = space, concurrency = 1,
      progress = function(done)
        if done >= PART and not armed then armed = true; store("?expire=1") end
      end }))
    assert.are.equal(sha(src), sha(dest))
    assert.are.equal(2, count(since(mark), "download"))
  end)

  it("after a crash mid-download, the rerun fetches only the ranges its journal lists", function()
    local src, id = uploaded("dl-crash.bin", 4 * PART)
    local dest = dir .. "/dl-crash.out"
    local every = download.CHECKPOINT
    download.CHECKPOINT = 0 -- a checkpoint (sync, then journal) after every range
    local ok = pcall(c.files.download, c.files, id, dest, { containerId = space, concurrency = 1,
      progress = function(done) if done >= 2 * PART then error("power cut", 0) end end })
    download.CHECKPOINT = every
    assert.is_false(ok)
    assert.is_false(exists(dest))
    local j = json.decode(assert(io.open(dest .. ".koodrive-download")):read("*a"))
    local written = #j.done
    assert.is_true(written >= 1) -- (the second range may have all its bytes and not be settled yet)
    local before = store().gets
    assert(c.files:download(id, dest, { containerId = space, concurrency = 2 }))
    assert.are.equal(4 - written, store().gets - before)
    assert.are.equal(sha(src), sha(dest))
    assert.is_false(exists(dest .. ".koodrive-part"))
  end)

  it("never lists a range written since the last checkpoint: after a crash it is fetched again", function()
    local src, id = uploaded("dl-nock.bin", 3 * PART)
    local dest = dir .. "/dl-nock.out"
    local every = download.CHECKPOINT
    download.CHECKPOINT = 3600
    local ok = pcall(c.files.download, c.files, id, dest, { containerId = space, concurrency = 1,
      progress = function(done) if done >= 2 * PART then error("power cut", 0) end end })
    download.CHECKPOINT = every
    assert.is_false(ok)
    assert.is_false(exists(dest .. ".koodrive-download")) -- nothing was made durable: nothing claimed
    local before = store().gets
    assert(c.files:download(id, dest, { containerId = space }))
    assert.are.equal(3, store().gets - before)
    assert.are.equal(sha(src), sha(dest))
  end)

  it("reports a full disk as an io error and puts nothing at the destination", function()
    local _, id = uploaded("dl-full.bin", 2 * PART)
    local dest = dir .. "/dl-full.out"
    local script = dir .. "/full.lua"
    local f = assert(io.open(script, "w"))
    f:write(string.format([[
local koodrive = require "koodrive"
local c = assert(koodrive.new { endpoint = %q, user_id = %q, token = "local-token-alice" })
local r, err = c.files:download(%q, %q, { containerId = %q })
io.write(r and "ok" or (err.kind .. " " .. tostring(err.field) .. " " .. tostring(err)))
]], server.url, creds.koodrive.user_id, id, dest, space))
    f:close()
    local lua = arg and arg[-1] or "lua5.4"
    -- Files may grow to 1 MiB (or 2, depending on the shell's unit) in the child, as on a full
    -- disk: a write past it fails (EFBIG) instead of killing the process (SIGXFSZ ignored).
    local out = sh(string.format("sh -c \"trap '' XFSZ; ulimit -f 2048; exec %s %s\" 2>&1", lua, script))
    assert.truthy(out:find("^io dest "), out)
    assert.truthy(out:find("cannot write", 1, true), out)
    assert.is_false(exists(dest))
  end)
end)

describe("where the caller cannot wait", function()
  it("a transfer in a loop task inside table.sort sends nothing and says why", function()
    local mark, before = log(), store()
    local r, err
    koodrive.run(function()
      table.sort({ 2, 1 }, function(a, b)
        if not err then r, err = c.files:upload({ data = "never sent" }, { containerId = space, fileName = "ny.txt" }) end
        return a < b
      end)
    end)
    assert.is_nil(r)
    assert.are.equal("not_yieldable", err.reason)
    assert.are.equal(0, #since(mark))
    assert.are.equal(before.puts, store().puts)
  end)
end)
