-- favorites:set_many: more than the 100 favorites a call takes are split, checked before the
-- first call, and every entry ends up done, failed or uncertain.
local cjson = require "cjson"
local koodrive = require "koodrive"

local C = "IAADspace"

-- A star/batch service: answers each call with every sent file done, except the calls whose
-- number is in `fail_calls` (answered 500 or reset).
local function client(fail_calls)
  local t = { bodies = {} }
  function t.send(_, req)
    local body = cjson.decode(req.body)
    t.bodies[#t.bodies + 1] = body
    local mode = fail_calls and fail_calls[#t.bodies]
    if mode == "refused" then return { status = 400, body = '{"code":13000102,"msg":"Verify parameters failed."}', headers = {} } end
    if mode == "reset" then return nil, { kind = "transport", reason = "reset", message = "connection reset" } end
    local subs = {}
    for i, e in ipairs(body.subRequestList) do subs[i] = { fileId = e.fileId, code = "0" } end
    return { status = 200, body = cjson.encode { status = 0, subResponseList = subs }, headers = {} }
  end
  local c = assert(koodrive.new { endpoint = "http://127.0.0.1:9", user_id = "1", token = "t", transport = t,
    retries = false })
  return c, t
end

local function entries(n)
  local out = {}
  for i = 1, n do out[i] = { containerId = C, fileId = "f" .. i } end
  return out
end

describe("favorites:set_many", function()
  it("splits 250 entries into calls of 100, 100 and 50", function()
    local c, t = client()
    local r = assert(c.favorites:set_many(entries(250), true))
    assert.are.equal(3, r.calls)
    assert.are.equal(250, #r.done)
    assert.are.same({ 100, 100, 50 }, { #t.bodies[1].subRequestList, #t.bodies[2].subRequestList, #t.bodies[3].subRequestList })
    assert.is_true(t.bodies[1].starred)
  end)

  it("accounts for every entry of a call that failed, as failed or uncertain", function()
    local c = client { [2] = "refused", [3] = "reset" }
    local r = assert(c.favorites:set_many(entries(250), false, { concurrency = 1 }))
    assert.are.equal(100, #r.done)
    assert.are.equal(100, #r.failed)
    assert.are.equal(50, #r.uncertain)
    assert.are.equal("f101", r.failed[1].fileId)
    assert.are.equal(13000102, r.failed[1].code)
    assert.are.equal("f201", r.uncertain[1].fileId)
  end)

  it("refuses a bad entry anywhere, naming its index, before the first call", function()
    local c, t = client()
    local list = entries(150)
    list[130] = { containerId = C }
    local r, err = c.favorites:set_many(list, true)
    assert.is_nil(r)
    assert.are.equal("validation", err.kind)
    assert.matches("^entries%[130%]", err.field)
    assert.are.equal(0, #t.bodies)
    r, err = c.favorites:set_many(entries(2), "yes")
    assert.is_nil(r)
    assert.are.equal("starred", err.field)
  end)
end)
