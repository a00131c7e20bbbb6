-- koodrive_local.kdseed: the KooDrive part of the seed (on top of
-- koodrive_local.state's devices and groups): spaces and their trees, the
-- user directory, stars, jobs, shares, backups, sessions and tokens, and the
-- test settings of the /_local/ control endpoints.

local lpaging = require "koodrive_local.lpaging"
local state = require "koodrive_local.state"
local tree = require "koodrive_local.tree"

local M = {}

M.JOB_PENDING_MS, M.JOB_PROCESSING_MS = 300, 300
M.TOKEN_EXPIRES_IN = 1800

local function add_user(st, id, name)
  if st.users[id] then return end
  st.users[id] = { userId = id, name = name, deptId = "1", deptName = "Local department",
    mobile = "", role = 1, status = 1 }
  st.user_order[#st.user_order + 1] = id
end

function M.seed(st, creds)
  local kd = creds.koodrive
  st.seq = 0
  st.spaces, st.nodes, st.user_space, st.group_space = {}, {}, {}, {}
  st.stars = {}                -- [user id] = ordered set of file ids
  st.jobs, st.job_order = {}, {}
  st.job_timing = { pending_ms = M.JOB_PENDING_MS, processing_ms = M.JOB_PROCESSING_MS }
  st.shares, st.share_order = {}, {}
  st.users, st.user_order = {}, {}
  st.scopes = {}               -- [device id][module code] = list of scope objects
  st.records = {}              -- [record id] = list of backup files
  st.sessions = {}             -- [session id] = { token, user }
  st.tokens = {}               -- [token text after the scheme] = { user, expires, kind, ... }
  st.refresh = {}              -- [carrier refresh token] = access token
  st.codes = {}                -- authorization codes still good
  st.token_expires_in = M.TOKEN_EXPIRES_IN
  st.paging = lpaging.default()
  st.uploads, st.uploads_by_id = {}, {}   -- unfinished uploads by fileId and uploadId (routes_transfer)

  add_user(st, kd.user_id, "Local User")
  for i, id in ipairs(kd.group_members or {}) do add_user(st, id, "Member " .. i) end
  if kd.carrier_user_id then add_user(st, kd.carrier_user_id, "Carrier User") end

  for _, g in pairs(st.groups) do
    g.sourceType, g.ownerId = 0, kd.user_id
    g.createdTime, g.updatedTime = state.iso_now(), state.iso_now()
  end

  local space = tree.new_space(st, "1", kd.user_id, kd.space)
  st.user_space[kd.user_id] = space.containerId
  for _, f in ipairs(kd.seed_files or {}) do
    local parent = tree.resolve(st, space, f.parent)
    tree.add(st, space, parent, f.name, f.size and (f.fileType or "45") or "10", f.size or 0, f.id)
  end
  if kd.group_id and st.groups[kd.group_id] then
    local gs = tree.new_space(st, "2", kd.group_id, kd.group_space)
    st.group_space[kd.group_id] = gs.containerId
    local shared = tree.add(st, gs, tree.resolve(st, gs, "root"), "Team documents", "10", 0)
    tree.add(st, gs, shared, "plan.xlsx", "27", 3000)
  end

  for _, c in ipairs(kd.auth_codes or {}) do st.codes[c] = true end
  if kd.auth_code then st.codes[kd.auth_code] = true end

  if kd.backup_record_id then
    local files = {}
    for i = 1, kd.backup_record_files or 3 do
      files[i] = { fileId = "B" .. kd.backup_record_id .. "_" .. i, fileName = "backup-" .. i .. ".dat",
        sha256 = string.rep(string.format("%x", i % 16), 64), size = 1000 * i,
        description = "", createTime = state.iso_now() }
    end
    st.records[kd.backup_record_id] = files
  end
end

return M
