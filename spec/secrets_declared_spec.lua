-- Values an operation declares secret (op.secrets: the session-create authorization code, a
-- login password, a refresh token) are redacted wherever the pipeline writes text: record
-- cassettes and error snippets, even in fields whose names say nothing (`code`).
local koodrive = require "koodrive"
local fixtures = require "support.fixtures"

local function answering(status, body)
  return { requests = {}, send = function(self, req)
    self.requests[#self.requests + 1] = req
    return { status = status, headers = {}, body = body }
  end }
end

describe("declared secrets", function()
  it("the session-create code stays out of a record cassette", function()
    local path = os.tmpname()
    local inner = answering(200, '{"code":0,"data":{"accessToken":"Bearer t-1234567890","sessionId":"s-12345678"}}')
    local c = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "tok-abcdef",
      transport = koodrive.transport.record(inner, path), retries = false })
    assert(c.sessions:create("org-auth-code-31337", { domain = "d.example" }))
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    os.remove(path)
    assert.matches("d.example", text, 1, true)
    assert.not_matches("31337", text)
    assert.not_matches("t%-1234567890", text)
    assert.not_matches("s%-12345678", text)
  end)

  it("a password echoed in plain text by an error answer is redacted", function()
    local t = answering(400, '{"code":13000102,"msg":"wrong password pw-Correct-Horse-9 for account"}')
    local c = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "tok-abcdef",
      transport = t, retries = false })
    local r, err = c.sessions:login({ account = "a", authType = "1", password = "pw-Correct-Horse-9" }, { agent_name = "x" })
    assert.is_nil(r)
    assert.not_matches("Correct%-Horse", tostring(err))
    assert.not_matches("Correct%-Horse", tostring(err.msg))
  end)

  it("carrier AT tokens are sent unchanged on ordinary calls", function()
    local t = answering(200, '{"code":0,"data":[]}')
    local c = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "AT 3b911d72",
      transport = t, retries = false })
    assert(c.devices:list())
    assert.are.equal("AT 3b911d72", t.requests[1].headers.Authorization)
  end)

  it("koodrive.session_tokens and the sharing bulk helpers are reachable from a client", function()
    assert.is_function(koodrive.session_tokens)
    local c = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "tok-abcdef",
      transport = fixtures.never(), retries = false })
    assert.is_function(c.shares.cancel_many)
    assert.is_function(c.usage.by_user_many)
    assert.is_function(c.usergroups.add_members_many)
    local r, err = c.shares:cancel_many({ "a\n" })
    assert.is_nil(r)
    assert.are.equal("shareIds[1]", err.field)
  end)
end)
