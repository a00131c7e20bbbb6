--- Connecting for koodrive.transport.ngx, shared by its two backends: the transport errors
-- (nginx's failures have reasons, not libcurl codes), the request's clock (connect and I/O
-- timeouts out of its total `timeout`), the per-worker cosocket pool names, and the bound on
-- a host name's resolution (a light thread, since no socket timeout bounds nginx's resolver).
-- Internal: not part of the API.
local http1 = require "koodrive.transport.http1"

local ngx = ngx -- luacheck: ignore (the global of nginx's Lua module; nil elsewhere)

local M = {}

M.MAX_HEADER_BYTES, M.READ_CHUNK = http1.MAX_HEADER_BYTES, http1.READ_CHUNK

--------------------------------------------------------------------------------------------
-- Errors, mapped as the curl transport maps libcurl's
--------------------------------------------------------------------------------------------

-- The one constructor of transport errors (koodrive.transport.failures): nginx's failures
-- have reasons, not libcurl codes.
local failure, too_large = http1.failure, http1.too_large

--------------------------------------------------------------------------------------------
-- Timeouts
--------------------------------------------------------------------------------------------

local ms = http1.ms

--- The request's clock (koodrive.transport.http1.clock) on nginx's cached time.
local function clock_for(request)
  ngx.update_time()
  return http1.clock(request, ngx.now)
end

--------------------------------------------------------------------------------------------
-- Pools and connecting
--------------------------------------------------------------------------------------------

local function pool_name(scheme, host, port, sni, verify)
  local name = "koodrive:" .. scheme .. "://" .. host .. ":" .. port
  if scheme == "https" then name = name .. "|" .. (sni or "") .. "|" .. (verify and "v" or "nv") end
  return name
end

local strip_brackets = http1.strip_brackets

-- Words added to a connect timeout of a host name: the time bounded name resolution too.
local function resolving(is_ip) return is_ip and "" or " (name resolution included)" end

--- Runs connect() (a cosocket connect, which resolves a host name first) within the call's
-- connect time. nginx resolves with its own `resolver_timeout` (30 s by default), which no
-- socket timeout bounds: for a host name the connect runs in a light thread, and a second one
-- that sleeps the connect time ends it. Returns connect()'s results, or nil and "timeout".
-- An IP address needs no resolver: connected right here.
local function connect_within(connect, is_ip, clock)
  if is_ip then return connect() end
  local outcome
  local spawned, worker = pcall(ngx.thread.spawn, function()
    local ok, err = connect()
    outcome = { ok, err }
  end)
  if not spawned or not worker then return connect() end -- no light threads in this phase
  if outcome then -- finished without waiting (a pooled connection): reap the thread
    ngx.thread.wait(worker)
    return outcome[1], outcome[2]
  end
  local limit = clock.connect_ms() / 1000
  local timer = ngx.thread.spawn(function() ngx.sleep(limit) end)
  ngx.thread.wait(worker, timer)
  if outcome then
    ngx.thread.kill(timer)
    return outcome[1], outcome[2]
  end
  ngx.thread.kill(worker)
  return nil, "timeout"
end

M.failure, M.too_large, M.ms, M.clock_for = failure, too_large, ms, clock_for
M.pool_name, M.strip_brackets, M.resolving, M.connect_within = pool_name, strip_brackets, resolving,
  connect_within

return M
