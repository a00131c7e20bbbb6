-- The recorded examples of the sharing family (spec/fixtures/recorded/, copied from the
-- contract's recorded/) replayed through their operations: what is sent matches the
-- recording (method, path, headers, body) and what comes back is the documented result.
local fixtures = require "support.fixtures"

local GROUP = "369528171409614001"
local IDS = { "3432423464657862424", "132543141414141414" }

describe("recorded sharing examples replay through their operations", function()
  it("share-cancel: the share is reported cancelled, X-Hw-Agentname sent", function()
    local client, t = fixtures.client("share-cancel")
    local result = assert(client.shares:cancel({ "1689759841444195840" }, { agent_name = "<carrier name>" }))
    assert.are.same({ "1689759841444195840" }, result.cancelled)
    assert.are.same({}, result.failed)
    assert.are.equal("<carrier name>", t.requests[1].headers["X-Hw-Agentname"])
    assert.are.same({}, t:unused())
  end)

  it("share-cancel: without the agent header the recording does not match", function()
    local client = fixtures.client("share-cancel")
    assert.has_error(function() client.shares:cancel({ "1689759841444195840" }) end)
  end)

  it("usergroups-create: the new id comes from `id`", function()
    local client, t = fixtures.client("usergroups-create")
    local result = assert(client.usergroups:create({ groupName = "Design team", sourceType = 1 }))
    assert.are.same({ id = "xxx", failedList = {} }, result)
    assert.are.equal("POST", t.requests[1].method)
  end)

  it("usergroups-update: the plural path, the table's body", function()
    local client, t = fixtures.client("usergroups-update")
    local result = assert(client.usergroups:update("1289173650183882753", { groupName = "123", sourceType = 0 }))
    assert.are.same({ groupId = "1289173650183882753" }, result)
    assert.matches("/koodrive/ose/v1/usergroups/1289173650183882753$", t.requests[1].url)
  end)

  it("usergroups-delete: both documented answers (msg OK and Success)", function()
    local client, t = fixtures.client("usergroups-delete")
    for _ = 1, 2 do
      local result = assert(client.usergroups:delete("1289173650183882753"))
      assert.are.equal("1289173650183882753", result.groupId)
    end
    assert.are.equal("", t.requests[1].body or "")
    assert.are.same({}, t:unused())
  end)

  it("usergroups-add-members: amendModRoles with exact integers; no status means all added", function()
    local client, t = fixtures.client("usergroups-add-members")
    local result = assert(client.usergroups:add_members(GROUP, IDS))
    assert.are.same({ status = 0, failedList = {}, added = IDS, uncertain = {} }, result)
    assert.are.equal('{"amendModRoles":[{"userId":3432423464657862424},{"userId":132543141414141414}]}',
      t.requests[1].body)
  end)

  it("usergroups-delete-members: still replays through the moved entry", function()
    local client = fixtures.client("usergroups-delete-members", "partly deleted")
    local result = assert(client.usergroups:delete_members(GROUP, IDS))
    assert.are.same({ "132543141414141414" }, result.failedList)
    assert.are.same({ "3432423464657862424" }, result.deleted)
  end)

  it("users-create: modifyUserInfoReq is sent as {} when not given", function()
    local client, t = fixtures.client("users-create")
    local result = assert(client.users:create("1008600000029937613"))
    assert.are.same({}, result)
    assert.matches('"modifyUserInfoReq":{}', t.requests[1].body, 1, true)
  end)

  it("session-logoff: GET with the current token", function()
    local client, t = fixtures.client("session-logoff")
    local result = assert(client.sessions:logoff())
    assert.are.same({ failedList = {} }, result)
    assert.are.equal("Bearer spec-token-value", t.requests[1].headers.Authorization)
  end)

  it("auth-login: no credentials sent, x-hw-agentName, the session info read", function()
    local client, t = fixtures.client("auth-login")
    local result = assert(client.sessions:login({ account = "0027188460911", authType = "1",
      password = "<redacted>" }, { agent_name = "<agent name>" }))
    assert.is_nil(t.requests[1].headers.Authorization)
    assert.are.equal("<agent name>", t.requests[1].headers["x-hw-agentName"])
    local info = result.sessionInfo
    assert.are.equal("AT 3b911d723003f70a1265124148fdfe486c108b64bf8d0de3", info.accessToken)
    assert.are.equal(1800, info.expiresIn)
    assert.are.equal("1772006999088", info.issuedAt)
    assert.are.equal("0e0e72d3c7e9e4444df6bc3fb111eaee18eb7b2393a939cb", info.refreshToken)
    assert.are.equal("1882575898755117312", result.userInfo.userId)
    -- The result holds tokens: printing it shows none of them.
    assert.not_matches("3b911d72", tostring(result))
    assert.not_matches("0e0e72d3", tostring(result.sessionInfo))
  end)

  it("auth-refresh-token: Authorization is the AT token unchanged; data.sessionInfo read", function()
    local client, t = fixtures.client("auth-refresh-token")
    local at = "AT 3b911d723003f70a1265124148fdfe486c108b64bf8d0de3"
    local info = assert(client.sessions:refresh_token(at, "0e0e72d3c7e9e4444df6bc3fb111eaee18eb7b2393a939cb"))
    assert.are.equal(at, t.requests[1].headers.Authorization)
    assert.are.equal(at, info.accessToken)
    assert.are.equal(1800, info.expiresIn)
  end)
end)

describe("recorded answers made hostile are decode errors, never a success", function()
  -- A cassette with the recorded request of `name` and another response body.
  local koodrive = require "koodrive"
  local json = require "koodrive.json"
  local function hostile(name, body_raw, status)
    local f = assert(io.open(fixtures.cassette(name), "rb"))
    local cassette = assert(json.decode(f:read("*a")))
    f:close()
    local it = cassette.interactions[1]
    it.response.body, it.response.body_raw = nil, body_raw
    it.response.status = status or 200
    local t = koodrive.transport.replay({ interactions = { it } })
    return assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID,
      token = "spec-token-value", transport = t, retries = false })
  end

  local cases = {
    { "share-cancel", '{"code":0,"subResponseList":[{"shareId":"999","code":0}]}', "not sent" },
    { "share-cancel", '{"code":0,"subResponseList":{"shareId":"1689759841444195840"}}', "not an array" },
    { "share-cancel", '{"code":0,"subResponseList":[{"shareId":"1689759841444195840","code":"zero"}]}',
      "not an integer" },
    { "share-cancel", '{"code":0,"subResponseList":[{"shareId":"1689759841444195840","code":0},' ..
      '{"shareId":"1689759841444195840","code":5}]}', "contradicts" },
    { "usergroups-create", '{"code":0,"msg":"OK"}', "id" },
    { "usergroups-create", '{"code":0,"id":{"x":1}}', "id" },
    { "usergroups-create", '{"code":0,"id":"g","failedList":"a"}', "failedList" },
    { "usergroups-add-members", '{"code":0,"status":0,"failedList":["3432423464657862424"]}', "contradicts" },
    { "usergroups-add-members", '{"code":0,"failedList":["1"]}', "not sent" },
    { "usergroups-add-members", '{"code":0,"status":7}', "status" },
    { "users-create", '{"code":0,"data":[1]}', "data" },
    { "session-logoff", '{"code":0,"failedList":[1]}', "failedList" },
    { "auth-login", '{"code":0,"data":{"sessionInfo":{"expiresIn":1800}}}', "accessToken" },
    { "auth-login", '{"code":0,"data":{"sessionInfo":{"accessToken":"AT x","expiresIn":"soon"}}}', "expiresIn" },
    { "auth-login", '{"code":0,"data":"AT 3b911d72"}', "data" },
    { "auth-refresh-token", '{"code":0,"data":{"sessionInfo":{"accessToken":7}}}', "accessToken" },
  }
  local calls = {
    ["share-cancel"] = function(c) return c.shares:cancel({ "1689759841444195840" }, { agent_name = "<carrier name>" }) end,
    ["usergroups-create"] = function(c) return c.usergroups:create({ groupName = "Design team", sourceType = 1 }) end,
    ["usergroups-add-members"] = function(c) return c.usergroups:add_members(GROUP, IDS) end,
    ["users-create"] = function(c) return c.users:create("1008600000029937613") end,
    ["session-logoff"] = function(c) return c.sessions:logoff() end,
    ["auth-login"] = function(c)
      return c.sessions:login({ account = "0027188460911", authType = "1", password = "<redacted>" },
        { agent_name = "<agent name>" })
    end,
    ["auth-refresh-token"] = function(c)
      return c.sessions:refresh_token("AT 3b911d72", "0e0e72d3c7e9e4444df6bc3fb111eaee18eb7b2393a939cb")
    end,
  }
  for i, case in ipairs(cases) do
    it("#" .. i .. " " .. case[1] .. ": " .. case[3], function()
      local result, err = calls[case[1]](hostile(case[1], case[2]))
      assert.is_nil(result)
      assert.are.equal("decode", err.kind)
      assert.matches(case[3], err.message, 1, true)
      assert.is_true(err.uncertain)
    end)
  end

  it("a non-zero envelope code is an api error, whatever the status", function()
    local result, err = calls["usergroups-create"](hostile("usergroups-create", '{"code":13000102,"msg":"bad"}'))
    assert.is_nil(result)
    assert.are.equal("api", err.kind)
    assert.are.equal(13000102, err.code)
  end)

  it("an HTML gateway page on 502 is an http error", function()
    local result, err = calls["session-logoff"](hostile("session-logoff", "<html>bad gateway</html>", 502))
    assert.is_nil(result)
    assert.are.equal("http", err.kind)
  end)

  it("a token echoed in an error answer is redacted", function()
    local result, err = calls["auth-refresh-token"](hostile("auth-refresh-token",
      '{"code":13000102,"msg":"bad refreshToken=0e0e72d3c7e9e4444df6bc3fb111eaee18eb7b2393a939cb"}'))
    assert.is_nil(result)
    assert.not_matches("0e0e72d3c7e9", tostring(err))
    assert.not_matches("0e0e72d3c7e9", tostring(err.msg))
  end)
end)
