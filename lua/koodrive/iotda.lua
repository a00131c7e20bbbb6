--- The IoTDA client: IAM token (X-Auth-Token) or AK/SK signing over the shared pipeline.
-- AK/SK requests are signed with SDK-HMAC-SHA256, or with V11-HMAC-SHA256 derived signing
-- (service "iotdm") for instance endpoints; `derived` chooses, and by default follows the
-- official SDKs' rule: regional hosts `<service>.<region>.myhuaweicloud.com` use
-- SDK-HMAC-SHA256, every other host derived signing.
-- @module koodrive.iotda
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local operations = require "koodrive.operations"
local pipeline = require "koodrive.pipeline"
local lazy_batch = pipeline.lazy_batch
local validate = require "koodrive.validate"

local SERVICE = "iotdm"

local profile = { name = "iotda", services = operations.SERVICES.iotda, bulk = {
  device_policies = { unbind_all = lazy_batch "unbind_policy_targets" },
} }

function profile.headers(client, headers)
  if client.instance_id then headers["Instance-Id"] = client.instance_id end
  -- Content-Type only with a body (the pipeline sets it then): iotda-api.md Decision - the
  -- SDKs send it on GET and DELETE too, but signing.md signs it only with a body.
end

-- Accept and User-Agent are not signed: proxies may rewrite them.
local UNSIGNED = { "accept", "user-agent" }

-- What authorizes an IoTDA request (data, applied by pipeline.encode_or_sign): token mode:
-- X-Auth-Token, nothing signed; AK/SK: X-Sdk-Date, SDK- or V11-HMAC-SHA256 signed in C.
function profile.authorize(client, secret)
  if secret.token then return { headers = { ["X-Auth-Token"] = secret.token } } end
  return { date_header = "X-Sdk-Date",
    headers = secret.security_token and { ["X-Security-Token"] = secret.security_token } or nil,
    scheme = client.derived and "V11-HMAC-SHA256" or "SDK-HMAC-SHA256", key_id = client.ak,
    secret = secret.sk, region = client.region, service = SERVICE, unsigned = UNSIGNED }
end

-- IoTDA errors: {"error_code", "error_msg"}, else {"code", "message"}; success has neither.
-- iotda-api.md: "Errors: HTTP 400/401/403/404/500 with body {"error_code":..., "error_msg":...}".
-- A 2xx answer that carries an error_code is the service's error, not a success.
function profile.envelope(body, status)
  local code = body.error_code
  if code == json.null then code = nil end
  if code ~= nil then return code, body.error_msg end
  if status >= 200 and status < 300 then return nil end
  if body.code ~= nil then return body.code, body.message or body.msg end
  return nil
end

-- Stores an IAM token from the token_provider.
function profile.set_token(secret, token)
  secret.token = token
end

function profile.describe(c)
  local mode = c.auth
  if mode == "aksk" then mode = mode .. (c.derived and "/V11" or "/SDK") end
  return "endpoint=" .. c.endpoint .. ", project_id=" .. c.project_id .. ", auth=" .. mode
end

local Client = pipeline.class(profile)

local OPTIONS = require("koodrive.options").names("iotda")

