-- service: the routes and the in-memory state of the local KooDrive + IoTDA
-- service. It is given parsed requests by httpd and answers with
-- (status, headers, body). State lives only in this process: restart the
-- server (or POST /_local/reset) to get the seed from local_credentials back.
--
-- Response shapes follow the contract (koodrive-api.md, iotda-api.md and
-- the recorded examples). Where the contract says nothing, the choice made
-- here is written next to the route. /_local/ paths are helpers for specs:
-- health, reset, delay, and fault injection (see "Fault injection" below).

local auth = require "auth"
local httpd = require "httpd"
local jsonio = require "jsonio"
local rand = require "openssl.rand"

local array, object = jsonio.array, jsonio.object

local M = {}

---------------------------------------------------------------------------
-- An ordered set of strings: keeps insertion order (the device list is "in
-- bind order") and answers membership in O(1).

local OrderedSet = {}
OrderedSet.__index = OrderedSet

local function ordered_set(items)
  local s = setmetatable({ items = {}, index = {} }, OrderedSet)
  for _, v in ipairs(items or {}) do s:add(v) end
  return s
end

function OrderedSet:has(v) return self.index[v] ~= nil end

function OrderedSet:add(v)
  if self.index[v] then return false end
  self.items[#self.items + 1] = v
  self.index[v] = true
  return true
end

function OrderedSet:remove(v)
  if not self.index[v] then return false end
  self.index[v] = nil
  for i, x in ipairs(self.items) do
    if x == v then table.remove(self.items, i); break end
  end
  return true
end

---------------------------------------------------------------------------
-- Small helpers

local function json_response(status, value)
  return status, nil, jsonio.encode(value)
end

-- KooDrive envelope: {"code":..,"msg":..} plus extra ordered pairs.
local function kd(status, code, msg, ...)
  return json_response(status, object("code", code, "msg", msg, ...))
end

local function kd_param_error() return kd(400, 13000102, "Verify parameters failed.") end
local function kd_not_found() return kd(404, 13000309, "Resource does not exist.") end

local function iot(status, code, msg)
  return json_response(status, object("error_code", code, "error_msg", msg))
end

local function iot_invalid() return iot(400, "IOTDA.000006", "Invalid input data.") end

-- The gateway's answer for a path it does not route.
local function iot_no_api()
  return iot(404, "APIGW.0101", "The API does not exist or has not been published in the environment")
end

-- A random decimal string of n digits, the first one 1-9. Bytes >= 250 are
-- dropped so that every digit is equally likely.
local function random_digits(n)
  local out = {}
  while #out < n do
    for b in rand.bytes(32):gmatch(".") do
      local x = b:byte()
      if x < 250 then
        local d = x % 10
        if #out > 0 or d ~= 0 then out[#out + 1] = tostring(d) end
        if #out == n then break end
      end
    end
  end
  return table.concat(out)
end

-- ISO 8601 UTC with milliseconds, as in the service's createTime.
local function iso_now()
  local t = require("socket").gettime()
  local secs = math.floor(t)
  local ms = math.floor((t - secs) * 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. string.format(".%03dZ", ms)
end

-- Only the character classes of the contract's patterns, for Lua patterns
-- (which have no {m,n}): check the set and the length separately.
local function matches(v, set, maxlen)
  return type(v) == "string" and #v >= 1 and #v <= maxlen and v:match("^" .. set .. "+$") ~= nil
end

-- A user id as the contract wants it: 1-19 decimal digits, no sign, no
-- leading zero, at most 2^63-1. Compared as text: it never goes through a double.
local function valid_user_id(s)
  if type(s) ~= "string" or not s:match("^[1-9]%d*$") or #s > 19 then return false end
  return #s < 19 or not auth.bytes_less("9223372036854775807", s)
end

---------------------------------------------------------------------------
-- State

local function seed(creds)
  local kd_c, iot_c = creds.koodrive, creds.iotda
  local state = {
    devices = {},          -- [user id] = list of BoundDeviceEntity tables, bind order
    issued = {},           -- every deviceId ever handed out, so none repeats
    groups = {},           -- [group id] = { name, members = OrderedSet }
    group_order = {},      -- group ids in creation order, for the list
    policies = {},         -- [policy id] = { device = OrderedSet, product = ..., app = ... }
  }
  -- Groups are global (a group id names one group whoever asks); devices
  -- are per X-User-Id.
  state.groups[kd_c.group_id] = { name = "local-group", members = ordered_set(kd_c.group_members) }
  state.group_order[1] = kd_c.group_id
  local targets = iot_c.policy_targets or {}
  state.policies[iot_c.policy_id] = {
    device = ordered_set(targets.device), product = ordered_set(targets.product),
    app = ordered_set(targets.app),
  }
  return state
end

---------------------------------------------------------------------------
-- KooDrive routes

local function device_json(d)
  -- deviceName / deviceOS are left out when they were not given at bind time
  return object("deviceId", d.deviceId, "machineCode", d.machineCode,
    "deviceName", d.deviceName, "deviceOS", d.deviceOS, "createTime", d.createTime)
end

local function list_devices(self, user)
  local out = array()
  for _, d in ipairs(self.state.devices[user] or {}) do out[#out + 1] = device_json(d) end
  return kd(200, 0, "success", "data", out)
end

local function bind_device(self, user, req)
  local body = jsonio.decode(req.body)
  if type(body) ~= "table" or jsonio.is_array(body) and next(body) ~= nil then return kd_param_error() end
  local function opt(v) if v == jsonio.null then return nil end return v end
  local machine, name, os_ = body.machineCode, opt(body.deviceName), opt(body.deviceOS)
  if not matches(machine, "[A-Za-z0-9_]", 64) then return kd_param_error() end
  if name ~= nil and not matches(name, "[A-Za-z0-9%-_%s]", 32) then return kd_param_error() end
  if os_ ~= nil and not matches(os_, "[A-Za-z0-9_%s]", 32) then return kd_param_error() end

  local id
  repeat id = random_digits(19) until not self.state.issued[id]
  self.state.issued[id] = true
  local d = { deviceId = id, machineCode = machine, deviceName = name, deviceOS = os_, createTime = iso_now() }
  local list = self.state.devices[user] or {}
  self.state.devices[user] = list
  list[#list + 1] = d
  return kd(200, 0, "success", "data", device_json(d))
end

local function unbind_device(self, user, raw_id)
  local id = auth.percent_decode(raw_id)
  local list = self.state.devices[user] or {}
  for i, d in ipairs(list) do
    if d.deviceId == id then
      table.remove(list, i)
      return kd(200, 0, "success", "data", device_json(d))
    end
  end
  -- the service reports this inside an HTTP 200 (recorded example)
  return kd(200, 13000309, "Resource does not exist.")
end

-- GET /koodrive/ose/v1/usergroups (shape chosen here, the contract has none):
-- {"code":0,"msg":"success","groups":[{"groupId":"..","groupName":"..","memberCount":N}]}
local function list_groups(self)
  local out = array()
  for _, gid in ipairs(self.state.group_order) do
    local g = self.state.groups[gid]
    out[#out + 1] = object("groupId", gid, "groupName", g.name, "memberCount", #g.members.items)
  end
  return kd(200, 0, "success", "groups", out)
end

-- GET /koodrive/ose/v1/usergroups/{groupId}/members?offset=&limit= (limit 1-100, default 100)
-- (shape chosen here): {"code":0,"msg":"success","total":N,"members":[{"userId":".."}]}
local function list_members(self, raw_gid, req)
  local g = self.state.groups[auth.percent_decode(raw_gid)]
  if not g then return kd(200, 13000309, "Resource does not exist.") end
  local offset, limit = 0, 100
  for _, p in ipairs(auth.parse_query(req.query)) do
    if p[1] == "offset" then
      offset = p[2]:match("^%d+$") and #p[2] <= 9 and tonumber(p[2])
      if not offset then return kd_param_error() end
    elseif p[1] == "limit" then
      limit = p[2]:match("^%d+$") and #p[2] <= 3 and tonumber(p[2])
      if not limit or limit < 1 or limit > 100 then return kd_param_error() end
    end
  end
  local out = array()
  for i = offset + 1, math.min(offset + limit, #g.members.items) do
    out[#out + 1] = object("userId", g.members.items[i])
  end
  return kd(200, 0, "success", "total", #g.members.items, "members", out)
end

-- The user ids of a batchDelete body, as exact digit strings, or nil.
-- JSON integers of 19 digits do not survive a double, so cjson is only used
-- to check the structure; the digits are read from the raw text.
local function batch_user_ids(raw)
  local doc = jsonio.decode(raw)
  if type(doc) ~= "table" then return nil end
  local ids = {}
  if doc.amendModRoles ~= nil then
    local roles = doc.amendModRoles
    if not jsonio.is_array(roles) or #roles == 0 then return nil end
    for _, r in ipairs(roles) do
      if type(r) ~= "table" or type(r.userId) ~= "number" then return nil end
    end
    -- the value must end at "," or "}" so that 1.5 or 3e18 do not pass as 1 or 3
    for digits in raw:gmatch('"userId"%s*:%s*(%-?%d+)%s*[,}]') do ids[#ids + 1] = digits end
    if #ids ~= #roles then return nil end
  elseif doc.userIds ~= nil then
    -- the documentation example's form: {"userIds":["...", ...]}
    if not jsonio.is_array(doc.userIds) or #doc.userIds == 0 then return nil end
    for i, v in ipairs(doc.userIds) do
      if type(v) ~= "string" then return nil end
      ids[i] = v
    end
  else
    return nil
  end
  for _, id in ipairs(ids) do
    if not valid_user_id(id) then return nil end
  end
  return ids
end

local function batch_delete(self, raw_gid, req)
  local ids = batch_user_ids(req.body)
  if not ids then return kd_param_error() end
  local g = self.state.groups[auth.percent_decode(raw_gid)]
  if not g then return kd(200, 13000309, "Resource does not exist.") end
  local failed, deleted, seen = array(), 0, {}
  for _, id in ipairs(ids) do
    if not seen[id] then          -- an id named twice is handled once
      seen[id] = true
      if g.members:remove(id) then deleted = deleted + 1 else failed[#failed + 1] = id end
    end
  end
  local status = (#failed == 0) and 0 or (deleted == 0 and 2 or 1)
  return kd(200, 0, "Success", "status", status, "failedList", failed)
end

local function koodrive(self, req)
  local ok, status, code, msg = auth.verify_koodrive(req, self.creds.koodrive, os.time())
  if not ok then return kd(status, code, msg) end
  local user = req.headers["x-user-id"]
  local m, p = req.method, req.path

  if p == "/koodrive/ose/v1/backup/device" then
    if m == "GET" then return list_devices(self, user) end
    if m == "POST" then return bind_device(self, user, req) end
  elseif p == "/koodrive/ose/v1/usergroups" then
    if m == "GET" then return list_groups(self) end
  end
  local id = p:match("^/koodrive/ose/v1/backup/device/([^/]+)$")
  if id and m == "DELETE" then return unbind_device(self, user, id) end
  local gid = p:match("^/koodrive/ose/v1/usergroups/([^/]+)/members$")
  if gid and m == "GET" then return list_members(self, gid, req) end
  gid = p:match("^/koodrive/ose/v1/usergroups/([^/]+)/members/batchDelete$")
  if gid and m == "POST" then return batch_delete(self, gid, req) end
  return kd_not_found()
end

---------------------------------------------------------------------------
-- IoTDA routes

local TARGET_TYPES = { device = true, product = true, app = true }

local function policy_body(raw)
  local doc = jsonio.decode(raw)
  if type(doc) ~= "table" or not TARGET_TYPES[doc.target_type] then return nil end
  local ids = doc.target_ids
  if not jsonio.is_array(ids) or #ids < 1 or #ids > 20 then return nil end
  for _, v in ipairs(ids) do
    if type(v) ~= "string" or #v < 1 or #v > 256 then return nil end
  end
  return doc.target_type, ids
end

-- POST .../unbind: every id ends up in success_targets or failure_targets.
-- POST .../bind (local helper for tests and the demo, same body): binding an
-- already bound id counts as success; the answer has the same shape.
local function bind_or_unbind(self, policy_id, action, req)
  local ttype, ids = policy_body(req.body)
  if not ttype then return iot_invalid() end
  local policy = self.state.policies[auth.percent_decode(policy_id)]
  if not policy then return iot(404, "IOTDA.015206", "The device policy does not exist.") end
  local set = policy[ttype]
  local ok_list, failed = array(), array()
  for _, id in ipairs(ids) do
    if action == "bind" then
      set:add(id)
      ok_list[#ok_list + 1] = id
    elseif set:remove(id) then
      ok_list[#ok_list + 1] = id
    else
      failed[#failed + 1] = object("target_id", id, "error_code", "IOTDA.015207",
        "error_msg", "Invalid input. The target does not bind the device-policy.")
    end
  end
  return json_response(200, object("policy_id", auth.percent_decode(policy_id), "target_type", ttype,
    "success_targets", ok_list, "failure_targets", failed))
end

-- GET .../list-targets[?target_type=device] (shape chosen here):
-- {"targets":[{"target_type":"device","target_id":".."}],"page":{"count":N}}
local function list_targets(self, policy_id, req)
  local policy = self.state.policies[auth.percent_decode(policy_id)]
  if not policy then return iot(404, "IOTDA.015206", "The device policy does not exist.") end
  local only
  for _, p in ipairs(auth.parse_query(req.query)) do
    if p[1] == "target_type" then only = p[2] end
  end
  if only and not TARGET_TYPES[only] then return iot_invalid() end
  local out = array()
  for _, ttype in ipairs({ "device", "product", "app" }) do
    if not only or only == ttype then
      for _, id in ipairs(policy[ttype].items) do
        out[#out + 1] = object("target_type", ttype, "target_id", id)
      end
    end
  end
  return json_response(200, object("targets", out, "page", object("count", #out)))
end

local function iotda(self, req)
  -- the gateway authenticates before the service sees the request
  local ok, status, code, msg = auth.verify_iotda(req, self.creds.iotda, os.time())
  if not ok then return iot(status, code, msg) end

  local project, policy, action = req.path:match("^/v5/iot/([^/]+)/device%-policies/([^/]+)/([%a%-]+)$")
  if not project then return iot_no_api() end
  -- another project's path is not routed here at all
  if auth.percent_decode(project) ~= self.creds.iotda.project_id then return iot_no_api() end
  if (action == "unbind" or action == "bind") and req.method == "POST" then
    return bind_or_unbind(self, policy, action, req)
  elseif action == "list-targets" and req.method == "GET" then
    return list_targets(self, policy, req)
  end
  return iot_no_api()
end

---------------------------------------------------------------------------
-- Fault injection (local helpers, no auth, like /_local/reset):
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
-- A fault is served instead of the normal answer of one request, after httpd
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

local function html_page(status, title)
  return string.format("<!DOCTYPE html>\n<html>\n<head><title>%d %s</title></head>\n" ..
    "<body>\n<center><h1>%d %s</h1></center>\n<hr><center>local-gateway</center>\n</body>\n</html>\n",
    status, title, status, title)
end

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

-- kind -> function(self, req, fault) -> status, headers, body | raw function
local FAULTS = {}

-- RST instead of an answer: SO_LINGER 0, then close.
FAULTS.reset = function()
  return function(conn) conn:abort() end
end

-- No answer at all; the connection stays open until the client gives up
-- (or STALL_SECONDS pass), then it is closed.
FAULTS.stall = function()
  return function(conn) conn:wait_gone(STALL_SECONDS) end
end

-- The normal answer's head at once, then its body one byte per interval.
FAULTS.trickle = function(self, req)
  local status, headers, body = self:route(req)
  return function(conn, _, close)
    if not conn:send_all(httpd.head(status, headers, #body, close)) then return end
    for i = 1, #body do
      httpd.sleep(TRICKLE_INTERVAL)
      if not conn:send_all(body:sub(i, i)) then return end
    end
    return "keep-alive"
  end
end

FAULTS["500"] = function()
  return kd(500, 13000201, "inner server invoke failure")
end

FAULTS["502"] = function()
  return 502, { { "Content-Type", "text/html" } }, html_page(502, "Bad Gateway")
end

FAULTS["503"] = function()
  return 503, { { "Content-Type", "text/html" } }, html_page(503, "Service Temporarily Unavailable")
end

FAULTS["429"] = function(_, _, fault)
  return 429, { { "Retry-After", fault.retry_after } },
    jsonio.encode(object("code", 429, "msg", "Too Many Requests"))
end

-- A success answer cut in the middle (inside the device object), with a
-- Content-Length that matches the cut body: the transfer itself is complete.
FAULTS.truncated = function()
  local full = devices_json("Magic-v5")
  return 200, nil, full:sub(1, #full // 2)
end

FAULTS.html = function()
  return 200, { { "Content-Type", "text/html" } },
    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n" ..
    "<body><h1>Please sign in</h1><form action=\"/login\"></form></body></html>\n"
end

FAULTS.empty = function()
  return 200, nil, ""
end

FAULTS.content_type = function(self, req)
  local status, headers, body = self:route(req)
  return status, with_header(headers, "Content-Type", "text/plain"), body
end

-- 200 with a HUGE_SIZE body of valid JSON, {"code":0,"msg":"success","data":["aaa…",…]},
-- written block by block; send_all yields while the socket would block, so a
-- slow reader holds only this connection back, and one that goes away ends it.
FAULTS.huge = function()
  return function(conn, _, close)
    local blocks = (HUGE_SIZE - #HUGE_PREFIX - 4) // #HUGE_BLOCK
    local rest = HUGE_SIZE - #HUGE_PREFIX - blocks * #HUGE_BLOCK   -- 4 .. #HUGE_BLOCK + 3
    local last = '"' .. string.rep("a", rest - 4) .. '"]}'
    if not conn:send_all(httpd.head(200, nil, HUGE_SIZE, close)) then return end
    if not conn:send_all(HUGE_PREFIX) then return end
    for _ = 1, blocks do
      if not conn:send_all(HUGE_BLOCK) then return end
    end
    if not conn:send_all(last) then return end
    return "keep-alive"
  end
end

-- A devices list whose deviceName holds bytes that are not UTF-8.
FAULTS.bad_utf8 = function()
  return 200, nil, devices_json("bad\xff\xfename")
end

FAULTS.big_header = function(self, req)
  local status, headers, body = self:route(req)
  return status, with_header(headers, "X-Padding", string.rep("a", BIG_HEADER_SIZE)), body
end

-- The first armed fault whose prefix the path starts with; counts it down.
local function take_fault(self, path)
  for i, f in ipairs(self.faults) do
    if path:sub(1, #f.path) == f.path then
      f.remaining = f.remaining - 1
      if f.remaining == 0 then table.remove(self.faults, i) end
      return f
    end
  end
  return nil
end

local function log_request(self, req, fault)
  self.request_count = self.request_count + 1
  local log = self.requests
  log[#log + 1] = { method = req.method, path = req.path, fault = fault and fault.kind }
  if #log > MAX_LOGGED then table.remove(log, 1) end
end

-- POST /_local/fault?kind=K[&count=N][&path=PREFIX][&retry_after=S]
local function arm_fault(self, req)
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

local function list_faults(self)
  local out = array()
  for _, f in ipairs(self.faults) do
    out[#out + 1] = object("kind", f.kind, "remaining", f.remaining, "path", f.path)
  end
  return kd(200, 0, "ok", "faults", out)
end

local function list_requests(self)
  local out = array()
  for _, r in ipairs(self.requests) do
    out[#out + 1] = object("method", r.method, "path", r.path, "fault", r.fault or jsonio.null)
  end
  return kd(200, 0, "ok", "count", self.request_count, "requests", out)
end

---------------------------------------------------------------------------
-- Entry points used by main.lua

local Service = {}
Service.__index = Service

local function clear(self)
  self.state = seed(self.creds)
  self.delay_ms = 0
  self.faults = {}             -- armed faults, in arming order
  self.requests = {}           -- the newest MAX_LOGGED requests since the last reset
  self.request_count = 0       -- all requests since the last reset
end

function M.new(creds)
  local self = setmetatable({ creds = creds }, Service)
  clear(self)
  return self
end

-- The normal answer of a service request.
function Service:route(req)
  local p = req.path
  if p == "/koodrive" or p:sub(1, 10) == "/koodrive/" then return koodrive(self, req) end
  if p:sub(1, 4) == "/v5/" then return iotda(self, req) end
  return kd_not_found()
end

-- Local helpers, no auth: readiness probe, the way back to the seed, delays,
-- faults and the request log.
function Service:control(req)
  local p, m = req.path, req.method
  if p == "/_local/health" and m == "GET" then return kd(200, 0, "ok") end
  if p == "/_local/reset" and m == "POST" then
    clear(self)
    return kd(200, 0, "reset")
  end
  if p == "/_local/delay" and m == "POST" then
    local ms = tonumber((req.query or ""):match("^ms=(%d+)$") or "")
    if not ms or ms > 10000 then return kd(400, 13000102, "ms must be 0-10000") end
    self.delay_ms = ms
    return kd(200, 0, "delay " .. ms .. " ms")
  end
  if p == "/_local/fault" and m == "POST" then return arm_fault(self, req) end
  if p == "/_local/faults" and m == "GET" then return list_faults(self) end
  if p == "/_local/requests" and m == "GET" then return list_requests(self) end
  return kd_not_found()
end

-- handle(req) -> status, headers, body, or a raw function for httpd (faults)
function Service:handle(req)
  if req.path:sub(1, 8) == "/_local/" then return self:control(req) end
  local fault = take_fault(self, req.path)
  log_request(self, req, fault)
  if (self.delay_ms or 0) > 0 then
    -- /_local/delay: every answer waits, for specs of concurrency (the work is done after)
    httpd.sleep(self.delay_ms / 1000)
  end
  if fault then return FAULTS[fault.kind](self, req, fault) end
  return self:route(req)
end

-- Bodies for errors httpd finds itself (bad framing, limits, handler
-- crash), in the envelope of the service the path belongs to. IoTDA: 4xx ->
-- IOTDA.000006 with the reason appended, 500 -> IOTDA.000001 (local choice).
-- KooDrive and anything else: 500 -> 13000201 "inner server invoke failure"
-- (recorded example), 4xx -> {"code":<http status>,"msg":"<reason>"}.
function Service:error_body(status, why, req) -- luacheck: ignore 212 (self: called as a method by httpd)
  if req and req.path:sub(1, 4) == "/v5/" then
    if status >= 500 then
      return jsonio.encode(object("error_code", "IOTDA.000001", "error_msg", "Internal server error."))
    end
    return jsonio.encode(object("error_code", "IOTDA.000006", "error_msg", "Invalid input data. " .. (why or "")))
  end
  if status >= 500 and status ~= 501 and status ~= 505 then
    return jsonio.encode(object("code", 13000201, "msg", "inner server invoke failure"))
  end
  return jsonio.encode(object("code", status, "msg", why or "error"))
end

return M
