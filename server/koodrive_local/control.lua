-- koodrive_local.control: the /_local/ helpers of the local service, no auth:
-- readiness probe, the way back to the seed, delays, faults, the request log,
-- and a blob store for large bodies.
--
--   GET  /_local/health            -> {"code":0,"msg":"ok"}
--   POST /_local/reset             back to the seed; clears delay, faults and the log
--   POST /_local/delay?ms=N        every later service answer waits N ms (0-10000)
--   POST /_local/fault?...         see koodrive_local.faults
--   GET  /_local/faults, GET /_local/requests
--   PUT  /_local/blobs/NAME        stores the body (any size the memory holds)
--        -> {"code":0,"msg":"stored","size":N,"sha256":"<hex>"}
--   GET  /_local/blobs/NAME        the stored bytes (application/octet-stream), 404 if none
--   DELETE /_local/blobs/NAME      -> {"code":0,"msg":"deleted"}
--   POST /_local/files {containerId, parentFileId ("root"|id), fileName, size, fileType?}
--        a plain file entry (fileType default "45") -> {"code":0,"msg":"created","id":".."}
--   POST /_local/jobs?pending_ms=&processing_ms=   durations of later jobs (0-60000 each)
--   POST /_local/tokens?expires_in=N   session/carrier tokens issued later live N s (1-86400)
--   POST /_local/paging?mode=normal|partial|empty_first|repeat_cursor[&pages=N]
--        how every cursor listing pages (see koodrive_local.lpaging)
--   GET|POST /_local/store[?expire=1&url_ttl=N&reset_after=N&status=S&count=K&rate=N&reset=1]
--        the transfer object store: arms the faults given, then answers its counters
--        (see koodrive_local.objstore)
--
-- The blob store is the service's object store for large transfers (the
-- capacity spec sends 64 MiB each way); nginx_app streams its request body in.

local auth = require "koodrive_local.auth"
local faults = require "koodrive_local.faults"
local kdutil = require "koodrive_local.kdutil"
local lpaging = require "koodrive_local.lpaging"
local reply = require "koodrive_local.reply"
local tree = require "koodrive_local.tree"

local kd, kd_not_found = reply.kd, reply.kd_not_found

local M = {}

M.BLOBS = "/_local/blobs/"

-- The blob name of a path under /_local/blobs/, or nil.
function M.blob_name(path)
  local name = path:sub(1, #M.BLOBS) == M.BLOBS and path:sub(#M.BLOBS + 1)
  if name and name:match("^[%w%-_.~%%]+$") then return auth.percent_decode(name) end
  return nil
end

local function blob(svc, req, name)
  local m = req.method
  if m == "PUT" then
    svc.blobs[name] = req.body
    return kd(200, 0, "stored", "size", #req.body, "sha256", auth.sha256_hex(req.body))
  end
  local data = svc.blobs[name]
  if m == "DELETE" then
    svc.blobs[name] = nil
    if not data then return kd_not_found() end
    return kd(200, 0, "deleted")
  end
  if m == "GET" or m == "HEAD" then
    if not data then return kd_not_found() end
    return 200, { { "Content-Type", "application/octet-stream" } }, data
  end
  return kd(405, 405, "method not allowed")
end

local function bad(msg) return kd(400, 13000102, msg) end

local function add_file(svc, req)
  local b = kdutil.body(req)
  if not b then return bad("body must be a JSON object") end
  local st = svc.state
  local space = type(b.containerId) == "string" and st.spaces[b.containerId]
  if not space then return kd(400, 13000301, "no such containerId") end
  local parent = tree.resolve(st, space, b.parentFileId or "root")
  if not parent or not tree.is_folder(parent) then return kd(400, 13000309, "no such parent folder") end
  local size = kdutil.int(b.size or 0, 0)
  local ftype = b.fileType or "45"
  if not kdutil.name_ok(b.fileName) or not size or type(ftype) ~= "string" or ftype == "10" then
    return bad("fileName, size (integer >= 0) and fileType (not \"10\") as for a file")
  end
  if tree.find_child(st, parent, b.fileName) then return kd(400, 13000405, "Duplicate file name.") end
  local node = tree.add(st, space, parent, b.fileName, ftype, size)
  return kd(200, 0, "created", "id", node.id)
end

local function set_jobs(svc, req)
  local q = kdutil.query(req)
  local t = svc.state.job_timing
  local p = q.pending_ms and kdutil.int(q.pending_ms, 0, 60000)
  local r = q.processing_ms and kdutil.int(q.processing_ms, 0, 60000)
  if (q.pending_ms and not p) or (q.processing_ms and not r) then return bad("durations must be 0-60000 ms") end
  t.pending_ms, t.processing_ms = p or t.pending_ms, r or t.processing_ms
  return kd(200, 0, "jobs", "pending_ms", t.pending_ms, "processing_ms", t.processing_ms)
end

local function set_tokens(svc, req)
  local n = kdutil.int(kdutil.query(req).expires_in, 1, 86400)
  if not n then return bad("expires_in must be 1-86400") end
  svc.state.token_expires_in = n
  return kd(200, 0, "tokens", "expires_in", n)
end

local function set_paging(svc, req)
  local q = kdutil.query(req)
  local pages = q.pages and kdutil.int(q.pages, 0, 100)
  if not lpaging.MODES[q.mode or ""] or (q.pages and not pages) then
    return bad("mode must be normal, partial, empty_first or repeat_cursor; pages 0-100")
  end
  local cfg = svc.state.paging
  cfg.mode, cfg.empty_pages = q.mode, pages or cfg.empty_pages
  return kd(200, 0, "paging", "mode", cfg.mode, "pages", cfg.empty_pages)
end

-- The answer of a request under /_local/.
function M.handle(svc, req)
  local p, m = req.path, req.method
  if p == "/_local/health" and m == "GET" then return kd(200, 0, "ok") end
  if p == "/_local/reset" and m == "POST" then
    svc:clear()
    return kd(200, 0, "reset")
  end
  if p == "/_local/delay" and m == "POST" then
    local ms = tonumber((req.query or ""):match("^ms=(%d+)$") or "")
    if not ms or ms > 10000 then return kd(400, 13000102, "ms must be 0-10000") end
    svc.delay_ms = ms
    return kd(200, 0, "delay " .. ms .. " ms")
  end
  if p == "/_local/fault" and m == "POST" then return faults.arm(svc, req) end
  if p == "/_local/faults" and m == "GET" then return faults.list(svc) end
  if p == "/_local/requests" and m == "GET" then return faults.list_requests(svc) end
  if p == "/_local/files" and m == "POST" then return add_file(svc, req) end
  if p == "/_local/jobs" and m == "POST" then return set_jobs(svc, req) end
  if p == "/_local/tokens" and m == "POST" then return set_tokens(svc, req) end
  if p == "/_local/paging" and m == "POST" then return set_paging(svc, req) end
  if p == "/_local/store" and (m == "GET" or m == "POST") then
    return require("koodrive_local.objstore").control(svc, kdutil.query(req), kd)
  end
  if p == "/_local/iotda/policies" then return require("koodrive_local.iotda_routes").control(svc, req) end
  local name = M.blob_name(p)
  if name then return blob(svc, req, name) end
  return kd_not_found()
end

return M
