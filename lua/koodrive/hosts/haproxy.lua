--- HAProxy's Lua as a koodrive host: inside a Lua service, action or task, waits yield to
-- HAProxy's scheduler instead of stalling the process (which HAProxy's watchdog would end).
--
--   core.register_service("devices", "http", function(applet)
--     local list = client.devices:list()           -- client made with transport.haproxy()
--   end)
--
-- koodrive.scheduler uses this file where `core` (HAProxy's global) is present: retry
-- backoff and job waits sleep with core.msleep; koodrive.spawn starts an HAProxy task
-- (core.register_task) and koodrive.wait waits for it with core.msleep, so `koodrive.batch`
-- runs its calls at once. A task's error is raised again by the wait that waits for it.
-- Internal: not part of the API (koodrive.transport.haproxy() is the user's part).
local M = {}

local function hap() return rawget(_G, "core") end

--- Whether this is HAProxy's Lua (core.msleep, core.register_task and core.tcp present).
function M.usable()
  local core = hap()
  return type(core) == "table" and type(core.msleep) == "function" and
    type(core.register_task) == "function" and type(core.tcp) == "function"
end

-- How often (ms) a wait looks at its tasks: HAProxy 2.6 has no queue a task could wake.
M.WAIT_STEP_MS = 2

--- Sleeps `seconds` on HAProxy's timers; false where core.msleep cannot be used (body, init).
function M.sleep(seconds)
  local ms = math.max(1, math.floor(seconds * 1000 + 0.5))
  return (pcall(hap().msleep, ms))
end

function M.spawn(fn, callback, ...)
  local handle, body = require("koodrive.scheduler").task_body(fn, callback, ...)
  handle.haproxy = true
  local ok, err = pcall(hap().register_task, body)
  if not ok then error("koodrive.spawn: core.register_task failed: " .. tostring(err), 3) end
  return handle
end

function M.wait(handles)
  for i, h in ipairs(handles) do
    if type(h) ~= "table" or not h.haproxy then
      error("koodrive.wait: argument " .. i .. " is not a handle of koodrive.spawn in HAProxy", 3)
    end
  end
  local core = hap()
  for _, h in ipairs(handles) do
    while not h.done do core.msleep(M.WAIT_STEP_MS) end
  end
  require("koodrive.scheduler").raise_first(handles)
end

M.scheduler = { name = "haproxy", spawn = function(fn, ...) return M.spawn(fn, nil, ...) end,
  wait = M.wait, sleep = function(seconds) if seconds > 0 then M.sleep(seconds) end end }

return M
