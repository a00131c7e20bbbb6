-- koodrive_local: the local KooDrive + IoTDA service, independent of any HTTP
-- server. It is given parsed requests and answers with (status, headers,
-- body) or a raw function (see koodrive_local.faults); nginx hosts it
-- (koodrive_local.nginx_app, started by server/local_service.lua or
-- server/main.lua).
--
-- A request is { method, path = raw path as received, query = raw query or
-- nil, headers = { [lowercase name] = value }, body = bytes }.
--
--   koodrive_local.koodrive_routes  /koodrive/...  (auth, devices, groups)
--   koodrive_local.iotda_routes     /v5/...        (gateway auth, device policies)
--   koodrive_local.faults           armed faults and the request log
--   koodrive_local.control          /_local/...    (health, reset, delay, faults, blobs)
--   koodrive_local.state            the seed, ordered sets, ids and clocks
--   koodrive_local.auth             the independent signature oracle
--   koodrive_local.jsonio, .reply   JSON and the shared envelopes

local control = require "koodrive_local.control"
local faults = require "koodrive_local.faults"
local iotda_routes = require "koodrive_local.iotda_routes"
local kdseed = require "koodrive_local.kdseed"
local koodrive_routes = require "koodrive_local.koodrive_routes"
local objstore = require "koodrive_local.objstore"
local reply = require "koodrive_local.reply"
local state = require "koodrive_local.state"

local M = {}

M.MAX_DELAY_MS = 10000

local Service = {}
Service.__index = Service

--- Back to the seed: state, delay, faults, request log, blobs and the object store.
function Service:clear()
  self.state = state.seed(self.creds)
  kdseed.seed(self.state, self.creds)
  self.delay_ms = 0
  self.faults = {}             -- armed faults, in arming order
  self.requests = {}           -- the newest requests since the last reset
  self.request_count = 0       -- all requests since the last reset
  self.blobs = {}
  self.store = objstore.new(self.store)   -- the transfer object store: its files go too
end

--- A service over the credentials and seed of local_credentials.
function M.new(creds)
  local self = setmetatable({ creds = creds }, Service)
  self:clear()
  return self
end

--- The normal answer of a service request.
function Service:route(req)
  local p = req.path
  if p == "/koodrive" or p:sub(1, 10) == "/koodrive/" then return koodrive_routes.handle(self, req) end
  if p:sub(1, 4) == "/v5/" then return iotda_routes.handle(self, req) end
  return reply.kd_not_found()
end

--- handle(req, sleep) -> status, headers, body, or a raw function (faults).
-- sleep(seconds) must wait without holding up other connections (ngx.sleep).
function Service:handle(req, sleep)
  if req.path:sub(1, 8) == "/_local/" then return control.handle(self, req) end
  local fault = faults.take(self, req.path)
  faults.log_request(self, req, fault)
  if (self.delay_ms or 0) > 0 then
    -- /_local/delay: every answer waits, for specs of concurrency (the work is done after)
    sleep(self.delay_ms / 1000)
  end
  if fault then return faults.answer(self, req, fault) end
  return self:route(req)
end

--- X-Local-Delay-Ms of a request: ms (0 when absent), or nil and the 400
-- answer's reason. The answer then waits that long after the work is done,
-- like a slow network after a successful call.
function M.header_delay(req)
  local v = req.headers["x-local-delay-ms"]
  if not v then return 0 end
  local ms = v:match("^%d+$") and #v <= 6 and tonumber(v)
  if not ms or ms > M.MAX_DELAY_MS then return nil, "X-Local-Delay-Ms must be 0-10000" end
  return ms
end

M.error_body = reply.error_body

return M
