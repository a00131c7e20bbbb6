-- Client construction, prepare (signed, unsent), error values, secrets and the default client.
local koodrive = require "koodrive"
local cjson = require("cjson").new()
local fixtures = require "support.fixtures"

local function vectors()
  local f = assert(io.open("spec/fixtures/vectors.json", "rb"))
  local v = cjson.decode(f:read("*a"))
  f:close()
  return v
end

describe("prepare", function()
  for _, v in ipairs(vectors().koodrive_app) do
    it("signs '" .. v.name .. "' exactly as the app-auth vector", function()
      local when = fixtures.epoch(v.headers["X-Date"])
      local client = assert(koodrive.new { endpoint = "https://" .. v.headers.Host,
        user_id = v.headers["X-User-Id"], app_id = v.app_id, app_secret = v.app_secret,
        clock = function() return when end, transport = fixtures.never() })
      local body = v.body ~= "" and v.body or nil
      local req = assert(client:prepare { method = v.method, path = v.path, query = v.query, body = body })
      assert.are.equal(v.authorization, req.headers.Authorization)
      assert.are.equal(v.headers["X-Date"], req.headers["X-Date"])
      assert.are.equal(v.headers.Host, req.headers.Host)
      assert.are.equal(v.body, req.body)
    end)
  end

  it("signs IoTDA requests with SDK-HMAC-SHA256 on regional hosts, V11 elsewhere", function()
    local when = fixtures.epoch("20251103T070140Z")
    local function iot(endpoint, extra)
      local config = { endpoint = endpoint, project_id = fixtures.PROJECT_ID, ak = "AccessKey",
        sk = "SecretKey", region = "cn-north-4", instance_id = "1a7ffc5c-d89c-44dd-8265-b1653d951ce0",
        clock = function() return when end, transport = fixtures.never() }
      for k, val in pairs(extra or {}) do config[k] = val end
      return assert(koodrive.iotda.new(config))
    end
    local spec = { method = "POST",
      path = "/v5/iot/" .. fixtures.PROJECT_ID .. "/device-policies/5c90fa7d3c4e4405e8525079/unbind",
      body = '{"target_type":"device","target_ids":["64a7ba7ef9cb063d27e16b97_123456"]}' }
    local v = vectors()
    local sdk = iot(fixtures.IOT_ENDPOINT):prepare(spec)
    assert.are.equal(v.sdk_hmac_sha256[7].authorization, sdk.headers.Authorization)
    local derived = iot(fixtures.IOT_ENDPOINT, { derived = true }):prepare(spec)
    assert.are.equal(v.v11_hmac_sha256[5].authorization, derived.headers.Authorization)
    local instance = iot("https://abc123.st1.iotda-app.cn-north-4.myhuaweicloud.com")
    assert.are.equal("V11", tostring(instance):match("aksk/(%w+)"))
  end)

  it("returns every header to send, Host included, and the URL with the signed query order", function()
    local client = assert(koodrive.new { endpoint = "http://127.0.0.1:8443/base/", user_id = "42",
      token = "tok", language = "en-US", transport = fixtures.never() })
    local req = assert(client:prepare { method = "get", path = "/koodrive/ose/v1/usergroups",
      query = { pageSize = 100, sourceType = 1, groupName = "team a/b" } })
    assert.are.equal("GET", req.method)
    assert.are.equal("http://127.0.0.1:8443/base/koodrive/ose/v1/usergroups?groupName=team%20a%2Fb&pageSize=100&sourceType=1", req.url)
    assert.are.equal("127.0.0.1:8443", req.headers.Host)
    assert.are.equal("Bearer tok", req.headers.Authorization)
    assert.are.equal("42", req.headers["X-User-Id"])
    assert.are.equal("en-US", req.headers.language)
    assert.matches("^koodrive%-lua/", req.headers["User-Agent"])
    assert.are.equal("", req.body)
  end)

  it("leaves the default port out of Host, as curl does", function()
    local client = assert(koodrive.new { endpoint = "https://example.com:443", user_id = "1", token = "t",
      transport = fixtures.never() })
    assert.are.equal("example.com", client:prepare { method = "GET", path = "/" }.headers.Host)
  end)

  it("sends a Bearer prefix once", function()
    for _, token in ipairs { "abc", "Bearer abc", "bearer abc" } do
      local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = token,
        transport = fixtures.never() })
      local auth = client:prepare { method = "GET", path = "/" }.headers.Authorization
      assert.are.equal(token:find("^[Bb]earer ") and token or ("Bearer " .. token), auth)
    end
  end)

  it("sends a fresh 58-character trace id per request when trace_ids is on", function()
    local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t",
      trace_ids = true, transport = fixtures.never() })
    local a = client:prepare { method = "GET", path = "/" }.headers["X-Traceid"]
    local b = client:prepare { method = "GET", path = "/" }.headers["X-Traceid"]
    assert.are.equal(58, #a)
    assert.are_not.equal(a, b)
  end)

  it("takes X-Date from the clock at signing time, in UTC", function()
    local now = 1700000000
    local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t",
      clock = function() return now end, transport = fixtures.never() })
    assert.are.equal(os.date("!%Y%m%dT%H%M%SZ", now), client:prepare { method = "GET", path = "/" }.headers["X-Date"])
    now = now + 61
    assert.are.equal(os.date("!%Y%m%dT%H%M%SZ", now), client:prepare { method = "GET", path = "/" }.headers["X-Date"])
  end)
