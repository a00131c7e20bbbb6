-- Hostile input in the per-call options of every operation and in client:call / client:prepare
-- (method, path, query, body): refused with a `validation` error naming the field, nothing sent.
-- See spec/support/hostile.lua for the values and what every refusal must look like;
-- each target also has a good value that must be accepted (and sent).
local koodrive = require "koodrive"
local hostile = require "support.hostile"

local MIB = hostile.MIB
local FN = hostile.FN
local UD = hostile.UD
local CO = hostile.CO
local TRAP = hostile.TRAP
local v = hostile.v
local wrong_types = hostile.wrong_types
local TRAVERSAL = hostile.TRAVERSAL
local INJECTION = hostile.INJECTION
local NON_UTF8 = hostile.NON_UTF8
local long = hostile.long
local values = hostile.values
local header_strings = hostile.header_strings
local seconds_values = hostile.seconds_values
local HOSTILE_KEYS = hostile.HOSTILE_KEYS
local GOOD_ID = hostile.GOOD_ID
local TRACE = hostile.TRACE
local prefix = hostile.prefix
local TARGETS, target = hostile.targets()

---------------------------------------------------------------- per-call options, on every operation

local OPERATIONS = {
  { "devices:list", function(env, o) return env.kd.devices:list(o) end },
  { "devices:bind", function(env, o) return env.kd.devices:bind({ machineCode = "m" }, o) end },
  { "devices:unbind", function(env, o) return env.kd.devices:unbind(GOOD_ID, o) end },
  { "usergroups:delete_members", function(env, o) return env.kd.usergroups:delete_members("1", { "1" }, o) end },
  { "device_policies:unbind", function(env, o)
    return env.iot.device_policies:unbind("5c90fa7d3c4e4405e8525079", { target_type = "device", target_ids = { "a" } }, o) end },
}

local CALL_OPTIONS = {
  { "trace_id", TRACE, values(wrong_types { "string", "nil" }, header_strings(58), TRAVERSAL, {
    v("57 bytes", string.rep("a", 57), "long"), v("58 bytes with a space", string.rep("a", 57) .. " ", "injection"),
    v("58 bytes with CR LF", string.rep("a", 56) .. "\r\n", "injection"),
    v("58 bytes, non-UTF-8", string.rep("a", 56) .. "\255\254", "non_utf8"),
  }) },
  { "language", "zh-CN", values(wrong_types { "string", "nil" }, header_strings(35), { v("empty", "", "empty") }) },
  { "timeout", 5, seconds_values() },
  { "connect_timeout", 2, seconds_values() },
}

for _, op in ipairs(OPERATIONS) do
  local op_name, call = op[1], op[2]
  target {
    name = op_name .. " options table", field = "options",
    call = function(env, val) return call(env, val) end,
    good = { timeout = 3 },
    values = values(wrong_types { "table", "nil" }, { v("a string", "fast", "type") }),
  }
  for _, o in ipairs(CALL_OPTIONS) do
    target {
      name = op_name .. " option " .. o[1], field = o[1],
      call = function(env, val) return call(env, { [o[1]] = val }) end,
      good = o[2], values = o[3],
    }
  end
  target {
    name = op_name .. " option retry", field = "retry",
    call = function(env, val) return call(env, { retry = val }) end,
    good = false, values = values(wrong_types { "boolean", "nil" }, { v("the string 'yes'", "yes", "type") }),
  }
  target {
    name = op_name .. " unknown option keys", field = prefix("options."),
    call = function(env, key) return call(env, { [key] = 1 }) end,
    values = HOSTILE_KEYS,
  }
end

---------------------------------------------------------------- generic call and prepare

