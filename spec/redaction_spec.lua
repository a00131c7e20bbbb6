-- Redaction beyond the error of a call (issue 10): koodrive.secrets itself, the cassettes of
-- transport.record (credential-like values with escapes, the client's secrets in ordinary
-- fields and headers), the error of transport.replay, and what the command line prints
-- (dry runs, errors). The services are real, on 127.0.0.1 (spec/support/echo_main.lua).
local koodrive = require "koodrive"
local cli = require "koodrive.cli"
local errors = require "koodrive.errors"
local secrets = require "koodrive.secrets"
local echo = require "support.secret_echo"
local sys = require "support.sys"

local TOKEN = "Rd4/Tk+Zq8Xw==Lm3Nb7Vc6/Kj2Hg"

describe("koodrive.secrets.redact", function()
  local redact = secrets.redact
  local function clean(text, values)
    local out = redact(text, values)
    assert.is_nil(out:lower():find("rd4/tk+z", 1, true), out)
    assert.is_nil(out:lower():find("lm3nb7vc", 1, true), out)
    assert.matches("<redacted>", out, 1, true)
    return out
  end

  it("finds a value raw, in another case, JSON-escaped, percent-encoded, as HTML or base64", function()
    clean("bad " .. TOKEN .. " here", { TOKEN })
    clean("bad " .. TOKEN:upper() .. " here", { TOKEN })
    clean('{"m":"' .. TOKEN:gsub("/", "\\/") .. '"}', { TOKEN })
    clean('{"m":"\\u0052d4\\/Tk\\u002bZq8Xw==Lm3Nb7Vc6\\/Kj2Hg"}', { TOKEN })
    clean("state=" .. TOKEN:gsub("[/+=]", function(c) return ("%%%02x"):format(c:byte()) end), { TOKEN })
    clean("<p>" .. TOKEN:gsub("/", "&#47;"):gsub("%+", "&#x2B;") .. "</p>", { TOKEN })
    local b64 = "UmQ0L1RrK1pxOFh3PT1MbTNOYjdWYzYvS2oySGc="
    local out = redact("basic " .. b64, { TOKEN })
    assert.is_nil(out:find("UmQ0L1RrK1pxOFh3", 1, true), out)
  end)

  it("takes out 8 characters of a value or more: a secret cut short", function()
    clean("... upstream saw Rd4/Tk+Zq8", { TOKEN })
    clean("Lm3Nb7Vc6/Kj2Hg was the rest", { TOKEN })
    assert.are.equal("keeps Rd4/Tk+ alone", redact("keeps Rd4/Tk+ alone", { TOKEN }))
  end)

  it("takes a request's signature and token out, not the words around them", function()
    local values = secrets.values(nil, { headers = {
      Authorization = "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=content-type;host;x-sdk-date, " ..
        "Signature=abcdef0123456789", ["x-auth-token"] = "Bearer MIIiam0123456789" } })
    assert.are.equal("missing x-sdk-date for SDK-HMAC-SHA256: <redacted>, <redacted>",
      secrets.redact("missing x-sdk-date for SDK-HMAC-SHA256: abcdef0123456789, miiIAM0123456789", values))
  end)

  it("redact_value copies a decoded value with every string redacted, keys and deep levels too", function()
    local deep = {}
    local cur = deep
    for _ = 1, 20 do cur.n = {}; cur = cur.n end
    cur.v = TOKEN
    local out = secrets.redact_value({ msg = "x " .. TOKEN, [TOKEN] = { 1, TOKEN }, deep = deep }, { TOKEN })
    assert.are.equal("x <redacted>", out.msg)
    assert.are.same({ 1, "<redacted>" }, out["<redacted>"])
    assert.is_nil(require("cjson").encode(out):find("Lm3Nb7Vc", 1, true))
  end)

  it("takes out credential-like pieces whatever their value", function()
    local out = redact('Bearer abcDEF123456ghiJKL and ?x=1&access_token=q1w2e3r4&y=2 ' ..
      '{"pass\\u0077ord": "pa\\/ss-value", "sk": 12345678, "name": "kept"} X-Auth-Token: MIIxyz0123456789abc')
    assert.are.equal('Bearer <redacted> and ?x=1&access_token=<redacted>&y=2 ' ..
      '{"pass\\u0077ord": "<redacted>", "sk": <redacted>, "name": "kept"} X-Auth-Token: <redacted>', out)
    -- Words are not tokens.
    assert.are.equal("Bearer authentication failed", redact("Bearer authentication failed"))
  end)
end)

describe("errors.printable", function()
  it("shows C0, DEL, C1 and the line and direction controls as escapes; keeps UTF-8", function()
    assert.are.equal("a\\r\\nb\\x1b[31m\\t\\x00\\x7f", errors.printable("a\r\nb\27[31m\t\0\127"))
    assert.are.equal("x\\u009by \\x9b \\u2028 \\u202e é ✓", errors.printable("x\194\155y \155 \226\128\168 \226\128\174 é ✓"))
    assert.are.equal("12", errors.printable(12))
  end)
end)

