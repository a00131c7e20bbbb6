--- The one owner of what counts as a secret, and of taking secrets out of text.
-- * which headers, query parameters and JSON fields carry credentials (`header`, `name`);
-- * the secret values of each client (`store`, kept out of the client table itself) and of
--   each request in flight (`bind`, `values`);
-- * `redact(text, values)`: every value, in any case, raw or as a server may echo it
--   (JSON-escaped `\/` and `\u00xx`, percent-encoded, HTML entities, base64), and every
--   run of 8 or more of its characters (a secret cut by a truncated snippet), becomes
--   "<redacted>"; so do credential-like pieces whatever their value (`Bearer x`,
--   `access_token=x`, `"password": "x"`), for secrets the client never held.
-- Used by the pipeline (errors, log records), transport.record and replay (cassettes) and
-- the command line (dry runs).
local M = {}

M.MARK = "<redacted>"
-- Shorter values are not searched for: "abc" would blank ordinary words.
M.MIN_LENGTH = 4
-- A run of this many characters of a secret is redacted wherever it appears.
M.FRAGMENT = 8
-- Texts longer than this are searched for whole values only (raw and common encodings).
local DECODE_LIMIT = 64 * 1024

-- Header names (lower case) whose values are credentials.
M.HEADERS = { authorization = true, ["proxy-authorization"] = true, ["x-auth-token"] = true,
  ["x-security-token"] = true, ["x-subject-token"] = true, cookie = true, ["set-cookie"] = true,
  -- KooDrive session refresh (koodrive-sharing-groups-api.md 6.2): the session id.
  ["x-session-id"] = true }

--- Whether a header's value is a credential (case-insensitive name).
function M.header(name)
  return type(name) == "string" and M.HEADERS[name:lower()] == true
end

--- Whether a query parameter or JSON field of this name holds a credential.
function M.name(name)
  if type(name) ~= "string" then return false end
  local n = name:lower():gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  return (n:find("token", 1, true) or n:find("secret", 1, true) or n:find("passw", 1, true)
    or n:find("signature", 1, true) or n:find("credential", 1, true) or n:find("authorization", 1, true)
    or n == "sk" or n == "ak" or n:find("access[_%-]?key") or n:find("api[_%-]?key")
    or n:find("private[_%-]?key") or n:find("session[_%-]?id")) and true or false
end

-- Secret values by owner (a client): weak keys, so a dropped client takes its secrets along.
M.store = setmetatable({}, { __mode = "k" })
-- The owner of each request in flight, so a transport (record) can scrub with its secrets.
local owners = setmetatable({}, { __mode = "k" })

--- Remembers that `request` is sent on behalf of `owner` (a key of `store`).
function M.bind(request, owner)
  owners[request] = owner
end

-- The secret part of a credential: a bearer token without "Bearer ", a signature without
-- the scheme, key id and signed header names around it (those are not secret, and words
-- like "x-sdk-date" in a message must stay).
local function add_credential(list, v)
  if type(v) ~= "string" then return end
  local sig = v:match("[Ss]ignature=([^,%s]+)")
  if sig then v = sig else v = v:match("^[Bb][Ee][Aa][Rr][Ee][Rr]%s+(.*)$") or v end
  if #v >= M.MIN_LENGTH then list[#list + 1] = v end
end

--- The secret values to take out of text about `request` (either may be nil): the owner's
-- stored secrets, then the request's own credential headers (a token, a signature), then
-- the values an operation declared secret for this request (`request.secrets`: a password,
-- an authorization code sent in a JSON field whose name says nothing, such as `code`).
function M.values(owner, request)
  local list = {}
  if owner == nil and request ~= nil then owner = owners[request] end
  local stored = owner ~= nil and M.store[owner]
  if type(stored) == "table" then
    for _, v in pairs(stored) do add_credential(list, v) end
  end
  local headers = type(request) == "table" and request.headers
  if type(headers) == "table" then
    for k, v in pairs(headers) do
      if M.header(k) then add_credential(list, v) end
    end
  end
  local declared = type(request) == "table" and rawget(request, "secrets")
  if type(declared) == "table" then
    for _, v in ipairs(declared) do add_credential(list, v) end
  end
  return list
end

--------------------------------------------------------------------------------------------
-- Ranges of text to replace
--------------------------------------------------------------------------------------------

