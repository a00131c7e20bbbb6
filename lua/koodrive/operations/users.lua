--- Users and space usage by user (koodrive-sharing-groups-api.md §3, §4): users.list,
-- users.create, usage.by_user. Operation entries as data.
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local V = require "koodrive.validate.sharing"
local S = require "koodrive.shape.sharing"

local USERS_MAX = 100
-- GetSpaceUsageByUser (C, 2026-02-12): userIds 1..50 per call; larger sets go through
-- koodrive.bulk.sharing (usage_many), never silently cut.
local USAGE_IDS_MAX = 50

local LIST_RULES = {
  deptId = V.id,
  isDirect = V.boolean,
  keyWord = function(v, f) return V.utf8_text(v, f, 256) end,
}

local MODIFY_RULES = {
  deptId = V.id,
  role = function(v, f) return V.int(v, f, -2 ^ 31, 2 ^ 31 - 1) end,
}

-- usage.by_user's userIds: nil (everyone, paged) or 1..50 user ids.
local function usage_ids(v, f)
  if v == nil then return false end -- "none given": args may not hold nil
  return V.id_list(v, f, USAGE_IDS_MAX, validate.user_id)
end

return {
  {
    name = "users.list",
    method = "GET", path = "/koodrive/ose/v1/userList",
    args = { { name = "query", check = function(v, f) return V.optional_request(v, f, LIST_RULES) end } },
    query = function(a, opts)
      local q = {}
      if a.query.deptId then q[#q + 1] = { "deptId", a.query.deptId } end
      if a.query.isDirect ~= nil then q[#q + 1] = { "isDirect", a.query.isDirect } end
      q[#q + 1] = { "offset", (opts and opts.cursor) or 0 }
      q[#q + 1] = { "limit", S.limit(opts, S.USERS_LIMIT) }
      if a.query.keyWord then q[#q + 1] = { "keyWord", a.query.keyWord } end
      return q
    end,
    paging = "offset", page_max = USERS_MAX,
    code_optional = true,
    result = S.user_list,
  },
  {
    name = "users.create",
    method = "POST", path = "/koodrive/ose/v1/users",
    args = {
      { name = "userId", check = validate.user_id },
      { name = "modifyUserInfoReq", check = function(v, f) return V.optional_request(v, f, MODIFY_RULES) end },
    },
    -- Decision 3.2: modifyUserInfoReq is always sent, {} when the caller gives neither field.
    body = function(a)
      return json.encode({ userId = a.userId, modifyUserInfoReq = a.modifyUserInfoReq })
    end,
    code_optional = true,
    idempotent = false,
    result = S.user_created,
  },
  {
    name = "usage.by_user",
    method = "POST", path = "/koodrive/ose/v1/space/usage/user",
    args = {
      { name = "userIds", check = usage_ids },
      -- No query field is documented besides limit/offset, which are page_size/cursor.
      { name = "query", check = function(v, f) return V.optional_request(v, f, {}) end },
    },
    body = function(a, opts)
      local body = { offset = (opts and opts.cursor) or 0, limit = S.limit(opts, S.USAGE_LIMIT) }
      if a.userIds then body.userIds = a.userIds end
      return json.encode(body)
    end,
    paging = "offset", page_max = USAGE_IDS_MAX,
    code_optional = true,
    result = function(body, a, call, opts)
      return S.usage(body, { userIds = a.userIds or nil }, call, opts)
    end,
  },
}
