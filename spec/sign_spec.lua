-- Specs for the C signer (src/sign.c): every known-answer vector of spec/fixtures/vectors.json
-- for the three schemes, then the encoders, the refusals and the small primitives.
local cjson = require "cjson"
local core = require "koodrive.sign" -- the signing module also has the encoders

local function load_vectors()
  local f = assert(io.open("spec/fixtures/vectors.json", "rb"))
  local text = f:read("*a")
  f:close()
  return cjson.new().decode(text)
end

local vectors = load_vectors()

-- The request table core.sign expects, from one vector of a group.
local function request_for(group, v)
  local req = {
    method = v.method,
    path = v.path,
    query = {},
    headers = {},
    body = v.body,
  }
  for i, pair in ipairs(v.query) do
    req.query[i] = { pair[1], pair[2] }
  end
  for name, value in pairs(v.headers) do
    req.headers[name] = value
  end
  if group == "koodrive_app" then
    req.scheme, req.key_id, req.secret = "HMAC-SHA256", v.app_id, v.app_secret
  elseif group == "sdk_hmac_sha256" then
    req.scheme, req.key_id, req.secret = "SDK-HMAC-SHA256", v.ak, v.sk
  else
    req.scheme, req.key_id, req.secret = "V11-HMAC-SHA256", v.ak, v.sk
    req.region, req.service = v.region, v.service
  end
  return req
end

local APP_HEADERS = {
  Host = "cn.myhuaweicloud-koodrive.com",
  ["X-Date"] = "20240909T033325Z",
  ["X-User-Id"] = "1505084218764547200",
}

local function app_request(headers)
  return {
    scheme = "HMAC-SHA256", method = "GET", path = "/koodrive/ose/v1/backup/device",
    key_id = "app", secret = "secret", headers = headers,
  }
end

local function sdk_request(headers, scheme)
  return {
    scheme = scheme or "SDK-HMAC-SHA256", method = "POST", path = "/v5/iot/p/devices",
    key_id = "AccessKey", secret = "SecretKey", region = "cn-north-4", service = "iotdm",
    headers = headers, body = '{"a":1}',
  }
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

