--- Error values returned as the second result of every failing call.
-- An error is a plain table with a readable `__tostring`:
--   kind        "config" | "validation" | "transport" | "timeout" | "http" | "api" | "decode"
--   message     what went wrong, in words
--   operation   e.g. "devices.unbind" (or "call" for the generic pipeline)
--   status      HTTP status, when a response arrived
--   code, msg   the service's own error code and message (KooDrive code/msg, IoTDA error_code/error_msg)
--   request_id  the X-Request-Id response header, when present
--   trace_id    the X-Traceid that was sent, if any
--   field, rule for validation and config errors: which input and which rule it broke
--   retryable   whether sending the same request again may succeed
-- Errors never carry secrets: they are built from names, codes and service messages only.
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
  http = true, api = true, decode = true,
}

function Error.__tostring(e)
  local parts = { "koodrive" }
  if e.operation then parts[#parts + 1] = e.operation end
  parts[#parts + 1] = e.kind .. " error"
  local line = table.concat(parts, " ") .. ": " .. tostring(e.message)
  local extra = {}
  if e.status then extra[#extra + 1] = "status=" .. tostring(e.status) end
  if e.code ~= nil then extra[#extra + 1] = "code=" .. tostring(e.code) end
  if e.request_id then extra[#extra + 1] = "request_id=" .. tostring(e.request_id) end
  if e.trace_id then extra[#extra + 1] = "trace_id=" .. tostring(e.trace_id) end
  if e.attempts then extra[#extra + 1] = "attempts=" .. tostring(e.attempts) end
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
-- @field msg the service's error message
-- @field request_id the X-Request-Id response header
-- @field trace_id the X-Traceid that was sent
-- @field field validation and config errors: the input at fault
-- @field rule validation and config errors: the rule it broke
-- @field retryable whether sending the same request again may succeed
-- @field reason transport errors: what failed ("connect", "tls", ...)
-- @field tls TLS errors: why the certificate was refused ("untrusted", "expired", ...)
-- @field attempts after retries: how many attempts were made
-- @field history after retries: one entry per attempt

--- Error kinds (`err.kind`): the set of names, each mapped to true.
-- @table kinds
-- @field config a client option is missing or invalid (from `koodrive.new` and friends)
-- @field validation an argument broke a rule; nothing was sent
-- @field transport the request did not get an answer (connect, DNS, TLS, reset)
-- @field timeout the request or connection timed out
-- @field http an HTTP error status without a service error body
-- @field api the service answered with its own error code (`code`, `msg`)
-- @field decode the answer could not be read (not JSON, or not the expected shape)

-- A copy: changing it changes nothing inside.
errors.kinds = {}
for kind in pairs(KINDS) do errors.kinds[kind] = true end

return errors