-- Replaces the ranges {from, to} (any order, may overlap) of `s` with MARK.
local function replace_ranges(s, ranges)
  if #ranges == 0 then return s end
  table.sort(ranges, function(a, b) return a[1] < b[1] end)
  local out, pos = {}, 1
  local cur_from, cur_to = ranges[1][1], ranges[1][2]
  local function flush()
    if cur_from > pos - 1 then out[#out + 1] = s:sub(pos, cur_from - 1) end
    out[#out + 1] = M.MARK
    pos = cur_to + 1
  end
  for i = 2, #ranges do
    local r = ranges[i]
    if r[1] <= cur_to + 1 then
      if r[2] > cur_to then cur_to = r[2] end
    else
      flush()
      cur_from, cur_to = r[1], r[2]
    end
  end
  flush()
  out[#out + 1] = s:sub(pos)
  return table.concat(out)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Base64 of s without the padding and the last, partial character (it depends on what
-- follows the value in the encoded text).
local function base64(s)
  local out = {}
  for i = 1, #s - 2, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + b * 256 + c
    for shift = 18, 0, -6 do
      local k = math.floor(n / 2 ^ shift) % 64
      out[#out + 1] = B64:sub(k + 1, k + 1)
    end
  end
  return table.concat(out)
end

local function percent(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02x", c:byte()) end))
end

local function json_escaped(s)
  return (s:gsub('[%c"\\/]', function(c)
    if c == "/" or c == '"' or c == "\\" then return "\\" .. c end
    return string.format("\\u%04x", c:byte())
  end))
end

-- Every occurrence, in any case, of each of `forms` in `s` (already lower case: `lower`).
local function plain_ranges(lower, forms, ranges)
  for _, form in ipairs(forms) do
    local from = 1
    while true do
      local i, j = lower:find(form, from, true)
      if not i then break end
      ranges[#ranges + 1] = { i, j }
      from = j + 1
    end
  end
end

--------------------------------------------------------------------------------------------
-- Escaped text: decoded unit by unit, each unit remembering its span in the original
--------------------------------------------------------------------------------------------

local JSON_SIMPLE = { ["/"] = "/", ['"'] = '"', ["\\"] = "\\", b = "\b", f = "\f", n = "\n",
  r = "\r", t = "\t" }
local ENTITIES = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'", sol = "/", plus = "+",
  equals = "=", percnt = "%" }

local function utf8_char(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return "?"
end

-- s decoded (JSON escapes, %XX, HTML character references), and for each decoded byte the
-- first and last byte of the original it came from.
local function decode(s)
  local out, first, last = {}, {}, {}
  local i, n = 1, #s
  while i <= n do
    local c, piece, j = s:sub(i, i), nil, nil
    if c == "\\" then
      local d = s:sub(i + 1, i + 1)
      local hex = d == "u" and s:match("^%x%x%x%x", i + 2)
      if hex then piece, j = utf8_char(tonumber(hex, 16)), i + 5
      elseif JSON_SIMPLE[d] then piece, j = JSON_SIMPLE[d], i + 1 end
    elseif c == "%" then
      local hex = s:match("^%x%x", i + 1)
      if hex then piece, j = string.char(tonumber(hex, 16)), i + 2 end
    elseif c == "&" then
      local ent = s:match("^&(#?[%w]+);", i)
      if ent then
        local cp = ent:match("^#[xX](%x+)$")
        cp = cp and tonumber(cp, 16) or tonumber(ent:match("^#(%d+)$") or "")
        if cp and cp < 0x110000 then piece = utf8_char(cp) else piece = ENTITIES[ent:lower()] end
        if piece then j = i + #ent + 1 end
      end
    end
    if not piece then piece, j = c, i end
    for k = 1, #piece do
      out[#out + 1] = piece:sub(k, k)
      first[#out], last[#out] = i, j
    end
    i = j + 1
  end
  return table.concat(out), first, last
end

--------------------------------------------------------------------------------------------
-- Credential-like pieces, whatever the value
--------------------------------------------------------------------------------------------

local VALUE = "[%w%-%._~%+/=%%\\]"

-- A token-like value: long, or with a digit (so "Bearer authentication failed" stays).
local function token_like(v)
  return #v >= 16 or (#v >= 8 and v:find("%d") ~= nil)
end

-- The end of the JSON string starting with the quote at `i` (the closing quote), or nil.
local function string_end(s, i)
  local j = i + 1
  while true do
    local k = s:find('["\\]', j)
    if not k then return nil end
    if s:sub(k, k) == '"' then return k end
    j = k + 2
  end
end

-- Ranges of the values of JSON fields with a secret name ("password": "x", "sk": 1).
local function field_ranges(s, ranges)
  local pos = 1
  while true do
    local i = s:find('"', pos, true)
    if not i then return end
    local j = string_end(s, i)
    if not j then return end
    pos = j + 1
    local colon = s:match("^%s*:%s*()", j + 1)
    if colon and M.name((decode(s:sub(i + 1, j - 1)))) then
      if s:sub(colon, colon) == '"' then
        local e = string_end(s, colon)
        if e and e > colon + 1 then ranges[#ranges + 1] = { colon + 1, e - 1 } end
        pos = (e or colon) + 1
      else
        local e = s:match("^[^,}%]%s]+()", colon)
        if e then ranges[#ranges + 1] = { colon, e - 1 }; pos = e end
      end
    end
  end
end

local function pattern_ranges(s, ranges)
  -- Bearer <token>
  for at, v in s:gmatch("[Bb][Ee][Aa][Rr][Ee][Rr]%s+()(" .. VALUE .. "+)") do
    if token_like(v) then ranges[#ranges + 1] = { at, at + #v - 1 } end
  end
  -- name=value (query strings, forms, Authorization parameters such as Signature=)
  for name, at, v in s:gmatch("([%w_%-%.%%]+)=()([^&%s\"'<>,;]+)") do
    if M.name(name) then ranges[#ranges + 1] = { at, at + #v - 1 } end
  end
  -- a credential header quoted as text: "X-Auth-Token: <value>"
  for name, at, v in s:gmatch("([%w%-]+):[ \t]*()(" .. VALUE .. "+)") do
    if M.header(name) and token_like(v) then ranges[#ranges + 1] = { at, at + #v - 1 } end
  end
  field_ranges(s, ranges)
end

--------------------------------------------------------------------------------------------
-- redact
--------------------------------------------------------------------------------------------

-- Per value: its lower case, the forms searched for in raw text, and its runs of FRAGMENT
-- characters as a set. Built once per value (an IAM token has thousands of runs); the
-- cache is emptied when it holds CACHE_MAX values (tokens are refreshed).
local CACHE_MAX = 64
local cache, cached = {}, 0

local function prepared(v)
  local p = cache[v]
  if p then return p end
  local lower = v:lower()
  p = { lower = lower, forms = { lower }, grams = {} }
  for _, f in ipairs { json_escaped(v):lower(), percent(v), base64(v):lower() } do
    if #f >= M.MIN_LENGTH and f ~= lower then p.forms[#p.forms + 1] = f end
  end
  for k = 1, #lower - M.FRAGMENT + 1 do p.grams[lower:sub(k, k + M.FRAGMENT - 1)] = true end
  if cached >= CACHE_MAX then cache, cached = {}, 0 end
  cache[v], cached = p, cached + 1
  return p
end

--- `text` with every secret of `values` (a list of strings, see `values`) and every
-- credential-like piece replaced by "<redacted>"; anything but a string is returned as is.
function M.redact(text, values)
  if type(text) ~= "string" or text == "" then return text end
  local ranges = {}
  values = values or {}
  if #values > 0 then
    local list = {}
    for i, v in ipairs(values) do list[i] = prepared(v) end
    local lower = text:lower()
    for _, p in ipairs(list) do plain_ranges(lower, p.forms, ranges) end
    text = replace_ranges(text, ranges)
    if #text <= DECODE_LIMIT then
      -- The same values once the text is decoded, and runs of FRAGMENT of their characters.
      local decoded, first, last = decode(text)
      lower = decoded:lower()
      local found, f = {}, M.FRAGMENT
      for _, p in ipairs(list) do plain_ranges(lower, { p.lower }, found) end
      for k = 1, #lower - f + 1 do
        local run = lower:sub(k, k + f - 1)
        for _, p in ipairs(list) do
          if p.grams[run] then found[#found + 1] = { k, k + f - 1 }; break end
        end
      end
      ranges = {}
      for _, r in ipairs(found) do ranges[#ranges + 1] = { first[r[1]], last[r[2]] } end
      text = replace_ranges(text, ranges)
    end
    ranges = {}
  end
  pattern_ranges(text, ranges)
  return replace_ranges(text, ranges)
end

--- Redacts every string inside a decoded JSON value (a copy; keys too). Deeper than 16
-- levels, a table is replaced by "<redacted>" as a whole: nothing unread is passed on.
function M.redact_value(v, values, depth)
  depth = depth or 0
  if type(v) == "string" then return M.redact(v, values) end
  if type(v) ~= "table" then return v end
  if depth > 16 then return M.MARK end
  local out = {}
  for k, x in pairs(v) do
    out[M.redact_value(k, values, depth + 1)] = M.redact_value(x, values, depth + 1)
  end
  local mt = getmetatable(v)
  if type(mt) == "table" then setmetatable(out, mt) end
  return out
end

return M
