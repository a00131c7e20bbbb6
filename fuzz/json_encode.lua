-- fuzz target "json_encode": the request-body writer, lua/koodrive/json.lua's encode (exact
-- ints through lua-cjson), read back with its decode (core.quote_long_integers + cjson).
-- The input is a recipe for a Lua value: nested arrays and string-keyed objects of strings
-- (any bytes), booleans, json.null, small and large integers, json.int64 marks, json.array
-- and floats that 14 significant digits hold exactly.
--
-- Invariants:
--   * encode never fails on such a value, and never raises;
--   * decode(encode(v)) equals v, with every integer written exactly: an integer of up to
--     15 digits comes back as that integer, a longer one (or a json.int64 mark) as its exact
--     digit string; an empty json.array as an empty table; strings byte for byte.
--
-- Integers of 15 or 16 digits (1e14 <= |v| <= 2^53) once lost digits through cjson's 14-digit
-- output; spec/regressions_spec.lua keeps that case.
local json = require "koodrive.json"
local support = require "support"
local check, show = support.check, support.show

local ALPHABET = "az09\"\\/\0\1\31\127\128\255 {}[],:-."

local function integer(r)
  local k = r:byte() % 6
  if k == 0 then return r:byte() - 128 end
  if k == 1 then return r:pick { math.maxinteger, math.mininteger, 2 ^ 53 | 0, -(2 ^ 53 | 0), (2 ^ 53 | 0) + 1,
    99999999999999, 100000000000000, 999999999999999, 1000000000000000, 9223372036854775806 } end
  local v = 0
  for _ = 1, (r:byte() % 8) + 1 do v = (v << 8) | r:byte() end
  if k == 2 then v = -v end
  return v
end

-- Returns the value to encode and what decode must give back for it.
local function gen(r, depth)
  local k = r:byte() % (depth > 6 and 8 or 11)
  if k <= 1 then
    local s = k == 0 and r:str(30) or r:text(ALPHABET, 20)
    return s, s
  elseif k == 2 then
    local v = integer(r)
    local digits = string.format("%d", v)
    if #digits:gsub("^%-", "") > 15 then return v, digits end
    return v, v
  elseif k == 3 then
    local v = integer(r)
    local digits = string.format("%d", v)
    if #digits:gsub("^%-", "") > 15 then return json.int64(v), digits end
    return json.int64(v), v
  elseif k == 4 then
    local b = r:bool()
    return b, b
  elseif k == 5 then
    return json.null, json.null
  elseif k == 6 then
    local f = (r:byte() - 128) + (r:byte() % 4 + 1) / 8 -- exact in 14 digits, never integral
    return f, f
  elseif k == 7 then
    return json.array({}), {}
  elseif k <= 9 then
    local t, want = {}, {}
    for i = 1, r:byte() % 6 do t[i], want[i] = gen(r, depth + 1) end
    return t, want
  else
    local t, want = {}, {}
    for _ = 1, r:byte() % 6 do
      local key = r:str(16)
      t[key], want[key] = gen(r, depth + 1)
    end
    return t, want
  end
end

local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then return a == b and math.type(a) == math.type(b) end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function one(data)
  local r = support.reader(data)
  local value, want = gen(r, 0)
  local ok, text, err = pcall(json.encode, value)
  check(ok, "encode raised", show(value), text)
  check(type(text) == "string", "encode failed", show(value), err)
  local back, derr = json.decode(text)
  check(back ~= nil, "decode failed on encode's output", show(value), text, derr)
  check(same(back, want), "round trip changed the value", show(value), text, show(back), show(want))
end

-- What is fuzzed here is Lua: count Lua lines as coverage (fuzz/harness.c).
return one, { lua_coverage = true }