describe("core.sign known-answer vectors", function()
  for _, group in ipairs({ "koodrive_app", "sdk_hmac_sha256", "v11_hmac_sha256" }) do
    assert(#vectors[group] > 0, "no vectors for " .. group)
    for _, v in ipairs(vectors[group]) do
      it(group .. ": " .. v.name, function()
        local result, err = core.sign(request_for(group, v))
        assert.is_nil(err)
        assert.are.equal(v.canonical_request, result.canonical_request)
        assert.are.equal(v.string_to_sign, result.string_to_sign)
        assert.are.equal(v.authorization, result.authorization)
        if v.signed_headers then
          assert.are.equal(table.concat(v.signed_headers, ";"), result.signed_headers)
        else
          assert.are.equal("host;x-date;x-user-id", result.signed_headers)
        end
        -- What is sent is what was signed: the canonical URI minus its appended slash,
        -- and the canonical query line itself.
        local uri, query = result.canonical_request:match("^[^\n]*\n([^\n]*)\n([^\n]*)\n")
        assert.are.equal(core.encode_path(v.path), result.path)
        assert.is_truthy(uri == result.path or uri == result.path .. "/")
        assert.are.equal(query, result.query)
      end)
    end
  end
end)

describe("core.sign", function()
  it("upper-cases the method and returns the path and query to send", function()
    local req = app_request(copy(APP_HEADERS))
    req.method, req.path, req.query = "get", "/a b/c", { { "z", "1" }, { "a", "x y" } }
    local r = assert(core.sign(req))
    local head = "GET\n/a%20b/c/\na=x%20y&z=1\n"
    assert.are.equal(head, r.canonical_request:sub(1, #head))
    assert.are.equal("/a%20b/c", r.path)
    assert.are.equal("a=x%20y&z=1", r.query)
  end)

  it("ignores headers other than host, x-date and x-user-id for HMAC-SHA256", function()
    local base = assert(core.sign(app_request(copy(APP_HEADERS))))
    local headers = copy(APP_HEADERS)
    headers["Content-Type"] = "application/json"
    headers["X-Extra"] = "1"
    local r = assert(core.sign(app_request(headers)))
    assert.are.equal(base.authorization, r.authorization)
    assert.are.equal("host;x-date;x-user-id", r.signed_headers)
  end)

  it("matches header names in any case and trims values", function()
    local base = assert(core.sign(app_request(copy(APP_HEADERS))))
    local r = assert(core.sign(app_request({
      HOST = " cn.myhuaweicloud-koodrive.com\t",
      ["x-date"] = "20240909T033325Z ",
      ["x-USER-id"] = "\t1505084218764547200",
    })))
    assert.are.equal(base.canonical_request, r.canonical_request)
    assert.are.equal(base.authorization, r.authorization)
  end)

  it("refuses a CR or LF in any header value, naming the header", function()
    for _, bad in ipairs({ "a\r\nInjected: 1", "a\nb", "a\rb" }) do
      local headers = copy(APP_HEADERS)
      headers["X-Note"] = bad -- not even signed under HMAC-SHA256
      local r, err = core.sign(app_request(headers))
      assert.is_nil(r)
      assert.are.equal("header 'X-Note' contains CR or LF", err)
    end
    local headers = { ["X-Sdk-Date"] = "20251103T070140Z\r\n" }
    local r, err = core.sign(sdk_request(headers))
    assert.is_nil(r)
    assert.are.equal("header 'X-Sdk-Date' contains CR or LF", err)
  end)

  it("refuses a missing host, x-date or x-user-id for HMAC-SHA256", function()
    for name in pairs(APP_HEADERS) do
      local headers = copy(APP_HEADERS)
      headers[name] = nil
      local r, err = core.sign(app_request(headers))
      assert.is_nil(r)
      assert.are.equal("missing header '" .. name .. "'", err)
    end
    local r, err = core.sign(app_request(nil))
    assert.is_nil(r)
    assert.are.equal("missing header 'Host'", err)
  end)

  it("refuses a missing X-Sdk-Date for SDK-HMAC-SHA256 and V11-HMAC-SHA256", function()
    for _, scheme in ipairs({ "SDK-HMAC-SHA256", "V11-HMAC-SHA256" }) do
      local r, err = core.sign(sdk_request({ Host = "h" }, scheme))
      assert.is_nil(r)
      assert.are.equal("missing header 'X-Sdk-Date'", err)
    end
    local r, err = core.sign(sdk_request({ ["X-Sdk-Date"] = "2025" }, "V11-HMAC-SHA256"))
    assert.is_nil(r)
    assert.matches("X%-Sdk%-Date", err)
  end)

  it("refuses header names that are equal ignoring case, or not tokens", function()
    local headers = copy(APP_HEADERS)
    headers["x-date"] = "20240909T033325Z"
    local r, err = core.sign(app_request(headers))
    assert.is_nil(r)
    assert.matches("differ only in case", err)
    headers = copy(APP_HEADERS)
    headers["Bad Name"] = "1"
    r, err = core.sign(app_request(headers))
    assert.is_nil(r)
    assert.are.equal("invalid header name 'Bad Name'", err)
  end)

  it("uses UNSIGNED-PAYLOAD in place of the body hash when asked", function()
    local headers = { Host = "h", ["X-Sdk-Date"] = "20251103T070140Z",
                      ["x-sdk-content-sha256"] = "UNSIGNED-PAYLOAD" }
    for _, scheme in ipairs({ "SDK-HMAC-SHA256", "V11-HMAC-SHA256" }) do
      local r = assert(core.sign(sdk_request(headers, scheme)))
      assert.are.equal("\nUNSIGNED-PAYLOAD", r.canonical_request:sub(-17))
      assert.are.equal("host;x-sdk-content-sha256;x-sdk-date", r.signed_headers)
    end
    local r = assert(core.sign(sdk_request({ Host = "h", ["X-Sdk-Date"] = "20251103T070140Z" })))
    assert.are.equal("\n" .. core.sha256_hex('{"a":1}'), r.canonical_request:sub(-65))
  end)

  it("does not sign headers with '_' in their name under SDK-HMAC-SHA256", function()
    local base = assert(core.sign(sdk_request({ Host = "h", ["X-Sdk-Date"] = "20251103T070140Z" })))
    local r = assert(core.sign(sdk_request({
      Host = "h", ["X-Sdk-Date"] = "20251103T070140Z", ["X_Custom_Header"] = "v",
    })))
    assert.are.equal("host;x-sdk-date", r.signed_headers)
    assert.are.equal(base.authorization, r.authorization)
    assert.is_nil(r.canonical_request:find("x_custom_header", 1, true))
  end)

  -- `unsigned`: what an auth profile says stays out of the signature (IoTDA: Accept and
  -- User-Agent). Before it, the profile took those headers away and put them back around the call.
  it("leaves the headers named in `unsigned` out of the signature, in any case", function()
    local date = "20251103T070140Z"
    for _, scheme in ipairs { "SDK-HMAC-SHA256", "V11-HMAC-SHA256" } do
      local base = assert(core.sign(sdk_request({ Host = "h", ["X-Sdk-Date"] = date }, scheme)))
      local req = sdk_request({ Host = "h", ["X-Sdk-Date"] = date, Accept = "application/json",
        ["USER-AGENT"] = "koodrive-lua/x" }, scheme)
      req.unsigned = { "accept", "User-Agent" }
      local r = assert(core.sign(req))
      assert.are.equal("host;x-sdk-date", r.signed_headers)
      assert.are.equal(base.canonical_request, r.canonical_request)
      assert.are.equal(base.authorization, r.authorization)
      -- Without the list both are signed, so the list is what made the difference.
      req.unsigned = nil
      assert.are.equal("accept;host;user-agent;x-sdk-date", assert(core.sign(req)).signed_headers)
    end
    local app = app_request(copy(APP_HEADERS))
    app.unsigned = { "X-USER-ID" }
    assert.are.equal("host;x-date", assert(core.sign(app)).signed_headers)
  end)

  it("still refuses a CR or LF in an unsigned header, and a bad `unsigned` field", function()
    local req = sdk_request({ Host = "h", ["X-Sdk-Date"] = "20251103T070140Z", Accept = "a\r\nX: y" })
    req.unsigned = { "accept" }
    local r, err = core.sign(req)
    assert.is_nil(r)
    assert.matches("header 'Accept' contains CR or LF", err)
    for _, bad in ipairs { "accept", { 1 }, { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k",
      "l", "m", "n", "o", "p", "q" } } do
      req = sdk_request({ Host = "h", ["X-Sdk-Date"] = "20251103T070140Z" })
      req.unsigned = bad
      local ok, msg = pcall(core.sign, req)
      assert.is_false(ok)
      assert.matches("field 'unsigned'", msg)
    end
  end)

  it("signs every other header under SDK-HMAC-SHA256, lowercased and sorted", function()
    local r = assert(core.sign(sdk_request({
      ["X-Sdk-Date"] = "20251103T070140Z", ["Instance-Id"] = "i", Host = "h",
      ["Content-Type"] = "application/json", ["X-Project-Id"] = "p",
    })))
    assert.are.equal("content-type;host;instance-id;x-project-id;x-sdk-date", r.signed_headers)
  end)

  it("takes many headers and query pairs", function()
    local headers = { ["X-Sdk-Date"] = "20251103T070140Z" }
    local query, expect = {}, {}
    for i = 1, 40 do
      headers[string.format("X-H%02d", i)] = tostring(i)
      query[#query + 1] = { string.format("k%02d", 41 - i), tostring(i) }
      expect[#expect + 1] = string.format("k%02d=%d", i, 41 - i)
    end
    local req = sdk_request(headers)
    req.query = query
    local r = assert(core.sign(req))
    assert.are.equal(table.concat(expect, "&"), r.query)
    assert.are.equal(41, select(2, r.signed_headers:gsub(";", "")) + 1)
  end)

  it("accepts numbers in query pairs, converted like tostring", function()
    local req = app_request(copy(APP_HEADERS))
    req.query = { { "pageSize", 100 }, { "n", 1.5 } }
    local r = assert(core.sign(req))
    assert.are.equal("n=1.5&pageSize=100", r.query)
  end)

  it("gives the same answers whatever was signed before (key reuse)", function()
    -- The signer remembers the last HMAC key and V11 key: alternate credentials and scopes.
    local reqs, first = {}, {}
    for _, group in ipairs({ "koodrive_app", "sdk_hmac_sha256", "v11_hmac_sha256" }) do
      for _, v in ipairs(vectors[group]) do
        reqs[#reqs + 1] = request_for(group, v)
        first[#first + 1] = v.authorization
      end
    end
    local long = sdk_request({ ["X-Sdk-Date"] = "20251103T070140Z" }, "V11-HMAC-SHA256")
    long.region = string.rep("r", 300) -- too long to be remembered
    local long_auth = assert(core.sign(long)).authorization
    for round = 1, 3 do
      for i = #reqs, 1, -1 do
        assert.are.equal(first[i], assert(core.sign(reqs[i])).authorization)
        if i % 3 == round - 1 then
          assert.are.equal(long_auth, assert(core.sign(long)).authorization)
        end
      end
    end
  end)

  it("derives a new V11 key when the SK or AK changes, not only the scope", function()
    local function signature(req)
      return assert(core.sign(req)).authorization:match("Signature=(%x+)$")
    end
    local req = sdk_request({ ["X-Sdk-Date"] = "20251103T070140Z" }, "V11-HMAC-SHA256")
    local base = signature(req)
    req.secret = "SecretKeY" -- same lengths: the cache must compare bytes
    local other_sk = signature(req)
    req.secret, req.key_id = "SecretKey", "AccessKeY"
    local other_ak = signature(req)
    req.key_id = "AccessKey"
    assert.are.equal(base, signature(req))
    assert.are_not.equal(base, other_sk)
    assert.are_not.equal(base, other_ak)
    assert.are_not.equal(other_sk, other_ak)
  end)

  it("raises on misuse", function()
    local function good() return app_request(copy(APP_HEADERS)) end
    assert.has_error(function() core.sign() end)
    assert.has_error(function() core.sign("req") end)
    local cases = {
      { "scheme", "HMAC-SHA1" }, { "scheme", nil }, { "method", nil }, { "method", 1 },
      { "method", "GE T" }, { "path", nil }, { "path", "relative" }, { "path", "" },
      { "key_id", nil }, { "key_id", "" }, { "key_id", "a\nb" }, { "secret", nil },
      { "secret", {} }, { "body", 12 }, { "headers", "Host: x" }, { "query", "a=b" },
      { "query", { "a", "b" } }, { "query", { { "a" } } }, { "query", { { "a", true } } },
      { "query", { { {}, "b" } } },
    }
    for _, case in ipairs(cases) do
      local req = good()
      req[case[1]] = case[2]
      assert.has_error(function() core.sign(req) end, nil, case[1])
    end
    local req = good()
    req.headers["X-Number"] = 1
    assert.has_error(function() core.sign(req) end)
    req = good()
    req.headers[1] = "x"
    assert.has_error(function() core.sign(req) end)
    -- V11 needs its scope.
    req = sdk_request({ ["X-Sdk-Date"] = "20251103T070140Z" }, "V11-HMAC-SHA256")
    req.region = nil
    assert.has_error(function() core.sign(req) end)
    req = sdk_request({ ["X-Sdk-Date"] = "20251103T070140Z" }, "V11-HMAC-SHA256")
    req.service = nil
    assert.has_error(function() core.sign(req) end)
  end)

  it("names the problem in its errors", function()
    local req = app_request(copy(APP_HEADERS))
    req.scheme = "HMAC-SHA1"
    local ok, err = pcall(core.sign, req)
    assert.is_false(ok)
    assert.matches("unknown scheme 'HMAC%-SHA1'", err)
  end)
end)

describe("core.encode_path", function()
  it("percent-encodes each segment", function()
    assert.are.equal("/a%20b/c", core.encode_path("/a b/c"))
  end)
  it("decodes then re-encodes, so %2F stays inside its segment", function()
    assert.are.equal("/a%2Fb/c", core.encode_path("/a%2Fb/c"))
    assert.are.equal("/a%2Fb", core.encode_path("/a%2fb"))
    assert.are.equal("/a%20b", core.encode_path("/a%20b"))
    assert.are.equal("/a-b", core.encode_path("/a%2Db"))
  end)
  it("encodes UTF-8 bytes with uppercase hex", function()
    assert.are.equal("/%E4%B8%80/%C3%A9", core.encode_path("/一/é"))
  end)
  it("keeps the unreserved set literal", function()
    assert.are.equal("/AZaz09~-._", core.encode_path("/AZaz09~-._"))
    assert.are.equal("/%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%3F%23%5B%5D",
      core.encode_path("/!*'();:@&=+$,?#[]"))
  end)
  it("takes a stray % literally", function()
    assert.are.equal("/a%25zz/%25", core.encode_path("/a%zz/%"))
  end)
  it("does not append a trailing slash", function()
    assert.are.equal("/a/b", core.encode_path("/a/b"))
    assert.are.equal("/a/b/", core.encode_path("/a/b/"))
    assert.are.equal("/", core.encode_path("/"))
  end)
  it("raises on a non-string or relative path", function()
    assert.has_error(function() core.encode_path() end)
    assert.has_error(function() core.encode_path({}) end)
    assert.has_error(function() core.encode_path("a/b") end)
  end)
end)

describe("core.encode_query", function()
  it("sorts by raw name then raw value, before encoding", function()
    local q = { { "ka", "1" }, { "k{", "2" }, { "k一", "3" }, { "k ", "4" }, { "ka", "0" } }
    assert.are.equal("k%20=4&ka=0&ka=1&k%7B=2&k%E4%B8%80=3", core.encode_query(q))
  end)
  it("puts a shorter prefix first", function()
    local q = { { "ab", "1" }, { "b", "0" }, { "a", "2" }, { "b", "" } }
    assert.are.equal("a=2&ab=1&b=&b=0", core.encode_query(q))
  end)
  it("encodes a space as %20, never +", function()
    assert.are.equal("q=a%20b%2Bc", core.encode_query({ { "q", "a b+c" } }))
  end)
  it("writes name= for an empty value", function()
    assert.are.equal("k=", core.encode_query({ { "k", "" } }))
  end)
  it("gives an empty string for no pairs", function()
    assert.are.equal("", core.encode_query({}))
    assert.are.equal("", core.encode_query(nil))
  end)
  it("raises on entries that are not pairs of strings", function()
    assert.has_error(function() core.encode_query("a=b") end)
    assert.has_error(function() core.encode_query({ "a" }) end)
    assert.has_error(function() core.encode_query({ { "a" } }) end)
    assert.has_error(function() core.encode_query({ { "a", false } }) end)
  end)
end)

describe("core.utc_stamp", function()
  it("formats the epoch", function()
    assert.are.equal("19700101T000000Z", core.utc_stamp(0))
  end)
  it("formats a known time, flooring fractions", function()
    local t = 1762153300
    assert.are.equal(os.date("!%Y%m%dT%H%M%SZ", t), core.utc_stamp(t))
    assert.are.equal("20251103T070140Z", core.utc_stamp(t))
    assert.are.equal("20251103T070140Z", core.utc_stamp(t + 0.999))
  end)
  it("raises on negative, absurd or non-numeric times", function()
    assert.has_error(function() core.utc_stamp(-1) end)
    assert.has_error(function() core.utc_stamp(1e300) end)
    assert.has_error(function() core.utc_stamp(0 / 0) end)
    assert.has_error(function() core.utc_stamp(math.huge) end)
    assert.has_error(function() core.utc_stamp("soon") end)
    assert.has_error(function() core.utc_stamp() end)
  end)
end)

describe("hash primitives", function()
  it("sha256_hex", function()
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      core.sha256_hex(""))
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      core.sha256_hex("abc"))
    assert.has_error(function() core.sha256_hex() end)
  end)
  it("hmac_sha256_hex (RFC 4231 test case 2)", function()
    assert.are.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      core.hmac_sha256_hex("Jefe", "what do ya want for nothing?"))
  end)
  it("hmac_sha256_hex with an empty key does not reuse the previous key", function()
    core.hmac_sha256_hex("Jefe", "x")
    assert.are.equal("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
      core.hmac_sha256_hex("", ""))
    assert.has_error(function() core.hmac_sha256_hex("k") end)
  end)
  it("hmac_sha256_hex with a key longer than a block (RFC 4231 test case 6), twice", function()
    local key = string.rep("\170", 131)
    local data = "Test Using Larger Than Block-Size Key - Hash Key First"
    local mac = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    assert.are.equal(mac, core.hmac_sha256_hex(key, data))
    assert.are.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      core.hmac_sha256_hex("Jefe", "what do ya want for nothing?"))
    assert.are.equal(mac, core.hmac_sha256_hex(key, data))
  end)
end)
