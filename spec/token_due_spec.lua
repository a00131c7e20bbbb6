-- A token_provider that says when its token is due (koodrive.session_tokens does, as its second
-- value) is asked again before the first call past that time; a failed early refresh keeps the
-- current token. Carrier "AT " tokens are sent unchanged.
local koodrive = require "koodrive"

local BODY = '{"code":0,"msg":"success","data":[]}'

local function client(provider)
  local sent = {}
  local t = { send = function(_, req)
    sent[#sent + 1] = req.headers.Authorization
    return { status = 200, body = BODY, headers = {} }
  end }
  local c = assert(koodrive.new { endpoint = "http://127.0.0.1:9", user_id = "1", transport = t,
    token_provider = provider, retries = false })
  return c, sent
end

describe("a token_provider's due time", function()
  it("asks again once the token is due", function()
    local n = 0
    local c, sent = client(function() n = n + 1; return "t" .. n, 0 end)
    assert(c.devices:list())
    assert(c.devices:list())
    assert.are.same({ "Bearer t1", "Bearer t2" }, sent)
  end)

  it("does not ask before", function()
    local n = 0
    local c, sent = client(function() n = n + 1; return "t" .. n, 3600 end)
    assert(c.devices:list())
    assert(c.devices:list())
    assert.are.same({ "Bearer t1", "Bearer t1" }, sent)
  end)

  it("keeps the current token when the early refresh fails", function()
    local n = 0
    local c, sent = client(function()
      n = n + 1
      if n == 2 then error("refresh service down") end
      return "t" .. n, 0
    end)
    assert(c.devices:list())
    assert(c.devices:list())
    assert.are.same({ "Bearer t1", "Bearer t1" }, sent)
    assert.are.equal(2, n)
  end)

  it("ignores a due time that is no number of seconds", function()
    local n = 0
    local c, sent = client(function() n = n + 1; return "t" .. n, "soon" end)
    assert(c.devices:list())
    assert(c.devices:list())
    assert.are.same({ "Bearer t1", "Bearer t1" }, sent)
  end)
end)

describe("carrier access tokens", function()
  it("go out as returned, AT prefix and all", function()
    local c, sent = client(function() return "AT 3b91e0" end)
    assert(c.devices:list())
    assert.are.same({ "AT 3b91e0" }, sent)
  end)
end)
