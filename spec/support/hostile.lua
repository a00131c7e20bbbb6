--- Shared parts of the hostile-input specs (spec/hostile_input_*_spec.lua): the hostile
-- values, clients wired to a spy transport, and the table runner.
--
-- Each spec lists targets (an argument or option, how to call it, the field the error must
-- name, one good value that must be accepted and sent, the hostile values) and hands them
-- to hostile.run, which asserts for every hostile value: no Lua error, nil and a koodrive
-- error of the target's kind naming the field, a message that names it without echoing the
-- hostile bytes, and nothing sent.
local koodrive = require "koodrive"
local errors = require "koodrive.errors"
local fixtures = require "support.fixtures"
-- busted gives spec files `assert` as luassert; this module loads it itself.
local assert = require "luassert"

local hostile = {}

--------------------------------------------------------------------------------------------
-- Hostile values
--------------------------------------------------------------------------------------------

local MIB = string.rep("a", 1024 * 1024)
local FN = function() end
local UD = io.stdout
local CO = coroutine.create(function() end)
local HAS_INTEGERS = math.type ~= nil

-- A table whose metamethods raise: validators must not trip over it.
local TRAP = setmetatable({}, {
  __index = function() error("trap: __index") end,
  __len = function() error("trap: __len") end,
  __pairs = function() error("trap: __pairs") end,
  __tostring = function() error("trap: __tostring") end,
})

local function v(label, value, class) return { label = label, value = value, class = class } end

