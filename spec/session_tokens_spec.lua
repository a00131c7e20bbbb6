-- koodrive.session_tokens: a token_provider on the session calls, over an in-process fake
-- service (a transport that routes by path): first token, refresh after a 401, refresh
-- shortly before expiry, one refresh shared by concurrent callers, fallbacks, errors, and
-- no token in any message, log record or tostring; two nginx light threads.
local koodrive = require "koodrive"
local session_tokens = require "koodrive.session_tokens"
local json = require "koodrive.json"
local scheduler = require "koodrive.scheduler"
local fixtures = require "support.fixtures"

-- A fake KooDrive: logins and sessions hand out numbered tokens; only the latest is valid.
local function fake(opts)
  opts = opts or {}
  local s = { n = 0, valid = {}, calls = {}, requests = {} }
  local function issue(prefix)
    s.n = s.n + 1
    local token = prefix .. "tok-" .. s.n .. "-0123456789abcdef"
    s.valid = { [token] = true }
    return token
  end
  local function answer(status, body) return { status = status, headers = {}, body = json.encode(body) } end
  function s.send(_, req)
    s.requests[#s.requests + 1] = req
    local path = req.url:match("^%a+://[^/]+([^?]*)")
    local route = path:match("/koodrive/ose/v1/(.*)$")
    s.calls[route] = (s.calls[route] or 0) + 1
    if opts.slow and (route == "auth/refreshToken" or route == "session/refresh") then scheduler.sleep(0.05) end
    if route == "auth/login" then
      if opts.login_fails then return answer(400, { code = 13000102, msg = "bad account" }) end
      return answer(200, { code = 0, data = { userInfo = { userId = "42" }, sessionInfo = {
        accessToken = issue("AT "), expiresIn = opts.expires_in or 1800, issuedAt = "1", refreshToken = "rt-" .. s.n } } })
    elseif route == "auth/refreshToken" then
      local at = req.headers.Authorization
      if opts.refresh_refused or not s.valid_refresh or s.valid_refresh ~= json.decode(req.body).refreshToken
        or not at then
        if not opts.any_refresh then return answer(401, { code = 401, msg = "refresh refused" }) end
      end
      local t = issue("AT ")
      s.valid_refresh = "rt-" .. s.n
      return answer(200, { code = 0, data = { accessToken = t, expiresIn = opts.expires_in or 1800,
        refreshToken = "rt-" .. s.n } })
    elseif route == "session/" then
      local code = json.decode(req.body).code
      if s.used_codes and s.used_codes[code] then return answer(400, { code = 13000102, msg = "code used" }) end
      s.used_codes = s.used_codes or {}
      s.used_codes[code] = true
      return answer(200, { code = 0, data = { accessToken = issue("Bearer "), sessionId = "sid-" .. s.n, userId = "42" } })
    elseif route == "session/refresh" then
      if opts.refresh_refused then return answer(401, { code = 401, msg = "no" }) end
      return answer(200, { code = 0, accessToken = issue("Bearer ") })
    end
    -- An ordinary call: the Authorization must carry the latest token.
    local auth = req.headers.Authorization or ""
    local token = auth:gsub("^Bearer (Bearer )", "%1"):gsub("^Bearer (AT )", "%1")
    if not s.valid[token] then
      s.refused = (s.refused or 0) + 1
      return answer(401, { code = 401, msg = "token expired" })
    end
    return { status = 200, headers = {}, body = '{"code":0,"msg":"success","data":[]}' }
  end
  -- What the login hands out is accepted for refresh.
  local original = s.send
  function s.send(self, req)
    local res = original(self, req)
    if req.url:find("/auth/login", 1, true) and res.status == 200 then s.valid_refresh = "rt-" .. s.n end
    return res
  end
  return s
end

local function auth_client(t)
  return assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "bootstrap-unused",
    transport = t, retries = false })
end

local LOGIN = { account = "0027188460911", authType = "1", password = "pw-secret-value-1" }

local function carrier(t, extra)
  local o = { client = auth_client(t), login = LOGIN, agent_name = "carrier-x" }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(session_tokens(o))
end

