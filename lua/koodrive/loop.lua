--- Many calls in flight from one thread, for hosts that own their loop (games, GUIs, jobs).
--
--   local loop = koodrive.loop()
--   local h = loop:spawn(function() return client.devices:list() end,
--                        function(devices, err) ... end)   -- optional callback
--   -- each frame:
--   loop:poll(0)          -- never waits longer than asked; returns the number of tasks left
--                         -- (a second argument caps the seconds spent resuming tasks)
--   if h.done then ... h.result, h.err ... end
--
-- A task is a function run in a coroutine. Inside it every koodrive call reads sequentially;
-- when it reaches the network (through the default libcurl transport) the call is added to
-- the loop's libcurl multi handle and the task waits while the host goes on. Calls through
-- other transports (replay, your own) simply run where they are.
--
-- Errors: a Lua error raised by a task or by a callback never crosses libcurl. It is kept on
-- the handle (`h.error`) and raised again from the spawn/poll call that ran it, so it reaches
-- the host's own error handling. Caveat on Lua 5.1 (not LuaJIT): a koodrive call inside a
-- pcall within a task cannot wait there (5.1 cannot yield across pcall).
-- @module koodrive.loop
local core = require "koodrive.core"
local monotonic = core.monotonic
local curl = require "koodrive.transport.curl"

local loop = {}

local Loop = {}
Loop.__index = Loop
Loop.__name = "koodrive.loop"

local unpack = table.unpack or unpack
local function pack(...) return { n = select("#", ...), ... } end

