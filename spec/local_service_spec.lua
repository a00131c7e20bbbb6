-- Spec of the local development service (server/, hosted on nginx): its signature verifier
-- against the contract's known-answer vectors, then the running server over
-- real sockets. Requests here are signed with server/koodrive_local/auth.lua's own
-- functions, which is fine for a spec of the server alone; the library's
-- specs sign with the library and so check both sides against each other.
--
-- Run from the repository root:
--   LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;server/?.lua;;" lua5.4 /usr/bin/busted spec/local_service_spec.lua

local socket = require "socket"
local cjson = require("cjson").new()
local svc = require "local_service"

-- server/koodrive_local/auth.lua is the service's own oracle, written in Lua 5.1 syntax over
-- luaossl so that nginx's LuaJIT runs it; the specs call it in-process under every interpreter.
local auth = require "koodrive_local.auth"
local function describe_in_server_lua(name, body) return describe(name, body) end

local creds = dofile("server/local_credentials.lua")

local sys = require "support.sys"

local function read_file(path) return (assert(sys.read(path), path)) end

local vectors = cjson.decode(read_file("spec/fixtures/vectors.json"))

-- What a client puts on the wire for a vector: each path segment and query
-- name/value encoded, the query in the vector's (unsorted) order.
local function wire_path(path)
  return (path:gsub("[^/]+", auth.uri_encode))
end

local function wire_query(query)
  local out = {}
  for i, p in ipairs(query) do out[i] = auth.uri_encode(p[1]) .. "=" .. auth.uri_encode(p[2]) end
  return #out > 0 and table.concat(out, "&") or nil
end

local function lower_headers(h)
  local out = {}
  for k, v in pairs(h) do out[k:lower()] = v end
  return out
end

local function vector_request(v, signed)
  return {
    method = v.method, path = wire_path(v.path), query = wire_query(v.query),
    headers = lower_headers(v.headers), body = v.body, signed = signed,
  }
end

local function contains(list, x)
  for _, y in ipairs(list) do if y == x then return true end end
  return false
end

describe_in_server_lua("local service auth against vectors.json", function()
  describe("koodrive_app", function()
    for _, v in ipairs(vectors.koodrive_app) do
      it(v.name, function()
        local r = vector_request(v, auth.APP_SIGNED)
        local creq = auth.canonical_request(r)
        assert.are.equal(v.canonical_request, creq)
        assert.are.equal(v.string_to_sign, auth.app_string_to_sign(creq))
        local authz = auth.app_authorization(v.app_id, auth.app_signature(v.app_secret, creq))
        assert.are.equal(v.authorization, authz)

        -- the verifier accepts the vector's header at the vector's time...
        local c = { tokens = {}, apps = { [v.app_id] = v.app_secret } }
        local now = auth.parse_compact_date(v.headers["X-Date"])
        r.headers.authorization = v.authorization
        assert.is_true((auth.verify_koodrive(r, c, now)))
        -- ...and refuses it once the body is changed
        r.body = r.body .. " "
        local ok, status, code = auth.verify_koodrive(r, c, now)
        assert.is_false(ok)
        assert.are.same({ 401, 401 }, { status, code })
      end)
    end
  end)

  for _, scheme in ipairs({ "sdk_hmac_sha256", "v11_hmac_sha256" }) do
    describe(scheme, function()
      for _, v in ipairs(vectors[scheme]) do
        it(v.name, function()
          local r = vector_request(v, v.signed_headers)
          local creq = auth.canonical_request(r)
          assert.are.equal(v.canonical_request, creq)
          local date = v.headers["X-Sdk-Date"]
          local authz
          if scheme == "sdk_hmac_sha256" then
            assert.are.equal(v.string_to_sign, auth.sdk_string_to_sign(date, creq))
            authz = auth.sdk_authorization(v.ak, v.signed_headers, auth.sdk_signature(v.sk, date, creq))
          else
            local info = auth.v11_info(date, v.region, v.service)
            assert.are.equal(v.string_to_sign, auth.v11_string_to_sign(date, info, creq))
            authz = auth.v11_authorization(v.ak, info, v.signed_headers,
              auth.v11_signature(v.ak, v.sk, date, info, creq))
          end
          assert.are.equal(v.authorization, authz)

          -- the gateway check needs host and x-sdk-date signed; the vectors
          -- that sign less are only checked for their strings above
          if contains(v.signed_headers, "host") then
            local c = { tokens = {}, aksk = { [v.ak] = v.sk }, region = v.region, service = v.service }
            local now = auth.parse_compact_date(date)
            r.headers.authorization = v.authorization
            assert.is_true((auth.verify_iotda(r, c, now)))
            r.headers.authorization = v.authorization:gsub("Signature=%x", "Signature=0")
            if r.headers.authorization == v.authorization then
              r.headers.authorization = v.authorization:gsub("Signature=%x", "Signature=1")
            end
            local ok, status, code = auth.verify_iotda(r, c, now)
            assert.is_false(ok)
            assert.are.same({ 401, "APIGW.0301" }, { status, code })
          end
        end)
      end
    end)
  end

  it("sorts query parameters by raw bytes, never by locale", function()
    assert.are.equal("a=10&a=2&b=", auth.canonical_query("b&a=2&a=10"))   -- "10" < "2" bytewise
    assert.are.equal("A=1&a=1", auth.canonical_query("a=1&A=1"))
    assert.are.equal("a%2Bb=%20", auth.canonical_query("a+b=%20"))
  end)

  it("builds the canonical URI from the raw path", function()
    assert.are.equal("/", auth.canonical_uri("/"))
    assert.are.equal("/a/b/", auth.canonical_uri("/a/b/"))
    assert.are.equal("/a%20b/c%2Fd/", auth.canonical_uri("/a%20b/c%2fd"))
  end)
end)

