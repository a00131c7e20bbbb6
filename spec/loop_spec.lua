-- The non-blocking interface: many calls in flight on libcurl's multi handle, driven by poll.
local koodrive = require "koodrive"
local socket = require "socket"
local local_service = require "local_service"
local creds = require "local_credentials"
local fixtures = require "support.fixtures"
local timing = require "support.timing"

local server

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)
after_each(function() server.control("/_local/reset") end)

local function client(extra)
  local config = { endpoint = server.url, user_id = creds.koodrive.user_id, token = "local-token-alice",
    timeout = 10 }
  for k, v in pairs(extra or {}) do config[k] = v end
  return assert(koodrive.new(config))
end

describe("koodrive.loop", function()
  it("runs 50 concurrent calls from a loop in which no step blocks (each answer takes 300 ms)", function()
    assert.are.equal(200, server.control("/_local/delay?ms=300"))
    local c = client()
    local loop = koodrive.loop()
    local handles, callbacks = {}, 0
    -- What is measured is koodrive's step, not the garbage earlier specs left to collect.
    collectgarbage()
    local started = socket.gettime()
    for i = 1, 50 do
      handles[i] = loop:spawn(function() return c.devices:list() end,
        function(devices) if devices then callbacks = callbacks + 1 end end)
    end
    local spawn_time = socket.gettime() - started
    local worst, steps = 0, 0
    while loop:pending() > 0 do
      local t0 = socket.gettime()
      loop:poll(0)
      local dt = socket.gettime() - t0
      if dt > worst then worst = dt end
      steps = steps + 1
      assert.is_true(socket.gettime() - started < timing.limit(10), "the loop did not finish in time")
      socket.sleep(0.001) -- the host's frame
    end
    local elapsed = socket.gettime() - started
    loop:close()
    for i = 1, 50 do
      assert.is_true(handles[i].done)
      assert.is_nil(handles[i].err)
      assert.is_table(handles[i].result)
    end
    assert.are.equal(50, callbacks)
    print(string.format("  [loop] 50 calls: slowest poll step %.2f ms, %d steps, %.2f s", worst * 1000, steps, elapsed))
    -- A step that waited for an answer would take 300 ms. 50 ms leaves room for a loaded
    -- machine's scheduling; how short the steps are is measured by make bench, not here.
    assert.is_true(worst < timing.limit(0.05), string.format("a poll step took %.1f ms", worst * 1000))
    assert.is_true(spawn_time < timing.limit(0.25), string.format("spawning 50 calls took %.1f ms", spawn_time * 1000))
    -- 50 answers each delayed 300 ms: sequential would take 15 s
    assert.is_true(elapsed < timing.limit(3), string.format("50 calls took %.2f s", elapsed))
    assert.is_true(steps > 10)
  end)

  it("never waits longer than asked in poll", function()
    assert.are.equal(200, server.control("/_local/delay?ms=1000"))
    local c = client()
    local loop = koodrive.loop()
    local h = loop:spawn(function() return c.devices:list() end)
    local t0 = socket.gettime()
    loop:poll(0.05)
    local waited = socket.gettime() - t0
    assert.is_false(h.done)
    assert.is_true(waited < timing.limit(0.3), string.format("poll(0.05) took %.3f s", waited))
    loop:run()
    assert.is_true(h.done)
    assert.is_table(h.result)
    loop:close()
  end)

  it("spends at most its budget resuming tasks, leaving the rest for the next poll", function()
    local c = client()
    local loop = koodrive.loop()
    for _ = 1, 5 do loop:spawn(function() return c.devices:list() end) end
    local polls = 0
    while loop:pending() > 0 and polls < 500 do
      local before = loop:pending()
      loop:poll(0.2, 0) -- a zero budget: one task per poll
      assert.is_true(before - loop:pending() <= 1, "a zero-budget poll resumed more than one task")
      polls = polls + 1
    end
    assert.are.equal(0, loop:pending())
    assert.is_true(polls >= 5)
    loop:close()
  end)

  it("raises an error from a callback to the caller of poll, and keeps the other tasks going", function()
    local c = client()
    local loop = koodrive.loop()
    local bad = loop:spawn(function() return c.devices:list() end, function() error("callback exploded") end)
    local good = loop:spawn(function() return c.devices:list() end)
    local raised
    while loop:pending() > 0 do
      local ok, err = pcall(loop.poll, loop, 0.05)
      if not ok then raised = err end
    end
    assert.matches("callback exploded", tostring(raised))
    assert.matches("callback exploded", tostring(bad.error))
    assert.is_true(good.done)
    assert.is_table(good.result)
    loop:close()
  end)

  it("raises an error from a task with its traceback", function()
    local c = client()
    local loop = koodrive.loop()
    local ok, err = pcall(function()
      loop:spawn(function()
        assert(c.devices:list())
        error("task exploded")
      end)
      loop:run()
    end)
    assert.is_false(ok)
    assert.matches("task exploded", err)
    assert.matches("traceback", err)
    loop:close()
  end)

  it("reports a refused connection as a transport error inside a task", function()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    local c = client { endpoint = "http://127.0.0.1:" .. port }
    local loop = koodrive.loop()
    local h = loop:spawn(function() return c.devices:list() end)
    loop:run()
    assert.is_nil(h.result)
    assert.are.equal("transport", h.err.kind)
    assert.are.equal("connect", h.err.reason)
    assert.are.equal("devices.list", h.err.operation)
    loop:close()
  end)

  it("runs calls through other transports where they are", function()
    local c = fixtures.client("devices-list", "two devices bound")
    local loop = koodrive.loop()
    local h = loop:spawn(function() return c.devices:list() end)
    assert.is_true(h.done)
    assert.are.equal(2, #h.result)
    loop:close()
  end)
end)

describe("koodrive.run", function()
  it("reads sequentially and returns the function's results", function()
    local c = client()
    local n, id = koodrive.run(function()
      local device = assert(c.devices:bind { machineCode = "run_seq" })
      local devices = assert(c.devices:list())
      assert(c.devices:unbind(device.deviceId))
      return #devices, device.deviceId
    end)
    assert.is_true(n >= 1)
    assert.matches("^%d+$", id)
  end)

  it("runs spawned tasks concurrently", function()
    assert.are.equal(200, server.control("/_local/delay?ms=500"))
    local c = client()
    local t0 = socket.gettime()
    local counts = koodrive.run(function()
      local hs = {}
      for i = 1, 4 do hs[i] = koodrive.spawn(function() return #assert(c.devices:list()) end) end
      koodrive.wait((table.unpack or unpack)(hs))
      local out = {}
      for i = 1, 4 do out[i] = hs[i].result end
      return out
    end)
    local elapsed = socket.gettime() - t0
    assert.are.equal(4, #counts)
    assert.is_true(elapsed < timing.limit(1.5), string.format("4 calls of 500 ms took %.2f s", elapsed))
  end)

  it("raises the function's error to the caller", function()
    assert.has_error(function() koodrive.run(function() error("boom") end) end)
  end)
end)
