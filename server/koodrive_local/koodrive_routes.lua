-- koodrive_local.koodrive_routes: the KooDrive routes of the local service.
-- Auth is checked first (koodrive_local.auth), then the route runs on the
-- service's state (self.state, see koodrive_local.state).
--
-- Response shapes follow the contract (koodrive-api.md and the recorded
-- examples). Where the contract says nothing, the choice made here is written
-- next to the route.

local auth = require "koodrive_local.auth"
local jsonio = require "koodrive_local.jsonio"
local reply = require "koodrive_local.reply"
local state = require "koodrive_local.state"

local array, object = jsonio.array, jsonio.object
local kd, kd_param_error, kd_not_found = reply.kd, reply.kd_param_error, reply.kd_not_found

local M = {}

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
  repeat id = state.random_digits(19) until not self.state.issued[id]
  self.state.issued[id] = true
  local d = { deviceId = id, machineCode = machine, deviceName = name, deviceOS = os_, createTime = state.iso_now() }
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

--- The answer of a request under /koodrive/ (auth first, then the route).
function M.handle(self, req)
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

return M
