--- Input rules, checked before anything is built or sent.
-- Each check returns the (possibly normalised) value, or nil and a validation error that
-- names the field and the rule it broke. No check raises on any Lua value it is given, and
-- no message repeats the value itself (it may be a secret, or hostile bytes for a log).
--
-- Which strings may hold what:
--   * anything that becomes a header or a path segment (ids, tokens, keys, language, trace
--     id, instance id, region) is printable ASCII: no control characters, no byte >= 0x80;
--   * query values and strings inside a JSON body may carry UTF-8, but only valid UTF-8
--     (no overlong forms, no surrogates), and query values no control characters;
--   * a local file path (ca_file) may hold any byte but a control character.
local errors = require "koodrive.errors"

local validate = {}

--- Longest header value accepted (IAM tokens run to several KiB).
validate.HEADER_MAX = 32768
--- Longest request path (call/prepare) and endpoint URL.
validate.PATH_MAX = 4096
--- Longest query name and query value.
validate.QUERY_NAME_MAX = 256
validate.QUERY_VALUE_MAX = 8192
--- Longest local file path.
validate.FILE_PATH_MAX = 4096
--- Deepest JSON body accepted.
validate.JSON_DEPTH = 64

local limits = require "koodrive.limits"

-- `kind` is the error kind the caller wants (default "validation"): client options give
-- "config", so no caller patches the kind afterwards.
local function fail(field, rule, message, kind)
  if kind == "config" then return nil, errors.config(field, rule, message) end
  return nil, errors.validation(field, rule, message)
end

local function describe(v)
  return "a " .. type(v)
end

local CONTROL = "[%z\1-\31\127]"
local NON_ASCII = "[\128-\255]"

--- True when `s` is valid UTF-8 (shortest forms only, no surrogates, at most U+10FFFF);
-- otherwise false and the byte offset of the first bad sequence.
function validate.is_utf8(s)
  local i, n = 1, #s
  while i <= n do
    i = s:find(NON_ASCII, i)
    if not i then return true end
    local c = s:byte(i)
    local len
    if c >= 0xC2 and c <= 0xDF then len = 2
    elseif c >= 0xE0 and c <= 0xEF then len = 3
    elseif c >= 0xF0 and c <= 0xF4 then len = 4
    else return false, i end
    if i + len - 1 > n then return false, i end
    local lo, hi = 0x80, 0xBF
    if c == 0xE0 then lo = 0xA0          -- overlong 3-byte forms
    elseif c == 0xED then hi = 0x9F      -- UTF-16 surrogates
    elseif c == 0xF0 then lo = 0x90      -- overlong 4-byte forms
    elseif c == 0xF4 then hi = 0x8F end  -- beyond U+10FFFF
    local c2 = s:byte(i + 1)
    if c2 < lo or c2 > hi then return false, i end
    for k = i + 2, i + len - 1 do
      local b = s:byte(k)
      if b < 0x80 or b > 0xBF then return false, i end
    end
    i = i + len
  end
  return true
end

--- A string that must be valid UTF-8 (any length, control characters allowed).
function validate.utf8(v, field)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got " .. describe(v)) end
  local ok, at = validate.is_utf8(v)
  if not ok then return fail(field, "utf8", "must be valid UTF-8 (bad byte sequence at offset " .. at .. ")") end
  return v
end

--- A string of printable ASCII characters (space included), 1..max bytes.
function validate.text(v, field, max, kind)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got " .. describe(v), kind) end
  if #v == 0 then return fail(field, "length", "must not be empty", kind) end
  if #v > max then return fail(field, "length", "must be at most " .. max .. " bytes", kind) end
  if v:find(CONTROL) then
    return fail(field, "control", "must not contain control characters (CR, LF, NUL, ...)", kind)
  end
  if v:find(NON_ASCII) then
    return fail(field, "ascii", "must be printable ASCII (no bytes above 0x7E)", kind)
  end
  return v
end

--- A value that becomes one path segment: it must never be able to change the path.
function validate.path_segment(v, field, kind)
  if type(v) == "number" and math.floor(v) == v and v >= 0 and v < 2 ^ 53 then
    v = string.format("%d", v)
  end
  local s, err = validate.text(v, field, 256, kind)
  if not s then
    if err.rule == "control" or err.rule == "ascii" then err.rule = "path_segment" end
    return nil, err
  end
  if s:find("/", 1, true) or s:find("\\", 1, true) then
    return fail(field, "path_segment", "must be a safe path segment: '/' and '\\' are not allowed", kind)
  end
  if s == "." or s == ".." or s:find("..", 1, true) then
    return fail(field, "path_segment", "must be a safe path segment: '..' is not allowed", kind)
  end
  if s:find("[?#%%]") then
    return fail(field, "path_segment", "must be a safe path segment: '?', '#' and '%' are not allowed", kind)
  end
  return s
end

local INT64_MAX = "9223372036854775807"

