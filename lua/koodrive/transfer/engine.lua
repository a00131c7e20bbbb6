--- Drives a parts engine (koodrive.curl.parts, or another with its interface) for the upload
-- and download flows. `engine.drive` is the one loop both share: it adds the items, polls,
-- hands every finished transfer to the flow's `settle`, retries an item alone with backoff
-- (without holding up the others), and reports progress between polls - never from inside a
-- libcurl callback. Waits go through koodrive.scheduler: a loop task or an OpenResty handler
-- is never blocked longer than one short poll.
local errors = require "koodrive.errors"
local scheduler = require "koodrive.scheduler"
local retry = require "koodrive.retry"

local engine = {}

engine.MAX_ATTEMPTS = 5 -- per item
engine.MAX_BACKOFF = 8  -- seconds
local POLL = 0.05       -- the longest one poll blocks a plain script (seconds)

--- Whether the caller runs where blocking is not allowed (a loop task, nginx).
function engine.cooperative() return scheduler.name() ~= "thread" end
local cooperative = engine.cooperative

--- Lets the host run between two bounded steps of work (hashing, polling).
function engine.yield()
  if cooperative() then scheduler.sleep(0.001) end
end

--- A parts engine for where the caller runs: inside nginx the one on cosockets and light
-- threads (koodrive.transfer.ngx_parts: libcurl would block the worker), elsewhere the C
-- engine on libcurl's multi handle (koodrive.curl.parts). Every flow gets its engine here.
-- opts as for koodrive.curl.parts.
function engine.new_parts(opts)
  if scheduler.name() == "ngx" then return require("koodrive.transfer.ngx_parts").new(opts) end
  return require("koodrive.curl").parts(opts)
end

local function unescape(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- `text` without the query of any URL in it, nor any value of `url`'s query (its
-- signature, credential, expiry...) written anywhere else in it, raw or percent-decoded: an
-- object store that echoes its request back must not put a signature into a message.
function engine.redact(text, url)
  text = tostring(text or ""):gsub("(https?://[^%s?\"'<>]*)%?[^%s\"'<>]*", "%1?<redacted>")
  local query = type(url) == "string" and url:match("%?(.*)$")
  if query then
    for value in query:gmatch("=([^&#]*)") do
      for _, v in ipairs { value, unescape(value) } do
        -- (values of a few characters, such as an expiry of "60", would hide too much)
        if #v >= 6 then text = text:gsub(v:gsub("%W", "%%%0"), "<redacted>") end
      end
    end
  end
  return text
end

local function backoff(attempt) return math.min(engine.MAX_BACKOFF, 0.25 * 2 ^ (attempt - 1)) end

--- Runs one engine until every item is through or one fails. job = {
--   concurrency,
--   ids = { id, ... }                   the items, added in this order,
--   add(e, id)                          adds item `id` to engine e (its current URL),
--   settle(d, attempts) -> verdict      for a finished transfer d: "done", "again" (add it
--                                       again now), "retry" (again after a backoff), or nil, err,
--   progress(e)                         optional, after every poll }
-- An item asked to retry more than engine.MAX_ATTEMPTS times fails with job.exhausted(d,
-- attempts). Returns true, or nil and the error. The engine is closed either way.
function engine.drive(job)
  local e = engine.new_parts { concurrency = job.concurrency }
  local attempts, waiting = {}, {}
  local function add(id)
    attempts[id] = (attempts[id] or 0) + 1
    job.add(e, id)
  end
  local function finish(ok, err) e:close(); return ok, err end
  for _, id in ipairs(job.ids) do add(id) end
  -- Where the drive runs does not change while it runs: looked up once.
  local coop = cooperative()
  local waits = coop and e.waits
  while e:pending() > 0 or next(waiting) do
    local now = retry.now()
    for id, at in pairs(waiting) do
      if now >= at then waiting[id] = nil; add(id) end
    end
    -- An engine whose poll yields to its host while it waits (e.waits: cosockets) waits
    -- there; the C engine's poll would block, so a host that cannot block polls it at once.
    local done = e:poll((not coop or waits) and POLL or 0)
    for _, d in ipairs(done) do
      local verdict, err = job.settle(d, attempts[d.id])
      if verdict == nil then return finish(nil, err) end
      if verdict == "again" then
        add(d.id)
      elseif verdict == "retry" then
        if attempts[d.id] >= engine.MAX_ATTEMPTS then return finish(nil, job.exhausted(d, attempts[d.id])) end
        waiting[d.id] = retry.now() + backoff(attempts[d.id])
      end
    end
    if job.progress then
      -- The caller's progress function may raise: the engine is closed first, so no transfer
      -- goes on writing into a file the caller may already be reusing.
      local ok, perr = pcall(job.progress, e)
      if not ok then e:close(); error(perr, 0) end
    end
    if coop and not waits then scheduler.sleep(#done == 0 and 0.002 or 0.001)
    elseif e:pending() == 0 and next(waiting) then scheduler.sleep(0.05) end
  end
  return finish(true)
end

local RETRY_REASONS = { reset = true, timeout = true, transport = true, connect = true, recv = true, send = true }
engine.RETRY_REASONS = RETRY_REASONS

--- What a finished transfer means: "ok" (2xx, every byte), "refused" (403), "retry" (a
-- reset, a timeout, a 5xx, fewer bytes than asked) or "fail".
function engine.outcome(d, size)
  if d.error then return RETRY_REASONS[d.error.reason] and "retry" or "fail" end
  if d.status >= 200 and d.status < 300 then return d.bytes == size and "ok" or "retry" end
  if d.status == 403 then return "refused" end
  if d.status >= 500 then return "retry" end
  return "fail"
end

--- The error of a transfer that could not be completed: `fields` (kind, field, part...) and
-- `fields.what` (which item) with why, and what the peer said (its first 200 bytes, with
-- `url`'s signature taken out).
function engine.item_error(fields, d, why, url)
  local detail = d.error and d.error.message or ("HTTP " .. tostring(d.status) ..
    (d.body and d.body ~= "" and (": " .. d.body:sub(1, 200)) or ""))
  local t = { kind = "transport", status = d.status, reason = d.error and d.error.reason or "status" }
  for k, v in pairs(fields) do if k ~= "what" then t[k] = v end end
  t.message = fields.what .. ": " .. why .. " (" .. engine.redact(detail, url) .. ")"
  return errors.new(t)
end

return engine
