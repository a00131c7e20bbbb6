-- examples/openresty/handler.lua: an nginx content handler listing a KooDrive user's devices.
-- See nginx.conf beside it: init_by_lua loads this module, `location = /devices` calls
-- require("handler").devices().
--
-- The client is made once, when the module is loaded (in the master, from init_by_lua), and
-- every worker inherits it. Its transport decides per call: in a request handler or a timer it
-- sends on nginx's non-blocking cosockets, so a slow answer holds up only this request; in
-- init_by_lua/init_worker_by_lua/log_by_lua, where nginx has no cosockets, it uses libcurl.
local koodrive = require "koodrive"
local cjson = require "cjson.safe"

local M = {}

local client, client_err = koodrive.new {
  endpoint = os.getenv("KOODRIVE_ENDPOINT"),
  user_id = os.getenv("KOODRIVE_USER_ID"),
  token = os.getenv("KOODRIVE_TOKEN"),
  timeout = 10,
  connect_timeout = 3,
}

-- HTTP status for a koodrive error: the service is upstream of us.
local function status_for(err)
  if err.kind == "timeout" then return ngx.HTTP_GATEWAY_TIMEOUT end
  if err.kind == "config" then return ngx.HTTP_INTERNAL_SERVER_ERROR end
  return ngx.HTTP_BAD_GATEWAY
end

local function fail(err)
  ngx.log(ngx.ERR, tostring(err))   -- errors never carry the token
  ngx.status = status_for(err)
  ngx.header.content_type = "application/json"
  ngx.say(cjson.encode { error = { kind = err.kind, reason = err.reason, message = err.message,
    retryable = err.retryable } })
  return ngx.exit(ngx.status)
end

--- GET /devices -> {"devices":[{deviceId, machineCode, deviceName, deviceOS, createTime}, ...]}
function M.devices()
  if not client then return fail(client_err) end
  local devices, err = client.devices:list()
  if not devices then return fail(err) end
  local items = {}
  for i, d in ipairs(devices) do items[i] = cjson.encode(d) end
  ngx.header.content_type = "application/json"
  ngx.say('{"devices":[', table.concat(items, ","), "]}")
end

return M
