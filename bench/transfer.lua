-- bench/transfer.lua - the transfer rows of `make bench` (issue 13), run by bench/transfer.sh.
--
--   transfer.lua run DIR       starts the local service (nginx + server/koodrive_local), makes
--                              the files under DIR, measures every row against that one nginx
--                              and prints "key value" lines (seconds, KiB) for bench/report.lua
--   transfer.lua child MODE .. one measured transfer in a fresh process (below); prints its
--                              wall seconds, CPU seconds and peak RSS (VmHWM of /proc/self/status)
--
-- Knobs (environment): BENCH_TRANSFER_MIB (upload/download/hash rows, 1024), BENCH_RATE_MIB (the
-- 25 MB/s rows, 256), BENCH_RSS_MIB ("256 4096": the small and the big file of the RSS rows),
-- BENCH_TRANSFER_ROUNDS (3: best of, interleaved with the curl reference).
local socket = require "socket"

local MiB = 1048576
local mode = arg[1]

local function now() return socket.gettime() end

local function hwm_kib()
  local f = io.open("/proc/self/status")
  local s = f and f:read("a") or ""
  if f then f:close() end
  return tonumber(s:match("VmHWM:%s*(%d+)")) or 0
end

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function q(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

-- ------------------------------------------------------------------ child: one transfer
if mode == "child" then
  local what, url, a, b, c = arg[2], arg[3], arg[4], arg[5], arg[6]
  local creds = require "local_credentials"
  local function client()
    local koodrive = require "koodrive"
    return assert(koodrive.new { endpoint = url, user_id = creds.koodrive.user_id, token = "local-token-alice",
      timeout = 600, connect_timeout = 5 })
  end
  local cid = creds.koodrive.space.containerId
  local t0, c0 = now(), os.clock()
  local out = {}
  if what == "hash" then              -- the hashing pass of files:upload, as upload.lua runs it
    local h = require("koodrive.sign").part_hasher(5 * MiB)
    while true do
      local n = assert(h:read_file(a, 8 * MiB))
      if n == 0 then break end
    end
    out.sha256 = h:finish()
  elseif what == "upload" then        -- url, path, concurrency
    local r = assert(client().files:upload(a, { containerId = cid, fileName = "bench.bin",
      concurrency = tonumber(b), journal = false }))
    out.fileId = r.fileId
  elseif what == "download" then      -- url, fileId, dest, concurrency
    os.remove(b)
    assert(client().files:download(a, b, { containerId = cid, concurrency = tonumber(c), resume = false }))
  elseif what == "updown" then        -- url, path, dest, concurrency: the RSS rows
    local cl = client()
    local r = assert(cl.files:upload(a, { containerId = cid, fileName = "rss.bin", concurrency = tonumber(c),
      journal = false }))
    os.remove(b)
    assert(cl.files:download(r.fileId, b, { containerId = cid, concurrency = tonumber(c), resume = false }))
  else
    error("unknown child mode " .. tostring(what))
  end
  out.wall, out.cpu, out.hwm_kib = now() - t0, os.clock() - c0, hwm_kib()
  for k, v in pairs(out) do print(k, v) end
  return
end

assert(mode == "run" and arg[2], "usage: transfer.lua run DIR | child MODE ...")

-- ------------------------------------------------------------------ driver
local DIR = arg[2]
local SIZE = tonumber(os.getenv("BENCH_TRANSFER_MIB") or "1024") * MiB
local RATE_SIZE = tonumber(os.getenv("BENCH_RATE_MIB") or "256") * MiB
local RSS_SMALL, RSS_BIG = (os.getenv("BENCH_RSS_MIB") or "256 4096"):match("^%s*(%d+)%s+(%d+)%s*$")
assert(RSS_SMALL, "BENCH_RSS_MIB must be two sizes in MiB, e.g. \"256 4096\"")
local ROUNDS = tonumber(os.getenv("BENCH_TRANSFER_ROUNDS") or "3")
local RATE = 25000000  -- bytes/s per connection
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"
local creds = require "local_credentials"
local CID = creds.koodrive.space.containerId

local function note(...) io.stderr:write("bench: ", table.concat({ ... }, " "), "\n") end
local function record(k, v) print(k, v) end

local server = require("local_service").start()
local ok, err = pcall(function()
  local lua = arg[-1] or "lua5.4"

  local function control(path) assert(server.control(path) == 200, "control " .. path) end
  local function reset() control("/_local/reset") end
  local function store(query) control("/_local/store?" .. query) end

  -- The nginx worker's CPU seconds so far (utime + stime of the master's child).
  local ticks = tonumber((sh("getconf CLK_TCK"))) or 100
  local function worker_cpu()
    local total = 0
    for stat in (sh("cat /proc/[0-9]*/stat 2>/dev/null")):gmatch("[^\n]+") do
      local rest = stat:match("^%d+ %b() (.*)$")
      local f = {}
      for w in (rest or ""):gmatch("%S+") do f[#f + 1] = w end
      if tonumber(f[2]) == server.pid then total = total + tonumber(f[12]) + tonumber(f[13]) end
    end
    return total / ticks
  end

  -- Every timed transfer starts with no dirty pages: the writeback of the previous one's copy
  -- (1 GiB in the store, or at the destination) would otherwise land in the next one's time.
  local function settle() sh("sync") end

  local function child(...)
    settle()
    local args = { ... }
    for i, v in ipairs(args) do args[i] = q(v) end
    local out, fine = sh(q(lua) .. " bench/transfer.lua child " .. table.concat(args, " "))
    assert(fine, "child " .. args[1] .. " failed:\n" .. out)
    local r = {}
    for k, v in out:gmatch("(%S+)\t(%S+)") do r[k] = tonumber(v) or v end
    return r
  end

  local function timed(cmd)
    settle()
    local t0 = now()
    local out, fine = sh(cmd .. " 2>&1")
    assert(fine, cmd .. " failed:\n" .. out)
    return now() - t0, out
  end

  local function kd(path, body)
    local out = {}
    local text = cjson.encode(body)
    local _, status = http.request { url = server.url .. "/koodrive/ose/v1/" .. path, method = "POST",
      headers = { ["Content-Type"] = "application/json", ["Content-Length"] = tostring(#text),
        ["X-User-Id"] = creds.koodrive.user_id, ["X-Date"] = os.date("!%Y%m%dT%H%M%SZ"),
        Authorization = "Bearer local-token-alice" },
      source = ltn12.source.string(text), sink = ltn12.sink.table(out) }
    local r = cjson.decode(table.concat(out))
    assert(status == 200 and r.code == 0, path .. ": " .. table.concat(out))
    return r
  end

  -- A presigned PUT URL of the store for all `size` bytes in one part (sequential, no sha256:
  -- no rapid upload), the target of `curl -T`.
  local function part_url(size)
    local r = kd("files/create", { fileName = "curl.bin", fileType = "45", parentFolder = { "root" },
      length = size, uploadMode = "multipart", uploadType = 1, autoRename = 2,
      multiParts = { { partNumber = 1, partSize = size } } })
    return r.multiParts[1].uploadUrl
  end
  local function get_url(fid) return kd("files/download", { containerId = CID, fileIds = { fid } }).downloads[1].url end

  local function make_file(path, size, seed)
    note(("making %s (%d MiB)"):format(path, size // MiB))
    local gen = "openssl enc -aes-128-ctr -nosalt -pass pass:" .. seed .. " -pbkdf2 -in /dev/zero 2>/dev/null"
    local _, fine = sh("command -v openssl >/dev/null 2>&1")
    if not fine then gen = "cat /dev/urandom" end
    local _, made = sh(gen .. " | head -c " .. size .. " > " .. q(path))
    assert(made, "could not make " .. path)
  end
  local function best(list) local m = math.huge; for _, v in ipairs(list) do m = math.min(m, v) end; return m end

  record("xfer_mib", SIZE / MiB)
  local src, dst = DIR .. "/src.bin", DIR .. "/dst.bin"
  make_file(src, SIZE, "main")
  local curl = "curl -sS -f --noproxy '*' "

  -- hashing pass vs sha256sum (file in the page cache: made just now)
  local hash, ref = {}, {}
  for r = 1, ROUNDS + 1 do
    note("hashing pass, round " .. r)
    hash[r] = child("hash", server.url, src).wall
    ref[r] = timed("sha256sum " .. q(src) .. " >/dev/null")
  end
  record("xfer_hash_s", best(hash))
  record("xfer_sha256sum_s", best(ref))

  -- upload, concurrency 4, vs curl -T of the same bytes to one presigned part URL
  local up, put, fid, wcpu_up, wcpu_put = {}, {}, nil, math.huge, math.huge
  local up_cpu = math.huge
  for r = 1, ROUNDS do
    reset()
    note("upload, concurrency 4, round " .. r)
    local w0 = worker_cpu()
    local res = child("upload", server.url, src, 4)
    wcpu_up = math.min(wcpu_up, worker_cpu() - w0)
    up[r], up_cpu, fid = res.wall, math.min(up_cpu, res.cpu), res.fileId
    note("curl -T, round " .. r)
    local url = part_url(SIZE)
    w0 = worker_cpu()
    put[r] = timed(curl .. "-H 'Expect:' -o /dev/null -T " .. q(src) .. " " .. q(url))
    wcpu_put = math.min(wcpu_put, worker_cpu() - w0)
  end
  record("xfer_up4_s", best(up))
  record("xfer_up4_cpu_s", up_cpu)
  record("xfer_up4_worker_cpu_s", wcpu_up)
  record("xfer_curl_put_s", best(put))
  record("xfer_curl_put_worker_cpu_s", wcpu_put)

  -- download (of the file the last upload stored) vs curl -o of the same URL
  local down, get, down_cpu = {}, {}, math.huge
  local function lib_get(r)
    note("download, concurrency 4, round " .. r)
    local res = child("download", server.url, fid, dst, 4)
    down[r], down_cpu = res.wall, math.min(down_cpu, res.cpu)
    local got = sh("sha256sum " .. q(dst) .. " " .. q(src) .. " | awk '{ print $1 }' | uniq | wc -l")
    assert(tonumber(got) == 1, "the download differs from the source")
    os.remove(dst)
  end
  local function curl_get(r)
    note("curl -o, round " .. r)
    get[r] = timed(curl .. "-o " .. q(dst) .. " " .. q(get_url(fid)))
    os.remove(dst)
  end
  for r = 1, ROUNDS do   -- the order alternates: neither always runs right after the other
    if r % 2 == 1 then lib_get(r); curl_get(r) else curl_get(r); lib_get(r) end
  end
  record("xfer_down4_s", best(down))
  record("xfer_down4_cpu_s", down_cpu)
  record("xfer_curl_get_s", best(get))
  os.remove(src)

  -- per-connection cap: concurrency 4 vs 1, upload and download
  record("xfer_rate_mib", RATE_SIZE / MiB)
  record("xfer_rate_bps", RATE)
  local rsrc = DIR .. "/rate.bin"
  make_file(rsrc, RATE_SIZE, "rate")
  for _, n in ipairs { 1, 4 } do
    reset()
    store("rate=" .. RATE)
    note(("capped upload, concurrency %d"):format(n))
    local res = child("upload", server.url, rsrc, n)
    record("xfer_rate_up" .. n .. "_s", res.wall)
    note(("capped download, concurrency %d"):format(n))
    record("xfer_rate_down" .. n .. "_s", child("download", server.url, res.fileId, dst, n).wall)
    os.remove(dst)
  end
  os.remove(rsrc)

  -- Peak RSS of one process uploading and downloading a small and a big file, ROUNDS times
  -- each, small and big in turn: one run's VmHWM moves by 1-3 MiB with where glibc happens to
  -- place libcurl's buffers, so the median is recorded, with the lowest and highest.
  local rss, paths = { small = {}, big = {} }, {}
  local SIZES = { { "small", RSS_SMALL }, { "big", RSS_BIG } }
  for _, which in ipairs(SIZES) do
    paths[which[1]] = DIR .. "/rss-" .. which[1] .. ".bin"
    make_file(paths[which[1]], tonumber(which[2]) * MiB, which[1])
  end
  for round = 1, ROUNDS do
    for _, which in ipairs(SIZES) do
      reset()
      local path = paths[which[1]]
      note(("peak RSS, upload + download of %d MiB, round %d"):format(which[2], round))
      local res = child("updown", server.url, path, dst, 4)
      rss[which[1]][round] = res.hwm_kib
      -- the store's chained hashes vouch for what it received; this checks where it put it
      local _, same = sh("cmp -s " .. q(path) .. " " .. q(dst))
      assert(same, "the downloaded " .. which[2] .. " MiB differ from the source")
      os.remove(dst)
      reset()                                                -- the store's copy goes too
    end
  end
  for _, which in ipairs(SIZES) do
    local list = rss[which[1]]
    table.sort(list)
    record("xfer_rss_" .. which[1] .. "_mib", which[2])
    record("xfer_rss_" .. which[1] .. "_kib", list[math.floor((#list + 1) / 2)])
    record("xfer_rss_" .. which[1] .. "_min_kib", list[1])
    record("xfer_rss_" .. which[1] .. "_max_kib", list[#list])
    os.remove(paths[which[1]])
  end
end)
server.stop()
if not ok then
  io.stderr:write("bench: transfer rows failed: ", tostring(err), "\n")
  os.exit(1)
end
