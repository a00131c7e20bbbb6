-- Hostile input in every option of koodrive.iotda.new: each is refused with a `config` error
-- naming the option, without raising, echoing the hostile bytes or sending anything.
-- See spec/support/hostile.lua for the values and what every refusal must look like;
-- each target also has a good value that must be accepted (and sent).
local koodrive = require "koodrive"
local fixtures = require "support.fixtures"
local hostile = require "support.hostile"

local MIB = hostile.MIB
local v = hostile.v
local wrong_types = hostile.wrong_types
local values = hostile.values
local header_strings = hostile.header_strings
local segment_strings = hostile.segment_strings
local HOSTILE_KEYS = hostile.HOSTILE_KEYS
local iot_config = hostile.iot_config
local construct = hostile.construct
local TARGETS, target = hostile.targets()

---------------------------------------------------------------- koodrive.iotda.new options

target {
  name = "iotda.new project_id", kind = "config", field = "project_id", sends = false,
  call = function(env, val) return construct(env, "project_id", val, true) end,
  good = fixtures.PROJECT_ID,
  values = values(wrong_types { "string", "integer" }, segment_strings()),
}

target {
  name = "iotda.new endpoint", kind = "config", field = "endpoint", sends = false,
  call = function(env, val) return construct(env, "endpoint", val, true) end,
  good = "https://iotda.cn-north-4.myhuaweicloud.com",
  values = values(wrong_types { "string" }, {
    v("CR LF in the host", "https://x\r\nX: y", "injection"),
    v("a '%2e%2e' base path", "https://x/%2e%2e/v5", "traversal"),
    v("a 1 MiB URL", "https://x/" .. MIB, "long"),
  }),
}

local AKSK = { token = false, ak = "spec-ak", sk = "spec-sk", region = "cn-north-4" }
local function iot_aksk(env, name, value, extra)
  local c = iot_config(env, AKSK)
  c.token = nil
  for k, val in pairs(extra or {}) do c[k] = val end
  c[name] = value
  return koodrive.iotda.new(c)
end

target {
  name = "iotda.new token", kind = "config", field = "token", sends = false,
  call = function(env, val) return construct(env, "token", val, true) end,
  good = "MIIEXAMPLE+/=-",
  values = values(wrong_types { "string", "nil" }, header_strings(32768), { v("empty", "", "empty") }),
}

for _, name in ipairs { "ak", "sk", "security_token", "instance_id" } do
  local required = name == "ak" or name == "sk"
  target {
    name = "iotda.new " .. name, kind = "config", field = name, sends = false,
    call = function(env, val) return iot_aksk(env, name, val) end,
    good = "AbC123",
    values = values(wrong_types(required and { "string" } or { "string", "nil" }), header_strings(32768), { v("empty", "", "empty") }),
  }
end

target {
  name = "iotda.new region (derived signing)", kind = "config", field = "region", sends = false,
  call = function(env, val) return iot_aksk(env, "region", val, { derived = true }) end,
  good = "cn-north-4",
  values = values(wrong_types { "string" }, header_strings(32768), {
    v("empty", "", "empty"), v("'a/b'", "a/b", "traversal"), v("'../x'", "../x", "traversal"),
  }),
}

target {
  name = "iotda.new derived (AK/SK mode)", kind = "config", field = "derived", sends = false,
  call = function(env, val) return iot_aksk(env, "derived", val) end,
  good = true,
  values = values(wrong_types { "boolean", "nil" }, { v("the string 'true'", "true", "type") }),
}

target {
  name = "iotda.new derived (token mode)", kind = "config", field = "derived", sends = false,
  call = function(env, val) return construct(env, "derived", val, true) end,
  good = false,
  values = values(wrong_types { "boolean", "nil" }, { v("the string 'true'", "true", "type") }),
}

target {
  name = "iotda.new unknown option keys", kind = "config", sends = false,
  field = function(f) return type(f) == "string" and f ~= "" end,
  call = function(env, key) local c = iot_config(env); c[key] = 1; return koodrive.iotda.new(c) end,
  values = HOSTILE_KEYS,
}

hostile.run("hostile input: koodrive.iotda.new options", TARGETS, describe, it)
