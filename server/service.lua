-- service: the routes and the in-memory state of the local KooDrive + IoTDA
-- service. It is given parsed requests by httpd and answers with
-- (status, headers, body). State lives only in this process: restart the
-- server (or POST /_local/reset) to get the seed from local_credentials back.
--
-- Response shapes follow the contract (koodrive-api.md, iotda-api.md and
-- the recorded examples). Where the contract says nothing, the choice made
-- here is written next to the route.

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
-- Entry points used by main.lua

local Service = {}
Service.__index = Service

function M.new(creds)
  return setmetatable({ creds = creds, state = seed(creds) }, Service)
end

-- handle(req) -> status, headers, body
function Service:handle(req)
  local p = req.path
  if p:sub(1, 8) ~= "/_local/" and (self.delay_ms or 0) > 0 then
    -- /_local/delay: every answer waits, for specs of concurrency (the work is done after)
    httpd.sleep(self.delay_ms / 1000)
  end
  if p == "/koodrive" or p:sub(1, 10) == "/koodrive/" then return koodrive(self, req) end
  if p:sub(1, 4) == "/v5/" then return iotda(self, req) end
  if p == "/_local/delay" and req.method == "POST" then
    local ms = tonumber((req.query or ""):match("^ms=(%d+)$") or "")
    if not ms or ms > 10000 then return kd(400, 13000102, "ms must be 0-10000") end
    self.delay_ms = ms
    return kd(200, 0, "delay " .. ms .. " ms")
  end
  -- local helpers, no auth: readiness probe and a way back to the seed
  if p == "/_local/health" and req.method == "GET" then return kd(200, 0, "ok") end
  if p == "/_local/reset" and req.method == "POST" then
    self.state = seed(self.creds)
    self.delay_ms = 0
    return kd(200, 0, "reset")
  end
  return kd_not_found()
end

-- Bodies for errors httpd finds itself (bad framing, limits, handler
-- crash), in the envelope of the service the path belongs to. IoTDA: 4xx ->
-- IOTDA.000006 with the reason appended, 500 -> IOTDA.000001 (local choice).
-- KooDrive and anything else: 500 -> 13000201 "inner server invoke failure"
-- (recorded example), 4xx -> {"code":<http status>,"msg":"<reason>"}.
function Service:error_body(status, why, req)
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