--- A KooDrive user id: 1-19 decimal digits, at most 2^63-1. Returned as a canonical digit
-- string (no leading zeros), so it can be written as an exact JSON integer.
function validate.user_id(v, field, kind)
  if math.type and math.type(v) == "integer" then
    if v < 0 then return fail(field, "user_id", "must not be negative", kind) end
    return string.format("%d", v)
  end
  if type(v) == "number" then
    return fail(field, "user_id",
      "must be a string of digits (a number this large cannot hold every digit here)", kind)
  end
  if type(v) ~= "string" then
    return fail(field, "user_id", "must be a string of 1-19 decimal digits, got " .. describe(v), kind)
  end
  if #v > 19 or not v:find("^[0-9]+$") then
    return fail(field, "user_id", "must be 1-19 decimal digits", kind)
  end
  local digits = v:gsub("^0+(%d)", "%1")
  if #digits == 19 and digits > INT64_MAX then
    return fail(field, "user_id", "must be at most 9223372036854775807 (2^63-1)", kind)
  end
  return digits
end

--- A string matching a Lua pattern, with a readable description of the rule.
function validate.pattern(v, field, pattern, rule_text)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got " .. describe(v)) end
  if not v:find(pattern) then return fail(field, "pattern", "must match " .. rule_text) end
  return v
end

