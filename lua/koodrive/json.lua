--- JSON through a private lua-cjson instance, with 64-bit integers kept exact.
--
-- Caveats (read these before relying on numbers):
-- * The instance comes from `cjson.new()`, so the host's own cjson settings are never touched.
-- * lua-cjson 2.1 writes numbers with 14 significant digits and reads them through a double.
--   Ids such as 3432423464657862424 would lose digits either way. So:
--   - to write an exact integer, wrap its digits with `json.int64(id)`; `json.encode` also
--     writes every whole number of 15 digits or more found in a table digit for digit;
--   - on reading, integer literals of 16 digits or more arrive as strings, digit for digit.
-- * Reading is strict (see `json.decode`); arrays carry `json.array_mt`.
-- * JSON null decodes to `json.null` (cjson's null sentinel), not to nil.
-- @module koodrive.json
local cjson = require("cjson").new()
local core = require "koodrive.core"

local json = { null = cjson.null }

-- Placeholders carry exact digits through cjson.encode; the nonce keeps user strings from
-- ever looking like one. It comes from the operating system (math.random and os.time repeat
-- across processes), once per load: a child forked after the load shares its parent's nonce,
-- which no outsider knows either, and marks made before the fork stay valid in the child.
local nonce = core.random_hex(8)
local MARK = "\0kd-int64-" .. nonce .. ":"
local MARK_ENCODED = '"\\u0000kd%-int64%-' .. nonce .. ':(%-?%d+)"'
local MARK_ARRAY = '"\\u0000kd%-int64%-' .. nonce .. ':%[%]"'

local has_integers = math.type ~= nil
local EXACT_FROM = 1e14
local INT64_BOUND = 2 ^ 63
local floor = math.floor

--- Marks an integer (decimal digit string, or a Lua integer) to be written exactly.
-- The caller has validated the digits.
---@param id string|integer
---@return string marked
function json.int64(id)
  if type(id) == "number" then id = string.format("%d", id) end
  return MARK .. id
end

local EMPTY_ARRAY = MARK .. "[]"

--- Marks a table as a JSON array, so that an empty one is written as [] (cjson writes {}).
---@generic T: table
---@param t T
---@return T|string array
function json.array(t)
  if next(t) == nil then return EMPTY_ARRAY end
  return t
end

-- Copies `v`, replacing whole numbers too long for cjson's 14 significant digits (10^14 and
-- beyond: 123456789012345 would go out as 1.2345678901234e+14) with exact marks.
local function protect(v, depth)
  local t = type(v)
  if t == "number" then
    if v >= EXACT_FROM or v <= -EXACT_FROM then
      if has_integers and math.type(v) == "integer" then return json.int64(v) end
      -- A float (every number on 5.1/LuaJIT): exact digits while it is whole and fits int64.
      if v == floor(v) and v < INT64_BOUND and v >= -INT64_BOUND then
        return MARK .. string.format("%.0f", v)
      end
    end
    return v
  elseif t ~= "table" or depth > 100 then
    return v
  end
  -- A decoded empty array is written back as [] (cjson would write {}).
  if next(v) == nil and getmetatable(v) == json.array_mt then return EMPTY_ARRAY end
  local copy = {}
  for k, item in pairs(v) do copy[k] = protect(item, depth + 1) end
  return setmetatable(copy, getmetatable(v))
end

-- Whether protect(v) would change nothing (no long number, no decoded empty array): then v
-- goes to cjson as it is, not copied. A create request of a 4 GiB upload lists 820 parts with
-- their hashCtx, and its copy is ~300 bytes a part of garbage.
local function plain(v, depth)
  local t = type(v)
  if t == "number" then return v < EXACT_FROM and v > -EXACT_FROM end
  if t ~= "table" or depth > 100 then return true end
  if next(v) == nil and getmetatable(v) == json.array_mt then return false end
  for _, item in pairs(v) do
    if not plain(item, depth + 1) then return false end
  end
  return true
end

--- Encodes a Lua value; returns the JSON text, or nil and a message.
---@param value any
---@return string|nil text
---@return string|nil message
function json.encode(value)
  local ok, text = pcall(cjson.encode, plain(value, 0) and value or protect(value, 0))
  if not ok then return nil, text end
  if text:find("kd-int64-" .. nonce, 1, true) then
    text = text:gsub(MARK_ENCODED, "%1"):gsub(MARK_ARRAY, "[]")
  end
  return text
end

-- Decoding does not go through cjson: lua-cjson 2.1 reads 0x1F, +1, inf and nan as numbers,
-- stops at a NUL, keeps the last of duplicate keys, turns 1e999 into inf and 1e-400 into 0, and
-- decodes {} and [] alike - each a way for a garbled answer to pass for a success. The strict
-- reader in C (src/json.c) refuses all of these (RFC 8259, the contract's "Bodies are JSON").
local json_decode = core.json_decode
local MAX_DEPTH = 1000 -- as cjson's default: deeper text is an error, never a crash

--- The metatable of every decoded JSON array: `[]` and `{}` both decode to empty tables, and
-- only this tells them apart. It has no metamethods.
json.array_mt = {}
local array_mt = json.array_mt

-- Whole-valued numbers written with a fraction or exponent (0.0, 0e5, 1E2), by container and
-- key: Lua 5.1 and LuaJIT have one number type, so 0.0 and 0 are otherwise the same value.
local float_literals = setmetatable({}, { __mode = "k" })

--- Decodes JSON text; returns the value, or nil and a message. Long integers (16 digits or
-- more) become strings; whole numbers are integers on Lua 5.3+; arrays carry `json.array_mt`.
---@param text string
---@return any value
---@return string|nil message
function json.decode(text)
  if type(text) ~= "string" then return nil, "JSON text must be a string" end
  local ok, value = pcall(json_decode, text, array_mt, float_literals, MAX_DEPTH)
  if not ok then return nil, tostring(value) end
  return value
end

--- Whether `t` is a decoded JSON array (also an empty one); tables built in Lua are not.
---@param t any
---@return boolean
function json.is_array(t)
  return type(t) == "table" and getmetatable(t) == array_mt
end

--- Whether `t` is a decoded JSON object.
---@param t any
---@return boolean
function json.is_object(t)
  return type(t) == "table" and getmetatable(t) == nil
end

--- The value of `t[key]` when it was written as a JSON integer literal (no fraction, no
-- exponent) and fits a double exactly; else nil. 0 is; 0.0, 0e0, -0.0 and 1e-400 are not.
---@param t table
---@param key any
---@return number|nil
function json.integer(t, key)
  local v = t[key]
  if type(v) ~= "number" or v % 1 ~= 0 or v ~= v or v >= 2 ^ 53 or v <= -2 ^ 53 then return nil end
  local marked = float_literals[t]
  if marked and marked[key] then return nil end
  if math.type and math.type(v) ~= "integer" then return nil end
  return v
end

return json
