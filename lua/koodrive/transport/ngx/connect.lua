--- Connecting for koodrive.transport.ngx, shared by its two backends: the transport errors
-- (nginx's failures have reasons, not libcurl codes), the request's clock (connect and I/O
-- timeouts out of its total `timeout`), the per-worker cosocket pool names, and the bound on
-- a host name's resolution (a light thread, since no socket timeout bounds nginx's resolver).
-- Internal: not part of the API.
local failures = require "koodrive.transport.failures"

local ngx = ngx -- luacheck: ignore (the global of nginx's Lua module; nil elsewhere)

local M = {}

M.MAX_HEADER_BYTES = 256 * 1024
local DEFAULT_OP_TIMEOUT = 60 -- seconds, for a request without timeouts (nginx's own default)
M.READ_CHUNK = 64 * 1024

--------------------------------------------------------------------------------------------
-- Errors, mapped as the curl transport maps libcurl's
--------------------------------------------------------------------------------------------

-- The one constructor of transport errors (koodrive.transport.failures): nginx's failures
-- have reasons, not libcurl codes.
local function failure(reason, message)
  return nil, failures.new(reason, message)
end

local function too_large(max_body)
  return failure("too_large", "response body larger than the " .. max_body .. " byte limit")
end

--------------------------------------------------------------------------------------------
-- Timeouts
--------------------------------------------------------------------------------------------

--- Milliseconds for a cosocket timeout: at least 1, whole.
local function ms(seconds) return math.max(1, math.floor(seconds * 1000 + 0.5)) end

--- A deadline keeper for one request: connect/TLS get min(connect_timeout, time left),
-- send and receive get the time left of the request's total `timeout` (curl's semantics).
local function clock_for(request)
  ngx.update_time()
  local start = ngx.now()
  local total = tonumber(request.timeout)
  if total and total <= 0 then total = nil end
  local connect = tonumber(request.connect_timeout)
  if not connect or connect <= 0 then connect = DEFAULT_OP_TIMEOUT end
  local c = {}
  function c.left()
    if not total then return DEFAULT_OP_TIMEOUT end
    return total - (ngx.now() - start)
  end
  function c.expired() return total ~= nil and c.left() <= 0 end
  function c.connect_ms() return ms(math.max(0.001, math.min(connect, c.left()))) end
  function c.io_ms() return ms(math.max(0.001, c.left())) end
  function c.timeout_message(what)
    if total then
      return string.format("%s timed out: the request's %gs timeout elapsed", what, total)
    end
    return what .. " timed out"
  end
  return c
end

--------------------------------------------------------------------------------------------
-- Pools and connecting
--------------------------------------------------------------------------------------------

local function pool_name(scheme, host, port, sni, verify)
  local name = "koodrive:" .. scheme .. "://" .. host .. ":" .. port
  if scheme == "https" then name = name .. "|" .. (sni or "") .. "|" .. (verify and "v" or "nv") end
  return name
end

local function strip_brackets(host) return (host:gsub("^%[(.*)%]$", "%1")) end

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