local function generic(method_name)
  local sends = method_name == "call"
  local function run(env, spec) return env.kd[method_name](env.kd, spec) end
  local N = "client:" .. method_name .. " "

  target {
    name = N .. "request", field = "request", sends = sends,
    call = function(env, val) return run(env, val) end,
    good = { method = "GET", path = "/a" },
    values = values(wrong_types { "table" }),
  }
  target {
    name = N .. "method", field = "method", sends = sends,
    call = function(env, val) return run(env, { method = val, path = "/a" }) end,
    good = "post",
    values = values(wrong_types { "string" }, INJECTION, NON_UTF8, long(), {
      v("'GET\\r\\nX: y'", "GET\r\nX: y", "injection"), v("'GET\\0'", "GET\0", "injection"),
      v("'TRACE'", "TRACE", "enum"), v("'CONNECT'", "CONNECT", "enum"), v("' GET'", " GET", "enum"),
    }),
  }
  target {
    name = N .. "path", field = "path", sends = sends,
    call = function(env, val) return run(env, { method = "GET", path = val }) end,
    good = "/koodrive/ose/v1/usergroups/%41b~c",
    values = values(wrong_types { "string" }, {
      v("a relative path", "a/b", "type"), v("'/a/../b'", "/a/../b", "traversal"),
      v("'/..'", "/..", "traversal"), v("'/a/./b'", "/a/./b", "traversal"),
      v("'/a/%2e%2e/b'", "/a/%2e%2e/b", "traversal"), v("'/a/%2E%2e'", "/a/%2E%2e", "traversal"),
      v("'/a/.%2e/b'", "/a/.%2e/b", "traversal"), v("'/a\\b'", "/a\\b", "traversal"),
      v("'/a/..\\b'", "/a/..\\b", "traversal"), v("'/a%2Fb'", "/a%2Fb", "traversal"),
      v("'/a%5Cb'", "/a%5Cb", "traversal"),
      v("'/a?b=1'", "/a?b=1", "traversal"), v("'/a#b'", "/a#b", "traversal"),
      v("CR LF", "/a\r\nX: y", "injection"), v("NUL", "/a\0b", "injection"),
      v("an encoded CR LF", "/a%0d%0aX: y", "encoded"), v("an encoded NUL", "/a%00b", "encoded"),
      v("non-UTF-8", "/\255\254", "non_utf8"), v("an overlong '/'", "/a\192\175b", "non_utf8"),
      v("valid UTF-8 'é'", "/\195\169", "non_ascii"),
      v("1 MiB", "/" .. MIB, "long"), v("4097 bytes (one past 4096)", "/" .. string.rep("a", 4096), "long"),
    }),
  }
  target {
    name = N .. "query", field = "query", sends = sends,
    call = function(env, val) return run(env, { method = "GET", path = "/a", query = val }) end,
    good = { a = "1" },
    values = values(wrong_types { "table", "nil" }, { v("a string", "a=b", "type") }),
  }
  -- Query names, in both forms ({ name = value } and { {name, value} }).
  -- (valid UTF-8 names are fine: they are percent-encoded, and the contract's vectors use one)
  local name_values = values(INJECTION, NON_UTF8, long(256), { v("empty", "", "empty") })
  target {
    name = N .. "query name (map form)", field = prefix("query"), sends = sends,
    call = function(env, name) return run(env, { method = "GET", path = "/a", query = { [name] = "v" } }) end,
    good = "k\228\184\128",
    values = values(name_values, {
      v("a table name", {}, "type"), v("a function name", FN, "type"), v("the name true", true, "type"),
      v("a name whose __tostring raises", TRAP, "type"),
    }),
  }
  target {
    name = N .. "query name (pairs form)", field = prefix("query"), sends = sends,
    call = function(env, name) return run(env, { method = "GET", path = "/a", query = { { name, "v" } } }) end,
    good = "pageSize",
    values = values(wrong_types { "string" }, name_values),
  }
  local value_values = values(INJECTION, NON_UTF8, {
    v("1 MiB", MIB, "long"), v("8193 bytes (one past 8192)", string.rep("a", 8193), "long"),
    v("NaN", 0 / 0, "number"), v("infinity", math.huge, "number"),
    v("a function", FN, "type"), v("a userdata", UD, "type"), v("a coroutine", CO, "type"),
  })
  target {
    name = N .. "query value (map form)", field = "query.a", sends = sends,
    call = function(env, val) return run(env, { method = "GET", path = "/a", query = { a = val } }) end,
    good = "caf\195\169 ../x",
    values = values(value_values, { v("a nested table", { {} }, "type") }),
  }
  target {
    name = N .. "query value (pairs form)", field = "query.a", sends = sends,
    call = function(env, val) return run(env, { method = "GET", path = "/a", query = { { "a", val } } }) end,
    good = 42,
    values = values(value_values, { v("a table", {}, "type") }),
  }
  target {
    name = N .. "body", field = prefix("body"), sends = sends,
    call = function(env, val) return run(env, { method = "POST", path = "/a", body = val }) end,
    good = { name = "caf\195\169\r\n", ids = { koodrive.int64("3432423464657862424") }, none = koodrive.null },
    values = values(wrong_types { "table", "string", "nil" }, {
      v("a non-UTF-8 string value", { name = "\255\254" }, "non_utf8"),
      v("an overlong '/' deep inside", { a = { b = { "ok", "\192\175" } } }, "non_utf8"),
      v("a surrogate in a key", { ["a\237\160\128"] = 1 }, "non_utf8"),
      v("a non-UTF-8 string body", "{\"a\":\"\255\"}", "non_utf8"),
      v("a function value", { f = FN }, "json"), v("a coroutine value", { c = CO }, "json"),
      v("a NaN value", { n = 0 / 0 }, "json"), v("a cyclic table", (function()
        local t = {}; t.self = t; return t end)(), "json"),
    }),
  }
  for _, o in ipairs(CALL_OPTIONS) do
    target {
      name = N .. "request field " .. o[1], field = o[1], sends = sends,
      call = function(env, val) return run(env, { method = "GET", path = "/a", [o[1]] = val }) end,
      good = o[2], values = o[3],
    }
  end
  target {
    name = N .. "unknown request keys", field = prefix("request."), sends = sends,
    call = function(env, key) return run(env, { method = "GET", path = "/a", [key] = 1 }) end,
    values = HOSTILE_KEYS,
  }
end
generic("call")
generic("prepare")

hostile.run("hostile input: per-call options, call and prepare", TARGETS, describe, it)
