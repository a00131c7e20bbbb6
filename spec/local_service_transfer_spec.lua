-- The local service's transfers (transfer-api.md): create / uploadUrl / complete / download
-- and the nginx-served object store (presigned PUT of parts, ranged GET, faults, counters).
-- KooDrive calls are raw HTTP in token mode; the expected hashCtx states come from
-- spec/support/sha256_state.lua (independent of the server's libcrypto FFI under Lua 5.4).
local local_service = require "local_service"
local creds = require "local_credentials"
local sha = require "support.sha256_state"
if not sha.states then
  describe("local service transfers", function()
    pending("the SHA-256 state oracle needs Lua 5.3+ or LuaJIT (integer operators or the FFI)")
  end)
  return
end
local cjson = require("cjson").new()
local http = require "socket.http"
local ltn12 = require "ltn12"
local socket = require "socket"

local KD = creds.koodrive
local CID = KD.space.containerId
local DOCS, README = "FlocalDocs0000000000000000000000001", "FlocalReadme00000000000000000000001"
local MiB = 1048576
local IV = { 1779033703, 3144134277, 1013904242, 2773480762, 1359893119, 2600822924, 528734635, 1541459225 }

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)
before_each(function() server.control("/_local/reset") end)

local function raw(method, url, body, headers)
  local out = {}
  headers = headers or {}
  headers["Content-Length"] = tostring(#(body or ""))
  local _, status, h = http.request { url = url, method = method, headers = headers,
    source = body and ltn12.source.string(body) or nil, sink = ltn12.sink.table(out) }
  return status, table.concat(out), h
end

local function kd(path, body)
  local status, text = raw("POST", server.url .. "/koodrive/ose/v1/" .. path, cjson.encode(body), {
    ["Content-Type"] = "application/json", ["X-User-Id"] = KD.user_id,
    ["X-Date"] = os.date("!%Y%m%dT%H%M%SZ"), Authorization = "Bearer local-token-alice" })
  return cjson.decode(text), status
end

local function store(q)
  return cjson.decode((server.get("/_local/store" .. (q and ("?" .. q) or ""))))
end

-- The part plan of data cut into sizes; concurrent adds partOffset and hashCtx.
local function plan(data, sizes, concurrent)
  local parts, off, offsets = {}, 0, {}
  for i, n in ipairs(sizes) do
    parts[i] = { partNumber = i, partSize = n, partOffset = concurrent and off or nil }
    offsets[i], off = off, off + n
  end
  local states, hex = sha.states(data, concurrent and offsets or {})
  if concurrent then for i, p in ipairs(parts) do p.hashCtx = states[offsets[i]] end end
  return parts, hex
end

local function create(name, data, parts, hex, extra)
  local body = { fileName = name, fileType = "45", parentFolder = { "root" }, length = #data,
    uploadMode = "multipart", uploadType = 1, autoRename = 3, sha256 = hex, multiParts = parts }
  for k, v in pairs(extra or {}) do body[k] = v end
  return kd("files/create", body)
end

local function put_parts(r, data, skip)
  local off = 0
  for i, p in ipairs(r.multiParts) do
    if not (skip and skip[i]) then
      local status = raw("PUT", p.uploadUrl, data:sub(off + 1, off + p.partSize))
      assert.are.equal(200, status)
    end
    off = off + p.partSize
  end
end

local DATA12 = (function()
  local t = {}
  for i = 1, 4096 do t[i] = string.char((i * 7919) % 256) end
  return string.rep(table.concat(t) .. "x", 3073):sub(1, 12 * MiB)
end)()
local SIZES12 = { 5 * MiB, 5 * MiB, 2 * MiB }
local PARTS12, HEX12 = plan(DATA12, SIZES12, true)

local function copy(parts)
  local out = {}
  for i, p in ipairs(parts) do
    out[i] = { partNumber = p.partNumber, partSize = p.partSize, partOffset = p.partOffset,
      hashCtx = p.hashCtx and { table.unpack(p.hashCtx) } }
  end
  return out
end

describe("local service transfers", function()
  it("uploads 12 MiB concurrently with the right hashCtx, shows it in the tree, downloads it exactly", function()
    assert.are.same(IV, PARTS12[1].hashCtx)
    local r = create("big.bin", DATA12, PARTS12, HEX12)
    assert.are.equal(0, r.code)
    assert.is_false(r.rapidUpload)
    assert.are.equal(3, #r.multiParts)
    put_parts(r, DATA12)
    local c = kd("files/complete", { fileId = r.fileId, sha256 = HEX12 })
    assert.are.equal(0, c.code, c.msg)
    local d = kd("files/" .. r.fileId .. "/detail", { containerId = CID })
    assert.are.equal(12 * MiB, d.data.size)
    assert.are.equal(HEX12, d.data.sha256)
    local counters = store()
    assert.are.equal(12 * MiB, counters.bytes_received)
    assert.are.equal(3, counters.puts)
    assert.are.equal(3, counters.parts[r.fileId])

    local dl = kd("files/download", { containerId = CID, fileIds = { r.fileId, "Fnope" } })
    assert.are.equal(0, dl.batchCode)
    assert.are.equal("13000309", dl.downloads[2].code)
    local status, body = raw("GET", dl.downloads[1].url)
    assert.are.equal(200, status)
    assert.is_true(body == DATA12)
    local s2, slice, h = raw("GET", dl.downloads[1].url, nil, { Range = "bytes=5242870-5242889" })
    assert.are.equal(206, s2)
    assert.are.equal(DATA12:sub(5242871, 5242890), slice)
    assert.are.equal("bytes 5242870-5242889/" .. 12 * MiB, h["content-range"])

    -- the same content again: rapid upload, no URL, the file exists at once
    local again = create("big-again.bin", DATA12, PARTS12, HEX12)
    assert.is_true(again.rapidUpload)
    assert.are.equal(0, #again.multiParts)
    local d2 = kd("files/" .. again.fileId .. "/detail", { containerId = CID })
    assert.are.equal(HEX12, d2.data.sha256)
  end)

  it("answers 13000402 for a tampered hashCtx, wrong partOffset, wrong sha256, missing or short part", function()
    local bad_ctx = copy(PARTS12)
    bad_ctx[2].hashCtx[3] = (bad_ctx[2].hashCtx[3] + 1) % 4294967296
    local bad_off = copy(PARTS12)
    bad_off[3].partOffset = bad_off[3].partOffset + 64
    local cases = {
      { "ctx", bad_ctx }, { "offset", bad_off }, { "sha", PARTS12, string.rep("0", 64) },
      { "missing", PARTS12, nil, { [2] = true } },
    }
    for _, case in ipairs(cases) do
      local r = create("t-" .. case[1], DATA12, case[2], case[3] or HEX12)
      assert.are.equal(0, r.code, case[1])
      put_parts(r, DATA12, case[4])
      local c = kd("files/complete", { fileId = r.fileId, sha256 = HEX12 })
      assert.are.equal(13000402, c.code, case[1])
    end
    -- a part of the wrong size never lands: the store refuses a Content-Length other than the part's
    local r = create("t-size", DATA12, PARTS12, HEX12)
    assert.are.equal(400, (raw("PUT", r.multiParts[3].uploadUrl, DATA12:sub(1, 100))))
    assert.are.equal(13000401, kd("files/complete", { fileId = "Fnothing", sha256 = HEX12 }).code)
    local ok = create("t-good", DATA12, PARTS12, HEX12)
    put_parts(ok, DATA12)
    assert.are.equal(0, kd("files/complete", { fileId = ok.fileId, sha256 = HEX12 }).code)
  end)

  it("uploads sequentially (one part, no hashCtx) and a 0-byte file", function()
    local data = string.rep("seq!", 2500)
    local parts, hex = plan(data, { #data }, false)
    local r = create("seq.txt", data, parts, hex)
    assert.is_nil(r.multiParts[1].hashCtx)
    put_parts(r, data)
    assert.are.equal(0, kd("files/complete", { fileId = r.fileId, sha256 = hex }).code)
    local zparts, zhex = plan("", { 0 }, false)
    local z = create("empty.txt", "", zparts, zhex)
    assert.are.equal(0, z.code)
    put_parts(z, "")
    local c = kd("files/complete", { fileId = z.fileId, sha256 = zhex })
    assert.are.equal(0, c.code)
    assert.are.equal(0, c.size)
  end)

  it("validates create and follows autoRename 2, 3 and 4", function()
    local data = "hello world"
    local parts, hex = plan(data, { #data }, false)
    assert.are.equal(13000102, create("a/b", data, parts, hex).code)
    assert.are.equal(13000102, create("x", data, parts, hex, { uploadType = 0 }).code)
    assert.are.equal(13000102, create("x", data, { { partNumber = 2, partSize = #data } }, hex).code)
    assert.are.equal(13000102, create("x", data, plan(data, { 5, 6 }, false), hex).code)   -- first part < 5 MiB
    assert.are.equal(13000309, create("x", data, parts, hex, { parentFolder = { "Fmissing" } }).code)
    local r = create("dup.txt", data, parts, hex)
    put_parts(r, data)
    assert.are.equal(0, kd("files/complete", { fileId = r.fileId, sha256 = hex }).code)
    assert.are.equal(13000405, create("dup.txt", data, parts, hex).code)
    local two = create("dup.txt", data, parts, hex, { autoRename = 2 })
    assert.are.equal(0, two.code)
    assert.are_not.equal("dup.txt", two.fileName)
    assert.truthy(two.fileName:find("^dup%.txt_%d+"))
    local four = create("dup.txt", data, parts, hex, { autoRename = 4 })
    assert.is_true(four.exist)
    assert.are.equal(r.fileId, four.fileId)
    local other, ohex = plan("other", { 5 }, false)
    local four_b = create("dup.txt", "other", other, ohex, { autoRename = 4 })
    assert.is_false(four_b.exist)
    assert.are_not.equal("dup.txt", four_b.fileName)
  end)

  it("refuses expired URLs (403), KooDrive headers (400), and fresh URLs work again", function()
    local data = string.rep("e", 1000)
    local parts, hex = plan(data, { #data }, false)
    local r = create("exp.bin", data, parts, hex)
    store("expire=1")
    local status, body = raw("PUT", r.multiParts[1].uploadUrl, data)
    assert.are.equal(403, status)
    assert.truthy(body:find("<Code>AccessDenied</Code>", 1, true))
    local fresh = kd("files/multipart/uploadUrl", { fileId = r.fileId, multiParts = { { partNumber = 1 } } })
    assert.are.equal(400, (raw("PUT", fresh.multiParts[1].uploadUrl, data, { ["X-User-Id"] = KD.user_id })))
    assert.are.equal(400, (raw("PUT", fresh.multiParts[1].uploadUrl, data, { Authorization = "Bearer x" })))
    local forged = fresh.multiParts[1].uploadUrl:gsub("Signature=%x", "Signature=g")
    assert.are.equal(403, (raw("PUT", forged, data)))
    assert.are.equal(200, (raw("PUT", fresh.multiParts[1].uploadUrl, data)))
    assert.are.equal(0, kd("files/complete", { fileId = r.fileId, sha256 = hex }).code)
    store("url_ttl=0")
    local dl = kd("files/download", { containerId = CID, fileIds = { r.fileId } })
    socket.sleep(1.1)
    assert.are.equal(403, (raw("GET", dl.downloads[1].url)))
  end)

  it("cuts a PUT with reset_after, answers an armed status, counts only stored bytes", function()
    local data = string.rep("r", 300000)
    local parts, hex = plan(data, { #data }, false)
    local r = create("reset.bin", data, parts, hex)
    store("reset_after=100000")
    local status = raw("PUT", r.multiParts[1].uploadUrl, data)
    assert.are_not.equal(200, status)
    store("status=500&count=1")
    assert.are.equal(500, (raw("PUT", r.multiParts[1].uploadUrl, data)))
    assert.are.equal(0, store().bytes_received)
    assert.are.equal(200, (raw("PUT", r.multiParts[1].uploadUrl, data)))
    local c = store()
    assert.are.equal(300000, c.bytes_received)
    assert.are.equal(1, c.puts)
    assert.is_true(c.bytes_read >= 300000 + 300000 + 100000)
  end)

  it("caps throughput with rate, serves seeded files' bytes, and reset clears the store", function()
    local data = string.rep("0123456789abcdef", 131072)   -- 2 MiB
    local parts, hex = plan(data, { #data }, false)
    local r = create("rate.bin", data, parts, hex)
    put_parts(r, data)
    assert.are.equal(0, kd("files/complete", { fileId = r.fileId, sha256 = hex }).code)
    local dl = kd("files/download", { containerId = CID, fileIds = { r.fileId, README } })
    assert.are.equal(1, dl.batchCode)
    local _, seeded = raw("GET", dl.downloads[2].url)
    assert.are.equal(100, #seeded)
    assert.are.equal(string.char(0, 1, 2, 99), seeded:sub(1, 3) .. seeded:sub(100))
    store("rate=1048576")
    local t0 = socket.gettime()
    local status, body = raw("GET", dl.downloads[1].url)
    local took = socket.gettime() - t0
    assert.are.equal(200, status)
    assert.are.equal(#data, #body)
    assert.is_true(took >= 1.5, "took " .. took)
    -- PUTs are paced too: a fresh 2 MiB upload at the same cap
    local p2, hex2 = plan(data:upper(), { #data }, false)
    local r2 = create("rate2.bin", data:upper(), p2, hex2)
    t0 = socket.gettime()
    put_parts(r2, data:upper())
    took = socket.gettime() - t0
    assert.is_true(took >= 1.5, "PUT took " .. took)
    local folder = kd("files/download", { containerId = CID, fileIds = { DOCS } })
    assert.are.equal(2, folder.batchCode)
    server.control("/_local/reset")
    local c = store()
    assert.are.equal(0, c.bytes_received)
    assert.are.equal(404, (raw("GET", dl.downloads[1].url)))     -- the signature holds, the bytes are gone
  end)
end)
