-- koodrive_local.objstore: the local object store behind the transfer routes
-- (transfer-api §4, §6.2), served by nginx itself under /_store/.
--
--   PUT /_store/p/<uploadId>/<partNumber>?X-Amz-...   a part, streamed into the upload's
--        blob at the part's offset, hashed on the way from the part's start state
--   GET /_store/f/<blob>?X-Amz-...                     a stored file, by nginx from
--        disk (internal location /_store_data/, alias on the store directory:
--        Range, HEAD and limit_rate are nginx's own)
--
-- URLs are signed here with a random per-process secret: hex HMAC-SHA256 over
-- "METHOD\nKEY\nX-Amz-Date\nX-Amz-Expires". Errors are S3-style XML. State is
-- svc.store (see M.new); the upload records it checks are svc.state.uploads.

-- luacheck: globals ngx

local hmac = require "openssl.hmac"
local rand = require "openssl.rand"
local sha256ctx = require "koodrive_local.sha256ctx"

local M = {}

M.DEFAULT_TTL = 3600
M.CHUNK = 262144              -- bytes per socket read: a part is never whole in memory
local FORBIDDEN = { "authorization", "x-user-id", "x-date", "x-traceid" }

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

--- A fresh store state; the files of `old` (a previous state) are removed.
function M.new(old)
  local dir = old and old.dir
  if not dir then
    local prefix = ngx and ngx.config and ngx.config.prefix() or os.tmpname() .. ".d/"
    dir = prefix .. "store"
  end
  os.execute("rm -rf '" .. dir .. "' && mkdir -p '" .. dir .. "'")
  return { dir = dir, secret = (old and old.secret) or rand.bytes(32), ttl = M.DEFAULT_TTL, seq = 0,
    sig_seq = {}, expired_upto = 0, faults = {}, blob_seq = 0, by_hash = {},
    counters = { bytes_received = 0, bytes_read = 0, puts = 0, gets = 0, parts = {} } }
end

-- Epoch seconds of a yyyymmddThhmmssZ stamp (UTC), or nil.
local function stamp_time(s)
  local y, mo, d, h, mi, se = (s or ""):match("^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)Z$")
  if not y then return nil end
  y, mo = tonumber(y), tonumber(mo)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)
end

local function sign(store, method, key, date, expires)
  return hex(hmac.new(store.secret, "sha256"):final(method .. "\n" .. key .. "\n" .. date .. "\n" .. expires))
end

--- A presigned URL for method on key (base = "http://127.0.0.1:PORT").
function M.presign(store, base, method, key)
  local now = ngx.time()
  local date, expires = os.date("!%Y%m%dT%H%M%SZ", now), tostring(store.ttl)
  local sig = sign(store, method, key, date, expires)
  store.seq = store.seq + 1
  store.sig_seq[sig] = store.seq
  return string.format("%s/_store/%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=%s&X-Amz-Date=%s" ..
    "&X-Amz-Signature=%s", base, key, expires, date, sig)
end

local function xml(status, code, msg)
  ngx.status = status
  ngx.header["Content-Type"] = "application/xml"
  local body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' .. code .. "</Code><Message>" ..
    msg .. "</Message></Error>\n"
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(status)
end

-- nil when the URL's signature is good and current, else the XML answer's code and message.
local function check_url(store, method, key)
  local a = ngx.req.get_uri_args()
  local date, expires, sig = a["X-Amz-Date"], a["X-Amz-Expires"], a["X-Amz-Signature"]
  if a["X-Amz-Algorithm"] ~= "AWS4-HMAC-SHA256" or type(date) ~= "string" or type(expires) ~= "string"
    or type(sig) ~= "string" or not expires:match("^%d+$") or not stamp_time(date) then
    return "AuthorizationQueryParametersError", "Query-string authentication parameters are missing or malformed."
  end
  if sign(store, method, key, date, expires) ~= sig then
    return "SignatureDoesNotMatch", "The request signature does not match."
  end
  local n = store.sig_seq[sig]
  if ngx.time() > stamp_time(date) + tonumber(expires) or (n and n <= store.expired_upto) then
    return "AccessDenied", "Request has expired"
  end
  return nil
