-- koodrive_local.lpaging: cursor paging of every cursor listing (files,
-- search, favorites, shares, user groups, backup files), with the test modes
-- of POST /_local/paging?mode=...:
--
--   normal          pages of the size asked; the last one has no cursor
--   partial         every page holds fewer items than asked (half, at least 1)
--                   and still carries a cursor until the end
--   empty_first     the first N pages (&pages=N, default 2) are empty, with a cursor
--   repeat_cursor   a page asked with a cursor answers that same cursor again
--
-- Cursors are opaque strings to clients: "CUR<offset>" or "EMP<k>". The start
-- is an absent cursor, "" or "0" (GET share documents 0 as the default).

local M = {}

M.MODES = { normal = true, partial = true, empty_first = true, repeat_cursor = true }

--- The paging settings of a fresh state.
function M.default() return { mode = "normal", empty_pages = 2 } end

--- slice(st, items, cursor, size) -> page (a list), next cursor ("" at the end);
-- or nil when the cursor is not one this service made (a parameter error).
function M.slice(st, items, cursor, size)
  local cfg = st.paging
  local offset, empties
  if cursor == nil or cursor == "" or cursor == "0" then
    offset, empties = 0, 0
  else
    local n = cursor:match("^CUR(%d+)$")
    local k = cursor:match("^EMP(%d+)$")
    if n and #n <= 9 then offset = tonumber(n)
    elseif k and #k <= 4 then offset, empties = 0, tonumber(k)
    else return nil end
  end
  if cfg.mode == "empty_first" and empties and empties < cfg.empty_pages then
    return {}, "EMP" .. (empties + 1)
  end
  local take = size
  if cfg.mode == "partial" and size > 1 then take = math.max(1, math.floor(size / 2)) end
  local page = {}
  for i = offset + 1, math.min(offset + take, #items) do page[#page + 1] = items[i] end
  local next_cursor = ""
  if offset + #page < #items then next_cursor = "CUR" .. (offset + #page) end
  if cfg.mode == "repeat_cursor" and cursor ~= nil and cursor ~= "" and cursor ~= "0" then
    next_cursor = cursor
  end
  return page, next_cursor
end

--- offset(items, offset, limit) -> the page of an offset/limit listing.
function M.offset(items, offset, limit)
  local page = {}
  for i = offset + 1, math.min(offset + limit, #items) do page[#page + 1] = items[i] end
  return page
end

return M
