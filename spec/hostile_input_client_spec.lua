-- Hostile input in every option of koodrive.new (and what it calls back: clock, token_provider):
-- each is refused with a `config` error naming the option, without raising, echoing the hostile
-- bytes or sending anything.
-- See spec/support/hostile.lua for the values and what every refusal must look like;
-- each target also has a good value that must be accepted (and sent).
local koodrive = require "koodrive"
local fixtures = require "support.fixtures"
local hostile = require "support.hostile"

local MIB = hostile.MIB
local FN = hostile.FN
local HAS_INTEGERS = hostile.HAS_INTEGERS
local v = hostile.v
local wrong_types = hostile.wrong_types
local TRAVERSAL = hostile.TRAVERSAL
local INJECTION = hostile.INJECTION
local NON_UTF8 = hostile.NON_UTF8
local NON_ASCII = hostile.NON_ASCII
local long = hostile.long
local values = hostile.values
local header_strings = hostile.header_strings
local seconds_values = hostile.seconds_values
local HOSTILE_KEYS = hostile.HOSTILE_KEYS
local kd_config = hostile.kd_config
local construct = hostile.construct
local prefix = hostile.prefix
local TARGETS, target = hostile.targets()

---------------------------------------------------------------- koodrive.new options

target {
  name = "koodrive.new endpoint", kind = "config", field = "endpoint", sends = false,
  call = function(env, val) return construct(env, "endpoint", val) end,
  good = "https://cn.myhuaweicloud-koodrive.com/base/path",
  values = values(wrong_types { "string" }, {
    v("no scheme", "cn.myhuaweicloud-koodrive.com", "url"),
    v("ftp", "ftp://x", "url"),
    v("user info", "https://u:p@x", "url"),
    v("CR LF in the host", "https://x\r\nX: y", "injection"),
    v("NUL in the host", "https://x\0.evil", "injection"),
    v("CR LF in the base path", "https://x/a\r\nX: y", "injection"),
    v("a '..' base path", "https://x/../admin", "traversal"),
    v("a 'a/../b' base path", "https://x/a/../b", "traversal"),
    v("a '.' base path", "https://x/./a", "traversal"),
    v("a '%2e%2e' base path", "https://x/%2e%2e/admin", "traversal"),
    v("a '%2E%2e' base path", "https://x/a/%2E%2e", "traversal"),
    v("a backslash base path", "https://x/a\\..\\b", "traversal"),
    v("an encoded slash in the base path", "https://x/a%2Fb", "traversal"),
    v("an encoded CR LF in the base path", "https://x/a%0d%0aX", "traversal"),
    v("a non-UTF-8 base path", "https://x/\255\254", "non_utf8"),
    v("an overlong '/' in the base path", "https://x/\192\175", "non_utf8"),
    v("a non-ASCII host", "https://\195\169.example", "non_ascii"),
    v("a 1 MiB URL", "https://x/" .. MIB, "long"),
    v("a URL one past 4096 bytes", "https://x/" .. string.rep("a", 4096 - #"https://x/" + 1), "long"),
  }),
}

target {
  name = "koodrive.new user_id", kind = "config", field = "user_id", sends = false,
  call = function(env, val) return construct(env, "user_id", val) end,
  good = fixtures.USER_ID,
  values = values(wrong_types { "string", "integer" }, TRAVERSAL, INJECTION, NON_UTF8, NON_ASCII, long(19, "1"), {
    v("a negative id", HAS_INTEGERS and math.tointeger(-1) or -1, "range"),
    v("2^63", "9223372036854775808", "range"), v("empty", "", "empty"),
    v("digits and a space", "1 2", "pattern"),
  }),
}

for _, name in ipairs { "token", "app_id", "app_secret" } do
  local function call(env, val)
    if name == "token" then return construct(env, "token", val) end
    local c = kd_config(env, { app_id = "spec-app", app_secret = "spec-secret" })
    c.token = nil
    c[name] = val
    return koodrive.new(c)
  end
  target {
    name = "koodrive.new " .. name, kind = "config", field = name, sends = false,
    call = call, good = "AbC123+/_-.~",
    values = values(wrong_types { "string" }, header_strings(32768), { v("empty", "", "empty") }),
  }
end

target {
  name = "koodrive.new language", kind = "config", field = "language", sends = false,
  call = function(env, val) return construct(env, "language", val) end,
  good = "zh-CN",
  values = values(wrong_types { "string", "nil" }, header_strings(35), { v("empty", "", "empty") }),
}

for _, name in ipairs { "timeout", "connect_timeout" } do
  target {
    name = "koodrive.new " .. name, kind = "config", field = name, sends = false,
    call = function(env, val) return construct(env, name, val) end,
    good = 2.5, values = seconds_values(),
  }
end

target {
  name = "koodrive.new ca_file", kind = "config", field = "ca_file", sends = false,
  call = function(env, val) return construct(env, "ca_file", val) end,
  good = "/etc/ssl/certs/\255-any-bytes-but-controls.pem",
  values = values(wrong_types { "string", "nil" }, INJECTION, long(4096), { v("empty", "", "empty") }),
}

for _, name in ipairs { "insecure", "trace_ids" } do
  target {
    name = "koodrive.new " .. name, kind = "config", field = name, sends = false,
    call = function(env, val) return construct(env, name, val) end,
    good = false,
    values = values(wrong_types { "boolean", "nil" }, { v("the string 'true'", "true", "type") }),
  }
end

target {
  name = "koodrive.new clock", kind = "config", field = "clock", sends = false,
  call = function(env, val) return construct(env, "clock", val) end,
  good = os.time,
  values = values(wrong_types { "function", "nil" }),
}

target {
  name = "a clock returning junk (found at call time)", kind = "config", field = "clock",
  call = function(env, val)
    local c = assert(koodrive.new(kd_config(env, { clock = function() return val end })))
    return c.devices:list()
  end,
  good = 1700000000,
  values = {
    v("a string", "1700000000", "type"), v("nil", nil, "type"), v("NaN", 0 / 0, "type"),
    v("a table", {}, "type"), v("infinity", math.huge, "range"), v("-infinity", -math.huge, "range"),
    v("1e300", 1e300, "range"),
  },
}

target {
  name = "koodrive.new transport", kind = "config", field = "transport", sends = false,
  call = function(env, val) return construct(env, "transport", val) end,
  good = fixtures.never(),
  values = values(wrong_types { "nil" }, {
    v("a table without send", { request = FN }, "type"), v("a send that is a string", { send = "x" }, "type"),
  }),
  -- (a transport is the caller's own object: its metamethods are trusted)
  skip = { ["a table whose metamethods raise"] = true },
}

target {
  name = "koodrive.new max_body", kind = "config", field = "max_body", sends = false,
  call = function(env, val) return construct(env, "max_body", val) end,
  good = 1024,
  values = values(wrong_types { "number", "nil" }, {
    v("-1", -1, "range"), v("1.5", 1.5, "range"), v("NaN", 0 / 0, "range"),
    v("infinity", math.huge, "range"), v("2^31 (past the C core's limit)", 2 ^ 31, "long"),
    v("1e300", 1e300, "long"), v("the string '1024'", "1024", "type"),
  }),
}

target {
  name = "koodrive.new unknown option keys", kind = "config", sends = false,
  field = function(f) return type(f) == "string" and f ~= "" end,
  call = function(env, key) local c = kd_config(env); c[key] = 1; return koodrive.new(c) end,
  good = nil, values = HOSTILE_KEYS,
}

target {
  name = "koodrive.new config itself", kind = "config", field = "config", sends = false,
  call = function(_, val) return koodrive.new(val) end,
  values = values(wrong_types { "table" }),
}

-- Options taking a function or a retry policy.
local POLICY_OPTIONS = {
  retries = { good = { max_attempts = 2 }, values = values(wrong_types { "table", "nil", "boolean" }, {
    v("a number of retries", 3, "type"), v("true", true, "type"),
    v("max_attempts 0", { max_attempts = 0 }, "range"), v("max_attempts 1.5", { max_attempts = 1.5 }, "range"),
    v("max_attempts NaN", { max_attempts = 0 / 0 }, "range"),
    v("max_attempts a string", { max_attempts = "3" }, "range"),
    v("base_delay -1", { base_delay = -1 }, "range"),
    v("an unknown key", { bogus = 1 }, "unknown"),
    v("a CR LF key", { ["a\r\nX: y"] = 1 }, "key"),
  }), field = prefix("retries") },
  token_provider = { good = function() return "t" end, values = values(wrong_types { "function", "nil" }) },
  logger = { good = function() end, values = values(wrong_types { "function", "nil" }) },
  sleep = { good = function() end, values = values(wrong_types { "function", "nil" }) },
}
for _, name in ipairs { "retries", "token_provider", "logger", "sleep" } do
  local spec = POLICY_OPTIONS[name]
  target {
    name = "koodrive.new " .. name, kind = "config", field = spec.field or name, sends = false,
    call = function(env, val) return construct(env, name, val) end,
    good = spec.good, values = spec.values,
  }
end

target {
  name = "a token_provider returning junk (found at call time)", kind = "config", field = "token_provider",
  call = function(env, val)
    local cfg = kd_config(env, { token_provider = function() return val end })
    cfg.token = nil
    return assert(koodrive.new(cfg)).devices:list()
  end,
  good = "fresh-token",
  values = values(wrong_types { "string" }, header_strings(32768), {
    v("empty", "", "empty"),
  }),
}

target {
  name = "a token_provider that raises (found at call time)", kind = "config", field = "token_provider",
  call = function(env, val)
    local cfg = kd_config(env, { token_provider = function() if val then error(val) end return "t" end })
    cfg.token = nil
    return assert(koodrive.new(cfg)).devices:list()
  end,
  good = false,
  values = { v("an error with CR LF", "boom\r\nX: y", "raise"), v("an error table", {}, "raise") },
}

hostile.run("hostile input: koodrive.new options", TARGETS, describe, it)
