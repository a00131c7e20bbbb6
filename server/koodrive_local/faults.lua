-- koodrive_local.faults: fault injection, the request log and the armed
-- faults of the local service (local helpers, no auth, like /_local/reset):
--
--   POST /_local/fault?kind=K[&count=N][&path=PREFIX][&retry_after=S]
--     arms fault K for the next N requests (1-1000, default 1) whose path
--     starts with PREFIX (default "/": any path). Armed faults queue up: a
--     request meets the earliest one whose prefix matches, and each is
--     dropped once used N times. retry_after (429 only, default 1) is sent
--     as given: delay-seconds or an HTTP date. -> {"code":0,"msg":"armed","pending":P}
--     An unknown kind or parameter, a bad count, a prefix under /_local/ -> 400.
--   GET /_local/faults   -> {"code":0,"msg":"ok","faults":[{"kind","remaining","path"}]}
--   GET /_local/requests -> {"code":0,"msg":"ok","count":N,"requests":[{"method","path","fault"}]}
--     every request outside /_local/ since the last reset: count is all of
--     them, requests the newest 1000, oldest first; fault is the kind it met
--     or null. path is the path as sent (percent-encoded, no query).
--   POST /_local/reset clears faults and the log too (with delay and state).
--
-- A fault is served instead of the normal answer of one request, after nginx
-- has read the request fully, whatever its auth. Faults never apply to
-- /_local/ paths, so control always works. /_local/delay still delays them.
--
-- Kinds: reset (TCP RST, no answer), stall (no answer; held open until the
-- client leaves, at most 60 s), trickle (head at once, body a byte every
-- 200 ms), 500 (KooDrive envelope 13000201), 502 and 503 (HTML gateway page),
-- 429 (Retry-After, JSON envelope code 429), truncated (200, JSON cut in the
-- middle, Content-Length of the cut body), html (200, text/html page), empty
-- (200, Content-Length: 0), content_type (the normal answer as text/plain),
-- huge (200, 50 MiB of valid JSON, streamed), bad_utf8 (200, a devices list
-- whose deviceName has the bytes FF FE), big_header (the normal answer plus
-- a 64 KiB X-Padding header).
--
-- Most faults replace the answer without running the route (the state is
-- unchanged). Three deliver the route's normal answer in a damaged way, so
-- the route runs and its work is done: trickle (the answer, slowly),
-- content_type (relabelled text/plain) and big_header (plus a 64 KiB header).

-- How each kind reaches the wire (koodrive_local.nginx_app does the writing):
-- reset and stall need the connection itself and are "raw" answers, a
-- function(conn) given the downstream socket (conn:abort() sends the RST,
-- conn:wait_gone(s) reads until the client leaves); trickle and huge are
-- streamed bodies, a function(emit, sleep) behind a fixed Content-Length, so
-- the connection stays usable afterwards; the others are plain answers.

local auth = require "koodrive_local.auth"
local jsonio = require "koodrive_local.jsonio"
local reply = require "koodrive_local.reply"

local array, object = jsonio.array, jsonio.object
local kd = reply.kd

local M = {}

local MAX_LOGGED = 1000                -- GET /_local/requests keeps the newest this many
local MAX_FAULT_COUNT = 1000
local STALL_SECONDS = 60               -- a stalled request is held at most this long
local TRICKLE_INTERVAL = 0.2           -- seconds between two bytes of a trickled body
local HUGE_SIZE = 50 * 1024 * 1024     -- bytes of the huge body
local BIG_HEADER_SIZE = 64 * 1024      -- bytes of the big header's value

-- One element of the huge body's array: exactly 64 KiB, built once and sent
-- again and again, so the 50 MiB never exist in memory at once.
local HUGE_BLOCK = '"' .. string.rep("a", 64 * 1024 - 3) .. '",'
local HUGE_PREFIX = '{"code":0,"msg":"success","data":['

-- A devices list as the service would answer it, for the faults that need
-- one without asking the route (truncated, bad_utf8). Written by hand so that
-- the bytes are exactly these.
local function devices_json(name)
  return '{"code":0,"msg":"success","data":[{"deviceId":"1842812272691451648",' ..
    '"machineCode":"20251217","deviceName":"' .. name .. '","deviceOS":"android",' ..
    '"createTime":"2025-12-17T08:00:00.000Z"}]}'
end

