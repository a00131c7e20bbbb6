--- The bookkeeping of koodrive.loop's tasks: how a task waits (try_yield, per Lua version),
-- resuming it (step), ending it (finish: callback, waiters), the errors it leaves, and the
-- deadlock of tasks that only wait for each other. koodrive.loop owns the public loop (new,
-- spawn, send, poll, close); this module holds no state of its own beyond the coroutine ->
-- loop map, so every loop's state stays on the loop.
-- Internal: not part of the API.
local tasks = {}

local unpack = table.unpack or unpack
local function pack(...) return { n = select("#", ...), ... } end

-- coroutine -> loop. Weak values too: Lua 5.1 and LuaJIT have no ephemerons, so a strong
-- value would keep a dropped loop (and, through its tasks, the key) alive for good, with its
-- connections open. The loop is kept alive by whoever polls it; no one else needs it.
tasks.owner = setmetatable({}, { __mode = "kv" })

-- What a task yields to wait for the loop: (WAIT, entry). Any other yield is not the loop's.
local WAIT = setmetatable({}, { __tostring = function() return "koodrive.loop wait" end })
tasks.WAIT = WAIT

-- try_yield(...) -> true, values the coroutine was resumed with | false when it cannot yield
-- here. Lua 5.3+ and LuaJIT tell (coroutine.isyieldable); Lua 5.2 reports a failed yield to
-- pcall (which it can yield across); Lua 5.1 cannot yield past any C function, so a C frame
-- between here and the task's body means no (5.1 also cannot yield out of a metamethod, which
-- leaves no trace on the stack: that yield raises Lua's own error, with nothing queued).
local try_yield
if coroutine.isyieldable then
  local isyieldable, yield = coroutine.isyieldable, coroutine.yield
  function try_yield(...)
    if not isyieldable() then return false end
    return true, yield(...)
  end
elseif _VERSION == "Lua 5.2" then
  function try_yield(...) return pcall(coroutine.yield, ...) end
else
  function try_yield(...)
    if not coroutine.running() then return false end
    for level = 2, 1000 do
      local info = debug.getinfo(level, "S")
      if not info then break end
      if info.what == "C" then return false end
    end
    return true, coroutine.yield(...)
  end
end
tasks.try_yield = try_yield

local step

--- Marks a task finished, runs its callback, wakes tasks waiting for it.
---@param self koodrive.Loop
---@param handle koodrive.Handle
---@param ok boolean false when the task raised (values[1] is the error)
---@param values table packed results
local function finish(self, handle, ok, values)
  handle.done = true
  handle.wait = nil
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
    local h = waiter.handle
    if waiter.remaining == 0 and not h.done and h.wait == waiter then
      h.wait = nil
      step(self, h, waiter.token)
    end
  end
end

local FOREIGN = "koodrive.loop: a task yielded a value the loop does not own (a transport " ..
  "or library yielding to its own scheduler), and poll was not called from a coroutine that " ..
  "can pass the yield on: run the loop inside that scheduler"

--- Resumes a task with the given values until it waits again or ends. A wait of the loop
-- (WAIT, entry) is registered here, after the yield happened: a yield that failed queued
-- nothing. Any other yield goes on to the host, and its answer back into the task.
---@param self koodrive.Loop
---@param handle koodrive.Handle
function step(self, handle, ...)
  local co = handle.co
  self.busy = self.busy + 1
  local res = pack(coroutine.resume(co, ...))
  while true do
    if not res[1] then
      self.busy = self.busy - 1
      return finish(self, handle, false, { debug.traceback(co, tostring(res[2])) })
    elseif coroutine.status(co) == "dead" then
      self.busy = self.busy - 1
      return finish(self, handle, true, pack(unpack(res, 2, res.n)))
    elseif res[2] == WAIT then
      self.busy = self.busy - 1
      local entry = res[3]
      entry.handle, handle.wait = handle, entry
      if entry.request then
        local q = self.queued
        q.last = q.last + 1
        q[q.last] = entry
      elseif entry.due then
        self.timers[#self.timers + 1] = entry
      end -- else a wait_all waiter, woken by finish
      return
    end
    local back = pack(try_yield(unpack(res, 2, res.n)))
    if not back[1] then
      self.busy = self.busy - 1
      return finish(self, handle, false, { FOREIGN })
    end
    res = pack(coroutine.resume(co, unpack(back, 2, back.n)))
  end
end
tasks.step = step

--- Raises the first error a task or callback left, so it reaches the host.
---@param self koodrive.Loop
function tasks.raise_pending(self)
  if #self.raised > 0 then
    local e = table.remove(self.raised, 1)
    error(e, 0)
  end
end

--- The handle of the running task of this loop, or nil.
---@param self koodrive.Loop
---@return koodrive.Handle|nil
function tasks.running(self)
  local co = coroutine.running()
  return co and self.handles[co] or nil
end

-- "task #3 (file.lua:42)" for messages.
local function describe(handle)
  local info = debug.getinfo(handle.fn, "S")
  return "task #" .. handle.id .. " (" .. info.short_src .. ":" .. tostring(info.linedefined) .. ")"
end

--- Every task left waits for another task and nothing else can happen: ends them all with
-- one error naming who waits for whom.
---@param self koodrive.Loop
function tasks.deadlock(self)
  local lines = {}
  local list = {}
  for _, h in pairs(self.handles) do list[#list + 1] = h end
  table.sort(list, function(a, b) return a.id < b.id end)
  for _, h in ipairs(list) do
    local waits = {}
    for _, other in ipairs(h.wait and h.wait.waits_for or {}) do
      if not other.done then waits[#waits + 1] = describe(other) end
    end
    lines[#lines + 1] = describe(h) .. (#waits > 0 and (" waits for " .. table.concat(waits, ", "))
      or " is suspended outside the loop")
  end
  local message = "koodrive.loop: deadlock: " .. #list .. " task(s) wait and no call, timer " ..
    "or other task can wake them: " .. table.concat(lines, "; ")
  for _, h in ipairs(list) do
    h.done, h.wait, h.error = true, nil, message
    self.handles[h.co] = nil
  end
  self.tasks = 0
  self.raised[#self.raised + 1] = message
end

return tasks
