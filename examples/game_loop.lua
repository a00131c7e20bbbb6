-- game_loop.lua: koodrive inside a frame loop that must never block.
-- Calls are started as tasks; every frame polls with a zero timeout; results arrive through
-- callbacks. Configured like quickstart.lua (KOODRIVE_ENDPOINT, KOODRIVE_USER_ID, credentials).
local koodrive = require "koodrive"
local socket = require "socket" -- only for the frame clock of this example

local client = assert(koodrive.default())
local loop = koodrive.loop()

-- Start a few calls at once; each callback runs in the frame in which its answer arrives.
local machines = { "console_1", "console_2", "console_3" }
local bound = {}
for _, code in ipairs(machines) do
  loop:spawn(function() return client.devices:bind { machineCode = code, deviceName = "Game client" } end,
    function(device, err)
      if device then bound[#bound + 1] = device.deviceId else print("bind failed: " .. tostring(err)) end
    end)
end

local frame, slowest = 0, 0
while loop:pending() > 0 do
  frame = frame + 1
  local t0 = socket.gettime()
  loop:poll(0) -- the game's frame budget is the host's: koodrive never waits here
  slowest = math.max(slowest, socket.gettime() - t0)
  socket.sleep(1 / 120) -- render the frame
end
print(string.format("bound %d devices in %d frames (slowest poll %.2f ms)", #bound, frame, slowest * 1000))

-- A sequence of calls written straight down, still non-blocking, as a task of the same loop.
local listed
loop:spawn(function()
  local devices = assert(client.devices:list())
  for _, id in ipairs(bound) do assert(client.devices:unbind(id)) end
  return #devices
end, function(n) listed = n end)
while loop:pending() > 0 do loop:poll(1 / 60) end
print(string.format("listed %d devices, unbound %d", listed, #bound))
loop:close()
