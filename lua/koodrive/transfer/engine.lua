--- Drives the C parts engine (koodrive.curl.parts) for the upload and download flows: every
-- part is PUT (or range fetched) until it is stored, retried alone on a reset or a 5xx with
-- backoff, given a fresh URL on a 403, and reported item by item when it cannot be. Waits go
-- through koodrive.scheduler: a loop task or an OpenResty handler is never blocked longer than
-- one short poll.
local errors = require "koodrive.errors"
local scheduler = require "koodrive.scheduler"
local retry = require "koodrive.retry"

local engine = {}

engine.MAX_ATTEMPTS = 5 -- per part
local POLL = 0.05       -- the longest one poll blocks a plain script (seconds)

-- Whether the caller runs where blocking is not allowed (a loop task, nginx).
local function cooperative() return scheduler.current().name ~= "thread" end

--- Lets the host run between two bounded steps of work (hashing, polling).
function engine.yield()
  if cooperative() then scheduler.sleep(0.001) end
end

--- A parts engine for where the caller runs: inside nginx the one on cosockets and light
-- threads (koodrive.transfer.ngx_parts: libcurl would block the worker), elsewhere the C
-- engine on libcurl's multi handle (koodrive.curl.parts). Every flow gets its engine here.
-- opts as for koodrive.curl.parts.
function engine.new_parts(opts)
  if scheduler.current().name == "ngx" then return require("koodrive.transfer.ngx_parts").new(opts) end
  return require("koodrive.curl").parts(opts)
end

-- A part URL's query (its signature) never goes into a message.
local function hide_query(text)
  return (tostring(text or ""):gsub("(https?://[^%s?\"']*)%?[^%s\"']*", "%1?<redacted>"))
end
engine.hide_query = hide_query

local RETRY_REASONS = { reset = true, timeout = true, transport = true, connect = true, recv = true, send = true }

-- What to do with a finished PUT: "stored", "refresh" (403), "retry" or "fail".
local function verdict(done)
  if done.error then
    return RETRY_REASONS[done.error.reason] and "retry" or "fail"
  end
  -- 200 is what the contract documents; other object stores answer 201 or 204 for a PUT.
  if done.status >= 200 and done.status < 300 then return "stored" end
  if done.status == 403 then return "refresh" end
  if done.status >= 500 then return "retry" end
  return "fail"
end

local function part_error(p, done, why)
  local detail = done.error and done.error.message or ("HTTP " .. tostring(done.status) ..
    (done.body and done.body ~= "" and (": " .. done.body:sub(1, 200)) or ""))
  return errors.new { kind = "transport", field = "part", part = p.partNumber, status = done.status,
    reason = done.error and done.error.reason or "status",
    message = "part " .. p.partNumber .. ": " .. why .. " (" .. hide_query(detail) .. ")" }
end

--- PUTs the parts not yet stored. spec = { file_id, src, parts, stored = { [n] = true }, urls =
-- { [n] = { uploadUrl } }, contexts, concurrent, concurrency, progress, call, on_stored(list) }.
-- Returns true, or nil and the error of the first part that could not be stored.
function engine.put_parts(files, spec)
  local plan = require "koodrive.transfer.plan"
  local e = engine.new_parts { concurrency = spec.concurrency }
  local by_number, attempts, refreshed, waiting = {}, {}, {}, {}
  local base_bytes, total = 0, spec.src.size
  local stored_list = {}
  for n in pairs(spec.stored) do stored_list[#stored_list + 1] = n end
  table.sort(stored_list)

  local function add(p)
    local url = spec.urls[p.partNumber] and spec.urls[p.partNumber].uploadUrl
    e:add { id = p.partNumber, method = "PUT", url = url, path = spec.src.path, data = spec.src.data,
      offset = p.partOffset, size = p.partSize }
    attempts[p.partNumber] = (attempts[p.partNumber] or 0) + 1
  end
  -- Fresh URLs for parts that have none (or whose URL was refused).
  local function fetch_urls(list)
    local r, err = files:upload_urls(spec.file_id, plan.multi_parts(list, spec.contexts, spec.concurrent), spec.call)
    if not r then return nil, err end
    for _, p in ipairs(list) do
      if not (r.parts[p.partNumber] and r.parts[p.partNumber].uploadUrl) then
        return nil, errors.new { kind = "decode", part = p.partNumber,
          message = "part " .. p.partNumber .. ": uploadUrl gave no URL for it" }
      end
      spec.urls[p.partNumber] = r.parts[p.partNumber]
    end
    return true
  end

  local missing = {}
  for _, p in ipairs(spec.parts) do
    by_number[p.partNumber] = p
    if spec.stored[p.partNumber] then
      base_bytes = base_bytes + p.partSize
    elseif not (spec.urls[p.partNumber] and spec.urls[p.partNumber].uploadUrl) then
      missing[#missing + 1] = p
    end
  end
  if #missing > 0 then
    local ok, err = fetch_urls(missing)
    if not ok then e:close(); return nil, err end
  end
  local resumed_bytes = base_bytes
  for _, p in ipairs(spec.parts) do
    if not spec.stored[p.partNumber] then add(p) end
  end

  local function finish(ok, err) e:close(); return ok, err end
  while e:pending() > 0 or next(waiting) do
    local now = retry.now()
    for n, at in pairs(waiting) do
      if now >= at then waiting[n] = nil; add(by_number[n]) end
    end
    local done = e:poll(cooperative() and 0 or POLL)
    for _, d in ipairs(done) do
      local p = by_number[d.id]
      local v = verdict(d)
      if v == "stored" and d.bytes ~= p.partSize then v = "retry" end
      if v == "stored" then
        spec.stored[d.id] = true
        base_bytes = base_bytes + p.partSize
        stored_list[#stored_list + 1] = d.id
        if spec.on_stored then
          local ok, jerr = spec.on_stored(stored_list)
          if not ok then return finish(nil, jerr) end
        end
      elseif v == "refresh" and not refreshed[d.id] then
        refreshed[d.id] = true
        local ok, uerr = fetch_urls { p }
        if not ok then return finish(nil, uerr) end
        add(p)
      elseif v == "retry" and attempts[d.id] < engine.MAX_ATTEMPTS then
        waiting[d.id] = retry.now() + math.min(8, 0.25 * 2 ^ (attempts[d.id] - 1))
      else
        return finish(nil, part_error(p, d, v == "refresh" and "refused again after a fresh URL"
          or (v == "retry" and "failed " .. attempts[d.id] .. " times") or "refused"))
      end
    end
    -- (bytes of a failed attempt count too, so the figure is capped at the total)
    if spec.progress then spec.progress(math.min(total, resumed_bytes + e:progress()), total) end
    if cooperative() then scheduler.sleep(#done == 0 and 0.002 or 0.001)
    elseif e:pending() == 0 and next(waiting) then scheduler.sleep(0.05) end
  end
  return finish(true)
end

return engine
