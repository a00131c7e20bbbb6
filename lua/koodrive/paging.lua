--- One paging design over the services' three styles (koodrive-files-api.md §7, iotda-api.md).
-- A listing operation returns one page:
--   { items = {...}, next = <continuation, nil at the end>, total = <when given>, raw = body }
-- built here by the style's end-of-list rule, and gets three companions built on it:
-- pages (a pager), each (an item iterator) and all (a list). A continuation is opaque: pass a
-- page's `next` back as the `cursor` option to resume.
--
-- The companions only call the operation: in a koodrive.loop task or an OpenResty handler
-- each call waits through the scheduler as any call does. Lua 5.1 cannot yield from inside a
-- `for` iterator: there, inside a loop task, use `pager:next()` or `all()` (plain calls).
-- @module koodrive.paging
local errors = require "koodrive.errors"
local json = require "koodrive.json"

local paging = {}

local null = json.null

local function absent(v) return v == nil or v == null or v == "" end

-- A total the service gave: nil when absent or null, a whole non-negative number, or false
-- (not a count).
local function count_of(v)
  if v == nil or v == null then return nil end
  v = tonumber(v)
  if not v or v < 0 or v % 1 ~= 0 then return false end
  return v
end

--- A cursor page: the list ends ONLY when no next cursor comes back (absent, null or "");
-- partial and empty pages before the end are normal. A cursor equal to the one sent is an
-- error (the listing would loop), as is a cursor that is no string.
-- Returns the page, or nil and a message (a decode error of the call).
function paging.cursor_page(body, items, next_cursor, opts, total)
  if not json.is_array(items) then return nil, "the page's items are not an array" end
  local nxt
  if not absent(next_cursor) then
    if type(next_cursor) ~= "string" then return nil, "the next cursor is not a string" end
    if opts and opts.cursor == next_cursor then
      return nil, "the service returned the cursor it was sent (the listing would loop)"
    end
    nxt = next_cursor
  end
  total = count_of(total)
  if total == false then return nil, "'total' is not a count" end
  return { items = items, next = nxt, total = total, raw = body }
end

--- An offset page (`offset` = opts.cursor or 0, `limit` the page size asked for): with a
-- total the list ends when offset + received >= total, else at the first page shorter than
-- limit (an empty page included).
function paging.offset_page(body, items, opts, limit, total)
  if not json.is_array(items) then return nil, "the page's items are not an array" end
  local offset = opts and opts.cursor or 0
  local received = #items
  total = count_of(total)
  if total == false then return nil, "'total' is not a count" end
  if received > limit then return nil, "the page holds more items than were asked for" end
  local nxt = offset + received
  local done
  if total then
    done = nxt >= total or received == 0
  else
    done = received < limit
  end
  return { items = items, next = not done and nxt or nil, total = total, raw = body }
end

--- An IoTDA marker page: ends on a page shorter than `limit` or without a marker.
function paging.marker_page(body, items, opts, limit, marker, count)
  if not json.is_array(items) then return nil, "the page's items are not an array" end
  if #items > limit then return nil, "the page holds more items than were asked for" end
  local nxt
  if #items >= limit and not absent(marker) then
    if type(marker) ~= "string" then return nil, "'page.marker' is not a string" end
    if opts and opts.cursor == marker then
      return nil, "the service returned the marker it was sent (the listing would loop)"
    end
    nxt = marker
  end
  count = count_of(count)
  if count == false then return nil, "'page.count' is not a count" end
  return { items = items, next = nxt, total = count, raw = body }
end

--------------------------------------------------------------------------------------------
-- Companions
--------------------------------------------------------------------------------------------

local Pager = {}
Pager.__index = Pager
Pager.__name = "koodrive.pager"

