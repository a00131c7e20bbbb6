-- The sharing family's operations (koodrive-sharing-groups-api.md): each request exactly as
-- built (client:prepare_operation), every documented rule refused before anything is sent,
-- the bulk helpers, and what koodrive.secrets knows of the session secrets.
local koodrive = require "koodrive"
local fixtures = require "support.fixtures"
local bulk = require "koodrive.bulk.sharing"

local BASE = fixtures.ENDPOINT .. "/koodrive/ose/v1/"

-- A transport answering `bodies` (JSON text, or { status, body }) in order, keeping requests.
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

local function client(transport, overrides)
  local config = { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "spec-token-value",
    transport = transport or fixtures.never(), retries = false }
  for k, v in pairs(overrides or {}) do config[k] = v or nil end
  return assert(koodrive.new(config))
end

local function query_of(url)
  local q = {}
  for k, v in (url:match("%?(.*)$") or ""):gmatch("([^&=]+)=([^&]*)") do q[k] = v end
  return q
end

describe("sharing requests, exactly", function()
  local c = client()
  local cases = {
    { "shares.create", { { scope = 3, fileIds = { "f1", "f1", "f2" }, containerId = "c1", validDays = 7,
      userIds = { "u1" }, extractCode = "anything", permission = { preview = true } } },
      "POST", "share", {}, { scope = 3, fileIds = { "f1", "f2" }, containerId = "c1", validDays = 7,
      userIds = { "u1" }, extractCode = "anything", permission = { preview = true } } },
    { "shares.list", { { sortType = 4, usage = "minThumbnail" }, { page_size = 20, cursor = "c2" } },
      "GET", "share", { sortType = "4", usage = "minThumbnail", pageSize = "20", pageCursor = "c2" } },
    { "shares.received", {}, "GET", "share/received", {} },
    { "shares.update", { "s1", { validDays = 0, expireTime = "2025-05-29T02:00:39.952Z" }, { agent_name = "op" } },
      "PUT", "share/s1", {}, { validDays = 0, expireTime = "2025-05-29T02:00:39.952Z" }, { ["X-Hw-Agentname"] = "op" } },
    { "shares.cancel", { { "s1", "s2" }, { agent_name = "op" } }, "POST", "share/cancel", {},
      { shareIds = { "s1", "s2" } }, { ["X-Hw-Agentname"] = "op" } },
    { "usergroups.create", { { groupName = "设计 team", sourceType = 0 } }, "POST", "usergroups", {},
      { groupName = "设计 team", sourceType = 0 } },
    { "usergroups.list", { { sourceType = 1 } }, "GET", "usergroups",
      { pageSize = "100", pageCursor = "", sourceType = "1" } },
    { "usergroups.list", { { sourceType = 0, groupName = "a" }, { cursor = "n1", page_size = 5 } }, "GET", "usergroups",
      { pageSize = "5", pageCursor = "n1", sourceType = "0", groupName = "a" } },
    { "usergroups.update", { "g1", { groupName = "x", sourceType = 1, top = "0", userId = "0012" } }, "PUT",
      "usergroups/g1", {}, { groupName = "x", sourceType = 1, top = "0", userId = "12" } },
    { "usergroups.delete", { "g1" }, "DELETE", "usergroups/g1", {} },
    { "usergroups.members", { "g1" }, "GET", "usergroups/g1/members", { offset = "0", limit = "100" } },
    { "usergroups.members", { "g1", { keyWord = "li" }, { cursor = 200, page_size = 50 } }, "GET",
      "usergroups/g1/members", { offset = "200", limit = "50", keyWord = "li" } },
    { "users.list", {}, "GET", "userList", { offset = "0", limit = "100" } },
    { "users.list", { { deptId = "d9", isDirect = false, keyWord = "x" }, { page_size = 10, cursor = 30 } }, "GET",
      "userList", { deptId = "d9", isDirect = "false", keyWord = "x", offset = "30", limit = "10" } },
    { "users.create", { "1008600000029937613", { deptId = "d1", role = 1 } }, "POST", "users", {},
      { userId = "1008600000029937613", modifyUserInfoReq = { deptId = "d1", role = 1 } } },
    { "usage.by_user", { { "1", "2", "1" } }, "POST", "space/usage/user", {},
      { userIds = { "1", "2" }, offset = 0, limit = 50 } },
    { "usage.by_user", { n = 3, nil, nil, { cursor = 50, page_size = 25 } }, "POST", "space/usage/user", {},
      { offset = 50, limit = 25 } },
    { "backups.add_scopes", { "d1", "102", { { localPath = "/sdcard" } } }, "POST", "backup/device/d1/scope", {},
      { moduleCode = "102", scopeList = { { localPath = "/sdcard" } } } },
    { "backups.scopes", { "d1", "100" }, "GET", "backup/device/d1/scope", { moduleCode = "100" } },
    { "backups.record_files", { n = 3, "r1", nil, { backup_lock_id = "L1" } }, "GET", "backup/record/r1/files",
      { pageSize = "100" }, nil, { ["x-backup-lock-id"] = "L1" } },
    { "sessions.create", { "the-code-1", { domain = "drive.example.com" } }, "POST", "session/", {},
      { code = "the-code-1", domain = "drive.example.com" }, nil, "none" },
    { "sessions.refresh", { "sid-12345678" }, "POST", "session/refresh", {}, nil, { ["x-session-id"] = "sid-12345678" } },
    { "sessions.logoff", {}, "GET", "session/logoff", {} },
    { "sessions.login", { { account = "0027", authType = "2", captchaToken = "cap-1234" }, { agent_name = "ag" } },
      "POST", "auth/login", {}, { account = "0027", authType = "2", captchaToken = "cap-1234" },
      { ["x-hw-agentName"] = "ag" }, "none" },
    { "sessions.refresh_token", { "AT abc12345", "rt-1" }, "POST", "auth/refreshToken", {},
      { refreshToken = "rt-1" }, { Authorization = "AT abc12345" }, "AT abc12345" },
    { "sessions.refresh_token", { "abc12345", "rt-1" }, "POST", "auth/refreshToken", {},
      { refreshToken = "rt-1" }, { Authorization = "AT abc12345" }, "AT abc12345" },
  }
  local json = require "koodrive.json"
  for i, case in ipairs(cases) do
    local name, args, method, path, query, body, headers, auth =
      case[1], case[2], case[3], case[4], case[5], case[6], case[7], case[8]
    it("#" .. i .. " " .. name, function()
      local req = assert(c:prepare_operation(name, (table.unpack or unpack)(args, 1, args.n or #args)))
      assert.are.equal(method, req.method)
      assert.are.equal(BASE .. path, req.url:match("^[^?]*"))
      assert.are.same(query, query_of(req.url))
      if body then assert.are.same(body, json.decode(req.body)) else assert.are.equal("", req.body) end
      for k, v in pairs(headers or {}) do assert.are.equal(v, req.headers[k]) end
      if auth == "none" then
        assert.is_nil(req.headers.Authorization)
      elseif auth then
        assert.are.equal(auth, req.headers.Authorization)
      else
        assert.are.equal("Bearer spec-token-value", req.headers.Authorization)
      end
      assert.are.equal(fixtures.USER_ID, req.headers["X-User-Id"])
    end)
  end

  it("add_members: exact integers, template only when given, capabilities passed", function()
    local req = assert(c:prepare_operation("usergroups.add_members", "g1", { "3432423464657862424",
      { userId = "132543141414141414", template = "-1", capabilities = { copyPermission = true } },
      { userId = "9223372036854775807", template = 12 } }))
    -- Exact integers in the text (long ones decode as strings, digit for digit).
    for _, piece in ipairs { '{"userId":3432423464657862424}', '"userId":132543141414141414',
      '"template":-1', '"userId":9223372036854775807', '"template":12' } do
      assert.matches(piece, req.body, 1, true)
    end
    assert.are.same({ amendModRoles = {
      { userId = "3432423464657862424" },
      { userId = "132543141414141414", template = -1, capabilities = { copyPermission = true } },
      { userId = "9223372036854775807", template = 12 } } }, require("koodrive.json").decode(req.body))
  end)

  it("users.create sends modifyUserInfoReq as an object {} when none is given", function()
    local req = assert(c:prepare_operation("users.create", "42"))
    assert.matches('"modifyUserInfoReq":{}', req.body, 1, true)
  end)
end)

describe("sharing validation, before anything is sent", function()
  local t = fixtures.never()
  local c = client(t)
  local hundred_one, fifty_one = {}, {}
  for i = 1, 101 do
    hundred_one[i] = "id" .. i
    if i <= 51 then fifty_one[i] = tostring(i) end
  end
  local share = function(over)
    local r = { scope = 1, fileIds = { "f" }, containerId = "c", validDays = 1 }
    for k, v in pairs(over) do r[k] = v end
    return r
  end
  local cases = {
    { "shares.create", { share { validDays = 0 } }, "validDays", "range" },
    { "shares.create", { share { validDays = 366 } }, "validDays", "range" },
    { "shares.create", { share { validDays = 1.5 } }, "validDays", "type" },
    { "shares.create", { share { scope = 4 } }, "scope", "enum" },
    { "shares.create", { share { fileIds = hundred_one } }, "fileIds", "length" },
    { "shares.create", { share { fileIds = {} } }, "fileIds", "length" },
    { "shares.create", { share { fileIds = { "a\nb" } } }, "fileIds[1]", "control" },
    { "shares.create", { share { comment = string.rep("é", 512) } }, "comment", "length" },
    { "shares.create", { share { permission = { share = true } } }, "permission.share", "unknown_option" },
    { "shares.create", { share { colour = 1 } }, "req.colour", "unknown_option" },
    { "shares.create", { { scope = 1, fileIds = { "f" }, validDays = 1 } }, "containerId", "required" },
    { "shares.list", { { usage = "huge" } }, "usage", "enum" },
    { "shares.list", { { pageSize = 10 } }, "query.pageSize", "unknown_option" },
    { "shares.list", { n = 2, nil, { page_size = 101 } }, "page_size", "range" },
    { "shares.received", { { usage = "minThumbnail" } }, "query.usage", "unknown_option" },
    { "shares.update", { "s1", { validDays = 366 } }, "validDays", "range" },
    { "shares.update", { "s1", {} }, "validDays", "required" },
    { "shares.update", { "../x", { validDays = 1 } }, "shareId", "path_segment" },
    { "shares.update", { "s1", { validDays = 1 }, { agent_name = "a\r\nX: y" } }, "agent_name", "header_value" },
    { "shares.cancel", { hundred_one }, "shareIds", "length" },
    { "shares.cancel", { {} }, "shareIds", "length" },
    { "usergroups.create", { { groupName = "a/b", sourceType = 0 } }, "groupName", "characters" },
    { "usergroups.create", { { groupName = "a|b", sourceType = 0 } }, "groupName", "characters" },
    { "usergroups.create", { { groupName = "..", sourceType = 0 } }, "groupName", "name" },
    { "usergroups.create", { { groupName = "", sourceType = 0 } }, "groupName", "length" },
    { "usergroups.create", { { groupName = string.rep("组", 31), sourceType = 0 } }, "groupName", "length" },
    { "usergroups.create", { { groupName = "team \240\159\154\128", sourceType = 0 } }, "groupName", "emoji" },
    { "usergroups.create", { { groupName = "ok\226\152\128", sourceType = 0 } }, "groupName", "emoji" },
    { "usergroups.create", { { groupName = "bad\255", sourceType = 0 } }, "groupName", "utf8" },
    { "usergroups.create", { { groupName = "ok", sourceType = 2 } }, "sourceType", "enum" },
    { "usergroups.create", { { groupName = "ok" } }, "sourceType", "required" },
    { "usergroups.list", { {} }, "sourceType", "required" },
    { "usergroups.list", { n = 1, nil }, "query", "type" },
    { "usergroups.update", { "g1", { groupName = "x", sourceType = 0, top = 1 } }, "top", "enum" },
    { "usergroups.members", { n = 3, "g1", nil, { cursor = "abc" } }, "cursor", "type" },
    { "usergroups.add_members", { "g1", { "12", "12" } }, "members[2]", "duplicate" },
    { "usergroups.add_members", { "g1", { "12x" } }, "members[1]", "user_id" },
    { "usergroups.add_members", { "g1", { { userId = "1", template = 1.5 } } }, "template", "type" },
    { "usergroups.add_members", { "g1", { { userId = "1", capabilities = { copy = 1 } } } }, "capabilities.copy", "type" },
    { "usergroups.add_members", { "g1", { { template = 1 } } }, "userId", "required" },
    { "users.create", { "not-a-user" }, "userId", "user_id" },
    { "users.create", { "1", { role = "admin" } }, "role", "type" },
    { "users.list", { { isDirect = "yes" } }, "isDirect", "type" },
    { "usage.by_user", { fifty_one }, "userIds", "length" },
    { "usage.by_user", { { "1" }, { limit = 5 } }, "query.limit", "unknown_option" },
    { "backups.add_scopes", { "d", "103", { {} } }, "moduleCode", "enum" },
    { "backups.add_scopes", { "d", "100", {} }, "scopeList", "length" },
    { "backups.add_scopes", { "d", "100", { "path" } }, "scopeList[1]", "type" },
    { "backups.scopes", { "d" }, "moduleCode", "enum" },
    { "backups.record_files", { n = 3, "r", nil, { page_size = 0 } }, "page_size", "range" },
    { "backups.record_files", { n = 3, "r", nil, { cursor = string.rep("c", 1001) } }, "cursor", "length" },
    { "sessions.create", { "" }, "code", "length" },
    { "sessions.create", { "c", { domain = 5 } }, "domain", "type" },
    { "sessions.refresh", { "sid\n" }, "sessionId", "header_value" },
    { "sessions.login", { { account = "a", authType = "1" }, { agent_name = "x" } }, "password", "required" },
    { "sessions.login", { { account = "a", authType = 1, password = "p" }, { agent_name = "x" } }, "authType", "enum" },
    { "sessions.login", { { account = "a", authType = "1", password = "p" } }, "agent_name", "required" },
    { "sessions.refresh_token", { n = 2, "AT x", nil }, "refreshToken", "type" },
  }
  for i, case in ipairs(cases) do
    it("#" .. i .. " " .. case[1] .. " refuses " .. case[3] .. " (" .. case[4] .. ")", function()
      local args = case[2]
      local unpack = table.unpack or unpack
      local ok, err = c:check_operation(case[1], unpack(args, 1, args.n or #args))
      assert.is_nil(ok)
      assert.are.equal("validation", err.kind)
      assert.are.equal(case[3], err.field)
      assert.are.equal(case[4], err.rule)
      local service, method = case[1]:match("^(.-)%.(.*)$")
      local result, cerr = c[service][method](c[service], unpack(args, 1, args.n or #args))
      assert.is_nil(result)
      assert.are.equal(case[4], cerr.rule)
      assert.are.equal(case[1], cerr.operation)
    end)
  end

  it("no message repeats a secret it refused", function()
    local _, err = c:check_operation("sessions.refresh_token", "AT secret-token-\0001", "rt-value-secret")
    assert.not_matches("secret%-token", tostring(err))
    _, err = c:check_operation("sessions.login", { account = "a", authType = "1", password = "pw-very\nsecret" },
      { agent_name = "x" })
    assert.not_matches("very", tostring(err))
  end)

  it("sent nothing", function()
    assert.are.same({}, t.requests)
  end)
end)

describe("sharing bulk helpers", function()
  local function ids(n, prefix)
    local out = {}
    for i = 1, n do out[i] = (prefix or "") .. i end
    return out
  end

  it("cancel_many splits 250 ids into 100, 100, 50 and accounts for each", function()
    local t = { requests = {} }
    function t.send(_, req)
      t.requests[#t.requests + 1] = req
      local body = require("koodrive.json").decode(req.body)
      local items = {}
      for _, id in ipairs(body.shareIds) do
        if id ~= "s7" then items[#items + 1] = string.format('{"shareId":"%s","code":%d}', id, id == "s8" and 5 or 0) end
      end
      return { status = 200, headers = {}, body = '{"code":0,"subResponseList":[' .. table.concat(items, ",") .. ']}' }
    end
    local list = ids(250, "s")
    list[251] = "s1" -- a repeat is sent once
    local r = assert(bulk.cancel_shares(client(t).shares, list, { concurrency = 2, agent_name = "op" }))
    assert.are.equal(3, r.calls)
    assert.are.equal(3, #t.requests)
    assert.are.equal(248, #r.cancelled)
    assert.are.equal(2, #r.failed)
    local failed = {}
    for _, f in ipairs(r.failed) do failed[f.shareId] = f.code end
    assert.are.same({ s7 = "KOODRIVE.UNREPORTED", s8 = 5 }, failed)
    assert.are.equal("op", t.requests[1].headers["X-Hw-Agentname"])
  end)

  it("cancel_many: a call that fails reports each of its ids; a bad id sends nothing", function()
    local t = scripted { { status = 500, body = '{"code":13000102,"msg":"bad"}' }, '{"code":0}' }
    local r = assert(bulk.cancel_shares(client(t).shares, ids(150), { concurrency = 1 }))
    assert.are.equal(150, #r.failed)
    assert.are.equal(13000102, r.failed[1].code)
    assert.are.equal("1", r.failed[1].shareId)
    -- The second call's answer names no share: each of its 50 is failed as unreported.
    assert.are.equal("KOODRIVE.UNREPORTED", r.failed[101].code)
    assert.are.equal("101", r.failed[101].shareId)
    assert.are.same({}, r.cancelled)
    local never = fixtures.never()
    local bad = ids(150)
    bad[140] = "x\n"
    local none, err = bulk.cancel_shares(client(never).shares, bad)
    assert.is_nil(none)
    assert.are.equal("shareIds[140]", err.field)
    assert.are.same({}, never.requests)
  end)

  it("by_user_many: 120 ids in calls of 50; ids without an entry are missing", function()
    local t = { requests = {} }
    function t.send(_, req)
      t.requests[#t.requests + 1] = req
      local body = require("koodrive.json").decode(req.body)
      local items = {}
      for _, id in ipairs(body.userIds) do
        if id ~= "77" then items[#items + 1] = string.format('{"userId":"%s","quota":"1","used":0}', id) end
      end
      return { status = 200, headers = {}, body = '{"code":0,"total":' .. #items .. ',"data":[' .. table.concat(items, ",") .. ']}' }
    end
    local r = assert(bulk.usage_by_user(client(t).usage, ids(120)))
    assert.are.equal(3, #t.requests)
    assert.are.equal(119, #r.usage)
    assert.are.same({ "77" }, r.missing)
    assert.are.same({}, r.failed)
  end)

  it("add_members_many: 230 members in calls of 100, refusals and failed calls per id", function()
    local n = 0
    local t = { requests = {} }
    function t.send(_, req)
      t.requests[#t.requests + 1] = req
      n = n + 1
      if n == 1 then return { status = 200, headers = {}, body = '{"code":0,"status":1,"failedList":["5"]}' } end
      if n == 2 then return { status = 200, headers = {}, body = '{"code":0}' } end
      return { status = 400, headers = {}, body = '{"code":13000102,"msg":"no"}' }
    end
    local r = assert(bulk.add_members(client(t).usergroups, "g1", ids(230), { concurrency = 1 }))
    assert.are.equal(3, r.calls)
    assert.are.equal(199, #r.added)
    assert.are.equal(1 + 30, #r.failed)
    assert.are.same({ userId = "5", refused = true }, r.failed[1])
    assert.are.equal(13000102, r.failed[2].code)
    assert.are.same({}, r.uncertain)
  end)
end)

describe("koodrive.secrets knows the session secrets", function()
  local vault = require "koodrive.secrets"

  it("x-session-id is a secret header; sessionId and the token fields are secret names", function()
    assert.is_true(vault.header("X-Session-Id"))
    for _, name in ipairs { "sessionId", "session_id", "accessToken", "refreshToken", "captchaToken", "password" } do
      assert.is_true(vault.name(name), name)
    end
    assert.is_false(vault.name("code"))
    assert.is_false(vault.name("userId"))
  end)

  it("JSON fields of a login answer are redacted in text", function()
    local text = '{"data":{"sessionInfo":{"accessToken":"AT 3b911d72300","refreshToken":"0e0e72d3c7e9"},' ..
      '"sessionId":"sid-123456"}}'
    local out = vault.redact(text, {})
    assert.not_matches("3b911d72", out)
    assert.not_matches("0e0e72d3", out)
    assert.not_matches("sid%-123456", out)
  end)

  it("values an operation declares for a request (request.secrets) are redacted", function()
    local values = vault.values(nil, { headers = {}, secrets = { "org-auth-code-123" } })
    assert.matches("<redacted>", vault.redact('{"code":"org-auth-code-123"}', values))
    assert.not_matches("org%-auth", vault.redact("echo org-auth-code-123", values))
  end)

  it("a recorded session refresh keeps the session id out of the cassette", function()
    local path = os.tmpname()
    local t = scripted { '{"code":0,"msg":"ok","accessToken":"Bearer tok-2-0123456789abcdef"}' }
    local record = koodrive.transport.record(t, path)
    local c = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID, token = "tok-1-abcdef",
      transport = record, retries = false })
    assert(c.sessions:refresh("sid-secret-98765"))
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    os.remove(path)
    assert.not_matches("sid%-secret", text)
    assert.not_matches("tok%-%d", text)
  end)
end)