local function user_client(t, provider, logger)
  return assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token_provider = provider,
    transport = t, retries = false, logger = logger })
end

describe("session_tokens (carrier)", function()
  it("logs in for the first token and uses it", function()
    local t = fake()
    local provider = carrier(t)
    local c = user_client(t, provider)
    assert(c.devices:list())
    assert.are.equal(1, t.calls["auth/login"])
    assert.are.equal("carrier-x", t.requests[1].headers["x-hw-agentName"])
    assert.is_nil(t.requests[1].headers.Authorization)
  end)

  it("refreshes once after a 401 and retries with the new token", function()
    local t = fake()
    local provider = carrier(t, { reuse_window = 0 })
    local c = user_client(t, provider)
    assert(c.devices:list())
    t.valid = {} -- the service drops the token
    assert(c.devices:list())
    assert.are.equal(1, t.calls["auth/refreshToken"])
    assert.are.equal(1, t.calls["auth/login"])
    -- The refresh sent the AT token unchanged.
    local refresh_req
    for _, r in ipairs(t.requests) do if r.url:find("refreshToken") then refresh_req = r end end
    assert.matches("^AT tok%-1%-", refresh_req.headers.Authorization)
  end)

  it("falls back to a new login when the refresh is refused; fails once both fail", function()
    local t = fake { refresh_refused = true }
    local provider, session = carrier(t, { reuse_window = 0 })
    local c = user_client(t, provider)
    assert(c.devices:list())
    t.valid = {}
    assert(c.devices:list())
    assert.are.equal(2, t.calls["auth/login"])
    assert.is_true(session:info().has_token)
  end)

  it("a login failure is a structured error; the password never appears", function()
    local t = fake { login_fails = true }
    local provider, session = carrier(t)
    local token, err = session:token()
    assert.is_nil(token)
    assert.are.equal("api", err.kind)
    assert.are.equal(13000102, err.code)
    local c = user_client(t, provider)
    local r, cerr = c.devices:list()
    assert.is_nil(r)
    assert.are.equal("config", cerr.kind)
    assert.not_matches("pw%-secret", tostring(cerr))
    assert.not_matches("pw%-secret", tostring(session))
  end)

  it("refreshes before expiry: less than refresh_before seconds left", function()
    local now = 1000
    local t = fake { expires_in = 100 }
    local _, session = carrier(t, { clock = function() return now end, refresh_before = 60, reuse_window = 0 })
    local t1, left = assert(session:token())
    assert.are.equal(40, left)
    now = 1030
    assert.are.equal(t1, (session:token()))
    assert.is_nil(t.calls["auth/refreshToken"])
    now = 1041
    local t2 = assert(session:token())
    assert.are_not.equal(t1, t2)
    assert.are.equal(1, t.calls["auth/refreshToken"])
  end)

  it("the provider returns the seconds until the token is due", function()
    local t = fake { expires_in = 1800 }
    local provider = carrier(t, { clock = function() return 0 end })
    local token, due = provider()
    assert.matches("^AT ", token)
    assert.are.equal(1740, due)
  end)

  it("callers refused right after a refresh get its token (reuse_window), later ones refresh", function()
    local now = 0
    local t = fake()
    local provider = carrier(t, { clock = function() return now end, reuse_window = 2 })
    local t1 = provider()
    now = 100
    local t2 = provider()
    assert.are_not.equal(t1, t2)
    now = 101
    assert.are.equal(t2, (provider()))
    assert.are.equal(1, t.calls["auth/refreshToken"])
    now = 103
    assert.are_not.equal(t2, (provider()))
    assert.are.equal(2, t.calls["auth/refreshToken"])
  end)

  -- PUC Lua 5.1 cannot yield across the pipeline's pcall around the provider: no two refreshes
  -- can overlap there (they are shared through reuse_window, above).
  local yields = not (_VERSION == "Lua 5.1" and not rawget(_G, "jit"))
  local it_yields = yields and it or pending

  it_yields("two loop tasks refused at once share one refresh", function()
    local t = fake { slow = true }
    local provider = carrier(t, { reuse_window = 0 })
    local c = user_client(t, provider)
    assert(c.devices:list())
    t.valid = {}
    local results = koodrive.run(function()
      local a = koodrive.spawn(function() return c.devices:list() end)
      local b = koodrive.spawn(function() return c.devices:list() end)
      koodrive.wait(a, b)
      return { a.values[1] ~= nil, b.values[1] ~= nil }
    end)
    assert.are.same({ true, true }, results)
    assert.are.equal(2, t.refused) -- both were refused before either got the new token
    assert.are.equal(1, t.calls["auth/refreshToken"])
  end)

  it_yields("concurrent provider calls in a loop get the same token", function()
    local t = fake { slow = true }
    local provider, session = carrier(t, { reuse_window = 0 })
    assert(session:token())
    local tokens = koodrive.run(function()
      local hs = {}
      for i = 1, 3 do hs[i] = koodrive.spawn(function() return provider() end) end
      koodrive.wait(hs[1], hs[2], hs[3])
      return { hs[1].values[1], hs[2].values[1], hs[3].values[1] }
    end)
    assert.are.equal(tokens[1], tokens[2])
    assert.are.equal(tokens[1], tokens[3])
    assert.are.equal(1, t.calls["auth/refreshToken"])
  end)

  it("never logs a token, refresh token or password", function()
    local t = fake()
    local records = {}
    local logger = function(r) records[#records + 1] = r end
    local auth = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "bootstrap-unused",
      transport = t, retries = false, logger = logger })
    local provider = assert(session_tokens { client = auth, login = LOGIN, agent_name = "a", reuse_window = 0 })
    local c = user_client(t, provider, logger)
    assert(c.devices:list())
    t.valid = {}
    assert(c.devices:list())
    local text = {}
    local function dump(v)
      if type(v) == "table" then for k, x in pairs(v) do dump(k); dump(x) end else text[#text + 1] = tostring(v) end
    end
    dump(records)
    local all = table.concat(text, "\n")
    assert.is_true(#records >= 4)
    assert.not_matches("tok%-%d", all)
    assert.not_matches("pw%-secret", all)
  end)
end)

describe("session_tokens (enterprise)", function()
  it("creates a session from the code, refreshes it by session id after a 401", function()
    local t = fake()
    local provider = assert(session_tokens { client = auth_client(t), code = "org-code-1", domain = "d.example",
      reuse_window = 0 })
    local c = user_client(t, provider)
    assert(c.devices:list())
    assert.are.equal("Bearer tok-1-0123456789abcdef", t.requests[2].headers.Authorization)
    t.valid = {}
    assert(c.devices:list())
    assert.are.equal(1, t.calls["session/refresh"])
    local refresh_req
    for _, r in ipairs(t.requests) do if r.url:find("session/refresh") then refresh_req = r end end
    assert.are.equal("sid-1", refresh_req.headers["x-session-id"])
  end)

  it("a used code is not sent twice; code_provider opens a new session", function()
    local t = fake { refresh_refused = true }
    local _, session = assert(session_tokens { client = auth_client(t), code = "org-code-1", reuse_window = 0 })
    assert(session:token())
    local token, err = session:renew()
    assert.is_nil(token)
    -- The refresh's refusal: with a one-time code and no code_provider there is no fallback.
    assert.are.equal(401, err.status)
    assert.are.equal(1, t.calls["session/"])
    local n = 0
    local _, s2 = assert(session_tokens { client = auth_client(t), reuse_window = 0,
      code_provider = function() n = n + 1; return "fresh-code-" .. n end })
    assert(s2:token())
    assert(s2:renew())
    assert.are.equal(2, n)
  end)
end)

describe("session_tokens options", function()
  local t = fake()
  local cases = {
    { nil, "session_tokens", "type" },
    { { login = LOGIN, agent_name = "a" }, "client", "required" },
    { { client = auth_client(t), login = LOGIN }, "agent_name", "required" },
    { { client = auth_client(t) }, "login", "required" },
    { { client = auth_client(t), login = LOGIN, agent_name = "a", code = "x" }, "login", "auth_mode" },
    { { client = auth_client(t), code = 5 }, "code", "type" },
    { { client = auth_client(t), code = "x", refresh_before = -1 }, "refresh_before", "range" },
    { { client = auth_client(t), code = "x", colour = 1 }, "session_tokens.colour", "unknown_option" },
  }
  for i, case in ipairs(cases) do
    it("#" .. i .. " refuses " .. case[2], function()
      local p, err = session_tokens(case[1])
      assert.is_nil(p)
      assert.are.equal("config", err.kind)
      assert.are.equal(case[2], err.field)
      assert.are.equal(case[3], err.rule)
    end)
  end
end)

-- Two nginx light threads refused at once share one refresh: a handler with its own fake
-- service (a transport whose refresh answers after an ngx.sleep, so the threads interleave).
describe("session_tokens in OpenResty", function()
  local nginx = require "support.nginx"
  local available, why = nginx.available()
  local it_nginx = available and it or pending
  if not available then it_nginx = function(name) pending(name .. " (" .. why .. ")") end end

  local HANDLER = [==[
local koodrive = require "koodrive"
local session_tokens = require "koodrive.session_tokens"
local cjson = require "cjson"
local M = {}
function M.handle()
  local s = { n = 0, valid = {}, refreshes = 0, refused = 0 }
  local function answer(status, body) return { status = status, headers = {}, body = cjson.encode(body) } end
  local t = {}
  function t.send(_, req)
    local route = req.url:match("/koodrive/ose/v1/(.*)$")
    if route == "auth/login" or route == "auth/refreshToken" then
      if route == "auth/refreshToken" then s.refreshes = s.refreshes + 1; ngx.sleep(0.1) end
      s.n = s.n + 1
      local token = "AT tok-" .. s.n
      -- Sent as "Bearer AT ..." today, or unchanged if AT tokens keep their own scheme.
      s.valid = { ["Bearer " .. token] = true, [token] = true }
      local info = { accessToken = token, expiresIn = 1800, refreshToken = "rt" }
      if route == "auth/login" then info = { sessionInfo = info } end
      return answer(200, { code = 0, data = info })
    end
    if not s.valid[req.headers.Authorization] then
      s.refused = s.refused + 1
      return answer(401, { code = 401, msg = "expired" })
    end
    return { status = 200, headers = {}, body = '{"code":0,"data":[]}' }
  end
  local function new(extra)
    local o = { endpoint = "https://kd.example", user_id = "1505084218764547200", transport = t, retries = false }
    for k, v in pairs(extra) do o[k] = v end
    return assert(koodrive.new(o))
  end
  local provider = assert(session_tokens { client = new { token = "bootstrap" }, agent_name = "a", reuse_window = 0,
    login = { account = "a", authType = "1", password = "p" } })
  local c = new { token_provider = provider }
  assert(c.devices:list())
  s.valid = {}
  local ok = {}
  local threads = {}
  for i = 1, 2 do threads[i] = ngx.thread.spawn(function() return c.devices:list() ~= nil end) end
  for i = 1, 2 do local _, r = ngx.thread.wait(threads[i]); ok[i] = r end
  ngx.say(cjson.encode({ ok = ok, refreshes = s.refreshes, refused = s.refused }))
end
return M
]==]

  local CONF = [[
@MAIN@
events { worker_connections 64; }
http {
  access_log off;
  @TEMP_PATHS@
  lua_package_path "@LUA_PATH@";
  lua_package_cpath "@LUA_CPATH@";
  server {
    listen 127.0.0.1:@PORT@;
    location /st { content_by_lua_block { require("kd_session_tokens").handle() } }
  }
}
]]

  it_nginx("two light threads refused at once share one refresh", function()
    local srv = nginx.start { conf = CONF, files = { ["lua/kd_session_tokens.lua"] = HANDLER } }
    local ok, status, _, body = pcall(nginx.get, srv.port, "/st", 20)
    local log = srv.log()
    srv.stop()
    assert(ok, status)
    assert.are.equal(200, status, log)
    local r = json.decode(body)
    assert.are.same({ true, true }, r.ok)
    assert.are.equal(2, r.refused)
    assert.are.equal(1, r.refreshes)
  end)
end)
