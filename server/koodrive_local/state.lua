-- koodrive_local.state: the in-memory state of the local service and its seed.
-- It lives in the one nginx worker's Lua VM (worker_processes 1), so every
-- connection sees the same devices, groups, policies, faults and request log.
-- POST /_local/reset (or a restart) brings the seed from local_credentials back.

-- luacheck: read globals ngx

local rand = require "openssl.rand"

local M = {}

---------------------------------------------------------------------------
-- An ordered set of strings: keeps insertion order (the device list is "in
-- bind order") and answers membership in O(1).

local OrderedSet = {}
OrderedSet.__index = OrderedSet

function M.ordered_set(items)
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
-- Values the routes make

-- A random decimal string of n digits, the first one 1-9. Bytes >= 250 are
-- dropped so that every digit is equally likely.
function M.random_digits(n)
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

-- 32 hex digits for X-Request-Id.
function M.request_id()
  return (rand.bytes(16):gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- Seconds since the epoch with a fraction: nginx's clock inside nginx,
-- LuaSocket's elsewhere (the specs load these modules in-process too).
function M.now()
  if ngx then return ngx.now() end
  return require("socket").gettime()
end

-- ISO 8601 UTC with milliseconds, as in the service's createTime.
function M.iso_now()
  local t = M.now()
  local secs = math.floor(t)
  local ms = math.floor((t - secs) * 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. string.format(".%03dZ", ms)
end

---------------------------------------------------------------------------
-- The seed

function M.seed(creds)
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
  state.groups[kd_c.group_id] = { name = "local-group", members = M.ordered_set(kd_c.group_members) }
  state.group_order[1] = kd_c.group_id
  local targets = iot_c.policy_targets or {}
  state.policies[iot_c.policy_id] = {
    device = M.ordered_set(targets.device), product = M.ordered_set(targets.product),
    app = M.ordered_set(targets.app),
  }
  return state
end

return M