end

-- The armed fault of kind k (reset_after, status) for one more PUT, or nil.
local function take(store, k)
  local f = store.faults[k]
  if not f or f.count <= 0 then return nil end
  f.count = f.count - 1
  return f
end

-- Where part n's hashing starts: a concurrent part from its hashCtx at its partOffset; a
-- sequential one from the state its predecessor ended in (nil when that one is not stored
-- yet: complete then hashes this part again from the blob).
local function start_ctx(up, n)
  local part = up.parts[n]
  if up.concurrent then return sha256ctx.at(part.ctx, part.offset) end
  if n == 1 then return sha256ctx.new() end
  local prev = up.parts[n - 1].stored
  return prev and prev.finish:clone() or nil
end

-- A part's bytes go straight into the upload's blob at the part's offset (no part files,
-- nothing joined at complete). Each PUT of a part takes a new generation and un-stores the
-- part first: a PUT cut or failed mid-body leaves the part missing, and an older PUT of the
-- same part still streaming stops writing (nginx runs one Lua coroutine at a time and the
-- file is unbuffered, so the check before each write cannot be overtaken).
local function put_part(svc, store, upload_id, n)
  local up = svc.state.uploads_by_id and svc.state.uploads_by_id[upload_id]
  local part = up and up.parts[n]
  if not part then return xml(404, "NoSuchUpload", "The specified upload does not exist.") end
  if ngx.var.http_transfer_encoding then return xml(411, "MissingContentLength", "Content-Length is required.") end
  local len = tonumber(ngx.var.http_content_length or "")
  if len ~= part.size then return xml(400, "InvalidArgument", "Content-Length must be the part size.") end
  if up.closed then return xml(409, "OperationAborted", "The upload is being completed.") end
  local f = io.open(up.blob_path, "r+b")
  if not f then return xml(404, "NoSuchUpload", "The specified upload does not exist.") end
  f:setvbuf("no")
  if not f:seek("set", part.at) then f:close(); return xml(500, "InternalError", "The store could not seek.") end
  part.gen = (part.gen or 0) + 1
  part.stored = nil
  local gen = part.gen
  local reset = take(store, "reset_after")
  local status_fault = take(store, "status")
  local rate = store.faults.rate
  local start = start_ctx(up, n)
  local ctx, got, t0 = start and start:clone() or sha256ctx.new(), 0, ngx.now()
  local sock = len > 0 and assert(ngx.req.socket())
  if sock then sock:settimeout(30000) end
  local function superseded()
    f:close()
    return xml(409, "OperationAborted", "A newer PUT of this part, or complete, took over.")
  end
  while got < len do
    local want = math.min(M.CHUNK, len - got)
    if reset then want = math.min(want, math.max(reset.after - got, 1)) end
    if rate then want = math.min(want, math.max(1, math.floor(rate / 10))) end
    local data = sock:receive(want)
    if not data then f:close(); return ngx.exit(408) end
    if part.gen ~= gen or up.closed then return superseded() end
    if not f:write(data) then f:close(); return xml(500, "InternalError", "The store could not write.") end
    ctx:update(data)
    got = got + #data
    store.counters.bytes_read = store.counters.bytes_read + #data
    if reset and got >= reset.after then
      f:close()
      require("koodrive_local.rst").linger_zero(tonumber(ngx.var.remote_port), tonumber(ngx.var.server_port))
      return ngx.exit(444)
    end
    if rate then
      local ahead = got / rate - (ngx.now() - t0)
      if ahead > 0 then ngx.sleep(ahead) end
    end
  end
  f:close()
  if status_fault then return xml(status_fault.status, "InternalError", "Armed fault.") end
  if part.gen ~= gen or up.closed then return superseded() end
  local etag = ctx:state_hex()
  part.stored = { size = got, start = start and start:key(), finish = ctx, etag = etag }
  local c = store.counters
  c.bytes_received, c.puts = c.bytes_received + got, c.puts + 1
  c.parts[up.fileId] = (c.parts[up.fileId] or 0) + 1
  ngx.status = 200
  ngx.header["ETag"] = '"' .. etag .. '"'
  ngx.header["Content-Length"] = 0
  return ngx.exit(200)
