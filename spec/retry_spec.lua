-- Retries, clock skew, token refresh and logging, against scripted responses: a transport
-- that answers from a list and records every request, and a sleep that records its waits.
local koodrive = require "koodrive"
local retry = require "koodrive.retry"
local fixtures = require "support.fixtures"

local OK_LIST = '{"code":0,"msg":"success","data":[]}'
local OK_DEVICE = '{"code":0,"msg":"success","data":{"deviceId":"1842812272691451648","machineCode":"m"}}'

-- A transport answering from `script`, one entry per request: a response table
-- { status, body, headers } or a string (a transport failure).
local function scripted(script)
  local t = { requests = {} }
  function t.send(self, req)
    self.requests[#self.requests + 1] = req
    local step = script[#self.requests]
    assert(step, "unexpected request #" .. #self.requests)
    if type(step) == "string" then
      return nil, koodrive.errors.new { kind = "transport", reason = "transport", message = step }
    end
    local headers = {}
    for k, v in pairs(step.headers or {}) do headers[k:lower()] = v end
    return { status = step.status, headers = headers, body = step.body or "" }
  end
  return t
end

local function client(script, extra)
  local t = scripted(script)
  local waits = {}
  local config = { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "RETRY-TOKEN",
    transport = t, sleep = function(s) waits[#waits + 1] = s end,
    retries = { base_delay = 0.1, max_delay = 1, max_attempts = 3 } }
  for k, v in pairs(extra or {}) do
    if v == false and k ~= "retries" then v = nil end -- false removes a default
    config[k] = v
  end
  return assert(koodrive.new(config)), t, waits
end

local function status(n, body, headers) return { status = n, body = body or "", headers = headers } end

describe("retries", function()
  it("retries a 503 and succeeds, re-signing every attempt", function()
    local c, t, waits = client({ status(503, "<html>busy</html>"), status(503, "<html>busy</html>"), status(200, OK_LIST) },
      { token = false, app_id = "app", app_secret = "s3cret",
        clock = (function() local n = 1700000000 return function() n = n + 1 return n end end)() })
    assert.are.same({}, assert(c.devices:list()))
    assert.are.equal(3, #t.requests)
    assert.are.equal(2, #waits)
    local dates, sigs = {}, {}
    for i, r in ipairs(t.requests) do
      dates[r.headers["X-Date"]] = true
      sigs[r.headers.Authorization] = true
      assert.is_truthy(r.headers.Authorization, "attempt " .. i .. " unsigned")
    end
    local function count(set) local n = 0 for _ in pairs(set) do n = n + 1 end return n end
    assert.are.equal(3, count(dates), "every attempt carries a fresh X-Date")
    assert.are.equal(3, count(sigs), "every attempt is signed afresh")
  end)

  it("backs off exponentially with full jitter, capped by max_delay", function()
    for _ = 1, 200 do
      local policy = assert(retry.policy { base_delay = 0.1, max_delay = 0.3 })
      local d1, d2, d3 = retry.delay(policy, 1), retry.delay(policy, 2), retry.delay(policy, 3)
      assert.is_true(d1 >= 0 and d1 <= 0.1)
      assert.is_true(d2 >= 0 and d2 <= 0.2)
      assert.is_true(d3 >= 0 and d3 <= 0.3)
    end
  end)

  it("gives up after max_attempts and says how each attempt failed", function()
    local c, t = client({ "connection reset", status(502, "<html>bad gateway</html>"),
      status(500, '{"code":13000201,"msg":"inner server invoke failure"}') })
    local _, err = c.devices:list()
    assert.are.equal(3, #t.requests)
    assert.are.equal(3, err.attempts)
    assert.are.equal("api", err.kind)
    assert.are.equal(13000201, err.code)
    assert.are.equal(3, #err.history)
    assert.are.equal("transport", err.history[1].kind)
    assert.are.equal("http", err.history[2].kind)
    assert.are.equal(502, err.history[2].status)
    assert.are.equal(13000201, err.history[3].code)
    assert.is_number(err.history[1].delay)
    assert.matches("attempts=3", tostring(err), 1, true)
  end)

  it("honours Retry-After on a 429", function()
    local c, t, waits = client({ status(429, '{"code":429,"msg":"Too Many Requests"}', { ["Retry-After"] = "2" }),
      status(200, OK_LIST) }, { retries = { base_delay = 0.01, max_delay = 0.05 } })
    assert(c.devices:list())
    assert.are.equal(2, #t.requests)
    assert.is_true(waits[1] >= 2, "waited " .. tostring(waits[1]))
  end)

  it("reads Retry-After as an HTTP date too", function()
    local now = os.time()
    assert.are.equal(0, retry.after(os.date("!%a, %d %b %Y %H:%M:%S GMT", now - 10), now))
    assert.are.equal(30, retry.after(os.date("!%a, %d %b %Y %H:%M:%S GMT", now + 30), now))
    assert.are.equal(7, retry.after("7", now))
    assert.is_nil(retry.after("soon", now))
  end)

  it("stops when the next wait would pass max_elapsed", function()
    local c, t = client({ status(429, "{}", { ["Retry-After"] = "120" }), status(200, OK_LIST) },
      { retries = { max_elapsed = 60 } })
    local _, err = c.devices:list()
    assert.are.equal(1, #t.requests)
    assert.are.equal(1, err.attempts)
    assert.are.equal(429, err.status)
  end)

  it("does not retry bind unless the call opts in", function()
    local c, t = client({ status(503, "<html></html>"), status(503, "<html></html>"), status(200, OK_DEVICE) })
    local _, err = c.devices:bind { machineCode = "m" }
    assert.are.equal(1, #t.requests)
    assert.are.equal(1, err.attempts)
    local device = assert(c.devices:bind({ machineCode = "m" }, { retry = true }))
    assert.are.equal("1842812272691451648", device.deviceId)
    assert.are.equal(3, #t.requests)
  end)

  it("retries idempotent operations by default, and not when the call says retry = false", function()
    local c, t = client({ status(504, ""), status(200, OK_DEVICE), status(504, "") })
    assert(c.devices:unbind("1842812272691451648"))
    assert.are.equal(2, #t.requests)
    local _, err = c.devices:unbind("1842812272691451648", { retry = false })
    assert.are.equal(3, #t.requests)
    assert.are.equal(504, err.status)
  end)

  it("retries a generic GET but not a generic POST", function()
    local c, t = client({ "reset", status(200, OK_LIST), "reset" })
    assert(c:call { method = "GET", path = "/koodrive/ose/v1/usergroups" })
    assert.are.equal(2, #t.requests)
    local _, err = c:call { method = "POST", path = "/koodrive/ose/v1/usergroups", body = {} }
    assert.are.equal(3, #t.requests)
    assert.are.equal("transport", err.kind)
  end)

  it("does not retry what cannot succeed: other 4xx, decode errors, validation", function()
    local c, t = client({ status(400, '{"code":13000102,"msg":"Verify parameters failed."}'),
      status(200, "{oops"), status(404, "<html>not found</html>") })
    local _, e1 = c.devices:list()
    local _, e2 = c.devices:list()
    local _, e3 = c.devices:list()
    assert.are.equal(3, #t.requests)
    assert.are.same({ "api", "decode", "http" }, { e1.kind, e2.kind, e3.kind })
    assert.are.same({ 1, 1, 1 }, { e1.attempts, e2.attempts, e3.attempts })
  end)

  it("is off with retries = false", function()
    local c, t = client({ status(503, ""), status(200, OK_LIST) }, { retries = false })
    local _, err = c.devices:list()
    assert.are.equal(1, #t.requests)
    assert.are.equal(1, err.attempts)
  end)

  it("refuses a bad retries option", function()
    for _, bad in ipairs { { max_attempts = 0 }, { max_attempts = 1.5 }, { base_delay = -1 }, { jitter = true }, "yes" } do
      local c, err = koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t", retries = bad }
      assert.is_nil(c)
      assert.are.equal("config", err.kind)
      assert.matches("^retries", err.field)
    end
  end)

  it("waits on the loop's timer inside a task, without blocking the host", function()
    local t = scripted({ status(503, ""), status(200, OK_LIST) })
    local c = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t", transport = t,
      retries = { base_delay = 0.2, max_delay = 0.2 } })
    local loop = koodrive.loop()
    local h = loop:spawn(function() return c.devices:list() end)
    local polls = 0
    while not h.done and polls < 10000 do
      loop:poll(0.01)
      polls = polls + 1
    end
    loop:close()
    assert.are.same({}, h.result)
    assert.is_true(polls >= 1)
  end)
end)

describe("clock skew", function()
  it("learns the offset from the Date of a refusal, retries once, and keeps it", function()
    local now = 1700000000
    local server = now + 3600 -- the server is an hour ahead
    local refusal = status(401, '{"code":401,"msg":"X-Date out of range"}',
      { Date = os.date("!%a, %d %b %Y %H:%M:%S GMT", server) })
    local c, t = client({ refusal, status(200, OK_LIST), status(200, OK_LIST) },
      { clock = function() return now end, retries = false })
    assert(c.devices:list())
    assert.are.equal(2, #t.requests)
    local second = t.requests[2].headers["X-Date"]
    assert.are.equal(os.date("!%Y%m%dT%H%M%SZ", server - 1), second)
    assert(c.devices:list())
    assert.are.equal(os.date("!%Y%m%dT%H%M%SZ", server - 1), t.requests[3].headers["X-Date"])
  end)

  it("does not take a 401 with a matching Date for a clock problem", function()
    local now = os.time()
    local c, t = client({ status(401, '{"code":401,"msg":"Unauthorized"}',
      { Date = os.date("!%a, %d %b %Y %H:%M:%S GMT", now) }) }, { clock = function() return now end })
    local _, err = c.devices:list()
    assert.are.equal(1, #t.requests)
    assert.are.equal(401, err.status)
  end)
end)

describe("token refresh", function()
  it("asks the token_provider for a fresh token on a 401 and retries once", function()
    local tokens = { "SECOND-TOKEN" }
    local c, t = client({ status(401, '{"code":401,"msg":"Unauthorized"}'), status(200, OK_LIST) },
      { token_provider = function() return table.remove(tokens, 1) end, token = "FIRST-TOKEN" })
    assert(c.devices:list())
    assert.are.equal("Bearer FIRST-TOKEN", t.requests[1].headers.Authorization)
    assert.are.equal("Bearer SECOND-TOKEN", t.requests[2].headers.Authorization)
  end)

  it("fetches the first token from the provider when no token is given", function()
    local c, t = client({ status(200, OK_LIST) }, { token = false, token_provider = function() return "LAZY-TOKEN" end })
    assert(c.devices:list())
    assert.are.equal("Bearer LAZY-TOKEN", t.requests[1].headers.Authorization)
  end)

  it("reports the 401 when the provider fails, without leaking the token", function()
    local c, t = client({ status(401, '{"code":401,"msg":"Unauthorized"}') },
      { token_provider = function() error("vault unreachable") end })
    local _, err = c.devices:list()
    assert.are.equal(1, #t.requests)
    assert.are.equal(401, err.status)
    assert.matches("vault unreachable", err.message)
    assert.is_nil(tostring(err):find("RETRY-TOKEN", 1, true))
  end)

  it("refreshes an IoTDA IAM token the same way", function()
    local t = scripted({ status(401, '{"error_code":"APIGW.0307","error_msg":"The token must be updated."}'),
      status(200, '{"success_targets":["a"],"failure_targets":[]}') })
    local iot = assert(koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = "p",
      token = "OLD-IAM", token_provider = function() return "NEW-IAM" end, transport = t })
    assert(iot.device_policies:unbind("5c90fa7d3c4e4405e8525079", { target_type = "device", target_ids = { "a" } }))
    assert.are.equal("OLD-IAM", t.requests[1].headers["X-Auth-Token"])
    assert.are.equal("NEW-IAM", t.requests[2].headers["X-Auth-Token"])
  end)

  it("is refused in app mode", function()
    local c, err = koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", app_id = "a", app_secret = "s",
      token_provider = function() return "x" end }
    assert.is_nil(c)
    assert.are.equal("config", err.kind)
  end)
end)

describe("logging", function()
  it("gives the logger one record per attempt, with secrets redacted", function()
    local records = {}
    local c = client({ status(503, "<html>busy</html>"), status(200, OK_LIST, { ["X-Request-Id"] = "req-42" }) },
      { logger = function(r) records[#records + 1] = r end })
    assert(c:call { method = "GET", path = "/koodrive/ose/v1/usergroups", query = { access_token = "URL-SECRET", page = 1 } })
    assert.are.equal(2, #records)
    local r1, r2 = records[1], records[2]
    assert.are.equal("call", r1.operation)
    assert.are.equal("GET", r1.method)
    assert.are.equal(1, r1.attempt)
    assert.are.equal(503, r1.status)
    assert.are.equal("http", r1.error_kind)
    assert.are.equal(2, r2.attempt)
    assert.are.equal(200, r2.status)
    assert.are.equal("req-42", r2.request_id)
    assert.is_number(r2.duration)
    for _, r in ipairs(records) do
      assert.are.equal("<redacted>", r.request_headers.Authorization)
      assert.matches("access_token=<redacted>", r.url, 1, true)
      assert.matches("page=1", r.url, 1, true)
      local function scan(v)
        if type(v) == "table" then for _, x in pairs(v) do scan(x) end
        elseif type(v) == "string" then
          assert.is_nil(v:find("RETRY-TOKEN", 1, true), "token in a log record")
          assert.is_nil(v:find("URL-SECRET", 1, true), "query secret in a log record")
        end
      end
      scan(r)
    end
  end)

  it("is silent by default and never breaks a call when the logger fails", function()
    local c = client({ status(200, OK_LIST) }, { logger = function() error("logger broke") end })
    assert(c.devices:list())
  end)

  it("warns once per client when TLS verification is off", function()
    local records = {}
    local c = assert(koodrive.new { endpoint = "https://127.0.0.1:9", user_id = "1", token = "t", insecure = true,
      transport = scripted({ status(200, OK_LIST), status(200, OK_LIST) }),
      logger = function(r) records[#records + 1] = r end })
    assert(c.devices:list())
    assert(c.devices:list())
    local warnings = 0
    for _, r in ipairs(records) do
      if r.event == "insecure" then
        warnings = warnings + 1
        assert.are.equal("warn", r.level)
        assert.matches("insecure", r.message)
      end
    end
    assert.are.equal(1, warnings)
  end)
end)
