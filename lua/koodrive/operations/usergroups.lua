--- User groups (koodrive-sharing-groups-api.md §2, koodrive-api.md §4): create, list,
-- update, delete, members, add_members, delete_members. Operation entries as data.
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local shape = require "koodrive.shape"
local V = require "koodrive.validate.sharing"
local S = require "koodrive.shape.sharing"

local BASE = "/koodrive/ose/v1/usergroups"
local PAGE_MAX, MEMBERS_MAX = 100, 100
-- GetUserGroupList marks pageSize required: the documented maximum when none is asked.
local PAGE_DEFAULT = 100

local function source_type(v, f) return V.int_enum(v, f, { [0] = true, [1] = true }) end

local CREATE_RULES = { groupName = V.group_name, sourceType = source_type }

local UPDATE_RULES = {
  groupName = V.group_name, sourceType = source_type,
  userId = validate.user_id,
  role = function(v, f)
    if type(v) == "number" then return V.int(v, f, -2 ^ 31, 2 ^ 31 - 1) end
    return V.utf8_text(v, f, 64)
  end,
  iconUrl = function(v, f) return V.utf8_text(v, f, 2048) end,
  top = function(v, f) return V.str_enum(v, f, { ["0"] = true, ["1"] = true }, '"1" (pinned), "0" (normal)') end,
}

local LIST_RULES = { sourceType = source_type, groupName = function(v, f) return V.utf8_text(v, f, 30) end }

local MEMBER_RULES = { keyWord = function(v, f) return V.utf8_text(v, f, 256) end }

-- Distinct, canonical user ids, in the caller's order. (delete_members' check, copied
-- unchanged from operations.lua.)
local function check_user_ids(ids)
  local n, err = validate.list(ids, "userIds")
  if not n then return nil, err end
  local out, seen = {}, {}
  for i = 1, n do
    local id, e = validate.user_id(ids[i], "userIds[" .. i .. "]")
    if not id then return nil, e end
    if not seen[id] then
      seen[id] = true
      out[#out + 1] = id
    end
  end
  return out
end

return {
  {
    name = "usergroups.create",
    method = "POST", path = BASE,
    args = { { name = "req", check = function(v, f)
      return V.request(v, f, CREATE_RULES, { "groupName", "sourceType" })
    end } },
    body = function(a) return json.encode(a.req) end,
    code_optional = true,
    idempotent = false,
    result = S.group_created,
  },
  {
    name = "usergroups.list",
    method = "GET", path = BASE,
    args = { { name = "query", check = function(v, f)
      return V.request(v, f, LIST_RULES, { "sourceType" })
    end } },
    -- Decision 2.2: the first request sends pageCursor= (empty), later ones nextCursor.
    query = function(a, opts)
      local q = {
        { "pageSize", (opts and opts.page_size) or PAGE_DEFAULT },
        { "pageCursor", (opts and opts.cursor) or "" },
        { "sourceType", a.query.sourceType },
      }
      if a.query.groupName then q[#q + 1] = { "groupName", a.query.groupName } end
      return q
    end,
    paging = "cursor", page_max = PAGE_MAX,
    code_optional = true,
    result = S.group_list,
  },
  {
    name = "usergroups.update",
    method = "PUT", path = BASE .. "/{groupId}",
    args = {
      { name = "groupId", check = validate.path_segment },
      { name = "req", check = function(v, f)
        return V.request(v, f, UPDATE_RULES, { "groupName", "sourceType" })
      end },
    },
    body = function(a) return json.encode(a.req) end,
    code_optional = true,
    result = S.group_done,
  },
  {
    name = "usergroups.delete",
    method = "DELETE", path = BASE .. "/{groupId}",
    args = { { name = "groupId", check = validate.path_segment } },
    code_optional = true,
    result = S.group_done,
    -- Retried after an attempt that may have deleted the group, "resource does not exist"
    -- (13000309) is what that attempt's success looks like.
    already_done = function(err) return err.kind == "api" and err.code == 13000309 end,
  },
  {
    name = "usergroups.members",
    method = "GET", path = BASE .. "/{groupId}/members",
    args = {
      { name = "groupId", check = validate.path_segment },
      { name = "query", check = function(v, f) return V.optional_request(v, f, MEMBER_RULES) end },
    },
    query = function(a, opts)
      local q = { { "offset", (opts and opts.cursor) or 0 }, { "limit", S.limit(opts, S.MEMBERS_LIMIT) } }
      if a.query.keyWord then q[#q + 1] = { "keyWord", a.query.keyWord } end
      return q
    end,
    paging = "offset", page_max = MEMBERS_MAX,
    code_optional = true,
    result = S.group_members,
  },
  {
    name = "usergroups.add_members",
    method = "POST", path = BASE .. "/{groupId}/members/batchAdd",
    args = {
      { name = "groupId", check = validate.path_segment },
      { name = "members", check = V.members },
    },
    -- Decision 2.6: amendModRoles, user ids as exact JSON integers, template only when given.
    body = function(a)
      local roles = {}
      for i, r in ipairs(a.members.roles) do
        local role = { userId = json.int64(r.userId) }
        if r.template then role.template = json.int64(r.template) end
        if r.capabilities then role.capabilities = r.capabilities end
        roles[i] = role
      end
      return json.encode({ amendModRoles = roles })
    end,
    code_optional = true,
    result = S.members_added,
  },
  {
    name = "usergroups.delete_members",
    method = "POST", path = "/koodrive/ose/v1/usergroups/{groupId}/members/batchDelete",
    args = {
      { name = "groupId", check = validate.path_segment },
      { name = "userIds", check = check_user_ids },
    },
    body = function(a)
      local roles = {}
      for i, id in ipairs(a.userIds) do roles[i] = { userId = json.int64(id) } end
      return json.encode({ amendModRoles = roles })
    end,
    result = shape.delete_members,
  },
}
