-- The local service's sharing-and-groups routes (koodrive-sharing-groups-api.md): shares,
-- user groups, users, space usage, backups (token and app mode), and sessions and carrier
-- tokens (no auth, issued tokens, expiry and refresh). Driven through client:call, and
-- client:prepare + LuaSocket where the status or the raw answer matters.
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"
local cjson = require("cjson").new()
local http = require "socket.http"
local ltn12 = require "ltn12"
local socket = require "socket"

local KD = creds.koodrive
local USER, CID, GROUP = KD.user_id, KD.space.containerId, KD.group_id
local MEMBER = KD.group_members[2]
local DOCS, README = "FlocalDocs0000000000000000000000001", "FlocalReadme00000000000000000000001"
local V1 = "/koodrive/ose/v1/"

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)

local function raw(method, url, body, headers)
  local out = {}
  headers = headers or {}
  headers["Content-Length"] = tostring(#(body or ""))
  local _, status = http.request { url = url, method = method, headers = headers,
    source = body and ltn12.source.string(body) or nil, sink = ltn12.sink.table(out) }
  local ok, doc = pcall(cjson.decode, table.concat(out))
  return status, ok and doc or nil
end

local function control(path)
  assert.are.equal(200, (raw("POST", server.url .. path)))
end

local function client(mode, user, token)
  local config = { endpoint = server.url, user_id = user or USER, timeout = 10, connect_timeout = 5 }
  if mode == "token" then
    config.token = token or "local-token-alice"
  else
    config.app_id, config.app_secret = next(KD.apps)
  end
  return assert(koodrive.new(config))
end

local function send(c, spec)
  local req = assert(c:prepare(spec))
  local headers = {}
  for k, v in pairs(req.headers) do headers[k] = v end
  return raw(req.method, req.url, req.body ~= "" and req.body or nil, headers)
end

-- Without credentials (session create, carrier login and refresh).
local function bare(path, body, headers)
  headers = headers or {}
  headers["Content-Type"] = "application/json"
  return raw("POST", server.url .. V1 .. path, cjson.encode(body), headers)
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function ids_of(list, field)
  local out = {}
  for i, x in ipairs(list) do out[i] = x[field] end
  return out
end

local function share(c, name_id, users)
  return assert(c:call { method = "POST", path = V1 .. "share", body = { scope = 3, fileIds = { name_id },
    containerId = CID, validDays = 7, userIds = users } }).shareLink
end

for _, mode in ipairs { "token", "app" } do
  describe("local KooDrive sharing in " .. mode .. " mode", function()
    before_each(function() control("/_local/reset") end)

    it("creates, lists (mine and received), updates and cancels shares", function()
      local c = client(mode)
      local a = share(c, DOCS, { MEMBER })
      assert.are.same({ "comment", "expireTime", "extractCode", "linkUrl", "shareId", "shortUrl" }, keys(a))
      local b = share(c, README, {})
      local p1 = assert(c:call { method = "GET", path = V1 .. "share", query = { pageSize = 1 } })
      assert.are.same({ b.shareId }, ids_of(p1.shareLinks, "shareId"))     -- newest first
      local p2 = assert(c:call { method = "GET", path = V1 .. "share", query = { pageSize = 1, pageCursor = p1.nextCursor } })
      assert.are.same({ a.shareId }, ids_of(p2.shareLinks, "shareId"))
      assert.are.equal("", p2.nextCursor)
      assert.are.equal("Documents", p2.shareLinks[1].files[1].fileName)
      local got = assert(client(mode, MEMBER):call { method = "GET", path = V1 .. "share/received" })
      assert.are.same({ a.shareId }, ids_of(got.shareLinks, "shareId"))
      assert.are.same({}, assert(c:call { method = "GET", path = V1 .. "share/received" }).shareLinks)
      local up = assert(c:call { method = "PUT", path = V1 .. "share/" .. a.shareId,
        body = { validDays = 30, extractCode = "abcd1234", comment = "new" } })
      assert.are.same({ a.shareId, "abcd1234", "new" },
        { up.shareLink.shareId, up.shareLink.extractCode, up.shareLink.comment })
      local _, err = c:call { method = "PUT", path = V1 .. "share/123", body = { validDays = 1 } }
      assert.are.equal(13000309, err.code)
      _, err = c:call { method = "PUT", path = V1 .. "share/" .. a.shareId, body = { validDays = 1, extractCode = "short" } }
      assert.are.equal(13000102, err.code)
      local r = assert(c:call { method = "POST", path = V1 .. "share/cancel", body = { shareIds = { a.shareId, "999", a.shareId } } })
      assert.are.same({ a.shareId, "999" }, ids_of(r.subResponseList, "shareId"))
      assert.are.same({ 0, 13000309 }, ids_of(r.subResponseList, "code"))
      assert.are.same({ b.shareId }, ids_of(assert(c:call { method = "GET", path = V1 .. "share" }).shareLinks, "shareId"))
      for _, bad in ipairs { { scope = 3, fileIds = { DOCS }, containerId = CID, validDays = 0 },
        { scope = 4, fileIds = { DOCS }, containerId = CID, validDays = 1 },
        { scope = 3, fileIds = {}, containerId = CID, validDays = 1 } } do
        _, err = c:call { method = "POST", path = V1 .. "share", body = bad }
        assert.are.equal(13000102, err.code)
      end
      _, err = c:call { method = "POST", path = V1 .. "share",
        body = { scope = 3, fileIds = { "nope" }, containerId = CID, validDays = 1 } }
      assert.are.equal(13000309, err.code)
    end)

    it("creates, lists, updates and deletes user groups", function()
      local c = client(mode)
      local created = assert(c:call { method = "POST", path = V1 .. "usergroups", body = { groupName = "Design team", sourceType = 1 } })
      assert.are.same({ "code", "id", "msg" }, keys(created))
      local second = assert(c:call { method = "POST", path = V1 .. "usergroups", body = { groupName = "Ops", sourceType = 1 } })
      local function page(cursor, size)
        return assert(c:call { method = "GET", path = V1 .. "usergroups",
          query = { pageSize = size or 1, pageCursor = cursor or "", sourceType = 1 } })
      end
      local p1 = page()
      assert.are.same({ 2, { created.id } }, { p1.total, ids_of(p1.userGroupList, "id") })
      local p2 = page(p1.nextCursor)
      assert.are.same({ second.id }, ids_of(p2.userGroupList, "id"))
      assert.are.equal("", p2.nextCursor)
      assert.are.equal(USER, p2.userGroupList[1].ownerId)
      local zero = assert(c:call { method = "GET", path = V1 .. "usergroups", query = { pageSize = 10, pageCursor = "", sourceType = 0 } })
      assert.are.same({ GROUP }, ids_of(zero.userGroupList, "id"))
      local _, err = c:call { method = "GET", path = V1 .. "usergroups", query = { pageSize = 10, pageCursor = "" } }
      assert.are.equal(13000102, err.code)
      assert(c:call { method = "PUT", path = V1 .. "usergroups/" .. created.id, body = { groupName = "Renamed", sourceType = 1 } })
      assert.are.equal("Renamed", page(nil, 10).userGroupList[1].groupName)
      _, err = c:call { method = "PUT", path = V1 .. "usergroups/1", body = { groupName = "x", sourceType = 1 } }
      assert.are.equal(13000309, err.code)
      _, err = c:call { method = "POST", path = V1 .. "usergroups", body = { groupName = "a/b", sourceType = 1 } }
      assert.are.equal(13000102, err.code)
      assert(c:call { method = "DELETE", path = V1 .. "usergroups/" .. created.id })
      assert.are.equal(1, page(nil, 10).total)
      _, err = c:call { method = "DELETE", path = V1 .. "usergroups/" .. created.id }
      assert.are.equal(13000309, err.code)
    end)

    it("adds members with exact JSON integers, lists them by offset with a total, deletes them", function()
      local c = client(mode)
      local path = V1 .. "usergroups/" .. GROUP .. "/members"
      local add = assert(c:call { method = "POST", path = path .. "/batchAdd",
        body = '{"amendModRoles":[{"userId":9223372036854775807,"template":-1},{"userId":' .. MEMBER .. '}]}' })
      assert.are.same({ 1, { MEMBER } }, { add.status, add.failedList })
      local m = assert(c:call { method = "GET", path = path, query = { offset = 0, limit = 3 } })
      assert.are.same({ 4, 3 }, { m.total, #m.userGroupMemberInfos })
      assert.are.same({ "createdTime", "deptId", "deptName", "mobile", "updatedTime", "userId", "userName" },
        keys(m.userGroupMemberInfos[1]))
      m = assert(c:call { method = "GET", path = path, query = { offset = 3, limit = 3 } })
      assert.are.same({ "9223372036854775807" }, ids_of(m.userGroupMemberInfos, "userId"))
      m = assert(c:call { method = "GET", path = path, query = { offset = 0, limit = 10, keyWord = "Member 2" } })
      assert.are.same({ 1, { MEMBER } }, { m.total, ids_of(m.userGroupMemberInfos, "userId") })
      local del = assert(c:call { method = "POST", path = path .. "/batchDelete",
        body = '{"amendModRoles":[{"userId":9223372036854775807}]}' })
      assert.are.same({ 0, {} }, { del.status, del.failedList })
      local _, err = c:call { method = "POST", path = path .. "/batchAdd", body = '{"amendModRoles":[{"userId":1.5}]}' }
      assert.are.equal(13000102, err.code)
      _, err = c:call { method = "POST", path = V1 .. "usergroups/1/members/batchAdd", body = '{"amendModRoles":[{"userId":1}]}' }
      assert.are.equal(13000309, err.code)
      _, err = c:call { method = "GET", path = path, query = { offset = 0, limit = 101 } }
      assert.are.equal(13000102, err.code)
    end)

    it("lists users by offset, adds one, and reports space usage", function()
      local c = client(mode)
      local l = assert(c:call { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 2 } })
      assert.are.same({ USER, KD.group_members[1] }, ids_of(l.data, "userId"))
      assert(c:call { method = "POST", path = V1 .. "users", body = { userId = "1008600000029937613", modifyUserInfoReq = {} } })
      l = assert(c:call { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 100 } })
      assert.are.equal("1008600000029937613", l.data[#l.data].userId)
      local _, err = c:call { method = "GET", path = V1 .. "userList", query = { limit = 10 } }
      assert.are.equal(13000102, err.code)
      _, err = c:call { method = "POST", path = V1 .. "users", body = { userId = "012" } }
      assert.are.equal(13000102, err.code)
      local u = assert(c:call { method = "POST", path = V1 .. "space/usage/user", body = { userIds = { USER }, offset = 0, limit = 10 } })
      assert.are.same({ 1, USER, 6756 }, { u.total, u.data[1].userId, u.data[1].used })
      assert.is_string(u.data[1].quota)
      local many = {}
      for i = 1, 51 do many[i] = tostring(1000 + i) end
      _, err = c:call { method = "POST", path = V1 .. "space/usage/user", body = { userIds = many } }
      assert.are.equal(13000102, err.code)
    end)

    it("adds and lists backup scopes, and pages a backup record's files", function()
      local c = client(mode)
      local path = V1 .. "backup/device/dev1/scope"
      assert(c:call { method = "POST", path = path, body = { moduleCode = "101", scopeList = { { localPath = "/DCIM" } } } })
      local s = assert(c:call { method = "GET", path = path, query = { moduleCode = 101 } })
      assert.are.same({ "/DCIM" }, ids_of(s.scopeList, "localPath"))
      assert.are.same({}, assert(c:call { method = "GET", path = path, query = { moduleCode = 100 } }).scopeList)
      local _, err = c:call { method = "GET", path = path, query = { moduleCode = 103 } }
      assert.are.equal(13000102, err.code)
      local files, cursor = {}, nil
      repeat
        local p = assert(c:call { method = "GET", path = V1 .. "backup/record/" .. KD.backup_record_id .. "/files",
          query = { pageSize = 2, cursor = cursor } })
        for _, f in ipairs(p.data) do files[#files + 1] = f end
        cursor = p.nextCursor
      until cursor == ""
      assert.are.equal(KD.backup_record_files, #files)
      assert.matches("^%x+$", files[1].sha256)
      _, err = c:call { method = "GET", path = V1 .. "backup/record/42/files", query = { pageSize = 2 } }
      assert.are.equal(13000309, err.code)
    end)
  end)
end

describe("local KooDrive sessions and carrier tokens", function()
  before_each(function() control("/_local/reset") end)

  it("creates a session from a seeded code once, accepts its token, refreshes and logs off", function()
    local status, s = bare("session/", { code = KD.auth_codes[1] })
    assert.are.equal(200, status)
    assert.matches("^Bearer ", s.data.accessToken)
    assert.are.equal(USER, s.data.userId)
    local c = client("token", USER, s.data.accessToken)
    assert(c:call { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 1 } })
    status = bare("session/", { code = KD.auth_codes[1] })
    assert.are.equal(401, status)
    local st, r = raw("POST", server.url .. V1 .. "session/refresh", nil, { ["x-session-id"] = s.data.sessionId })
    assert.are.equal(200, st)
    local _, err = c:call { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 1 } }
    assert.are.equal(401, err.status)
    local c2 = client("token", USER, r.accessToken)
    assert(c2:call { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 1 } })
    assert.are.same({ code = 0, msg = "success" }, assert(c2:call { method = "GET", path = V1 .. "session/logoff" }))
    _, err = c2:call { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 1 } }
    assert.are.equal(401, err.status)
    st = raw("POST", server.url .. V1 .. "session/refresh", nil, { ["x-session-id"] = s.data.sessionId })
    assert.are.equal(401, st)
  end)

  it("lets issued tokens expire after the control endpoint's time", function()
    control("/_local/tokens?expires_in=1")
    local _, s = bare("session/", { code = KD.auth_codes[2] })
    local c = client("token", USER, s.data.accessToken)
    assert(c:call { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 1 } })
    socket.sleep(1.1)
    local _, err = c:call { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 1 } }
    assert.are.equal(401, err.status)
  end)

  it("logs a carrier account in, accepts AT tokens both ways and refreshes them", function()
    local status = bare("auth/login", { account = KD.carrier_account, authType = "1", password = KD.carrier_password })
    assert.are.equal(400, status)                    -- x-hw-agentName is required
    local agent = { ["x-hw-agentName"] = "local" }
    status = bare("auth/login", { account = KD.carrier_account, authType = "1", password = "wrong" }, agent)
    assert.are.equal(401, status)
    local _, l = bare("auth/login", { account = KD.carrier_account, authType = "1", password = KD.carrier_password },
      { ["x-hw-agentName"] = "local" })
    local si = l.data.sessionInfo
    assert.are.same({ "accessToken", "expiresIn", "issuedAt", "refreshToken" }, keys(si))
    assert.are.same({ 1800, KD.carrier_user_id }, { si.expiresIn, l.data.userInfo.userId })
    assert.matches("^AT ", si.accessToken)
    local c = client("token", KD.carrier_user_id, si.accessToken)
    assert(c:call { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 1 } })
    local req = assert(c:prepare { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 1 } })
    req.headers.Authorization = si.accessToken    -- "AT <t>" as is
    assert.are.equal(200, (raw("GET", req.url, nil, req.headers)))
    local at = si.accessToken:sub(4)
    local st, r = bare("auth/refreshToken", { refreshToken = si.refreshToken }, { Authorization = "AT+" .. at })
    assert.are.equal(200, st)
    assert.are_not.equal(si.accessToken, r.data.sessionInfo.accessToken)
    st = bare("auth/refreshToken", { refreshToken = si.refreshToken }, { Authorization = "AT " .. at })
    assert.are.equal(401, st)
    local _, err = c:call { method = "GET", path = V1 .. "userList", query = { offset = 0, limit = 1 } }
    assert.are.equal(401, err.status)
  end)

  it("answers the recorded calls with the recorded fields", function()
    local c = client("token")
    local status, doc = send(c, { method = "POST", path = V1 .. "usergroups/" .. GROUP .. "/members/batchAdd",
      body = '{"amendModRoles":[{"userId":3432423464657862424}]}' })
    assert.are.equal(200, status)
    for _, k in ipairs { "code", "msg", "id" } do assert.is_not_nil(doc[k], k) end
    status, doc = send(c, { method = "POST", path = V1 .. "users", body = { userId = "1008600000029937613" } })
    assert.are.same({ 200, { code = 0, msg = "success" } }, { status, doc })
    status, doc = send(c, { method = "POST", path = V1 .. "files/recycle", body = { containerId = CID } })
    assert.are.same({ 200, { code = 0, msg = "success" } }, { status, doc })
    status, doc = send(c, { method = "POST", path = V1 .. "files/rename/" .. README,
      body = { name = "Documents", containerId = CID, renameMode = 3 } })
    assert.are.same({ 400, { code = 13000405, msg = "Duplicate file name." } }, { status, doc })
    status, doc = send(c, { method = "GET", path = V1 .. "files/path", query = { fileId = README, containerId = CID } })
    assert.are.equal(200, status)
    assert.are.same({ "code", "fileIdPath", "msg", "namePath" }, keys(doc))
  end)
end)
