--- The IoTDA device-policy operations (iotda-api.md "the device-policy family"), as data for
-- koodrive.pipeline. `{project_id}` comes from the client; every `{policy_id}` is checked as
-- 24 hexadecimal characters, so nothing else can reach the path.
local json = require "koodrive.json"
local check = require "koodrive.validate.iotda"
local shape = require "koodrive.shape.iotda"

local BASE = "/v5/iot/{project_id}/device-policies"

local POLICY_ID = { name = "policy_id", check = check.hex24 }

-- bind takes any number of ids (no documented limit, no split: a server limit error
-- surfaces as is); unbind at most 20 (iotda-api.md §7, Decision).
local function check_bind_targets(spec) return check.targets(spec, nil) end
local function check_unbind_targets(spec) return check.targets(spec, 20) end

-- Op options are checked with the value or nil (not given): nil passes.
local function optional(check_fn)
  return function(v, name)
    if v == nil then return nil end
    return check_fn(v, name)
  end
end

-- The options of both marker listings: offset 0..500 (iotda-api.md §2, §8) and a cursor
-- that is a marker, 24 hex characters (the pipeline checks page_size against page_max).
local LISTING_OPTIONS = { offset = optional(check.offset), cursor = optional(check.hex24) }

return {
  {
    name = "device_policies.create",
    method = "POST", path = BASE,
    args = { { name = "policy", check = check.create_request } },
    body = function(a) return json.encode(a.policy) end,
    -- iotda-api.md §1 Decision: any 2xx is success (201 documented); not retried blindly.
    idempotent = false,
    result = shape.policy_created,
  },
  {
    name = "device_policies.list",
    method = "GET", path = BASE,
    args = { { name = "query", check = check.list_query } },
    options = LISTING_OPTIONS,
    query = function(a, opts)
      local q = {}
      local function add(k, v) if v ~= nil then q[#q + 1] = { k, v } end end
      add("app_id", a.query.app_id)
      add("policy_name", a.query.policy_name)
      add("limit", opts.page_size)
      add("marker", opts.cursor)
      add("offset", opts.offset)
      return q
    end,
    paging = "marker", page_max = 50,
    status = 200,
    result = shape.policy_list,
  },
  {
    name = "device_policies.get",
    method = "GET", path = BASE .. "/{policy_id}",
    args = { POLICY_ID },
    status = 200,
    result = shape.policy,
  },
  {
    name = "device_policies.update",
    method = "PUT", path = BASE .. "/{policy_id}",
    args = { POLICY_ID, { name = "policy", check = check.update_request } },
    body = function(a) return json.encode(a.policy) end,
    status = 200,
    result = shape.policy,
  },
  {
    name = "device_policies.delete",
    method = "DELETE", path = BASE .. "/{policy_id}",
    args = { POLICY_ID },
    empty_body = true, -- iotda-api.md §5: 204 No Content, empty body
    result = shape.policy_deleted,
    -- Retried after an attempt that may have deleted it, "the device policy does not exist"
    -- is what that attempt's success looks like.
    already_done = function(err) return err.kind == "api" and err.code == "IOTDA.015206" end,
  },
  {
    name = "device_policies.bind",
    method = "POST", path = BASE .. "/{policy_id}/bind",
    args = { POLICY_ID, { name = "targets", check = check_bind_targets } },
    body = function(a) return json.encode(a.targets) end,
    status = 200,
    result = shape.policy_bind,
  },
  {
    name = "device_policies.unbind",
    method = "POST", path = BASE .. "/{policy_id}/unbind",
    args = {
      POLICY_ID,
      { name = "targets", check = check_unbind_targets },
    },
    body = function(a) return json.encode(a.targets) end,
    status = 200, -- iotda-api.md: "Response 200: policy_id, target_type, ..."
    result = shape.policy_unbind,
  },
  {
    name = "device_policies.list_targets",
    method = "POST", path = BASE .. "/{policy_id}/list-targets",
    args = { POLICY_ID, { name = "query", check = check.targets_query } },
    options = LISTING_OPTIONS,
    -- Every field is optional (iotda-api.md §8): nothing given is the body {}.
    body = function(a, opts)
      local b = { target_type = a.query.target_type, limit = opts.page_size and math.floor(opts.page_size),
        marker = opts.cursor, offset = opts.offset }
      if next(b) == nil then return "{}" end
      return json.encode(b)
    end,
    paging = "marker", page_max = 50,
    status = 200,
    result = shape.policy_targets,
  },
}
