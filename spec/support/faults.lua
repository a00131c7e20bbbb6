-- Helpers for spec/faults_spec.lua: arming faults in the local service, reading its request
-- log, timing and measuring memory.
local socket = require "socket"
local cjson = require("cjson").new()

local faults = {}

local unpack = table.unpack or unpack                      -- 5.1 and LuaJIT: the global
local function pack(...) return { n = select("#", ...), ... } end

faults.now = socket.gettime

--- Percent-encodes a query value (an HTTP date has spaces).
local function encode(v)
  return (tostring(v):gsub("[^%w%-._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

--- Arms `kind` in `server` for `opts.count` requests (default 1), optionally only for paths
-- starting with `opts.path`, with `opts.retry_after` for a 429. Fails the spec if refused.
function faults.arm(server, kind, opts)
  opts = opts or {}
  local q = { "kind=" .. encode(kind) }
  if opts.count then q[#q + 1] = "count=" .. opts.count end
  if opts.path then q[#q + 1] = "path=" .. encode(opts.path) end
  if opts.retry_after then q[#q + 1] = "retry_after=" .. encode(opts.retry_after) end
  local status, body = server.control("/_local/fault?" .. table.concat(q, "&"))
  assert(status == 200, "arming fault " .. kind .. " failed: " .. tostring(status) .. " " .. tostring(body))
end

--- The service's log since the last reset: { count = N, requests = { {method, path, fault} } }.
function faults.log(server)
  local body, status = server.get("/_local/requests")
  assert(status == 200, "GET /_local/requests: " .. tostring(status))
  return cjson.decode(body)
end

--- How many requests (outside /_local/) the service received since the last reset.
function faults.count(server)
  return faults.log(server).count
end

--- The faults the requests met, in order ("-" for a request served normally).
function faults.seen(server)
  local out = {}
  for i, r in ipairs(faults.log(server).requests) do
    out[i] = r.fault ~= cjson.null and r.fault or "-"
  end
  return out
end

--- Runs fn and returns the seconds it took, then its results.
function faults.timed(fn, ...)
  local t0 = faults.now()
  local r = pack(fn(...))
  return faults.now() - t0, unpack(r, 1, r.n)
end

--- A field of /proc/self/status in KiB (VmRSS, VmHWM), or nil off Linux.
function faults.proc_kb(field)
  local f = io.open("/proc/self/status", "r")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return tonumber(text:match(field .. ":%s*(%d+)"))
end

--- Resets the peak RSS (VmHWM) to the current RSS; true when the kernel allowed it.
function faults.reset_peak()
  local f = io.open("/proc/self/clear_refs", "w")
  if not f then return false end
  local ok = f:write("5")
  ok = f:close() and ok
  return ok and true or false
end

--- Runs fn with the Lua collector stopped and returns how much it grew the Lua heap and the
-- process' peak RSS (KiB; the peak is the RSS after fn where VmHWM cannot be reset), then
-- fn's results. Every byte fn allocated in Lua stays counted, garbage included.
function faults.memory(fn)
  collectgarbage("collect")
  collectgarbage("collect")
  local lua0 = collectgarbage("count")
  local peak_ok = faults.reset_peak()
  local rss0 = faults.proc_kb("VmRSS")
  collectgarbage("stop")
  local r = pack(pcall(fn))
  local lua1 = collectgarbage("count")
  local rss1 = faults.proc_kb(peak_ok and "VmHWM" or "VmRSS")
  collectgarbage("restart")
  if not r[1] then error(r[2], 0) end
  return { lua_kb = lua1 - lua0, rss_kb = rss0 and rss1 and (rss1 - rss0), peak = peak_ok },
    unpack(r, 2, r.n)
end

return faults
