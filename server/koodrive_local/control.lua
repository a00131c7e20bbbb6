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
--
-- The blob store is the service's object store for large transfers (the
-- capacity spec sends 64 MiB each way); nginx_app streams its request body in.

local auth = require "koodrive_local.auth"
local faults = require "koodrive_local.faults"
local reply = require "koodrive_local.reply"

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
  if p == "/_local/iotda/policies" then return require("koodrive_local.iotda_routes").control(svc, req) end
  local name = M.blob_name(p)
  if name then return blob(svc, req, name) end
  return kd_not_found()
end

return M
