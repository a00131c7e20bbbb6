--- The KooDrive client: bearer-token or app-signature auth over the shared pipeline.
-- @module koodrive.client
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local shape = require "koodrive.shape"
local operations = require "koodrive.operations"
local pipeline = require "koodrive.pipeline"
local lazy_batch = pipeline.lazy_batch
local validate = require "koodrive.validate"

-- "Bearer <token>" with one space, unless the token already carries the prefix, or is a
-- carrier access token ("AT <token>", koodrive-sharing-groups-api.md §6.5 Decision: sent
-- unchanged).
local function bearer(token)
  local head = token:sub(1, 7):lower()
  if head == "bearer " or head:sub(1, 3) == "at " or head:sub(1, 3) == "at+" then return token end
  -- The carrier's tokens (auth/login) already carry their scheme: "AT <token>".
  if token:sub(1, 3):lower() == "at " then return token end
  return "Bearer " .. token
end

-- A call built from other calls (koodrive.composite), loaded on its first use.
local function composite(name)
  return function(...) return require("koodrive.composite")[name](...) end
end

-- A bulk helper of the sharing family (koodrive.bulk.sharing), loaded on its first use.
local function sharing_bulk(name)
  return function(...) return require("koodrive.bulk.sharing")[name](...) end
end

local profile = { name = "koodrive", services = operations.SERVICES.koodrive, bulk = {
  devices = { unbind_many = lazy_batch "unbind_devices" },
  usergroups = { delete_members_many = lazy_batch "delete_members", add_members_many = sharing_bulk "add_members" },
  shares = { cancel_many = sharing_bulk "cancel_shares" },
  usage = { by_user_many = sharing_bulk "usage_by_user" },
  favorites = { set_many = function(...) return require("koodrive.bulk.files").set_favorites(...) end },
  spaces = { mine = composite "mine" },
  jobs = { wait = composite "wait" },
  files = { upload = function(...) return require("koodrive.transfer.upload").run(...) end,
    download = function(...) return require("koodrive.transfer.download").run(...) end,
    upload_many = function(...) return require("koodrive.transfer.many").upload(...) end,
    download_many = function(...) return require("koodrive.transfer.many").download(...) end,
    copy = composite "copy", move = composite "move", delete = composite "delete",
    restore = composite "restore", clear_recycled = composite "clear_recycled" },
} }

-- Headers every KooDrive request carries (besides Host, User-Agent, Accept, Content-Type).
function profile.headers(client, headers, opts)
  headers["X-User-Id"] = client.user_id
  local language = opts.language or client.language
  if language then headers.language = language end
  local trace_id = opts.trace_id
  if not trace_id and client.trace_ids then trace_id = pipeline.new_trace_id() end
  if trace_id then headers["X-Traceid"] = trace_id end
end

-- What authorizes a KooDrive request (data, applied by pipeline.encode_or_sign): X-Date on every
-- request; token mode: Authorization: Bearer; app mode: HMAC-SHA256 signed in C.
function profile.authorize(client, secret)
  local token = secret.token
  if token then
    -- Read only (nothing is signed in token mode), so one table serves every call until the
    -- token changes.
    local auth = secret.token_auth
    if not auth or auth.headers.Authorization ~= token then
      auth = { date_header = "X-Date", headers = { Authorization = token } }
      secret.token_auth = auth
    end
    return auth
  end
  return { date_header = "X-Date", scheme = "HMAC-SHA256", key_id = client.app_id,
    secret = secret.app_secret }
end

