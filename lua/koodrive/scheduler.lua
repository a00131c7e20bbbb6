--- One way to run work concurrently, chosen by where the caller runs. `koodrive.spawn`,
-- `koodrive.wait`, `koodrive.run`, `koodrive.batch` (and the bulk helpers) and the retry
-- backoff go through it instead of each guessing:
--
--   "loop"    inside a `koodrive.loop` task: tasks of that loop, its timers
--   "ngx"     inside nginx where cosockets work (rewrite, access, content, timer, ssl_*):
--             nginx's light threads (ngx.thread.spawn / ngx.thread.wait) and ngx.sleep
--   "haproxy" inside HAProxy's Lua (koodrive.hosts.haproxy): HAProxy tasks, core.msleep
--   "thread"  anywhere else: a private `koodrive.loop` that `wait` drives to completion,
--             and the thread sleeps
--
-- A scheduler is { name, spawn(fn, ...) -> handle, wait(handles), sleep(seconds) }.
-- Handles are those of the loop ({ done, result, err, values, error }); a light thread's
-- handle has the same fields. An error raised by a light-thread task is raised again by the
-- `wait` that waits for it (a loop task's error by the loop's poll, as always).
local core = require "koodrive.core"
local loop = require "koodrive.loop"

local scheduler = {}

local unpack = table.unpack or unpack
local function pack(...) return { n = select("#", ...), ... } end

local ngx_transport -- koodrive.transport.ngx, loaded inside nginx only
local haproxy = require "koodrive.hosts.haproxy"

--- Whether this is nginx, in a phase where light threads, cosockets and ngx.sleep work.
---@return boolean
function scheduler.in_nginx()
  if type(ngx) ~= "table" or type(ngx.thread) ~= "table" or type(ngx.get_phase) ~= "function" then
    return false
  end
  ngx_transport = ngx_transport or require "koodrive.transport.ngx"
  return ngx_transport.usable() ~= nil
end
local in_nginx = scheduler.in_nginx

--------------------------------------------------------------------------------------------
-- nginx light threads
--------------------------------------------------------------------------------------------

--- A handle ({ done = false }) and the function that runs fn(...) into it, for a host's own
-- threads or tasks (nginx light threads, HAProxy tasks): results, or the error fn raised
-- (with its traceback), then the callback under pcall, then done.
function scheduler.task_body(fn, callback, ...)
  if type(fn) ~= "function" then error("spawn: fn must be a function", 4) end
  if callback ~= nil and type(callback) ~= "function" then error("spawn: callback must be a function", 4) end
  local handle = { done = false }
  local args = pack(...)
  return handle, function()
    -- LuaJIT and 5.2+ yield across xpcall: the host's waits inside fn let it go on.
    local res = pack(xpcall(function() return fn(unpack(args, 1, args.n)) end, debug.traceback))
    if res[1] then
      handle.values = pack(unpack(res, 2, res.n))
      handle.result, handle.err = res[2], res[3]
      if callback then
        local ok, cerr = pcall(callback, unpack(res, 2, res.n))
        if not ok then handle.error = cerr end
      end
    else
      handle.error = res[2]
    end
    handle.done = true
  end
end

--- Raises the first error a task of `handles` raised that no wait has raised yet (once each).
function scheduler.raise_first(handles)
  for _, h in ipairs(handles) do
    if h.error and not h.raised then
      h.raised = true
      error(h.error, 0)
    end
  end
end

local function ngx_spawn(fn, callback, ...)
  local handle, body = scheduler.task_body(fn, callback, ...)
  local thread, err = ngx.thread.spawn(body)
  if not thread then error("koodrive.spawn: ngx.thread.spawn failed: " .. tostring(err), 3) end
  handle.thread = thread
  return handle
end

local function ngx_wait(handles)
  for i, h in ipairs(handles) do
    if type(h) ~= "table" or not h.thread then
      error("koodrive.wait: argument " .. i .. " is not a handle of koodrive.spawn in this nginx handler" ..
        (type(h) == "table" and h.loop and " (it belongs to a koodrive.loop)" or ""), 3)
    end
  end
  for _, h in ipairs(handles) do
    if not h.done then
      local ok, err = ngx.thread.wait(h.thread)
      if not ok and not h.done then h.done, h.error = true, tostring(err) end
    end
  end
  scheduler.raise_first(handles)
end

local function ngx_sleep(seconds)
  if seconds > 0 and not pcall(ngx.sleep, seconds) then core.sleep(seconds) end
end

--------------------------------------------------------------------------------------------
-- The three schedulers
--------------------------------------------------------------------------------------------