end)

describe("configuration errors", function()
  local cases = {
    { "no endpoint", { user_id = "1", token = "t" }, "endpoint" },
    { "an ftp endpoint", { endpoint = "ftp://x", user_id = "1", token = "t" }, "endpoint" },
    { "an endpoint with user info", { endpoint = "https://u:p@x", user_id = "1", token = "t" }, "endpoint" },
    { "a port out of range", { endpoint = "https://x:70000", user_id = "1", token = "t" }, "endpoint" },
    { "no credentials", { endpoint = "https://x", user_id = "1" }, "token" },
    { "token and app credentials", { endpoint = "https://x", user_id = "1", token = "t", app_id = "a", app_secret = "s" }, "token" },
    { "an app id without secret", { endpoint = "https://x", user_id = "1", app_id = "a" }, "app_secret" },
    { "an unknown option", { endpoint = "https://x", user_id = "1", token = "t", timeuot = 3 }, "timeuot" },
    { "a zero timeout", { endpoint = "https://x", user_id = "1", token = "t", timeout = 0 }, "timeout" },
    { "a transport without send", { endpoint = "https://x", user_id = "1", token = "t", transport = {} }, "transport" },
  }
  for _, c in ipairs(cases) do
    it("refuses " .. c[1], function()
      local client, err = koodrive.new(c[2])
      assert.is_nil(client)
      assert.are.equal("config", err.kind)
      assert.are.equal(c[3], err.field)
    end)
  end

  it("refuses derived IoTDA signing without a region", function()
    local iot, err = koodrive.iotda.new { endpoint = "https://127.0.0.1:1", project_id = "p", ak = "a", sk = "s" }
    assert.is_nil(iot)
    assert.are.equal("region", err.field)
  end)
end)