-- KooDrive bodies are {"code": 0, "msg": ...}; any other code is the service's error.
-- koodrive-api.md: "Every KooDrive response body is {"code": <int>, "msg": <string>, ...};
-- code 0 is success." So success is `code` the integer 0 or the string "0", nothing that
-- merely converts to 0 (0.0, "0x0", " 0 ", "00", "-0", "0e99", false); any other integer (or a
-- string that is no number) is the service's error; anything else is no answer (a decode
-- error). Success also needs HTTP 200: "Errors arrive either as HTTP 200 with a non-zero code,
-- or as HTTP 400/401/500".
-- Operations of the families documented later (code_optional, koodrive-files-api.md §1
-- Decision): "A call succeeded when the HTTP status is 2xx and code is absent or 0".
function profile.envelope(body, status, ctx)
  local code = body.code
  local lenient = ctx and ctx.code_optional
  if code == nil or code == json.null then
    -- (a non-2xx answer without a code is then an HTTP error, with its body's snippet)
    if lenient then return nil end
    return nil, nil, "response has no 'code' field"
  end
  local n = shape.code(body)
  local msg = body.msg
  if n == nil then
    -- A string that is no number at all ("KD40005") is still the service's own error code;
    -- one that reads as a number but is not the documented integer is no answer.
    if type(code) == "string" and tonumber(code) == nil then return code, msg end
    return nil, nil, "response 'code' is not an integer (a " .. type(code) .. ")"
  end
  if n ~= 0 then return n, msg end
  if status ~= 200 and status >= 200 and status < 300 and not lenient then
    return nil, nil, "HTTP " .. status .. " with code 0, where success is documented as HTTP 200"
  end
  return nil
end

-- Stores a token from the token_provider.
function profile.set_token(secret, token)
  secret.token, secret.raw_token = bearer(token), token
end

function profile.describe(c)
  return "endpoint=" .. c.endpoint .. ", user_id=" .. c.user_id .. ", auth=" .. c.auth
end

local Client = pipeline.class(profile)

local OPTIONS = require("koodrive.options").names("koodrive")


--- Creates a KooDrive client: `koodrive.new{ endpoint, user_id, token | app_id + app_secret, ... }`.
-- Token mode sends `Authorization: Bearer <token>`; app mode signs every request with
-- HMAC-SHA256. The client has the service objects `devices` (list, bind, unbind,
-- unbind_many) and `usergroups` (delete_members, delete_members_many), and the methods
-- call, prepare, prepare_operation, check_operation and close.
-- @function new
---@param config koodrive.Options see `Options` in the koodrive module
---@return koodrive.Client|nil client
---@return koodrive.Error|nil err a config error
local function new(config)
  local common, err = pipeline.common_config(config, OPTIONS)
  if not common then return nil, err end
  local user_id
  user_id, err = validate.user_id(config.user_id, "user_id", "config")
  if not user_id then return nil, err end
  local settings = { user_id = user_id, endpoint = config.endpoint,
    trace_ids = config.trace_ids == true }
  if config.trace_ids ~= nil and type(config.trace_ids) ~= "boolean" then
    return nil, errors.config("trace_ids", "type", "must be a boolean")
  end
  if config.language ~= nil then
    settings.language, err = validate.language(config.language, "language", "config")
    if not settings.language then return nil, err end
  end
  local secret = {}
  local token, app_id, app_secret
  token, err = pipeline.header_option(config, "token")
  if err then return nil, err end
  app_id, err = pipeline.header_option(config, "app_id")
  if err then return nil, err end
  app_secret, err = pipeline.header_option(config, "app_secret")
  if err then return nil, err end
  if (token or common.token_provider) and (app_id or app_secret) then
    return nil, errors.config("token", "auth_mode",
      "give either token (or token_provider) or app_id + app_secret, not both")
  elseif token or common.token_provider then
    settings.auth = "token"
    if token then profile.set_token(secret, token) end
  elseif (app_id ~= nil) ~= (app_secret ~= nil) then
    local missing = app_id and "app_secret" or "app_id"
    return nil, errors.config(missing, "required", "is required with " .. (app_id and "app_id" or "app_secret"))
  elseif app_id and app_secret then
    if app_id:find("[,=%s]") then
      return nil, errors.config("app_id", "header_value", "must not contain ',', '=' or white space")
    end
    settings.auth = "app"
    settings.app_id = app_id
    secret.app_secret = app_secret
  else
    return nil, errors.config("token", "required", "give token (or token_provider), or app_id and app_secret")
  end
  return Client._create(common, settings, secret)
end

-- LDoc reference for the client's methods (built at run time by koodrive.pipeline from
-- koodrive.operations; their LuaLS types are in lua/koodrive/meta.lua).

