-- bench/latency_ngx.lua - the OpenResty row of bench/latency.sh: a content handler (Debian's
-- nginx + libnginx-mod-http-lua, one worker of its own) that runs N light threads, each calling
-- devices:list() through koodrive's ngx transport (cosockets) against the 20 ms server until
-- the time is up, and answers "lat_ngx<N> <calls/s>".
-- GET /run?port=P&n=N&seconds=S
local koodrive = require "koodrive"

local ngx = ngx -- luacheck: ignore (nginx's global)

local function now()
  ngx.update_time()
  return ngx.now()
end

return function()
  local args = ngx.req.get_uri_args()
  local port, n, seconds = tonumber(args.port), tonumber(args.n), tonumber(args.seconds)
  -- pool_size = N: with fewer kept connections every call above the pool would open a new one.
  local client = assert(koodrive.new { endpoint = "http://127.0.0.1:" .. port,
    user_id = "1505084218764547200", token = "bench-token", retries = false,
    transport = koodrive.transport.ngx { pool_size = n } })
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
  local function pass(secs)
    deadline = now() + secs
    local threads = {}
    for i = 1, n do threads[i] = assert(ngx.thread.spawn(task)) end
    for i = 1, n do ngx.thread.wait(threads[i]) end
  end
  pass(0.5) -- opens the N connections
  calls, failures = 0, 0
  local t0 = now()
  pass(seconds)
  local elapsed = now() - t0
  if failures > 0 or calls == 0 then
    ngx.status = 500
    ngx.say(failures, " failed calls (", tostring(last_err), ")")
    return
  end
  ngx.say(("lat_ngx%d %.1f"):format(n, calls / elapsed))
end