end

--- Content handler of /_store/ (called by nginx_app.serve_store).
function M.serve(svc)
  local store = svc.store
  for _, h in ipairs(FORBIDDEN) do
    if ngx.var["http_" .. h:gsub("%-", "_")] then
      return xml(400, "InvalidArgument", "KooDrive credentials must not be sent to the object store.")
    end
  end
  local method, key = ngx.req.get_method(), ngx.var.uri:sub(#"/_store/" + 1)
  local signed_method = method == "HEAD" and "GET" or method
  local code, msg = check_url(store, signed_method, key)
  if code then return xml(403, code, msg) end
  local up_id, n = key:match("^p/([%w]+)/(%d+)$")
  if method == "PUT" and up_id then return put_part(svc, store, up_id, tonumber(n)) end
  local blob = key:match("^f/([%w_]+)$")
  if (method == "GET" or method == "HEAD") and blob then
    store.counters.gets = store.counters.gets + 1
    if store.faults.rate then ngx.var.limit_rate = store.faults.rate end
    return ngx.exec("/_store_data/" .. blob)
  end
  return xml(405, "MethodNotAllowed", "The method is not allowed on this resource.")
end

--- /_local/store: GET -> counters; with a query (GET or POST) arms faults first.
function M.control(svc, query, kd)
  local store, q = svc.store, query
  local function int(v) return v and v:match("^%d+$") and tonumber(v) end
  if q.reset then store.faults, store.ttl = {}, M.DEFAULT_TTL end
  if q.expire == "1" then store.expired_upto = store.seq end
  if q.url_ttl then
    if not int(q.url_ttl) then return kd(400, 13000102, "url_ttl must be seconds") end
    store.ttl = int(q.url_ttl)
  end
  local count = q.count and int(q.count) or 1
  if q.reset_after then
    if not int(q.reset_after) then return kd(400, 13000102, "reset_after must be bytes") end
    store.faults.reset_after = { after = int(q.reset_after), count = count }
  end
  if q.status then
    local s = int(q.status)
    if not s or s < 400 or s > 599 then return kd(400, 13000102, "status must be 400-599") end
    store.faults.status = { status = s, count = count }
  end
  if q.rate then
    local r = int(q.rate)
    if not r then return kd(400, 13000102, "rate must be bytes/s") end
    store.faults.rate = r > 0 and r or nil
  end
  local c = store.counters
  local jsonio = require "koodrive_local.jsonio"
  local per = jsonio.object()
  for k, v in pairs(c.parts) do per.keys[#per.keys + 1] = k; per.vals[k] = v end
  return kd(200, 0, "store", "bytes_received", c.bytes_received, "bytes_read", c.bytes_read, "puts", c.puts,
    "gets", c.gets, "parts", per, "url_ttl", store.ttl)
end

--- A new blob name and its file path (for an upload or seeded content).
function M.new_blob(store)
  store.blob_seq = store.blob_seq + 1
  local name = "b" .. store.blob_seq
  return name, store.dir .. "/" .. name
end

--- Gives a new upload record its blob (empty; the PUTs fill it in at each part's offset,
-- part.at, the sum of the sizes before it) so that complete has nothing to join.
function M.begin_upload(store, up)
  up.blob, up.blob_path = M.new_blob(store)
  local f = assert(io.open(up.blob_path, "wb"))
  f:close()
  local at = 0
  for _, p in ipairs(up.parts) do p.at, at = at, at + p.size end
end

--- Hashes part p of up again from its blob into ctx (when its start state was not known at
-- its PUT: a sequential part stored before its predecessor). Yields between chunks, so the
-- worker goes on serving; complete has closed the upload to PUTs meanwhile. true, or nil.
function M.rehash(up, p, ctx)
  local f = io.open(up.blob_path, "rb")
  if not f then return nil end
  if not f:seek("set", p.at) then f:close(); return nil end
  local left = p.size
  while left > 0 do
    local chunk = f:read(math.min(M.CHUNK * 4, left))
    if not chunk then f:close(); return nil end
    ctx:update(chunk)
    left = left - #chunk
    ngx.sleep(0)
  end
  f:close()
  return true
end

return M
