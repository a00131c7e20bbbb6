--- Error values returned as the second result of every failing call.
-- An error is a plain table with a readable `__tostring`:
--   kind        "config" | "validation" | "transport" | "timeout" | "http" | "api" | "decode" | "io"
--   message     what went wrong, in words
--   operation   e.g. "devices.unbind" (or "call" for the generic pipeline)
--   status      HTTP status, when a response arrived
--   code, msg   the service's own error code and message (KooDrive code/msg, IoTDA error_code/error_msg)
--   request_id  the X-Request-Id response header, when present
--   trace_id    the X-Traceid that was sent, if any
--   field, rule for validation and config errors: which input and which rule it broke
--   retryable   whether sending the same request again may succeed
-- Errors never carry secrets: every field that comes from a server (message, code, msg,
-- request_id) has the client's secrets taken out in any form the server may echo them
-- (koodrive.secrets), before any cut. `message` and `request_id` are also made printable
-- (errors.printable); `code` and `msg` keep the service's bytes otherwise, and tostring
-- shows every field printable, so server text cannot forge log lines.
-- @module koodrive.errors
local errors = {}

local Error = {}
Error.__index = Error
Error.__name = "koodrive.error"

-- Codes of the KooDrive service that describe a passing failure.
local RETRYABLE_CODES = { [13000201] = true }
local RETRYABLE_STATUS = { [429] = true, [502] = true, [503] = true, [504] = true }

local KINDS = {
  config = true, validation = true, transport = true, timeout = true,
  http = true, api = true, decode = true, io = true,
}

-- How control characters are shown: the usual escapes, else \xHH (bytes) or \uHHHH (C1
-- controls, line separators and bidirectional overrides written as UTF-8).
local SHOWN = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function show_byte(c)
  return SHOWN[c] or string.format("\\x%02x", c:byte())
end

-- UTF-8 sequences that move or split what a terminal or log viewer shows.
local function show_sequence(seq)
  local a, b, c = seq:byte(1, 3)
  local cp
  if a == 0xC2 and b >= 0x80 and b <= 0x9F then cp = b
  elseif a == 0xE2 and b == 0x80 and c >= 0xA8 and c <= 0xAE then cp = 0x2000 + (c - 0x80)
  elseif a == 0xE2 and b == 0x81 and c >= 0xA6 and c <= 0xA9 then cp = 0x2040 + (c - 0x80)
  elseif a == 0xE2 and b == 0x80 and (c == 0x8E or c == 0x8F) then cp = 0x2000 + (c - 0x80) end
  if cp then return string.format("\\u%04x", cp) end
  return nil
end

