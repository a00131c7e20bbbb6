-- bench/latency.lua - koodrive against the 20 ms bench server (bench/latency.sh), N calls kept
-- in flight for SECONDS. Prints one "key value" line (calls/s).
-- usage: lua bench/latency.lua MODE PORT SECONDS N
--   loop   N tasks on koodrive.loop(), each calling devices:list() until the time is up
--   luv    the same N tasks through koodrive.hosts.luv on `require "luv"` (uv.run drives it)
-- Both give the loop max_connections = N: its default of 32 would queue the rest, and the row
-- is about N round trips overlapping, the way the raw C multi reference runs them.
local mode, port = arg[1], assert(tonumber(arg[2]), "port")
local seconds, n = assert(tonumber(arg[3]), "seconds"), assert(tonumber(arg[4]), "in-flight count")
local koodrive = require "koodrive"
local now = require("koodrive.core").monotonic

local client = assert(koodrive.new { endpoint = "http://127.0.0.1:" .. port,
  user_id = "1505084218764547200", token = "bench-token", retries = false })

local calls, failures, deadline, last_err = 0, 0, 0, nil
local function task()
  while now() < deadline do
    local devices, err = client.devices:list()
    if type(devices) == "table" and #devices == 2 then
      calls = calls + 1
    else
      failures, last_err = failures + 1, err
    end
  end
end

-- spawn(task) N times, then run until every task has ended: once to open the N connections
-- (0.5 s), once measured. Returns calls per second of the measured pass.
local function measure(spawn, run)
  deadline = now() + 0.5
  for _ = 1, n do spawn(task) end
  run()
  calls, failures = 0, 0
  local t0 = now()
  deadline = t0 + seconds
  for _ = 1, n do spawn(task) end
  run()
  local elapsed = now() - t0
  if failures > 0 or calls == 0 then
    io.stderr:write("latency.lua: ", failures, " failed calls (", tostring(last_err), ")\n")
    os.exit(1)
  end
  return calls / elapsed
end

local opts = { starts_per_poll = n, max_connections = n }
local rate
if mode == "loop" then
  local loop = koodrive.loop(opts)
  rate = measure(function(fn) loop:spawn(fn) end, function()
    while loop:poll(0.05) > 0 do end
  end)
  loop:close()
elseif mode == "luv" then
  local uv = require "luv"
  local host = require("koodrive.hosts.luv")(uv, opts)
  rate = measure(host.spawn, function() uv.run("default") end)
  host.close()
  uv.run("default") -- lets the closed handles go
else
  error("unknown mode " .. tostring(mode))
end
print(("lat_%s%d %.1f"):format(mode, n, rate))
