--- Retry policy: which failures are worth another attempt, how long to wait, and how to
-- read what the service says about time (Retry-After, the Date of a clock refusal).
-- @module koodrive.retry
local core = require "koodrive.core"
local errors = require "koodrive.errors"
local validate = require "koodrive.validate"

local retry = {}

retry.DEFAULTS = require("koodrive.limits").RETRY

local LIMITS = {
  max_attempts = { 1, 10, true },
  base_delay = { 0, 60 },
  max_delay = { 0, 300 },
  max_elapsed = { 0, 3600 },
}

--- Checks the `retries` client option: false (off), nil (defaults) or a table of overrides.
---@param option false|koodrive.RetryOptions|nil
---@return false|koodrive.RetryOptions|nil policy
---@return koodrive.Error|nil err
function retry.policy(option)
  if option == false then return false end
  if option == nil then option = {} end
  if type(option) ~= "table" then
    return nil, errors.config("retries", "type",
      "must be false or a table { max_attempts, base_delay, max_delay, max_elapsed }")
  end
  local policy = {}
  for k in pairs(option) do
    if not LIMITS[k] then
      return nil, errors.config("retries." .. validate.key_label(k), "unknown_option", "is not a known option")
    end
  end
  for name, limit in pairs(LIMITS) do
    local v = option[name]
    if v == nil then v = retry.DEFAULTS[name] end
    if type(v) ~= "number" or v ~= v or v < limit[1] or v > limit[2] or (limit[3] and v % 1 ~= 0) then
      return nil, errors.config("retries." .. name, "range",
        "must be a " .. (limit[3] and "whole " or "") .. "number from " .. limit[1] .. " to " .. limit[2])
    end
    policy[name] = v
  end
  return policy
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9,
  Oct = 10, Nov = 11, Dec = 12 }

-- Days since 1970-01-01 of a proleptic Gregorian date.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- Unix seconds of an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT"), or nil.
---@param s string|nil
---@return integer|nil seconds
function retry.http_date(s)
  if type(s) ~= "string" then return nil end
  local d, mon, y, h, mi, sec = s:match("^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  return days_from_civil(tonumber(y), MONTHS[mon], tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

--- Seconds to wait from a Retry-After header (delta seconds or an HTTP date), or nil.
---@param value string|nil
---@param now number Unix seconds
---@return number|nil seconds
function retry.after(value, now)
  if type(value) ~= "string" then return nil end
  local n = tonumber(value:match("^%s*(%d+)%s*$"))
  if n then return n end
  local t = retry.http_date(value)
  if t then return math.max(0, t - now) end
  return nil
end

--- The wait before attempt `attempt + 1`: exponential backoff with full jitter, at least
-- what Retry-After asks.
---@param policy koodrive.RetryOptions
---@param attempt integer the attempt that just failed (1 = first)
---@param retry_after number|nil seconds the service asked for
---@return number seconds
function retry.delay(policy, attempt, retry_after)
  local cap = math.min(policy.max_delay, policy.base_delay * 2 ^ (attempt - 1))
  local d = math.random() * cap
  if retry_after and retry_after > d then d = retry_after end
  return d
end

--- True when a refusal is about the request's date: an auth refusal whose response Date is
-- more than 14 minutes after the date we signed with, or before it (KooDrive refuses dates
-- older than 15 minutes or in the future; APIG allows 15 minutes of skew).
---@param err koodrive.Error
---@param response koodrive.Response|nil
---@param signed_at integer|nil Unix seconds of the X-Date / X-Sdk-Date sent
---@return integer|nil server_time the service's clock when the refusal is about the date
function retry.clock_refusal(err, response, signed_at)
  if not response or not signed_at then return nil end
  if err.status ~= 401 and err.status ~= 403 then return nil end
  local server = retry.http_date(response.headers and response.headers.date)
  if not server then return nil end
  if signed_at > server or server - signed_at > 14 * 60 then return server end
  return nil
end

--- Monotonic seconds, for measuring elapsed time.
retry.now = core.monotonic

return retry
