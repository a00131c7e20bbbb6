--- koodrive.hosts.cqueues(cqueues [, opts]): a koodrive.loop driven from a cqueues controller
-- (Debian's lua-cqueues; lua-http's servers run on one), with no fixed-rate timer. A driver
-- coroutine on the controller waits on the loop as a cqueues pollable (pollfd = loop:fd(),
-- events "r", timeout = loop:timeout()) and polls it when it wakes; it ends when no task is
-- left and starts again with the next one, so an idle controller holds nothing of koodrive.
--
--   local host = require("koodrive.hosts.cqueues")(require "cqueues", { cq = server.cq })
--   -- in any coroutine of that controller (a lua-http handler, say):
--   local devices, err = host.run(function() return client.devices:list() end)
--
-- host.run(fn, ...) runs fn as a task of the loop and waits for it by yielding to cqueues
-- (a condition variable), so the calling coroutine reads sequentially while the controller
-- goes on serving others; outside a cqueues coroutine it drives the controller itself until
-- fn is done. host.spawn(fn, ...) starts a task without waiting. Sleeps and retry backoff are
-- the loop's timers, which its timeout() hands to cqueues.
local koodrive_loop = require "koodrive.loop"

local unpack = table.unpack or unpack -- luacheck: ignore 143

local function new(cqueues, opts)
  assert(type(cqueues) == "table" and type(cqueues.new) == "function" and type(cqueues.poll) == "function",
    "koodrive.hosts.cqueues: pass the cqueues module")
  opts = opts or {}
  local condition = require "cqueues.condition"
  local l = opts.loop or koodrive_loop.new(opts)
  local fd, why = l:fd()
  if not fd then error("koodrive.hosts.cqueues: the loop has no descriptor to watch (" .. tostring(why) .. ")", 2) end
  local cq = opts.cq or cqueues.new()
  local host = { loop = l, cq = cq, wakes = 0 }
  local pollable = {
    pollfd = function() return fd end,
    events = function() return "r" end,
    timeout = function() return l:timeout() end,
  }
  local driving, finished = false, condition.new()

  local function drive()
    while l:pending() > 0 do
      cqueues.poll(pollable)
      host.wakes = host.wakes + 1
      local ok, err = pcall(l.poll, l, 0)
      finished:signal()
      if not ok then
        if opts.on_error then opts.on_error(err) else driving = false; error(err, 0) end
      end
    end
    driving = false
  end
  local function ensure_driver()
    if not driving then driving = true; cq:wrap(drive) end
  end

  --- Starts fn(...) as a task of the loop; returns its handle ({ done, result, err, ... }).
  function host.spawn(fn, ...)
    local h = l:spawn(fn, nil, ...)
    ensure_driver()
    return h
  end

  --- Runs fn(...) as a task and returns its results once it has ended.
  function host.run(fn, ...)
    local h = host.spawn(fn, ...)
    local inside = cqueues.running() ~= nil -- a coroutine of some controller: yield to it
    while not h.done do
      if inside then finished:wait() else assert(cq:step()) end
    end
    if h.error then error(h.error, 0) end
    return unpack(h.values, 1, h.values.n)
  end

  --- Closes the loop (transfers in flight are aborted).
  function host.close() l:close() end
  return host
end

return new
