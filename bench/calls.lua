-- bench/calls.lua - koodrive against the bench nginx. Prints "key value" lines.
-- usage: lua bench/calls.lua MODE PORT [SECONDS]
--   seq         sequential client.devices:list() on one client, calls/s
--   loop N      N calls in flight through koodrive.loop() (N tasks, each looping), calls/s
--   memory      VmRSS after 1k and after 100k calls on one client; cost of one more client
--   luasocket   socket.http.request + cjson.decode per call (no keep-alive), calls/s
local mode, port, seconds = arg[1], assert(tonumber(arg[2]), "port"), tonumber(arg[3]) or 3
local endpoint = "http://127.0.0.1:" .. port
local PATH = "/koodrive/ose/v1/backup/device"

local function now()
  return require("koodrive.core").monotonic()
end

local function new_client(koodrive)
  return assert(koodrive.new { endpoint = endpoint, user_id = "1505084218764547200",
    token = "bench-token", retries = false })
end

local function check(devices, err)
  if type(devices) ~= "table" or #devices ~= 2 then
    io.stderr:write("calls.lua: unexpected result: ", tostring(err), "\n")
    os.exit(1)
  end
end

-- Runs fn in batches of 100 until `secs` have passed; returns calls per second.
local function rate(secs, fn)
  local calls, t0 = 0, now()
  local t
  repeat
    for _ = 1, 100 do fn() end
    calls = calls + 100
    t = now()
  until t - t0 >= secs
  return calls / (t - t0)
end

local function rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

if mode == "seq" then
  local koodrive = require "koodrive"
  local client = new_client(koodrive)
  for _ = 1, 300 do check(client.devices:list()) end
  print(("seq %.1f"):format(rate(seconds, function() check(client.devices:list()) end)))

elseif mode == "loop" then
  local n = assert(tonumber(arg[4]), "in-flight count")
  local koodrive = require "koodrive"
  local client = new_client(koodrive)
  local loop = koodrive.loop { starts_per_poll = n }
  local calls, failures = 0, 0
  local deadline
  local function task()
    while now() < deadline do
      local devices = client.devices:list()
      if type(devices) == "table" and #devices == 2 then calls = calls + 1 else failures = failures + 1 end
    end
  end
  -- warm-up: open the connections
  deadline = now() + 0.5
  for _ = 1, n do loop:spawn(task) end
  while loop:poll(0.01, 1) > 0 do end
  calls, failures = 0, 0
  local t0 = now()
  deadline = t0 + seconds
  for _ = 1, n do loop:spawn(task) end
  while loop:poll(0.01, 1) > 0 do end
  local elapsed = now() - t0
  loop:close()
  if failures > 0 or calls == 0 then
    io.stderr:write("calls.lua: ", failures, " failed calls in flight\n")
    os.exit(1)
  end
  print(("loop%d %.1f"):format(n, calls / elapsed))

elseif mode == "memory" then
  local koodrive = require "koodrive"
  local client = new_client(koodrive)
  for _ = 1, 1000 do check(client.devices:list()) end
  collectgarbage("collect")
  local rss_1k = rss_kib()
  for _ = 1, 99000 do check(client.devices:list()) end
  collectgarbage("collect")
  local rss_100k = rss_kib()
  print(("rss_1k_kib %d"):format(rss_1k))
  print(("rss_100k_kib %d"):format(rss_100k))
  -- one more client: 100 clients, one call each, kept alive
  collectgarbage("collect")
  local r0, g0 = rss_kib(), collectgarbage("count")
  local clients = {}
  for i = 1, 100 do
    clients[i] = new_client(koodrive)
    check(clients[i].devices:list())
  end
  collectgarbage("collect")
  local r1, g1 = rss_kib(), collectgarbage("count")
  print(("client_rss_kib %.1f"):format((r1 - r0) / 100))
  print(("client_lua_kib %.1f"):format((g1 - g0) / 100))
  for i = 1, 100 do clients[i]:close() end

elseif mode == "luasocket" then
  local http = require "socket.http"
  local ltn12 = require "ltn12"
  local cjson = require "cjson"
  local function call()
    local out = {}
    local _, code = http.request {
      url = endpoint .. PATH, sink = ltn12.sink.table(out),
      headers = { ["Authorization"] = "Bearer bench-token", ["X-User-Id"] = "1505084218764547200",
        ["X-Date"] = os.date("!%Y%m%dT%H%M%SZ"), Accept = "application/json",
        ["User-Agent"] = "koodrive-lua/bench (luasocket)" },
    }
    if code ~= 200 then io.stderr:write("luasocket: HTTP ", tostring(code), "\n"); os.exit(1) end
    local body = cjson.decode(table.concat(out))
    if #body.data ~= 2 then os.exit(1) end
  end
  for _ = 1, 100 do call() end
  print(("luasocket %.1f"):format(rate(seconds, call)))
else
  error("unknown mode " .. tostring(mode))
end
