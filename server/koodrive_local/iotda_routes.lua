-- koodrive_local.iotda_routes: the IoTDA device-policy routes of the local service
-- (iotda-api.md, the eight calls), behind the API gateway's authentication
-- (koodrive_local.auth.verify_iotda: token, SDK-HMAC-SHA256 and V11-HMAC-SHA256).
-- The store is koodrive_local.iotda_policies. Errors are
-- {"error_code": "IOTDA.xxxxxx", "error_msg": ...} with the documented statuses; where
-- the contract says nothing, the choice made here is written next to the route.

local auth = require "koodrive_local.auth"
local jsonio = require "koodrive_local.jsonio"
local policies = require "koodrive_local.iotda_policies"
local reply = require "koodrive_local.reply"

local array, object = jsonio.array, jsonio.object
local iot, iot_invalid, iot_no_api = reply.iot, reply.iot_invalid, reply.iot_no_api

local M = {}

local TARGET_TYPES = { device = true, product = true, app = true }
local EFFECTS = { ALLOW = true, DENY = true }
local NAME = "^[A-Za-z0-9_%-]+$"
local ACTION = "^[A-Za-z0-9_%-]+:[A-Za-z0-9_%-]+:[A-Za-z0-9_%-]+$"
local RESOURCE = "^[A-Za-z0-9_%-]+:[A-Za-z0-9/{}$=+#?*:._%-]+$"

