--- Results of the spaces, files and favorites operations (koodrive-files-api.md §2-§4, §6).
-- Each function takes (body, args, call, opts) as koodrive.shape's do and returns the result,
-- or nil and a message for a "decode" error. Ids come back as strings; counts documented as
-- String but printed as numbers come back as numbers; an answer about another file, space
-- or owner than the one asked for is a contradiction, never a success. Messages name fields
-- and types, never values.
local json = require "koodrive.json"
local fields = require "koodrive.shape.fields"

local shape = {}

local absent, check, check_list = fields.absent, fields.check, fields.check_list

-- The listing companions come from koodrive.paging (loaded with the first page).
local function paging() return require "koodrive.paging" end

-- Aliases a caller may give for a folder (§2.3): the answer then names the real id.
local ALIASES = { root = true, sbox = true }

--------------------------------------------------------------------------------------------
-- Spaces (§2.2: "SpaceInfo / SpaceInfoV2 fields (all strings)")
--------------------------------------------------------------------------------------------

local SPACE = {
  type = "text", status = "text", ownerId = "id", containerId = "id", bizRootFileId = "id",
  bizSboxFileId = "id", capacity = "text", spaceUsed = "text", tenantId = "id", creator = "text",
  modifier = "text", createTime = "text", updateTime = "text", rootFileId = "id",
}

-- `all`: v2's list of every space a user reaches, whose department and group spaces are
-- owned by the department or group; only an individual space (type "1") must be the user's.
-- v1 asks for the space of exactly that owner.
local function check_space(s, where, args, all)
  local ok, err = check(s, where, SPACE, { "containerId" })
  if not ok then return nil, err end
  if not absent(s.ownerId) and s.ownerId ~= args.ownerId and (not all or s.type == "1") then
    return nil, "'" .. where .. ".ownerId' is not the owner that was asked for"
  end
  local want = args.query and args.query.type
  if want ~= nil and not absent(s.type) and s.type ~= string.format("%d", want) then
    return nil, "'" .. where .. ".type' is not the space type that was asked for"
  end
  return s
end

--- spaces.get: the SpaceInfo in `data`.
function shape.space(body, args)
  return check_space(body.data, "data", args)
end

--- spaces.list: the array of SpaceInfoV2 in `data`, each space once.
function shape.spaces(body, args)
  local data = body.data
  if not json.is_array(data) then return nil, "'data' is not an array of spaces" end
  local seen = {}
  for i = 1, #data do
    local s, err = check_space(data[i], "data[" .. i .. "]", args, true)
    if not s then return nil, err end
    if seen[s.containerId] then return nil, "'data[" .. i .. "].containerId' repeats an earlier space" end
    seen[s.containerId] = true
  end
  return data
end

--------------------------------------------------------------------------------------------
-- Files (§4.1 detail fields; the listing, search and favorites entries share them)
--------------------------------------------------------------------------------------------

local FILE = {
  id = "id", fileName = "string", fileType = "text", mimeType = "string", recycled = "bool",
  parentFolder = "ids", properties = "map", containers = "ids", createdTime = "string",
  editedTime = "string", owners = "objects", lastEditor = "object", fileSuffix = "string",
  size = "count", attachments = "array", category = "string", favorite = "bool",
  containerId = "id", updateTime = "string", namePath = "string", idPath = "string",
  teamName = "string", teamId = "id",
}
shape.FILE_FIELDS = FILE

-- The items of a listing answer: `list` checked entry by entry. An answer with no item array
-- is an empty page only when it also ends the listing (no cursor): a cursor without items
-- is not a page.
local function page_items(body, key, next_cursor)
  local list = body[key]
  if absent(list) then
    if next_cursor then return nil, "'" .. key .. "' is missing from a page that has a next cursor" end
    return setmetatable({}, json.array_mt)
  end
  return check_list(list, key, FILE, { "id" }, "id")
end

-- A next cursor: a string, or nothing (absent, null); any other type is a decode error.
local function cursor_field(body, key)
  local v = body[key]
  if absent(v) then return nil end
  if type(v) ~= "string" then return false, "'" .. key .. "' is not a string" end
  return v
end

