--- The libcurl transport: one easy handle (and so one connection cache) per transport.
-- It blocks the calling thread for the length of each transfer, except inside a
-- koodrive.loop task, where the loop runs the request on its multi handle instead
-- (`multi = true` says the loop may do so).
local failures = require "koodrive.transport.failures"
local limits = require "koodrive.limits"

local curl = {}

local Curl = {}
Curl.__index = Curl
Curl.__name = "koodrive.transport.curl"
Curl.multi = true

--- Which TLS failure a libcurl code and its text describe (koodrive.transport.failures).
curl.tls_kind = failures.tls_kind

--- The error for a failure reported by the C core as (reason, message, curl code): the one
-- constructor of koodrive.transport.failures.
curl.failure = failures.new

function Curl:send(request)
  -- The C core has no default of its own: a request without max_body gets the library's.
  if request.max_body == nil then request.max_body = limits.MAX_BODY end
  local res, reason, message, code = self.handle:perform(request)
  if res then return res end
  return nil, curl.failure(reason, message, code)
end

function Curl:close() self.handle:close() end
Curl.__close = Curl.close

function Curl.__tostring() return "koodrive.transport.curl" end

function curl.new()
  -- libcurl is loaded here, on first use, not by require "koodrive" (src/curl_core.c).
  return setmetatable({ handle = require("koodrive.curl").http() }, Curl)
end

return curl