-- Wrong Lua types; `allow` names the types the argument accepts ("string", "number",
-- "integer", "boolean", "table", "function", "nil").
local function wrong_types(allow)
  allow = allow or {}
  local set = {}
  for _, t in ipairs(allow) do set[t] = true end
  local out = {}
  if not set.number then
    if not set.integer then out[#out + 1] = v("the number 42", 42, "type") end
    out[#out + 1] = v("the number 1.5", 1.5, "type")
    out[#out + 1] = v("NaN", 0 / 0, "type")
    out[#out + 1] = v("infinity", math.huge, "type")
  end
  if not set.string then out[#out + 1] = v("a string", "x", "type") end
  if not set.table then
    out[#out + 1] = v("a table", {}, "type")
    out[#out + 1] = v("a table whose metamethods raise", TRAP, "type")
  end
  if not set.boolean then
    out[#out + 1] = v("true", true, "type")
    out[#out + 1] = v("false", false, "type")
  end
  if not set["function"] then out[#out + 1] = v("a function", FN, "type") end
  out[#out + 1] = v("a userdata (io.stdout)", UD, "type")
  out[#out + 1] = v("a coroutine", CO, "type")
  if not set["nil"] then out[#out + 1] = v("nil", nil, "nil") end
  return out
end

local TRAVERSAL = {
  v("'../x'", "../x", "traversal"), v("'..'", "..", "traversal"), v("'.'", ".", "traversal"),
  v("'a/../b'", "a/../b", "traversal"), v("'%2e%2e'", "%2e%2e", "traversal"),
  v("'a/b'", "a/b", "traversal"), v("'\\'", "\\", "traversal"), v("'a\\b'", "a\\b", "traversal"),
}
local INJECTION = {
  v("CR LF and a header", "a\r\nX: y", "injection"), v("a NUL", "a\0b", "injection"),
  v("a lone LF", "a\nb", "injection"), v("a lone CR", "a\rb", "injection"),
  v("only NUL", "\0", "injection"), v("a tab", "a\tb", "injection"),
}
local NON_UTF8 = {
  v("bytes FF FE", "\255\254", "non_utf8"), v("an overlong '/' (C0 AF)", "\192\175", "non_utf8"),
  v("a UTF-16 surrogate (ED A0 80)", "a\237\160\128b", "non_utf8"),
  v("a truncated sequence (E2 82)", "a\226\130", "non_utf8"),
}
local NON_ASCII = { v("valid UTF-8 'é'", "\195\169", "non_ascii") }

local function long(max, fill)
  fill = fill or "a"
  local out = { v("1 MiB", MIB, "long") }
  if max then out[#out + 1] = v((max + 1) .. " bytes (one past " .. max .. ")", string.rep(fill, max + 1), "long") end
  return out
end

-- Concatenates lists of values.
local function values(...)
  local out = {}
  for _, list in ipairs { ... } do
    for _, item in ipairs(list) do out[#out + 1] = item end
  end
  return out
end

-- The strings refused in anything that becomes a header value.
local function header_strings(max)
  return values(INJECTION, NON_UTF8, NON_ASCII, long(max))
end
-- The strings refused in a path segment.
local function segment_strings()
  return values(TRAVERSAL, INJECTION, NON_UTF8, NON_ASCII, long(256), { v("empty", "", "empty") })
end
-- Wrong values of a number of seconds.
local function seconds_values()
  return values(wrong_types { "number", "nil" }, {
    v("0", 0, "range"), v("-1", -1, "range"), v("NaN", 0 / 0, "range"),
    v("infinity", math.huge, "range"), v("86401", 86401, "range"),
    v("the string '5'", "5", "type"), v("a CR LF string", "5\r\n", "type"),
  })
end
-- Hostile table keys (for tables of options).
local HOSTILE_KEYS = {
  v("a CR LF key", "a\r\nX: y", "key"), v("a NUL key", "a\0b", "key"), v("a 1 MiB key", MIB, "key"),
  v("a non-UTF-8 key", "\255\254", "key"), v("a table key", {}, "key"), v("a function key", FN, "key"),
  v("a key whose __tostring raises", TRAP, "key"), v("the key true", true, "key"),
}
--------------------------------------------------------------------------------------------
-- Clients wired to a spy transport
--------------------------------------------------------------------------------------------

-- The spy answers every request with a (retryable) transport error: no retries and no waits.
local NO_RETRIES = false

local GOOD_ID = "1842812272691451648"
local TRACE = string.rep("a", 58)

local function new_env()
  local env = { spies = {} }
  local function spy()
    local s = fixtures.never()
    env.spies[#env.spies + 1] = s
    return s
  end
  env.spy = spy
  env.kd = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID,
    token = "spec-token", transport = spy(), retries = NO_RETRIES })
  env.iot = assert(koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT,
    project_id = fixtures.PROJECT_ID, token = "spec-iam", transport = spy(), retries = NO_RETRIES })
  env.worked = 0
  function env.sent()
    local n = env.worked
    for _, s in ipairs(env.spies) do n = n + #s.requests end
    return n
  end
  return env
end

local function kd_config(env, extra)
  local c = { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "spec-token",
    transport = env.spy(), retries = NO_RETRIES }
  for k, val in pairs(extra or {}) do c[k] = val end
  return c
end

local function iot_config(env, extra)
  local c = { endpoint = fixtures.IOT_ENDPOINT, project_id = fixtures.PROJECT_ID, token = "spec-iam",
    transport = env.spy(), retries = NO_RETRIES }
  for k, val in pairs(extra or {}) do c[k] = val end
  return c
end

-- A koodrive.new call with one option replaced, and a client call made with it (config errors
-- found at call time, such as a clock returning junk, count too).
local function construct(env, name, value, iot)
  local c = iot and iot_config(env) or kd_config(env)
  c[name] = value -- nil removes a required option
  if iot then return koodrive.iotda.new(c) end
  return koodrive.new(c)
end
-- Each target: name, kind ("validation" | "config"), field (exact string, or a function of
-- the error's field), call(env, value) -> result, err; good (a value that must be accepted),
-- sends (false when the good call sends nothing, e.g. prepare or construction), values, skip (labels of values
-- that do not apply).
-- hostile.targets() -> list, target: target(t) fills in the defaults and adds t to list.
function hostile.targets()
  local list = {}
  return list, function(t)
    t.kind = t.kind or "validation"
    if t.sends == nil then t.sends = true end
    list[#list + 1] = t
  end
end

local function prefix(p)
  return function(field) return type(field) == "string" and field:sub(1, #p) == p end
end

-- Values of the id lists of the operations and bulk helpers.
function hostile.list_values(max_items)
  local out = values(wrong_types { "table" }, {
    v("an empty list", {}, "empty"), v("a list with a hole", { "1", nil, "3" }, "type"),
    v("an empty table whose metamethods raise", TRAP, "empty"),
    v("a map", { a = "1" }, "type"),
  })
  if max_items then
    local big = {}
    for i = 1, max_items + 1 do big[i] = "1" end
    out[#out + 1] = v((max_items + 1) .. " items", big, "long")
  end
  return out
end

function hostile.user_id_values()
  return values(wrong_types { "string", "integer", "nil" }, TRAVERSAL, INJECTION, NON_UTF8, NON_ASCII, long(19, "1"), {
    v("2^63", "9223372036854775808", "range"), v("-1", "-1", "pattern"), v("empty", "", "empty"),
  })
end

function hostile.target_id_values()
  return values(wrong_types { "string", "nil" }, INJECTION, NON_UTF8, NON_ASCII, long(256), { v("empty", "", "empty") })
end

hostile.MIB = MIB
hostile.FN = FN
hostile.UD = UD
hostile.CO = CO
hostile.HAS_INTEGERS = HAS_INTEGERS
hostile.TRAP = TRAP
hostile.v = v
hostile.wrong_types = wrong_types
hostile.TRAVERSAL = TRAVERSAL
hostile.INJECTION = INJECTION
hostile.NON_UTF8 = NON_UTF8
hostile.NON_ASCII = NON_ASCII
hostile.long = long
hostile.values = values
hostile.header_strings = header_strings
hostile.segment_strings = segment_strings
hostile.seconds_values = seconds_values
hostile.HOSTILE_KEYS = HOSTILE_KEYS
hostile.GOOD_ID = GOOD_ID
hostile.TRACE = TRACE
hostile.new_env = new_env
hostile.kd_config = kd_config
hostile.iot_config = iot_config
hostile.construct = construct
hostile.prefix = prefix

-- Running the table
--------------------------------------------------------------------------------------------

local function field_ok(expected, got)
  if type(expected) == "function" then return expected(got) end
  return expected == got
end

local function describe_field(expected)
  return type(expected) == "string" and expected or "(pattern)"
end

-- Asserts a refusal: nil, a koodrive error of the target's kind naming the field, a message
-- that names it and carries no hostile bytes, nothing sent.
local function check_refusal(t, res, err, env)
  assert(res == nil, "expected nil, got a " .. type(res))
  assert(errors.is(err), "expected a koodrive error, got " .. type(err))
  assert(err.kind == t.kind, "expected kind " .. t.kind .. ", got " .. tostring(err.kind) ..
    " (" .. tostring(err.message):sub(1, 200) .. ")")
  assert(field_ok(t.field, err.field), "expected field " .. describe_field(t.field) .. ", got " ..
    string.format("%q", tostring(err.field):sub(1, 100)) .. " (" .. string.format("%q", tostring(err.message):sub(1, 200)) .. ")")
  assert(type(err.rule) == "string" and err.rule ~= "", "the error names no rule")
  assert(type(err.message) == "string", "the error has no message")
  assert(err.message:find(err.field, 1, true), "the message does not name the field: " .. err.message:sub(1, 200))
  assert(#err.message <= 512, "the message is " .. #err.message .. " bytes long (hostile input echoed?)")
  assert(not err.message:find("[%z\1-\31\127-\255]"),
    "the message carries control or non-ASCII bytes: " .. string.format("%q", err.message:sub(1, 200)))
  assert(env.sent() == 0, env.sent() .. " request(s) reached the transport")
end

--- Declares every target of `list` under describe(title): one case for the good value, one
-- per hostile value. `describe` and `it` are the calling spec's (busted gives them to spec
-- files only).
function hostile.run(title, list, describe, it)
  describe(title, function()
  for _, t in ipairs(list) do
    describe(t.name, function()
      if t.good ~= nil then
        it("accepts a good value" .. (t.sends and " and sends it" or ""), function()
          local env = new_env()
          local ok, res, err = pcall(t.call, env, t.good)
          assert(ok, "raised: " .. tostring(res))
          if t.kind == "config" and not t.sends then
            assert(res ~= nil, "refused a good value: " .. tostring(err))
          else
            -- The spy answers with a transport error: what counts is that it was reached.
            assert(err == nil or err.kind ~= "validation" and err.kind ~= "config",
              "refused a good value: " .. tostring(err))
            if t.sends then assert.is_true(env.sent() >= 1, "the good value was not sent") end
          end
        end)
      end
      for _, case in ipairs(t.values) do
        if not (t.skip and t.skip[case.label]) then it("refuses " .. case.label, function()
          local env = new_env()
          local ok, res, err = pcall(t.call, env, case.value)
          assert(ok, "raised a Lua error: " .. tostring(res))
          check_refusal(t, res, err, env)
        end) end
      end
    end)
  end
  end)
end


return hostile
