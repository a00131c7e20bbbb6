-- Secrets stay secret, logs stay honest (issue 10): a real service on 127.0.0.1
-- (spec/support/echo_main.lua) echoes the caller's credentials back in every way a server
-- can (msg, code, X-Request-Id, an HTML page, JSON-escaped `\/` and `\u00xx`, percent-
-- encoded, across byte 200 of a body, cut short by the service itself), for each auth mode.
-- No secret, nor 8 characters of one, may reach err.msg, err.code, err.request_id,
-- err.message, tostring(err), err.history, a logger record or a cassette of
-- transport.record; and CR, LF and ESC from the server never appear raw where text is shown.
local koodrive = require "koodrive"
local json = require "koodrive.json"
local echo = require "support.secret_echo"
local sys = require "support.sys"

local unpack = table.unpack or unpack -- 5.1 and LuaJIT: the global

-- Each secret has '/', '+' and '=' (escaped differently by JSON, URLs and HTML) and mixed case.
local S = {
  token = "TkN/aB+9xYz1Qw==RtY7uIoP/as0dF3gH",
  app_secret = "AppS3cr3t/Zq+Lm8Nb7Vc6Xx5Kj4Hg3Fd2",
  sk = "SkV4lu3/Wq+Er5Ty6Ui7Op8As9Df0GhJkL",
  security_token = "SeCuR1tyT0ken/Mn+Bv4Cx3Za2Sd1Fg0HjK9Lp8Oi7Uy6",
  iam_token = "MIIiam/ToKeN+Qa1Ws2Ed3Rf4Tg5Yh6Uj7Ik8Ol9P",
}

-- Text as a reader could decode it: JSON escapes, %XX, HTML character references; lower case.
local function decoded(text)
  text = text:gsub("\\u(%x%x%x%x)", function(h)
    local n = tonumber(h, 16)
    return n < 128 and string.char(n) or "?"
  end):gsub("\\(.)", "%1"):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    :gsub("&#(%d+);", function(d) return string.char(tonumber(d) % 256) end)
  return text:lower()
end

-- The first 8-character run of a secret found in text (raw or decoded), or nil.
local function leak(text, secrets)
  local forms = { text:lower(), decoded(text) }
  for _, s in ipairs(secrets) do
    local lower = s:lower()
    for k = 1, #lower - 7 do
      local gram = lower:sub(k, k + 7)
      for _, f in ipairs(forms) do
        if f:find(gram, 1, true) then return gram end
      end
    end
  end
  return nil
end

-- A deterministic dump of a value, strings raw (so control characters stay visible).
local function dump(v, seen)
  seen = seen or {}
  if type(v) ~= "table" then return tostring(v) end
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = tostring(k) .. "=" .. dump(v[k], seen) end
  return "{" .. table.concat(out, " ") .. "}"
end

-- Each mode's service knows (and echoes) the secrets of that mode.
local MODES = {
  { name = "KooDrive token", new = koodrive.new, secrets = { S.token },
    config = { user_id = "1", token = S.token } },
  { name = "KooDrive app_secret", new = koodrive.new, secrets = { S.app_secret },
    config = { user_id = "1", app_id = "echo-app-id", app_secret = S.app_secret } },
  { name = "IoTDA AK/SK with security_token", new = koodrive.iotda.new, secrets = { S.sk, S.security_token },
    config = { project_id = "p1", ak = "ECHOACCESSKEY0001", sk = S.sk, security_token = S.security_token,
      region = "cn-north-4" } },
  { name = "IoTDA IAM token", new = koodrive.iotda.new, secrets = { S.iam_token },
    config = { project_id = "p1", token = S.iam_token } },
}

local STYLES = { "msg", "code", "request_id", "html", "escaped", "escaped_msg", "percent", "percent_body",
  "control" }

