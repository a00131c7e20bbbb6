--- Input rules, checked before anything is built or sent.
-- Each check returns the (possibly normalised) value, or nil and a validation error that
-- names the field and the rule it broke.
local errors = require "koodrive.errors"

local validate = {}

local function fail(field, rule, message)
  return nil, errors.validation(field, rule, message)
end

local function describe(v)
  local t = type(v)
  if t == "string" then return "a string" end
  return "a " .. t
end

--- A string of printable characters, 1..max bytes, with no control characters.
function validate.text(v, field, max)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got " .. describe(v)) end
  if #v == 0 then return fail(field, "length", "must not be empty") end
  if #v > max then return fail(field, "length", "must be at most " .. max .. " bytes") end
  if v:find("[%z\1-\31\127]") then
    return fail(field, "control", "must not contain control characters (CR, LF, NUL, ...)")
  end
  return v
end

--- A value that becomes one path segment: it must never be able to change the path.
function validate.path_segment(v, field)
  if type(v) == "number" and math.floor(v) == v and v >= 0 and v < 2 ^ 53 then
    v = string.format("%d", v)
  end
  local s, err = validate.text(v, field, 256)
  if not s then
    if err.rule == "control" then err.rule = "path_segment" end
    return nil, err
  end
  if s:find("/", 1, true) or s:find("\\", 1, true) then
    return fail(field, "path_segment", "must be a safe path segment: '/' and '\\' are not allowed")
  end
  if s == "." or s == ".." or s:find("..", 1, true) then
    return fail(field, "path_segment", "must be a safe path segment: '..' is not allowed")
  end
  if s:find("[?#%%]") then
    return fail(field, "path_segment", "must be a safe path segment: '?', '#' and '%' are not allowed")
  end
  return s
end

local INT64_MAX = "9223372036854775807"

--- A KooDrive user id: 1-19 decimal digits, at most 2^63-1. Returned as a canonical digit
-- string (no leading zeros), so it can be written as an exact JSON integer.
function validate.user_id(v, field)
  if math.type and math.type(v) == "integer" then
    if v < 0 then return fail(field, "user_id", "must not be negative") end
    return string.format("%d", v)
  end
  if type(v) == "number" then
    return fail(field, "user_id",
      "must be a string of digits (a number this large cannot hold every digit here)")
  end
  if type(v) ~= "string" then
    return fail(field, "user_id", "must be a string of 1-19 decimal digits, got " .. describe(v))
  end
  if not v:find("^%d+$") or #v > 19 then
    return fail(field, "user_id", "must be 1-19 decimal digits")
  end
  local digits = v:gsub("^0+(%d)", "%1")
  if #digits == 19 and digits > INT64_MAX then
    return fail(field, "user_id", "must be at most 9223372036854775807 (2^63-1)")
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

--- A header value: a string without CR, LF or NUL, which would split the request.
function validate.header_value(v, field)
  if type(v) ~= "string" then return fail(field, "type", "must be a string, got " .. describe(v)) end
  if v:find("[\r\n%z]") then
    return fail(field, "header_value", "must not contain CR, LF or NUL")
  end
  return v
end

--- A number of seconds in (0, 86400].
function validate.seconds(v, field)
  if type(v) ~= "number" or v ~= v then
    return fail(field, "type", "must be a number of seconds, got " .. describe(v))
  end
  if v <= 0 or v > 86400 then return fail(field, "range", "must be between 0 and 86400 seconds") end
  return v
end

--- An array (sequence) of 1..max items; returns its length.
function validate.list(v, field, max)
  if type(v) ~= "table" then return fail(field, "type", "must be an array, got " .. describe(v)) end
  local n = 0
  for k in pairs(v) do
    if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then
      return fail(field, "type", "must be an array (sequence), found key " .. tostring(k))
    end
    n = n + 1
  end
  if n ~= #v then return fail(field, "type", "must be an array without holes") end
  if n == 0 then return fail(field, "length", "must not be empty") end
  if max and n > max then return fail(field, "length", "must hold at most " .. max .. " items") end
  return n
end

--- Only keys listed in `allowed` may appear in the options table `t`.
function validate.known_keys(t, field, allowed)
  for k in pairs(t) do
    if not allowed[k] then
      return fail(field .. "." .. tostring(k), "unknown_option", "is not a known option")
    end
  end
  return true
end

return validate
