-- Hostile input in the positional arguments of every operation (devices, usergroups, IoTDA
-- device policies): path traversal, CR/LF/NUL, over-long, non-UTF-8 and wrong types are refused
-- with a `validation` error naming the argument before anything is sent.
-- See spec/support/hostile.lua for the values and what every refusal must look like;
-- each target also has a good value that must be accepted (and sent).
local hostile = require "support.hostile"

local v = hostile.v
local wrong_types = hostile.wrong_types
local TRAVERSAL = hostile.TRAVERSAL
local INJECTION = hostile.INJECTION
local NON_UTF8 = hostile.NON_UTF8
local NON_ASCII = hostile.NON_ASCII
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

---------------------------------------------------------------- operations: positional arguments

target {
  name = "devices:bind device", field = "device",
  call = function(env, val) return env.kd.devices:bind(val) end,
  good = { machineCode = "m" },
  values = values(wrong_types { "table" }),
}

local BIND_FIELDS = {
  { "machineCode", 64, true },
  { "deviceName", 32, false },
  { "deviceOS", 32, false },
}
for _, f in ipairs(BIND_FIELDS) do
  local name, max, required = f[1], f[2], f[3]
  target {
    name = "devices:bind " .. name, field = name,
    call = function(env, val)
      local device = { machineCode = "m" }
      device[name] = val
      return env.kd.devices:bind(device)
    end,
    good = "Magic_v5",
    values = values(wrong_types(required and { "string" } or { "string", "nil" }), TRAVERSAL, INJECTION, NON_UTF8, NON_ASCII,
      long(max), { v("empty", "", "empty") }),
  }
end

target {
  name = "devices:bind unknown device keys", field = prefix("device."),
  call = function(env, key) return env.kd.devices:bind { machineCode = "m", [key] = "x" } end,
  values = HOSTILE_KEYS,
}

local function path_segment_target(name, field, call, good)
  target {
    name = name, field = field, call = call, good = good or GOOD_ID,
    values = values(wrong_types { "string", "integer" }, segment_strings(), {
      v("-1", -1, "range"), v("2^53", 2 ^ 53, "range"),
    }),
  }
end

path_segment_target("devices:unbind deviceId", "deviceId",
  function(env, val) return env.kd.devices:unbind(val) end)
path_segment_target("usergroups:delete_members groupId", "groupId",
  function(env, val) return env.kd.usergroups:delete_members(val, { "1" }) end)
path_segment_target("device_policies:unbind policy_id", "policy_id",
  function(env, val) return env.iot.device_policies:unbind(val, { target_type = "device", target_ids = { "a" } }) end,
  "5c90fa7d3c4e4405e8525079")

target {
  name = "usergroups:delete_members userIds", field = "userIds",
  call = function(env, val) return env.kd.usergroups:delete_members("1", val) end,
  good = { "3432423464657862424" },
  values = list_values(),
}

target {
  name = "usergroups:delete_members userIds[2]", field = "userIds[2]",
  call = function(env, val) return env.kd.usergroups:delete_members("1", { "1", val }) end,
  good = "9223372036854775807",
  values = user_id_values(),
}

target {
  name = "device_policies:unbind targets", field = "targets",
  call = function(env, val) return env.iot.device_policies:unbind("5c90fa7d3c4e4405e8525079", val) end,
  good = { target_type = "device", target_ids = { "a" } },
  values = values(wrong_types { "table" }),
}

target {
  name = "device_policies:unbind target_type", field = "target_type",
  call = function(env, val) return env.iot.device_policies:unbind("5c90fa7d3c4e4405e8525079",
    { target_type = val, target_ids = { "a" } }) end,
  good = "product",
  values = values(wrong_types { "string" }, TRAVERSAL, INJECTION, NON_UTF8, long(), { v("'devices'", "devices", "enum"),
    v("'device\\0'", "device\0", "injection"), v("'DEVICE'", "DEVICE", "enum") }),
}

target {
  name = "device_policies:unbind target_ids", field = "target_ids",
  call = function(env, val) return env.iot.device_policies:unbind("5c90fa7d3c4e4405e8525079",
    { target_type = "device", target_ids = val }) end,
  good = { "a" },
  values = list_values(20),
}

target {
  name = "device_policies:unbind target_ids[2]", field = "target_ids[2]",
  call = function(env, val)
    return env.iot.device_policies:unbind("5c90fa7d3c4e4405e8525079", { target_type = "device", target_ids = { "a", val } })
  end,
  good = "64a7ba7ef9cb063d27e16b97_123456",
  values = target_id_values(),
}

target {
  name = "device_policies:unbind unknown targets keys", field = prefix("targets."),
  call = function(env, key)
    return env.iot.device_policies:unbind("5c90fa7d3c4e4405e8525079", { target_type = "device", target_ids = { "a" }, [key] = 1 })
  end,
  values = HOSTILE_KEYS,
}

target {
  name = "extra positional arguments", field = "arguments",
  call = function(env, val) return env.kd.devices:unbind("1", {}, val) end,
  values = values(wrong_types { "nil" }, { v("a string", "x", "type") }),
}

hostile.run("hostile input: operation arguments", TARGETS, describe, it)