describe("secrets echoed by a service", function()
  local dir
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    sys.run("mkdir -p " .. sys.quote(dir))
  end)
  teardown(function()
    if dir then sys.run("rm -rf " .. sys.quote(dir)) end
  end)

  for m, mode in ipairs(MODES) do
    describe(mode.name, function()
      local server
      setup(function() server = echo.start(mode.secrets) end)
      teardown(function() if server then server.stop() end end)
      local styles = { unpack(STYLES) }
      for i = 1, #mode.secrets do styles[#styles + 1] = "straddle/" .. i; styles[#styles + 1] = "prefix/" .. i end
      for _, style in ipairs(styles) do
        it("stay out of the error, its history, the log and the cassette: " .. style, function()
          local records = {}
          local cassette = dir .. "/" .. m .. "-" .. style:gsub("/", "-") .. ".json"
          local config = { endpoint = server.url, logger = function(r) records[#records + 1] = r end,
            retries = { max_attempts = 2, base_delay = 0, max_delay = 0 }, sleep = function() end,
            transport = koodrive.transport.record(koodrive.transport.curl(), cassette) }
          for k, v in pairs(mode.config) do config[k] = v end
          local client = assert(mode.new(config))
          local ok, err = client:call { method = "GET", path = "/echo/" .. style }
          client:close()
          assert.is_nil(ok)
          assert.is_truthy(err.status, tostring(err))
          local texts = {
            msg = dump(err.msg), code = dump(err.code), request_id = dump(err.request_id),
            message = dump(err.message), tostring = tostring(err), history = dump(err.history),
            log = dump(records), cassette = assert(sys.read(cassette)),
          }
          assert.is_true(#records >= 1)
          local leaks = {}
          for where, text in pairs(texts) do
            local found = leak(text, mode.secrets)
            if found then leaks[#leaks + 1] = ("%s holds %q: %s"):format(where, found, text) end
          end
          table.sort(leaks)
          assert.are.same({}, leaks)
          -- Text that is shown never carries the server's control characters raw.
          for _, where in ipairs { "tostring", "message", "log", "request_id" } do
            local at = texts[where]:find("[\r\n\27\7]")
            assert.is_nil(at, where .. " has a raw control character: " .. texts[where])
          end
          assert.is_nil(texts.log:find("\194\155", 1, true), "a C1 control in the log")
          -- The cassette is still JSON.
          assert.is_table(json.decode(texts.cassette))
        end)
      end
    end)
  end

  it("shows the service's control characters as escapes in tostring(err) and the log", function()
    local server = echo.start { S.token }
    finally(server.stop)
    local records = {}
    local client = assert(koodrive.new { endpoint = server.url, user_id = "1", token = S.token,
      retries = false, logger = function(r) records[#records + 1] = r end })
    local _, err = client:call { method = "GET", path = "/echo/control" }
    client:close()
    local text = tostring(err)
    assert.matches("bad\\r\\nkoodrive info: forged line\\x1b[31m red\\x1b[0m \\u009b", text, 1, true)
    assert.matches("request_id=id\\x1b[2J\\x1b]0;owned\\x07", text, 1, true)
    assert.matches("code=KD\\r\\n40005", text, 1, true)
    assert.are.equal("id\\x1b[2J\\x1b]0;owned\\x07", records[1].request_id)
    assert.matches("forged line\\x1b[31m", records[1].error_message, 1, true)
    -- The service's own values keep their bytes (secrets aside): a program may compare them.
    assert.are.equal("KD\r\n40005", err.code)
  end)
end)

describe("secrets a token_provider or a transport quotes", function()
  it("a token_provider's error keeps the token it fetched out of the error", function()
    local fetched = "Zx9/Tok+Fetched=Qq1Ww2Ee3Rr4"
    local client = assert(koodrive.new { endpoint = "http://127.0.0.1:9", user_id = "1", retries = false,
      token_provider = function()
        error("IAM said {\"access_token\": \"" .. fetched:gsub("/", "\\/") .. "\"} and Bearer " .. fetched ..
          " then\r\nforged", 0)
      end })
    local _, err = client:call { method = "GET", path = "/x" }
    assert.are.equal("config", err.kind)
    assert.is_nil(leak(tostring(err) .. err.message, { fetched }), tostring(err))
    assert.is_nil(tostring(err):find("[\r\n]"))
  end)

  it("a transport error that quotes the URL and the headers keeps the secrets out", function()
    local records = {}
    local broken = { send = function(_, req)
      return nil, "connect failed for " .. req.url .. " with " .. (req.headers.Authorization or "") ..
        " X-Auth-Token: " .. (req.headers["X-Auth-Token"] or "")
    end }
    local client = assert(koodrive.iotda.new { endpoint = "http://127.0.0.1:9", project_id = "p1",
      token = S.iam_token, transport = broken, retries = false,
      logger = function(r) records[#records + 1] = r end })
    local _, err = client:call { method = "GET", path = "/x", query = { access_token = "Qy7/Url+Secret=Ab12Cd34" } }
    assert.are.equal("transport", err.kind)
    local text = tostring(err) .. dump(err) .. dump(records)
    assert.is_nil(leak(text, { S.iam_token, "Qy7/Url+Secret=Ab12Cd34" }), text)
  end)
end)
