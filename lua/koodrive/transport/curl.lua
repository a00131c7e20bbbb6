--- The libcurl transport: one easy handle (and so one connection cache) per transport.
-- It blocks the calling thread for the length of each transfer.
local core = require "koodrive.core"
local errors = require "koodrive.errors"

local Curl = {}
Curl.__index = Curl
Curl.__name = "koodrive.transport.curl"

-- C failure kinds and the error kind the caller sees.
local KIND = { timeout = "timeout" }

function Curl:send(request)
  local res, reason, message, code = self.handle:perform(request)
  if res then return res end
  if reason == "request" then
    return nil, errors.new { kind = "validation", field = "headers", rule = "header_value",
      message = message, retryable = false }
  end
  return nil, errors.new { kind = KIND[reason] or "transport", reason = reason,
    message = message, curl_code = code,
    retryable = reason ~= "too_large" and reason ~= "tls" }
end

function Curl:close() self.handle:close() end
Curl.__close = Curl.close

function Curl.__tostring() return "koodrive.transport.curl" end

local function new()
  return setmetatable({ handle = core.http() }, Curl)
end

return { new = new }
