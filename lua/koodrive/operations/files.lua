--- The files operations (koodrive-files-api.md §3, §4): listings, detail, folders, rename,
-- path, statistics, search and emptying a recycle bin. Request tables use the service's
-- field names; unknown keys are refused (search's `filter` excepted: the page documents
-- fields it does not name). Copy, move, delete, restore and `clear_recycled` are built on
-- the jobs operations in koodrive.client.
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local vf = require "koodrive.validate.files"
local shape = require "koodrive.shape.files"

local function fail(field, rule, message)
  return nil, errors.validation(field, rule, message)
end

--- The most entries a page of these listings may ask for (§3, §4.6, §6.2: pageSize <= 100).
local PAGE_MAX = 100

local request = vf.request

-- The check of a request table argument.
local function request_arg(rules, required, optional)
  return function(v, field)
    if v == nil and optional then return {} end
    return request(v, field, rules, required)
  end
end

local function utf8_250(v, field) return vf.utf8_text(v, field, vf.NAME_MAX) end

-- The pageInfo of a listing from the per-call options; `first` is what a first page's
-- cursor is sent as (nil: left out).
local function page_info(opts, default_size, first)
  local size, cursor = opts.page_size, opts.cursor
  if size ~= nil and (type(size) ~= "number" or size % 1 ~= 0 or size < 1 or size > PAGE_MAX) then
    return nil, "page_size must be a whole number from 1 to " .. PAGE_MAX
  end
  if cursor ~= nil and type(cursor) ~= "string" then return nil, "cursor must be a string" end
  local info = { pageSize = size and math.floor(size) or default_size, pageCursor = cursor or first }
  if next(info) == nil then return nil end
  return info
end

-- The body of a listing: the checked request with the pageInfo of the options.
local function list_body(a, opts)
  local body = {}
  for k, v in pairs(a.req) do body[k] = v end
  local info, err = page_info(opts or {}, nil, nil)
  if err then return nil, err end
  body.pageInfo = info
  return json.encode(body)
end

local share_header, SHARE_OPTION = vf.share_header, vf.SHARE_OPTION

local LIST_RULES = {
  containerId = vf.container_id, parentFileId = vf.parent_id,
  sortInfo = function(v, f) return vf.sort_info(v, f) end,
  fileType = vf.file_type, fileName = utf8_250, imageProcess = vf.image_process, hidden = vf.boolean,
}
local LIST_REQUIRED = { "containerId", "parentFileId" }

local TEAM_TYPES = { [0] = true, [2] = true }
local function team_type(v, field)
  if v == nil then return nil end -- options are checked also when left out
  return vf.enum_int(v, field, TEAM_TYPES, "0 (department), 2 (group)")
end

local function listing(name, path, team)
  local args = { { name = "req", check = request_arg(LIST_RULES, LIST_REQUIRED) } }
  if team then table.insert(args, 1, { name = "groupId", check = vf.segment_id }) end
  return {
    name = name, method = "POST", path = path, args = args,
    options = team and { team_type = team_type } or nil,
    -- §3.2: team_type defaults to 0 (department); sent always, so the request says which.
    query = team and function(_, opts) return { { "team_type", opts and opts.team_type or 0 } } end or nil,
    body = list_body,
    paging = "cursor", page_max = PAGE_MAX,
    code_optional = true, -- the response table of §3 is not in our copies
    result = shape.file_page,
  }
end

-- mkdir's and rename's duplicate-name policy (§4.3): 2 rename with a timestamp, 3 refuse.
local RENAME_MODES = { [2] = true, [3] = true }
local function rename_mode(v, field)
  return vf.enum_int(v, field, RENAME_MODES, "2 (rename with a timestamp), 3 (refuse)")
end

-- "at most 512 chars, no emoji": pictographs (U+1F000 and up, U+2600-U+27BF) and the
-- variation selector U+FE0F that makes other symbols emoji.
local function description(v, field)
  local s, err = vf.utf8_text(v, field, 512, true)
  if not s then return nil, err end
  if s:find("\240\159") or s:find("\226[\152-\158]") or s:find("\239\184\143") then
    return fail(field, "emoji", "must not contain emoji")
  end
  return s
end

local TIME = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"
local function timestamp(v, field) return validate.pattern(v, field, TIME, "yyyy-MM-ddTHH:mm:ss.sssZ") end

local parent_folder = vf.parent_folder

local MKDIR_RULES = {
  fileName = vf.name, containerId = vf.container_id, parentFolder = parent_folder,
  renameMode = rename_mode, description = description,
  mimeType = function(v, f) return validate.text(v, f, 256) end,
  createdTime = timestamp, editedTime = timestamp,
  fileType = function(v, f)
    if v ~= "10" and v ~= 10 then return fail(f, "enum", 'must be "10" (a folder), or left out') end
    return "10"
  end,
}

local RENAME_RULES = { containerId = vf.container_id, name = vf.name, renameMode = rename_mode }

local STATS_RULES = {
  recursive = vf.boolean, includeDirCount = vf.boolean, includeFileCount = vf.boolean,
  includeTotalSize = vf.boolean, hidden = vf.boolean, isRecycled = vf.boolean,
  type = function(v, f) return vf.enum_int(v, f, { [1] = true, [2] = true }, "1 (files), 2 (folders)") end,
  extensions = function(v, f) return vf.comma_list(v, f, 100, vf.extension) end,
  categorys = function(v, f) return vf.comma_list(v, f, 100, vf.file_type) end,
}
-- The order statsDir's query is written in (the service's table order).
local STATS_ORDER = { "recursive", "includeDirCount", "includeFileCount", "includeTotalSize", "type",
  "extensions", "categorys", "hidden", "isRecycled" }

