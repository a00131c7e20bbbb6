--- Files by path for the `koodrive` command: "/Projects/2026" -> the file entry, through the
-- library's listing (client.files:each), one folder at a time.
--
-- An argument that starts with "/" is a path; anything else is a file id, used as given. "/" is
-- the root of the space: the alias "root" where the service documents it (listing), and the
-- space's bizRootFileId where a concrete id is needed (koodrive-files-api.md §2.3, Decision
-- root). The space is the user's own (client.spaces:mine()) unless a container id is given.
--
-- Every folder on a path is listed completely (all pages), because a second entry with the same
-- name may come on a later page: a name that two entries share is an ambiguity, never a guess.
-- Listings are kept for the life of the resolver, so "mv /a/x /a/y /b" lists /a once.
--
-- Failures are returned, not raised: nil and either a library error (koodrive.errors) or a
-- path error { kind = "not_found" | "ambiguous" | "not_folder" | "bad_path", message, path,
-- ids (ambiguous) }. paths.fail turns both into the command's exit.
local errors = require "koodrive.errors"
local exit = require "koodrive.cli.exit"

local paths = {}

--- fileType of a folder (koodrive-files-api.md §3).
paths.FOLDER = "10"

-- A listing page of this size needs the fewest calls (the documented maximum and default).
local PAGE_SIZE = 100

local function path_error(kind, path, message, extra)
  local e = { kind = kind, path = path, message = message, path_error = true }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

-- Two or more entries answer to one name: the error lists every id.
local function ambiguous(shown, what, name, found)
  local ids = {}
  for i, e in ipairs(found) do ids[i] = tostring(e.id) end
  return path_error("ambiguous", shown, shown .. ": " .. #found .. " " .. what .. " '" .. name ..
    "' (ids " .. table.concat(ids, ", ") .. "): give the id instead", { ids = ids })
end

--- Whether `arg` is a path (it starts with "/") rather than an id.
---@param arg string
---@return boolean
function paths.is_path(arg) return type(arg) == "string" and arg:sub(1, 1) == "/" end

