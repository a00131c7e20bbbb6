-- fuzz target "encode": core.encode_path and core.encode_query (src/encode.c), the encoders that
-- make the sent URL byte-identical to the signed one.
--
-- Invariants, checked against a plain Lua reference implementation of signing.md's rules:
--   encode_path(p) for p starting with "/": equal to the reference; only unreserved bytes, "/"
--     and "%XX" (upper-case hex) in the output; encoding the output again changes nothing;
--   encode_query(pairs): pairs sorted by raw name then raw value (bytewise), each side
--     percent-encoded, "name=value" joined by "&"; numbers converted like tostring; only
--     unreserved bytes, "%XX", "=" and "&" in the output;
--   anything else (a path without the leading "/", a non-string entry) raises "bad argument",
--     never anything else.
local core = require "koodrive.core"
local support = require "support"
local check, show = support.check, support.show

local function encode_byte(b)
  local c = string.char(b)
  if c:match("^[A-Za-z0-9%-_%.~]$") then return c end
  return string.format("%%%02X", b)
end

local function ref_path(p)
  local out, i = {}, 1
  while i <= #p do
    local c = p:sub(i, i)
    if c == "/" then
      out[#out + 1] = "/"
      i = i + 1
    elseif c == "%" and p:sub(i + 1, i + 2):match("^%x%x$") then
      out[#out + 1] = encode_byte(tonumber(p:sub(i + 1, i + 2), 16))
      i = i + 3
    else
      out[#out + 1] = encode_byte(p:byte(i))
      i = i + 1
    end
  end
  return table.concat(out)
end

local function ref_encode(s)
  return (s:gsub(".", function(c) return encode_byte(c:byte()) end))
end

local bytes_less = support.bytes_less

local function ref_query(pairs_)
  local list = {}
  for i, p in ipairs(pairs_) do list[i] = { tostring(p[1]), tostring(p[2]) } end
  table.sort(list, function(x, y)
    if x[1] ~= y[1] then return bytes_less(x[1], y[1]) end
    return bytes_less(x[2], y[2])
  end)
  local out = {}
  for i, p in ipairs(list) do out[i] = ref_encode(p[1]) .. "=" .. ref_encode(p[2]) end
  return table.concat(out, "&")
end

local function well_encoded(s, extra)
  local rest = s:gsub("%%[0-9A-F][0-9A-F]", "")
  return rest:find("^[A-Za-z0-9%-_%.~" .. extra .. "]*$") ~= nil
end

local SPECIAL_NUMBERS = { 0, -0.0, 1 / 0, -1 / 0, 0 / 0, 2 ^ 53, 2 ^ 63, -2 ^ 63, 0.1, 1e100,
  math.maxinteger, math.mininteger, 123456789012345678 }

local function scalar(r)
  local kind = r:byte() % 16
  if kind < 11 then return r:str(40) end
  if kind == 11 then return r:byte() * 65536 + r:byte() * 256 + r:byte() - 100000 end
  if kind == 12 then return r:pick(SPECIAL_NUMBERS) end
  if kind == 13 then return (r:byte() - 128) / (r:byte() + 1) end
  if kind == 14 then return r:text("%/?&=+ aZ09-_.~", 12) end
  return ({ true, {}, false })[r:byte() % 3 + 1] -- not a string: must be refused
end

local function valid_scalar(v)
  return type(v) == "string" or type(v) == "number"
end

return function(data)
  local r = support.reader(data)

  -- encode_path
  local path = r:bool() and ("/" .. r:str(200)) or r:str(200)
  local ok, out = pcall(core.encode_path, path)
  if path:sub(1, 1) == "/" then
    check(ok, "encode_path raised", path, out)
    check(out == ref_path(path), "encode_path differs from the reference", path, out, ref_path(path))
    check(well_encoded(out, "/"), "encode_path left an unencoded byte", path, out)
    check(core.encode_path(out) == out, "encode_path is not idempotent", path, out)
  else
    check(not ok and tostring(out):find("bad argument", 1, true), "encode_path accepted a bad path",
      path, out)
  end

  -- encode_query
  local query, valid
  valid = true
  local form = r:byte() % 8
  if form == 0 then
    query = nil
  elseif form == 1 then
    query, valid = r:str(8), false
  else
    query = {}
    local n = r:byte() % 40 -- more than 16 pairs takes the qsort path
    for i = 1, n do
      local name, value = scalar(r), scalar(r)
      if r:byte() == 255 then value = nil end
      if not (valid_scalar(name) and valid_scalar(value)) then valid = false end
      query[i] = { name, value }
    end
  end
  ok, out = pcall(core.encode_query, query)
  if valid then
    check(ok, "encode_query raised", show(query), out)
    local want = ref_query(query or {})
    check(out == want, "encode_query differs from the reference", show(query), out, want)
    check(well_encoded(out, "&="), "encode_query left an unencoded byte", show(query), out)
  else
    check(not ok and tostring(out):find("bad argument", 1, true), "encode_query accepted bad pairs",
      show(query), out)
  end
end
