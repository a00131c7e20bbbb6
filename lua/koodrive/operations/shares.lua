--- Shares (koodrive-sharing-groups-api.md §1): create, list, received, update, cancel.
-- Operation entries as data; koodrive.pipeline sends them.
local json = require "koodrive.json"
local V = require "koodrive.validate.sharing"
local S = require "koodrive.shape.sharing"

local BASE = "/koodrive/ose/v1/share"

-- Limits the contract gives (§1.1, §1.4, §1.5).
local FILE_IDS_MAX, SHARE_IDS_MAX = 100, 100
local PAGE_MAX = 100

local function strings_list(v, field) return V.id_list(v, field, nil, V.id) end

local function text(max)
  return function(v, field) return V.utf8_text(v, field, max) end
end

-- extractCode and expireTime are passed through (Decision 1.1): only their type is checked.
local function passthrough(v, field) return V.utf8_text(v, field, 1024, true) end

local function permission(v, field)
  local req, err = V.request(v, field, { preview = V.boolean, edit = V.boolean, download = V.boolean })
  if not req then return nil, err end
  return req
end

local CREATE_RULES = {
  scope = function(v, f) return V.int_enum(v, f, { [1] = true, [2] = true, [3] = true }) end,
  fileIds = function(v, f) return V.id_list(v, f, FILE_IDS_MAX) end,
  containerId = V.id,
  validDays = function(v, f) return V.int(v, f, 1, 365) end,
  deptIds = strings_list, groupIds = strings_list, userIds = strings_list, phoneNumbers = strings_list,
  extractCode = passthrough,
  expireTime = passthrough,
  comment = text(511), -- C: "under 512 chars"
  permission = permission,
  expiredType = passthrough,
}

local UPDATE_RULES = {
  validDays = function(v, f) return V.int(v, f, 0, 365) end,
  extractCode = passthrough,
  comment = text(511),
  expireTime = passthrough,
}

local SORT_TYPES = { [4] = true }
local SORT_DIRECTIONS = { [1] = true, [2] = true }
local USAGES = { minThumbnail = true, midThumbnail = true, largeThumbnail = true, superLargeThumbnail = true }

local function list_rules(with_usage)
  local rules = {
    sortType = function(v, f) return V.int_enum(v, f, SORT_TYPES) end,
    sortDirection = function(v, f) return V.int_enum(v, f, SORT_DIRECTIONS) end,
    displayName = text(1024),
    imageProcess = text(1024),
  }
  if with_usage then
    rules.usage = function(v, f)
      return V.str_enum(v, f, USAGES, "minThumbnail, midThumbnail, largeThumbnail, superLargeThumbnail")
    end
  end
  return rules
end

local LIST_RULES, RECEIVED_RULES = list_rules(true), list_rules(false)
local LIST_KEYS = { "sortType", "sortDirection", "displayName", "imageProcess", "usage" }

-- Query pairs of a share listing: the caller's filters, pageSize (per-call page_size) and
-- pageCursor (per-call cursor, the previous page's nextCursor).
local function list_query(a, opts)
  local q = {}
  for _, k in ipairs(LIST_KEYS) do
    if a.query[k] ~= nil then q[#q + 1] = { k, a.query[k] } end
  end
  if opts and opts.page_size then q[#q + 1] = { "pageSize", opts.page_size } end
  if opts and opts.cursor then q[#q + 1] = { "pageCursor", opts.cursor } end
  return q
end

-- X-Hw-Agentname: required by the carrier pages of update and cancel; sent when given.
local function agent_header(_, opts)
  if opts and opts.agent_name then return { ["X-Hw-Agentname"] = opts.agent_name } end
  return {}
end

local AGENT_OPTION = { agent_name = V.header_option }

return {
  {
    name = "shares.create",
    method = "POST", path = BASE,
    args = { { name = "req", check = function(v, f)
      return V.request(v, f, CREATE_RULES, { "scope", "fileIds", "containerId", "validDays" })
    end } },
    body = function(a) return json.encode(a.req) end,
    code_optional = true,
    idempotent = false,
    result = S.share_created,
  },
  {
    name = "shares.list",
    method = "GET", path = BASE,
    args = { { name = "query", check = function(v, f) return V.optional_request(v, f, LIST_RULES) end } },
    query = list_query,
    paging = "cursor", page_max = PAGE_MAX,
    code_optional = true,
    result = S.share_list,
  },
  {
    name = "shares.received",
    method = "GET", path = BASE .. "/received",
    args = { { name = "query", check = function(v, f) return V.optional_request(v, f, RECEIVED_RULES) end } },
    query = list_query,
    paging = "cursor", page_max = PAGE_MAX,
    code_optional = true,
    result = S.share_received,
  },
  {
    name = "shares.update",
    method = "PUT", path = BASE .. "/{shareId}",
    args = {
      { name = "shareId", check = require("koodrive.validate").path_segment },
      { name = "req", check = function(v, f) return V.request(v, f, UPDATE_RULES, { "validDays" }) end },
    },
    options = AGENT_OPTION,
    headers = agent_header,
    body = function(a) return json.encode(a.req) end,
    code_optional = true,
    result = S.share_updated,
  },
  {
    name = "shares.cancel",
    method = "POST", path = BASE .. "/cancel",
    args = { { name = "shareIds", check = function(v, f) return V.id_list(v, f, SHARE_IDS_MAX) end } },
    options = AGENT_OPTION,
    headers = agent_header,
    body = function(a) return json.encode({ shareIds = a.shareIds }) end,
    code_optional = true,
    -- Cancelling a share twice is harmless: the second answer reports it failed, which the
    -- result reads as uncertain after an ambiguous attempt.
    result = S.shares_cancelled,
  },
}
