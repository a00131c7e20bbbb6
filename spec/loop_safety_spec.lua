-- koodrive.loop never gives a wrong answer, never sends a call that already failed, passes
-- yields it did not make on to the host, and fails clearly instead of spinning or leaking.
-- Against the local service (its request log says what reached the network).
local koodrive = require "koodrive"
local json = require "koodrive.json"
local socket = require "socket"
local local_service = require "local_service"
local creds = require "local_credentials"
local faults = require "support.faults"
local sys = require "support.sys"
local timing = require "support.timing"

local unpack = table.unpack or unpack
local function pack(...) return { n = select("#", ...), ... } end

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)
before_each(function() server.control("/_local/reset") end)

local function client(extra)
  local config = { endpoint = server.url, user_id = creds.koodrive.user_id, token = "local-token-alice",
    timeout = 10, retries = false }
  for k, v in pairs(extra or {}) do config[k] = v end
  return assert(koodrive.new(config))
end

-- The requests the service saw since the last reset, as "METHOD path" strings.
local function seen()
  local out = {}
  for _, r in ipairs(faults.log(server).requests) do out[#out + 1] = r.method .. " " .. r.path end
  return out
end

local function count(list, method)
  local n = 0
  for _, line in ipairs(list) do if line:match("^" .. method .. " ") then n = n + 1 end end
  return n
end

describe("calls made where the task cannot wait", function()
  it("a bind in a table.sort comparator is refused and never sent; the next call gets its own answer", function()
    local c = client()
    local expected = #assert(c.devices:list())
    server.control("/_local/reset")
    local loop = koodrive.loop()
    local h = loop:spawn(function()
      local refused
      local t = { 3, 1, 2 }
      -- pcall: before the fix the comparator's yield raised, the error ended the sort, and
      -- the task went on with the bind still queued.
      pcall(table.sort, t, function(a, b)
        if refused == nil then
          local device, err = c.devices:bind { machineCode = "M_sort" }
          refused = err or device
        end
        return a < b
      end)
      local list, err = c.devices:list()
      return { refused = refused, list = list, err = err, sorted = t }
    end)
    loop:run()
    loop:close()
    local r = h.result
    assert.is_table(r.refused)
    assert.are.equal("transport", r.refused.kind)
    assert.are.equal("not_yieldable", r.refused.reason)
    assert.is_false(r.refused.retryable)
    assert.matches("nothing was sent", r.refused.message)
    assert.is_nil(r.err)
    assert.are.equal(expected, #r.list) -- a list of devices, not the bind's answer
    for _, d in ipairs(r.list) do assert.matches("^%d+$", d.deviceId) end
    assert.are.same({ 1, 2, 3 }, r.sorted)
    -- a bind never reached the server, now or on a later poll
    local log = seen()
    assert.are.equal(0, count(log, "POST"), table.concat(log, "\n"))
    assert.are.equal(1, count(log, "GET"))
  end)

  it("a call in a string.gsub callback is refused and never sent", function()
    local c = client()
    local loop = koodrive.loop()
    local h = loop:spawn(function()
      local errs = {}
      local out = ("ab"):gsub("%a", function(ch)
        local _, err = c.devices:unbind("1234567890123456789")
        errs[#errs + 1] = err
        return ch:upper()
      end)
      local list = c.devices:list()
      return out, errs, list
    end)
    loop:run()
    loop:close()
    local out, errs, list = unpack(h.values, 1, 3)
    assert.are.equal("AB", out)
    assert.are.equal(2, #errs)
    for _, e in ipairs(errs) do assert.are.equal("not_yieldable", e.reason) end
    assert.is_table(list)
    local log = seen()
    assert.are.equal(0, count(log, "DELETE"), table.concat(log, "\n"))
    assert.are.equal(1, count(log, "GET"))
  end)

  it("a call inside pcall waits (5.2+, LuaJIT) or is refused unsent (Lua 5.1): retrying outside is safe", function()
    local c = client()
    local loop = koodrive.loop()
    local h = loop:spawn(function()
      local ok, inside, err = pcall(c.devices.list, c.devices)
      assert(ok)
      local retried
      if not inside then retried = assert(c.devices:list()) end
      return inside, err, retried
    end)
    loop:run()
    loop:close()
    local inside, err, retried = unpack(h.values, 1, 3)
    local log = seen()
    if _VERSION == "Lua 5.1" and not jit then
      assert.is_nil(inside)
      assert.are.equal("not_yieldable", err.reason)
      assert.is_table(retried)
      assert.are.equal(1, count(log, "GET"), table.concat(log, "\n"))
    else
      assert.is_table(inside)
      assert.is_nil(err)
      assert.is_nil(retried)
      assert.are.equal(1, count(log, "GET"), table.concat(log, "\n"))
    end
  end)

  it("checks on delivery that an answer is for the request the task waits on", function()
    local c = client()
    local loop = koodrive.loop()
    local h = loop:spawn(function() return c.devices:list() end)
    assert.is_false(h.done)
    -- Someone else resumes the waiting task with a made-up answer: it must not be taken.
    local fake = { status = 200, headers = {}, body = '{"code":0,"msg":"ok","data":[]}' }
    local res = pack(coroutine.resume(h.co, -1, fake))
    assert.is_true(res[1])
    assert.is_nil(res[2])
    assert.are.equal("transport", res[3].kind)
    assert.are.equal("mismatch", res[3].reason)
    loop:close()
  end)
end)

-- An outer scheduler in the style of cqueues or HAProxy: a transport yields ("outer.http",
-- request) to it; it sends the request with a libcurl transport of its own and resumes the
-- coroutine with the answer.
local function outer_run(fn)
  local real = koodrive.transport.curl()
  local co = coroutine.create(fn)
  local yields = 0
  local res = pack(coroutine.resume(co))
  while coroutine.status(co) ~= "dead" do
    assert(res[1], res[2])
    assert(res[2] == "outer.http", "the outer scheduler got a yield it does not own: " .. tostring(res[2]))
    yields = yields + 1
    res = pack(coroutine.resume(co, real:send(res[3])))
  end
  real:close()
  if not res[1] then error(res[2], 0) end
  return yields, unpack(res, 2, res.n)
end

local yielding = { send = function(_, request) return coroutine.yield("outer.http", request) end }

describe("yields the loop did not make", function()
  it("koodrive.run passes a transport's yields to the outer scheduler and resumes with its answers", function()
    local c = client { transport = yielding }
    local yields, counts = outer_run(function()
      return koodrive.run(function()
        local hs = {}
        for i = 1, 3 do hs[i] = koodrive.spawn(function() return #assert(c.devices:list()) end) end
        koodrive.wait(unpack(hs))
        local device = assert(c.devices:bind { machineCode = "M_outer" })
        return { hs[1].result, hs[2].result, hs[3].result, device.deviceId }
      end)
    end)
    assert.are.equal(4, yields)
    assert.is_number(counts[1])
    assert.are.equal(counts[1], counts[3])
    assert.matches("^%d+$", counts[4])
    assert.are.equal(1, count(seen(), "POST"))
  end)

  it("koodrive.batch and the bulk helpers pass them on too", function()
    local c = client { transport = yielding }
    local yields, results, unbound = outer_run(function()
      local results = koodrive.batch({ 1, 2, 3, 4 }, function() return c.devices:list() end, { concurrency = 2 })
      local unbound = c.devices:unbind_many({ "1000000000000000001", "1000000000000000002" })
      return results, unbound
    end)
    assert.are.equal(6, yields)
    assert.are.equal(4, #results)
    for i = 1, 4 do assert.is_table(results[i][1], tostring(results[i][2])) end
    assert.are.equal(2, #unbound.done + #unbound.failed)
    for _, f in ipairs(unbound.failed) do assert.are_not.equal("not_yieldable", f.error.reason) end
    assert.are.equal(2, count(seen(), "DELETE"))
  end)

  it("says what happened when the loop is polled where the yield cannot go on", function()
    local c = client { transport = yielding }
    local loop = koodrive.loop()
    local ok, err = pcall(loop.spawn, loop, function() return c.devices:list() end)
    loop:close()
    assert.is_false(ok)
    assert.matches("yielded a value the loop does not own", err)
    assert.matches("run the loop inside that scheduler", err)
  end)
end)

describe("deadlock and misuse", function()
  it("tasks that only wait for each other end with a deadlock error instead of spinning", function()
    local loop = koodrive.loop()
    local hs = {}
    hs.a = loop:spawn(function() loop:sleep(0.01); loop:wait_all { hs.b } end)
    hs.b = loop:spawn(function() loop:wait_all { hs.a } end)
    local raised
    local t0 = socket.gettime()
    for _ = 1, 200 do
      local ok, err = pcall(loop.poll, loop, 0.05)
      if not ok then raised = err break end
      if socket.gettime() - t0 > timing.limit(5) then break end
    end
    assert.is_string(raised, "poll never reported the deadlock")
    assert.matches("deadlock", raised)
    assert.matches("task #1 %(.-loop_safety_spec.lua:%d+%) waits for task #2", raised)
    assert.matches("task #2 %(.-%) waits for task #1", raised)
    assert.are.equal(0, loop:pending())
    assert.are.equal(raised, hs.a.error)
    loop:close()
    -- koodrive.run: a task waiting for itself
    local ok, err = pcall(koodrive.run, function()
      local box = {}
      box.h = koodrive.spawn(function()
        require("koodrive.loop").current():sleep(0.01) -- box.h is set by now
        koodrive.wait(box.h)
      end)
      koodrive.wait(box.h)
    end)
    assert.is_false(ok)
    assert.matches("deadlock", err)
  end)

  it("waiting on a handle of another loop is a clear error", function()
    local other = koodrive.loop()
    local foreign = other:spawn(function() other:sleep(0.05) end)
    local loop = koodrive.loop()
    local ok, err = pcall(loop.spawn, loop, function() koodrive.wait(foreign) end)
    assert.is_false(ok)
    assert.matches("argument 1 is not a handle of this loop %(it belongs to another koodrive.loop%)", err)
    other:run() -- the other loop's task ends without touching this loop
    assert.is_true(foreign.done)
    assert.is_nil(foreign.error)
    loop:close()
    other:close()
  end)

  it("calls of a closed client are refused and never sent, also when already queued", function()
    local c = client()
    local loop = koodrive.loop()
    local queued = loop:spawn(function() return c.devices:list() end) -- queued, not yet sent
    c:close()
    local later = loop:spawn(function() return c.devices:list() end)
    loop:run()
    loop:close()
    for _, h in ipairs { queued, later } do
      assert.is_nil(h.result)
      assert.are.equal("config", h.err.kind)
      assert.are.equal("closed", h.err.rule)
      assert.is_false(h.err.retryable)
    end
    local _, err = c.devices:list() -- outside a loop too
    assert.are.equal("closed", err.rule)
    assert.are.equal(0, faults.count(server))
  end)

  it("checks max_connections and passes it on", function()
    assert.has_error(function() koodrive.loop { max_connections = 0 } end)
    assert.has_error(function() koodrive.loop { max_connections = 1025 } end)
    assert.has_error(function() koodrive.loop { max_connections = 2.5 } end)
    local c = client()
    local loop = koodrive.loop { max_connections = 2 }
    local hs = {}
    for i = 1, 4 do hs[i] = loop:spawn(function() return c.devices:list() end) end
    loop:run()
    loop:close()
    for i = 1, 4 do assert.is_table(hs[i].result) end
  end)
end)

-- Sockets this process has open, from /proc/<pid>/fd.
local function open_sockets()
  local stat = assert(sys.read("/proc/self/stat"))
  local pid = stat:match("^(%d+)")
  local n = 0
  for line in sys.capture("ls -l /proc/" .. pid .. "/fd 2>/dev/null"):gmatch("[^\n]+") do
    if line:find("socket:", 1, true) then n = n + 1 end
  end
  return n
end

describe("resources", function()
  it("a dropped loop with calls in flight is collected and its connections closed (" .. _VERSION .. ")", function()
    assert.are.equal(200, server.control("/_local/delay?ms=3000"))
    local c = client()
    collectgarbage()
    local before = open_sockets()
    local loop = koodrive.loop()
    for _ = 1, 10 do loop:spawn(function() return c.devices:list() end) end
    for _ = 1, 10 do loop:poll(0.02) end
    local during = open_sockets()
    assert.is_true(during >= before + 10, string.format("%d sockets before, %d with 10 calls in flight", before, during))
    local weak = setmetatable({ loop }, { __mode = "v" })
    loop = nil -- luacheck: ignore (dropped on purpose)
    for _ = 1, 4 do collectgarbage() end
    assert.is_nil(weak[1], "the loop was not collected")
    local after = open_sockets()
    assert.is_true(after <= before, string.format("%d sockets before, %d after the loop was dropped", before, after))
    c:close()
  end)
end)

describe("decoding is untouched", function()
  it("a plain loop call still returns the service's list", function()
    local c = client()
    local loop = koodrive.loop()
    local h = loop:spawn(function() return c.devices:list() end)
    loop:run()
    loop:close()
    local body = server.get("/_local/requests")
    assert.is_table(json.decode(body))
    assert.is_table(h.result)
  end)
end)
