-- Transport failures mapped once (koodrive.transport.failures), limits defined once
-- (koodrive.limits) and handed to the C core with every request, header lines judged by one
-- Lua rule (validate.header_line).
local koodrive = require "koodrive"
local failures = require "koodrive.transport.failures"
local limits = require "koodrive.limits"
local validate = require "koodrive.validate"

-- A port on 127.0.0.1 that nothing listens on (bound, then closed).
local function closed_port()
  local s = assert(require("socket").bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

describe("koodrive.transport.failures", function()
  it("names each libcurl code once, by name, with a distinct number", function()
    local seen = 0
    for name, entry in pairs(failures.CURL) do
      assert.matches("^[A-Z_]+$", name)
      assert.is_number(entry[1])
      assert.are.equal(name, failures.CURL_NAMES[entry[1]])
      assert.is_string(entry[2])
      if entry[2] == "tls" then assert.is_string(entry[3], name) end
      seen = seen + 1
    end
    local numbers = 0
    for _ in pairs(failures.CURL_NAMES) do numbers = numbers + 1 end
    assert.are.equal(seen, numbers)
    assert.are.equal(7, failures.CURL.COULDNT_CONNECT[1])
    assert.are.equal(28, failures.CURL.OPERATION_TIMEDOUT[1])
    assert.are.equal(60, failures.CURL.PEER_FAILED_VERIFICATION[1])
  end)

  it("names the reason of a code the C core reports as a plain transport failure", function()
    local cases = {
      { "COULDNT_CONNECT", "transport", "connect", true },
      { "COULDNT_RESOLVE_HOST", "transport", "connect", true },
      { "OPERATION_TIMEDOUT", "timeout", "timeout", true },
      { "SSL_CACERT_BADFILE", "transport", "tls", false },
      { "SSL_ENGINE_NOTFOUND", "transport", "tls", false },
    }
    for _, c in ipairs(cases) do
      local err = failures.new("transport", "detail (curl error)", failures.CURL[c[1]][1])
      assert.are.equal(c[2], err.kind, c[1])
      assert.are.equal(c[3], err.reason, c[1])
      assert.are.equal(c[4], err.retryable, c[1])
    end
    -- A code not in the table stays a transport failure; what only C sees keeps its reason.
    assert.are.equal("transport", failures.new("transport", "x", 56).reason)
    local big = failures.new("too_large", "response body larger than the 10 byte limit", 23)
    assert.are.equal("too_large", big.reason)
    assert.is_false(big.retryable)
    assert.is_false(failures.new("descriptors", "out of file descriptors", 7).retryable)
    assert.are.equal("validation", failures.new("request", "header 'x' is not a safe header line", 0).kind)
  end)

  it("is the constructor of the libcurl transport, the loop and nginx alike", function()
    assert.are.equal(failures.new, require("koodrive.transport.curl").failure)
    -- nginx's handshake failure: no code, the reason and OpenSSL's words.
    local err = failures.new("tls", "TLS handshake with h:443 failed: 18: self-signed certificate")
    assert.are.equal("tls", err.reason)
    assert.are.equal("self_signed", err.tls)
    assert.is_false(err.retryable)
    assert.matches("^TLS: ", err.message)
  end)

  it("reports a refused connection from real libcurl as reason connect, not retried when told not to", function()
    local port = closed_port()
    local client = assert(koodrive.new { endpoint = "http://127.0.0.1:" .. port, user_id = "1",
      token = "t", retries = false, connect_timeout = 5, timeout = 5 })
    local _, err = client.devices:list()
    client:close()
    assert.are.equal("transport", err.kind)
    assert.are.equal("connect", err.reason)
    assert.are.equal(failures.CURL.COULDNT_CONNECT[1], err.curl_code)
    assert.is_false(err.uncertain)
  end)
end)

describe("koodrive.limits", function()
  it("gives every request the defaults, which the C core no longer has", function()
    local seen
    local transport = { send = function(_, req)
      seen = { max_body = req.max_body, timeout = req.timeout, connect_timeout = req.connect_timeout }
      return { status = 200, headers = {}, body = '{"code":0,"data":[]}' }
    end }
    local client = assert(koodrive.new { endpoint = "http://127.0.0.1:1", user_id = "1", token = "t",
      transport = transport })
    assert(client.devices:list())
    assert.are.same({ max_body = limits.MAX_BODY, timeout = limits.TIMEOUT,
      connect_timeout = limits.CONNECT_TIMEOUT }, seen)
    assert.are.equal(8 * 1024 * 1024, limits.MAX_BODY)
  end)

  it("C refuses a request without max_body instead of choosing one", function()
    local h = require("koodrive.curl").http()
    local ok, err = pcall(h.perform, h, { method = "GET", url = "http://127.0.0.1:1/" })
    h:close()
    assert.is_false(ok)
    assert.matches("max_body", tostring(err))
  end)

  it("the libcurl transport fills max_body from koodrive.limits for a request without one", function()
    local port = closed_port()
    local t = koodrive.transport.curl()
    local request = { method = "GET", url = "http://127.0.0.1:" .. port .. "/", headers = {}, connect_timeout = 5 }
    local res, err = t:send(request)
    t:close()
    assert.is_nil(res)
    assert.are.equal("connect", err.reason)
    assert.are.equal(limits.MAX_BODY, request.max_body)
  end)
end)

describe("validate.header_line", function()
  it("is the transports' one rule for a header line", function()
    assert.are.equal("v", validate.header_line("X-A", "v"))
    assert.are.equal("12", validate.header_line("X-N", 12))
    for _, bad in ipairs { { "", "v" }, { "X A", "v" }, { "X:A", "v" }, { "X\nA", "v" },
      { "X", "a\r\nb" }, { "X", "a\0b" }, { "X", {} }, { 1, "v" } } do
      assert.is_nil(validate.header_line(bad[1], bad[2]), tostring(bad[1]))
    end
  end)
end)