--- Text safe to print on one line: CR, LF, TAB, ESC and every other C0 control, DEL, C1
-- controls (raw bytes 0x80-0x9F outside a UTF-8 sequence, or U+0080-U+009F), and the
-- Unicode line separators and bidirectional overrides are shown as escapes (\r, \n,
-- \x1b, \u009b, \u202e ...), so text from a server can neither forge log lines nor drive
-- a terminal. Anything but a string is first turned into one with tostring.
---@param s any
---@return string
function errors.printable(s)
  if type(s) ~= "string" then s = tostring(s) end
  if not s:find("[%z\1-\31\127-\159\194\226]") then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local b = s:byte(i)
    local len = b >= 0xC2 and b <= 0xDF and 2 or b >= 0xE0 and b <= 0xEF and 3
      or b >= 0xF0 and b <= 0xF4 and 4 or 1
    local seq = len > 1 and s:sub(i, i + len - 1)
    if seq and (#seq < len or seq:find("[^\128-\191]", 2)) then seq, len = nil, 1 end
    if seq then
      -- A whole UTF-8 sequence: kept unless it is a control.
      out[#out + 1] = show_sequence(seq) or seq
    elseif b < 32 or (b >= 127 and b <= 159) then
      -- C0, DEL, and stray bytes that 8-bit terminals read as C1 controls.
      out[#out + 1] = show_byte(s:sub(i, i))
    else
      out[#out + 1] = s:sub(i, i)
    end
    i = i + len
  end
  return table.concat(out)
end

-- Every field is rendered through printable: messages, codes and ids may come from a server.
function Error.__tostring(e)
  local show = errors.printable
  local parts = { "koodrive" }
  if e.operation then parts[#parts + 1] = show(e.operation) end
  parts[#parts + 1] = show(e.kind) .. " error"
  local line = table.concat(parts, " ") .. ": " .. show(e.message)
  local extra = {}
  if e.status then extra[#extra + 1] = "status=" .. show(e.status) end
  if e.code ~= nil then extra[#extra + 1] = "code=" .. show(e.code) end
  if e.request_id then extra[#extra + 1] = "request_id=" .. show(e.request_id) end
  if e.trace_id then extra[#extra + 1] = "trace_id=" .. show(e.trace_id) end
  if e.attempts then extra[#extra + 1] = "attempts=" .. show(e.attempts) end
  if #extra > 0 then line = line .. " (" .. table.concat(extra, ", ") .. ")" end
  return line
end

--- Builds an error from a table of fields; `kind` and `message` are required.
---@param fields table
---@return koodrive.Error
function errors.new(fields)
  assert(KINDS[fields.kind], "unknown error kind: " .. tostring(fields.kind))
  local e = setmetatable(fields, Error)
  if e.retryable == nil then
    e.retryable = e.kind == "transport" or e.kind == "timeout"
      or (e.status ~= nil and RETRYABLE_STATUS[e.status] == true)
      or (type(e.code) == "number" and RETRYABLE_CODES[e.code] == true)
  end
  return e
end

--- A validation error: `field` broke `rule`; the message names both.
---@param field string
---@param rule string
---@param message string
---@return koodrive.Error
function errors.validation(field, rule, message)
  return errors.new { kind = "validation", field = field, rule = rule,
    message = field .. ": " .. message }
end

--- A configuration error for option `field`.
---@param field string
---@param rule string
---@param message string
---@return koodrive.Error
function errors.config(field, rule, message)
  return errors.new { kind = "config", field = field, rule = rule,
    message = field .. ": " .. message }
end

--- True when `v` is an error built by this module.
---@param v any
---@return boolean
function errors.is(v)
  return getmetatable(v) == Error
end

--- The fields of an error.
-- @table Error
-- @field kind one of the kinds below
-- @field message what went wrong, in words
-- @field operation e.g. "devices.unbind", or "call" / "prepare"
-- @field status HTTP status, when a response arrived
-- @field code the service's error code (KooDrive `code`, IoTDA `error_code`)
-- @field msg the service's error message (secrets of the client redacted)
-- @field request_id the X-Request-Id response header
-- @field trace_id the X-Traceid that was sent
-- @field field validation and config errors: the input at fault
-- @field rule validation and config errors: the rule it broke
-- @field retryable whether sending the same request again may succeed
-- @field reason transport errors: what failed ("connect", "tls", ...)
-- @field tls TLS errors: why the certificate was refused ("untrusted", "expired", ...)
-- @field attempts after retries: how many attempts were made
-- @field history after retries: one entry per attempt (`ambiguous` when it may have been carried out)
-- @field ambiguous an earlier attempt may have been carried out (a reset, a timeout, 502/503/504)
-- @field uncertain the call may have been carried out: its last attempt got no readable answer,
-- or "not found" after an ambiguous attempt (batch helpers list such items as uncertain)
-- @field body decode errors: a redacted snippet of the response body

--- Error kinds (`err.kind`): the set of names, each mapped to true.
-- @table kinds
-- @field config a client option is missing or invalid (from `koodrive.new` and friends)
-- @field validation an argument broke a rule; nothing was sent
-- @field transport the request did not get an answer (connect, DNS, TLS, reset)
-- @field timeout the request or connection timed out
-- @field http an HTTP error status without a service error body
-- @field api the service answered with its own error code (`code`, `msg`)
-- @field decode the answer could not be read (not JSON, or not the expected shape)
-- @field io a local file of a transfer could not be read or written (source, destination, journal)

-- A copy: changing it changes nothing inside.
errors.kinds = {}
for kind in pairs(KINDS) do errors.kinds[kind] = true end

return errors