--- Lists the devices bound to the user.
-- @function devices:list
-- @tparam[opt] CallOptions opts
-- @return a list of `BoundDeviceEntity` (empty when none), or nil and an error

--- Binds a device to the user.
-- @function devices:bind
-- @tparam table device `{ machineCode = ..., deviceName = ..., deviceOS = ... }`
-- @tparam[opt] CallOptions opts
-- @return the bound `BoundDeviceEntity`, or nil and an error

--- Unbinds one device.
-- @function devices:unbind
-- @string deviceId
-- @tparam[opt] CallOptions opts
-- @return the unbound `BoundDeviceEntity`, or nil and an error

--- Unbinds many devices with bounded concurrency; every id ends up in exactly one of done,
-- failed (refused, or never sent) and uncertain (may have been unbound: see koodrive.batch).
-- @function devices:unbind_many
-- @tparam {string,...} ids
-- @tparam[opt] BatchOptions opts
-- @return `{ done = { {deviceId, device} }, failed = { {deviceId, error} },
-- uncertain = { {deviceId, error, history} }, callback_error }`, or nil and a validation error

--- Removes users from a user group.
-- @function usergroups:delete_members
-- @string groupId
-- @tparam {string,...} userIds
-- @tparam[opt] CallOptions opts
-- @return a `DeleteMembersResult`, or nil and an error

--- Removes users from many groups: `{ {groupId, userIds}, ... }`.
-- An id the service refused is failed with `refused = true`; an id in a call that failed
-- has that call's `error`.
-- @function usergroups:delete_members_many
-- @tparam table groups
-- @tparam[opt] BatchOptions opts
-- @return `{ deleted = { {groupId, userId} }, failed = { {groupId, userId, refused | error} },
-- uncertain = { {groupId, userId, result | error, history} }, groups = { {groupId, result | error} },
-- callback_error }`, or nil and a validation error

--- Sends any request through the client's auth, retries and logging
-- (the same method on IoTDA clients).
-- @function call
-- @tparam table spec `{ method, path, query, body }` plus any `CallOptions`
-- @return the decoded response body, or nil and an error

--- Builds and signs a request without sending it.
-- @function prepare
-- @tparam table spec as for `call`
-- @return the request `{ method, url, headers, body }`, or nil and an error

--- Builds and signs the request a declared operation would send, without sending it
-- (the same method on IoTDA clients): `client:prepare_operation("devices.bind", device_id)`.
-- The arguments are those of the operation (`client.devices:bind(device_id [, opts])`),
-- checked first: bad input returns the validation error the call would.
-- @function prepare_operation
-- @string name the operation, `"service.method"` (e.g. `"usergroups.delete_members"`)
-- @param ... the operation's arguments, then its `CallOptions`
-- @return the request `{ method, url, headers, body }`, or nil and an error

--- Checks a declared operation's arguments without building or sending anything (the same
-- method on IoTDA clients): `client:check_operation("devices.unbind", id)`.
-- @function check_operation
-- @string name the operation, `"service.method"`
-- @param ... the operation's arguments, then its `CallOptions`
-- @return true, or nil and the validation error the call would return

--- Releases the transport (its libcurl handle) if the client created it.
-- @function close

--- A device bound to the user (KooDrive BoundDeviceEntity).
-- @table BoundDeviceEntity
-- @field deviceId the 19-digit id, always a string
-- @field machineCode
-- @field deviceName
-- @field deviceOS
-- @field createTime

--- Result of `usergroups:delete_members`: every requested id is in exactly one of `deleted`,
-- `failedList` and `uncertain`.
-- @table DeleteMembersResult
-- @field status 0 all deleted, 1 some, 2 none
-- @field deleted the ids deleted
-- @field failedList the ids the service refused
-- @field uncertain the ids the service called failed after an earlier attempt (a reset, a
-- timeout, a 502/503/504) that may have deleted them
-- @field history with `uncertain`: the failed attempts before the answer

return { new = new, Client = Client }
