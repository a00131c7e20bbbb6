-- Answers of the sharing family: the recorded examples (spec/fixtures/recorded/, copied from
-- the contract's recorded/) replayed through their operations - what is sent matches the
-- recording and what comes back is the documented result -, the same made hostile, and
-- scripted answers: results, the three paging styles, hostile listing and session answers.
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

-- Scripted answers: a transport answering `bodies` (JSON text, or { status, body }) in order,
-- keeping the requests.
local koodrive_mod = require "koodrive"
local function scripted(bodies)
  local t = { requests = {} }
  function t.send(_, req)
    t.requests[#t.requests + 1] = req
    local b = table.remove(bodies, 1)
    if b == nil then return nil, { kind = "transport", reason = "connect", message = "script ended" } end
    if type(b) == "table" then return { status = b.status, body = b.body or "", headers = {} } end
    return { status = 200, body = b, headers = {} }
  end
  return t
end

local function client(transport)
  return assert(koodrive_mod.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID,
    token = "spec-token-value", transport = transport, retries = false })
end

local function query_of(url)
  local q = {}
  for k, v in (url:match("%?(.*)$") or ""):gmatch("([^&=]+)=([^&]*)") do q[k] = v end
  return q
end

describe("sharing results and listings", function()
  it("shares.cancel: 0 and \"0\" cancelled, other codes failed, left-out ids unreported", function()
    local t = scripted { '{"code":0,"subResponseList":[{"shareId":"a","code":0},{"shareId":"b","code":"0"},' ..
      '{"shareId":"c","code":13000309,"msg":"gone"}]}' }
    local r = assert(client(t).shares:cancel({ "a", "b", "c", "d" }))
    assert.are.same({ "a", "b" }, r.cancelled)
    assert.are.same({ { shareId = "c", code = 13000309, msg = "gone" },
      { shareId = "d", code = "KOODRIVE.UNREPORTED", msg = "the service reported neither success nor failure for this share" } },
      r.failed)
    assert.are.same({}, r.uncertain)
  end)

  it("shares.cancel: a numeric share id in the answer is read as its digits", function()
    local t = scripted { '{"subResponseList":[{"shareId":1689759841444195,"code":0}]}' }
    local r = assert(client(t).shares:cancel({ "1689759841444195" }))
    assert.are.same({ "1689759841444195" }, r.cancelled)
  end)

  it("shares.list follows nextCursor through partial and empty pages", function()
    local t = scripted {
      '{"code":0,"shareLinks":[{"shareId":"s1"}],"nextCursor":"p2"}',
      '{"code":0,"shareLinks":[],"nextCursor":"p3"}',
      '{"code":0,"shareLinks":[{"shareId":2},{"shareId":"s3","files":[]}]}',
    }
    local items = assert(client(t).shares:all())
    assert.are.same({ "s1", "2", "s3" }, { items[1].shareId, items[2].shareId, items[3].shareId })
    assert.is_nil(query_of(t.requests[1].url).pageCursor)
    assert.are.equal("p2", query_of(t.requests[2].url).pageCursor)
    assert.are.equal("p3", query_of(t.requests[3].url).pageCursor)
  end)

  it("shares.list: a repeated cursor is an error, not a loop", function()
    local t = scripted { '{"shareLinks":[],"nextCursor":"same"}' }
    local page, err = client(t).shares:list(nil, { cursor = "same" })
    assert.is_nil(page)
    assert.are.equal("decode", err.kind)
  end)

  it("shares.received pages", function()
    local t = scripted { '{"code":"0","shareLinks":[{"shareId":"r1","files":[{"id":"f"}]}],"nextCursor":""}' }
    local page = assert(client(t).shares:received())
    assert.are.equal("r1", page.items[1].shareId)
    assert.is_nil(page.next)
  end)

  it("usergroups.list: first request pageCursor= empty, then nextCursor; ids as strings; total", function()
    local t = scripted {
      '{"code":0,"total":2,"userGroupList":[{"id":17,"groupName":"a","ownerId":"9"}],"nextCursor":"n"}',
      '{"code":0,"total":2,"userGroupList":[{"id":"18","groupName":"b"}]}',
    }
    local c = client(t)
    local pager = c.usergroups:pages({ sourceType = 1 })
    local p1 = assert(pager:next())
    assert.are.equal("17", p1.items[1].id)
    assert.are.equal(2, p1.total)
    local p2 = assert(pager:next())
    assert.are.equal("18", p2.items[1].id)
    assert.is_nil(pager:next())
    assert.matches("[?&]pageCursor=&", t.requests[1].url .. "&")
    assert.are.equal("n", query_of(t.requests[2].url).pageCursor)
  end)

  it("usergroups.members: offset paging ends at total", function()
    local t = scripted {
      '{"code":0,"total":3,"userGroupMemberInfos":[{"userId":"1"},{"userId":"2"}]}',
      '{"code":0,"total":3,"userGroupMemberInfos":[{"userId":3}]}',
    }
    local all = assert(client(t).usergroups:members_all("g1", nil, { page_size = 2 }))
    assert.are.same({ "1", "2", "3" }, { all[1].userId, all[2].userId, all[3].userId })
    assert.are.equal("2", query_of(t.requests[2].url).offset)
    assert.are.equal(2, #t.requests)
  end)

  it("users.list: reads data, falls back to list, ends on a short page", function()
    local t = scripted {
      '{"code":0,"data":[{"userId":"1","name":"a"},{"userId":"2","name":"b"}]}',
      '{"code":0,"list":[{"userId":"3","name":"c","role":1}]}',
    }
    local all = assert(client(t).users:all(nil, { page_size = 2 }))
    assert.are.equal(3, #all)
    assert.are.equal("3", all[3].userId)
    assert.are.equal(2, #t.requests)
  end)

  it("usage.by_user: entries for ids not sent are a contradiction", function()
    local t = scripted { '{"code":0,"total":1,"data":[{"userId":"9","quota":"1","used":2.5}]}' }
    local page, err = client(t).usage:by_user({ "1" })
    assert.is_nil(page)
    assert.matches("not sent", err.message)
  end)

  it("usage.by_user without ids pages over everyone by total", function()
    local t = scripted {
      '{"code":0,"total":3,"data":[{"userId":"1","quota":1024,"used":2.5},{"userId":"2","quota":"5","used":0}]}',
      '{"code":0,"total":3,"data":[{"userId":"3","quota":"5","used":1}]}',
    }
    local all = assert(client(t).usage:by_user_all(nil, nil, { page_size = 2 }))
    assert.are.equal(3, #all)
    assert.are.equal("1024", all[1].quota)
    assert.matches('"offset":2', t.requests[2].body, 1, true)
  end)

  it("backups.record_files: cursor in, nextCursor out, lock id header on every page", function()
    local t = scripted {
      '{"code":0,"data":[{"fileId":"f1","fileName":"a","size":3}],"nextCursor":"k"}',
      '{"code":0,"data":[]}',
    }
    local all = assert(client(t).backups:record_files_all("r1", nil, { backup_lock_id = "L" }))
    assert.are.equal(1, #all)
    assert.are.equal("k", query_of(t.requests[2].url).cursor)
    assert.are.equal("L", t.requests[2].headers["x-backup-lock-id"])
  end)

  it("backups.scopes and add_scopes", function()
    local t = scripted { '{"code":0,"scopeList":[{"localPath":"/a"}]}', '{"code":0,"msg":"ok","extra":1}' }
    local c = client(t)
    assert.are.same({ scopeList = { { localPath = "/a" } } }, c.backups:scopes("d", "100"))
    assert.are.equal(1, assert(c.backups:add_scopes("d", "100", { { localPath = "/a" } })).extra)
  end)

  it("sessions.create: data.accessToken (kept as returned), then the 2024 top-level form", function()
    local t = scripted {
      '{"code":0,"data":{"accessToken":"Bearer abc.def","sessionId":"sid1","userId":"42",' ..
        '"userInfo":{"role":"1","userId":"42","tenantId":7}}}',
      '{"code":"0","accessToken":"Bearer+xyz123","userId":"43","userName":"n"}',
    }
    local c = client(t)
    local s1 = assert(c.sessions:create("code-1"))
    assert.are.equal("Bearer abc.def", s1.accessToken)
    assert.are.equal("sid1", s1.sessionId)
    assert.are.equal("7", s1.userInfo.tenantId)
    assert.not_matches("abc", tostring(s1))
    local s2 = assert(c.sessions:create("code-2"))
    assert.are.equal("Bearer+xyz123", s2.accessToken)
    assert.are.equal("43", s2.userId)
    assert.is_nil(t.requests[1].headers.Authorization)
  end)

  it("sessions.refresh_token: SessionInfo directly in data", function()
    local t = scripted { '{"code":0,"data":{"accessToken":"AT n1","expiresIn":"1800","refreshToken":"r2"}}' }
    local info = assert(client(t).sessions:refresh_token("AT o", "r1"))
    assert.are.same({ "AT n1", 1800, "r2" }, { info.accessToken, info.expiresIn, info.refreshToken })
  end)
end)

describe("hostile listing and session answers are decode errors", function()
  local cases = {
    { "usergroups.list", { { sourceType = 0 } }, '{"userGroupList":[{"id":1.5}]}', "not an id" },
    { "usergroups.list", { { sourceType = 0 } }, '{"userGroupList":[{"id":"a","groupName":7}]}', "groupName" },
    { "usergroups.list", { { sourceType = 0 } }, '{"userGroupList":[],"total":-1}', "total" },
    { "usergroups.list", { { sourceType = 0 } }, '{"userGroupList":[],"nextCursor":5}', "nextCursor" },
    { "shares.list", {}, '{"shareLinks":"x"}', "not an array" },
    { "shares.list", {}, '{"shareLinks":[{"shareId":"a","linkUrl":{}}]}', "linkUrl" },
    { "shares.list", {}, '{"shareLinks":[{"linkUrl":"u"}]}', "shareId" },
    { "usergroups.members", { n = 3, "g", nil, { page_size = 1 } },
      '{"total":9,"userGroupMemberInfos":[{"userId":"1"},{"userId":"2"}]}', "more items" },
    { "usergroups.members", { "g" }, '{"userGroupMemberInfos":[{"userId":true}]}', "userId" },
    { "users.list", {}, '{"data":{"userId":"1"}}', "not an array" },
    { "usage.by_user", {}, '{"data":[{"userId":"1","used":"lots"}]}', "used" },
    { "backups.record_files", { "r" }, '{"data":[{"fileId":"f","size":"12a"}]}', "size" },
    { "backups.scopes", { "d", "100" }, '{"scopeList":[1]}', "scopeList" },
    { "sessions.create", { "c" }, '{"code":0,"data":"Bearer tok-123456"}', "data" },
    { "sessions.create", { "c" }, '{"code":0,"data":{"sessionId":"s"}}', "accessToken" },
    { "sessions.refresh", { "s" }, '{"code":0,"accessToken":""}', "accessToken" },
    { "shares.update", { "s1", { validDays = 1 } }, '{"shareLink":{"shareId":"s2"}}', "not the shareId" },
    { "shares.create", { { scope = 1, fileIds = { "f" }, containerId = "c", validDays = 1 } }, '{"code":0}', "shareLink" },
  }
  for i, case in ipairs(cases) do
    it("#" .. i .. " " .. case[1] .. ": " .. case[4], function()
      local t = scripted { case[3] }
      local c = client(t)
      local service, method = case[1]:match("^(.-)%.(.*)$")
      local args = case[2]
      local result, err = c[service][method](c[service], (table.unpack or unpack)(args, 1, args.n or #args))
      assert.is_nil(result)
      assert.are.equal("decode", err.kind)
      assert.matches(case[4], err.message, 1, true)
    end)
  end

  it("a token in a hostile session answer is not in the error", function()
    local t = scripted { '{"code":0,"data":{"accessToken":7,"refreshToken":"rt-secret-abcdef123"}}' }
    local _, err = client(t).sessions:refresh_token("AT x", "rt-secret-abcdef123")
    assert.are.equal("decode", err.kind)
    assert.not_matches("rt%-secret", tostring(err))
    assert.not_matches("rt%-secret", tostring(err.body))
  end)
end)
