-- Regressions: what `make fuzz` and `make check-asan` found, each with the input that showed it,
-- through the public API on every interpreter. The fuzz inputs themselves are also kept as seeds
-- (fuzz/corpus/<target>/regression-*), so every fuzz run replays them first.
local core = require "koodrive.core"
local sign = require "koodrive.sign"
local json = require "koodrive.json"
local cjson = require("cjson").new()

local LUA = "lua5.4" -- runs the one-shot HTTP server below (LuaSocket), as for the local service

describe("regression: quote_long_integers (fuzz target json_quote)", function()
  -- lua-cjson also reads 0x1F, +1, inf and nan(...) as numbers. The quoting used to scan only
  -- from '-' or a digit, so it quoted the digits inside such a token: "[0x12345678901234567]"
  -- became "[0x\"12345678901234567\"]", which cjson refuses although it took the original.
  -- json.decode no longer goes through cjson: such tokens are not JSON numbers (RFC 8259; the
  -- contract: "Bodies are JSON"), and the strict reader refuses them instead of guessing.
  for _, text in ipairs {
    "[0x12345678901234567]", "[+12345678901234567]", "[-0x12345678901234567]",
    '{"a":0x12345678901234567,"b":[+12345678901234567]}',
  } do
    it("leaves a number cjson accepts alone when it is no plain integer: " .. text, function()
      assert.are.equal(text, core.quote_long_integers(text))
      assert.is_table(cjson.decode(text))
      local got, err = json.decode(text)
      assert.is_nil(got)
      assert.is_string(err)
    end)
  end

  it("still quotes plain long integers next to such tokens", function()
    assert.are.equal('["12345678901234567",0x1F,"-98765432109876543",+1]',
      core.quote_long_integers("[12345678901234567,0x1F,-98765432109876543,+1]"))
    local v = assert(json.decode("[12345678901234567, 31]"))
    assert.are.equal("12345678901234567", v[1])
    assert.are.equal(31, v[2])
  end)

  it("ends a literal at NUL, where cjson stops reading", function()
    assert.are.equal('["12345678901234567"\0]', core.quote_long_integers("[12345678901234567\0]"))
  end)

  it("stops at the end of a text that ends inside a string escape", function()
    assert.are.equal('["ab\\', core.quote_long_integers('["ab\\'))
    assert.is_nil((json.decode('["ab\\')))
  end)
end)

describe("regression: core.sign V11 scope (fuzz target sign)", function()
  -- Region and service go into the HKDF info; past OpenSSL's cap (32 KiB here) the derivation
  -- failed and sign raised "koodrive: HKDF-SHA256 failed". Now an argument error, before any
  -- crypto, at a documented 500 bytes each.
  local function v11(region, service)
    return { scheme = "V11-HMAC-SHA256", method = "GET", path = "/v5/iot/p/devices", key_id = "AK",
      secret = "SK", region = region, service = service or "iotdm",
      headers = { ["X-Sdk-Date"] = "20251217T093000Z" } }
  end

  it("refuses a region or service over 500 bytes as a bad argument", function()
    for _, req in ipairs { v11(("r"):rep(33000)), v11(("r"):rep(501)), v11("cn-north-4", ("s"):rep(501)) } do
      local ok, err = pcall(sign.sign, req)
      assert.is_false(ok)
      assert.matches("bad argument #1", err, 1, true)
      assert.matches("at most 500 bytes", err, 1, true)
    end
  end)

  it("signs with 500 bytes each", function()
    local r = assert(sign.sign(v11(("r"):rep(500), ("s"):rep(500))))
    assert.matches("^V11%-HMAC%-SHA256 Credential=AK/20251217/" .. ("r"):rep(500) .. "/", r.authorization)
  end)
end)

describe("regression: response header block (fuzz target headers)", function()
  -- The empty block (fuzz/corpus/headers/regression-empty-block) made the header parser (then
  -- kd_transfer_push_headers in transfer.c, later kd_headers_push in headers.c) compute
  -- NULL + 0 on a buffer that never received a byte (UBSan: undefined behaviour). Headers now
  -- come from libcurl's header API; kd_headers_push splits the packed form, and a response
  -- without header lines packs to nothing, the nearest a real transfer gets to that input.
  local function serve_once(raw)
    local script = os.tmpname()
    local f = assert(io.open(script, "wb"))
    f:write([[
local socket = require "socket"
local s = assert(socket.bind("127.0.0.1", 0))
local _, port = s:getsockname()
print(port)
io.stdout:flush()
s:settimeout(10)
local c = s:accept()
if c then
  c:settimeout(10)
  repeat local line = c:receive("*l") until not line or line == ""
  c:send(]] .. string.format("%q", raw) .. [[)
  c:close()
end
]])
    f:close()
    local p = assert(io.popen(LUA .. " " .. script, "r"))
    local port = tonumber(p:read("*l"))
    return port, function() p:close() os.remove(script) end
  end

  -- One GET through a fresh libcurl handle to a server answering `raw`; the response table.
  local function exchange(raw)
    local port, done = serve_once(raw)
    assert.is_number(port)
    local h = require("koodrive.curl").http()
    local res, kind, msg = h:perform { method = "GET", url = "http://127.0.0.1:" .. port .. "/", timeout = 10,
      max_body = 8388608 }
    h:close()
    done()
    assert.is_table(res, tostring(kind) .. ": " .. tostring(msg))
    return res
  end

  it("gives no headers for a response with only a status line", function()
    local res = exchange("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    assert.are.equal(200, res.status)
    assert.are.same({ connection = "close" }, res.headers)
  end)

  it("gives an empty table when the block has no header line at all", function()
    local res = exchange("HTTP/1.0 204 No Content\r\n\r\n")
    assert.are.equal(204, res.status)
    assert.are.same({}, res.headers)
  end)

  -- The hand-written parser took each line on its own: an obsolete folded continuation
  -- (a line starting with a blank) without a ":" was dropped, so "X-Long" lost all but its
  -- first line; one with a ":" became a header named by its leading blanks. libcurl unfolds
  -- them into the header they continue (it keeps one blank of each), as the ngx transport does.
  it("keeps the continuation lines of a folded header in its value", function()
    local res = exchange("HTTP/1.1 200 OK\r\nX-Long: part1\r\n  part2\r\n\tpart3: x\r\nContent-Length: 0\r\n\r\n")
    assert.are.equal(200, res.status)
    assert.matches("^part1[ \t]+part2[ \t]+part3: x$", res.headers["x-long"])
    assert.are.same({ "content-length", "x-long" }, (function()
      local names = {}
      for name in pairs(res.headers) do names[#names + 1] = name end
      table.sort(names)
      return names
    end)())
  end)
end)

describe("regression: koodrive.json writes 15-16 digit integers (fuzz target json_encode)", function()
  -- json.lua marked only integers beyond 2^53 for exact writing; cjson writes the rest with 14
  -- significant digits, so 123456789012345 went out as 1.2345678901234e+14 (= ...340) and
  -- 2^53 as 9.007199254741e+15. Now every whole number from 10^14 on is written exactly.
  it("writes them digit for digit", function()
    assert.are.equal("[123456789012345]", json.encode({ 123456789012345 }))
    assert.are.equal("[9007199254740992]", json.encode({ 9007199254740992 }))
    assert.are.equal('{"n":-1234567890123456}', json.encode({ n = -1234567890123456 }))
    assert.are.equal("[99999999999999]", json.encode({ 99999999999999 }))
  end)

  it("leaves fractions and small numbers to cjson", function()
    assert.are.equal("[0.5,42,-7]", json.encode({ 0.5, 42, -7 }))
  end)
end)
