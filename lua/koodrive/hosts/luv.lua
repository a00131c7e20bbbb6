--- koodrive.hosts.luv(uv [, opts]): a koodrive.loop driven by a libuv loop (luv: Neovim's
-- vim.loop / vim.uv, luvit, plain `require "luv"`), with no fixed-rate timer. The loop's
-- descriptor (loop:fd(), libcurl's sockets) is watched with uv.new_poll and its next due
-- time (loop:timeout()) with one uv timer; each wakes a `loop:poll(0)`, after which both are
-- set again - or stopped when no task is left, so an idle host holds no watcher at all.
--
--   local host = require("koodrive.hosts.luv")(vim.uv or vim.loop)
--   host.spawn(function() local devices = client.devices:list() ... end)
--
-- Inside a spawned task every koodrive call reads sequentially; the host's loop runs while
-- it waits. Sleeps and retry backoff are the koodrive loop's timers, woken by the uv timer.
-- Errors a task raises are raised again from the uv callback that polled (the host's own
-- error handling sees them), or handed to opts.on_error(err) when given.
local koodrive_loop = require "koodrive.loop"

local function new(uv, opts)
  assert(type(uv) == "table" and type(uv.new_poll) == "function" and type(uv.new_timer) == "function",
    "koodrive.hosts.luv: pass the luv module (require 'luv', vim.uv or vim.loop)")
  opts = opts or {}
  local l = opts.loop or koodrive_loop.new(opts)
  local fd, why = l:fd()
  if not fd then error("koodrive.hosts.luv: the loop has no descriptor to watch (" .. tostring(why) .. ")", 2) end
  local poll = uv.new_poll(fd)
  local timer = uv.new_timer()
  local watching, host = false, { loop = l, wakes = 0 }
  local rearm

  local function wake()
    host.wakes = host.wakes + 1
    local ok, err = pcall(l.poll, l, 0)
    rearm()
    if not ok then
      if opts.on_error then opts.on_error(err) else error(err, 0) end
    end
  end

  function rearm()
    if l:pending() == 0 then
      if watching then poll:stop(); watching = false end
      timer:stop()
      return
    end
    if not watching then poll:start("r", wake); watching = true end
    local t = l:timeout()
    timer:stop()
    if t then timer:start(math.ceil(t * 1000), 0, wake) end
  end

  --- Starts fn(...) as a task of the loop; returns its handle ({ done, result, err, ... }).
  function host.spawn(fn, ...)
    local h = l:spawn(fn, nil, ...)
    rearm()
    return h
  end

  --- Stops watching and closes the loop (transfers in flight are aborted).
  function host.close()
    if watching then poll:stop(); watching = false end
    timer:stop()
    if not poll:is_closing() then poll:close() end
    if not timer:is_closing() then timer:close() end
    l:close()
  end
  return host
end

return new
