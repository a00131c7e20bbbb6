--- The user-group operations (koodrive-sharing-groups-api.md §2, koodrive-api.md §4).
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local shape = require "koodrive.shape"

-- Distinct, canonical user ids, in the caller's order.
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
