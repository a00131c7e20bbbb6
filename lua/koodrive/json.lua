--- JSON through a private lua-cjson instance, with 64-bit integers kept exact.
--
-- Caveats (read these before relying on numbers):
-- * The instance comes from `cjson.new()`, so the host's own cjson settings are never touched.
-- * lua-cjson 2.1 writes numbers with 14 significant digits and reads them through a double.
--   Ids such as 3432423464657862424 would lose digits either way. So:
--   - to write an exact integer, wrap its digits with `json.int64(id)`; `json.encode` also
--     writes every whole number of 15 digits or more found in a table digit for digit;
--   - on reading, integer literals of 16 digits or more arrive as strings, digit for digit.
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
  local copy = {}
  for k, item in pairs(v) do copy[k] = protect(item, depth + 1) end
  return setmetatable(copy, getmetatable(v))
end

--- Encodes a Lua value; returns the JSON text, or nil and a message.
---@param value any
---@return string|nil text
---@return string|nil message
function json.encode(value)
  local ok, text = pcall(cjson.encode, protect(value, 0))
  if not ok then return nil, text end
  if text:find("kd-int64-" .. nonce, 1, true) then
    text = text:gsub(MARK_ENCODED, "%1"):gsub(MARK_ARRAY, "[]")
  end
  return text
end

-- cjson 2.1 reads every number as a float; on Lua 5.3+ whole numbers become integers again
-- (core.integers, in C), so a code of 0 prints as 0, not 0.0.
local tointeger = math.tointeger
local integers = core.integers

--- Decodes JSON text; returns the value, or nil and a message. Long integers become strings.
---@param text string
---@return any value
---@return string|nil message
function json.decode(text)
  local ok, value = pcall(cjson.decode, core.quote_long_integers(text))
  if not ok then return nil, value end
  if tointeger then
    if type(value) == "number" then return tointeger(value) or value end
    integers(value)
  end
  return value
end

return json
