-- fuzz target "headers": what is left of response header handling in our C code, src/headers.c.
-- libcurl parses the header lines (its header API hands over name and value); the transfer
-- packs the final response's headers into one string (kd_headers_pack: name lower-cased, NUL,
-- value, NUL), and the first read of `response.headers` splits that string into
-- { [name] = value } (kd_headers_push, through the lazy field of kd_headers_lazy).
--
-- The input's first byte picks what the rest is:
--   * even: a packed string as is, any bytes at all: the splitter must take anything without
--     reading outside it (the harness hands it an exact-size copy) and agree with a plain Lua
--     splitter (entries "name\0value\0"; a trailing entry missing a NUL is dropped; a repeated
--     name joins its values with ", " in order);
--   * odd: up to 15 name/value pairs (no NUL in either: libcurl gives C strings), names of mixed
--     case or of any bytes, packed by kd_headers_pack: the packed string must be exactly the
--     reference one (names ASCII lower-cased, nothing else touched), and once split every name
--     is lower-case and every repeat (whatever its case was) joined in order.
-- Both: the lazy response's first read of `headers` gives a plain table equal to the eager
-- one, stored as a raw field (pairs sees it), and the response has no metatable left.
local support = require "support"
local check, show = support.check, support.show

local function lower(s)
  return (s:gsub("[A-Z]", function(c) return string.char(c:byte() + 32) end))
end

local function reference_split(packed)
  local out, i = {}, 1
  while true do
    local name_end = packed:find("\0", i, true)
    if not name_end then break end
    local value_end = packed:find("\0", name_end + 1, true)
    if not value_end then break end
    local name, value = packed:sub(i, name_end - 1), packed:sub(name_end + 1, value_end - 1)
    out[name] = out[name] and (out[name] .. ", " .. value) or value
    i = value_end + 1
  end
  return out
end

local function split_check(packed)
  local got = kd_fuzz.push_headers(packed)
  local want = reference_split(packed)
  check(getmetatable(got) == nil, "split headers carry a metatable", packed)
  for name, value in pairs(got) do
    check(type(name) == "string" and type(value) == "string", "non-string entry", packed, show(got))
    check(want[name] == value, "differs from the reference", packed, name, value, want[name])
  end
  for name in pairs(want) do
    check(got[name] ~= nil, "header missing", packed, name)
  end
  local res = kd_fuzz.lazy_headers(packed)
  check(rawget(res, "headers") == nil and res.missing == nil, "lazy field read early", packed)
  local lazy = res.headers
  check(getmetatable(res) == nil and rawget(res, "headers") == lazy, "lazy field not stored", packed)
  check(getmetatable(lazy) == nil, "lazy headers carry a metatable", packed)
  for name, value in pairs(lazy) do
    check(got[name] == value, "lazy differs from eager", packed, name, value, got[name])
  end
  for name in pairs(got) do
    check(lazy[name] ~= nil, "lazy header missing", packed, name)
  end
  return got
end

-- Names from a small alphabet collide often, in different cases; the others are any bytes.
local NAME_CHARS = "aAbBxX-_ :\t\r\n\255"

return function(data)
  local r = support.reader(data)
  local mode = r:byte()
  if mode % 2 == 0 then
    split_check(r:rest())
    return
  end
  local list, parts, order, joined = {}, {}, {}, {}
  for _ = 1, r:int(16) do
    local name
    if r:bool() then name = r:text(NAME_CHARS, 4) else name = (r:str(24):gsub("\0", "")) end
    local value = (r:str(24):gsub("\0", ""))
    list[#list + 1], list[#list + 2] = name, value
    parts[#parts + 1] = lower(name) .. "\0" .. value .. "\0"
    local key = lower(name)
    if joined[key] then joined[key] = joined[key] .. ", " .. value
    else joined[key], order[#order + 1] = value, key end
  end
  local packed = kd_fuzz.pack_headers(list)
  local want = table.concat(parts)
  check(packed == want, "packed differs from the reference", show(list), packed, want)
  local got = split_check(packed)
  for name, value in pairs(got) do
    check(not name:find("[A-Z]"), "name not lower-cased", show(list), name)
    check(joined[name] == value, "repeats not joined in order", show(list), name, value, joined[name])
  end
  for _, key in ipairs(order) do
    check(got[key] ~= nil, "a packed header is missing", show(list), key)
  end
end
