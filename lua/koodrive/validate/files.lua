--- Input rules of the file-management calls (koodrive-files-api.md): names, enumerations and
-- the shapes of ids. Each check returns the (normalised) value, or nil and a validation error
-- naming the field and the rule; no message repeats the value.
local errors = require "koodrive.errors"
local validate = require "koodrive.validate"

local files = {}

local function fail(field, rule, message)
  return nil, errors.validation(field, rule, message)
end

local CONTROL = "[%z\1-\31\127]"

--- Longest file or folder name, in Unicode code points (§4.2 Decision: 250).
files.NAME_MAX = 250
--- Longest containerId and parentFileId (C pages: "at most 64 chars").
files.CONTAINER_ID_MAX = 64
--- Longest other opaque id (file ids, owner ids) and header value of an id.
files.ID_MAX = 256
--- Most file ids in one job, most favorites in one star/batch (§5.1, §6.1).
files.LIST_MAX = 100

--- The number of code points of a valid UTF-8 string.
function files.code_points(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

--- UTF-8 text without control characters, 1..max code points (`allow_empty`: 0 allowed).
function files.utf8_text(v, field, max, allow_empty)
  local s, err = validate.utf8(v, field)
  if not s then return nil, err end
  if s == "" and not allow_empty then return fail(field, "length", "must not be empty") end
  if s:find(CONTROL) then
    return fail(field, "control", "must not contain control characters (CR, LF, NUL, ...)")
  end
  if files.code_points(s) > max then
    return fail(field, "length", "must be at most " .. max .. " characters")
  end
  return s
end

local FORBIDDEN = '[<>|:"*?/\\]'

--- A file or folder name: 1..250 code points of UTF-8, none of < > | : " * ? / \, no control
-- characters, not "." or ".." (§4.2, §4.3).
function files.name(v, field)
  local s, err = files.utf8_text(v, field, files.NAME_MAX)
  if not s then return nil, err end
  if s:find(FORBIDDEN) then
    return fail(field, "name", 'must not contain any of < > | : " * ? / \\')
  end
  if s == "." or s == ".." then return fail(field, "name", "must not be '.' or '..'") end
  return s
end

--- An opaque id sent in a body or a query: 1..max printable ASCII characters (ids are
-- ASCII in every example; a space or a byte above 0x7E is a mistake, not an id).
function files.id(v, field, max)
  if type(v) == "number" and v % 1 == 0 and v >= 0 and v < 2 ^ 53 then v = string.format("%d", v) end
  local s, err = validate.text(v, field, max or files.ID_MAX)
  if not s then return nil, err end
  if s:find(" ", 1, true) then return fail(field, "id", "must not contain spaces") end
  return s
end

--- A containerId (space id), at most 64 characters.
function files.container_id(v, field)
  return files.id(v, field, files.CONTAINER_ID_MAX)
end

--- A parentFileId: `root`, `sbox` or a folder id, at most 64 characters.
function files.parent_id(v, field)
  return files.id(v, field, files.CONTAINER_ID_MAX)
end

-- Words that, as an id in a path, would make the request another documented route:
-- POST files/{fileId}/detail with fileId "rename" is POST files/rename/detail (rename the
-- file "detail"); GET space/{owner_id} with "usage" heads for space/usage/user.
local RESERVED = {
  rename = true, search = true, recycle = true, path = true, statsdir = true, detail = true,
  usage = true, directory = true, jobs = true, cancel = true, star = true,
}

--- An id that becomes one path segment: validate.path_segment's rules, no spaces, and not a
-- route word of these APIs (any case).
function files.segment_id(v, field)
  local s, err = validate.path_segment(v, field)
  if not s then return nil, err end
  if s:find(" ", 1, true) then return fail(field, "path_segment", "must not contain spaces") end
  if RESERVED[s:lower()] then
    return fail(field, "path_segment", "must not be a route word of the API (rename, search, ...)")
  end
  return s
end

--- A job id: it is the whole path after /koodrive/ose/v1/ (GET /{job_id}), so it must not
-- be able to name any other route there: ASCII letters and digits only, at least one digit
-- (every route word is letters only), at most 64.
function files.job_id(v, field)
  if type(v) == "number" and v % 1 == 0 and v >= 0 and v < 2 ^ 53 then v = string.format("%d", v) end
  local s, err = validate.text(v, field, 64)
  if not s then return nil, err end
  if not s:find("^[A-Za-z0-9]+$") or not s:find("%d") then
    return fail(field, "job_id", "must be a job id: ASCII letters and digits with at least one digit")
  end
  return s
end

--- A whole number (or a string of decimal digits) that is one of `allowed` ({[n] = true});
-- returned as a number. `text` lists the allowed values for the message.
function files.enum_int(v, field, allowed, text)
  local n = v
  if type(v) == "string" and v:find("^%d+$") and #v <= 9 then n = tonumber(v) end
  if type(n) ~= "number" or n % 1 ~= 0 or not allowed[n] then
    return fail(field, "enum", "must be one of " .. text)
  end
  return math.floor(n)
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local SORT_TYPES = set { 1, 2, 3, 4, 5, 6 }
local SORT_DIRECTIONS = set { 1, 2 }

--- sortInfo { sortType = 1..6, sortDirection = 1 asc | 2 desc } (§3); `types` narrows the
-- sort types (favorites: only 1). Returns a copy with integer values.
function files.sort_info(v, field, types, types_text)
  if type(v) ~= "table" then return fail(field, "type", "must be a table { sortType, sortDirection }") end
  local ok, err = validate.known_keys(v, field, { sortType = true, sortDirection = true })
  if not ok then return nil, err end
  local out = {}
  if rawget(v, "sortType") ~= nil then
    out.sortType, err = files.enum_int(rawget(v, "sortType"), field .. ".sortType",
      types or SORT_TYPES, types_text or "1 (name) to 6 (format)")
    if not out.sortType then return nil, err end
  end
  if rawget(v, "sortDirection") ~= nil then
    out.sortDirection, err = files.enum_int(rawget(v, "sortDirection"), field .. ".sortDirection",
      SORT_DIRECTIONS, "1 (ascending), 2 (descending)")
    if not out.sortDirection then return nil, err end
  end
  return out
end

--- The fileType codes of §3.
files.FILE_TYPES = set { "10", "11", "15", "20", "26", "27", "28", "30", "35", "40", "45" }
local FILE_TYPES_TEXT = "10, 11, 15, 20, 26, 27, 28, 30, 35, 40, 45"

--- A fileType code of §3, as the string the service takes (a whole number is accepted).
function files.file_type(v, field)
  if type(v) == "number" and v % 1 == 0 and v >= 0 and v < 100 then v = string.format("%d", v) end
  if type(v) ~= "string" or not files.FILE_TYPES[v] then
    return fail(field, "enum", "must be a fileType code: " .. FILE_TYPES_TEXT)
  end
  return v
end

--- A boolean.
function files.boolean(v, field)
  if type(v) ~= "boolean" then return fail(field, "type", "must be a boolean") end
  return v
end

--- imageProcess: OBS image-processing text such as image/resize,m_lfit,h_128,w_128
-- (printable ASCII, at most 1024 bytes).
function files.image_process(v, field)
  return validate.text(v, field, 1024)
end

--- A value for the x-hw-share-folder-id header (op option share_folder_id): a folder id.
-- Options are checked also when left out: nil passes.
function files.share_folder_id(v, field)
  if v == nil then return nil end
  return files.id(v, field, files.ID_MAX)
end

--- A comma-separated list given as a string or an array of strings, at most `max` entries,
-- each passing `check`; returned joined with commas.
function files.comma_list(v, field, max, check)
  local items = {}
  if type(v) == "string" then
    for item in (v .. ","):gmatch("([^,]*),") do items[#items + 1] = item end
  else
    local n, err = validate.list(v, field, max)
    if not n then return nil, err end
    for i = 1, n do items[i] = rawget(v, i) end
  end
  if #items > max then return fail(field, "length", "must hold at most " .. max .. " entries") end
  for i, item in ipairs(items) do
    local ok, err = check(item, field .. "[" .. i .. "]")
    if not ok then return nil, err end
    items[i] = ok
  end
  return table.concat(items, ",")
end

--- A file extension for statsDir's `extensions`: 1..32 ASCII letters, digits, '_' or '-'.
function files.extension(v, field)
  local s, err = validate.text(v, field, 32)
  if not s then return nil, err end
  if not s:find("^[A-Za-z0-9_%-]+$") then
    return fail(field, "pattern", "must be an extension (letters, digits, '_', '-'; no dot)")
  end
  return s
end

--------------------------------------------------------------------------------------------
-- Shared by the files and transfers operation families
--------------------------------------------------------------------------------------------

--- Checks the request table `v` against `rules` ({ key = check(value, field) }), `required`
-- the keys that must be present. Returns a copy holding the checked values.
function files.request(v, field, rules, required)
  if type(v) ~= "table" then return fail(field, "type", "must be a table of request fields") end
  if rawget(v, "pageInfo") ~= nil and not rules.pageInfo then
    return fail(field .. ".pageInfo", "paging",
      "is built from the per-call options page_size and cursor; pass those instead")
  end
  local ok, err = validate.known_keys(v, field, rules)
  if not ok then return nil, err end
  for _, k in ipairs(required or {}) do
    if rawget(v, k) == nil then return fail(k, "required", "is required") end
  end
  local out = {}
  for k, check in pairs(rules) do
    local item = rawget(v, k)
    if item ~= nil then
      local value, e = check(item, k)
      if value == nil then return nil, e end
      out[k] = value
    end
  end
  return out
end

--- parentFolder: "string[]; first entry is the parent". One id (a string or a one-entry
-- array): further entries would be ignored by the service, so they are refused.
function files.parent_folder(v, field)
  if type(v) == "string" or type(v) == "number" then v = { v } end
  local n, err = validate.list(v, field, 1)
  if not n then return nil, err end
  local id
  id, err = files.parent_id(v[1], field .. "[1]")
  if not id then return nil, err end
  return { id }
end

--- The x-hw-share-folder-id header when the call acts inside a shared folder (the per-call
-- option share_folder_id, SHARE_OPTION).
function files.share_header(_, opts)
  if opts and opts.share_folder_id then return { ["x-hw-share-folder-id"] = opts.share_folder_id } end
  return {}
end
files.SHARE_OPTION = { share_folder_id = files.share_folder_id }

return files