--- Creates an IoTDA client:
-- `koodrive.iotda.new{ endpoint, project_id, ak + sk | token, region, derived, instance_id }`.
-- The client has the service object `device_policies` (unbind, unbind_all) and the methods
-- call, prepare, prepare_operation, check_operation and close.
-- @function new
---@param config koodrive.IotdaOptions see `IotdaOptions` in the koodrive module
---@return koodrive.IotdaClient|nil client
---@return koodrive.Error|nil err a config error
local function new(config)
  local common, err = pipeline.common_config(config, OPTIONS)
  if not common then return nil, err end
  local project_id
  project_id, err = validate.path_segment(config.project_id, "project_id", "config")
  if not project_id then return nil, err end
  local settings = { endpoint = config.endpoint, project_id = project_id }
  local secret = {}
  local values = {}
  for _, name in ipairs { "ak", "sk", "security_token", "token", "region", "instance_id" } do
    values[name], err = pipeline.header_option(config, name)
    if err then return nil, err end
  end
  settings.instance_id = values.instance_id
  if config.derived ~= nil and type(config.derived) ~= "boolean" then
    return nil, errors.config("derived", "type", "must be a boolean")
  end
  if (values.token or common.token_provider) and (values.ak or values.sk) then
    return nil, errors.config("token", "auth_mode", "give either token (or token_provider) or ak + sk, not both")
  elseif values.token or common.token_provider then
    settings.auth = "token"
    secret.token = values.token
  elseif (values.ak ~= nil) ~= (values.sk ~= nil) then
    local missing = values.ak and "sk" or "ak"
    return nil, errors.config(missing, "required", "is required with " .. (values.ak and "ak" or "sk"))
  elseif values.ak and values.sk then
    if values.ak:find("[,=/%s]") then
      return nil, errors.config("ak", "header_value", "must not contain ',', '=', '/' or white space")
    end
    settings.auth = "aksk"
    settings.ak = values.ak
    secret.sk, secret.security_token = values.sk, values.security_token
    local derived = config.derived
    if derived ~= nil and type(derived) ~= "boolean" then
      return nil, errors.config("derived", "type", "must be a boolean")
    end
    if derived == nil then
      derived = not common.endpoint.host:find("^[%w%-]+%.[%w%-]+%.myhuaweicloud%.com$")
    end
    settings.derived = derived
    if derived then
      if not values.region or values.region:find("[^%w%-]") then
        return nil, errors.config("region", "required",
          "is required for derived (V11-HMAC-SHA256) signing, e.g. cn-north-4")
      end
    end
    settings.region = values.region
  else
    return nil, errors.config("ak", "required", "give ak and sk, or token")
  end
  return Client._create(common, settings, secret, { project_id = project_id })
end

-- LDoc reference for the client's methods (built at run time; LuaLS types in
-- lua/koodrive/meta.lua). IoTDA clients also have `call`, `prepare`, `prepare_operation`,
-- `check_operation` and `close`, as KooDrive clients do.

--- Unbinds targets (at most 20) from a device policy.
-- @function device_policies:unbind
-- @string policy_id
-- @tparam table targets `{ target_type = "DEVICE", target_ids = { ... } }`
-- @tparam[opt] CallOptions opts
-- @return a `PolicyUnbindResult`, or nil and an error

--- Unbinds any number of targets, 20 per call; a call that fails as a whole reports each
-- of its ids in `failure_targets` with `error`.
-- @function device_policies:unbind_all
-- @string policy_id
-- @tparam table targets `{ target_type, target_ids }`
-- @tparam[opt] BatchOptions opts
-- @return a `PolicyUnbindResult` with `calls`, or nil and a validation error

--- Result of `device_policies:unbind` and `unbind_all`: every target is in one list.
-- @table PolicyUnbindResult
-- @field policy_id
-- @field target_type
-- @field success_targets the ids unbound
-- @field failure_targets a list of `FailureTarget`
-- @field uncertain_targets a list of `FailureTarget` that may have been unbound: failures heard
-- after an earlier attempt that may have been carried out, or (unbind_all) the targets of a
-- call whose last attempt got no readable answer
-- @field history with uncertain targets of one call: the failed attempts before the answer
-- @field calls (unbind_all) how many calls were made
-- @field callback_error (unbind_all) the first error the progress callback raised

--- A target that could not be unbound.
-- @table FailureTarget
-- @field target_id
-- @field error_code the service's code; "KOODRIVE.UNREPORTED" when the service reported
-- neither success nor failure; `"KOODRIVE.<KIND>"` when the call failed as a whole
-- @field error_msg
-- @field error (unbind_all) the error of the call that carried the id

return { new = new, Client = Client }
