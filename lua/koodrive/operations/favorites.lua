--- The favorites operations (koodrive-files-api.md §6): star or unstar files in one batch,
-- and list the starred files.
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local vf = require "koodrive.validate.files"
local shape = require "koodrive.shape.files"

local function fail(field, rule, message)
  return nil, errors.validation(field, rule, message)
end

-- subRequestList: 1..100 entries { containerId, fileId }. The answer reports by fileId
-- alone, so a fileId may appear once.
local function check_entries(v, field)
  local n, err = validate.list(v, field, vf.LIST_MAX)
  if not n then return nil, err end
  local out, seen = {}, {}
  for i = 1, n do
    local where = field .. "[" .. i .. "]"
    local e = rawget(v, i)
    if type(e) ~= "table" then return fail(where, "type", "must be a table { containerId, fileId }") end
    local ok
    ok, err = validate.known_keys(e, where, { containerId = true, fileId = true })
    if not ok then return nil, err end
    local entry = {}
    for _, k in ipairs { "containerId", "fileId" } do
      if rawget(e, k) == nil then return fail(where .. "." .. k, "required", "is required") end
    end
    entry.containerId, err = vf.container_id(rawget(e, "containerId"), where .. ".containerId")
    if not entry.containerId then return nil, err end
    entry.fileId, err = vf.id(rawget(e, "fileId"), where .. ".fileId")
    if not entry.fileId then return nil, err end
    if seen[entry.fileId] then return fail(where .. ".fileId", "duplicate", "names a file already in the list") end
    seen[entry.fileId] = true
    out[i] = entry
  end
  return out
end

local function check_starred(v, field)
  if v == nil then return fail(field, "required", "is required (true adds, false removes)") end
  return vf.boolean(v, field)
end

local SORT_BY_TIME = { [1] = true }

local function list_query(v, field)
  if v == nil then return {} end
  if type(v) ~= "table" then return fail(field, "type", "must be a table of query fields") end
  if rawget(v, "pageSize") ~= nil or rawget(v, "pageCursor") ~= nil then
    return fail(field .. (rawget(v, "pageSize") ~= nil and ".pageSize" or ".pageCursor"), "paging",
      "is built from the per-call options page_size and cursor; pass those instead")
  end
  local ok, err = validate.known_keys(v, field,
    { sortType = true, sortDirection = true, fileType = true, imageProcess = true })
  if not ok then return nil, err end
  local out = {}
  if rawget(v, "sortType") ~= nil then
    out.sortType, err = vf.enum_int(rawget(v, "sortType"), "sortType", SORT_BY_TIME, "1 (time added)")
    if not out.sortType then return nil, err end
  end
  if rawget(v, "sortDirection") ~= nil then
    out.sortDirection, err = vf.enum_int(rawget(v, "sortDirection"), "sortDirection",
      { [1] = true, [2] = true }, "1 (ascending), 2 (descending)")
    if not out.sortDirection then return nil, err end
  end
  if rawget(v, "fileType") ~= nil then
    out.fileType, err = vf.file_type(rawget(v, "fileType"), "fileType")
    if not out.fileType then return nil, err end
  end
  if rawget(v, "imageProcess") ~= nil then
    out.imageProcess, err = vf.image_process(rawget(v, "imageProcess"), "imageProcess")
    if not out.imageProcess then return nil, err end
  end
  return out
end

local ORDER = { "sortType", "sortDirection", "fileType", "imageProcess" }

return {
  {
    name = "favorites.set",
    method = "POST", path = "/koodrive/ose/v1/star/batch",
    args = {
      { name = "entries", check = check_entries },
      { name = "starred", check = check_starred },
    },
    body = function(a)
      return json.encode({ starred = a.starred, subRequestList = a.entries })
    end,
    code_optional = true, -- §6.1: the answer is {status, subResponseList}, no envelope
    result = shape.star_batch,
  },
  {
    name = "favorites.list",
    method = "GET", path = "/koodrive/ose/v1/star/files",
    args = { { name = "query", check = list_query } },
    query = function(a, opts)
      opts = opts or {}
      local q = {}
      if opts.page_size then q[#q + 1] = { "pageSize", opts.page_size } end
      if opts.cursor then q[#q + 1] = { "pageCursor", opts.cursor } end
      for _, k in ipairs(ORDER) do
        if a.query[k] ~= nil then q[#q + 1] = { k, a.query[k] } end
      end
      return q
    end,
    paging = "cursor", page_max = 100,
    code_optional = true,
    result = shape.star_page,
  },
}
