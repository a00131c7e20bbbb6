-- koodrive_local.iotda_policies: the device-policy store of the local IoTDA service.
--
-- One store per service state (POST /_local/reset makes a new one from the seed in
-- local_credentials.iotda). Policies are kept by id; listings run in descending id order
-- below a marker (iotda-api.md §2), as do a policy's bound targets (§8), which get record
-- ids of their own for that. New ids grow with creation, so the newest policy comes first.

local auth = require "koodrive_local.auth"
local jsonio = require "koodrive_local.jsonio"
local state = require "koodrive_local.state"

local M = {}

M.MAX_POLICIES = 50                  -- iotda-api.md: "an instance holds at most 50 policies"
M.TOP_MARKER = "ffffffffffffffffffffffff"

local Store = {}
Store.__index = Store

local TARGET_TYPES = { "device", "product", "app" }

local unpack_list = table.unpack or unpack -- luacheck: ignore 143

-- A 24-hex id: "6", 7 hex digits fixed per store, 16 of a counter. Above the seeded
-- "5c90..." policy, increasing in creation order.
local function new_id(self)
  self.counter = self.counter + 1
  return string.format("6%s%016x", self.epoch, self.counter)
end

local function now_stamp()
  return auth.compact_date(math.floor(state.now()))
end

local function add_policy(self, p)
  p.targets = {}
  for _, t in ipairs(TARGET_TYPES) do p.targets[t] = state.ordered_set() end
  p.records = {}                     -- [target_type .. "\0" .. target_id] = record id
  self.policies[p.policy_id] = p
  self.count = self.count + 1
  return p
end

-- The seed's Statement[] (plain Lua tables) as jsonio writes it: arrays marked, keys ordered.
local function seed_statement(list)
  local out = jsonio.array()
  for i, st in ipairs(list or {}) do
    out[i] = jsonio.object("effect", st.effect, "actions", jsonio.array { unpack_list(st.actions) },
      "resources", jsonio.array { unpack_list(st.resources) })
  end
  return out
end

--- The store of a service (made from the seed on first use after a reset).
function M.of(svc)
  local s = svc.state
  if s.iotda_store then return s.iotda_store end
  local c = svc.creds.iotda
  local self = setmetatable({ policies = {}, count = 0, counter = 0,
    epoch = state.random_digits(7) }, Store)
  local stamp = now_stamp()
  local seeded = add_policy(self, { policy_id = c.policy_id, policy_name = c.policy_name or "local-policy",
    app_id = c.policy_app_id, statement = seed_statement(c.policy_statement),
    create_time = stamp, update_time = stamp })
  for _, t in ipairs(TARGET_TYPES) do
    for _, id in ipairs((c.policy_targets or {})[t] or {}) do self:bind(seeded, t, id) end
  end
  s.iotda_store = self
  return self
end

--- The policy with this id (ids compare without regard to case), or nil.
function Store:get(id)
  return self.policies[id:lower()]
end

--- A new policy; nil when the instance already holds MAX_POLICIES (unless `force`).
function Store:create(fields, force)
  if self.count >= M.MAX_POLICIES and not force then return nil end
  local stamp = now_stamp()
  return add_policy(self, { policy_id = new_id(self), policy_name = fields.policy_name,
    app_id = fields.app_id, statement = fields.statement, create_time = stamp, update_time = stamp })
end

function Store.update(_, p, fields)
  if fields.policy_name ~= nil then p.policy_name = fields.policy_name end
  if fields.statement ~= nil then p.statement = fields.statement end
  p.update_time = now_stamp()
  return p
end

--- Deleting a policy unbinds everything bound to it (the targets go with it).
function Store:delete(p)
  self.policies[p.policy_id] = nil
  self.count = self.count - 1
end

--- Binds one target; true when it was not bound yet.
function Store:bind(p, target_type, id)
  if not p.targets[target_type]:add(id) then return false end
  p.records[target_type .. "\0" .. id] = new_id(self)
  return true
end

--- Unbinds one target; false when it was not bound.
function Store.unbind(_, p, target_type, id)
  if not p.targets[target_type]:remove(id) then return false end
  p.records[target_type .. "\0" .. id] = nil
  return true
end

-- Records in descending key order below `marker`, after skipping `offset`, at most
-- `limit`: the page, the number matching in all, and the last key of the page.
local function page(records, marker, offset, limit)
  table.sort(records, function(a, b) return a.key > b.key end)
  local below = {}
  for _, r in ipairs(records) do
    if r.key < marker then below[#below + 1] = r end
  end
  local out = {}
  for i = offset + 1, math.min(#below, offset + limit) do out[#out + 1] = below[i] end
  return out, #records, out[#out] and out[#out].key or nil
end

--- Policies matching { app_id, policy_name (part of the name) }: page, count, marker.
function Store:list(filter, marker, offset, limit)
  local records = {}
  for id, p in pairs(self.policies) do
    if (not filter.app_id or p.app_id == filter.app_id)
      and (not filter.policy_name or (p.policy_name or ""):find(filter.policy_name, 1, true)) then
      records[#records + 1] = { key = id, policy = p }
    end
  end
  return page(records, marker:lower(), offset, limit)
end

--- A policy's bound targets (of one type when given): page, count, marker.
function Store.targets(_, p, only, marker, offset, limit)
  local records = {}
  for _, t in ipairs(TARGET_TYPES) do
    if not only or only == t then
      for _, id in ipairs(p.targets[t].items) do
        records[#records + 1] = { key = p.records[t .. "\0" .. id], target_type = t, target_id = id }
      end
    end
  end
  return page(records, marker:lower(), offset, limit)
end

return M
