-- TLS through real libcurl to real HTTPS servers (one nginx, one server per certificate; see
-- support.tls_server): verification is on by default, and each refusal says which problem it
-- is in `err.tls` and in words; ca_file trusts a private CA; insecure = true accepts all.
local koodrive = require "koodrive"
local curl = require "koodrive.transport.curl"
local tls_server = require "support.tls_server"

local server

setup(function() server = tls_server.start() end)
teardown(function() if server then server.stop() end end)

-- Whether koodrive.new knows an option (the logger arrived with the retry work).
local function knows(option, value)
  local c, err = koodrive.new { endpoint = "https://127.0.0.1:1", user_id = "1", token = "t",
    [option] = value }
  if c then c:close() end
  return c ~= nil or (err and err.rule ~= "unknown_option")
end
local HAS_LOGGER = knows("logger", function() end)

local function client(url, extra)
  local config = { endpoint = url, user_id = "1505084218764547200", token = "tls-spec-token",
    timeout = 10 }
  -- insecure = true warns: keep that out of the spec's output where a logger can take it.
  if extra and extra.insecure and HAS_LOGGER and extra.logger == nil then
    config.logger = function() end
  end
  for k, v in pairs(extra or {}) do config[k] = v end
  return assert(koodrive.new(config))
end

local function list(url, extra)
  local c = client(url, extra)
  local devices, err = c.devices:list()
  c:close()
  return devices, err
end

-- Asserts a TLS refusal saying `which`, in err.tls and in words.
local WORDS = {
  self_signed = "self%-signed", expired = "expired", hostname = "host name",
  untrusted = "trusted CA", ca_file = "ca_file", handshake = "handshake",
}
local function refused(which, devices, err)
  assert.is_nil(devices)
  assert.is_table(err)
  assert.are.equal("transport", err.kind)
  assert.are.equal("tls", err.reason)
  assert.are.equal(which, err.tls, "err.tls (message: " .. tostring(err.message) .. ")")
  assert.matches("^TLS: ", err.message)
  assert.matches(WORDS[which], err.message)
  assert.is_false(err.retryable)
  assert.is_true((err.attempts or 1) <= 1, "a TLS refusal was retried")
end

describe("TLS", function()
  it("refuses a certificate it cannot verify, by default", function()
    local devices, err = list(server.url)
    assert.is_nil(devices)
    assert.are.equal("transport", err.kind)
    assert.are.equal("tls", err.reason)
    assert.matches("certificate", err.message)
    assert.is_false(err.retryable)
  end)

  it("accepts the server when ca_file names its private CA", function()
    local devices, err = list(server.url, { ca_file = server.ca_file })
    assert.is_nil(err)
    assert.are.same({}, devices)
  end)

  it("accepts the server with insecure = true", function()
    local devices, err = list(server.url, { insecure = true })
    assert.is_nil(err)
    assert.are.same({}, devices)
  end)

  it("reports a missing ca_file as a TLS error", function()
    local _, err = list(server.url, { ca_file = server.dir .. "/no-such-ca.pem" })
    assert.are.equal("transport", err.kind)
    assert.are.equal("tls", err.reason)
  end)
end)