local function loop_scheduler(l)
  return {
    name = "loop",
    spawn = function(fn, ...) return l:spawn(fn, nil, ...) end,
    wait = function(handles) l:wait_all(handles) end,
    sleep = function(seconds) l:sleep(seconds) end,
  }
end

local NGX = { name = "ngx", spawn = function(fn, ...) return ngx_spawn(fn, nil, ...) end,
  wait = ngx_wait, sleep = ngx_sleep }

-- A private loop, made on the first spawn and closed once `wait` has seen every task end.
local function thread_scheduler()
  local s = { name = "thread", sleep = core.sleep }
  local l
  function s.spawn(fn, ...)
    l = l or loop.new()
    return loop.start(l, fn, nil, ...)
  end
  function s.wait(handles)
    if not l then return end
    local err = l:drive(function()
      for _, h in ipairs(handles) do if not h.done then return false end end
      return true
    end)
    if err or l:pending() == 0 then
      l:close()
      l = nil
    end
    if err then error(err, 0) end
  end
  return s
end

--- The name of the scheduler for where the caller runs, without making one (for checks made
-- at every poll): "loop", "ngx", "haproxy" or "thread".
---@return string
function scheduler.name()
  if loop.current() then return "loop" end
  if in_nginx() then return "ngx" end
  if haproxy.usable() then return "haproxy" end
  return "thread"
end

--- The scheduler for where the caller runs: "loop", "ngx" or "thread" (see above).
---@return table scheduler { name, spawn, wait, sleep }
function scheduler.current()
  local l = loop.current()
  if l then return loop_scheduler(l) end
  if in_nginx() then return NGX end
  if haproxy.usable() then return haproxy.scheduler end
  return thread_scheduler()
end

--- Waits `seconds` without blocking the host where it must not block: a loop task on the
-- loop's timer, an nginx handler on ngx.sleep, HAProxy on core.msleep, a coroutine of a
-- cqueues controller on cqueues.sleep; elsewhere the thread sleeps.
---@param seconds number
function scheduler.sleep(seconds)
  if seconds <= 0 then return end
  local l = loop.current()
  if l then return l:sleep(seconds) end
  if type(ngx) == "table" and type(ngx.sleep) == "function" then return ngx_sleep(seconds) end
  if haproxy.usable() and haproxy.sleep(seconds) then return end
  -- A coroutine of a cqueues controller (lua-http's handlers, koodrive.transport.socket
  -- "cqueues") sleeps on the controller's timer; cqueues is never loaded for this.
  local cq = package.loaded.cqueues
  if type(cq) == "table" and type(cq.running) == "function" and type(cq.sleep) == "function" then
    local controller, inside = cq.running()
    if controller and inside then return cq.sleep(seconds) end
  end
  core.sleep(seconds)
end

--------------------------------------------------------------------------------------------
-- koodrive.spawn / wait / run
--------------------------------------------------------------------------------------------

--- koodrive.spawn(fn, callback, ...): inside a loop task (koodrive.run) a task of that loop;
-- in an OpenResty handler a light thread (no koodrive.run needed).
---@param fn function
---@param callback? fun(...)
---@return koodrive.Handle handle
function scheduler.spawn(fn, callback, ...)
  local l = loop.current()
  if l then return l:spawn(fn, callback, ...) end
  if in_nginx() then return ngx_spawn(fn, callback, ...) end
  if haproxy.usable() then return haproxy.spawn(fn, callback, ...) end
  error("koodrive.spawn must be called inside koodrive.run, a loop task or an OpenResty handler", 2)
end

--- koodrive.wait(...): waits for handles of koodrive.spawn made in the same place.
---@param ... koodrive.Handle
function scheduler.wait(...)
  local l = loop.current()
  if l then return l:wait_all({ ... }) end
  if in_nginx() then return ngx_wait({ ... }) end
  if haproxy.usable() then return haproxy.wait({ ... }) end
  error("koodrive.wait must be called inside koodrive.run, a loop task or an OpenResty handler", 2)
end

--- koodrive.run(fn, ...): fn's results. In an OpenResty handler fn runs right here (its
-- calls go over cosockets, koodrive.spawn makes light threads); elsewhere fn runs as a task
-- on a fresh loop, driven until every task has ended, then closed.
---@param fn function
---@return any ... fn's results
function scheduler.run(fn, ...)
  if type(fn) ~= "function" then error("koodrive.run: fn must be a function", 2) end
  if not loop.current() and (in_nginx() or haproxy.usable()) then return fn(...) end
  local l = loop.new()
  local h = loop.start(l, fn, nil, ...)
  local err = l:drive()
  l:close()
  if err then error(err, 0) end
  return unpack(h.values, 1, h.values.n)
end

return scheduler
