-- TLS through real libcurl to a real HTTPS server (nginx) whose certificate comes from a
-- private CA: refused by default, accepted with ca_file, accepted with insecure = true.
local koodrive = require "koodrive"
local tls_server = require "support.tls_server"

local server

setup(function() server = tls_server.start() end)
teardown(function() if server then server.stop() end end)

local function client(extra)
  local config = { endpoint = server.url, user_id = "1505084218764547200", token = "tls-spec-token",
    timeout = 10 }
  for k, v in pairs(extra or {}) do config[k] = v end
  return assert(koodrive.new(config))
end

describe("TLS", function()
  it("refuses a certificate it cannot verify, by default", function()
    local devices, err = client().devices:list()
    assert.is_nil(devices)
    assert.are.equal("transport", err.kind)
    assert.are.equal("tls", err.reason)
    assert.matches("certificate", err.message)
    assert.is_false(err.retryable)
  end)

  it("accepts the server when ca_file names its private CA", function()
    local devices, err = client({ ca_file = server.ca_file }).devices:list()
    assert.is_nil(err)
    assert.are.same({}, devices)
  end)

  it("accepts the server with insecure = true", function()
    local devices, err = client({ insecure = true }).devices:list()
    assert.is_nil(err)
    assert.are.same({}, devices)
  end)

  it("reports a missing ca_file as a TLS error", function()
    local _, err = client({ ca_file = server.dir .. "/no-such-ca.pem" }).devices:list()
    assert.are.equal("transport", err.kind)
    assert.are.equal("tls", err.reason)
  end)
end)
