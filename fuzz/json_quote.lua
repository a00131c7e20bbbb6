-- fuzz target "json_quote": core.quote_long_integers (src/json.c), which wraps integer
-- literals of 16 or more digits in quotes before lua-cjson reads the text, so that ids reach
-- Lua as exact digit strings. The input is the response text.
--
-- Invariants:
--   * the output is the input with '"' inserted and nothing else changed (no digit lost);
--   * for any text cjson (a fresh cjson.new(), as lua/koodrive/json.lua uses) accepts, the
--     quoted text is accepted too and decodes to the same structure, except that some numbers
--     became strings: each such string is an optional "-" and 16+ digits, and reads back as the
--     number cjson gave for the original literal;
--   * koodrive.json.decode (the strict reader in src/json_decode.c) never raises; what it accepts cjson
--     accepts too, and decodes to the same structure as the quoted text (it is stricter: it
--     refuses hex, +1, inf/nan, trailing text, duplicate keys and out-of-range numbers).
local core = require "koodrive.core"
local cjson = require("cjson").new()
local kjson = require "koodrive.json"
local support = require "support"
local check, show = support.check, support.show

-- Whether `out` is `text` with only '"' bytes inserted.
local function only_quotes_added(text, out)
  local i, j = 1, 1
  while j <= #out do
    if i <= #text and out:byte(j) == text:byte(i) then
      i = i + 1
    elseif out:byte(j) ~= 34 then
      return false
    end
    j = j + 1
  end
  return i == #text + 1
end

local function same_number(a, b)
  return a == b or (a ~= a and b ~= b)
end

local function same(orig, quoted, depth)
  if type(orig) == "number" and type(quoted) == "string" then
    local digits = quoted:match("^%-?(%d+)$")
    return digits ~= nil and #digits > 15 and same_number(tonumber(quoted) + 0.0, orig)
  end
  if type(orig) ~= type(quoted) then return false end
  if type(orig) == "number" then return same_number(orig, quoted) end
  if type(orig) ~= "table" then return orig == quoted end
  if depth > 1100 then return false end
  for k, v in pairs(orig) do
    if not same(v, quoted[k], depth + 1) then return false end
  end
  for k in pairs(quoted) do
    if orig[k] == nil then return false end
  end
  return true
end

return function(text)
  local out = core.quote_long_integers(text)
  check(type(out) == "string", "not a string", text)
  check(only_quotes_added(text, out), "changed more than quotes", text, out)
  local dok, value, err = pcall(kjson.decode, text)
  check(dok, "koodrive.json.decode raised", text, value)
  check(value ~= nil or type(err) == "string", "koodrive.json.decode gave neither a value nor a message", text)
  local ok, orig = pcall(cjson.decode, text)
  check(ok or value == nil, "koodrive.json.decode accepted what cjson refuses", text, show(value))
  if not ok then return end
  local ok2, quoted = pcall(cjson.decode, out)
  check(ok2, "cjson accepts the text but not the quoted text", text, out, quoted)
  check(same(orig, quoted, 0), "quoted text decodes differently", text, out, show(orig), show(quoted))
  if value ~= nil then
    check(same(orig, value, 0), "koodrive.json.decode reads differently from cjson", text, show(orig), show(value))
  end
end