--- An X-Traceid: exactly 58 printable ASCII characters.
function validate.trace_id(v, field)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got " .. describe(v)) end
  if #v ~= 58 then
    return fail(field, "trace_id", "must be exactly 58 characters (got " .. #v .. ")")
  end
  if not v:find("^[\33-\126]+$") then
    return fail(field, "trace_id", "must be printable ASCII without spaces")
  end
  return v
end

--- A header value: printable ASCII without control characters (CR, LF or NUL would split
-- the request), at most `max` bytes (validate.HEADER_MAX by default). Empty is allowed
-- here; options that must not be empty say so themselves.
function validate.header_value(v, field, max, kind)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got " .. describe(v), kind) end
  max = max or validate.HEADER_MAX
  if #v > max then return fail(field, "length", "must be at most " .. max .. " bytes", kind) end
  if v:find(CONTROL) then
    return fail(field, "header_value", "must not contain CR, LF, NUL or other control characters", kind)
  end
  if v:find(NON_ASCII) then
    return fail(field, "header_value", "must be printable ASCII (no bytes above 0x7E)", kind)
  end
  return v
end

--- Whether `name: value` is a header line a transport may write: a non-empty name without
-- control characters, spaces or ':', and a string value without CR, LF or NUL (numbers are
-- written as text). Transports' last guard, looser than the rules of the options that become
-- headers (validate.header_value); the C core checks the same again. Returns the value as
-- text, or nil.
function validate.header_line(name, value)
  if type(value) == "number" then value = tostring(value) end
  if type(name) ~= "string" or name == "" or name:find("[%c :]") or type(value) ~= "string"
    or value:find("[\r\n%z]") then
    return nil
  end
  return value
end

--- A language tag for the `language` header: 1-35 ASCII letters, digits, '-' or '_'.
function validate.language(v, field, kind)
  local s, err = validate.text(v, field, 35, kind)
  if not s then return nil, err end
  if not s:find("^[A-Za-z0-9_%-]+$") then
    return fail(field, "language", "must be a language tag such as en-US (letters, digits, '-', '_')", kind)
  end
  return s
end

--- A number of seconds in (0, limits.TIMEOUT_MAX] (a day).
function validate.seconds(v, field, kind)
  if type(v) ~= "number" or v ~= v then
    return fail(field, "type", "must be a number of seconds, got " .. describe(v), kind)
  end
  if v <= 0 or v > limits.TIMEOUT_MAX then
    return fail(field, "range", "must be between 0 and " .. limits.TIMEOUT_MAX .. " seconds", kind)
  end
  return v
end

--- A whole number in [0, max].
function validate.count(v, field, max, kind)
  if type(v) ~= "number" or v ~= v then
    return fail(field, "type", "must be a whole number, got " .. describe(v), kind)
  end
  if v < 0 or v > max or v % 1 ~= 0 then
    return fail(field, "range", "must be a whole number from 0 to " .. string.format("%d", max), kind)
  end
  return v
end

--- A local file path: 1..FILE_PATH_MAX bytes, no control characters (a NUL would cut the
-- path short in C). Other bytes are allowed: file names are bytes.
function validate.file_path(v, field, kind)
  if type(v) ~= "string" then return fail(field, "type", "must be a path string, got " .. describe(v), kind) end
  if #v == 0 then return fail(field, "length", "must not be empty", kind) end
  if #v > validate.FILE_PATH_MAX then
    return fail(field, "length", "must be at most " .. validate.FILE_PATH_MAX .. " bytes", kind)
  end
  if v:find(CONTROL) then
    return fail(field, "control", "must not contain control characters (CR, LF, NUL, ...)", kind)
  end
  return v
end

-- Decodes %XX escapes (as the C encoder does before re-encoding a path).
local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The problem with a '/'-separated path (an endpoint's base path or a request path), or nil.
-- The C core decodes %XX in each segment and re-encodes it, so "%2e%2e" would be sent as "..":
-- segments are judged after decoding.
local function path_problem(path)
  if path:find(CONTROL) then return "path", "must not contain control characters" end
  if path:find(NON_ASCII) then return "path", "must be printable ASCII (percent-encode other bytes)" end
  if path:find("[?#]") then return "path", "must not contain '?' or '#' (use query)" end
  if path:find("\\", 1, true) then return "path_segment", "must not contain '\\'" end
  for segment in path:gmatch("[^/]+") do
    local d = percent_decode(segment)
    if d == "." or d == ".." then
      return "path_segment", "must not contain '.' or '..' segments (also percent-encoded)"
    end
    if d:find("[/\\]") then
      return "path_segment", "must not contain an encoded '/' or '\\' (%2F, %5C)"
    end
    if d:find(CONTROL) then
      return "path_segment", "must not contain encoded control characters (%00, %0D, %0A, ...)"
    end
  end
  return nil
end

--- The path of a generic request (call/prepare): '/'-rooted, printable ASCII, at most
-- PATH_MAX bytes, no '?', '#', '\', no '.'/'..' segments (also encoded), no encoded '/',
-- '\' or control characters.
function validate.request_path(v, field)
  if type(v) ~= "string" or v:sub(1, 1) ~= "/" then
    return fail(field, "type", "must be a string starting with '/', got " ..
      (type(v) == "string" and "a relative path" or describe(v)))
  end
  if #v > validate.PATH_MAX then
    return fail(field, "length", "must be at most " .. validate.PATH_MAX .. " bytes")
  end
  local rule, message = path_problem(v)
  if rule then return fail(field, rule, message) end
  return v
end

--- The text of an endpoint URL before it is parsed: at most PATH_MAX bytes of printable
-- ASCII without white space, and a base path that passes the request path rules.
function validate.endpoint(v, field, kind)
  if type(v) ~= "string" then
    return fail(field, "type", "must be an http(s) URL string, got " .. describe(v), kind)
  end
  if #v > validate.PATH_MAX then
    return fail(field, "length", "must be at most " .. validate.PATH_MAX .. " bytes", kind)
  end
  if v:find(CONTROL) or v:find("%s") then
    return fail(field, "url", "must not contain white space or control characters", kind)
  end
  if v:find(NON_ASCII) then
    return fail(field, "url", "must be printable ASCII (use the punycode form of the host)", kind)
  end
  local base = v:match("^[%a][%w+.%-]*://[^/?#]*(/[^?#]*)")
  if base then
    local rule, message = path_problem(base)
    if rule then return fail(field, "url", "base path " .. message, kind) end
  end
  return v
end

--- A query parameter name: 1..QUERY_NAME_MAX bytes of valid UTF-8 without control
-- characters (it is percent-encoded; the contract's vectors use non-ASCII names).
function validate.query_name(v, field)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got " .. describe(v)) end
  if #v == 0 then return fail(field, "query", "must not be empty") end
  if #v > validate.QUERY_NAME_MAX then
    return fail(field, "query", "must be at most " .. validate.QUERY_NAME_MAX .. " bytes")
  end
  if v:find(CONTROL) then
    return fail(field, "query", "must not contain control characters (CR, LF, NUL, ...)")
  end
  local ok, at = validate.is_utf8(v)
  if not ok then return fail(field, "query", "must be valid UTF-8 (bad byte sequence at offset " .. at .. ")") end
  return v
end

--- A query value as the text that is sent: a string (valid UTF-8, no control characters, at
-- most QUERY_VALUE_MAX bytes), a finite number or a boolean.
function validate.query_value(v, field)
  local t = type(v)
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      return fail(field, "range", "must be a finite number")
    end
    if v % 1 == 0 and v > -2 ^ 63 and v < 2 ^ 63 then return string.format("%d", v) end
    return tostring(v)
  end
  if t == "boolean" then return tostring(v) end
  if t ~= "string" then
    return fail(field, "type", "must be a string, number or boolean, got " .. describe(v))
  end
  if #v > validate.QUERY_VALUE_MAX then
    return fail(field, "length", "must be at most " .. validate.QUERY_VALUE_MAX .. " bytes")
  end
  if v:find(CONTROL) then
    return fail(field, "control", "must not contain control characters (CR, LF, NUL, ...)")
  end
  local ok, at = validate.is_utf8(v)
  if not ok then return fail(field, "utf8", "must be valid UTF-8 (bad byte sequence at offset " .. at .. ")") end
  return v
end

-- The rules for tables (lists, option tables, JSON bodies) and for text in messages.
require("koodrive.validate.tables")(validate, fail, describe)

return validate
