-- koodrive_local.routes_sessions: sessions and carrier tokens
-- (koodrive-sharing-groups-api.md §6) and the token lookup the auth check uses.
--
-- Issued tokens live in st.tokens, keyed by the text after "Bearer ": a session
-- token "Bearer <t>" is sent as `Authorization: Bearer <t>` (key "<t>"); a
-- carrier token "AT <t>" is sent as `Authorization: AT <t>` or `Bearer AT <t>`
-- (key "AT <t>"; koodrive_local.auth turns the first form into the second).
-- Each expires st.token_expires_in seconds after it was issued (1800; POST
-- /_local/tokens?expires_in=N changes it for tokens issued later); an
-- expired or logged-off token gets 401 like an unknown one. The seed tokens of
-- local_credentials never expire.
--
-- Local choices: session/refresh is authorised by its x-session-id alone (so
-- a client can refresh after its token expired); logoff accepts either auth
-- mode and ends the session of the token it was sent with (a no-op for seed
-- tokens and app signatures); authorization codes are good once per reset.

local jsonio = require "koodrive_local.jsonio"
local kdutil = require "koodrive_local.kdutil"
local reply = require "koodrive_local.reply"
local state = require "koodrive_local.state"

local object = jsonio.object
local kd, kd_param_error = reply.kd, reply.kd_param_error

local M = {}

local function unauthorized(why) return kd(401, 401, why or "Unauthorized") end

local function live(st, key)
  local t = key and st.tokens[key]
  return t and not t.revoked and t.expires > state.now() and t or nil
end

--- The credentials table for auth.verify_koodrive: the seed's apps, and
-- tokens = the seed tokens plus the live issued ones.
function M.creds(svc)
  local st, seed = svc.state, svc.creds.koodrive
  return { apps = seed.apps, tokens = setmetatable({}, { __index = function(_, tok)
    return seed.tokens[tok] or live(st, tok) ~= nil
  end }) }
end

local function issue(st, key, fields)
  local now = state.now()
  fields.issued, fields.expires = now, now + st.token_expires_in
  st.tokens[key] = fields
  return fields
end

local function user_info(st, user)
  local u = st.users[user] or {}
  return object("role", "1", "userName", u.name or "Local User", "innerUserId", user, "userId", user,
    "tenantId", "local-tenant", "orgId", "local-org", "orgName", "Local organisation",
    "xHwSchema", "", "userCount", #st.user_order, "deptId", u.deptId or "1")
end

-- POST session/ {code, domain?} (no auth): one seeded authorization code ->
-- {code:0,msg,data:{accessToken:"Bearer <t>",sessionId,userId,userInfo}}
local function create_session(svc, _, req)
  local b = kdutil.body(req)
  if not b or not kdutil.str(b.code, 1000) then return kd_param_error() end
  local st = svc.state
  if not st.codes[b.code] then return unauthorized("Invalid authorization code.") end
  st.codes[b.code] = nil
  local user = svc.creds.koodrive.user_id
  local token, sid = kdutil.random_alnum(40), kdutil.new_id(st, "S", 24)
  issue(st, token, { kind = "session", user = user, session = sid })
  st.sessions[sid] = { token = token, user = user }
  return kd(200, 0, "success", "data", object("accessToken", "Bearer " .. token, "sessionId", sid,
    "userId", user, "userInfo", user_info(st, user)))
end

-- POST session/refresh (x-session-id) -> {code,msg,accessToken:"Bearer <new>"}; the old token stops working.
local function refresh_session(svc, _, req)
  local sid = req.headers["x-session-id"]
  if not sid or sid == "" then return kd_param_error() end
  local st = svc.state
  local s = st.sessions[sid]
  if not s then return unauthorized("Session does not exist.") end
  if st.tokens[s.token] then st.tokens[s.token].revoked = true end
  local token = kdutil.random_alnum(40)
  issue(st, token, { kind = "session", user = s.user, session = sid })
  s.token = token
  return kd(200, 0, "success", "accessToken", "Bearer " .. token)
end

-- GET session/logoff -> {code:0,msg:"success"} (recorded)
local function logoff(svc, _, req)
  local st = svc.state
  local tok = (req.headers["authorization"] or ""):match("^[Bb][Ee][Aa][Rr][Ee][Rr] (.+)$")
  local t = tok and st.tokens[tok]
  if t then
    t.revoked = true
    if t.session then st.sessions[t.session] = nil end
  end
  return kd(200, 0, "success")
end

local function session_info(st, user)
  local access, refresh = "AT " .. kdutil.random_alnum(48), kdutil.random_alnum(48)
  local t = issue(st, access, { kind = "carrier", user = user, refresh = refresh })
  st.refresh[refresh] = access
  return object("accessToken", access, "expiresIn", st.token_expires_in,
    "issuedAt", tostring(math.floor(t.issued * 1000)), "refreshToken", refresh)
end

-- POST auth/login (no auth; header x-hw-agentName) {account, authType:"1", password}
-- -> {data:{userInfo,sessionInfo},code:0,msg:"Success"} (recorded)
local function login(svc, _, req)
  local b = kdutil.body(req)
  local agent = req.headers["x-hw-agentname"]
  if not b or not agent or agent == "" or not kdutil.str(b.account, 128) then return kd_param_error() end
  if b.authType ~= "1" and b.authType ~= "2" then return kd_param_error() end
  local kd_c = svc.creds.koodrive
  if b.authType ~= "1" or b.account ~= kd_c.carrier_account or b.password ~= kd_c.carrier_password then
    return unauthorized("Incorrect account or password.")
  end
  local st, user = svc.state, kd_c.carrier_user_id
  local userinfo = object("userId", user, "firstname", "Carrier", "surname", "User",
    "phone", kd_c.carrier_account, "email", "")
  return kd(200, 0, "Success", "data", object("userInfo", userinfo, "sessionInfo", session_info(st, user)))
end

-- POST auth/refreshToken (Authorization: AT+<t> or AT <t>, expired or not)
-- {refreshToken} -> {data:{sessionInfo},code:0,msg:"Success"} (recorded); the
-- old access and refresh tokens stop working.
local function refresh_token(svc, _, req)
  local b = kdutil.body(req)
  if not b or not kdutil.str(b.refreshToken, 1000) then return kd_param_error() end
  local authz = req.headers["authorization"] or ""
  local tok = authz:match("^AT[+ ](.+)$") or authz:match("^[Bb]earer AT (.+)$")
  local st = svc.state
  local t = tok and st.tokens["AT " .. tok]
  if not t or t.revoked or t.refresh ~= b.refreshToken or st.refresh[b.refreshToken] ~= "AT " .. tok then
    return unauthorized()
  end
  t.revoked = true
  st.refresh[b.refreshToken] = nil
  return kd(200, 0, "Success", "data", object("sessionInfo", session_info(st, t.user)))
end

local V1 = "^/koodrive/ose/v1/"

M.routes = {
  { "POST", V1 .. "session/?$", create_session, auth = "none" },
  { "POST", V1 .. "session/refresh$", refresh_session, auth = "none" },
  { "GET", V1 .. "session/logoff$", logoff },
  { "POST", V1 .. "auth/login$", login, auth = "none" },
  { "POST", V1 .. "auth/refreshToken$", refresh_token, auth = "none" },
}

return M
