--- The PUTs of an upload's parts (koodrive-transfer-api.md §4) on engine.drive: every part
-- not yet stored goes to its presigned URL until the store has it. A refused URL (403:
-- expired, or a signature the store no longer takes) brings fresh URLs for every part still
-- to send, in one files/multipart/uploadUrl call, since parts handed out together expire
-- together; a part still holding an older URL is simply sent again with its fresh one. A
-- fresh URL refused again before any part was stored ends the upload.
local errors = require "koodrive.errors"
local engine = require "koodrive.transfer.engine"
local plan = require "koodrive.transfer.plan"

local put_parts = {}

--- spec = { file_id, src, parts, stored = { [n] = true }, urls = { [n] = uploadUrl },
-- contexts, concurrent, concurrency, progress, call, on_stored(list) }. Returns true, or nil
-- and the error of the first part that could not be stored (err.part says which).
function put_parts.run(files, spec)
  local by_number, todo, stored_list = {}, {}, {}
  local generation, refreshes, stored_since_refresh = 1, 0, false
  -- url_of is spec.urls itself: one URL string per part (fresh ones replace older ones).
  local url_of, generation_of = spec.urls, {}
  local base_bytes = 0
  for n in pairs(spec.stored) do stored_list[#stored_list + 1] = n end
  table.sort(stored_list)

  local function take(list)
    for _, p in ipairs(list) do generation_of[p.partNumber] = generation end
  end
  -- Fresh URLs for `list` (parts that came without one, or every part left after a 403).
  local function fetch_urls(list)
    local r, err = files:upload_urls(spec.file_id, plan.multi_parts(list, spec.contexts, spec.concurrent), spec.call)
    if not r then return nil, err end
    for _, p in ipairs(list) do
      local u = r.parts[p.partNumber]
      if not (u and type(u.uploadUrl) == "string" and u.uploadUrl ~= "") then
        return nil, errors.new { kind = "decode", part = p.partNumber,
          message = "part " .. p.partNumber .. ": uploadUrl gave no URL for it" }
      end
    end
    for _, p in ipairs(list) do url_of[p.partNumber] = r.parts[p.partNumber].uploadUrl end
    take(list)
    return true
  end
  local function left()
    local list = {}
    for _, p in ipairs(spec.parts) do if not spec.stored[p.partNumber] then list[#list + 1] = p end end
    return list
  end

  local missing = {}
  for _, p in ipairs(spec.parts) do
    by_number[p.partNumber] = p
    if spec.stored[p.partNumber] then
      base_bytes = base_bytes + p.partSize
    else
      todo[#todo + 1] = p.partNumber
      local u = url_of[p.partNumber]
      if type(u) == "string" and u ~= "" then take { p } else missing[#missing + 1] = p end
    end
  end
  if #missing > 0 then
    local ok, err = fetch_urls(missing)
    if not ok then return nil, err end
  end
  local resumed_bytes, total = base_bytes, spec.src.size
  local used = {} -- the generation of the URL each part's current attempt was sent with

  local function part_error(p, d, why)
    return engine.item_error({ what = "part " .. p.partNumber, field = "part", part = p.partNumber },
      d, why, url_of[p.partNumber])
  end

  return engine.drive {
    concurrency = spec.concurrency,
    ids = todo,
    add = function(e, n)
      local p = by_number[n]
      used[n] = generation_of[n]
      e:add { id = n, method = "PUT", url = url_of[n], path = spec.src.path, data = spec.src.data,
        offset = p.partOffset, size = p.partSize }
    end,
    settle = function(d)
      local p = by_number[d.id]
      local outcome = engine.outcome(d, p.partSize)
      if outcome == "ok" then
        spec.stored[d.id] = true
        stored_since_refresh = true
        stored_list[#stored_list + 1] = d.id
        if spec.on_stored then
          local ok, jerr = spec.on_stored(stored_list)
          if not ok then return nil, jerr end
        end
        return "done"
      elseif outcome == "refused" then
        if used[d.id] < generation then return "again" end -- sent before the URLs were renewed
        if refreshes > 0 and not stored_since_refresh then
          return nil, part_error(p, d, "refused again after a fresh URL")
        end
        refreshes, stored_since_refresh, generation = refreshes + 1, false, generation + 1
        local ok, uerr = fetch_urls(left())
        if not ok then return nil, uerr end
        return "again"
      elseif outcome == "retry" then
        return "retry"
      end
      return nil, part_error(p, d, "refused")
    end,
    exhausted = function(d, attempts)
      return part_error(by_number[d.id], d, "failed " .. attempts .. " times")
    end,
    -- (bytes of a failed attempt count too, so the figure is capped at the total)
    progress = spec.progress and function(e)
      spec.progress(math.min(total, resumed_bytes + e:progress()), total)
    end,
  }
end

return put_parts