---------------------------------------------------------------------------
-- A tiny HTTP client on raw sockets: keep-alive and pipelining need
-- control that socket.http does not give.

local function connect(port)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(10)
  return c
end

-- headers: list of { name, value }
local function send_request(c, method, target, headers, body)
  local out = { method .. " " .. target .. " HTTP/1.1\r\n" }
  for _, h in ipairs(headers) do out[#out + 1] = h[1] .. ": " .. h[2] .. "\r\n" end
  if body then out[#out + 1] = "Content-Length: " .. #body .. "\r\n" end
  out[#out + 1] = "\r\n"
  out[#out + 1] = body or ""
  assert(c:send(table.concat(out)))
end

local function read_response(c)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local status = tonumber(line:match("^HTTP/1%.1 (%d%d%d) "))
  local headers = {}
  while true do
    local l = assert(c:receive("*l"))
    if l == "" then break end
    local n, v = l:match("^([^:]+):%s*(.-)%s*$")
    headers[n:lower()] = v
  end
  local n = tonumber(headers["content-length"])
  local body = (n and n > 0) and assert(c:receive(n)) or ""
  local ok, json = pcall(cjson.decode, body)
  return { status = status, headers = headers, body = body, json = ok and json or nil }
end

describe_in_server_lua("local service over HTTP", function()
  local server, port, host

  setup(function()
    server = svc.start()
    port = server.port
    host = "127.0.0.1:" .. port
  end)

  teardown(function()
    if server then server.stop() end
  end)

  -- one request on a fresh connection
  local function call(method, target, headers, body)
    local c = connect(port)
    send_request(c, method, target, headers, body)
    local r = assert(read_response(c))
    c:close()
    return r
  end

  local function reset()
    assert.are.equal(200, call("POST", "/_local/reset", { { "Host", host } }, "").status)
  end

  local function random_user()
    -- two 9-digit halves: math.random takes no 18-digit bounds on 5.1 and LuaJIT
    return tostring(math.random(1, 9)) .. string.format("%09d%09d", math.random(0, 999999999),
      math.random(0, 999999999))
  end

  local function bearer(user, date_offset)
    return {
      { "Host", host }, { "Authorization", "Bearer local-token-alice" },
      { "X-User-Id", user }, { "X-Date", auth.compact_date(os.time() + (date_offset or 0)) },
    }
  end

  local APP_ID, APP_SECRET = next(creds.koodrive.apps)

  -- app-mode headers for a request, signed with auth.lua
  local function app_signed(method, path, query, user, body, secret)
    local h = { host = host, ["x-date"] = auth.compact_date(os.time()), ["x-user-id"] = user }
    local creq = assert(auth.canonical_request { method = method, path = path, query = query,
      headers = h, body = body or "", signed = auth.APP_SIGNED })
    local authz = auth.app_authorization(APP_ID, auth.app_signature(secret or APP_SECRET, creq))
    return {
      { "Host", h.host }, { "X-Date", h["x-date"] }, { "X-User-Id", user }, { "Authorization", authz },
    }
  end

  local DEVICES = "/koodrive/ose/v1/backup/device"
  local GROUP = creds.koodrive.group_id
  local POLICY_PATH = "/v5/iot/" .. creds.iotda.project_id .. "/device-policies/" .. creds.iotda.policy_id

  it("answers with the common headers", function()
    local r = call("GET", DEVICES, bearer(random_user()))
    assert.are.equal(200, r.status)
    assert.are.equal("application/json;charset=UTF-8", r.headers["content-type"])
    assert.are.equal(tostring(#r.body), r.headers["content-length"])
    assert.truthy(r.headers["date"]:match("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$"))
    assert.truthy(r.headers["x-request-id"]:match("^" .. string.rep("%x", 32) .. "$"))
    local r2 = call("GET", DEVICES, bearer(random_user()))
    assert.are_not.equal(r.headers["x-request-id"], r2.headers["x-request-id"])
  end)

  it("lists, binds and unbinds devices with a bearer token, per user", function()
    local user = random_user()
    local r = call("GET", DEVICES, bearer(user))
    assert.are.equal('{"code":0,"msg":"success","data":[]}', r.body)

    r = call("POST", DEVICES, bearer(user), '{"machineCode":"20251217","deviceName":"Magic-v5","deviceOS":"android"}')
    assert.are.equal(200, r.status)
    assert.are.equal(0, r.json.code)
    local d = r.json.data
    assert.truthy(d.deviceId:match("^[1-9]%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d$"))
    assert.truthy(d.createTime:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"))
    assert.are.same({ "20251217", "Magic-v5", "android" }, { d.machineCode, d.deviceName, d.deviceOS })

    r = call("POST", DEVICES, bearer(user), '{"machineCode":"second_one"}')
    local d2 = r.json.data
    r = call("GET", DEVICES, bearer(user))
    assert.are.equal(2, #r.json.data)
    assert.are.equal(d.deviceId, r.json.data[1].deviceId)   -- bind order
    assert.are.equal(d2.deviceId, r.json.data[2].deviceId)
    -- another user sees none of them
    assert.are.equal(0, #call("GET", DEVICES, bearer(random_user())).json.data)

    r = call("DELETE", DEVICES .. "/" .. d.deviceId, bearer(user))
    assert.are.same({ code = 0, msg = "success", data = d }, r.json)
    r = call("DELETE", DEVICES .. "/" .. d.deviceId, bearer(user))
    assert.are.equal(200, r.status)
    assert.are.same({ code = 13000309, msg = "Resource does not exist." }, r.json)
    r = call("GET", DEVICES, bearer(user))
    assert.are.equal(1, #r.json.data)
    assert.are.equal(d2.deviceId, r.json.data[1].deviceId)
  end)

  it("refuses bind bodies that break the contract's patterns", function()
    for _, body in ipairs({
      '{"deviceName":"x"}', '{"machineCode":"has-dash"}', '{"machineCode":""}',
      '{"machineCode":"' .. string.rep("a", 65) .. '"}', '{"machineCode":"a","deviceName":"bad!"}',
      '{"machineCode":"a","deviceOS":"no-dash"}', '{"machineCode":12}', 'not json', '[]',
    }) do
      local r = call("POST", DEVICES, bearer(random_user()), body)
      assert.are.equal(400, r.status, body)
      assert.are.same({ code = 13000102, msg = "Verify parameters failed." }, r.json)
    end
  end)

  it("refuses a wrong token, a missing Authorization and unknown paths", function()
    local h = bearer(random_user())
    h[2] = { "Authorization", "Bearer nope" }
    local r = call("GET", DEVICES, h)
    assert.are.equal(401, r.status)
    assert.are.same({ code = 401, msg = "Unauthorized" }, r.json)
    table.remove(h, 2)
    assert.are.equal(401, call("GET", DEVICES, h).status)
    h = bearer(random_user())
    h[2] = { "Authorization", "bEaReR local-token-bob" }   -- scheme in any case
    assert.are.equal(200, call("GET", DEVICES, h).status)
    r = call("GET", "/koodrive/ose/v1/nothing", bearer(random_user()))
    assert.are.equal(404, r.status)
    assert.are.same({ code = 13000309, msg = "Resource does not exist." }, r.json)
  end)

  it("accepts an app-signed request and refuses a wrong signature", function()
    local user = random_user()
    local body = '{"machineCode":"app_signed"}'
    local r = call("POST", DEVICES, app_signed("POST", DEVICES, nil, user, body), body)
    assert.are.equal(200, r.status)
    assert.are.equal("app_signed", r.json.data.machineCode)

    -- a query, sent unsorted: the server sorts it itself
    local path = "/koodrive/ose/v1/usergroups/" .. GROUP .. "/members"
    r = call("GET", path .. "?offset=0&limit=10", app_signed("GET", path, "offset=0&limit=10", user))
    assert.are.equal(200, r.status)
    assert.are.equal(0, r.json.code)

    r = call("POST", DEVICES, app_signed("POST", DEVICES, nil, user, body, "wrong-secret"), body)
    assert.are.equal(401, r.status)
    assert.are.same({ code = 401, msg = "Unauthorized" }, r.json)
    -- signed for one body, sent with another
    r = call("POST", DEVICES, app_signed("POST", DEVICES, nil, user, body), '{"machineCode":"other"}')
    assert.are.equal(401, r.status)
    -- signed for another user than the one sent
    local h = app_signed("GET", DEVICES, nil, user)
    h[3] = { "X-User-Id", random_user() }
    assert.are.equal(401, call("GET", DEVICES, h).status)
  end)

  it("refuses an X-Date 16 minutes old or in the future", function()
    for _, offset in ipairs({ -16 * 60, 120 }) do
      local r = call("GET", DEVICES, bearer(random_user(), offset))
      assert.are.equal(401, r.status)
      assert.are.equal(401, r.json.code)
      assert.truthy(r.json.msg:find("out of range"))
    end
    assert.are.equal(200, call("GET", DEVICES, bearer(random_user(), -14 * 60)).status)
  end)

  it("needs X-User-Id and X-Date", function()
    local h = bearer(random_user())
    table.remove(h, 3)
    assert.are.equal(400, call("GET", DEVICES, h).status)
    h = bearer("12345678901234567890")    -- 20 digits
    assert.are.equal(400, call("GET", DEVICES, h).status)
  end)

  it("deletes group members, reporting failures with their exact 19-digit ids", function()
    reset()
    local path = "/koodrive/ose/v1/usergroups/" .. GROUP .. "/members/batchDelete"
    -- 9223372036854775807 is not a member; as a double it would print as ...808
    local body = '{"amendModRoles":[{"userId":3432423464657862424},{"userId":9223372036854775807}]}'
    local r = call("POST", path, bearer(random_user()), body)
    assert.are.equal(200, r.status)
    assert.are.equal('{"code":0,"msg":"Success","status":1,"failedList":["9223372036854775807"]}', r.body)

    r = call("POST", path, bearer(random_user()), '{"amendModRoles":[{"userId":3432423464657862424}]}')
    assert.are.equal('{"code":0,"msg":"Success","status":2,"failedList":["3432423464657862424"]}', r.body)

    r = call("POST", path, bearer(random_user()), '{"userIds":["7000000000000000001"]}')
    assert.are.equal('{"code":0,"msg":"Success","status":0,"failedList":[]}', r.body)

    r = call("GET", "/koodrive/ose/v1/usergroups/" .. GROUP .. "/members", bearer(random_user()))
    local ids = {}
    for i, m in ipairs(r.json.userGroupMemberInfos) do ids[i] = m.userId end
    assert.are.same({ "132543141414141414" }, ids)

    for _, bad in ipairs({ '{"amendModRoles":[]}', '{"amendModRoles":[{"userId":1.5}]}',
      '{"amendModRoles":[{"userId":"12"}]}', '{"amendModRoles":[{"userId":-1}]}',
      '{"amendModRoles":[{"userId":9223372036854775808}]}', '{}', 'nope' }) do
      r = call("POST", path, bearer(random_user()), bad)
      assert.are.equal(400, r.status, bad)
      assert.are.equal(13000102, r.json.code)
    end

    r = call("POST", "/koodrive/ose/v1/usergroups/1/members/batchDelete", bearer(random_user()),
      '{"amendModRoles":[{"userId":1}]}')
    assert.are.same({ code = 13000309, msg = "Resource does not exist." }, r.json)
    reset()
  end)

  it("lists user groups", function()
    -- the groups the caller owns or is in: the seeded user owns the seeded group
    local r = call("GET", "/koodrive/ose/v1/usergroups?pageSize=10&pageCursor=&sourceType=0",
      bearer(creds.koodrive.user_id))
    assert.are.equal(GROUP, r.json.userGroupList[1].id)
    assert.are.equal(1, r.json.total)
  end)

  describe("IoTDA", function()
    local function token_headers()
      return { { "Host", host }, { "Content-Type", "application/json" }, { "X-Auth-Token", "local-iam-token" } }
    end

    local AK, SK = next(creds.iotda.aksk)

    -- AK/SK headers signed with auth.lua; scheme "sdk" or "v11"
    local function aksk_headers(scheme, method, path, body, opts)
      opts = opts or {}
      local date = auth.compact_date(os.time() + (opts.offset or 0))
      local h = { ["content-type"] = "application/json", host = host, ["x-sdk-date"] = date,
        ["instance-id"] = "1a7ffc5c-d89c-44dd-8265-b1653d951ce0" }
      local signed = { "content-type", "host", "instance-id", "x-sdk-date" }
      local creq = assert(auth.canonical_request { method = method, path = path, headers = h,
        body = body, signed = signed })
      local sk = opts.sk or SK
      local authz
      if scheme == "sdk" then
        authz = auth.sdk_authorization(AK, signed, auth.sdk_signature(sk, date, creq))
      else
        local info = auth.v11_info(date, opts.region or creds.iotda.region, creds.iotda.service)
        authz = auth.v11_authorization(AK, info, signed, auth.v11_signature(AK, sk, date, info, creq))
      end
      return { { "Host", host }, { "Content-Type", "application/json" }, { "X-Sdk-Date", date },
        { "Instance-Id", h["instance-id"] }, { "Authorization", authz } }
    end

    local function body_of(ids, ttype)
      return cjson.encode({ target_type = ttype or "device", target_ids = ids })
    end

    it("unbinds with a token, reporting every id", function()
      reset()
      local r = call("POST", POLICY_PATH .. "/unbind", token_headers(), body_of({
        "64a7ba7ef9cb063d27e16b97_123456", "64a7ba7ef9cb063d27e16b97_123457", "64a7ba7ef9cb063d27e16b97_123458" }))
      assert.are.equal(200, r.status)
      assert.are.same({
        policy_id = creds.iotda.policy_id, target_type = "device",
        success_targets = { "64a7ba7ef9cb063d27e16b97_123456", "64a7ba7ef9cb063d27e16b97_123457" },
        failure_targets = { { target_id = "64a7ba7ef9cb063d27e16b97_123458", error_code = "IOTDA.015207",
          error_msg = "Invalid input. The target does not bind the device-policy." } },
      }, r.json)
      -- an empty list is written as [], not {}
      r = call("POST", POLICY_PATH .. "/unbind", token_headers(), body_of({ "64a7ba7ef9cb063d27e16b97" }, "product"))
      assert.truthy(r.body:find('"failure_targets":[]', 1, true))
    end)

    it("binds with a token so that unbind finds the targets", function()
      local r = call("POST", POLICY_PATH .. "/bind", token_headers(), body_of({ "a_1", "a_2" }))
      assert.are.same({ "a_1", "a_2" }, r.json.success_targets)
      r = call("POST", POLICY_PATH .. "/unbind", token_headers(), body_of({ "a_2" }))
      assert.are.same({ "a_2" }, r.json.success_targets)
      assert.truthy(r.body:find('"failure_targets":[]', 1, true))
    end)

    for _, scheme in ipairs { { "sdk", "an SDK-HMAC-SHA256" }, { "v11", "a V11-HMAC-SHA256" } } do
      it("unbinds with " .. scheme[2] .. " signature", function()
        local target = scheme[1] .. "_1"
        call("POST", POLICY_PATH .. "/bind", token_headers(), body_of({ target }))
        local body = body_of({ target })
        local r = call("POST", POLICY_PATH .. "/unbind", aksk_headers(scheme[1], "POST", POLICY_PATH .. "/unbind", body),
          body)
        assert.are.equal(200, r.status)
        assert.are.same({ target }, r.json.success_targets)
      end)
    end

    it("refuses bad AK/SK signatures, stale dates and unknown tokens", function()
      local path = POLICY_PATH .. "/unbind"
      local body = body_of({ "x" })
      for _, case in ipairs({
        { "sdk", { sk = "wrong" }, "APIGW.0301" },
        { "v11", { sk = "wrong" }, "APIGW.0301" },
        { "v11", { region = "cn-east-3" }, "APIGW.0301" },
        { "sdk", { offset = -16 * 60 }, "APIGW.0303" },
        { "v11", { offset = 16 * 60 }, "APIGW.0303" },
      }) do
        local r = call("POST", path, aksk_headers(case[1], "POST", path, body, case[2]), body)
        assert.are.equal(401, r.status)
        assert.are.equal(case[3], r.json.error_code)
      end
      local r = call("POST", path, aksk_headers("sdk", "POST", path, body), body_of({ "y" }))
      assert.are.same({ error_code = "APIGW.0301",
        error_msg = "Incorrect IAM authentication information: verify aksk signature fail" }, r.json)
      r = call("POST", path, { { "Host", host } }, body)
      assert.are.equal(401, r.status)
      assert.are.equal("APIGW.0301", r.json.error_code)
      local h = token_headers()
      h[3] = { "X-Auth-Token", "nope" }
      assert.are.equal(401, call("POST", path, h, body).status)
    end)

    it("validates the body, the policy and the project", function()
      local path = POLICY_PATH .. "/unbind"
      local ids21 = {}
      for i = 1, 21 do ids21[i] = "d" .. i end
      for _, body in ipairs({ '{"target_type":"device","target_ids":[]}', body_of({ "x" }, "thing"),
        body_of(ids21), '{"target_type":"device","target_ids":[1]}', '{"target_type":"device"}', "x" }) do
        local r = call("POST", path, token_headers(), body)
        assert.are.equal(400, r.status, body)
        assert.are.same({ error_code = "IOTDA.000006", error_msg = "Invalid input data." }, r.json)
      end
      local r = call("POST", "/v5/iot/" .. creds.iotda.project_id .. "/device-policies/000000000000000000000000/unbind",
        token_headers(), body_of({ "64a7ba7ef9cb063d27e16b97" }, "product"))
      assert.are.equal(404, r.status)
      assert.are.same({ error_code = "IOTDA.015206", error_msg = "The device policy does not exist." }, r.json)
      r = call("POST", "/v5/iot/otherproject/device-policies/" .. creds.iotda.policy_id .. "/unbind",
        token_headers(), body_of({ "x" }))
      assert.are.equal(404, r.status)
      assert.truthy(r.json.error_code)
    end)
  end)

  describe("connections", function()
    it("serves two keep-alive connections open at once", function()
      local a, b = connect(port), connect(port)
      send_request(a, "GET", DEVICES, bearer(random_user()))
      send_request(b, "GET", DEVICES, bearer(random_user()))
      local rb, ra = assert(read_response(b)), assert(read_response(a))
      assert.are.same({ 200, 200 }, { ra.status, rb.status })
      assert.are.equal("keep-alive", ra.headers["connection"])
      -- both still open for more
      send_request(a, "GET", DEVICES, bearer(random_user()))
      send_request(b, "GET", DEVICES, bearer(random_user()))
      assert.are.equal(200, assert(read_response(a)).status)
      assert.are.equal(200, assert(read_response(b)).status)
      a:close(); b:close()
    end)

    it("serves several requests on one connection, pipelined too", function()
      local c = connect(port)
      local user = random_user()
      for i = 1, 3 do
        send_request(c, "POST", DEVICES, bearer(user), '{"machineCode":"m' .. i .. '"}')
        assert.are.equal("m" .. i, assert(read_response(c)).json.data.machineCode)
      end
      -- two requests written at once, answered in order
      send_request(c, "GET", DEVICES, bearer(user))
      send_request(c, "GET", DEVICES, bearer(random_user()))
      assert.are.equal(3, #assert(read_response(c)).json.data)
      assert.are.equal(0, #assert(read_response(c)).json.data)
      c:close()
    end)

    it("does not hold up another connection while one answer is delayed", function()
      local slow, fast = connect(port), connect(port)
      local h = bearer(random_user())
      h[#h + 1] = { "X-Local-Delay-Ms", "1500" }
      local t0 = socket.gettime()
      send_request(slow, "GET", DEVICES, h)
      socket.sleep(0.05)
      send_request(fast, "GET", DEVICES, bearer(random_user()))
      assert.are.equal(200, assert(read_response(fast)).status)
      local t_fast = socket.gettime() - t0
      assert.are.equal(200, assert(read_response(slow)).status)
      local t_slow = socket.gettime() - t0
      assert.is_true(t_fast < 1.0, "fast answer took " .. t_fast)
      assert.is_true(t_slow >= 1.45, "slow answer took only " .. t_slow)
      slow:close(); fast:close()
    end)

    it("closes after Connection: close and after an HTTP/1.0 request", function()
      local c = connect(port)
      local h = bearer(random_user())
      h[#h + 1] = { "Connection", "close" }
      send_request(c, "GET", DEVICES, h)
      local r = assert(read_response(c))
      assert.are.equal("close", r.headers["connection"])
      assert.is_nil((c:receive("*l")))
      c:close()

      c = connect(port)
      local lines = { "GET " .. DEVICES .. " HTTP/1.0" }
      for _, hv in ipairs(bearer(random_user())) do lines[#lines + 1] = hv[1] .. ": " .. hv[2] end
      assert(c:send(table.concat(lines, "\r\n") .. "\r\n\r\n"))
      local line = c:receive("*l")
      assert.are.equal("HTTP/1.1 200 OK", line)
      c:receive("*a")   -- reads up to the close
      c:close()
    end)

    it("answers malformed requests with 400 and keeps serving", function()
      for _, raw in ipairs({ "garbage\r\n\r\n", "GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET /x HTTP/1.1\r\n\r\n", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n" }) do
        local c = connect(port)
        assert(c:send(raw))
        local r = assert(read_response(c))
        assert.are.equal(400, r.status, raw)
        assert.truthy(r.json)
        assert.is_nil((c:receive("*l")))   -- closed
        c:close()
      end
      local c = connect(port)
      assert(c:send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10485761\r\n\r\n"))
      assert.are.equal(413, assert(read_response(c)).status)
      c:close()
      assert.are.equal(200, call("GET", DEVICES, bearer(random_user())).status)
    end)

    it("accepts a chunked body", function()
      local c = connect(port)
      local lines = { "POST " .. DEVICES .. " HTTP/1.1" }
      for _, hv in ipairs(bearer(random_user())) do lines[#lines + 1] = hv[1] .. ": " .. hv[2] end
      lines[#lines + 1] = "Transfer-Encoding: chunked"
      assert(c:send(table.concat(lines, "\r\n") .. "\r\n\r\n"
        .. "6\r\n{\"mach\r\n10\r\nineCode\":\"chunk\"\r\n1\r\n}\r\n0\r\n\r\n"))
      local r = assert(read_response(c))
      assert.are.equal("chunk", r.json.data.machineCode)
      c:close()
    end)
  end)
end)

describe("local service on nginx", function()
  local server
  setup(function() server = svc.start() end)
  teardown(function() if server then server.stop() end end)

  it("answers the reset fault with a TCP reset, not a close", function()
    local koodrive = require "koodrive"
    local c = assert(koodrive.new { endpoint = server.url, user_id = creds.koodrive.user_id,
      token = "local-token-alice", retries = false, timeout = 2 })
    assert.are.equal(200, (server.control("/_local/fault?kind=reset")))
    local devices, err = c.devices:list()
    assert.is_nil(devices)
    -- 56 is "Recv failure: Connection reset by peer"; a plain close would be 52, "Empty reply"
    assert.are.equal(56, err.curl_code, tostring(err))
    assert.is_table(assert(c.devices:list()))
  end)

  it("answers limits nginx enforces in the envelope of the path's service", function()
    local c = connect(server.port)
    send_request(c, "POST", "/v5/" .. creds.iotda.project_id .. "/x", { { "Host", "h" },
      { "Content-Length", "10485761" } })
    local r = assert(read_response(c))
    c:close()
    assert.are.equal(413, r.status)
    assert.are.equal("IOTDA.000006", r.json.error_code)
    assert.are.equal("application/json;charset=UTF-8", r.headers["content-type"])
  end)

  it("keeps the library out of the service: no require of koodrive.*, only server/ on its path", function()
    local files = sys.capture("find server -name '*.lua'")
    local n = 0
    for path in files:gmatch("[^\n]+") do
      n = n + 1
      local text = read_file(path)
      for name in text:gmatch("require%s*%(?%s*[\"']([^\"']+)[\"']") do
        assert.is_nil(name:match("^koodrive$") or name:match("^koodrive%."), path .. " requires " .. name)
      end
    end
    assert.is_true(n >= 10, files)
    local conf = require("koodrive_local.launch").conf { prefix = "/p", root = "/r", host = "127.0.0.1", port = 1 }
    local lua_path = assert(conf:match('lua_package_path "([^"]*)"'))
    assert.are.equal("/r/server/?.lua;/r/server/?/init.lua;;", lua_path)
  end)

  it("stops by itself once the process that started it is gone", function()
    -- Any Lua with LuaSocket starts the service; not the interpreter under test (under the
    -- sanitizers that one needs its runtime preloaded, which is about koodrive, not nginx).
    local lua = "lua5.4"
    local script = "local s = require('local_service').start(); io.write(s.pid, ' ', s.port, '\\n');" ..
      " io.flush(); require('socket').sleep(30)"
    local p = assert(io.popen(string.format("%s -e %s & echo $!", lua, sys.quote(script)), "r"))
    local starter = tonumber(p:read("*l"))
    local pid, port = p:read("*n", "*n")
    assert.is_number(pid)
    assert.truthy(socket.connect("127.0.0.1", port))
    os.execute("kill -9 " .. starter)
    p:close()
    local deadline = socket.gettime() + 5
    while sys.alive(pid) and socket.gettime() < deadline do socket.sleep(0.05) end
    assert.is_false(sys.alive(pid))
    assert.is_nil(socket.connect("127.0.0.1", port))
  end)
end)

describe("local_service", function()
  it("stop() ends the server and can be called twice", function()
    local s = svc.start()
    local running = io.open("/proc/" .. s.pid .. "/stat")
    assert.truthy(running)
    running:close()
    s.stop()
    s.stop()
    local f = io.open("/proc/" .. s.pid .. "/stat")
    local gone = not f or f:read("*a"):match("^%d+ %b() (%a)") == "Z"
    if f then f:close() end
    assert.is_true(gone)
    assert.is_nil(socket.connect("127.0.0.1", s.port))
  end)
end)
