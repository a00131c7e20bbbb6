--- Resume journals of uploads: what an upload must remember to continue after a crash - the
-- source's identity (size, mtime, sha256), the plan, the destination, the fileId and the
-- parts already stored - and nothing else: no URL (part URLs carry signatures), no token.
-- Written whole each time (core.write_atomic: temporary file, fsync, rename), so a crash
-- leaves the previous journal or the new one, never half of one.
local core = require "koodrive.core"
local json = require "koodrive.json"
local errors = require "koodrive.errors"

local journal = {}

journal.VERSION = 1

-- The fields that must all match for a journal to be continued; `concurrent` (the mode the
-- upload was created in) is kept too, and a resumed upload keeps that mode whatever its
-- concurrency now.
local IDENTITY = { "size", "mtime", "sha256", "part_size", "containerId", "parent", "fileName" }

-- The folder for journals of sources whose own folder cannot take one (a read-only mount, a
-- folder of another user): $XDG_STATE_HOME/koodrive/uploads, or ~/.local/state/koodrive/uploads.
local function state_dir()
  local base = os.getenv("XDG_STATE_HOME")
  if not (base and base:sub(1, 1) == "/") then
    local home = os.getenv("HOME")
    if not (home and home:sub(1, 1) == "/") then return nil end
    base = home .. "/.local/state"
  end
  return base .. "/koodrive/uploads"
end

--- The default journal of a path source: a hidden file beside it; when its folder cannot be
-- written, a file named after the SHA-256 of its absolute path in the user's state folder
-- (state_dir). nil when neither can be had: the upload then runs without a journal, as with
-- journal = false (the caller did not ask for one; a journal path given explicitly that
-- cannot be written is an error instead).
function journal.default_path(path)
  local dir, base = path:match("^(.*/)([^/]+)$")
  if not dir then dir, base = "", path end
  if core.writable(dir == "" and "." or dir) then return dir .. "." .. base .. ".koodrive-upload" end
  local home, absolute = state_dir(), core.realpath(path)
  if not (home and absolute) then return nil end
  if not (core.stat(home) or core.mkdir(home)) or not core.writable(home) then return nil end
  return home .. "/" .. require("koodrive.sign").sha256_hex(absolute) .. ".koodrive-upload"
end

--- The journal at `path`, or nil when there is none or it cannot be read as one.
function journal.load(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  local t = json.decode(text)
  if type(t) ~= "table" or t.version ~= journal.VERSION or type(t.fileId) ~= "string"
      or type(t.stored) ~= "table" then
    return nil
  end
  return t
end

--- Whether a loaded journal is about this very upload (same source bytes, plan, destination).
function journal.matches(record, identity)
  for _, k in ipairs(IDENTITY) do
    if record[k] ~= identity[k] then return false end
  end
  return true
end

--- Writes the journal: the identity, its fileId and the part numbers stored (a list).
function journal.save(path, identity, stored)
  local t = { version = journal.VERSION, stored = json.array(stored) }
  for _, k in ipairs(IDENTITY) do t[k] = identity[k] end
  t.fileId, t.concurrent = identity.fileId, identity.concurrent
  local ok, msg = core.write_atomic(path, json.encode(t))
  if not ok then return nil, errors.new { kind = "io", field = "journal", message = msg } end
  return true
end

function journal.remove(path) os.remove(path) end

return journal