describe("TLS failures say which", function()
  -- What each server gets, by default and with ca_file = the private CA. OpenSSL reports the
  -- first problem it meets, and the chain comes first: without ca_file the expired and the
  -- wrong-host certificates are refused as untrusted (their CA is unknown); with it, as what
  -- they are.
  local cases = {
    { "ca", "untrusted", nil },
    { "self_signed", "self_signed", "self_signed" },
    { "expired", "untrusted", "expired" },
    { "wrong_host", "untrusted", "hostname" },
  }
  for _, c in ipairs(cases) do
    local name, by_default, with_ca = c[1], c[2], c[3]

    it(name .. ": refused by default as " .. by_default, function()
      refused(by_default, list(server.urls[name]))
    end)

    if with_ca then
      it(name .. ": still refused with ca_file, as " .. with_ca, function()
        refused(with_ca, list(server.urls[name], { ca_file = server.ca_file }))
      end)
    else
      it(name .. ": accepted with ca_file", function()
        local devices, err = list(server.urls[name], { ca_file = server.ca_file })
        assert.is_nil(err)
        assert.are.same({}, devices)
      end)
    end

    it(name .. ": accepted with insecure = true", function()
      local devices, err = list(server.urls[name], { insecure = true })
      assert.is_nil(err)
      assert.are.same({}, devices)
    end)
  end

  it("wrong_host: refused by name as well as by address", function()
    local url = server.urls.wrong_host:gsub("127%.0%.0%.1", "localhost")
    refused("hostname", list(url, { ca_file = server.ca_file }))
  end)

  it("reports a missing ca_file as ca_file", function()
    refused("ca_file", list(server.url, { ca_file = server.dir .. "/no-such-ca.pem" }))
  end)

  it("reports a ca_file that holds no certificate as ca_file", function()
    refused("ca_file", list(server.url, { ca_file = server.dir .. "/ca.cnf" }))
  end)

  it("reports a server that does not speak TLS as a failed handshake", function()
    local url = server.urls.plain:gsub("^http:", "https:")
    refused("handshake", list(url))
  end)

  it("says which inside a koodrive.loop task too (multi handle)", function()
    local c = client(server.urls.self_signed)
    local devices, err = koodrive.run(function() return c.devices:list() end)
    c:close()
    refused("self_signed", devices, err)
  end)

  it("classifies OpenSSL's verify messages it cannot provoke here", function()
    local messages = {
      { 60, "SSL certificate problem: self-signed certificate in certificate chain", "untrusted" },
      { 60, "SSL certificate problem: self signed certificate", "self_signed" },
      { 60, "SSL certificate problem: certificate is not yet valid", "expired" },
      { 60, "SSL: certificate subject name 'a' does not match target host name 'b'", "hostname" },
      { 60, "SSL certificate problem: unable to verify the first certificate", "untrusted" },
      { 60, "SSL certificate problem: certificate revoked", "untrusted" },
      { 77, "error setting certificate verify locations: CAfile: /x", "ca_file" },
      { 35, "OpenSSL/3.0: error:0A000410:SSL routines::sslv3 alert handshake failure", "handshake" },
      { 83, "SSL: issuer check failed", "untrusted" },
      -- nginx's cosocket handshake errors quote OpenSSL the same way
      { nil, "18: self-signed certificate", "self_signed" },
      { nil, "10: certificate has expired", "expired" },
      { nil, "certificate host mismatch", "hostname" },
      { nil, "20: unable to get local issuer certificate", "untrusted" },
      { nil, "handshake failed", "handshake" },
    }
    for _, c in ipairs(messages) do
      local err = curl.failure("tls", c[2], c[1])
      assert.are.equal(c[3], err.tls, c[2])
      assert.are.equal("tls", err.reason)
      assert.is_false(err.retryable)
    end
    assert.matches("not valid yet", curl.failure("tls", messages[3][2], 60).message)
    -- Not TLS at all: untouched.
    local err = curl.failure("connect", "Failed to connect to 127.0.0.1 port 1", 7)
    assert.is_nil(err.tls)
    assert.are.equal("connect", err.reason)
    assert.is_true(err.retryable)
    err = curl.failure("timeout", "SSL connection timeout", 28)
    assert.is_nil(err.tls)
    assert.are.equal("timeout", err.kind)
  end)
end)

describe("insecure = true", function()
  local pend = not HAS_LOGGER and "needs the logger option" or nil

  it("warns once per client through the logger", function()
    if pend then return pending(pend) end
    local function counter()
      local n = { count = 0 }
      function n.logger(record)
        local text = type(record) == "table" and (tostring(record.event) .. " " .. tostring(record.message))
          or tostring(record)
        if text:find("insecure", 1, true) then n.count = n.count + 1 end
      end
      return n
    end
    local a, b = counter(), counter()
    local ca = client(server.urls.self_signed, { insecure = true, logger = a.logger })
    assert(ca.devices:list())
    assert(ca.devices:list())
    local cb = client(server.urls.expired, { insecure = true, logger = b.logger })
    assert(cb.devices:list())
    ca:close()
    cb:close()
    assert.are.equal(1, a.count)
    assert.are.equal(1, b.count)
  end)

  it("does not warn when verification is on", function()
    if pend then return pending(pend) end
    local count = 0
    local c = client(server.url, { ca_file = server.ca_file, logger = function(record)
      if type(record) == "table" and record.event == "insecure" then count = count + 1 end
    end })
    assert(c.devices:list())
    c:close()
    assert.are.equal(0, count)
  end)
end)
