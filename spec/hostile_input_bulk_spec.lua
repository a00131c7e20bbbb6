-- Hostile input in the bulk helpers (unbind_many, delete_members_many, unbind_all, koodrive.batch):
-- their items and options are refused with a `validation` error naming the field, nothing sent.
-- See spec/support/hostile.lua for the values and what every refusal must look like;
-- each target also has a good value that must be accepted (and sent).
local koodrive = require "koodrive"
local hostile = require "support.hostile"

local FN = hostile.FN
local v = hostile.v
local wrong_types = hostile.wrong_types
local INJECTION = hostile.INJECTION
local NON_UTF8 = hostile.NON_UTF8
local long = hostile.long
local values = hostile.values
local segment_strings = hostile.segment_strings
local HOSTILE_KEYS = hostile.HOSTILE_KEYS
local GOOD_ID = hostile.GOOD_ID
local prefix = hostile.prefix
local list_values = hostile.list_values
local user_id_values = hostile.user_id_values
local target_id_values = hostile.target_id_values
local TARGETS, target = hostile.targets()

---------------------------------------------------------------- bulk helpers

local function bulk_options(name, call)
  target {
    name = name .. " options", field = "options",
    call = function(env, val) return call(env, val) end,
    good = { concurrency = 2 },
    values = values(wrong_types { "table", "nil" }),
  }
  target {
    name = name .. " concurrency", field = "concurrency",
    call = function(env, val) return call(env, { concurrency = val }) end,
    good = 256,
    values = values(wrong_types { "number", "nil" }, {
      v("0", 0, "range"), v("257", 257, "range"), v("1.5", 1.5, "range"), v("-1", -1, "range"),
      v("NaN", 0 / 0, "range"), v("infinity", math.huge, "range"), v("the string '8'", "8", "type"),
    }),
  }
  target {
    name = name .. " progress", field = "progress",
    call = function(env, val) return call(env, { progress = val }) end,
    good = FN,
    values = values(wrong_types { "function", "nil" }),
  }
  target {
    name = name .. " unknown option keys", field = prefix("options."),
    call = function(env, key) return call(env, { [key] = 1 }) end,
    values = HOSTILE_KEYS,
  }
end

target {
  name = "devices:unbind_many ids", field = "deviceIds",
  call = function(env, val) return env.kd.devices:unbind_many(val) end,
  good = { GOOD_ID },
  values = list_values(),
}
target {
  name = "devices:unbind_many ids[2]", field = "deviceIds[2]",
  call = function(env, val) return env.kd.devices:unbind_many({ GOOD_ID, val }) end,
  good = "1",
  values = values(wrong_types { "string", "integer", "nil" }, segment_strings()),
}
bulk_options("devices:unbind_many", function(env, o) return env.kd.devices:unbind_many({ GOOD_ID }, o) end)

target {
  name = "usergroups:delete_members_many groups", field = "groups",
  call = function(env, val) return env.kd.usergroups:delete_members_many(val) end,
  good = { { "1", { "2" } } },
  values = list_values(),
}
target {
  name = "usergroups:delete_members_many groups[2]", field = "groups[2]",
  call = function(env, val) return env.kd.usergroups:delete_members_many({ { "1", { "2" } }, val }) end,
  good = { groupId = "3", userIds = { "4" } },
  values = values(wrong_types { "table", "nil" }),
}
target {
  name = "usergroups:delete_members_many groups[2].groupId", field = "groups[2].groupId",
  call = function(env, val)
    return env.kd.usergroups:delete_members_many({ { "1", { "2" } }, { groupId = val, userIds = { "4" } } })
  end,
  good = "3",
  values = values(wrong_types { "string", "integer" }, segment_strings()),
}
target {
  name = "usergroups:delete_members_many groups[2].userIds", field = "groups[2].userIds",
  call = function(env, val) return env.kd.usergroups:delete_members_many({ { "1", { "2" } }, { "3", val } }) end,
  good = { "4" },
  values = list_values(),
}
target {
  name = "usergroups:delete_members_many groups[2].userIds[2]", field = "groups[2].userIds[2]",
  call = function(env, val)
    return env.kd.usergroups:delete_members_many({ { "1", { "2" } }, { "3", { "4", val } } })
  end,
  good = "5",
  values = user_id_values(),
}
bulk_options("usergroups:delete_members_many",
  function(env, o) return env.kd.usergroups:delete_members_many({ { "1", { "2" } } }, o) end)

