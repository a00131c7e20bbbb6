-- koodrive.transport.socket: the one HTTP/1.1 client over the LuaSocket and cqueues adapters
-- (HAProxy's runs in host_haproxy_spec, nginx's in openresty_spec), against the local service
-- and real TLS endpoints (support.tls_server).
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"
local tls_server = require "support.tls_server"
local timing = require "support.timing"
local socket = require "socket"

local has_cqueues, cqueues = pcall(require, "cqueues")
local has_ossl = pcall(require, "openssl.ssl.context")

local server, tls

setup(function()
  server = local_service.start()
  tls = tls_server.start()
end)
teardown(function()
  if server then server.stop() end
  if tls then tls.stop() end
end)
after_each(function() server.control("/_local/reset") end)

local function client(transport, extra)
  local config = { endpoint = server.url, user_id = creds.koodrive.user_id, token = "local-token-alice",
    transport = transport, timeout = 5, retries = false }
  for k, v in pairs(extra or {}) do config[k] = v end
  return assert(koodrive.new(config))
end

local function get(t, url, extra)
  local request = { method = "GET", url = url, headers = {}, timeout = 5, connect_timeout = 2 }
  for k, v in pairs(extra or {}) do request[k] = v end
  return t:send(request)
end

local ADAPTERS = { "luasocket" }
if has_cqueues then ADAPTERS[2] = "cqueues" end