local function with_header(headers, name, value)
  local out = {}
  for _, hv in ipairs(headers or {}) do
    if hv[1]:lower() ~= name:lower() then out[#out + 1] = hv end
  end
  out[#out + 1] = { name, value }
  return out
end

-- kind -> function(svc, req, fault) -> status, headers, body | raw function(conn)
local FAULTS = {}
M.KINDS = FAULTS

-- RST instead of an answer.
FAULTS.reset = function()
  return function(conn) conn:abort() end
end

-- No answer at all; the connection stays open until the client gives up
-- (or STALL_SECONDS pass), then it is closed.
FAULTS.stall = function()
  return function(conn) conn:wait_gone(STALL_SECONDS) end
end

-- The normal answer's head at once, then its body one byte per interval.
FAULTS.trickle = function(svc, req)
  local status, headers, body = svc:route(req)
  return status, with_header(headers, "Content-Length", tostring(#body)), function(emit, sleep)
    for i = 1, #body do
      sleep(TRICKLE_INTERVAL)
      if not emit(body:sub(i, i)) then return end
    end
  end
end

FAULTS["500"] = function()
  return kd(500, 13000201, "inner server invoke failure")
end

FAULTS["502"] = function()
  return 502, { { "Content-Type", "text/html" } }, reply.html_page(502, "Bad Gateway")
end

FAULTS["503"] = function()
  return 503, { { "Content-Type", "text/html" } }, reply.html_page(503, "Service Temporarily Unavailable")
end

FAULTS["429"] = function(_, _, fault)
  return 429, { { "Retry-After", fault.retry_after } },
    jsonio.encode(object("code", 429, "msg", "Too Many Requests"))
end

-- A success answer cut in the middle (inside the device object), with a
-- Content-Length that matches the cut body: the transfer itself is complete.
FAULTS.truncated = function()
  local full = devices_json("Magic-v5")
  return 200, nil, full:sub(1, math.floor(#full / 2))
end

FAULTS.html = function()
  return 200, { { "Content-Type", "text/html" } },
    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n" ..
    "<body><h1>Please sign in</h1><form action=\"/login\"></form></body></html>\n"
end

FAULTS.empty = function()
  return 200, nil, ""
end

FAULTS.content_type = function(svc, req)
  local status, headers, body = svc:route(req)
  return status, with_header(headers, "Content-Type", "text/plain"), body
end

-- 200 with a HUGE_SIZE body of valid JSON, {"code":0,"msg":"success","data":["aaa…",…]},
-- written block by block; emit waits (without blocking the worker) while the
-- client does not read, so a slow reader holds only this connection back.
FAULTS.huge = function()
  return 200, { { "Content-Length", tostring(HUGE_SIZE) } }, function(emit)
    local blocks = math.floor((HUGE_SIZE - #HUGE_PREFIX - 4) / #HUGE_BLOCK)
    local rest = HUGE_SIZE - #HUGE_PREFIX - blocks * #HUGE_BLOCK   -- 4 .. #HUGE_BLOCK + 3
    if not emit(HUGE_PREFIX) then return end
    for _ = 1, blocks do
      if not emit(HUGE_BLOCK) then return end
    end
    emit('"' .. string.rep("a", rest - 4) .. '"]}')
  end
end

-- A devices list whose deviceName holds bytes that are not UTF-8.
FAULTS.bad_utf8 = function()
  return 200, nil, devices_json("bad\xff\xfename")
end

FAULTS.big_header = function(svc, req)
  local status, headers, body = svc:route(req)
  return status, with_header(headers, "X-Padding", string.rep("a", BIG_HEADER_SIZE)), body
end

-- The fault's answer: what its kind makes of this request.
function M.answer(svc, req, fault)
  return FAULTS[fault.kind](svc, req, fault)
end

-- The first armed fault whose prefix the path starts with; counts it down.
function M.take(self, path)
  for i, f in ipairs(self.faults) do
    if path:sub(1, #f.path) == f.path then
      f.remaining = f.remaining - 1
      if f.remaining == 0 then table.remove(self.faults, i) end
      return f
    end
  end
  return nil
end

function M.log_request(self, req, fault)
  self.request_count = self.request_count + 1
  local log = self.requests
  log[#log + 1] = { method = req.method, path = req.path, fault = fault and fault.kind }
  if #log > MAX_LOGGED then table.remove(log, 1) end
end

-- POST /_local/fault?kind=K[&count=N][&path=PREFIX][&retry_after=S]
function M.arm(self, req)
  local f = { count = 1, path = "/", retry_after = "1" }
  for _, p in ipairs(auth.parse_query(req.query)) do
    local name, value = p[1], p[2]
    if name == "kind" then
      if not FAULTS[value] then return kd(400, 13000102, "unknown fault kind: " .. value) end
      f.kind = value
    elseif name == "count" then
      f.count = value:match("^%d+$") and #value <= 4 and tonumber(value)
      if not f.count or f.count < 1 or f.count > MAX_FAULT_COUNT then
        return kd(400, 13000102, "count must be 1-" .. MAX_FAULT_COUNT)
      end
    elseif name == "path" then
      if value:sub(1, 1) ~= "/" or value:sub(1, 8) == "/_local/" or value:find("[%c]") then
        return kd(400, 13000102, "path must be a prefix starting with / (and not /_local/)")
      end
      f.path = value
    elseif name == "retry_after" then
      -- delay-seconds or an HTTP date, sent as given
      if #value < 1 or #value > 64 or not value:match("^[%w ,:%-]+$") then
        return kd(400, 13000102, "retry_after must be seconds or an HTTP date")
      end
      f.retry_after = value
    else
      return kd(400, 13000102, "unknown parameter: " .. name)
    end
  end
  if not f.kind then return kd(400, 13000102, "kind is required") end
  self.faults[#self.faults + 1] = { kind = f.kind, remaining = f.count, path = f.path,
    retry_after = f.retry_after }
  return kd(200, 0, "armed", "pending", #self.faults)
end

function M.list(self)
  local out = array()
  for _, f in ipairs(self.faults) do
    out[#out + 1] = object("kind", f.kind, "remaining", f.remaining, "path", f.path)
  end
  return kd(200, 0, "ok", "faults", out)
end

function M.list_requests(self)
  local out = array()
  for _, r in ipairs(self.requests) do
    out[#out + 1] = object("method", r.method, "path", r.path, "fault", r.fault or jsonio.null)
  end
  return kd(200, 0, "ok", "count", self.request_count, "requests", out)
end

return M