--- files.list, list_recycled, list_team, list_team_recycled: a page of `files`; the next
-- cursor is `nextCursor`, else `nextPageCursor` (§3 Decision, unverified).
function shape.file_page(body, _, _, opts)
  local next_cursor, err = cursor_field(body, "nextCursor")
  if next_cursor == false then return nil, err end
  if next_cursor == nil then
    next_cursor, err = cursor_field(body, "nextPageCursor")
    if next_cursor == false then return nil, err end
  end
  local items, ierr = page_items(body, "files", next_cursor and next_cursor ~= "")
  if not items then return nil, ierr end
  return paging().cursor_page(body, items, next_cursor, opts)
end

--- files.search: a page of `files`, next `nextPageCursor` (empty on the last page), `total`.
function shape.search_page(body, _, _, opts)
  local next_cursor, err = cursor_field(body, "nextPageCursor")
  if next_cursor == false then return nil, err end
  local items, ierr = page_items(body, "files", next_cursor and next_cursor ~= "")
  if not items then return nil, ierr end
  local total
  if not absent(body.total) then
    total = fields.count(body, "total")
    if not total then return nil, "'total' is not a whole number" end
  end
  return paging().cursor_page(body, items, next_cursor, opts, total)
end

-- The file object of an answer: `data` when it is an object, else the body itself without
-- its envelope (§4.1 lists the fields without saying which; both are read).
local function file_object(body)
  if json.is_object(body.data) then return body.data, "data" end
  local copy = {}
  for k, v in pairs(body) do
    if k ~= "code" and k ~= "msg" then copy[k] = v end
  end
  return copy, "body"
end

--- files.get: the file's metadata; its id must be the one asked for.
function shape.file_detail(body, args)
  local f, where = file_object(body)
  local ok, err = check(f, where, FILE, { "id" })
  if not ok then return nil, err end
  if not ALIASES[args.fileId] and f.id ~= args.fileId then
    return nil, "'" .. where .. ".id' is not the file that was asked for"
  end
  return f
end

--- files.mkdir: the new folder. A folder of another type, another parent, or (renameMode 3,
-- the default) another name than the one sent contradicts the request.
function shape.created_folder(body, args)
  local f, where = file_object(body)
  local ok, err = check(f, where, FILE, { "id" })
  if not ok then return nil, err end
  local req = args.req
  if not absent(f.fileType) and f.fileType ~= "10" then
    return nil, "'" .. where .. ".fileType' is not a folder (10)"
  end
  if req.renameMode == 3 and not absent(f.fileName) and f.fileName ~= req.fileName then
    return nil, "'" .. where .. ".fileName' is not the name that was sent"
  end
  local parent = req.parentFolder and req.parentFolder[1]
  if parent and not ALIASES[parent] and not absent(f.parentFolder) and f.parentFolder[1] ~= parent then
    return nil, "'" .. where .. ".parentFolder' is not the folder that was sent"
  end
  return f
end

--- files.rename: `{code, msg}` only; the result says what was asked. With renameMode 2 the
-- service may append a timestamp: files:get gives the final name.
function shape.renamed(_, args)
  return { fileId = args.fileId, name = args.req.name, renameMode = args.req.renameMode }
end

