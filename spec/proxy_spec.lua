-- Proxies: the library never routes a request through a proxy it was not given. http_proxy /
-- ALL_PROXY in the environment are ignored unless proxy = "env"; proxy = URL goes through that
-- proxy; no_proxy is honoured; credentials in the proxy URL never show in errors, tostring or
-- log records; the ngx transport refuses a proxy with a config error; the `koodrive` command
-- follows the environment by default. Two support.echo_server processes: "origin" and
-- "proxy", a real HTTP proxy on 127.0.0.1 that records what it received and forges its answer.
local echo = require "support.echo_server"
local sys = require "support.sys"
local koodrive = require "koodrive"

local LUA = arg and arg[-1] or "lua5.4"
local USER_ID = "1505084218764547200"
local TOKEN = "proxy-spec-bearer-token"

local origin, proxy
setup(function()
  origin = echo.start { name = "origin" }
  proxy = echo.start { name = "proxy" }
end)
teardown(function()
  if origin then origin.stop() end
  if proxy then proxy.stop() end
end)

local function client(extra)
  local config = { endpoint = origin.url, user_id = USER_ID, token = TOKEN, timeout = 10,
    retries = false }
  for k, v in pairs(extra or {}) do config[k] = v end
  return koodrive.new(config)
end

-- Who answered a call: "origin", "proxy" or "error: ..."; blocking and in a loop task.
local function served_by(c, path)
  local body, err = c:call { method = "GET", path = path }
  return body and body.data.served_by or ("error: " .. tostring(err))
end
local function served_by_loop(c, path)
  local L = koodrive.loop()
  local who
  L:spawn(function() who = served_by(c, path) end)
  L:run()
  L:close()
  return who
end

-- Requests the proxy saw whose target contains `path`.
local function proxied(path)
  local n = 0
  for _, r in ipairs(proxy.requests()) do
    if r.target:find(path, 1, true) then n = n + 1 end
  end
  return n
end

local PROXY_VARS = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
  "no_proxy", "NO_PROXY" }