describe("transport.record", function()
  local server, dir
  setup(function()
    server = echo.start { TOKEN }
    dir = os.tmpname()
    os.remove(dir)
    sys.run("mkdir -p " .. sys.quote(dir))
  end)
  teardown(function()
    server.stop()
    sys.run("rm -rf " .. sys.quote(dir))
  end)

  it("scrubs credential values that hold escapes, and the client's secrets in any field", function()
    local path = dir .. "/record.json"
    local client = assert(koodrive.new { endpoint = server.url, user_id = "1", token = TOKEN, retries = false,
      transport = koodrive.transport.record(koodrive.transport.curl(), path) })
    client:call { method = "POST", path = "/echo/msg", query = { api_key = "Qk9/Api+Key=Zx12Cv34", note = TOKEN },
      body = '{"password":"pa\\/ss-Secret-Val1","comment":"' .. TOKEN:gsub("/", "\\/") .. '"}' }
    client:close()
    local text = assert(sys.read(path))
    for _, fragment in ipairs { "Qk9/Api+", "Qk9%2FApi", "ss-Secret-Val1", "Rd4/Tk+Z", "Rd4\\\\\\/Tk",
      "Rd4%2FTk", "Lm3Nb7Vc" } do
      assert.is_nil(text:find(fragment, 1, true), fragment .. " in " .. text)
    end
    assert.matches('password\\":\\"<redacted>', text, 1, true)
  end)

  it("a scrubbed cassette plays back: <redacted> matches what is sent", function()
    local path = dir .. "/roundtrip.json"
    local function call(transport)
      local client = assert(koodrive.new { endpoint = server.url, user_id = "1", token = TOKEN, retries = false,
        transport = transport })
      local _, err = client:call { method = "POST", path = "/echo/msg", query = { api_key = "Qk9/Api+Key=Zx12Cv34" },
        body = '{"password":"pa\\/ss-Secret-Val1"}' }
      client:close()
      return err
    end
    local live = call(koodrive.transport.record(koodrive.transport.curl(), path))
    local replayed = call(koodrive.transport.replay(path))
    assert.are.equal(live.kind, replayed.kind)
    assert.are.equal(400, replayed.status)
    assert.are.equal(live.message, replayed.message)
  end)

  it("replay's error for an unmatched request keeps its secrets out", function()
    local client = assert(koodrive.new { endpoint = server.url, user_id = "1", token = TOKEN, retries = false,
      transport = koodrive.transport.replay { interactions = {} } })
    local ok, why = pcall(client.call, client, { method = "GET", path = "/x",
      query = { access_token = "Qy7/Url+Secret=Ab12Cd34", state = TOKEN } })
    assert.is_false(ok)
    why = tostring(why)
    assert.matches("no recorded interaction", why, 1, true)
    for _, fragment in ipairs { "Qy7%2FUrl", "Ab12Cd34", "Rd4%2FTk", "Lm3Nb7Vc" } do
      assert.is_nil(why:find(fragment, 1, true), fragment .. " in " .. why)
    end
  end)
end)

describe("the command line", function()
  local server
  setup(function() server = echo.start { TOKEN } end)
  teardown(function() server.stop() end)

  local function run(argv)
    local out, err = {}, {}
    local env = { KOODRIVE_ENDPOINT = server.url, KOODRIVE_USER_ID = "1", KOODRIVE_TOKEN = TOKEN,
      HOME = "/nonexistent" }
    local code = cli.main(argv, { out = function(s) out[#out + 1] = s end, err = function(s) err[#err + 1] = s end,
      getenv = function(name) return env[name] end })
    return code, table.concat(out), table.concat(err)
  end

  it("a dry run keeps the token out of the URL where it is percent-encoded", function()
    local code, out, err = run { "call", "GET", "/x", "--query", "state=" .. TOKEN, "--dry-run" }
    assert.are.equal(0, code, err)
    assert.matches("GET " .. server.url .. "/x?state=<redacted>", out, 1, true)
    assert.is_nil(out:find("Rd4%2FTk", 1, true), out)
    assert.is_nil(out:find("Lm3Nb7Vc", 1, true), out)
  end)

  it("an error the service echoes is printed on one line, without the token", function()
    local code, out, err = run { "call", "GET", "/echo/control" }
    assert.are.equal(5, code, out .. err)
    assert.matches("forged line\\x1b[31m", err, 1, true)
    assert.is_nil(err:sub(1, -2):find("[\r\n\27]"), err)
    assert.is_nil(err:lower():find("rd4/tk+z", 1, true), err)
    assert.is_nil(err:find("Lm3Nb7Vc", 1, true), err)
  end)
end)
