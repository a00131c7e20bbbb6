-- The sharing family through real libcurl against the local KooDrive service on 127.0.0.1,
-- in both auth modes: user groups and members, users, space usage, shares, backup scopes and
-- files, sessions and the carrier login, and koodrive.session_tokens on top of them.
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"
local session_tokens = require "koodrive.session_tokens"

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)

-- Every case runs against the service's sharing routes: a missing route is a failure.
local function it_routes(name, fn) it(name, fn) end

local function new_client(overrides)
  local config = { endpoint = server.url, user_id = creds.koodrive.user_id, token = "local-token-alice",
    timeout = 10, connect_timeout = 5 }
  for k, v in pairs(overrides or {}) do config[k] = v or nil end
  return assert(koodrive.new(config))
end

local function app_client(overrides)
  local o = { token = false, app_id = "local-app-id-0001", app_secret = "local-app-secret-0001" }
  for k, v in pairs(overrides or {}) do o[k] = v end
  return new_client(o)
end

local function ids_of(list, key)
  local out = {}
  for _, x in ipairs(list) do out[#out + 1] = x[key] end
  return out
end

local function contains(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

for _, mode in ipairs { "token", "app" } do
  describe("sharing family in " .. mode .. " mode", function()
    local function client(extra)
      return (mode == "token" and new_client or app_client)(extra)
    end

    it_routes("user groups: create, list, update, members, add and delete members, delete", function()
      local c = client()
      local g = assert(c.usergroups:create { groupName = "Team " .. mode, sourceType = 1 })
      assert.is_string(g.id)
      local all = assert(c.usergroups:all({ sourceType = 1 }, { page_size = 1 }))
      assert.is_true(contains(ids_of(all, "id"), g.id))
      assert(c.usergroups:update(g.id, { groupName = "Team " .. mode .. " 2", sourceType = 1, top = "1" }))
      local members = { "3432423464657862424", "132543141414141414", "7000000000000000001" }
      local added = assert(c.usergroups:add_members(g.id, members))
      assert.are.same(members, added.added)
      assert.are.equal(0, added.status)
      local listed = assert(c.usergroups:members_all(g.id, nil, { page_size = 2 }))
      assert.are.same(members, ids_of(listed, "userId"))
      local page = assert(c.usergroups:members(g.id, nil, { page_size = 2 }))
      assert.are.equal(3, page.total)
      assert.are.equal(2, page.next)
      local removed = assert(c.usergroups:delete_members(g.id, { "132543141414141414" }))
      assert.are.same({ "132543141414141414" }, removed.deleted)
      assert.are.same({ "3432423464657862424", "7000000000000000001" },
        ids_of(assert(c.usergroups:members_all(g.id)), "userId"))
      assert(c.usergroups:delete(g.id))
      local again, err = c.usergroups:delete(g.id)
      assert.is_nil(again)
      assert.are.equal("api", err.kind)
      assert.are.equal(13000309, err.code)
    end)

    it_routes("add_members_many: 230 members in three calls, each accounted for", function()
      local c = client()
      local g = assert(c.usergroups:create { groupName = "Bulk " .. mode, sourceType = 0 })
      local many = {}
      for i = 1, 230 do many[i] = "80000000000000" .. string.format("%05d", i) end -- digits: exact on every Lua
      local r = assert(require("koodrive.bulk.sharing").add_members(c.usergroups, g.id, many, { concurrency = 3 }))
      assert.are.equal(3, r.calls)
      assert.are.equal(230, #r.added)
      local page = assert(c.usergroups:members(g.id, nil, { page_size = 1 }))
      assert.are.equal(230, page.total)
      assert(c.usergroups:delete(g.id))
    end)

    it_routes("users: create then list; usage by user", function()
      local c = client()
      local uid = mode == "token" and "1008600000029937613" or "1008600000029937614"
      assert(c.users:create(uid, { role = 1 }))
      local users = assert(c.users:all(nil, { page_size = 2 }))
      assert.is_true(contains(ids_of(users, "userId"), uid))
      local usage = assert(c.usage:by_user({ uid }))
      for _, u in ipairs(usage.items) do assert.are.equal(uid, u.userId) end
      local everyone = assert(c.usage:by_user_all(nil, nil, { page_size = 1 }))
      assert.is_true(#everyone >= 1)
    end)

    it_routes("shares: create, list, update, cancel (every id accounted for)", function()
      local c = client()
      local container = creds.koodrive.container_id or "local-container"
      local file = creds.koodrive.file_id or "local-file"
      local link = assert(c.shares:create { scope = 3, fileIds = { file }, containerId = container, validDays = 7,
        userIds = { creds.koodrive.user_id } })
      assert.is_string(link.shareId)
      local mine = assert(c.shares:all(nil, { page_size = 1 }))
      assert.is_true(contains(ids_of(mine, "shareId"), link.shareId))
      local updated = assert(c.shares:update(link.shareId, { validDays = 30 }, { agent_name = "local-carrier" }))
      assert.are.equal(link.shareId, updated.shareId)
      local r = assert(c.shares:cancel({ link.shareId, "no-such-share" }, { agent_name = "local-carrier" }))
      assert.are.same({ link.shareId }, r.cancelled)
      assert.are.equal("no-such-share", r.failed[1].shareId)
    end)

    it_routes("backups: add scopes, list them, page a record's files", function()
      local c = client()
      local device = "dev-" .. mode
      assert(c.backups:add_scopes(device, "101", { { localPath = "/sdcard/DCIM" }, { localPath = "/sdcard/Pictures" } }))
      local scopes = assert(c.backups:scopes(device, "101")).scopeList
      assert.are.equal(2, #scopes)
      local record = creds.koodrive.backup_record_id
      if record then
        local files = assert(c.backups:record_files_all(record, nil, { page_size = 1, backup_lock_id = "lock-1" }))
        assert.is_true(#files >= 1)
        assert.is_string(files[1].fileId)
      end
    end)
  end)
end

describe("sessions against the local service", function()
  local carrier = creds.koodrive.carrier or { account = "0027188460911", password = "local-carrier-password" }

  it_routes("carrier login and refresh token; the AT token then works", function()
    local c = new_client()
    local r = assert(c.sessions:login({ account = carrier.account, authType = "1", password = carrier.password },
      { agent_name = "local-carrier" }))
    local info = r.sessionInfo
    assert.matches("^AT ", info.accessToken)
    assert.is_number(info.expiresIn)
    local fresh = assert(c.sessions:refresh_token(info.accessToken, info.refreshToken))
    assert.is_string(fresh.accessToken)
    local user = new_client { token = fresh.accessToken }
    assert(user.devices:list())
  end)

  it_routes("enterprise session from a code, refresh by session id, logoff", function()
    local c = new_client()
    local code = creds.koodrive.auth_code or "local-auth-code"
    local s = assert(c.sessions:create(code, { domain = "drive.local" }))
    assert.is_string(s.sessionId)
    local user = new_client { token = s.accessToken }
    assert(user.devices:list())
    local refreshed = assert(user.sessions:refresh(s.sessionId))
    local user2 = new_client { token = refreshed.accessToken }
    assert(user2.devices:list())
    assert(user2.sessions:logoff())
  end)

  it_routes("session_tokens: a client on the carrier login works and refreshes after a 401", function()
    local provider, session = assert(session_tokens { client = new_client(), agent_name = "local-carrier",
      login = { account = carrier.account, authType = "1", password = carrier.password }, reuse_window = 0 })
    local records = {}
    local c = new_client { token = false, token_provider = provider, logger = function(r) records[#records + 1] = r end }
    assert(c.devices:list())
    assert.is_true(session:info().has_token)
    local text = {}
    for _, r in ipairs(records) do
      for _, v in pairs(r.request_headers or {}) do text[#text + 1] = v end
    end
    assert.not_matches("AT [%w]", table.concat(text, " "))
    assert.not_matches(carrier.password, tostring(session), 1, true)
  end)
end)

describe("listings against the local service's paging modes", function()
  after_each(function() server.control("/_local/paging?mode=normal") end)

  it_routes("partial and empty pages before the end are followed; a repeated cursor is an error", function()
    local c = new_client()
    local base = assert(c.usergroups:all({ sourceType = 0 }))
    server.control("/_local/paging?mode=partial")
    local partial = assert(c.usergroups:all({ sourceType = 0 }, { page_size = 2 }))
    assert.are.same(ids_of(base, "id"), ids_of(partial, "id"))
    server.control("/_local/paging?mode=empty_first&pages=2")
    local files = assert(c.backups:record_files_all(creds.koodrive.backup_record_id, nil, { page_size = 2 }))
    assert.are.equal(creds.koodrive.backup_record_files, #files)
    server.control("/_local/paging?mode=repeat_cursor")
    local all, err = c.usergroups:all({ sourceType = 0 }, { page_size = 1 })
    if #base > 1 then
      assert.is_nil(all)
      assert.are.equal("decode", err.kind)
    end
  end)
end)

describe("session_tokens against short-lived tokens", function()
  local carrier = creds.koodrive.carrier
  after_each(function() server.control("/_local/tokens?expires_in=1800") end)

  local function counted()
    local ops = {}
    return ops, function(r) ops[r.operation] = (ops[r.operation] or 0) + 1 end
  end

  it_routes("a token about to expire is refreshed before the next call, once, without a 401", function()
    server.control("/_local/tokens?expires_in=2")
    local ops, logger = counted()
    local provider = assert(session_tokens { client = new_client { logger = logger }, agent_name = "local-carrier",
      login = { account = carrier.account, authType = "1", password = carrier.password }, reuse_window = 0 })
    local c = new_client { token = false, token_provider = provider, logger = logger }
    assert(c.devices:list())
    require("koodrive.scheduler").sleep(3)
    assert(c.devices:list())
    assert.are.equal(1, ops["sessions.login"])
    assert.are.equal(1, ops["sessions.refresh_token"])
    -- The provider said when its token is due (expiresIn less refresh_before): the client asked
    -- it again before the second call, which went out once with the fresh token.
    assert.are.equal(2, ops["devices.list"])
  end)

  it_routes("session:token() refreshes before expiry, without a 401", function()
    server.control("/_local/tokens?expires_in=3")
    local ops, logger = counted()
    local _, session = assert(session_tokens { client = new_client { logger = logger }, agent_name = "local-carrier",
      login = { account = carrier.account, authType = "1", password = carrier.password }, refresh_before = 2 })
    local t1 = assert(session:token())
    require("koodrive.scheduler").sleep(1.2)
    local t2 = assert(session:token())
    assert.are_not.equal(t1, t2)
    assert.are.equal(1, ops["sessions.refresh_token"])
    assert(new_client { token = t2 }.devices:list())
  end)

  it_routes("enterprise: a session from a code, refreshed by session id after its 401", function()
    server.control("/_local/tokens?expires_in=2")
    local ops, logger = counted()
    local codes = { table.unpack and table.unpack(creds.koodrive.auth_codes) or unpack(creds.koodrive.auth_codes) }
    local provider = assert(session_tokens { client = new_client { logger = logger }, reuse_window = 0,
      code_provider = function() return table.remove(codes, 1) end })
    local c = new_client { token = false, token_provider = provider, logger = logger }
    assert(c.devices:list())
    require("koodrive.scheduler").sleep(3)
    local ok, err = c.devices:list()
    -- session/refresh of an expired session may be refused; the provider then opens a new one
    assert(ok, err)
    assert.are.equal(1, ops["sessions.refresh"])
    assert.is_true((ops["sessions.create"] or 0) >= 1)
  end)
end)
