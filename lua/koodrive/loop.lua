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
-- Safety: a task waits by yielding its request itself, so a call made where the task cannot
-- yield (a `table.sort` comparator, a `string.gsub` callback, a `pcall` on Lua 5.1) queues
-- nothing: it returns a `transport` error with reason `not_yieldable` and never reaches the
-- network. Every answer carries the token of the request it is for and is checked when it is
-- handed to the task. A yield the loop did not make (a transport yielding to its own host:
-- cqueues, luv, HAProxy) is passed on to the coroutine running `poll`, and the task resumed
-- with the host's answer.
--
-- Errors: a Lua error raised by a task or by a callback never crosses libcurl. It is kept on
-- the handle (`h.error`) and raised again from the spawn/poll call that ran it, so it reaches
-- the host's own error handling.
-- @module koodrive.loop
local core = require "koodrive.core"
local monotonic = core.monotonic
-- Loaded with the loop, not with the first failure: a failure may be that the process is out
-- of file descriptors, and then no module file could be opened any more.
local failure = require("koodrive.transport.curl").failure
local errors = require "koodrive.errors"
local tasks = require "koodrive.loop.tasks"

local loop = {}

local Loop = {}
Loop.__index = Loop
Loop.__name = "koodrive.loop"

local DEFAULT_BUDGET = 0.0015 -- seconds a poll may work (libcurl's work included, waiting not)
local DEFAULT_STARTS = 8       -- queued calls a poll puts on the network

local owner, WAIT, try_yield = tasks.owner, tasks.WAIT, tasks.try_yield
local step, raise_pending, running_task = tasks.step, tasks.raise_pending, tasks.running
local serial = 0 -- tokens of waits: each answer names the wait it is for

-- (WAIT and try_yield: see koodrive.loop.tasks, which owns how a task waits.)
loop.try_yield = try_yield

local function not_yieldable()
  return errors.new { kind = "transport", reason = "not_yieldable", retryable = false,
    message = "koodrive.loop: this call was made where its task cannot wait (inside a C " ..
      "function such as table.sort or string.gsub, or a pcall on Lua 5.1); nothing was sent: " ..
      "make the call outside it" }
end

local function closed_client()
  return errors.config("client", "closed", "is closed: calls after client:close() are refused")
end

--- The loop running the current coroutine, if any.
---@return koodrive.Loop|nil loop
function loop.current()
  local co = coroutine.running()
  return co and owner[co] or nil
end

--- A new loop with its own libcurl multi handle (and connection cache).
-- opts.starts_per_poll: how many queued calls one poll puts on the network (default 8);
-- opts.max_connections: most connections the multi handle opens at once, 1 to 1024 (given
-- to libcurl only when set).
---@param opts? {starts_per_poll?: integer, max_connections?: integer}
---@return koodrive.Loop
function loop.new(opts)
  local starts = opts and opts.starts_per_poll or DEFAULT_STARTS
  assert(type(starts) == "number" and starts >= 1 and starts % 1 == 0,
    "starts_per_poll must be a whole number >= 1")
  local max = opts and opts.max_connections
  assert(max == nil or (type(max) == "number" and max >= 1 and max <= 1024 and max % 1 == 0),
    "max_connections must be a whole number from 1 to 1024")
  local curl_module = require "koodrive.curl"
  local multi = max and curl_module.multi { max_connections = max } or curl_module.multi()
  return setmetatable({ multi = multi, waiting = {}, handles = {}, tasks = 0,
    raised = {}, ready = { first = 1, last = 0 }, queued = { first = 1, last = 0 },
    timers = {}, starts_per_poll = starts, busy = 0, spawned = 0 }, Loop)
end

--- Starts fn(...) as a task; callback(results...) runs when it ends. Returns its handle:
-- { done, result, err, values, error }.
---@param fn function the task
---@param callback? fun(...) receives the task's results
---@return koodrive.Handle handle
function Loop:spawn(fn, callback, ...)
  local handle = loop.start(self, fn, callback, ...)
  raise_pending(self)
  return handle
end

--- Like `Loop:spawn`, but an error the task raises at once stays on the loop (for `drive`):
-- callers that must close the loop before raising use this, without a pcall (which Lua 5.1
-- could not yield across).
---@param self koodrive.Loop
---@param fn function
---@param callback? fun(...)
---@return koodrive.Handle handle
function loop.start(self, fn, callback, ...)
  assert(type(fn) == "function", "spawn: fn must be a function")
  assert(callback == nil or type(callback) == "function", "spawn: callback must be a function")
  self.spawned = self.spawned + 1
  local handle = { done = false, callback = callback, co = coroutine.create(fn), loop = self,
    id = self.spawned, fn = fn }
  owner[handle.co] = self
  self.handles[handle.co] = handle
  self.tasks = self.tasks + 1
  step(self, handle, ...)
  return handle
end

--- Used by the pipeline from inside a task: queues the request for the multi handle and
-- waits for its answer. poll starts queued requests a few at a time (`starts_per_poll`),
-- so that opening many connections at once never lands on a single frame. `from` (the
-- client) is checked again when the request goes out: a closed client's request never does.
-- Where the task cannot wait, returns a `not_yieldable` transport error and sends nothing.
---@param request koodrive.Request
---@param from? table the client sending it
---@return koodrive.Response|nil response
---@return koodrive.Error|nil err
function Loop:send(request, from)
  if not running_task(self) then
    error("koodrive.loop: send must be called from a task of this loop", 2)
  end
  serial = serial + 1
  local entry = { request = request, token = serial, from = from }
  local ok, token, res, err = try_yield(WAIT, entry)
  if not ok then return nil, not_yieldable() end
  if token ~= entry.token then
    -- Never hand over an answer that is not for this request.
    return nil, errors.new { kind = "transport", reason = "mismatch", retryable = false,
      message = "koodrive.loop: the task was resumed with an answer for another request" }
  end
  return res, err
end

--- Used from inside a task: waits `seconds` without blocking the host (retry backoff).
-- Where the task cannot wait (see `send`) the thread sleeps instead.
---@param seconds number
function Loop:sleep(seconds)
  if not running_task(self) then return core.sleep(seconds) end
  serial = serial + 1
  local entry = { due = monotonic() + seconds, token = serial }
  local ok, token = try_yield(WAIT, entry)
  if not ok then return core.sleep(seconds) end
  if token ~= entry.token then error("koodrive.loop: a sleep was woken by another task's event", 2) end
end

--- Inside a task: waits until every handle in the list is done. Every handle must come from
-- this loop's spawn.
---@param handles koodrive.Handle[]
function Loop:wait_all(handles)
  local me = running_task(self)
  if not me then error("koodrive.wait must be called from a task of this loop", 2) end
  for i, h in ipairs(handles) do
    if type(h) ~= "table" or h.loop ~= self then
      error("koodrive.wait: argument " .. i .. " is not a handle of this loop" ..
        (type(h) == "table" and h.loop and " (it belongs to another koodrive.loop)" or ""), 2)
    end
  end
  serial = serial + 1
  local waiter = { token = serial, remaining = 0, waits_for = {} }
  for _, h in ipairs(handles) do
    if not h.done then
      waiter.remaining = waiter.remaining + 1
      waiter.waits_for[#waiter.waits_for + 1] = h
      h.waiters = h.waiters or {}
      h.waiters[#h.waiters + 1] = waiter
    end
  end
  if waiter.remaining == 0 then return end
  local ok, token = try_yield(WAIT, waiter)
  if not ok then
    error("koodrive.wait: called where the task cannot wait (inside a C function such as " ..
      "table.sort, or a pcall on Lua 5.1)", 2)
  end
  if token ~= waiter.token then error("koodrive.wait: woken by another task's event", 2) end
end

-- One poll without raising the errors tasks left (see Loop:poll).
local function poll_once(self, timeout, budget)
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
    if item.from and item.from._closed then
      item.failure = closed_client()
      push(item)
    else
      local id, reason, message, code = self.multi:add(item.request)
      if id then
        self.waiting[id] = item
      else
        item.failure = failure(reason, message, code)
        push(item)
      end
    end
  end
  -- Timers that are due wake their tasks; the next one bounds how long to wait.
  local now, next_due = monotonic(), nil
  local timers = self.timers
  for i = #timers, 1, -1 do
    local t = timers[i]
    if t.due <= now then
      table.remove(timers, i)
      push(t)
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
    local item = self.waiting[id]
    self.waiting[id] = nil
    if item then
      item.id = id
      push(item)
    end
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
      entry.failure = not res and failure(reason, message, code) or nil
    end
    -- Delivered only to the task still waiting on exactly this entry.
    local handle = entry.handle
    if handle and not handle.done and handle.wait == entry then
      handle.wait = nil
      step(self, handle, entry.token, entry.response, entry.failure)
    end
    if monotonic() >= deadline then break end
  end
  if self.tasks > 0 and self.busy == 0 and ready.first > ready.last and queued.first > queued.last
      and #timers == 0 and self.multi:pending() == 0 then
    tasks.deadlock(self)
  end
  return self.tasks
end
loop.poll_once = poll_once

--- Moves every transfer forward, waiting at most `timeout` seconds (default 0) for network
-- activity, and resumes the tasks whose calls finished until the poll has worked `budget`
-- seconds (default 1.5 ms, libcurl's work included; time spent waiting for the network does
-- not count), so that a frame never pays for a burst of
-- answers at once: what is left waits for the next poll. At least one finished task is
-- resumed per poll. Returns the number of tasks left. Tasks that only wait for each other
-- (nothing in flight, no timer) end with a deadlock error, raised here.
---@param timeout? number seconds to wait for network activity (default 0)
---@param budget? number seconds of work before finished tasks wait for the next poll (default 0.0015)
---@return integer tasks_left
function Loop:poll(timeout, budget)
  raise_pending(self)
  local left = poll_once(self, timeout, budget)
  raise_pending(self)
  return left
end

--- For a host's own event loop: a descriptor that becomes readable when the loop's network
-- has work (libcurl's sockets, in an epoll set). Watch it for reading and call
-- `loop:poll(0)` when it is readable or `loop:timeout()` has passed; never poll at a fixed
-- rate. Returns nil and why where there is no such descriptor (not Linux).
---@return integer|nil fd
---@return string|nil err
function Loop:fd() return self.multi:fd() end

--- Seconds until the loop must be polled even if its descriptor stays quiet: 0 when work is
-- waiting (answers to hand over, calls to start, a poll that ran out of budget), else the
-- nearer of libcurl's timer and the loop's own timers (sleeps, retry backoff); nil when
-- nothing but the descriptor can wake it (or no task is left).
---@return number|nil seconds
function Loop:timeout()
  if self.tasks == 0 then return nil end
  local ready, queued = self.ready, self.queued
  if ready.last >= ready.first or queued.last >= queued.first then return 0 end
  local t = self.multi:timeout()
  local timers = self.timers
  if #timers > 0 then
    local now = monotonic()
    for i = 1, #timers do
      local left = timers[i].due - now
      if left < 0 then left = 0 end
      if not t or left < t then t = left end
    end
  end
  return t
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

--- Drives the loop until `done()` is true, every task has ended or a task left an error;
-- never raises that error (the caller closes the loop first, then raises it).
---@param done? fun(): boolean
---@return string|nil error the first error a task left
function Loop:drive(done)
  while self.tasks > 0 and #self.raised == 0 and not (done and done()) do
    poll_once(self, 1)
  end
  if #self.raised > 0 then return table.remove(self.raised, 1) end
  return nil
end

--- Raises the first error a task or callback left, if any.
---@return nil
function Loop:raise() raise_pending(self) end

--- koodrive.run(fn, ...): runs fn as a task until it ends and returns its results; koodrive
-- calls inside fn read sequentially, and tasks fn spawns run concurrently (on a fresh loop,
-- or on nginx's light threads inside an OpenResty handler: see `koodrive.scheduler`).
---@param fn function
---@return any ... fn's results
function loop.run(fn, ...)
  return require("koodrive.scheduler").run(fn, ...)
end

--- Inside koodrive.run, a loop task or an OpenResty handler: starts another task there.
---@param fn function
---@param callback? fun(...)
---@return koodrive.Handle handle
function loop.spawn(fn, callback, ...)
  return require("koodrive.scheduler").spawn(fn, callback, ...)
end

--- Inside a task (or an OpenResty handler): waits for the given handles (from koodrive.spawn).
---@param ... koodrive.Handle
function loop.wait(...)
  return require("koodrive.scheduler").wait(...)
end

return loop