describe("errors and secrets", function()
  it("reads well in a log line", function()
    local client = fixtures.client("devices-unbind", "unknown device (error in a 200)")
    local _, err = client.devices:unbind("1000000000000000001", { trace_id = string.rep("t", 58) })
    local line = tostring(err)
    assert.matches("^koodrive devices%.unbind api error: ", line)
    assert.matches("13000309", line, 1, true)
    assert.matches("Resource does not exist.", line, 1, true)
    assert.matches("status=200", line, 1, true)
    assert.matches("trace_id=" .. string.rep("t", 58), line, 1, true)
    assert.are.equal(string.rep("t", 58), err.trace_id)
  end)

  it("never shows token, app secret or SK in tostring(client) or a dump of it", function()
    local token_client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1",
      token = "TOKEN-SECRET-1234", transport = fixtures.never() })
    local app_client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1",
      app_id = "app", app_secret = "APP-SECRET-5678", transport = fixtures.never() })
    local iot = assert(koodrive.iotda.new { endpoint = fixtures.IOT_ENDPOINT, project_id = "p",
      ak = "AK", sk = "SK-SECRET-9012", security_token = "STS-SECRET-3456", transport = fixtures.never() })
    local function dump(v, seen, out)
      seen = seen or {}
      out = out or {}
      if type(v) == "table" and not seen[v] then
        seen[v] = true
        for k, item in pairs(v) do dump(k, seen, out); dump(item, seen, out) end
      else
        out[#out + 1] = tostring(v)
      end
      return table.concat(out, " ")
    end
    for _, c in ipairs { token_client, app_client, iot } do
      local text = tostring(c) .. dump(c)
      for _, secret in ipairs { "TOKEN-SECRET", "APP-SECRET", "SK-SECRET", "STS-SECRET" } do
        assert.is_nil(text:find(secret, 1, true), secret .. " leaked")
      end
    end
  end)

  it("redacts a secret echoed back by the service", function()
    local t = koodrive.transport.replay { interactions = { {
      request = { method = "GET", path = "/koodrive/ose/v1/backup/device" },
      response = { status = 502, body_raw = "<html>bad gateway for Bearer TOKEN-ECHO-1234</html>" } } } }
    local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1",
      token = "TOKEN-ECHO-1234", transport = t, retries = false })
    local _, err = client.devices:list()
    assert.are.equal("http", err.kind)
    assert.are.equal(502, err.status)
    assert.is_true(err.retryable)
    assert.is_nil(tostring(err):find("TOKEN-ECHO-1234", 1, true))
    assert.matches("<redacted>", err.message, 1, true)
  end)

  local function replay_one(status, body, content_type)
    return koodrive.transport.replay { interactions = { {
      request = { method = "GET", path = "/koodrive/ose/v1/backup/device" },
      response = { status = status, headers = { ["Content-Type"] = content_type }, body_raw = body } } } }
  end

  it("reports a 200 with a body that is not JSON as a decode error", function()
    local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t",
      transport = replay_one(200, "{\"code\":0,", "application/json"), retries = false })
    local _, err = client.devices:list()
    assert.are.equal("decode", err.kind)
    assert.are.equal(200, err.status)
  end)

  it("reports a 200 without a code as a decode error", function()
    local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t",
      transport = replay_one(200, "{\"data\":[]}", "application/json"), retries = false })
    local _, err = client.devices:list()
    assert.are.equal("decode", err.kind)
  end)

  it("reports a 200 whose data is not a device list as a decode error", function()
    local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t",
      transport = replay_one(200, "{\"code\":0,\"data\":\"oops\"}", "application/json"), retries = false })
    local _, err = client.devices:list()
    assert.are.equal("decode", err.kind)
    assert.are.equal("devices.list", err.operation)
  end)

  it("reports ids that are not whole numbers as a decode error, on every interpreter", function()
    for _, id in ipairs { "1.5", "1e300", "-0.25" } do
      local t = koodrive.transport.replay { interactions = { {
        request = { method = "POST", path = "/koodrive/ose/v1/usergroups/1/members/batchDelete" },
        response = { status = 200, body_raw = '{"code":0,"status":1,"failedList":[' .. id .. ']}' } } } }
      local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t",
        transport = t })
      local result, err = client.usergroups:delete_members("1", { "12" })
      assert.is_nil(result, id)
      assert.are.equal("decode", err.kind, id)
      assert.are.equal("usergroups.delete_members", err.operation)
    end
  end)

  it("reports an HTML gateway page as an http error", function()
    local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t",
      transport = replay_one(503, "<html>Service Unavailable</html>", "text/html"), retries = false })
    local _, err = client.devices:list()
    assert.are.equal("http", err.kind)
    assert.are.equal(503, err.status)
    assert.matches("text/html", err.message, 1, true)
    assert.is_true(err.retryable)
  end)

  it("turns a transport's string error into a transport error", function()
    local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t",
      transport = { send = function() return nil, "socket closed" end }, retries = false })
    local _, err = client.devices:list()
    assert.are.equal("transport", err.kind)
    assert.are.equal("socket closed", err.message)
    assert.is_true(err.retryable)
  end)
end)

describe("the default client", function()
  it("is configured by koodrive.configure and used by koodrive.devices", function()
    local t = koodrive.transport.replay(fixtures.cassette("devices-list"), { only = "two devices bound" })
    assert(koodrive.configure { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "t",
      transport = t })
    local devices = assert(koodrive.devices:list())
    assert.are.equal(2, #devices)
    assert.are.equal(1, #t.requests)
  end)

  it("refuses a bad configuration without replacing the current one", function()
    local c, err = koodrive.configure { endpoint = "nope", user_id = "1", token = "t" }
    assert.is_nil(c)
    assert.are.equal("config", err.kind)
  end)
end)

describe("resource ownership", function()
  it("closes the client's libcurl handle; closing twice is harmless; later calls are refused", function()
    local c = assert(koodrive.new { endpoint = "http://127.0.0.1:9", user_id = "1", token = "t" })
    c:close()
    c:close()
    assert.is_true(c._config.transport.closed)
    local devices, err = c.devices:list()
    assert.is_nil(devices)
    assert.are.equal("config", err.kind)
    assert.are.equal("closed", err.rule)
  end)

  if _VERSION == "Lua 5.4" then
    it("closes a client declared <close> when its scope ends, even on error", function()
      local chunk = assert(load([[
        local koodrive, box = ...
        local c <close> = assert(koodrive.new { endpoint = "http://127.0.0.1:9", user_id = "1", token = "t" })
        box.client = c
        error("unwinding")
      ]]))
      local box = {}
      assert.has_error(function() chunk(koodrive, box) end)
      assert.is_true(box.client._config.transport.closed)
    end)
  end

  it("leaves a dropped client to the garbage collector without error", function()
    for _ = 1, 50 do
      assert(koodrive.new { endpoint = "http://127.0.0.1:9", user_id = "1", token = "t" })
    end
    collectgarbage()
    collectgarbage()
  end)
end)
