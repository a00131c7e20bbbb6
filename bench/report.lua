-- bench/report.lua - turns build/bench/results.txt ("key value" lines written by
-- bench/run.sh) into the one table: printed, and written as Markdown to the second argument.
-- ratio = how many times better than the reference (throughput: value / reference;
-- time: reference / value), so > 1 always favours the measured row.
local results_file, md_file = arg[1], arg[2]
local r = {}
for line in assert(io.open(results_file)):lines() do
  local k, v = line:match("^(%S+)%s+(%S+)$")
  if k then r[k] = tonumber(v) end
end
local function need(k)
  local v = r[k]
  if v == nil then io.stderr:write("report: missing measurement ", k, "\n"); os.exit(1) end
  return v
end

local rows, missed = {}, 0
local function fmt(v, unit)
  if v == nil then return "—" end
  if unit == "calls/s" then return ("%.0f calls/s"):format(v) end
  if unit == "µs" then return ("%.2f µs"):format(v) end
  if unit == "ms" then return ("%.2f ms"):format(v) end
  if unit == "KiB" then return ("%.0f KiB"):format(v) end
  if unit == "MiB/s" then return ("%.0f MiB/s"):format(v) end
  if unit == "MiB" then return ("%.1f MiB"):format(v) end
  if unit == "s" then return ("%.2f s"):format(v) end
  return tostring(v)
end
-- kind: "rate" (higher is better), "time" (lower is better), "info"
local function row(name, value, unit, ref, ref_name, kind, target, met)
  local ratio
  if ref and kind == "rate" then ratio = value / ref elseif ref and kind == "time" then ratio = ref / value end
  local verdict = ""
  if met ~= nil then
    verdict = met and "MET" or "MISSED"
    if not met then missed = missed + 1 end
  end
  rows[#rows + 1] = { name, fmt(value, unit), ref and (fmt(ref, unit) .. " " .. ref_name) or "—",
    ratio and ("%.2f×"):format(ratio) or "—", target or "—", verdict }
end

local c_seq = need "c_calls_per_s"
if r.wrk1 then
  row("server capacity: wrk, 1 keep-alive connection", r.wrk1, "calls/s", nil, nil, "info")
  row("server capacity: wrk, 16 connections", need "wrk16", "calls/s", r.wrk1, "wrk 1 conn", "rate")
end
row("raw libcurl C loop, one reused handle (the limit)", c_seq, "calls/s", nil, nil, "info")
for _, v in ipairs { "5.4", "luajit" } do
  local name = v == "luajit" and "LuaJIT" or "Lua " .. v
  local seq = need(v .. "_seq")
  local ratio = seq / c_seq
  row("sequential devices:list(), " .. name, seq, "calls/s", c_seq, "raw C", "rate", "≥ 0.90× raw C",
    ratio >= 0.90)
end
local seq54 = need "5.4_seq"
row("  vs LuaSocket socket.http + cjson (Lua 5.4)", seq54, "calls/s", need "5.4_luasocket", "LuaSocket", "rate")
row("  vs curl command per call", seq54, "calls/s", need "curl_cmd", "curl cmd", "rate")
for _, n in ipairs { 16, 64 } do
  row(("raw libcurl C multi, %d in flight (the limit)"):format(n), need("multi" .. n .. "_calls_per_s"),
    "calls/s", c_seq, "raw C seq", "rate")
end
for _, v in ipairs { "5.4", "luajit" } do
  local name = v == "luajit" and "LuaJIT" or "Lua " .. v
  local seq = need(v .. "_seq")
  for _, n in ipairs { 16, 64 } do
    local val = need(v .. "_loop" .. n)
    row(("%d in flight, koodrive.loop(), %s"):format(n, name), val, "calls/s", seq, "sequential", "rate",
      n == 16 and "≥ 5× sequential" or nil, (n == 16 or nil) and val / seq >= 5)
    row("  vs raw libcurl C multi", val, "calls/s", need("multi" .. n .. "_calls_per_s"), "raw C multi", "rate")
  end
