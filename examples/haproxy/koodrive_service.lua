-- examples/haproxy/koodrive_service.lua: koodrive calls from HAProxy Lua services
-- (loaded by examples/haproxy/haproxy.cfg). Calls go over HAProxy's own sockets
-- (koodrive.transport.haproxy()): while one waits for its answer HAProxy serves other
-- requests; retry backoff sleeps with core.msleep and koodrive.batch runs its calls as
-- HAProxy tasks. Configured like examples/quickstart.lua (KOODRIVE_ENDPOINT, ...).
-- luacheck: globals core
local koodrive = require "koodrive"
local json = require "cjson"

local env = os.getenv

-- Made on first use: core.tcp() (the transport's sockets) exists only once HAProxy runs.
local client
local function kd()
  if not client then
    client = assert(koodrive.new { endpoint = env("KOODRIVE_ENDPOINT"), user_id = env("KOODRIVE_USER_ID"),
      token = env("KOODRIVE_TOKEN"), app_id = env("KOODRIVE_APP_ID"), app_secret = env("KOODRIVE_APP_SECRET"),
      transport = koodrive.transport.haproxy(), timeout = 10,
      retries = { max_attempts = 3, base_delay = 0.2 } })
  end
  return client
end

local function reply(applet, status, body)
  local text = json.encode(body)
  applet:set_status(status)
  applet:add_header("content-type", "application/json")
  applet:add_header("content-length", #text)
  applet:start_response()
  applet:send(text)
end

local function outcome(list, err)
  if list then return { ok = true, count = #list } end
  return { ok = false, kind = err.kind, message = tostring(err) }
end

core.register_service("koodrive_devices", "http", function(applet)
  reply(applet, 200, outcome(kd().devices:list()))
end)

-- Two lists at once (koodrive.batch over HAProxy tasks): both results, item by item.
core.register_service("koodrive_batch", "http", function(applet)
  local c = kd()
  local t0 = core.now()
  local results = assert(koodrive.batch({ 1, 2 }, function() return c.devices:list() end,
    { concurrency = 2 }))
  local t1 = core.now()
  local out = { elapsed = (t1.sec - t0.sec) + (t1.usec - t0.usec) / 1e6 }
  for i, r in ipairs(results) do out[i] = outcome(r[1], r[2]) end
  reply(applet, 200, out)
end)

-- A call the service first answers with 503: retried after a backoff on HAProxy's timers.
core.register_service("koodrive_retry", "http", function(applet)
  reply(applet, 200, outcome(kd().devices:list()))
end)

core.register_service("koodrive_ping", "http", function(applet)
  reply(applet, 200, { pong = true })
end)
