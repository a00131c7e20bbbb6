-- files:upload and files:download (koodrive-transfer-api.md §7): the bytes go through real
-- libcurl (koodrive.curl.parts) to a real Debian nginx acting as the object store (dav PUT,
-- static ranged GET, Lua locations for refusals); the KooDrive calls around them are answered
-- by a scripted transport that records what was asked, so that each spec can say exactly what
-- the flow sent, when, and what it did not send.
local koodrive = require "koodrive"
local json = require "koodrive.json"
local nginx = require "support.nginx"
local download = require "koodrive.transfer.download"

local CONF = [[
@MAIN@
events { worker_connections 256; }
http {
  access_log off;
  @TEMP_PATHS@
  server {
    listen 127.0.0.1:@PORT@;
    client_max_body_size 0;
    location /store/ { root @PREFIX@/www; dav_methods PUT; create_full_put_path on; }
    location /norange/ { alias @PREFIX@/www/store/; max_ranges 0; }
    location /deny/ { return 403 "<Error><Code>AccessDenied</Code></Error>"; }
    location /e500/ { return 500 "busy"; }
    location /echo/ {
      content_by_lua_block {
        ngx.req.discard_body()
        ngx.status = 500
        ngx.print("<Error>you sent ", ngx.var.args, " that is ", ngx.unescape_uri(ngx.var.args), "</Error>")
      }
    }
  }
}
]]

local srv, www
local IV = { 1779033703, 3144134277, 1013904242, 2773480762, 1359893119, 2600822924, 528734635, 1541459225 }
local MiB = 1024 * 1024

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end
local function sha(path) return (sh("sha256sum " .. path):match("^(%x+)")) end
local function exists(path) local f = io.open(path, "rb"); if f then f:close() end; return f ~= nil end

setup(function()
  srv = nginx.start { conf = CONF }
  www = srv.dir .. "/www/store"
  assert(os.execute("mkdir -p " .. www .. " && chmod 777 " .. www))
end)
teardown(function() if srv then srv.stop() end end)

