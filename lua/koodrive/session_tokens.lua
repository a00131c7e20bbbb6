--- A ready token_provider built on the session calls (koodrive-sharing-groups-api.md §6):
--
--   local provider, session = koodrive.session_tokens {
--     client = auth_client,            -- a koodrive client (or a function returning one) that
--                                      -- makes the session calls
--     -- carrier (auth/login + auth/refreshToken):
--     login = { account = "...", authType = "1", password = "..." }, agent_name = "...",
--     -- or enterprise (session/ + session/refresh): an OrgID authorization code, or a
--     -- function returning a fresh one each time a new session is needed:
--     code = "..." | code_provider = function() return code end, domain = "...",
--     refresh_before = 60,             -- seconds of validity left that trigger a refresh
--   }
--   local client = koodrive.new { endpoint = ..., user_id = ..., token_provider = provider }
--
-- The pipeline calls a token_provider when the client has no token yet and after a 401
-- (request/attempts.lua: once per call). So each call of `provider` means "the token I have
-- is missing or was refused": the first gets a session (login / create); later ones refresh
-- it (refreshToken / session refresh), falling back to a new session when the refresh is
-- refused and the credentials allow one. A call arriving within `reuse_window` seconds of a
-- refresh gets that refresh's token (two requests refused at once share one refresh); a call
-- while a refresh is in flight - another koodrive.loop task, another ngx light thread -
-- waits for it: never two refreshes at once. `provider` also returns the seconds until the
-- token is due for refresh (expiresIn minus refresh_before) when the service gave an
-- expiry; `session:token()` refreshes when less than refresh_before seconds remain.
--
-- On PUC Lua 5.1 a coroutine cannot yield across pcall, and the pipeline calls the provider
-- inside one: there the session call of a refresh cannot wait in a koodrive.loop task (the
-- loop refuses it as `not_yieldable`); get the first token with `session:token()` outside
-- the loop. Callers refused at once still share a refresh through `reuse_window`.
--
-- Tokens, refresh tokens, passwords and session ids are never logged, never in a message,
-- never shown by tostring. Failures are koodrive errors: `session:token()` returns nil, err;
-- `provider` raises the error (the pipeline reports it as the token_provider's failure).
-- @module koodrive.session_tokens
local errors = require "koodrive.errors"
local scheduler = require "koodrive.scheduler"
local validate = require "koodrive.validate"

local M = {}

M.REFRESH_BEFORE = 60 -- Decision 6.5: refresh when less than 60 s remain
M.REUSE_WINDOW = 2
M.WAIT_MAX = 300 -- longest wait for another task's refresh, seconds

local Session = {}
Session.__index = Session
Session.__name = "koodrive.session_tokens"

-- Secret state by session: kept out of the session table, so a dump of it shows none.
local state = setmetatable({}, { __mode = "k" })

local KEYS = { client = true, login = true, agent_name = true, code = true, code_provider = true,
  domain = true, refresh_before = true, reuse_window = true, clock = true }

local function config_error(field, rule, message)
  return errors.config(field, rule, message)
end

--- Checks the options; returns the session and the provider, or nil and a config error.
function M.new(opts)
  if type(opts) ~= "table" then return nil, config_error("session_tokens", "type", "must be a table of options") end
  local ok, err = validate.known_keys(opts, "session_tokens", KEYS)
  if not ok then err.kind = "config"; return nil, err end
  local client = rawget(opts, "client")
  if type(client) ~= "table" and type(client) ~= "function" then
    return nil, config_error("client", "required", "must be a koodrive client (or a function returning one)")
  end
  local login, code, code_provider = rawget(opts, "login"), rawget(opts, "code"), rawget(opts, "code_provider")
  local mode
  if login ~= nil then
    if code ~= nil or code_provider ~= nil then
      return nil, config_error("login", "auth_mode", "give either login (carrier) or code / code_provider (enterprise)")
    end
    if type(login) ~= "table" then return nil, config_error("login", "type", "must be the auth/login request table") end
    local agent = rawget(opts, "agent_name")
    if type(agent) ~= "string" or agent == "" then
      return nil, config_error("agent_name", "required", "is required with login (sent as x-hw-agentName)")
    end
    mode = "carrier"
  elseif code ~= nil or code_provider ~= nil then
    if code ~= nil and (type(code) ~= "string" or code == "") then
      return nil, config_error("code", "type", "must be a non-empty string (an OrgID authorization code)")
    end
    if code_provider ~= nil and type(code_provider) ~= "function" then
      return nil, config_error("code_provider", "type", "must be a function returning an authorization code")
    end
    mode = "enterprise"
  else
    return nil, config_error("login", "required", "give login (carrier) or code / code_provider (enterprise)")
  end
  for _, name in ipairs { "refresh_before", "reuse_window" } do
    local v = rawget(opts, name)
    if v ~= nil and (type(v) ~= "number" or v ~= v or v < 0 or v > 86400) then
      return nil, config_error(name, "range", "must be a number of seconds from 0 to 86400")
    end
  end
  local clock = rawget(opts, "clock")
  if clock ~= nil and type(clock) ~= "function" then return nil, config_error("clock", "type", "must be a function") end
  local session = setmetatable({ mode = mode }, Session)
  state[session] = {
    client = client, login = login, agent_name = rawget(opts, "agent_name"), code = code,
    code_provider = code_provider, domain = rawget(opts, "domain"),
    refresh_before = rawget(opts, "refresh_before") or M.REFRESH_BEFORE,
    reuse_window = rawget(opts, "reuse_window") or M.REUSE_WINDOW,
    clock = clock or require("koodrive.retry").now,
  }
  local function provider()
    local token, left_or_err = session:renew()
    if not token then error(left_or_err, 0) end
    return token, left_or_err
  end
  return provider, session
end

function Session.__tostring(s)
  local st = state[s]
  return "koodrive.session_tokens (" .. s.mode .. ", " .. (st and st.token and "has a token" or "no token") ..
    ", tokens not shown)"
end

local function client_of(st)
  local c = st.client
  if type(c) == "function" then c = c() end
  if type(c) ~= "table" or type(c.sessions) ~= "table" then
    return nil, config_error("client", "type", "did not give a koodrive client with the sessions operations")
  end
  return c
end

-- Records a new token (and its expiry when the service gave one).
local function keep(st, token, expires_in, refresh_token, session_id)
  local now = st.clock()
  st.token, st.obtained = token, now
  st.expires_at = type(expires_in) == "number" and now + expires_in or nil
  if refresh_token then st.refresh_token = refresh_token end
  if session_id then st.session_id = session_id end
  return token
end

-- A new session: carrier login or enterprise create. Returns the token or nil, err.
local function open(st)
  local c, cerr = client_of(st)
  if not c then return nil, cerr end
  if st.login then
    local r, err = c.sessions:login(st.login, { agent_name = st.agent_name })
    if not r then return nil, err end
    local info = r.sessionInfo
    return keep(st, info.accessToken, info.expiresIn, info.refreshToken)
  end
  local code = st.code
  if st.code_provider then
    local ok, v = pcall(st.code_provider)
    if not ok or type(v) ~= "string" or v == "" then
      return nil, config_error("code_provider", "code", "did not return an authorization code")
    end
    code = v
  elseif st.code_used then
    return nil, config_error("code", "used", "the authorization code was used already; give code_provider " ..
      "to open a new session when a refresh is refused")
  end
  st.code_used = true
  local r, err = c.sessions:create(code, { domain = st.domain })
  if not r then return nil, err end
  return keep(st, r.accessToken, nil, nil, r.sessionId)
end

-- A refresh of the current session; nil, err when it is refused or cannot be made.
local function refresh(st)
  local c, cerr = client_of(st)
  if not c then return nil, cerr end
  if st.login then
    if not st.refresh_token then return nil, config_error("refreshToken", "missing", "login gave no refreshToken") end
    local info, err = c.sessions:refresh_token(st.token, st.refresh_token)
    if not info then return nil, err end
    return keep(st, info.accessToken, info.expiresIn, info.refreshToken)
  end
  if not st.session_id then return nil, config_error("sessionId", "missing", "the session has no sessionId") end
  local r, err = c.sessions:refresh(st.session_id)
  if not r then return nil, err end
  return keep(st, r.accessToken, nil)
end

-- Whether a failed refresh was a refusal (a new session may help), not a passing failure.
local function refused(err)
  return err.kind == "api" or (err.kind == "http" and (err.status == 401 or err.status == 403 or err.status == 400))
    or err.kind == "config"
end

-- Runs `work(st)` as the one refresh in flight; callers meanwhile wait for its outcome.
local function exclusive(st, work)
  local flight = st.flight
  if flight then
    if flight.co == coroutine.running() then
      -- The session call itself asked for a token (its own 401 on the same client).
      return nil, errors.new { kind = "config", field = "token_provider", rule = "reentrant",
        message = "token_provider: asked for a token by its own session call" }
    end
    local waited = 0
    while not flight.done do
      if waited > M.WAIT_MAX then
        return nil, errors.new { kind = "timeout", message = "waited too long for another task's token refresh" }
      end
      scheduler.sleep(0.005)
      waited = waited + 0.005
    end
    return flight.token, flight.err
  end
  flight = { co = coroutine.running(), done = false }
  st.flight = flight
  local ok, token, err = pcall(work, st)
  if not ok then token, err = nil, errors.new { kind = "config", field = "token_provider", rule = "token",
    message = "token_provider: the session call raised an error" } end
  flight.token, flight.err, flight.done = token, err, true
  st.flight = nil
  return token, err
end

-- Seconds until the token is due for refresh (nil without a known expiry).
local function due_in(st)
  if not st.expires_at then return nil end
  return math.max(0, st.expires_at - st.refresh_before - st.clock())
end

--- What the provider does: a token that replaces the missing or refused one, and the
-- seconds until it is due; or nil and an error.
function Session:renew()
  local st = state[self]
  local token, err = exclusive(st, function()
    if st.token and st.clock() - st.obtained < st.reuse_window then return st.token end
    if not st.token then return open(st) end
    local t, rerr = refresh(st)
    if t then return t end
    if refused(rerr) and (st.login or st.code_provider) then return open(st) end
    return nil, rerr
  end)
  if not token then return nil, err end
  return token, due_in(st)
end

--- The current token, refreshed first when less than refresh_before seconds remain (or
-- none is held yet); or nil and an error.
function Session:token()
  local st = state[self]
  if st.token and not st.flight then
    local left = due_in(st)
    if left == nil or left > 0 then return st.token, left end
  end
  local token, err = exclusive(st, function()
    if not st.token then return open(st) end
    local left = due_in(st)
    if left ~= nil and left <= 0 then
      local t, rerr = refresh(st)
      if t then return t end
      if refused(rerr) and (st.login or st.code_provider) then return open(st) end
      return nil, rerr
    end
    return st.token
  end)
  if not token then return nil, err end
  return token, due_in(st)
end

--- What is known of the session, without any secret: { mode, has_token, expires_in,
-- refreshing }.
function Session:info()
  local st = state[self]
  return { mode = self.mode, has_token = st.token ~= nil, refreshing = st.flight ~= nil,
    expires_in = st.expires_at and (st.expires_at - st.clock()) or nil }
end

setmetatable(M, { __call = function(_, opts)
  local provider, session = M.new(opts)
  if not provider then return nil, session end
  return provider, session
end })

return M