--- The next page, or nil at the end, or nil and an error (after which the pager is done).
-- A continuation the listing already returned once is an error: a cycle longer than one page
-- would otherwise loop for ever.
function Pager:next()
  if self.done then return nil end
  local page, err = self.fetch(self.cursor)
  if not page then
    self.done = true
    return nil, err
  end
  self.pages = self.pages + 1
  local nxt = page.next
  if nxt == nil then
    self.done = true
  elseif self.seen[nxt] then
    self.done = true
    return nil, errors.new { kind = "decode", rule = "repeated_cursor", operation = self.operation,
      message = "the service returned a continuation it had already returned (page " ..
        self.pages .. "): the listing would loop" }
  else
    self.seen[nxt] = true
    self.cursor = nxt
  end
  return page
end

-- `for page, err in pager do`: an error arrives once as (false, err), then the loop ends.
function Pager:__call()
  if self.failed then return nil end
  local page, err = self:next()
  if page == nil and err then
    self.failed = true
    return false, err
  end
  return page
end

--- A pager over `fetch(cursor) -> page | nil, err`, starting at `cursor` (nil: the first page).
function paging.pager(fetch, cursor, operation)
  local seen = {}
  if cursor ~= nil then seen[cursor] = true end
  return setmetatable({ fetch = fetch, cursor = cursor, seen = seen, pages = 0, done = false,
    operation = operation }, Pager)
end

--- An item iterator over a pager: `for item, err in ...`; an error is yielded once as
-- (false, err), then the iteration ends.
function paging.each(pager)
  local page, i, failed = nil, 0, false
  return function()
    while true do
      if failed then return nil end
      if page and i < #page.items then
        i = i + 1
        return page.items[i]
      end
      local err
      page, err = pager:next()
      i = 0
      if not page then
        if err then failed = true; return false, err end
        return nil
      end
    end
  end
end

--- Every item of a pager, at most `max_items`: the list and whether more were left (true
-- when max_items stopped it early); or nil and the error, with `err.items` what was collected.
function paging.all(pager, max_items)
  local out = {}
  while true do
    if max_items and #out >= max_items then return out, not pager.done end
    local page, err = pager:next()
    if not page then
      if err then err.items = out; return nil, err end
      return out, false
    end
    for _, item in ipairs(page.items) do
      if max_items and #out >= max_items then return out, true end
      out[#out + 1] = item
    end
  end
end

local unpack = table.unpack or unpack -- luacheck: ignore 143

--- Adds the companions of a listing method `m` to a service object: S:pages, S:each and S:all
-- for `list`, S:m_pages, S:m_each and S:m_all for any other. They take the listing's `nargs`
-- positional arguments, then its options: the last table's `cursor` is where they start,
-- `max_items` bounds all(). `call(...)` runs the listing once (the pipeline's operation).
function paging.companions(obj, method, nargs, name, call)
  local function pager(...)
    local argc, argv = select("#", ...), { ... }
    local opts = argv[nargs + 1]
    local given = type(opts) == "table"
    local fetch = function(cursor)
      if given then
        local o = {}
        for k, v in pairs(opts) do o[k] = v end
        o.cursor, o.max_items = cursor, nil
        argv[nargs + 1] = o
      elseif cursor ~= nil then
        argv[nargs + 1] = { cursor = cursor }
      end
      return call(unpack(argv, 1, math.max(argc, nargs + 1)))
    end
    return paging.pager(fetch, given and opts.cursor or nil, name), given and opts.max_items or nil
  end
  local prefix = method == "list" and "" or (method .. "_")
  obj[prefix .. "pages"] = function(_, ...) return (pager(...)) end
  obj[prefix .. "each"] = function(_, ...) return paging.each((pager(...))) end
  obj[prefix .. "all"] = function(_, ...)
    local p, max_items = pager(...)
    if max_items ~= nil and (type(max_items) ~= "number" or max_items < 0 or max_items % 1 ~= 0) then
      return nil, errors.validation("max_items", "type", "must be a whole number")
    end
    return paging.all(p, max_items)
  end
end

return paging
