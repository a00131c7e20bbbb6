--- Sessions and carrier tokens (koodrive-sharing-groups-api.md §6): sessions.create,
-- refresh, logoff (enterprise), login, refresh_token (carrier). Operation entries as data,
-- with their result shapes (they hold tokens, so they are kept apart).
--
-- Tokens, refresh tokens, passwords, captcha tokens, session ids and authorization codes
-- are secrets: they are validated without being quoted, the JSON fields and headers that
-- carry them are known to koodrive.secrets (redacted in logs, errors and cassettes), and
-- the results that hold them print without them (tostring).
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local V = require "koodrive.validate.sharing"
local S = require "koodrive.shape.sharing"

local null = json.null
local function absent(v) return v == nil or v == null end

-- Results that hold tokens print as a label: tostring(result) never shows a secret.
local SECRET_MT = { __tostring = function() return "koodrive session (tokens not shown)" end }
local function hidden(t) return setmetatable(t, SECRET_MT) end

-- A token field: a non-empty string, or nil and a message naming it (never its value).
local function token(o, where, key, required)
  local v = o[key]
  if absent(v) then
    if required then return nil, "'" .. where .. key .. "' is missing" end
    return false
  end
  if type(v) ~= "string" or v == "" then return nil, "'" .. where .. key .. "' is not a non-empty string" end
  return v
end

-- userInfo objects: ids as strings, the rest as given.
local function user_info(o, where)
  if absent(o) then return nil end
  if not json.is_object(o) then return false, "'" .. where .. "' is not an object" end
  local out = {}
  for k, v in pairs(o) do out[k] = v end
  for _, k in ipairs { "userId", "innerUserId", "tenantId", "orgId", "deptId" } do
    if not absent(o[k]) then
      out[k] = S.id_string(o, k)
      if not out[k] then return false, "'" .. where .. "." .. k .. "' is not an id" end
    end
  end
  return out
end

--- sessions.create: { accessToken (exactly as returned: it may start with "Bearer "),
-- sessionId, userId, userName, userInfo }. Decision 6.1: data.accessToken, falling back to
-- the 2024 top-level fields.
local function session_created(body)
  local src = body
  if not absent(body.data) then
    if not json.is_object(body.data) then return nil, "'data' is not an object" end
    src = body.data
  end
  local where = src == body and "" or "data."
  local at, err = token(src, where, "accessToken", true)
  if not at then return nil, err end
  local sid
  sid, err = token(src, where, "sessionId", false)
  if sid == nil then return nil, err end
  local out = { accessToken = at, sessionId = sid or nil }
  if not absent(src.userId) then
    out.userId = S.id_string(src, "userId")
    if not out.userId then return nil, "'" .. where .. "userId' is not an id" end
  end
  if not absent(src.userName) and type(src.userName) ~= "string" then
    return nil, "'" .. where .. "userName' is not a string"
  end
  out.userName = src.userName
  local info, ierr = user_info(src.userInfo, where .. "userInfo")
  if info == false then return nil, ierr end
  out.userInfo = info
  return hidden(out)
end

--- sessions.refresh: { accessToken } (the page puts it at the top level; data.accessToken
-- is taken as well, like sessions.create).
local function session_refreshed(body)
  local src = json.is_object(body.data) and body.data or body
  local at, err = token(src, src == body and "" or "data.", "accessToken", true)
  if not at then return nil, err end
  return hidden({ accessToken = at })
end

--- sessions.logoff: { failedList } (strings; absent is none).
local function logged_off(body)
  local list = body.failedList
  if absent(list) then return { failedList = {} } end
  if not json.is_array(list) then return nil, "'failedList' is not an array" end
  for i = 1, #list do
    if type(list[i]) ~= "string" then return nil, "'failedList[" .. i .. "]' is not a string" end
  end
  return { failedList = list }
end

-- SessionInfo {accessToken, expiresIn (seconds, a number), issuedAt (epoch ms, a string),
-- refreshToken}.
local function session_info(o, where)
  if not json.is_object(o) then return nil, "'" .. where .. "' is not an object" end
  local at, err = token(o, where .. ".", "accessToken", true)
  if not at then return nil, err end
  local rt
  rt, err = token(o, where .. ".", "refreshToken", false)
  if rt == nil then return nil, err end
  local expires = o.expiresIn
  if type(expires) == "string" and expires:find("^%d+$") then expires = tonumber(expires) end
  if not absent(expires) and (type(expires) ~= "number" or expires ~= expires or expires < 0) then
    return nil, "'" .. where .. ".expiresIn' is not a number of seconds"
  end
  local issued = o.issuedAt
  if type(issued) == "number" then issued = S.id_string(o, "issuedAt") end
  if not absent(issued) and type(issued) ~= "string" then return nil, "'" .. where .. ".issuedAt' is not a string" end
  return hidden({ accessToken = at, refreshToken = rt or nil, expiresIn = not absent(expires) and expires or nil,
    issuedAt = not absent(issued) and issued or nil })
