-- Shared spec helpers: fixture cassettes and clients wired to the replay transport.
local koodrive = require "koodrive"

local fixtures = {}

fixtures.ENDPOINT = "https://cn.myhuaweicloud-koodrive.com"
fixtures.USER_ID = "1505084218764547200"
fixtures.IOT_ENDPOINT = "https://iotda.cn-north-4.myhuaweicloud.com"
fixtures.PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"

--- Path of a recorded cassette under spec/fixtures/recorded.
function fixtures.cassette(name)
  return "spec/fixtures/recorded/" .. name .. ".json"
end

--- A KooDrive client (token mode unless overridden) that replays `cassette`, and its transport.
function fixtures.client(cassette, only, overrides)
  local t = koodrive.transport.replay(fixtures.cassette(cassette), only and { only = only })
  -- A cassette answers each recording once: one attempt per call (retry specs opt in).
  local config = { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID,
    token = "spec-token-value", transport = t, retries = false }
  for k, v in pairs(overrides or {}) do config[k] = v or nil end
  return assert(koodrive.new(config)), t
end

--- An IoTDA client replaying `cassette` (token mode unless overridden), and its transport.
function fixtures.iot(cassette, only, overrides)
  local t = koodrive.transport.replay(fixtures.cassette(cassette), only and { only = only })
  local config = { endpoint = fixtures.IOT_ENDPOINT, project_id = fixtures.PROJECT_ID,
    token = "spec-iam-token-value", transport = t, retries = false }
  for k, v in pairs(overrides or {}) do config[k] = v or nil end
  return assert(koodrive.iotda.new(config)), t
end

--- A transport that must never be reached: it records requests and fails the spec if sent.
function fixtures.never()
  local t = { requests = {} }
  function t.send(self, req)
    self.requests[#self.requests + 1] = req
    return nil, "this request should never have been sent"
  end
  return t
end

--- Unix time of a YYYYMMDDTHHMMSSZ stamp (UTC), independently of the C core.
function fixtures.epoch(stamp)
  local y, mo, d, h, mi, s = stamp:match("^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)Z$")
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from civil (proleptic Gregorian), valid for the years the vectors use
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end

return fixtures
