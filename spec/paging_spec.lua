-- koodrive.paging: the three end-of-list rules, and the pages/each/all companions the pipeline
-- gives every listing operation, over a scripted transport (answers in order, requests kept).
local cjson = require "cjson"
local paging = require "koodrive.paging"
local pipeline = require "koodrive.pipeline"
local validate = require "koodrive.validate"

-- A transport answering `bodies` in order (tables are JSON-encoded) and keeping each request.
local function scripted(bodies)
  local t = { requests = {} }
  function t.send(_, req)
    t.requests[#t.requests + 1] = req
    local b = table.remove(bodies, 1)
    if b == nil then return nil, { kind = "transport", reason = "connect", message = "script ended" } end
    if type(b) == "table" and b.status then return { status = b.status, body = b.body or "", headers = {} } end
    return { status = 200, body = type(b) == "string" and b or cjson.encode(b), headers = {} }
  end
  return t
end

-- The cursor sent in a request (query pageCursor), or nil.
local function sent_cursor(req)
  return req.url:match("[?&]pageCursor=([^&]*)")
end

-- A client class with one listing operation of each style (a test profile: the real families
-- are specified in their own specs).
local profile = { name = "pagingtest", services = { things = { {
  { name = "things.list", method = "GET", path = "/things", args = {}, paging = "cursor",
    query = function(_, opts) return { pageSize = opts.page_size or 3, pageCursor = opts.cursor } end,
    result = function(body, _, _, opts) return paging.cursor_page(body, body.items, body.nextCursor, opts, body.total) end },
  { name = "things.numbered", method = "GET", path = "/numbered", args = { { name = "kind", check = validate.path_segment } },
    paging = "offset",
    query = function(_, opts) return { offset = opts.cursor or 0, limit = opts.page_size or 2 } end,
    result = function(body, _, _, opts) return paging.offset_page(body, body.data, opts, opts.page_size or 2, body.total) end },
  { name = "things.marked", method = "GET", path = "/marked", args = {}, paging = "marker", page_max = 50,
    query = function(_, opts) return { limit = opts.page_size or 2, marker = opts.cursor } end,
    result = function(body, _, _, opts)
      local page = type(body.page) == "table" and body.page or {}
      return paging.marker_page(body, body.policies, opts, opts.page_size or 2, page.marker, page.count)
    end },
} } } }
function profile.headers() end
function profile.authorize() return {} end
function profile.envelope() return nil end
function profile.describe() return "test" end
local Class = pipeline.class(profile)

local function client(bodies)
  local t = scripted(bodies)
  local common = assert(pipeline.common_config({ endpoint = "http://127.0.0.1:9", transport = t, retries = false },
    require("koodrive.options").names("common")))
  return Class._create(common, {}, {}), t
end

describe("cursor listings", function()
  it("follow partial and empty pages until no cursor comes back", function()
    local c, t = client {
      { items = { 1 }, nextCursor = "a" }, '{"items":[],"nextCursor":"b"}',
      { items = { 2, 3 }, nextCursor = "" },
    }
    local all, more = c.things:all()
    assert.are.same({ 1, 2, 3 }, all)
    assert.is_false(more)
    assert.are.equal(3, #t.requests)
    assert.is_nil(sent_cursor(t.requests[1]))
    assert.are.equal("a", sent_cursor(t.requests[2]))
    assert.are.equal("b", sent_cursor(t.requests[3]))
  end)

  it("end on a null or absent cursor too", function()
    local c = client { { items = { 1 }, nextCursor = cjson.null } }
    assert.are.same({ 1 }, (c.things:all()))
    c = client { { items = { 1 } } }
    local page = assert(c.things:list())
    assert.is_nil(page.next)
    assert.are.same({ 1 }, page.items)
    assert.are.same({ items = { 1 } }, page.raw)
  end)

  it("refuse the cursor that was sent as the next one", function()
    local c = client { { items = { 1 }, nextCursor = "x" } }
    local page, err = c.things:list { cursor = "x" }
    assert.is_nil(page)
    assert.are.equal("decode", err.kind)
    assert.matches("would loop", err.message)
  end)

  it("stop with an error on a cursor seen two pages earlier, keeping what was collected", function()
    local c, t = client {
      { items = { 1 }, nextCursor = "a" }, { items = { 2 }, nextCursor = "b" },
      { items = { 3 }, nextCursor = "a" }, { items = { 4 } },
    }
    local all, err = c.things:all()
    assert.is_nil(all)
    assert.are.equal("repeated_cursor", err.rule)
    assert.are.same({ 1, 2 }, err.items)
    assert.are.equal(3, #t.requests)
  end)

  it("yield an error once in each(), then end", function()
    local c = client { { items = { 1, 2 }, nextCursor = "a" }, { status = 500, body = "{}" } }
    local seen, errs = {}, {}
    for item, err in c.things:each() do
      if item then seen[#seen + 1] = item else errs[#errs + 1] = err end
    end
    assert.are.same({ 1, 2 }, seen)
    assert.are.equal(1, #errs)
    assert.are.equal("http", errs[1].kind)
  end)

  it("give pages in a for loop and through pager:next()", function()
    local c = client { { items = { 1 }, nextCursor = "a" }, { items = { 2 } } }
    local sizes = {}
    for page in c.things:pages() do sizes[#sizes + 1] = #page.items end
    assert.are.same({ 1, 1 }, sizes)
    c = client { { items = { 1 }, nextCursor = "a" }, { items = { 2 } } }
    local p = c.things:pages()
    assert.are.equal("a", p:next().next)
    assert.is_nil(p:next().next)
    assert.is_nil(p:next())
  end)

  it("resume from a saved next", function()
    local c, t = client { { items = { 9 } } }
    assert.are.same({ 9 }, (c.things:all { cursor = "saved" }))
    assert.are.equal("saved", sent_cursor(t.requests[1]))
  end)

  it("stop at max_items and say more were left", function()
    local c, t = client { { items = { 1, 2, 3 }, nextCursor = "a" }, { items = { 4, 5, 6 }, nextCursor = "b" } }
    local all, more = c.things:all { max_items = 4 }
    assert.are.same({ 1, 2, 3, 4 }, all)
    assert.is_true(more)
    assert.are.equal(2, #t.requests)
  end)

  it("check page_size, cursor and max_items before sending", function()
    local c, t = client {}
    local _, err = c.things:list { page_size = 0 }
    assert.are.equal("page_size", err.field)
    _, err = c.things:list { page_size = 101 }
    assert.are.equal("range", err.rule)
    _, err = c.things:list { cursor = 5 }
    assert.are.equal("cursor", err.field)
    _, err = c.things:all { max_items = -1 }
    assert.are.equal("max_items", err.field)
    _, err = c.things:list { pageCursor = "x" }
    assert.are.equal("validation", err.kind)
    assert.are.equal(0, #t.requests)
  end)

  it("refuse a page whose items are no array, or whose cursor is no string", function()
    local c = client { { items = { a = 1 } } }
    local _, err = c.things:list()
    assert.are.equal("decode", err.kind)
    c = client { '{"items":[],"nextCursor":7}' }
    _, err = c.things:list()
    assert.are.equal("decode", err.kind)
  end)
end)

describe("offset listings", function()
  it("end on total", function()
    local c, t = client { { data = { 1, 2 }, total = 3 }, { data = { 3 }, total = 3 } }
    assert.are.same({ 1, 2, 3 }, (c.things:numbered_all("k")))
    assert.are.equal(2, #t.requests)
    assert.matches("offset=2", t.requests[2].url)
  end)

  it("end on a short page without total, an empty page included", function()
    local c, t = client { { data = { 1, 2 } }, '{"data":[]}' }
    assert.are.same({ 1, 2 }, (c.things:numbered_all("k")))
    assert.are.equal(2, #t.requests)
    c = client { { data = { 1 } } }
    local page = assert(c.things:numbered("k"))
    assert.is_nil(page.next)
  end)

  it("refuse a page longer than asked for", function()
    local c = client { { data = { 1, 2, 3 } } }
    local _, err = c.things:numbered("k")
    assert.are.equal("decode", err.kind)
  end)

  it("take a numeric continuation as the cursor", function()
    local c, t = client { { data = { 5 } } }
    assert.are.same({ 5 }, (c.things:numbered_all("k", { cursor = 4 })))
    assert.matches("offset=4", t.requests[1].url)
    local _, err = c.things:numbered("k", { cursor = "4" })
    assert.are.equal("cursor", err.field)
  end)
end)

describe("marker listings", function()
  it("end on a short page or no marker", function()
    local c, t = client {
      { policies = { 1, 2 }, page = { marker = "m1", count = 5 } },
      { policies = { 3, 4 }, page = { count = 5 } },
    }
    local all = c.things:marked_all()
    assert.are.same({ 1, 2, 3, 4 }, all)
    assert.are.equal(2, #t.requests)
    assert.matches("marker=m1", t.requests[2].url)
    c = client { { policies = { 1 }, page = { marker = "m1" } } }
    assert.is_nil(assert(c.things:marked()).next)
  end)

  it("take the operation's own largest page size", function()
    local c = client {}
    local _, err = c.things:marked { page_size = 51 }
    assert.are.equal("page_size", err.field)
  end)
end)
