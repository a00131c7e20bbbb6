-- bench/sign.lua - microseconds per core.sign call for each scheme (same inputs as
-- bench/sign.py and bench/sign_openssl.c), plus the whole build+sign step of the pipeline
-- (client:prepare, app mode) per call. Prints "key value" lines.
-- usage: LUA_PATH=... LUA_CPATH=... lua5.4 bench/sign.lua [iterations] [--check]
local core = require "koodrive.sign" -- the signing module also has the encoders
local koodrive = require "koodrive"

local iters = tonumber(arg[1]) or 200000
local now = require("koodrive.core").monotonic

local app = {
  scheme = "HMAC-SHA256", method = "GET", path = "/koodrive/ose/v1/backup/device",
  key_id = "a378331eca141163119eb602adb67b7802cc79cd33ba44c7d2fe61d1586c96a1",
  secret = "ExampleAppSecret", body = "",
  headers = { Host = "cn.myhuaweicloud-koodrive.com", ["X-Date"] = "20240909T033325Z",
    ["X-User-Id"] = "1505084218764547200" },
}
local function iot(scheme)
  return {
    scheme = scheme, method = "POST",
    path = "/v5/iot/0a1b2c3d4e5f60718293a4b5c6d7e8f9/device-policies/5c90fa7d3c4e4405e8525079/unbind",
    key_id = "AccessKey", secret = "SecretKey", region = "cn-north-4", service = "iotdm",
    body = '{"target_type":"device","target_ids":["64a7ba7ef9cb063d27e16b97_123456"]}',
    headers = { ["Content-Type"] = "application/json", Host = "iotda.cn-north-4.myhuaweicloud.com",
      ["X-Sdk-Date"] = "20251103T070140Z", ["Instance-Id"] = "1a7ffc5c-d89c-44dd-8265-b1653d951ce0" },
  }
end
local cases = { { "HMAC-SHA256", app }, { "SDK-HMAC-SHA256", iot "SDK-HMAC-SHA256" },
  { "V11-HMAC-SHA256", iot "V11-HMAC-SHA256" } }

if arg[2] == "--check" then
  for _, c in ipairs(cases) do print(assert(core.sign(c[2])).authorization) end
  return
end

local function best_of(n, fn)
  local best = math.huge
  for _ = 1, 3 do
    local t0 = now()
    fn(n)
    local us = (now() - t0) / n * 1e6
    if us < best then best = us end
  end
  return best
end

local sign = core.sign
for _, c in ipairs(cases) do
  local req = c[2]
  local us = best_of(iters, function(n) for _ = 1, n do sign(req) end end)
  print(("sign_%s %.3f"):format(c[1], us))
end

-- The whole build + sign step of one call (what the pipeline does before the network).
local client = assert(koodrive.new {
  endpoint = "http://127.0.0.1:1", user_id = "1505084218764547200",
  app_id = "a378331eca141163119eb602adb67b7802cc79cd33ba44c7d2fe61d1586c96a1",
  app_secret = "ExampleAppSecret", retries = false,
})
local spec = { method = "GET", path = "/koodrive/ose/v1/backup/device" }
local n = math.max(1000, math.floor(iters / 4))
local us = best_of(n, function(k) for _ = 1, k do assert(client:prepare(spec)) end end)
print(("prepare_app %.3f"):format(us))
local tclient = assert(koodrive.new {
  endpoint = "http://127.0.0.1:1", user_id = "1505084218764547200", token = "bench-token",
  retries = false,
})
us = best_of(n, function(k) for _ = 1, k do assert(tclient:prepare(spec)) end end)
print(("prepare_token %.3f"):format(us))