-- Runs a Lua chunk in a child interpreter with exactly the given proxy variables set; the
-- chunk's `...` are the origin URL and the proxy URL. Returns its output.
local function run_child(env, script)
  local words = { "env" }
  for _, name in ipairs(PROXY_VARS) do words[#words + 1] = "-u " .. name end
  for k, v in pairs(env) do words[#words + 1] = k .. "=" .. sys.quote(v) end
  local file = os.tmpname()
  sys.write(file, script)
  local out = sys.capture(table.concat(words, " ") .. " " .. sys.quote(LUA) .. " " .. sys.quote(file) .. " " ..
    sys.quote(origin.url) .. " " .. sys.quote(proxy.url) .. " 2>&1")
  os.remove(file)
  return out
end

local CHILD = [[
local koodrive = require "koodrive"
local origin_url, proxy_url = ...
local function who(extra, path)
  local config = { endpoint = origin_url, user_id = "]] .. USER_ID .. [[", token = "]] .. TOKEN .. [[",
    timeout = 10, retries = false }
  for k, v in pairs(extra) do config[k] = v end
  local c = assert(koodrive.new(config))
  local body, err = c:call { method = "GET", path = path }
  local blocking = body and body.data.served_by or tostring(err)
  local L = koodrive.loop()
  local in_loop
  L:spawn(function()
    local b, e = c:call { method = "GET", path = path .. "/loop" }
    in_loop = b and b.data.served_by or tostring(e)
  end)
  L:run()
  L:close()
  c:close()
  return blocking .. " " .. in_loop
end
]]

describe("proxies", function()
  it("are not taken from the environment unless asked: nothing reaches the proxy", function()
    local env = { http_proxy = proxy.url, HTTPS_PROXY = proxy.url, ALL_PROXY = proxy.url }
    local out = run_child(env, CHILD .. [[io.write(who({}, "/env/ignored"))]])
    assert.are.equal("origin origin", out)
    assert.are.equal(0, proxied("/env/ignored"))
  end)

  it("are used when given: proxy = URL sends through it (the blocking client and a loop)", function()
    local c = assert(client { proxy = proxy.url })
    assert.are.equal("proxy", served_by(c, "/given/blocking"))
    assert.are.equal("proxy", served_by_loop(c, "/given/loop"))
    c:close()
    local seen
    for _, r in ipairs(proxy.requests()) do
      if r.target:find("/given/blocking", 1, true) then seen = r end
    end
    assert.is_table(seen)
    -- A forwarding proxy gets the absolute URL of the origin.
    assert.are.equal(origin.url .. "/given/blocking", seen.target)
  end)

  it('follow the standard variables with proxy = "env", NO_PROXY and no_proxy included', function()
    local env = { http_proxy = proxy.url }
    assert.are.equal("proxy proxy", run_child(env, CHILD .. [[io.write(who({ proxy = "env" }, "/env/followed"))]]))
    assert.are.equal(2, proxied("/env/followed"))
    env.NO_PROXY = "127.0.0.1"
    assert.are.equal("origin origin", run_child(env, CHILD .. [[io.write(who({ proxy = "env" }, "/env/no_proxy"))]]))
    env.NO_PROXY = nil
    assert.are.equal("origin origin",
      run_child(env, CHILD .. [[io.write(who({ proxy = "env", no_proxy = "localhost,127.0.0.1" }, "/env/opt"))]]))
    assert.are.equal(0, proxied("/env/no_proxy") + proxied("/env/opt"))
  end)

  it("skip the hosts in no_proxy", function()
    local c = assert(client { proxy = proxy.url, no_proxy = "127.0.0.1" })
    assert.are.equal("origin", served_by(c, "/skip/blocking"))
    assert.are.equal("origin", served_by_loop(c, "/skip/loop"))
    c:close()
    assert.are.equal(0, proxied("/skip/"))
  end)

  it("send the URL's credentials to the proxy and never show them", function()
    local user, password = "kdproxyuser", "kd-proxy-pa55word"
    local records = {}
    local logger = function(r) records[#records + 1] = r end
    local c = assert(client { proxy = "http://" .. user .. ":" .. password .. "@127.0.0.1:" .. proxy.port,
      logger = logger })
    assert.are.equal("proxy", served_by(c, "/creds/ok"))
    local auth
    for _, r in ipairs(proxy.requests()) do
      if r.target:find("/creds/ok", 1, true) then auth = r.proxy_authorization end
    end
    assert.is_string(auth)
    assert.matches("^Basic ", auth)
    -- A dead proxy: the error, the client and every log record leave the secret out.
    local dead = sys.free_port()
    local c2 = assert(client { proxy = "http://" .. user .. ":" .. password .. "@127.0.0.1:" .. dead,
      logger = logger })
    local body, err = c2:call { method = "GET", path = "/creds/dead" }
    assert.is_nil(body)
    assert.are.equal("transport", err.kind)
    local shown = { tostring(err), tostring(err.message), tostring(c), tostring(c2) }
    for _, r in ipairs(records) do
      for k, v in pairs(r) do
        shown[#shown + 1] = tostring(k) .. "=" .. tostring(v)
        if type(v) == "table" then for hk, hv in pairs(v) do shown[#shown + 1] = hk .. "=" .. tostring(hv) end end
      end
    end
    for _, text in ipairs(shown) do
      assert.is_nil(text:find(password, 1, true), "password shown: " .. text)
      assert.is_nil(text:find(user, 1, true), "user name shown: " .. text)
    end
    assert.is_true(#records >= 2)
    -- A refused proxy URL does not quote it either.
    local _, cerr = client { proxy = "ftp://" .. user .. ":" .. password .. "@127.0.0.1:21" }
    assert.are.equal("config", cerr.kind)
    assert.are.equal("proxy", cerr.field)
    assert.is_nil(tostring(cerr):find(password, 1, true))
    c:close()
    c2:close()
  end)

  it("are validated: http, https, socks5 and socks5h URLs, \"env\", false", function()
    for _, good in ipairs { "http://127.0.0.1:3128", "https://proxy.example:8443", "socks5://127.0.0.1:1080",
      "socks5h://u:p@[::1]:1080", "http://proxy.example/", "env", false } do
      local c, err = client { proxy = good }
      assert.is_truthy(c, tostring(good) .. ": " .. tostring(err))
      c:close()
    end
    for _, bad in ipairs { "ftp://127.0.0.1:21", "127.0.0.1:3128", "http://", "http://h:0", "http://h:70000",
      "http://h/path", "http://h:1?x=1", "http://h\r\n:1", 3128, true, {} } do
      local c, err = client { proxy = bad }
      assert.is_nil(c, tostring(bad))
      assert.are.equal("config", err.kind)
      assert.are.equal("proxy", err.field)
    end
    for _, bad in ipairs { 1, true, "a b", "x\n" } do
      local c, err = client { no_proxy = bad }
      assert.is_nil(c)
      assert.are.equal("no_proxy", err.field)
    end
  end)

  it("are refused by the ngx transport with a config error", function()
    local ngx_transport = require("koodrive.transport.ngx").new()
    local c, err = client { proxy = proxy.url, transport = ngx_transport }
    assert.is_nil(c)
    assert.are.equal("config", err.kind)
    assert.are.equal("proxy", err.field)
    assert.are.equal("unsupported", err.rule)
    -- A request that carries one (as through the auto transport) is refused, never sent direct.
    local res, serr = ngx_transport:send { method = "GET", url = origin.url .. "/ngx", headers = {},
      proxy = proxy.url }
    assert.is_nil(res)
    assert.are.equal("config", serr.kind)
    assert.matches("proxy", serr.message)
    -- Without a proxy the option is no obstacle.
    local c2 = assert(client { transport = ngx_transport })
    c2:close()
  end)

  it("are followed from the environment by the koodrive command, unless --proxy none", function()
    local env = { http_proxy = proxy.url, KOODRIVE_ENDPOINT = origin.url, KOODRIVE_USER_ID = USER_ID,
      KOODRIVE_TOKEN = TOKEN, HOME = "/nonexistent" }
    local function run_cli(path, flag)
      local words = { "env -u KOODRIVE_CONFIG -u KOODRIVE_PROFILE -u KOODRIVE_PROXY" }
      for _, name in ipairs(PROXY_VARS) do words[#words + 1] = "-u " .. name end
      for k, v in pairs(env) do words[#words + 1] = k .. "=" .. sys.quote(v) end
      return sys.capture(table.concat(words, " ") .. " " .. sys.quote(LUA) .. " bin/koodrive call GET " ..
        sys.quote(path) .. " --json" .. (flag and (" --proxy " .. sys.quote(flag)) or "") .. " 2>&1")
    end
    assert.matches('"served_by": ?"proxy"', run_cli("/cli/env"))
    assert.matches('"served_by": ?"origin"', run_cli("/cli/none", "none"))
    assert.matches('"served_by": ?"proxy"', run_cli("/cli/flag", proxy.url))
  end)
end)
