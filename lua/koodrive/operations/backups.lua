--- Backup scopes and backup files, carrier only (koodrive-sharing-groups-api.md §5):
-- backups.add_scopes, backups.scopes, backups.record_files. Operation entries as data.
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local validate = require "koodrive.validate"
local V = require "koodrive.validate.sharing"
local S = require "koodrive.shape.sharing"

local SCOPES_MAX = 100
local FILES_MAX, FILES_DEFAULT = 100, 100
local CURSOR_MAX = 1000

local MODULES = { ["100"] = true, ["101"] = true, ["102"] = true }

-- moduleCode: the string "100" (folder), "101" (album) or "102" (address book); the
-- numbers 100..102 are taken as their digits.
local function module_code(v, f)
  if v == 100 or v == 101 or v == 102 then v = string.format("%d", v) end
  return V.str_enum(v, f, MODULES, '"100" (folder), "101" (album), "102" (address book)')
end

-- scopeList: 1..100 ScopeBaseInfo objects, passed through (their fields are not in our copy).
local function scope_list(v, f)
  local n, err = validate.list(v, f, SCOPES_MAX)
  if not n then return nil, err end
  local out = {}
  for i = 1, n do
    local o, e = V.json_object(rawget(v, i), f .. "[" .. i .. "]")
    if not o then return nil, e end
    if #o > 0 then
      return nil, errors.validation(f .. "[" .. i .. "]", "type", "must be an object (ScopeBaseInfo), not an array")
    end
    out[i] = o
  end
  return out
end

local FILES_RULES = {} -- pageSize and cursor are the per-call page_size and cursor

return {
  {
    name = "backups.add_scopes",
    method = "POST", path = "/koodrive/ose/v1/backup/device/{deviceId}/scope",
    args = {
      { name = "deviceId", check = validate.path_segment },
      { name = "moduleCode", check = module_code },
      { name = "scopeList", check = scope_list },
    },
    body = function(a) return json.encode({ moduleCode = a.moduleCode, scopeList = a.scopeList }) end,
    code_optional = true,
    idempotent = false,
    result = S.scopes_added,
  },
  {
    name = "backups.scopes",
    method = "GET", path = "/koodrive/ose/v1/backup/device/{deviceId}/scope",
    args = {
      { name = "deviceId", check = validate.path_segment },
      { name = "moduleCode", check = module_code },
    },
    query = function(a) return { { "moduleCode", a.moduleCode } } end,
    code_optional = true,
    result = S.scopes,
  },
  {
    name = "backups.record_files",
    method = "GET", path = "/koodrive/ose/v1/backup/record/{recordId}/files",
    args = {
      { name = "recordId", check = validate.path_segment },
      { name = "query", check = function(v, f) return V.optional_request(v, f, FILES_RULES) end },
    },
    options = { backup_lock_id = V.header_option },
    -- listBackupFile: pageSize required (1..100), cursor at most 1000 characters.
    query = function(_, opts)
      local q = { { "pageSize", (opts and opts.page_size) or FILES_DEFAULT } }
      if opts and opts.cursor then
        if #opts.cursor > CURSOR_MAX then
          return nil, errors.validation("cursor", "length", "must be at most " .. CURSOR_MAX .. " characters")
        end
        q[2] = { "cursor", opts.cursor }
      end
      return q
    end,
    headers = function(_, opts)
      if opts and opts.backup_lock_id then return { ["x-backup-lock-id"] = opts.backup_lock_id } end
      return {}
    end,
    paging = "cursor", page_max = FILES_MAX,
    code_optional = true,
    result = S.backup_files,
  },
}