local SEARCH_TYPES = { personal = true, team = true }

-- search's filter: keyWord is checked; the fields the page mentions without naming (size
-- and time ranges, parent, owner) pass through as JSON (§4.6 Decision).
local function search_filter(v, field)
  if type(v) ~= "table" then return fail(field, "type", "must be a table { keyWord = ..., ... }") end
  local ok, err = validate.json_body(v, field)
  if not ok then return nil, err end
  local out = {}
  for k, item in pairs(v) do
    if type(k) ~= "string" then return fail(field, "type", "must be a table with string keys") end
    out[k] = item
  end
  if out.keyWord ~= nil then
    out.keyWord, err = utf8_250(out.keyWord, field .. ".keyWord")
    if not out.keyWord then return nil, err end
  end
  return out
end

local SEARCH_RULES = {
  searchType = function(v, f)
    if type(v) ~= "string" or not SEARCH_TYPES[v] then return fail(f, "enum", "must be personal or team") end
    return v
  end,
  filter = search_filter, sortInfo = function(v, f) return vf.sort_info(v, f) end,
  recycled = vf.boolean, recursived = vf.boolean, imageProcess = vf.image_process,
}

local function encode_req(a) return json.encode(a.req) end

return {
  listing("files.list", "/koodrive/ose/v1/files/0"),
  listing("files.list_recycled", "/koodrive/ose/v1/files/1"),
  listing("files.list_team", "/koodrive/ose/v1/files/{groupId}/0", true),
  listing("files.list_team_recycled", "/koodrive/ose/v1/files/{groupId}/1", true),
  {
    name = "files.get",
    method = "POST", path = "/koodrive/ose/v1/files/{fileId}/detail",
    args = {
      { name = "fileId", check = vf.segment_id },
      { name = "req", check = request_arg({ containerId = vf.container_id, imageProcess = vf.image_process },
        { "containerId" }) },
    },
    options = SHARE_OPTION, headers = share_header,
    body = encode_req,
    code_optional = true,
    result = shape.file_detail,
  },
  {
    name = "files.mkdir",
    method = "POST", path = "/koodrive/ose/v1/directory",
    args = { { name = "req", check = function(v, f)
      local r, err = request(v, f, MKDIR_RULES, { "fileName", "containerId" })
      if not r then return nil, err end
      -- Always a folder; a clash is refused unless the caller asks for renaming (§4.3's
      -- Decision applied to folders: no silently different name).
      r.fileType, r.renameMode = "10", r.renameMode or 3
      return r
    end } },
    options = SHARE_OPTION, headers = share_header,
    body = encode_req,
    idempotent = false,
    code_optional = true,
    result = shape.created_folder,
  },
  {
    name = "files.rename",
    method = "POST", path = "/koodrive/ose/v1/files/rename/{fileId}",
    args = {
      { name = "fileId", check = vf.segment_id },
      { name = "req", check = function(v, f)
        local r, err = request(v, f, RENAME_RULES, { "containerId", "name" })
        if not r then return nil, err end
        r.renameMode = r.renameMode or 3 -- §4.3 Decision: always sent, default refuse
        return r
      end },
    },
    options = SHARE_OPTION, headers = share_header,
    body = encode_req,
    result = shape.renamed,
  },
  {
    name = "files.path",
    method = "GET", path = "/koodrive/ose/v1/files/path",
    args = {
      { name = "fileId", check = function(v, f) return vf.id(v, f) end },
      { name = "containerId", check = vf.container_id },
    },
    options = SHARE_OPTION, headers = share_header,
    query = function(a) return { { "fileId", a.fileId }, { "containerId", a.containerId } } end,
    result = shape.full_path,
  },
  {
    name = "files.stats",
    method = "GET", path = "/koodrive/ose/v1/files/statsDir", -- §4.5 Decision: GET
    args = {
      { name = "fileId", check = function(v, f) return vf.id(v, f) end },
      { name = "containerId", check = vf.container_id },
      { name = "query", check = request_arg(STATS_RULES, nil, true) },
    },
    options = SHARE_OPTION, headers = share_header,
    query = function(a)
      local q = { { "fileId", a.fileId }, { "containerId", a.containerId } }
      for _, k in ipairs(STATS_ORDER) do
        if a.query[k] ~= nil then q[#q + 1] = { k, a.query[k] } end
      end
      return q
    end,
    result = shape.dir_stats,
  },
  {
    name = "files.search",
    method = "POST", path = "/koodrive/ose/v1/files/search",
    args = { { name = "req", check = request_arg(SEARCH_RULES, { "searchType" }) } },
    options = SHARE_OPTION, headers = share_header,
    body = function(a, opts)
      local body = {}
      for k, v in pairs(a.req) do body[k] = v end
      -- §4.6: pageSize and pageCursor are both required; a null cursor asks for the first page.
      local info, err = page_info(opts or {}, PAGE_MAX, json.null)
      if not info then return nil, err end
      body.pageInfo = info
      return json.encode(body)
    end,
    paging = "cursor", page_max = PAGE_MAX,
    result = shape.search_page,
  },
  {
    name = "files.recycle_clear",
    method = "POST", path = "/koodrive/ose/v1/files/recycle",
    args = { { name = "containerId", check = vf.container_id } },
    body = function(a) return json.encode({ containerId = a.containerId }) end,
    -- It starts a clearing task and returns no id (§4.7): a second one is not wanted.
    idempotent = false,
    result = shape.recycle_cleared,
  },
}
