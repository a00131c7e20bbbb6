-- examples/love: koodrive inside a LÖVE 11 game. `love.update` polls a koodrive.loop once per
-- frame with a zero timeout, so 20 calls are in flight while the game keeps drawing frames.
--
-- Run from the checkout (C modules built for LuaJIT: make build/luajit/koodrive/core.so):
--   KOODRIVE_ENDPOINT=… KOODRIVE_USER_ID=… KOODRIVE_TOKEN=… love examples/love
-- (spec/host_love_spec.lua starts the local service and runs it under xvfb-run).
--
-- Where koodrive is found: pure-Lua modules load from inside the game (a koodrive/ folder in
-- it or in the .love zip) or from KOODRIVE_LUA_PATH, else from ../lua of the checkout; the C
-- modules (koodrive/core.so, sign.so, curl.so) cannot be loaded from inside a .love (dlopen
-- needs a real file), so they are looked for in KOODRIVE_CPATH, else beside the game (the
-- folder holding the .love or the fused executable), else in ../build/luajit of the checkout.
-- Other settings: KOODRIVE_LOVE_RESULT (file for the key=value summary; stdout when unset),
-- KOODRIVE_LOVE_CALLS (default 20), KOODRIVE_LOVE_TIMEOUT (seconds before giving up, 30).
-- luacheck: globals love
local env = os.getenv
local base = love.filesystem.getSourceBaseDirectory()
package.path = table.concat({ env("KOODRIVE_LUA_PATH") or "",
  base .. "/../lua/?.lua", base .. "/../lua/?/init.lua", package.path }, ";")
package.cpath = table.concat({ env("KOODRIVE_CPATH") or "",
  base .. "/?.so", base .. "/../build/luajit/?.so", package.cpath }, ";")

local koodrive = require "koodrive"

local CALLS = tonumber(env("KOODRIVE_LOVE_CALLS")) or 20
local GIVE_UP = tonumber(env("KOODRIVE_LOVE_TIMEOUT")) or 30

local loop, started
local done, ok, first_error = 0, 0, nil
local counts = {} -- devices each call listed ("-" not answered yet, "error")
for i = 1, CALLS do counts[i] = "-" end
-- frame times: deltas between two love.update calls while calls are pending, and poll times
local stats = { frames = 0, frame_sum = 0, frame_max = 0, frame_max_at = 0, later_max = 0, over_16ms = 0,
  poll_sum = 0, poll_max = 0 }
local last_update, finished

-- The summary, one key=value a line: the spec reads it; a person reads it on stdout.
local function report(result, reason)
  if finished then return end
  finished = true
  local n = math.max(stats.frames, 1)
  local lines = {
    "result=" .. result, "reason=" .. (reason or ""), "calls=" .. CALLS, "done=" .. done,
    "succeeded=" .. ok, "counts=" .. table.concat(counts, ","),
    "first_error=" .. (first_error or ""):gsub("\n", " "),
    "elapsed=" .. string.format("%.4f", started and love.timer.getTime() - started or 0),
    "frames_pending=" .. stats.frames, "frames_over_16ms=" .. stats.over_16ms,
    string.format("worst_frame=%.6f", stats.frame_max), "worst_frame_at=" .. stats.frame_max_at,
    string.format("worst_frame_after_3=%.6f", stats.later_max),
    string.format("mean_frame=%.6f", stats.frame_sum / n),
    string.format("worst_poll=%.6f", stats.poll_max), string.format("mean_poll=%.6f", stats.poll_sum / n),
    "renderer=" .. table.concat({ pcall(love.graphics.getRendererInfo) }, " ", 2),
    "lua=" .. (jit and jit.version or _VERSION),
  }
  local text = table.concat(lines, "\n") .. "\n"
  local path = env("KOODRIVE_LOVE_RESULT")
  local f = path and assert(io.open(path, "w")) or io.stdout
  f:write(text)
  if path then f:close() else f:flush() end
end

function love.load()
  local client = assert(koodrive.default())
  loop = koodrive.loop()
  started = love.timer.getTime()
  for i = 1, CALLS do
    -- each task reads sequentially; its callback runs in the frame in which the answer arrives
    loop:spawn(function() return client.devices:list() end, function(devices, err)
      done = done + 1
      if devices then
        ok = ok + 1
        counts[i] = #devices
      else
        counts[i] = "error"
        first_error = first_error or tostring(err)
      end
    end)
  end
end

function love.update()
  if finished then return end -- the quit event is handled after this frame
  local now = love.timer.getTime()
  if done < CALLS then
    if last_update then
      local dt = now - last_update
      stats.frames = stats.frames + 1
      stats.frame_sum = stats.frame_sum + dt
      if dt > stats.frame_max then stats.frame_max, stats.frame_max_at = dt, stats.frames end
      -- the first frames also pay for the window and the GL driver's start, not for koodrive
      if stats.frames > 3 then stats.later_max = math.max(stats.later_max, dt) end
      if dt > 1 / 60 then stats.over_16ms = stats.over_16ms + 1 end
    end
    last_update = now
    loop:poll(0) -- never waits: the frame budget stays the game's
    local spent = love.timer.getTime() - now
    stats.poll_sum = stats.poll_sum + spent
    stats.poll_max = math.max(stats.poll_max, spent)
  end
  if done == CALLS then
    report(ok == CALLS and "ok" or "fail", ok == CALLS and "" or "some calls failed")
    loop:close()
    love.event.quit(ok == CALLS and 0 or 1)
  elseif now - started > GIVE_UP then
    report("fail", string.format("timeout after %d s", GIVE_UP))
    love.event.quit(1)
  end
end

function love.draw()
  love.graphics.print(string.format("koodrive: %d/%d calls done, %d frames", done, CALLS, stats.frames), 10, 10)
  love.graphics.rectangle("fill", 10, 40, 300 * done / CALLS, 20)
end

-- An error (a task's included: poll raises it again) ends the game with a failure line,
-- instead of LÖVE's error screen, which would wait for a key.
function love.errorhandler(msg)
  report("fail", "error: " .. tostring(msg):gsub("\n", " "))
  return function() return 1 end
end
