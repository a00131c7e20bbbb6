--- The libcurl transport: one easy handle (and so one connection cache) per transport.
-- It blocks the calling thread for the length of each transfer, except inside a
-- koodrive.loop task, where the loop runs the request on its multi handle instead
-- (`multi = true` says the loop may do so).
local core = require "koodrive.core"
local errors = require "koodrive.errors"

local curl = {}

local Curl = {}
Curl.__index = Curl
Curl.__name = "koodrive.transport.curl"
Curl.multi = true

--- The error for a failure reported by the C core as (reason, message, curl code).
function curl.failure(reason, message, code)
  if reason == "request" then
    return errors.new { kind = "validation", field = "headers", rule = "header_value",
      message = message, retryable = false }
  end
  return errors.new { kind = reason == "timeout" and "timeout" or "transport", reason = reason,
    message = message, curl_code = code,
    retryable = reason ~= "too_large" and reason ~= "tls" }
end

function Curl:send(request)
  local res, reason, message, code = self.handle:perform(request)
  if res then return res end
  return nil, curl.failure(reason, message, code)
end

function Curl:close() self.handle:close() end
Curl.__close = Curl.close

function Curl.__tostring() return "koodrive.transport.curl" end

function curl.new()
  return setmetatable({ handle = core.http() }, Curl)
end

return curl
