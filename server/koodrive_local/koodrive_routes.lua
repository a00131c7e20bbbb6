-- koodrive_local.koodrive_routes: the KooDrive routes of the local service:
-- the dispatcher and the device routes. The other families live in
-- routes_files, routes_transfer (upload/download), routes_jobs, routes_sharing, routes_groups, routes_users and
-- routes_sessions; each exports a list of { method, Lua pattern, handler,
-- auth = "none" (no Authorization checked) }. handler(svc, ctx, req, captures...)
-- where ctx = { user = X-User-Id } (nil for auth = "none" routes).
--
-- Auth is checked first (koodrive_local.auth, with the issued session and
-- carrier tokens), then the route runs on the service's state (self.state).
-- Before any route, jobs whose time has come are advanced (routes_jobs.tick).
--
-- Response shapes follow the contract (koodrive-api.md, koodrive-files-api.md,
-- koodrive-sharing-groups-api.md and the recorded examples). Where the
-- contract says nothing, the choice made here is written next to the route.

local auth = require "koodrive_local.auth"
local jsonio = require "koodrive_local.jsonio"
local reply = require "koodrive_local.reply"
local routes_files = require "koodrive_local.routes_files"
local routes_groups = require "koodrive_local.routes_groups"
local routes_jobs = require "koodrive_local.routes_jobs"
local routes_sessions = require "koodrive_local.routes_sessions"
local routes_sharing = require "koodrive_local.routes_sharing"
local routes_spaces = require "koodrive_local.routes_spaces"
local routes_transfer = require "koodrive_local.routes_transfer"
local routes_users = require "koodrive_local.routes_users"
local state = require "koodrive_local.state"

local array, object = jsonio.array, jsonio.object
local kd, kd_param_error, kd_not_found = reply.kd, reply.kd_param_error, reply.kd_not_found

local M = {}

-- Only the character classes of the contract's patterns, for Lua patterns
-- (which have no {m,n}): check the set and the length separately.
local function matches(v, set, maxlen)
  return type(v) == "string" and #v >= 1 and #v <= maxlen and v:match("^" .. set .. "+$") ~= nil
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

local V1 = "^/koodrive/ose/v1/"

local DEVICE_ROUTES = {
  { "GET", V1 .. "backup/device$", function(svc, ctx) return list_devices(svc, ctx.user) end },
  { "POST", V1 .. "backup/device$", function(svc, ctx, req) return bind_device(svc, ctx.user, req) end },
  { "DELETE", V1 .. "backup/device/([^/]+)$", function(svc, ctx, _, id) return unbind_device(svc, ctx.user, id) end },
}

-- Every route, in match order: the job detail (GET v1/{digits}) comes last.
local ROUTES = {}
for _, list in ipairs { routes_sessions.routes, DEVICE_ROUTES, routes_spaces.routes, routes_transfer.routes,
  routes_files.routes, routes_sharing.routes, routes_groups.routes, routes_users.routes, routes_jobs.routes } do
  for _, r in ipairs(list) do ROUTES[#ROUTES + 1] = r end
end

local function find(method, path)
  local any_method = false
  for _, r in ipairs(ROUTES) do
    local caps = { path:match(r[2]) }
    if caps[1] ~= nil then
      if r[1] == method then return r, caps end
      any_method = true
    end
  end
  return nil, any_method
end

local unpack_ = table.unpack or unpack

--- The answer of a request under /koodrive/ (auth first, then the route).
function M.handle(self, req)
  routes_jobs.tick(self.state)
  local route, caps = find(req.method, req.path)
  if route and route.auth == "none" then return route[3](self, nil, req, unpack_(caps)) end
  local ok, status, code, msg = auth.verify_koodrive(req, routes_sessions.creds(self), state.now())
  if not ok then return kd(status, code, msg) end
  if not route then return kd_not_found() end
  return route[3](self, { user = req.headers["x-user-id"] }, req, unpack_(caps))
end

return M