-- Local choice: bind takes at most 100 ids per call (no limit is documented; the library
-- does not split binds, so a spec can see this limit surface as the service's error).
local BIND_MAX, UNBIND_MAX = 100, 20

local function not_found() return iot(404, "IOTDA.015206", "The device policy does not exist.") end

local function is_hex24(s)
  return type(s) == "string" and #s == 24 and not s:find("[^0-9A-Fa-f]")
end

local function name_ok(v, max)
  return type(v) == "string" and #v >= 1 and #v <= max and v:find(NAME) ~= nil
end

local function strings_ok(list, min, max, pattern)
  if not jsonio.is_array(list) or #list < min or (max and #list > max) then return false end
  for _, s in ipairs(list) do
    if type(s) ~= "string" or not s:find(pattern) then return false end
  end
  return true
end

-- A Statement[] as sent, or nil when it breaks a documented rule.
local function statement_of(v)
  if not jsonio.is_array(v) or #v < 1 then return nil end
  local out = array()
  for _, st in ipairs(v) do
    if type(st) ~= "table" or not EFFECTS[st.effect] or not strings_ok(st.actions, 1, nil, ACTION)
      or not strings_ok(st.resources, 1, 10, RESOURCE) then
      return nil
    end
    out[#out + 1] = object("effect", st.effect, "actions", array(st.actions), "resources", array(st.resources))
  end
  return out
end

local function policy_json(p, with_statement)
  return object("app_id", p.app_id, "policy_id", p.policy_id, "policy_name", p.policy_name,
    "statement", with_statement and (p.statement or array()) or nil,
    "create_time", p.create_time, "update_time", p.update_time)
end

-- Pages (§2, §8): limit 1..50 (10), marker 24 hex (ffff...), offset 0..500 (0); from the
-- query (list) or the body (list-targets). nil when one is out of range.
local function paging_of(get)
  local limit, marker, offset = get("limit"), get("marker"), get("offset")
  limit = limit == nil and 10 or tonumber(limit)
  offset = offset == nil and 0 or tonumber(offset)
  if not limit or limit % 1 ~= 0 or limit < 1 or limit > 50 then return nil end
  if not offset or offset % 1 ~= 0 or offset < 0 or offset > 500 then return nil end
  if marker == nil then marker = policies.TOP_MARKER elseif not is_hex24(marker) then return nil end
  return limit, marker, offset
end

local function page_json(count, marker)
  return object("count", count, "marker", marker)
end

-- POST .../device-policies: 201 with the Policy; at most 50 per instance.
local function create(store, req)
  local doc = jsonio.decode(req.body)
  if type(doc) ~= "table" or not name_ok(doc.policy_name, 128)
    or (doc.app_id ~= nil and not name_ok(doc.app_id, 36)) then
    return iot_invalid()
  end
  local st = statement_of(doc.statement)
  if not st then return iot_invalid() end
  local p = store:create { policy_name = doc.policy_name, app_id = doc.app_id, statement = st }
  -- Local choice of code: the documented invalid-input one, with the reason.
  if not p then return iot(400, "IOTDA.000006", "Invalid input data. An instance holds at most 50 device policies.") end
  return reply.json(201, policy_json(p, true))
end

-- GET .../device-policies?app_id&policy_name&limit&marker&offset (policy_name: a part of
-- the name, local choice).
local function list(store, req)
  local q = {}
  for _, pair in ipairs(auth.parse_query(req.query)) do q[pair[1]] = pair[2] end
  local limit, marker, offset = paging_of(function(k) return q[k] end)
  if not limit then return iot_invalid() end
  if q.app_id and not name_ok(q.app_id, 36) then return iot_invalid() end
  if q.policy_name and (q.policy_name == "" or #q.policy_name > 256 * 3) then return iot_invalid() end
  local items, count, last = store:list({ app_id = q.app_id, policy_name = q.policy_name }, marker, offset, limit)
  local out = array()
  for i, r in ipairs(items) do out[i] = policy_json(r.policy, false) end
  return reply.json(200, object("policies", out, "page", page_json(count, last)))
end

local function update(store, p, req)
  local doc = jsonio.decode(req.body)
  if type(doc) ~= "table" or (doc.policy_name == nil and doc.statement == nil) then return iot_invalid() end
  if doc.policy_name ~= nil and not name_ok(doc.policy_name, 128) then return iot_invalid() end
  local st
  if doc.statement ~= nil then
    st = statement_of(doc.statement)
    if not st then return iot_invalid() end
  end
  return reply.json(200, policy_json(store:update(p, { policy_name = doc.policy_name, statement = st }), true))
end

local function targets_body(raw, max)
  local doc = jsonio.decode(raw)
  if type(doc) ~= "table" or not TARGET_TYPES[doc.target_type] then return nil end
  local ids = doc.target_ids
  if not jsonio.is_array(ids) or #ids < 1 or #ids > max then return nil end
  for _, v in ipairs(ids) do
    if type(v) ~= "string" or #v < 1 or #v > 256 then return nil end
  end
  return doc.target_type, ids
end

-- POST .../bind and .../unbind: every id ends up in success_targets or failure_targets.
-- Binding an already bound id counts as success.
local function bind_or_unbind(store, p, action, req)
  local ttype, ids = targets_body(req.body, action == "bind" and BIND_MAX or UNBIND_MAX)
  if not ttype then return iot_invalid() end
  local ok_list, failed = array(), array()
  for _, id in ipairs(ids) do
    if action == "bind" then
      store:bind(p, ttype, id)
      ok_list[#ok_list + 1] = id
    elseif store:unbind(p, ttype, id) then
      ok_list[#ok_list + 1] = id
    else
      failed[#failed + 1] = object("target_id", id, "error_code", "IOTDA.015207",
        "error_msg", "Invalid input. The target does not bind the device-policy.")
    end
  end
  return reply.json(200, object("policy_id", p.policy_id, "target_type", ttype,
    "success_targets", ok_list, "failure_targets", failed))
end

-- POST .../list-targets {target_type, limit, marker, offset} (all optional; an empty body
-- is taken as {}).
local function list_targets(store, p, req)
  local doc = {}
  if req.body ~= "" then
    doc = jsonio.decode(req.body)
    if type(doc) ~= "table" or (next(doc) ~= nil and jsonio.is_array(doc)) then return iot_invalid() end
  end
  if doc.target_type ~= nil and not TARGET_TYPES[doc.target_type] then return iot_invalid() end
  for _, k in ipairs { "limit", "offset" } do
    if doc[k] ~= nil and type(doc[k]) ~= "number" then return iot_invalid() end
  end
  local limit, marker, offset = paging_of(function(k) return doc[k] end)
  if not limit then return iot_invalid() end
  local items, count, last = store:targets(p, doc.target_type, marker, offset, limit)
  local out = array()
  for i, r in ipairs(items) do out[i] = object("target_type", r.target_type, "target_id", r.target_id) end
  return reply.json(200, object("targets", out, "page", page_json(count, last)))
end

--- The answer of a request under /v5/ (the gateway's auth first, then the route).
function M.handle(self, req)
  -- the gateway authenticates before the service sees the request
  local ok, status, code, msg = auth.verify_iotda(req, self.creds.iotda, os.time())
  if not ok then return iot(status, code, msg) end

  local project, rest = req.path:match("^/v5/iot/([^/]+)/device%-policies(.*)$")
  if not project then return iot_no_api() end
  -- another project's path is not routed here at all
  if auth.percent_decode(project) ~= self.creds.iotda.project_id then return iot_no_api() end
  local store, m = policies.of(self), req.method
  if rest == "" then
    if m == "POST" then return create(store, req) end
    if m == "GET" then return list(store, req) end
    return iot_no_api()
  end
  local id, action = rest:match("^/([^/]+)/?([%a%-]*)$")
  if not id then return iot_no_api() end
  id = auth.percent_decode(id)
  local routed = (action == "" and (m == "GET" or m == "PUT" or m == "DELETE"))
    or ((action == "bind" or action == "unbind" or action == "list-targets") and m == "POST")
  if not routed then return iot_no_api() end
  if not is_hex24(id) then return iot_invalid() end
  local p = store:get(id)
  if not p then return not_found() end
  if action == "" then
    if m == "GET" then return reply.json(200, policy_json(p, true)) end
    if m == "PUT" then return update(store, p, req) end
    store:delete(p)
    return 204, nil, ""
  end
  if action == "list-targets" then return list_targets(store, p, req) end
  return bind_or_unbind(store, p, action, req)
end

--- POST /_local/iotda/policies?count=N (1-1000): adds N policies past the 50 cap, named
-- seeded-<n>, so marker paging over more than 50 records can be tested. The control
-- route of koodrive_local.control calls this; the answer is KooDrive-style, as the other
-- /_local/ answers.
function M.control(self, req)
  if req.method ~= "POST" then return reply.kd(405, 405, "method not allowed") end
  local n = tonumber((req.query or ""):match("^count=(%d+)$") or "")
  if not n or n < 1 or n > 1000 then return reply.kd(400, 13000102, "count must be 1-1000") end
  local store = policies.of(self)
  local ids = array()
  for i = 1, n do
    local p = store:create({ policy_name = "seeded-" .. i,
      statement = statement_of { { effect = "ALLOW", actions = { "iotda:devices:publish" },
        resources = { "topic:/v1/${devices.deviceId}/seeded" } } } }, true)
    ids[i] = p.policy_id
  end
  return reply.kd(200, 0, "seeded", "policy_ids", ids, "total", store.count)
end

return M