local DEFAULT_BUDGET = 0.0015 -- seconds a poll may work (libcurl's work included, waiting not)
local DEFAULT_STARTS = 8       -- queued calls a poll puts on the network

local owner = setmetatable({}, { __mode = "k" }) -- coroutine -> loop
local WAIT = setmetatable({}, { __tostring = function() return "koodrive.loop wait" end })

--- The loop running the current coroutine, if any.
---@return koodrive.Loop|nil loop
function loop.current()
  local co = coroutine.running()
  return co and owner[co] or nil
end

--- A new loop with its own libcurl multi handle (and connection cache).
-- opts.starts_per_poll: how many queued calls one poll puts on the network (default 8).
---@param opts? {starts_per_poll?: integer}
---@return koodrive.Loop
function loop.new(opts)
  local starts = opts and opts.starts_per_poll or DEFAULT_STARTS
  assert(type(starts) == "number" and starts >= 1 and starts % 1 == 0,
    "starts_per_poll must be a whole number >= 1")
  return setmetatable({ multi = require("koodrive.curl").multi(), waiting = {}, handles = {}, tasks = 0,
    raised = {}, ready = { first = 1, last = 0 }, queued = { first = 1, last = 0 },
    timers = {}, starts_per_poll = starts }, Loop)
end

local step

-- Marks a task finished, runs its callback, wakes tasks waiting for it.
local function finish(self, handle, ok, values)
  handle.done = true
  self.tasks = self.tasks - 1
  self.handles[handle.co] = nil
  if not ok then
    handle.error = values[1]
    self.raised[#self.raised + 1] = values[1]
  else
    handle.values = values
    handle.result, handle.err = values[1], values[2]
    if handle.callback then
      local cok, cerr = pcall(handle.callback, unpack(values, 1, values.n))
      if not cok then
        handle.error = cerr
        self.raised[#self.raised + 1] = cerr
      end
    end
  end
  for _, waiter in ipairs(handle.waiters or {}) do
    waiter.remaining = waiter.remaining - 1
    if waiter.remaining == 0 then step(self, self.handles[waiter.co]) end
  end
end

-- Resumes a task with the given values until it waits again or ends.
function step(self, handle, ...)
  local co = handle.co
  local res = pack(coroutine.resume(co, ...))
  if not res[1] then
    finish(self, handle, false, { debug.traceback(co, tostring(res[2])) })
  elseif coroutine.status(co) == "dead" then
    finish(self, handle, true, pack(unpack(res, 2, res.n)))
  elseif res[2] ~= WAIT then
    finish(self, handle, false, { "koodrive.loop: a task yielded a value the loop does not own" })
  end
end

-- Raises the first error a task or callback left, so it reaches the host.
local function raise_pending(self)
  if #self.raised > 0 then
    local e = table.remove(self.raised, 1)
    error(e, 0)
  end
end

--- Starts fn(...) as a task; callback(results...) runs when it ends. Returns its handle:
-- { done, result, err, values, error }.
---@param fn function the task
---@param callback? fun(...) receives the task's results
---@return koodrive.Handle handle
function Loop:spawn(fn, callback, ...)
  assert(type(fn) == "function", "spawn: fn must be a function")
  assert(callback == nil or type(callback) == "function", "spawn: callback must be a function")
  local handle = { done = false, callback = callback, co = coroutine.create(fn) }
  owner[handle.co] = self
  self.handles[handle.co] = handle
  self.tasks = self.tasks + 1
  step(self, handle, ...)
  raise_pending(self)
  return handle
end

--- Used by the pipeline from inside a task: queues the request for the multi handle and
-- waits for its answer. poll starts queued requests a few at a time (`starts_per_poll`),
-- so that opening many connections at once never lands on a single frame.
---@param request koodrive.Request
---@return koodrive.Response|nil response
---@return koodrive.Error|nil err
function Loop:send(request)
  local q = self.queued
  q.last = q.last + 1
  q[q.last] = { request = request, co = coroutine.running() }
  return coroutine.yield(WAIT)
end

--- Used from inside a task: waits `seconds` without blocking the host (retry backoff).
---@param seconds number
function Loop:sleep(seconds)
  local timers = self.timers
  timers[#timers + 1] = { due = core.monotonic() + seconds, co = coroutine.running() }
  coroutine.yield(WAIT)
end

--- Inside a task: waits until every handle in the list is done.
---@param handles koodrive.Handle[]
function Loop:wait_all(handles)
  local co = coroutine.running()
  assert(co and self.handles[co], "wait_all must be called from a task of this loop")
  local waiter = { co = co, remaining = 0 }
  for _, h in ipairs(handles) do
    if not h.done then
      waiter.remaining = waiter.remaining + 1
      h.waiters = h.waiters or {}
      h.waiters[#h.waiters + 1] = waiter
    end
  end
  if waiter.remaining > 0 then coroutine.yield(WAIT) end
end

--- Moves every transfer forward, waiting at most `timeout` seconds (default 0) for network
-- activity, and resumes the tasks whose calls finished until the poll has worked `budget`
-- seconds (default 1.5 ms, libcurl's work included; time spent waiting for the network does
-- not count), so that a frame never pays for a burst of
-- answers at once: what is left waits for the next poll. At least one finished task is
-- resumed per poll. Returns the number of tasks left.
---@param timeout? number seconds to wait for network activity (default 0)
---@param budget? number seconds of work before finished tasks wait for the next poll (default 0.0015)
---@return integer tasks_left
function Loop:poll(timeout, budget)
  raise_pending(self)
  if self.tasks == 0 then return 0 end
  local ready, queued = self.ready, self.queued
  local function push(entry)
    ready.last = ready.last + 1
    ready[ready.last] = entry
  end
  -- The budget counts libcurl's work too, but not waiting for the network (see below). The
  -- monotonic clock, not os.clock: CPU time costs a system call (~1.4 µs) on every check.
  local started = monotonic()
  for _ = 1, self.starts_per_poll do
    local item = queued[queued.first]
    if not item then break end
    queued[queued.first] = nil
    queued.first = queued.first + 1
    local id, reason, message, code = self.multi:add(item.request)
    if id then
      self.waiting[id] = item.co
    else
      push { co = item.co, failure = curl.failure(reason, message, code) }
    end
  end
  -- Timers that are due wake their tasks; the next one bounds how long to wait.
  local now, next_due = core.monotonic(), nil
  local timers = self.timers
  for i = #timers, 1, -1 do
    local t = timers[i]
    if t.due <= now then
      table.remove(timers, i)
      push { co = t.co, wake = true }
    elseif not next_due or t.due < next_due then
      next_due = t.due
    end
  end
  -- Do not wait for the network while work is already waiting to be handed over or started.
  local busy = ready.last >= ready.first or queued.last >= queued.first
  local wait = busy and 0 or (timeout or 0)
  if next_due and next_due - now < wait then wait = next_due - now end
  if self.multi:pending() == 0 and wait > 0 then
    -- Nothing on the network: only a timer can be waited for.
    if next_due then core.sleep(wait) end
    wait = 0
  end
  for _, id in ipairs(self.multi:perform(wait)) do
    push { co = self.waiting[id], id = id }
    self.waiting[id] = nil
  end
  if wait > 0 then started = monotonic() end -- the poll may have waited for the network
  local deadline = started + (budget or DEFAULT_BUDGET)
  while ready.first <= ready.last do
    local entry = ready[ready.first]
    ready[ready.first] = nil
    ready.first = ready.first + 1
    if entry.id then
      -- The answer becomes Lua values only now, within the budget.
      local res, reason, message, code = self.multi:take(entry.id)
      entry.response = res
      entry.failure = not res and curl.failure(reason, message, code) or nil
    end
    local handle = entry.co and self.handles[entry.co]
    if handle then
      if entry.wake then
        step(self, handle)
      elseif entry.response then
        step(self, handle, entry.response)
      else
        step(self, handle, nil, entry.failure)
      end
    end
    if monotonic() >= deadline then break end
  end
  raise_pending(self)
  return self.tasks
end

--- Polls until every task has ended (blocking, a second at most per wait).
---@return nil
function Loop:run()
  while self:poll(1) > 0 do end
end

--- How many tasks have not ended.
---@return integer
function Loop:pending() return self.tasks end

--- Aborts transfers still in flight and frees the multi handle.
---@return nil
function Loop:close() self.multi:close() end
Loop.__close = Loop.close

--- koodrive.run(fn, ...): runs fn as a task on a fresh loop until it ends and returns its
-- results; koodrive calls inside fn read sequentially, and tasks fn spawns run concurrently.
---@param fn function
---@return any ... fn's results
function loop.run(fn, ...)
  local l = loop.new()
  local h = l:spawn(fn, nil, ...)
  local ok, err = pcall(function()
    while not h.done do l:poll(1) end
    l:run()
  end)
  l:close()
  if not ok then error(err, 0) end
  return unpack(h.values, 1, h.values.n)
end

--- Inside koodrive.run (or any task): starts another task on the same loop.
---@param fn function
---@param callback? fun(...)
---@return koodrive.Handle handle
function loop.spawn(fn, callback, ...)
  local current = loop.current()
  assert(current, "koodrive.spawn must be called inside koodrive.run or a loop task")
  return current:spawn(fn, callback, ...)
end

--- Inside a task: waits for the given handles (from koodrive.spawn).
---@param ... koodrive.Handle
function loop.wait(...)
  local current = loop.current()
  assert(current, "koodrive.wait must be called inside koodrive.run or a loop task")
  current:wait_all({ ... })
end

return loop