end
for _, scheme in ipairs { "HMAC-SHA256", "SDK-HMAC-SHA256", "V11-HMAC-SHA256" } do
  local c, py = need("c_sign_" .. scheme), need("py_sign_" .. scheme)
  for _, v in ipairs { "5.4", "luajit" } do
    local name = v == "luajit" and "LuaJIT" or "Lua " .. v
    local us = need(v .. "_sign_" .. scheme)
    row(("core.sign %s, %s"):format(scheme, name), us, "µs", c, "C+OpenSSL", "time", "≤ 2.5 µs",
      us <= 2.5)
    row(("  vs Python hashlib/hmac"), us, "µs", py, "Python", "time", "≥ 10× Python", py / us >= 10)
  end
end
row("  (C loop, V11 key derived on every call)", need "c_sign_V11-HMAC-SHA256-derive-each-call", "µs",
  nil, nil, "info")
for _, v in ipairs { "5.4", "luajit" } do
  local name = v == "luajit" and "LuaJIT" or "Lua " .. v
  row("whole build+sign (client:prepare, app mode), " .. name, need(v .. "_prepare_app"), "µs",
    need(v .. "_sign_HMAC-SHA256"), "core.sign", "time")
  row("whole build (client:prepare, token mode), " .. name, need(v .. "_prepare_token"), "µs", nil, nil, "info")
end
local rss1, rss100 = need "5.4_rss_1k_kib", need "5.4_rss_100k_kib"
row("RSS after 1k calls, one client (Lua 5.4)", rss1, "KiB", nil, nil, "info")
row("RSS after 100k calls, one client (Lua 5.4)", rss100, "KiB", nil, nil, "info")
row("RSS growth 1k → 100k calls", rss100 - rss1, "KiB", nil, nil, "info", "< 1024 KiB", rss100 - rss1 < 1024)
row("one more client (+1 call): RSS", need "5.4_client_rss_kib", "KiB", nil, nil, "info")
row("one more client (+1 call): Lua heap", need "5.4_client_lua_kib", "KiB", nil, nil, "info")
for _, v in ipairs { "5.4", "luajit" } do
  local name = v == "luajit" and "LuaJIT" or "Lua " .. v
  local ms = need(v .. "_require_ms")
  row('require "koodrive", ' .. name .. " (best of 5)", ms, "ms", nil, nil, "info", "< 5 ms", ms < 5)
  row("  + koodrive.sign and koodrive.curl (first signed call on libcurl)", need(v .. "_full_load_ms"), "ms",
    need "dlopen_ms", "dlopen floor", "time")
end

row("  floor: dlopen libcrypto + libcurl (C, best of 5)", need "dlopen_ms", "ms", nil, nil, "info")

-- the 20 ms server rows (bench/latency.sh; absent with BENCH_LATENCY=0)
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")
if r.lat_multi64_calls_per_s or r.lat_multi256_calls_per_s then
  local latency_rows = dofile(here .. "/latency_report.lua")
  missed = missed + latency_rows(need, row, function(k) return r[k] ~= nil end)
end

-- the transfer rows (bench/transfer.sh; absent with BENCH_TRANSFER=0)
if r.xfer_mib then
  local transfer_rows = dofile(here .. "/transfer_report.lua")
  missed = missed + transfer_rows(need, row)
end

local head = { "measurement", "value", "reference", "ratio", "target", "" }
-- text table (column widths by characters, not bytes)
local function width(s) return #s:gsub("[\128-\191]", "") end
local w = {}
for i, h in ipairs(head) do w[i] = width(h) end
for _, rw in ipairs(rows) do for i, c in ipairs(rw) do if width(c) > w[i] then w[i] = width(c) end end end
local function line(cells)
  local out = {}
  for i, c in ipairs(cells) do out[i] = c .. (" "):rep(w[i] - width(c)) end
  return (table.concat(out, "  "):gsub("%s+$", ""))
end
print(line(head))
local sep = {}
for i = 1, #w do sep[i] = ("-"):rep(w[i]) end
print(line(sep))
for _, rw in ipairs(rows) do print(line(rw)) end
print(("%d target(s) missed; ratio > 1 favours the measured row (rate: value/ref, time: ref/value)"):format(missed))

local md = { "| measurement | value | reference | ratio | target | |", "|---|---:|---:|---:|---|---|" }
for _, rw in ipairs(rows) do
  md[#md + 1] = "| " .. table.concat(rw, " | ") .. " |"
end
local f = assert(io.open(md_file, "w"))
f:write(table.concat(md, "\n"), "\n")
f:close()
