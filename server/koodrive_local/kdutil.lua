-- koodrive_local.kdutil: small helpers the KooDrive route files share: query
-- and body reading, integer and name checks, ids, clocks.

local auth = require "koodrive_local.auth"
local jsonio = require "koodrive_local.jsonio"
local rand = require "openssl.rand"
local state = require "koodrive_local.state"

local M = {}

--- The query of a request as { [name] = decoded value } (the last one wins;
-- auth.parse_query has percent-decoded them).
function M.query(req)
  local out = {}
  for _, p in ipairs(auth.parse_query(req.query)) do
    out[p[1]] = p[2]
  end
  return out
end

--- The body as a JSON object (a table that is not a non-empty array), or nil.
function M.body(req)
  local doc = jsonio.decode(req.body or "")
  if type(doc) ~= "table" then return nil end
  if next(doc) ~= nil and jsonio.is_array(doc) then return nil end
  return doc
end

--- A value that is nil or JSON null -> nil; anything else unchanged.
function M.opt(v)
  if v == jsonio.null then return nil end
  return v
end

--- An integer from a JSON number or a string of digits (the zh examples send
-- "10"), within lo..hi; else nil.
function M.int(v, lo, hi)
  local n
  if type(v) == "number" then
    if v ~= math.floor(v) then return nil end
    n = v
  elseif type(v) == "string" and v:match("^%-?%d+$") and #v <= 15 then
    n = tonumber(v)
  else
    return nil
  end
  if (lo and n < lo) or (hi and n > hi) then return nil end
  return math.floor(n)
end

--- A non-empty string of at most maxlen bytes, or nil.
function M.str(v, maxlen)
  if type(v) ~= "string" or v == "" or #v > (maxlen or 1000) then return nil end
  return v
end

--- Number of UTF-8 code points of s, or nil when s is not UTF-8.
function M.code_points(s)
  local n, i, len = 0, 1, #s
  while i <= len do
    local c = s:byte(i)
    local extra = c < 0x80 and 0 or c >= 0xF0 and c < 0xF8 and 3 or c >= 0xE0 and 2 or c >= 0xC2 and 1
    if not extra or (extra > 0 and c >= 0xF8) then return nil end
    for k = 1, extra do
      local b = s:byte(i + k)
      if not b or b < 0x80 or b > 0xBF then return nil end
    end
    i, n = i + extra + 1, n + 1
  end
  return n
end

--- A file or folder name as the contract allows it: no < > | : " * ? / \,
-- not "." or "..", 1-250 code points, no control characters.
function M.name_ok(name)
  if type(name) ~= "string" or name == "" or name == "." or name == ".." then return false end
  if name:find('[<>|:"*?/\\%c]') then return false end
  local n = M.code_points(name)
  return n ~= nil and n <= 250
end

local ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

--- n random letters and digits (bytes >= 248 dropped: every character equally likely).
function M.random_alnum(n)
  local out = {}
  while #out < n do
    for b in rand.bytes(32):gmatch(".") do
      local x = b:byte()
      if x < 248 then
        local k = x % 62 + 1
        out[#out + 1] = ALNUM:sub(k, k)
        if #out == n then break end
      end
    end
  end
  return table.concat(out)
end

--- A fresh id (prefix + n random characters), never handed out before.
function M.new_id(st, prefix, n, digits)
  local id
  repeat
    id = (prefix or "") .. (digits and state.random_digits(n) or M.random_alnum(n))
  until not st.issued[id]
  st.issued[id] = true
  return id
end

--- Milliseconds since the epoch (an integer).
function M.now_ms()
  return math.floor(state.now() * 1000)
end

M.iso_now = state.iso_now

--- A decoded JSON value made encodable again by jsonio: non-empty arrays
-- marked as arrays (an empty table stays {}, cjson cannot tell [] from {}).
function M.mark(v)
  if type(v) ~= "table" or v == jsonio.null then return v end
  if next(v) ~= nil and jsonio.is_array(v) then
    local out = jsonio.array()
    for i, x in ipairs(v) do out[i] = M.mark(x) end
    return out
  end
  local out = {}
  for k, x in pairs(v) do out[k] = M.mark(x) end
  return out
end

--- A list of strings (each a non-empty string), 1..max entries, or nil.
function M.string_list(v, max)
  if type(v) ~= "table" or not jsonio.is_array(v) or #v == 0 or #v > max then return nil end
  for _, x in ipairs(v) do
    if type(x) ~= "string" or x == "" then return nil end
  end
  return v
end

return M