--- The segments of a path: "/a/b/" -> { "a", "b" }; "/" -> {}. Repeated slashes are one (as
-- in a shell); "." and ".." are refused: the service's names can never be either.
---@param path string
---@return string[]|nil segments
---@return table|nil err
function paths.split(path)
  if not paths.is_path(path) then
    return nil, path_error("bad_path", path, path .. ': a path starts with "/"')
  end
  local segments = {}
  for segment in path:gmatch("[^/]+") do
    if segment == "." or segment == ".." then
      return nil, path_error("bad_path", path, path .. ': "." and ".." are not supported in paths')
    end
    segments[#segments + 1] = segment
  end
  return segments
end

--- Checks the form of every path among `args` (ids pass), so that a bad one is refused
-- before anything is sent; ends the command (exit 4) on the first bad path.
---@param args string[]
function paths.check_all(args)
  for _, a in ipairs(args) do
    if paths.is_path(a) then
      local ok, err = paths.split(a)
      if not ok then paths.fail(err) end
    end
  end
end

local function join(segments, n)
  if n == 0 then return "/" end
  return "/" .. table.concat(segments, "/", 1, n)
end

--- Whether a listing entry is a folder (fileType "10"; a number is read alike).
---@param entry table
---@return boolean
function paths.is_folder(entry) return entry.fileType ~= nil and tostring(entry.fileType) == paths.FOLDER end
local is_folder = paths.is_folder

local Resolver = {}
Resolver.__index = Resolver

--- A resolver over `client`. opts.container_id: the space (default: spaces:mine()'s).
---@param client table a KooDrive client
---@param opts table|nil
---@return table resolver
function paths.resolver(client, opts)
  opts = opts or {}
  return setmetatable({ client = client, container_id = opts.container_id, listings = {},
    call_opts = opts.call_opts }, Resolver)
end

--- The user's own space (client.spaces:mine(), asked once).
---@return table|nil space
---@return table|nil err
function Resolver:space()
  if not self.mine then
    local space, err = self.client.spaces:mine()
    if not space then return nil, err end
    self.mine = space
  end
  return self.mine
end

--- The container id: the one given, or the user's own space's.
---@return string|nil
---@return table|nil err
function Resolver:container()
  if self.container_id then return self.container_id end
  local space, err = self:space()
  if not space then return nil, err end
  if type(space.containerId) ~= "string" or space.containerId == "" then
    return nil, errors.new { kind = "decode", message = "spaces:mine(): the space has no containerId" }
  end
  self.container_id = space.containerId
  return self.container_id
end

--- The concrete id of the root folder (bizRootFileId of the user's own space).
---@return string|nil
---@return table|nil err
function Resolver:root_id()
  local space, err = self:space()
  if not space then return nil, err end
  if self.container_id and space.containerId ~= self.container_id then
    return nil, path_error("bad_path", "/", "the root folder of container " .. self.container_id ..
      " is not known: give the folder's id instead of /")
  end
  if type(space.bizRootFileId) ~= "string" or space.bizRootFileId == "" then
    return nil, errors.new { kind = "decode", message = "spaces:mine(): the space has no bizRootFileId" }
  end
  return space.bizRootFileId
end

-- The children of folder `parent_id` by name: { [fileName] = { entry, ... } } (every page).
function Resolver:children(parent_id)
  local cached = self.listings[parent_id]
  if cached then return cached end
  local container, err = self:container()
  if not container then return nil, err end
  local by_name = {}
  local opts = { page_size = PAGE_SIZE }
  for k, v in pairs(self.call_opts or {}) do opts[k] = v end
  -- Called by hand, not in a generic for: an error must be seen whether each() yields it as
  -- (false, err) or (nil, err); a for loop would end on the latter as if the folder ended.
  local iter, state, control = self.client.files:each({ containerId = container, parentFileId = parent_id }, opts)
  while true do
    local entry, ierr = iter(state, control)
    if ierr then return nil, ierr end
    if not entry then break end
    control = entry
    local name = type(entry) == "table" and entry.fileName
    if type(name) == "string" then
      by_name[name] = by_name[name] or {}
      table.insert(by_name[name], entry)
    end
  end
  self.listings[parent_id] = by_name
  return by_name
end

-- The entry named `name` in folder `parent_id`; `segments`/`n` name it in messages.
function Resolver:child(parent_id, name, segments, n)
  local by_name, err = self:children(parent_id)
  if not by_name then return nil, err end
  local found = by_name[name] or {}
  local shown = join(segments, n)
  if #found == 0 then
    return nil, path_error("not_found", shown, shown .. ": no file or folder named '" .. name ..
      "' in " .. join(segments, n - 1))
  end
  if #found > 1 then return nil, ambiguous(shown, "entries are named", name, found) end
  return found[1]
end

--- What `arg` names: { id, entry (the listing entry; nil for ids and the root), root (true for
-- "/"), path (paths only), arg }. An id is taken as given, without a call.
---@param arg string a path or an id
---@return table|nil target
---@return table|nil err
function Resolver:resolve(arg)
  if not paths.is_path(arg) then return { id = arg, arg = arg } end
  local segments, err = paths.split(arg)
  if not segments then return nil, err end
  local parent, entry = "root", nil
  for n, name in ipairs(segments) do
    if entry and not is_folder(entry) then
      local shown = join(segments, n - 1)
      return nil, path_error("not_folder", shown, shown .. " is not a folder")
    end
    entry, err = self:child(parent, name, segments, n)
    if not entry then return nil, err end
    parent = entry.id
  end
  if not entry then return { id = "root", root = true, path = "/", arg = arg } end
  return { id = entry.id, entry = entry, path = join(segments, #segments), arg = arg }
end

--- Like resolve, but a path must name a folder (an id is taken as one).
---@param arg string
---@return table|nil target
---@return table|nil err
function Resolver:folder(arg)
  local target, err = self:resolve(arg)
  if not target then return nil, err end
  if target.entry and not is_folder(target.entry) then
    return nil, path_error("not_folder", target.path, target.path .. " is not a folder")
  end
  return target
end

--- A concrete id for `target` (the root's alias replaced by bizRootFileId).
---@param target table from resolve
---@return string|nil
---@return table|nil err
function Resolver:concrete_id(target)
  if target.root then return self:root_id() end
  return target.id
end

--- For a new entry at `path`: its parent folder (a target) and its name.
---@param path string
---@return table|nil parent
---@return string|table name, or the error
function Resolver:parent_and_name(path)
  local segments, err = paths.split(path)
  if not segments then return nil, err end
  if #segments == 0 then return nil, path_error("bad_path", path, "/ has no parent") end
  local parent, perr = self:folder(join(segments, #segments - 1))
  if not parent then return nil, perr end
  return parent, segments[#segments]
end

--- What `arg` names in the recycle bin: an id as given; a path by its name among the bin's
-- entries (files:list_recycled, every page) whose parent is the path's parent folder in the
-- live tree ("/x": deleted from the root). An entry without parentFolder matches by name only.
---@param arg string
---@return table|nil target
---@return table|nil err
function Resolver:recycled(arg)
  if not paths.is_path(arg) then return { id = arg, arg = arg } end
  local parent, name = self:parent_and_name(arg)
  if not parent then return nil, name end
  local parents = { [parent.id] = true }
  if parent.root then
    local space = self.mine or {}
    for _, k in ipairs { "bizRootFileId", "rootFileId" } do
      if type(space[k]) == "string" then parents[space[k]] = true end
    end
  end
  local container, err = self:container()
  if not container then return nil, err end
  local iter, state, control = self.client.files:list_recycled_each(
    { containerId = container, parentFileId = "root" }, { page_size = PAGE_SIZE })
  local found = {}
  while true do
    local entry, ierr = iter(state, control)
    if ierr then return nil, ierr end
    if not entry then break end
    control = entry
    local pf = type(entry) == "table" and entry.parentFolder
    local from = type(pf) == "table" and pf[1] or nil
    if type(entry) == "table" and entry.fileName == name and (from == nil or parents[from]) then
      found[#found + 1] = entry
    end
  end
  if #found == 0 then
    return nil, path_error("not_found", arg, arg .. ": no '" .. name .. "' from " .. (parent.path or parent.id) ..
      " in the recycle bin")
  end
  if #found > 1 then return nil, ambiguous(arg, "entries in the recycle bin are named", name, found) end
  return { id = found[1].id, entry = found[1], path = arg, arg = arg }
end

--- The job entry ({ fileId, filePath }) of `target`: filePath is the service's fileIdPath
-- (files:path), the "full path including the file id" that logical delete and restore need
-- (koodrive-files-api.md §5.1); it is never built from the name path.
---@param target table
---@return table|nil item
---@return table|nil err
function Resolver:job_item(target)
  local id, err = self:concrete_id(target)
  if not id then return nil, err end
  local container
  container, err = self:container()
  if not container then return nil, err end
  local p
  p, err = self.client.files:path(id, container)
  if not p then return nil, err end
  if type(p.fileIdPath) ~= "string" or p.fileIdPath == "" then
    return nil, errors.new { kind = "decode", message = (target.arg or id) .. ": files:path gave no fileIdPath" }
  end
  return { fileId = id, filePath = p.fileIdPath }
end

--- Ends the command with `err`: a library error by its kind, a path error with 4 (bad path,
-- ambiguity, not a folder: the argument does not name one file; nothing was sent) or 5 (not
-- found: the service's tree has no such file, as with an unknown id).
---@param err table
function paths.fail(err)
  if type(err) == "table" and err.path_error then
    exit.fail(err.kind == "not_found" and exit.EXIT.service or exit.EXIT.validation, err.message)
  end
  exit.with(err)
end

--- `value` unless it is nil, else the command ends with `err` (paths.fail).
function paths.must(value, err)
  if value == nil then paths.fail(err) end
  return value
end

return paths
