-- koodrive_local.iotda_routes: the IoTDA routes of the local service, behind
-- the API gateway's authentication (koodrive_local.auth.verify_iotda).
--
-- Response shapes follow iotda-api.md; where it says nothing, the choice made
-- here is written next to the route.

local auth = require "koodrive_local.auth"
local jsonio = require "koodrive_local.jsonio"
local reply = require "koodrive_local.reply"

local array, object = jsonio.array, jsonio.object
local iot, iot_invalid, iot_no_api = reply.iot, reply.iot_invalid, reply.iot_no_api

local M = {}

local TARGET_TYPES = { device = true, product = true, app = true }

local function policy_body(raw)
  local doc = jsonio.decode(raw)
  if type(doc) ~= "table" or not TARGET_TYPES[doc.target_type] then return nil end
  local ids = doc.target_ids
  if not jsonio.is_array(ids) or #ids < 1 or #ids > 20 then return nil end
  for _, v in ipairs(ids) do
    if type(v) ~= "string" or #v < 1 or #v > 256 then return nil end
  end
  return doc.target_type, ids
end

-- POST .../unbind: every id ends up in success_targets or failure_targets.
-- POST .../bind (local helper for tests and the demo, same body): binding an
-- already bound id counts as success; the answer has the same shape.
local function bind_or_unbind(self, policy_id, action, req)
  local ttype, ids = policy_body(req.body)
  if not ttype then return iot_invalid() end
  local policy = self.state.policies[auth.percent_decode(policy_id)]
  if not policy then return iot(404, "IOTDA.015206", "The device policy does not exist.") end
  local set = policy[ttype]
  local ok_list, failed = array(), array()
  for _, id in ipairs(ids) do
    if action == "bind" then
      set:add(id)
      ok_list[#ok_list + 1] = id
    elseif set:remove(id) then
      ok_list[#ok_list + 1] = id
    else
      failed[#failed + 1] = object("target_id", id, "error_code", "IOTDA.015207",
        "error_msg", "Invalid input. The target does not bind the device-policy.")
    end
  end
  return reply.json(200, object("policy_id", auth.percent_decode(policy_id), "target_type", ttype,
    "success_targets", ok_list, "failure_targets", failed))
end

-- GET .../list-targets[?target_type=device] (shape chosen here):
-- {"targets":[{"target_type":"device","target_id":".."}],"page":{"count":N}}
local function list_targets(self, policy_id, req)
  local policy = self.state.policies[auth.percent_decode(policy_id)]
  if not policy then return iot(404, "IOTDA.015206", "The device policy does not exist.") end
  local only
  for _, p in ipairs(auth.parse_query(req.query)) do
    if p[1] == "target_type" then only = p[2] end
  end
  if only and not TARGET_TYPES[only] then return iot_invalid() end
  local out = array()
  for _, ttype in ipairs({ "device", "product", "app" }) do
    if not only or only == ttype then
      for _, id in ipairs(policy[ttype].items) do
        out[#out + 1] = object("target_type", ttype, "target_id", id)
      end
    end
  end
  return reply.json(200, object("targets", out, "page", object("count", #out)))
end

--- The answer of a request under /v5/ (the gateway's auth first, then the route).
function M.handle(self, req)
  -- the gateway authenticates before the service sees the request
  local ok, status, code, msg = auth.verify_iotda(req, self.creds.iotda, os.time())
  if not ok then return iot(status, code, msg) end

  local project, policy, action = req.path:match("^/v5/iot/([^/]+)/device%-policies/([^/]+)/([%a%-]+)$")
  if not project then return iot_no_api() end
  -- another project's path is not routed here at all
  if auth.percent_decode(project) ~= self.creds.iotda.project_id then return iot_no_api() end
  if (action == "unbind" or action == "bind") and req.method == "POST" then
    return bind_or_unbind(self, policy, action, req)
  elseif action == "list-targets" and req.method == "GET" then
    return list_targets(self, policy, req)
  end
  return iot_no_api()
end

return M