describe("koodrive.transport.socket", function()
  for _, name in ipairs(ADAPTERS) do
    describe("(" .. name .. ")", function()
      it("lists devices from the local service, a bound device included", function()
        local c = client(koodrive.transport.socket(name))
        assert(c.devices:bind { machineCode = "M_socket_" .. name, deviceName = "socket", deviceOS = "linux" })
        local list, err = c.devices:list()
        assert.is_nil(err)
        assert.are.equal(1, #list)
        assert.are.equal("M_socket_" .. name, list[1].machineCode)
      end)

      it("ends an answer trickled a byte every 200 ms at the 0.5 s total timeout", function()
        server.control("/_local/fault?kind=trickle&count=1")
        local c = client(koodrive.transport.socket(name), { timeout = 0.5 })
        local t0 = socket.gettime()
        local list, err = c.devices:list()
        local elapsed = socket.gettime() - t0
        assert.is_nil(list)
        assert.are.equal("timeout", err.kind, tostring(err))
        assert.is_true(elapsed < timing.limit(1.5), "took " .. elapsed)
      end)

      it("refuses a body over max_body and a refused connection with the usual reasons", function()
        local t = koodrive.transport.socket(name)
        local res, err = get(t, server.url .. "/_local/health", { max_body = 4 })
        assert.is_nil(res)
        assert.are.equal("too_large", err.reason)
        local port = require("support.sys").free_port()
        res, err = get(t, "http://127.0.0.1:" .. port .. "/")
        assert.is_nil(res)
        assert.are.equal("connect", err.reason)
        assert.is_true(err.retryable)
      end)

      it("refuses a proxy and a URL that is not http(s) before sending", function()
        local t = koodrive.transport.socket(name)
        local res, err = get(t, server.url .. "/_local/health", { proxy = "http://127.0.0.1:9" })
        assert.is_nil(res)
        assert.are.equal("config", err.kind)
        res, err = get(t, "ftp://127.0.0.1/x")
        assert.is_nil(res)
        assert.are.equal("validation", err.kind)
        assert.are.equal(0, require("cjson").decode((server.get("/_local/requests"))).count)
      end)
    end)
  end

  it("luasocket speaks plain http only: https is refused with reason tls", function()
    local res, err = get(koodrive.transport.socket("luasocket"), tls.urls.ca .. "/")
    assert.is_nil(res)
    assert.are.equal("tls", err.reason)
  end)

  it("haproxy's adapter refuses to be made outside HAProxy", function()
    assert.has_error(function() koodrive.transport.haproxy() end, nil)
    local ok, err = pcall(koodrive.transport.haproxy)
    assert.is_false(ok)
    assert.matches("not running inside HAProxy", tostring(err))
  end)

  it("a closed transport raises on send", function()
    local t = koodrive.transport.socket("luasocket")
    t:close()
    assert.has_error(function() get(t, server.url .. "/") end)
  end)

  describe("(cqueues) TLS through luaossl", function()
    local function skip()
      if not has_cqueues then return "lua-cqueues is not installed for " .. _VERSION end
      -- luaossl keeps process-lifetime OpenSSL state in statics of its module, which lua_close
      -- unloads: LeakSanitizer and valgrind then report it (96 + 15 bytes, in libcrypto only).
      if timing.slow then return "not under ASan/valgrind: luaossl's unloaded state reads as a leak" end
      if not has_ossl then return "lua-luaossl is not installed for " .. _VERSION end
    end

    it("verifies the server against the request's ca_file, and refuses the bad ones", function()
      local why = skip()
      if why then return pending(why) end
      local t = koodrive.transport.socket("cqueues")
      local res, err = get(t, tls.urls.ca .. "/", { ca_file = tls.ca_file })
      assert.is_table(res, tostring(err))
      assert.is_number(res.status)
      for _, bad in ipairs { "self_signed", "expired", "wrong_host" } do
        local r, e = get(t, tls.urls[bad] .. "/", { ca_file = tls.ca_file })
        assert.is_nil(r, bad)
        assert.are.equal("tls", e.reason, bad .. ": " .. tostring(e))
      end
      local r, e = get(t, tls.urls.ca .. "/") -- the system CAs do not know the private CA
      assert.is_nil(r)
      assert.are.equal("tls", e.reason)
      local insecure = get(t, tls.urls.self_signed .. "/", { insecure = true })
      assert.is_table(insecure)
    end)
  end)

  it("(cqueues) a retry's backoff sleeps on the controller: other coroutines run meanwhile", function()
    if not has_cqueues then return pending("lua-cqueues is not installed for " .. _VERSION) end
    server.control("/_local/fault?kind=503&count=1")
    local c = client(koodrive.transport.socket("cqueues"),
      { retries = { max_attempts = 2, base_delay = 0.3, max_delay = 0.3 } })
    local cq = cqueues.new()
    local result, finished, ticks = nil, false, 0
    cq:wrap(function()
      result = c.devices:list()
      finished = true
    end)
    cq:wrap(function()
      while not finished do
        cqueues.sleep(0.01)
        ticks = ticks + 1
      end
    end)
    assert(cq:loop())
    assert.is_table(result)
    assert.are.equal(2, require("cjson").decode((server.get("/_local/requests"))).count)
    -- A backoff of at least 0.15 s (jittered) went by; a blocking sleep would allow no tick.
    -- Under valgrind a 10 ms tick takes ~50 ms (3 ticks seen in CI): there one must do.
    local least = timing.slow and 1 or 5
    assert.is_true(ticks >= least, "the other coroutine ran " .. ticks .. " times")
  end)

  it("(cqueues) four 0.5 s calls overlap inside one controller", function()
    if not has_cqueues then return pending("lua-cqueues is not installed for " .. _VERSION) end
    local c = client(koodrive.transport.socket("cqueues"))
    server.control("/_local/delay?ms=500")
    local cq = cqueues.new()
    local ok_count = 0
    local t0 = socket.gettime()
    for _ = 1, 4 do
      cq:wrap(function()
        local list = c.devices:list()
        if list then ok_count = ok_count + 1 end
      end)
    end
    assert(cq:loop())
    local elapsed = socket.gettime() - t0
    assert.are.equal(4, ok_count)
    assert.is_true(elapsed >= 0.5 and elapsed < timing.limit(1.5),
      string.format("four 0.5 s calls took %.3f s (they should overlap)", elapsed))
  end)
end)
