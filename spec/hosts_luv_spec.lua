-- koodrive.hosts.luv: a koodrive.loop driven by a libuv loop (Debian's lua-luv), woken only by
-- libcurl's sockets (loop:fd() under uv.new_poll) and its due times (loop:timeout() under one
-- uv timer), against the local service with its answers delayed. What is counted is how often
-- the host was woken, so that a fixed-rate timer (or a busy loop) would show.
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"

-- luv is loaded once, when this file runs: busted's insulation drops it from package.loaded
-- after each file, so a second require (in another file of the same process) opens the module
-- again, and the first module's collection then closes the libuv loop the second one uses -
-- which crashed in uv_poll_init. No other spec loads luv in busted's process.
local ok_uv, uv = false, nil
-- Its wake-up counts and wall-time windows mean nothing many times slower (ASan, valgrind).
local skip_why = require("support.timing").slow and "not under ASan/valgrind (make test runs it)" or nil

local server, c
local DELAY_MS = 1000

setup(function()
  if skip_why then return end
  ok_uv, uv = pcall(require, "luv")
  if not ok_uv then return end
  server = local_service.start()
  c = assert(koodrive.new { endpoint = server.url, user_id = creds.koodrive.user_id, token = "local-token-alice",
    timeout = 10, connect_timeout = 5 })
end)
teardown(function() if server then server.stop() end end)
before_each(function() if server then server.control("/_local/delay?ms=" .. DELAY_MS) end end)
after_each(function() if server then server.control("/_local/reset") end end)

local function host_for_test(opts)
  local host = require("koodrive.hosts.luv")(uv, opts)
  return host, function() host.close(); uv.run() end
end

describe("koodrive.hosts.luv", function()
  it("runs 20 calls at once on the uv loop, woken by socket events, and leaves no watcher behind", function()
    if skip_why then return pending(skip_why) end
    if not ok_uv then return pending("lua-luv is not installed") end
    local host, close = host_for_test()
    local done, results = 0, {}
    for i = 1, 20 do
      host.spawn(function()
        local list, err = c.devices:list()
        results[i] = list and #list or tostring(err)
        done = done + 1
      end)
    end
    -- The host's own timer keeps running meanwhile: the uv loop is never held.
    local ticks = 0
    local tick = uv.new_timer()
    tick:start(20, 20, function()
      ticks = ticks + 1
      if done == 20 then tick:stop(); tick:close() end
    end)
    -- While the service holds every answer (from ~0.1 s to 1 s) only libcurl's own timers
    -- (its once-a-second speed checks of each transfer) may wake the host: a few, not the ~60
    -- a 100 Hz poll would make.
    local marks = {}
    for _, at in ipairs { 250, 850 } do
      local t = uv.new_timer()
      t:start(at, 0, function() marks[#marks + 1] = host.wakes; t:close() end)
    end
    local t0 = uv.hrtime()
    uv.run() -- returns by itself: once the tasks end, the host stops its watchers
    local elapsed = (uv.hrtime() - t0) / 1e9
    assert.are.equal(20, done)
    for i = 1, 20 do assert.is_number(results[i], tostring(results[i])) end
    -- Each call needs a few socket events (connect, request, answer); a fixed-rate poll at even
    -- 100 Hz would have woken the host ~100 times while the service held its answers.
    assert.is_true(host.wakes <= 2 * 20, "woken " .. host.wakes .. " times")
    -- (a window of wall time: meaningless when a checker slows everything down)
    if not require("support.timing").slow then
      assert.is_true(marks[2] - marks[1] <= 10, (marks[2] - marks[1]) .. " wakes while every answer was held")
      assert.is_true(ticks >= math.floor(elapsed / 0.02) - 3, "the host's timer ran " .. ticks .. " times")
    end
    assert.is_false(uv.loop_alive())
    close()
  end)

  it("reads sequentially inside a task, sleeps on the loop's timers, and hands a task's error over", function()
    if skip_why then return pending(skip_why) end
    if not ok_uv then return pending("lua-luv is not installed") end
    local seen = {}
    local host, close = host_for_test { on_error = function(err) seen[#seen + 1] = tostring(err) end }
    local order = {}
    host.spawn(function()
      order[#order + 1] = "first " .. tostring(#assert(c.devices:list()))
      require("koodrive.scheduler").sleep(0.2)
      order[#order + 1] = "slept"
      order[#order + 1] = "second " .. tostring(#assert(c.devices:list()))
    end)
    host.spawn(function()
      assert(c.devices:list())
      error("task failed on purpose", 0)
    end)
    uv.run()
    assert.are.same({ "first 0", "slept", "second 0" }, (function()
      local out = {}
      for i, v in ipairs(order) do out[i] = v:gsub("%d+$", "0") end
      return out
    end)())
    assert.are.equal(1, #seen)
    assert.truthy(seen[1]:find("task failed on purpose", 1, true), seen[1])
    -- the sleep was a timer wake, not a stream of polls: two calls, one sleep, one error
    assert.is_true(host.wakes <= 20, "woken " .. host.wakes .. " times")
    close()
  end)

  it("refuses what is not luv", function()
    assert.has_error(function() require("koodrive.hosts.luv")({}) end)
  end)
end)