local function segments(path)
  local out = {}
  for s in path:gmatch("[^/]+") do out[#out + 1] = s end
  return out
end

--- files.path: `fileIdPath` and `namePath`, slash-separated from the root. They must have
-- as many segments (names cannot hold '/') and end at the file asked for.
function shape.full_path(body, args)
  for _, k in ipairs { "fileIdPath", "namePath" } do
    if type(body[k]) ~= "string" then return nil, "'" .. k .. "' is not a string" end
  end
  local ids, names = segments(body.fileIdPath), segments(body.namePath)
  if #ids == 0 or #ids ~= #names then
    return nil, "'fileIdPath' and 'namePath' do not have the same number of segments"
  end
  if not ALIASES[args.fileId] and ids[#ids] ~= args.fileId then
    return nil, "'fileIdPath' does not end at the file that was asked for"
  end
  return { fileIdPath = body.fileIdPath, namePath = body.namePath, fileIds = ids, names = names }
end

--- files.stats: `data` with totalSize, subDirCount, subFileCount as numbers (§4.5 Decision:
-- numbers or digit strings).
function shape.dir_stats(body)
  local data = body.data
  local ok, err = check(data, "data", { totalSize = "count", subDirCount = "count", subFileCount = "count" })
  if not ok then return nil, err end
  return { totalSize = data.totalSize, subDirCount = data.subDirCount, subFileCount = data.subFileCount }
end

--- files.recycle_clear: `{code, msg}` and no task id (§4.7); the result names the space.
function shape.recycle_cleared(_, args)
  return { containerId = args.containerId }
end

--------------------------------------------------------------------------------------------
-- Favorites (§6)
--------------------------------------------------------------------------------------------

local STAR_STATUS = { [0] = true, [1] = true, [2] = true }

--- favorites.set: every requested fileId once, in `done` (its id) or `failed`
-- ({fileId, code, message}); an id the answer leaves out is failed with code
-- "KOODRIVE.UNREPORTED". `status` (0 all, 1 partly, 2 none) must agree with what was reported.
function shape.star_batch(body, args)
  local wanted = {}
  for _, e in ipairs(args.entries) do wanted[e.fileId] = true end
  local list = body.subResponseList
  if absent(list) then list = {} elseif not json.is_array(list) then
    return nil, "'subResponseList' is not an array"
  end
  local outcome = {}
  for i = 1, #list do
    local where = "subResponseList[" .. i .. "]"
    local e = list[i]
    local ok, err = check(e, where, { fileId = "id", code = "text", message = "string" }, { "fileId", "code" })
    if not ok then return nil, err end
    if not wanted[e.fileId] then return nil, "'" .. where .. ".fileId' is a file that was not sent" end
    local code = fields.integer(e, "code")
    if not code then return nil, "'" .. where .. ".code' is not an integer code" end
    local state = code == 0 and "done" or "failed"
    if outcome[e.fileId] and outcome[e.fileId].state ~= state then
      return nil, "'" .. where .. "' reports a file both done and failed"
    end
    outcome[e.fileId] = { state = state, code = e.code, message = e.message }
  end
  local done, failed, reported_failures, unreported = {}, {}, 0, 0
  for _, entry in ipairs(args.entries) do
    local o = outcome[entry.fileId]
    if not o then
      unreported = unreported + 1
      failed[#failed + 1] = { fileId = entry.fileId, code = "KOODRIVE.UNREPORTED",
        message = "the service reported neither success nor failure for this file" }
    elseif o.state == "done" then
      done[#done + 1] = entry.fileId
    else
      reported_failures = reported_failures + 1
      failed[#failed + 1] = { fileId = entry.fileId, code = o.code, message = o.message }
    end
  end
  local status = fields.integer(body, "status")
  if absent(body.status) or not STAR_STATUS[status] then
    return nil, "'status' is not 0, 1 or 2"
  end
  -- With every file reported the status must match exactly; with some left out it must at
  -- least not deny what was reported.
  local contradicts
  if unreported == 0 then
    contradicts = status ~= ((#failed == 0 and 0) or (#done == 0 and 2) or 1)
  else
    contradicts = (status == 0 and reported_failures > 0) or (status == 2 and #done > 0)
  end
  if contradicts then return nil, "'status' contradicts 'subResponseList'" end
  return { status = status, done = done, failed = failed }
end

--- favorites.list: a page of `starFiles`, next `nextCursor`; `autoDeleted` (files dropped
-- because they were deleted) is kept on the page.
function shape.star_page(body, _, _, opts)
  local next_cursor, err = cursor_field(body, "nextCursor")
  if next_cursor == false then return nil, err end
  local items, ierr = page_items(body, "starFiles", next_cursor and next_cursor ~= "")
  if not items then return nil, ierr end
  local auto
  if not absent(body.autoDeleted) then
    auto = fields.count(body, "autoDeleted")
    if not auto then return nil, "'autoDeleted' is not a whole number" end
  end
  local page, perr = paging().cursor_page(body, items, next_cursor, opts)
  if not page then return nil, perr end
  page.autoDeleted = auto
  return page
end

return shape
