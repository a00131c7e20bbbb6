-- One libcurl easy handle carries request after request (src/transfer.c sets the options all
-- requests share once, and every other option on each request, to its value or its default):
-- nothing a request sets may carry over to the next one. Each case sends a sequence through one
-- handle of the blocking transport and one of a koodrive.loop, to real servers: Debian's nginx
-- echoing what it received, and the TLS endpoints of support.tls_server.
local nginx = require "support.nginx"
local tls_server = require "support.tls_server"
local json = require "koodrive.json"
local kcurl = require "koodrive.curl"
local koodrive = require "koodrive"

local echo, tls

setup(function()
  echo = nginx.start { conf = [[
@MAIN@
events { worker_connections 64; }
http {
  access_log off;
  @TEMP_PATHS@
  lua_package_path "@LUA_PATH@";
  lua_package_cpath "@LUA_CPATH@";
  server {
    listen 127.0.0.1:@PORT@;
    location / {
      content_by_lua_block {
        ngx.req.read_body()
        local body = ngx.req.get_body_data() or ""
        local h = ngx.req.get_headers()
        ngx.header["Content-Type"] = "application/json"
        local seen = { method = ngx.req.get_method(), body = body, length = h["content-length"] or "" }
        ngx.print(require("cjson").encode { code = 0, msg = "success", data = seen,
          method = seen.method, body = seen.body, length = seen.length })
      }
    }
  }
}
]] }
  tls = tls_server.start()
end)
teardown(function()
  if echo then echo.stop() end
  if tls then tls.stop() end
end)

local MAX = 1024 * 1024

local function request(url, fields)
  local r = { method = "GET", url = url, headers = { Accept = "application/json" }, max_body = MAX,
    timeout = 10 }
  for k, v in pairs(fields or {}) do r[k] = v end
  return r
end

-- Sends each request of `list` in turn on one handle; returns the decoded answers (or the
-- failure reasons) in order.
local function through_one_handle(list)
  local h = kcurl.http()
  local out = {}
  for i, r in ipairs(list) do
    local res, reason, message = h:perform(r)
    if res then
      out[i] = res.body ~= "" and json.decode(res.body) or { status = res.status }
      if type(out[i]) ~= "table" then out[i] = {} end
      out[i].ok = true
    else
      out[i] = { failed = reason, message = message }
    end
  end
  h:close()
  return out
end

describe("one easy handle, request after request", function()
  it("sends each request's own method and body, never the last one's", function()
    local u = echo.url .. "/x"
    local got = through_one_handle {
      request(u, { method = "POST", body = '{"a":1}' }),
      request(u),
      request(u, { method = "PUT", body = "put-body" }),
      request(u, { method = "DELETE" }),
      request(u, { method = "HEAD" }),
      request(u),
      request(u, { method = "PATCH", body = "" }),
      request(u, { method = "POST" }),
      request(u),
    }
    assert.are.same({ "POST", '{"a":1}' }, { got[1].method, got[1].body })
    assert.are.same({ "GET", "", "" }, { got[2].method, got[2].body, got[2].length })
    assert.are.same({ "PUT", "put-body" }, { got[3].method, got[3].body })
    assert.are.same({ "DELETE", "" }, { got[4].method, got[4].body })
    assert.are.equal(200, got[5].status) -- HEAD: no body came back
    assert.are.same({ "GET", "", "" }, { got[6].method, got[6].body, got[6].length })
    assert.are.same({ "PATCH", "" }, { got[7].method, got[7].body })
    assert.are.same({ "POST", "", "0" }, { got[8].method, got[8].body, got[8].length })
    assert.are.same({ "GET", "" }, { got[9].method, got[9].body })
  end)

  it("verifies the next request's certificate after one with insecure = true", function()
    local got = through_one_handle {
      request(tls.urls.self_signed, { insecure = true }),
      request(tls.urls.self_signed),
      request(tls.url, { insecure = true }),
      request(tls.url),
    }
    assert.is_true(got[1].ok, got[1].message)
    assert.are.equal("transport", got[2].failed, "a self-signed certificate passed after insecure")
    assert.is_true(got[3].ok, got[3].message)
    assert.are.equal("transport", got[4].failed, "the private CA was trusted without ca_file")
  end)

  it("trusts a ca_file for its own request only, and a new one when it changes", function()
    local other = tls.dir .. "/other-ca.pem"
    local f = assert(io.open(other, "w"))
    f:write("not a certificate\n")
    f:close()
    local got = through_one_handle {
      request(tls.url, { ca_file = tls.ca_file }),
      request(tls.url),
      request(tls.url, { ca_file = tls.ca_file }),
      request(tls.url, { ca_file = other }),
      request(tls.url, { ca_file = tls.ca_file }),
    }
    assert.is_true(got[1].ok, got[1].message)
    assert.are.equal("transport", got[2].failed)
    assert.is_true(got[3].ok, got[3].message)
    assert.are.equal("transport", got[4].failed)
    assert.is_true(got[5].ok, got[5].message)
  end)

  it("drops a proxy, a timeout and fresh_connect once a request no longer names them", function()
    local u = echo.url .. "/y"
    local got = through_one_handle {
      -- a proxy that is not there: that request fails, the next goes straight to the origin
      request(u, { proxy = "http://127.0.0.1:1" }),
      request(u),
      -- a timeout far too short for the answer, then none
      request(u, { timeout = 0.000001 }),
      request(u),
      request(u, { fresh_connect = true }),
      request(u),
    }
    assert.are.equal("transport", got[1].failed)
    assert.are.equal("GET", got[2].method)
    assert.are.equal("GET", got[4].method)
    assert.are.equal("GET", got[5].method)
    assert.are.equal("GET", got[6].method)
  end)

  it("keeps the multi handle's transfers apart the same way (koodrive.loop)", function()
    local c = assert(koodrive.new { endpoint = echo.url, user_id = "1", token = "reuse-token",
      retries = false })
    local loop = koodrive.loop()
    local answers = {}
    loop:spawn(function()
      for i, spec in ipairs {
        { method = "POST", path = "/z", body = { a = 1 } },
        { method = "GET", path = "/z" },
        { method = "DELETE", path = "/z" },
        { method = "GET", path = "/z" },
      } do
        local envelope, err = c:call(spec)
        answers[i] = envelope and envelope.data or { error = tostring(err) }
      end
    end)
    loop:run()
    c:close()
    assert.are.same({ "POST", '{"a":1}' }, { answers[1].method, answers[1].body })
    assert.are.same({ "GET", "", "" }, { answers[2].method, answers[2].body, answers[2].length })
    assert.are.equal("DELETE", answers[3].method)
    assert.are.same({ "GET", "", "" }, { answers[4].method, answers[4].body, answers[4].length })
  end)
end)