-- A scripted KooDrive: answers create / uploadUrl / complete / detail / download from `state`
-- and records every call. `state.url(fileId, partNumber, kind)` makes part URLs.
local function service(state)
  local calls = {}
  local function ok(t) t.code = 0; t.msg = "success"; return { status = 200, headers = {}, body = json.encode(t) } end
  local function urls(parts, kind)
    local out = {}
    for _, p in ipairs(parts) do
      out[#out + 1] = { partNumber = p.partNumber, uploadUrl = state.url(state.file_id, p.partNumber, kind) }
    end
    return json.array(out)
  end
  local t = { calls = calls }
  function t.send(_, req)
    local path = req.url:match("^https?://[^/]+(/[^?]*)")
    local body = req.body and json.decode(req.body) or {}
    calls[#calls + 1] = { path = path, body = body }
    if path:find("/files/create$") then
      state.created = body
      if state.rapid then return ok { fileId = "Frapid", fileName = body.fileName, rapidUpload = true } end
      return ok { fileId = state.file_id, fileName = body.fileName, rapidUpload = false,
        multiParts = urls(body.multiParts, "create") }
    elseif path:find("/uploadUrl$") then
      return ok { multiParts = urls(body.multiParts, "fresh") }
    elseif path:find("/complete$") then
      local code = state.complete_codes and table.remove(state.complete_codes, 1)
      if code then return { status = 200, headers = {}, body = json.encode { code = code, msg = "refused" } } end
      if state.complete_fails then
        state.complete_fails = state.complete_fails - 1
        if state.complete_fails >= 0 then
          return { status = 500, headers = {}, body = json.encode { code = 13000201, msg = "inner error" } }
        end
      end
      return ok {}
    elseif path:find("/detail$") then
      return ok { id = state.file_id, fileName = state.name or "blob", size = state.size, sha256 = state.sha256 }
    elseif path:find("/files/download$") then
      return ok { batchCode = 1, downloads = json.array { { fileId = state.file_id, fileName = "blob",
        url = state.download_url(state.round) } } }
    end
    return { status = 404, headers = {}, body = "{}" }
  end
  return t
end

local function client(t)
  return assert(koodrive.new { endpoint = "http://127.0.0.1:1", user_id = "1", token = "flow-token",
    transport = t, retries = false })
end

local function paths(calls)
  local out = {}
  for i, c in ipairs(calls) do out[i] = c.path:match("[^/]+$") end
  return table.concat(out, " ")
end

local function source(name, size)
  local path = srv.dir .. "/" .. name
  assert(os.execute(string.format("head -c %d /dev/urandom > %s", size, path)))
  return path
end

local function store_url(id, n) return srv.url .. "/store/" .. id .. "." .. n .. "?X-Amz-Signature=sig-secret-" .. n end
local function stored_sha(id, count)
  local list = {}
  for n = 1, count do list[n] = www .. "/" .. id .. "." .. n end
  return (sh("cat " .. table.concat(list, " ") .. " | sha256sum"):match("^(%x+)"))
end

-- An upload whose complete failed once (a 500): the journal it left lists every part stored.
local function failed_once(name, size, file_id)
  local src = source(name, size)
  local state = { file_id = file_id, url = store_url, complete_fails = 1 }
  local t = service(state)
  local c = client(t)
  assert.is_nil((c.files:upload(src, { containerId = "IAADx" })))
  local jpath = srv.dir .. "/." .. name .. ".koodrive-upload"
  assert.is_true(exists(jpath))
  return src, state, t, c, jpath
end

describe("files:upload", function()
  it("hashes once, creates with partOffset and hashCtx, PUTs the parts in parallel, completes", function()
    local src = source("a.bin", 23 * MiB + 17)
    local state = { file_id = "Fa", url = store_url }
    local t = service(state)
    local seen = {}
    local r = assert(client(t).files:upload(src, { containerId = "IAADx", concurrency = 4,
      progress = function(d, total) seen[#seen + 1] = d; assert.are.equal(23 * MiB + 17, total) end }))
    assert.are.equal("create complete", paths(t.calls))
    assert.are.equal(sha(src), r.sha256)
    assert.are.same({ "Fa", 23 * MiB + 17, 5, 0, false }, { r.fileId, r.size, r.parts, r.resumed_parts, r.rapidUpload })
    assert.are.equal(r.sha256, stored_sha("Fa", 5))
    local c = state.created
    assert.are.same({ "multipart", 1, 3, r.sha256, 23 * MiB + 17 }, { c.uploadMode, c.uploadType, c.autoRename, c.sha256, c.length })
    assert.are.equal(5, #c.multiParts)
    assert.are.same(IV, c.multiParts[1].hashCtx)
    for i, p in ipairs(c.multiParts) do
      assert.are.equal((i - 1) * 5242880, p.partOffset)
      assert.are.equal(8, #p.hashCtx)
    end
    assert.are.equal(t.calls[2].body.sha256, r.sha256)
    assert.is_true(#seen > 0 and seen[#seen] == 23 * MiB + 17)
    assert.is_false(exists(srv.dir .. "/.a.bin.koodrive-upload"))
  end)

  it("after the create of many parts, runs the collector in bounded steps, never all at once", function()
    local upload = require "koodrive.transfer.upload"
    local real, steps, full = collectgarbage, 0, 0
    local function counting(what, ...)
      if what == "step" then steps = steps + 1 elseif what == nil or what == "collect" then full = full + 1 end
      return real(what, ...)
    end
    local src = source("gc.bin", 11 * MiB)
    local function run(from)
      upload.COLLECT_FROM, steps, full = from, 0, 0
      _G.collectgarbage = counting
      local files = client(service { file_id = "Fgc", url = store_url }).files
      local ok, r, err = pcall(files.upload, files, src, { containerId = "IAADx", journal = false })
      _G.collectgarbage = real
      upload.COLLECT_FROM = 64
      assert(ok, r)
      return assert(r, err)
    end
    assert.are.equal(3, run(64).parts)
    assert.are.same({ 0, 0 }, { steps, full }, "3 parts are below the threshold")
    assert.are.equal(3, run(3).parts)
    assert.is_true(steps >= 1 and steps <= 32, steps .. " steps")
    assert.are.equal(0, full)
  end)

  it("sends one part of bytes in memory without partOffset or hashCtx (sequential)", function()
    local state = { file_id = "Fm", url = store_url }
    local t = service(state)
    local r = assert(client(t).files:upload({ data = "hello, drive" }, { containerId = "IAADx", fileName = "hi.txt" }))
    assert.are.equal(12, r.size)
    assert.are.equal("hello, drive", assert(io.open(www .. "/Fm.1")):read("*a"))
    assert.is_nil(state.created.multiParts[1].hashCtx)
    assert.is_nil(state.created.multiParts[1].partOffset)
  end)

  it("is done at create when the service has the content (rapidUpload): no PUT, no complete", function()
    local state = { file_id = "Fr", url = store_url, rapid = true }
    local t = service(state)
    local r = assert(client(t).files:upload({ data = ("z"):rep(1000) }, { containerId = "IAADx", fileName = "z" }))
    assert.is_true(r.rapidUpload)
    assert.are.equal("create", paths(t.calls))
    assert.is_false(exists(www .. "/Fr.1"))
  end)

  it("gets a fresh URL for a part refused with 403, once, and continues", function()
    local state = { file_id = "Fd", url = function(id, n, kind)
      if kind == "create" and n == 2 then return srv.url .. "/deny/x?X-Amz-Signature=old" end
      return store_url(id, n)
    end }
    local t = service(state)
    local src = source("d.bin", 11 * MiB)
    local r = assert(client(t).files:upload(src, { containerId = "IAADx" }))
    assert.are.equal("create uploadUrl complete", paths(t.calls))
    -- Fresh URLs for every part not stored yet (parts handed out together expire together),
    -- part 2 among them, each as create described it.
    local asked = {}
    for _, p in ipairs(t.calls[2].body.multiParts) do
      asked[p.partNumber] = true
      assert.are.same(state.created.multiParts[p.partNumber], p)
    end
    assert.is_true(asked[2])
    assert.are.equal(sha(src), stored_sha("Fd", 3))
    assert.are.equal(r.sha256, sha(src))
  end)

  it("gives up on a part the store keeps refusing, says which, and never shows the URL's signature", function()
    local state = { file_id = "Fe", url = function(id, n)
      if n == 1 then return srv.url .. "/e500/x?X-Amz-Signature=sig-secret-e" end
      return store_url(id, n)
    end }
    local t = service(state)
    local r, err = client(t).files:upload({ data = ("e"):rep(100) }, { containerId = "IAADx", fileName = "e" })
    assert.is_nil(r)
    assert.are.equal("transport", err.kind)
    assert.are.equal(1, err.part)
    assert.are.equal(500, err.status)
    assert.is_nil(tostring(err):find("sig-secret", 1, true))
    assert.are.equal("create", paths(t.calls)) -- never completed
  end)

  it("keeps every value of a part URL's query out of the error when the store echoes them", function()
    local state = { file_id = "Fecho", url = function()
      return srv.url .. "/echo/x?X-Amz-Credential=AKLOCAL%2F20261203%2Fobs&X-Amz-Expires=60" ..
        "&X-Amz-Signature=5ec4e7c0ffee5ec4e7"
    end }
    local r, err = client(service(state)).files:upload({ data = "echo" }, { containerId = "IAADx", fileName = "echo" })
    assert.is_nil(r)
    local text = tostring(err)
    assert.truthy(text:find("you sent", 1, true), text) -- the store's answer is shown...
    for _, secret in ipairs { "5ec4e7c0ffee5ec4e7", "AKLOCAL%2F20261203", "AKLOCAL/20261203" } do
      assert.is_nil(text:find(secret, 1, true), text) -- ...without what the URL carried
    end
  end)

  it("after a failure, the same upload again sends only the parts its journal has not stored", function()
    local src = source("j.bin", 16 * MiB)
    local state = { file_id = "Fj", url = store_url, complete_fails = 1 }
    local t = service(state)
    local c = client(t)
    local r, err = c.files:upload(src, { containerId = "IAADx" })
    assert.is_nil(r)
    assert.are.equal("api", err.kind)
    local jpath = srv.dir .. "/.j.bin.koodrive-upload"
    local j = json.decode(assert(io.open(jpath)):read("*a"))
    assert.are.same({ 1, 2, 3, 4 }, (function() table.sort(j.stored); return j.stored end)())
    local text = assert(io.open(jpath)):read("*a")
    assert.is_nil(text:find("sig-secret", 1, true))
    assert.is_nil(text:find("flow-token", 1, true))
    -- What the store holds is gone now: a second run that PUT anything would bring it back.
    os.execute("rm -f " .. www .. "/Fj.*")
    local before = #t.calls
    r = assert(c.files:upload(src, { containerId = "IAADx" }))
    assert.are.equal(4, r.resumed_parts)
    assert.are.equal("complete", t.calls[#t.calls].path:match("[^/]+$"))
    assert.are.equal(before + 1, #t.calls) -- no create, no uploadUrl: only complete
    assert.is_false(exists(www .. "/Fj.1"))
    assert.is_false(exists(jpath))
  end)

  it("sends every part again, once, when the service refuses a resumed upload's complete (13000402)", function()
    local src, state, t, c, jpath = failed_once("r.bin", 16 * MiB, "Fr")
    -- The journal lists all four parts, but the store lost them: complete says 13000402 once.
    os.execute("rm -f " .. www .. "/Fr.*")
    state.complete_codes = { 13000402 }
    local before = #t.calls
    local r = assert(c.files:upload(src, { containerId = "IAADx" }))
    local after = {}
    for i = before + 1, #t.calls do after[#after + 1] = t.calls[i].path:match("[^/]+$") end
    assert.are.equal("complete uploadUrl complete", table.concat(after, " "))
    assert.are.equal(4, #t.calls[before + 2].body.multiParts)
    assert.are.same({ 4, 0 }, { r.parts, r.resumed_parts })
    assert.are.equal(sha(src), stored_sha("Fr", 4))
    assert.is_false(exists(jpath))
  end)

  it("drops the journal of an upload the service refuses as a whole, so the next run starts anew", function()
    local src, state, t, c, jpath = failed_once("s.bin", 6 * MiB, "Fs")
    state.complete_codes = { 13000402, 13000402 }
    local r, err = c.files:upload(src, { containerId = "IAADx" })
    assert.is_nil(r)
    assert.are.same({ "api", 13000402 }, { err.kind, err.code })
    assert.is_false(exists(jpath))
    assert.are.equal("create complete complete uploadUrl complete", paths(t.calls))
    assert(c.files:upload(src, { containerId = "IAADx" }))
    assert.are.equal("create", t.calls[6].path:match("[^/]+$"))
  end)

  it("counts only the journal's part numbers that are in the plan, each once", function()
    local src, _, t, c, jpath = failed_once("u.bin", 11 * MiB, "Fu")
    local j = json.decode(assert(io.open(jpath)):read("*a"))
    j.stored = json.array { 1, 1, 1, "2", 2.5, 99, -1, 0 }
    local f = assert(io.open(jpath, "wb")); f:write(json.encode(j)); f:close()
    local before = #t.calls
    local r = assert(c.files:upload(src, { containerId = "IAADx" }))
    assert.are.equal(1, r.resumed_parts)
    assert.are.same({ 2, 3 }, { t.calls[before + 1].body.multiParts[1].partNumber,
      t.calls[before + 1].body.multiParts[2].partNumber })
    assert.are.equal(2, #t.calls[before + 1].body.multiParts)
    assert.are.equal(sha(src), stored_sha("Fu", 3))
  end)

  it("starts a new upload when the source changed since its journal was written", function()
    local src = source("k.bin", 6 * MiB)
    local state = { file_id = "Fk", url = store_url, complete_fails = 1 }
    local t = service(state)
    local c = client(t)
    assert.is_nil((c.files:upload(src, { containerId = "IAADx" })))
    os.execute("head -c 6291456 /dev/urandom > " .. src) -- same size, other bytes and mtime
    local r = assert(c.files:upload(src, { containerId = "IAADx" }))
    assert.are.equal(0, r.resumed_parts)
    assert.are.equal("create complete create complete", paths(t.calls))
    assert.are.equal(sha(src), stored_sha("Fk", 2))
  end)

  it("in a koodrive.loop task, leaves the loop free for other tasks while it hashes and sends", function()
    local src = source("l.bin", 12 * MiB)
    local t = service { file_id = "Fl", url = store_url }
    local c = client(t)
    local ticks, done = 0, false
    local r = koodrive.run(function()
      koodrive.spawn(function()
        while not done do ticks = ticks + 1; require("koodrive.scheduler").sleep(0.005) end
      end)
      local result = c.files:upload(src, { containerId = "IAADx" })
      done = true
      return result
    end)
    assert.is_table(r)
    assert.are.equal(sha(src), stored_sha("Fl", 3))
    assert.is_true(ticks >= 3, "the other task ran " .. ticks .. " times")
  end)

  it("refuses bad input before reading or sending anything", function()
    local t = service { file_id = "Fx", url = store_url }
    local c = client(t)
    local cases = {
      { "/nonexistent/file", { containerId = "IAADx" }, "source" },
      { srv.dir, { containerId = "IAADx" }, "source" },
      { { data = "x" }, { containerId = "IAADx" }, "fileName" },
      { { data = "x" }, { fileName = "x" }, "containerId" },
      { { data = "x" }, { containerId = "IAADx", fileName = "a/b" }, "fileName" },
      { { data = "x" }, { containerId = "IAADx", fileName = "x", part_size = 1000 }, "part_size" },
      { { data = "x" }, { containerId = "IAADx", fileName = "x", concurrency = 0 }, "concurrency" },
      { { data = "x" }, { containerId = "IAADx", fileName = "x", nope = 1 }, "options" },
    }
    for _, case in ipairs(cases) do
      local r, err = c.files:upload(case[1], case[2])
      assert.is_nil(r)
      assert.are.equal(case[3], err.field, tostring(err))
    end
    assert.are.equal(0, #t.calls)
  end)
end)

describe("files:download", function()
  local saved
  before_each(function() saved = download.RANGE; download.RANGE = 5 * MiB end)
  after_each(function() download.RANGE = saved end)

  local function prepared(size)
    local src = source("dl.bin", size)
    os.execute("cp " .. src .. " " .. www .. "/Fdl.bin")
    return src
  end

  it("fetches ranges in parallel into a temporary file and renames it into place", function()
    local src = prepared(21 * MiB + 3)
    local state = { file_id = "Fdl", size = 21 * MiB + 3,
      download_url = function() return srv.url .. "/store/Fdl.bin?X-Amz-Signature=s" end }
    local t = service(state)
    local dest = srv.dir .. "/out1.bin"
    local r = assert(client(t).files:download("Fdl", dest, { containerId = "IAADx", concurrency = 4 }))
    assert.are.same({ "Fdl", dest, 21 * MiB + 3 }, { r.fileId, r.path, r.size })
    assert.are.equal(sha(src), sha(dest))
    assert.is_false(exists(dest .. ".koodrive-part"))
    assert.is_false(exists(dest .. ".koodrive-download"))
    -- overwrite = false (the default) refuses an existing destination before any call
    local before = #t.calls
    local again, err = client(t).files:download("Fdl", dest, { containerId = "IAADx" })
    assert.is_nil(again)
    assert.are.equal("exists", err.rule)
    assert.are.equal(before, #t.calls)
  end)

  it("leaves a file that appears at the destination while it runs (overwrite = false)", function()
    local src = prepared(11 * MiB)
    local state = { file_id = "Fdl", size = 11 * MiB, sha256 = sha(src),
      download_url = function() return srv.url .. "/store/Fdl.bin" end }
    local dest = srv.dir .. "/raced.bin"
    local planted = false
    local r, err = client(service(state)).files:download("Fdl", dest, { containerId = "IAADx",
      progress = function()
        if not planted then
          planted = true
          local f = assert(io.open(dest, "wb")); f:write("theirs"); f:close()
        end
      end })
    assert.is_true(planted)
    assert.is_nil(r)
    assert.are.same({ "io", "dest", "exists" }, { err.kind, err.field, err.rule })
    assert.are.equal("theirs", assert(io.open(dest, "rb")):read("*a"))
    assert.are.equal(sha(src), sha(dest .. ".koodrive-part")) -- verified, kept for the rerun
    -- the same download with overwrite = true takes the kept bytes: no range is fetched again
    local t = service(state)
    r = assert(client(t).files:download("Fdl", dest, { containerId = "IAADx", overwrite = true }))
    assert.are.equal(sha(src), sha(r.path))
    assert.is_false(exists(dest .. ".koodrive-part"))
    assert.is_false(exists(dest .. ".koodrive-download"))
  end)

  it("never writes through a link planted at its part file's name", function()
    local src = prepared(6 * MiB)
    local state = { file_id = "Fdl", size = 6 * MiB, download_url = function() return srv.url .. "/store/Fdl.bin" end }
    local dest, victim = srv.dir .. "/linked.bin", srv.dir .. "/victim.txt"
    local f = assert(io.open(victim, "wb")); f:write("mine"); f:close()
    assert(os.execute("ln -sf " .. victim .. " " .. dest .. ".koodrive-part"))
    local r = assert(client(service(state)).files:download("Fdl", dest, { containerId = "IAADx" }))
    assert.are.equal(sha(src), sha(r.path))
    assert.are.equal("mine", assert(io.open(victim, "rb")):read("*a"))
    -- planted with a journal that says a range is done: the link is refused, not written through
    local jf = assert(io.open(dest .. ".koodrive-download", "wb"))
    jf:write(json.encode { fileId = "Fdl", size = 6 * MiB, done = json.array { 1 } }); jf:close()
    assert(os.execute("ln -sf " .. victim .. " " .. dest .. ".koodrive-part"))
    local again, err = client(service(state)).files:download("Fdl", srv.dir .. "/linked.bin",
      { containerId = "IAADx", overwrite = true })
    assert.is_nil(again)
    assert.are.equal("io", err.kind)
    assert.are.equal("mine", assert(io.open(victim, "rb")):read("*a"))
    assert.are.equal(sha(src), sha(dest))
  end)

  it("restarts from 0 in one GET when the store ignores Range", function()
    local src = prepared(12 * MiB)
    -- (with the SHA-256 in the detail: the file written again from 0 is the one checked)
    local t = service { file_id = "Fdl", size = 12 * MiB, sha256 = sha(src),
      download_url = function() return srv.url .. "/norange/Fdl.bin" end }
    local dest = srv.dir .. "/out2.bin"
    assert(client(t).files:download("Fdl", dest, { containerId = "IAADx" }))
    assert.are.equal(sha(src), sha(dest))
  end)

  it("asks for a fresh URL after a 403 and continues", function()
    local src = prepared(7 * MiB)
    local state = { file_id = "Fdl", size = 7 * MiB, round = 0 }
    state.download_url = function()
      state.round = state.round + 1
      return state.round == 1 and (srv.url .. "/deny/Fdl.bin") or (srv.url .. "/store/Fdl.bin")
    end
    local t = service(state)
    local dest = srv.dir .. "/out3.bin"
    assert(client(t).files:download("Fdl", dest, { containerId = "IAADx", concurrency = 1 }))
    assert.are.equal(sha(src), sha(dest))
    assert.are.equal(2, state.round)
  end)

  it("checks the SHA-256 a detail gives and keeps bytes that do not match from the destination", function()
    local src = prepared(6 * MiB)
    local state = { file_id = "Fdl", size = 6 * MiB, sha256 = sha(src):upper(),
      download_url = function() return srv.url .. "/store/Fdl.bin" end }
    local dest = srv.dir .. "/out5.bin"
    assert(client(service(state)).files:download("Fdl", dest, { containerId = "IAADx" }))
    assert.are.equal(sha(src), sha(dest))
    state.sha256 = ("0"):rep(64)
    local r, err = client(service(state)).files:download("Fdl", dest .. "x", { containerId = "IAADx" })
    assert.is_nil(r)
    assert.are.equal("sha256", err.rule)
    assert.is_false(exists(dest .. "x"))
    assert.is_false(exists(dest .. "x.koodrive-part")) -- bytes known bad are not kept to resume
  end)

  it("into a folder, saves under the service's name only when it is a plain name", function()
    local src = prepared(1000)
    local folder = srv.dir .. "/into"
    assert(os.execute("mkdir -p " .. folder))
    local state = { file_id = "Fdl", size = 1000, name = "../escaped.bin",
      download_url = function() return srv.url .. "/store/Fdl.bin" end }
    local t = service(state)
    local r, err = client(t).files:download("Fdl", folder, { containerId = "IAADx" })
    assert.is_nil(r)
    assert.are.same({ "decode", "fileName" }, { err.kind, err.field })
    assert.is_false(exists(srv.dir .. "/escaped.bin"))
    assert.are.equal("detail", t.calls[#t.calls].path:match("[^/]+$")) -- no URL asked for
    state.name = "plain.bin"
    r = assert(client(service(state)).files:download("Fdl", folder .. "/", { containerId = "IAADx" }))
    assert.are.equal(folder .. "/plain.bin", r.path)
    assert.are.equal(sha(src), sha(r.path))
  end)

  it("puts nothing at the destination when the size does not match or it cannot write", function()
    prepared(3 * MiB)
    local t = service { file_id = "Fdl", size = 3 * MiB + 1, download_url = function() return srv.url .. "/store/Fdl.bin" end }
    local dest = srv.dir .. "/out4.bin"
    local r, err = client(t).files:download("Fdl", dest, { containerId = "IAADx" })
    assert.is_nil(r)
    assert.is_table(err)
    assert.is_false(exists(dest))
    -- a detail that says 0 bytes, a store that sends more: not a success either
    local t0 = service { file_id = "Fdl", size = 0, download_url = function() return srv.url .. "/store/Fdl.bin" end }
    r, err = client(t0).files:download("Fdl", dest, { containerId = "IAADx" })
    assert.is_nil(r)
    assert.is_table(err)
    assert.is_false(exists(dest))
    local t2 = service { file_id = "Fdl", size = 3 * MiB, download_url = function() return srv.url .. "/store/Fdl.bin" end }
    r, err = client(t2).files:download("Fdl", srv.dir .. "/no/such/dir/out.bin", { containerId = "IAADx" })
    assert.is_nil(r)
    assert.are.equal("io", err.kind)
  end)
end)
