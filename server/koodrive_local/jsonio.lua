-- koodrive_local.jsonio: JSON for the local service.
--
-- Decoding goes through a private lua-cjson instance (so settings made here
-- never leak into the library's own cjson use). Encoding is done by hand:
-- Debian's lua-cjson 2.1.0 has neither array_mt nor
-- encode_empty_table_as_object, so it would write an empty array as {} and
-- it reorders object keys. Here arrays are marked explicitly with
-- jsonio.array{...} and objects keep the key order given with jsonio.object.

local cjson = require("cjson").new()
cjson.decode_max_depth(64)            -- request bodies are shallow; refuse silly nesting

local M = {}

-- An integral number: math.type on 5.3+, a whole float elsewhere (5.1, LuaJIT).
local function is_integer(v)
  if math.type then return math.type(v) == "integer" end
  return v == math.floor(v) and math.abs(v) < 2^53
end

M.null = cjson.null

local ARRAY = {}                      -- metatable marking a table as a JSON array
local OBJECT = {}                     -- metatable marking an ordered object

-- jsonio.array{...}: a table that always encodes as a JSON array, even empty.
function M.array(t)
  return setmetatable(t or {}, ARRAY)
end

-- jsonio.object("k1", v1, "k2", v2, ...): an object with a fixed key order
-- (so "code" and "msg" come first, as in the services' examples). nil values
-- are left out, which is how optional fields disappear. Varargs rather than a
-- table so that a nil value cannot hide the pairs after it.
function M.object(...)
  local keys, vals = {}, {}
  for i = 1, select("#", ...), 2 do
    local k, v = select(i, ...)
    keys[#keys + 1] = k
    vals[k] = v
  end
  return setmetatable({ keys = keys, vals = vals }, OBJECT)
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local encode

local function encode_plain_table(t, out)
  -- an unmarked table: an object with its keys sorted, so output is stable
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then error("jsonio: unmarked table with non-string key") end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_string(k)
    out[#out + 1] = ":"
    encode(t[k], out)
  end
  out[#out + 1] = "}"
end

function encode(v, out)
  local tv = type(v)
  if v == nil or v == M.null then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif tv == "number" then
    if is_integer(v) then
      out[#out + 1] = string.format("%d", v)
    elseif v ~= v or v == math.huge or v == -math.huge then
      error("jsonio: cannot encode " .. tostring(v))
    elseif v == math.floor(v) and math.abs(v) < 2^53 then
      out[#out + 1] = string.format("%.0f", v)
    else
      out[#out + 1] = string.format("%.17g", v)
    end
  elseif tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "table" then
    local mt = getmetatable(v)
    if mt == ARRAY then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], out)
      end
      out[#out + 1] = "]"
    elseif mt == OBJECT then
      out[#out + 1] = "{"
      local first = true
      for _, k in ipairs(v.keys) do
        local val = v.vals[k]
        if val ~= nil then
          if not first then out[#out + 1] = "," end
          first = false
          out[#out + 1] = encode_string(k)
          out[#out + 1] = ":"
          encode(val, out)
        end
      end
      out[#out + 1] = "}"
    else
      encode_plain_table(v, out)
    end
  else
    error("jsonio: cannot encode a " .. tv)
  end
end

function M.encode(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

-- decode(text) -> value, or nil and a message; never raises.
function M.decode(text)
  local ok, v = pcall(cjson.decode, text)
  if ok then return v end
  return nil, tostring(v)
end

-- is_array(t): a decoded JSON array (keys exactly 1..n). cjson decodes [] and
-- {} alike to an empty table, so an empty table counts as an empty array.
function M.is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or not is_integer(k) or k < 1 then return false end
    n = n + 1
  end
  return n == #t
end

return M