end

--- sessions.login: { userInfo, sessionInfo } from `data`.
local function logged_in(body)
  if not json.is_object(body.data) then return nil, "'data' is not an object" end
  local info, err = session_info(body.data.sessionInfo, "data.sessionInfo")
  if not info then return nil, err end
  local user, uerr = user_info(body.data.userInfo, "data.userInfo")
  if user == false then return nil, uerr end
  return hidden({ userInfo = user, sessionInfo = info })
end

--- sessions.refresh_token: the SessionInfo, directly in `data` (the table) or in
-- data.sessionInfo (the example): Decision 6.5, both accepted.
local function token_refreshed(body)
  if not json.is_object(body.data) then return nil, "'data' is not an object" end
  if not absent(body.data.sessionInfo) then return session_info(body.data.sessionInfo, "data.sessionInfo") end
  return session_info(body.data, "data")
end

-- Decision 6.5 (AT tokens): the carrier's accessToken already starts with "AT ": sent
-- unchanged; a bare token gets the "AT " prefix (the page's "AT+" is the space, as in
-- "Bearer+").
local function at_authorization(t)
  if t:find("^[Aa][Tt][ +]") then return t end
  return "AT " .. t
end

local AUTH_TYPES = { ["1"] = true, ["2"] = true }

local function login_req(v, f)
  local req, err = V.request(v, f, {
    account = function(x, k) return V.utf8_text(x, k, 256) end,
    authType = function(x, k) return V.str_enum(x, k, AUTH_TYPES, '"1" (password), "2" (verification code)') end,
    password = V.credential,
    captchaToken = V.credential,
  }, { "account", "authType" })
  if not req then return nil, err end
  if req.authType == "1" and not req.password then
    return nil, errors.validation("password", "required", "is required when authType is \"1\"")
  end
  return req
end

return {
  {
    name = "sessions.create",
    method = "POST", path = "/koodrive/ose/v1/session/", -- the URI table's trailing slash
    auth = "none",
    args = { { name = "code", check = V.credential } },
    options = { domain = function(v, f)
      if v == nil then return nil end
      return V.utf8_text(v, f, 1024)
    end },
    body = function(a, opts)
      return json.encode({ code = a.code, domain = opts and opts.domain or nil })
    end,
    -- The authorization code is a secret (the body's `code` is not the envelope's).
    secrets = function(a) return { a.code } end,
    code_optional = true,
    idempotent = false, -- an authorization code is good once
    result = session_created,
  },
  {
    name = "sessions.refresh",
    method = "POST", path = "/koodrive/ose/v1/session/refresh",
    args = { { name = "sessionId", check = V.credential } },
    headers = function(a) return { ["x-session-id"] = a.sessionId } end,
    secrets = function(a) return { a.sessionId } end,
    code_optional = true,
    idempotent = false,
    result = session_refreshed,
  },
  {
    name = "sessions.logoff",
    method = "GET", path = "/koodrive/ose/v1/session/logoff",
    args = {},
    code_optional = true,
    result = logged_off,
  },
  {
    name = "sessions.login",
    method = "POST", path = "/koodrive/ose/v1/auth/login",
    auth = "none",
    args = { { name = "req", check = login_req } },
    options = { agent_name = V.header_option },
    body = function(a, opts)
      if not (opts and opts.agent_name) then
        return nil, errors.validation("agent_name", "required", "is required (sent as x-hw-agentName)")
      end
      return json.encode(a.req)
    end,
    headers = function(_, opts) return { ["x-hw-agentName"] = opts and opts.agent_name or nil } end,
    secrets = function(a) return { a.req.password, a.req.captchaToken } end,
    code_optional = true,
    idempotent = false,
    result = logged_in,
  },
  {
    name = "sessions.refresh_token",
    method = "POST", path = "/koodrive/ose/v1/auth/refreshToken",
    auth = "none", -- the Authorization header is the carrier's AT token, set below
    args = {
      { name = "accessToken", check = V.credential },
      { name = "refreshToken", check = V.credential },
    },
    headers = function(a) return { Authorization = at_authorization(a.accessToken) } end,
    body = function(a) return json.encode({ refreshToken = a.refreshToken }) end,
    secrets = function(a) return { a.accessToken, a.refreshToken } end,
    code_optional = true,
    idempotent = false, -- a refresh token may be good once
    result = token_refreshed,
  },
}