local function ids(n)
  local t = {}
  for i = 1, n do t[i] = "target_" .. i end
  return t
end

target {
  name = "device_policies:unbind_all policy_id", field = "policy_id",
  call = function(env, val)
    return env.iot.device_policies:unbind_all(val, { target_type = "device", target_ids = ids(25) })
  end,
  good = "5c90fa7d3c4e4405e8525079",
  values = values(wrong_types { "string", "integer" }, segment_strings()),
}
target {
  name = "device_policies:unbind_all targets", field = "targets",
  call = function(env, val) return env.iot.device_policies:unbind_all("5c90fa7d3c4e4405e8525079", val) end,
  good = { target_type = "device", target_ids = ids(25) },
  values = values(wrong_types { "table" }),
}
target {
  name = "device_policies:unbind_all target_type", field = "target_type",
  call = function(env, val)
    return env.iot.device_policies:unbind_all("5c90fa7d3c4e4405e8525079", { target_type = val, target_ids = ids(25) })
  end,
  good = "app",
  values = values(wrong_types { "string" }, INJECTION, NON_UTF8, long(), { v("'devices'", "devices", "enum") }),
}
target {
  name = "device_policies:unbind_all target_ids", field = "target_ids",
  call = function(env, val) return env.iot.device_policies:unbind_all("5c90fa7d3c4e4405e8525079",
    { target_type = "device", target_ids = val }) end,
  good = ids(45),
  values = list_values(),
}
target {
  name = "device_policies:unbind_all target_ids[23]", field = "target_ids[23]",
  call = function(env, val)
    local list = ids(25)
    list[23] = val
    if val == nil then list[23] = false end -- nil would make a hole: false stands for a missing id
    return env.iot.device_policies:unbind_all("5c90fa7d3c4e4405e8525079", { target_type = "device", target_ids = list })
  end,
  good = "64a7ba7ef9cb063d27e16b97_123456",
  values = target_id_values(),
}
target {
  name = "device_policies:unbind_all unknown targets keys", field = prefix("targets."),
  call = function(env, key)
    return env.iot.device_policies:unbind_all("5c90fa7d3c4e4405e8525079", { target_type = "device", target_ids = ids(3), [key] = 1 })
  end,
  values = HOSTILE_KEYS,
}
bulk_options("device_policies:unbind_all", function(env, o)
  return env.iot.device_policies:unbind_all("5c90fa7d3c4e4405e8525079", { target_type = "device", target_ids = ids(3) }, o)
end)

-- koodrive.batch(items, fn, opts): the work function stands in for the transport.
local function batch_call(env, items, opts)
  return koodrive.batch(items, function() env.worked = env.worked + 1; return true end, opts)
end
target {
  name = "koodrive.batch items", field = "items",
  call = function(env, val) return batch_call(env, val) end,
  good = { 1, 2 },
  values = values(wrong_types { "table" }, {
    v("a list with a hole", { 1, nil, 3 }, "type"), v("a map", { a = 1 }, "type"),
  }),
}
target {
  name = "koodrive.batch fn", field = "fn",
  call = function(_, val) return koodrive.batch({ 1 }, val) end,
  values = values(wrong_types { "function" }),
}
bulk_options("koodrive.batch", function(env, o) return batch_call(env, { 1 }, o) end)

hostile.run("hostile input: bulk helpers", TARGETS, describe, it)
