--- The parts engine over nginx cosockets: the interface of the C engine koodrive.curl.parts
-- (src/parts.c) for a caller inside nginx (a request handler or timer), where libcurl's
-- multi handle would block the worker. koodrive.transfer.engine.new_parts picks it there.
--
--   local e = ngx_parts.new { concurrency = 4, connect_timeout = 5, timeout = nil,
--     low_speed_time = 60, insecure = false, max_error_body = 65536 }
--   e:add { id = 1, method = "PUT", url = u, path = p, offset = 0, size = n }
--   e:add { id = 2, method = "GET", url = u, path = p, offset = 0, size = n, range = true }
--   local finished = e:poll(0.05) -- { { id, status, bytes, etag, content_range,
--                                 --     content_length, body, error = { reason, message, code } } }
--   e:pending(), e:running(), e:progress([id]), e:cancel(id), e:close()
--
-- Each transfer runs in an ngx.thread light thread on its own ngx.socket.tcp connection
-- (koodrive.transfer.ngx_parts_io), the file read or written 64 KiB at a time. At most
-- `concurrency` run; the rest wait in a FIFO and hold nothing until poll starts them.
-- poll(seconds) waits on a semaphore the transfers post when they end, so the worker serves
-- other requests meanwhile; poll(0) never waits. progress() counts every body byte moved (a
-- failed or cancelled transfer's bytes stay counted). Failure reasons are the C engine's:
-- read, write, range_ignored, range_mismatch, reset, timeout, connect, tls, too_large,
-- transport; error.code is 0 (there is no libcurl code).
--
-- Differences from the C engine, all from cosockets: ca_file cannot apply (the trusted CAs
-- are nginx's lua_ssl_trusted_certificate); connections go back to nginx's cosocket pools
-- (lua_socket_pool_size, lua_socket_keepalive_timeout) only after an answer read to its end,
-- and a part whose pooled connection the store had closed is sent again on another; the
-- light threads belong to the coroutine that called poll, so one engine is driven from
-- one coroutine (cancel and close from another one stop a transfer at its next chunk).
local io_part = require "koodrive.transfer.ngx_parts_io"

local ngx = ngx -- luacheck: ignore (the global of nginx's Lua module; nil elsewhere)

local M = {}

local MAX_CONCURRENCY = 256
local DEFAULT_CONNECT = 300 -- seconds, libcurl's default connect timeout
local NO_SEMAPHORE_STEP = 0.005 -- seconds between two looks when ngx.semaphore is missing

local Parts = {}
Parts.__index = Parts
Parts.__name = "koodrive.ngx_parts"

local function check_open(self)
  if getmetatable(self) ~= Parts then error("bad argument #1 (koodrive.ngx_parts expected)", 3) end
  if not self.open then error("attempt to use a closed parts engine", 3) end
  return self
end

local function whole(t, k, required)
  local v = t[k]
  if v == nil and not required then return nil end
  if type(v) ~= "number" or v < 0 or v > 9007199254740992 or v % 1 ~= 0 then
    error("parts: field '" .. k .. "' must be a whole number >= 0", 3)
  end
  return v
end

local function text(t, k, required)
  local v = t[k]
  if v == nil and not required then return nil end
  if type(v) ~= "string" or v == "" or v:find("\0", 1, true) then
    error("parts: field '" .. k .. "' must be a non-empty string without NUL", 3)
  end
  return v
end

-- Closes what a transfer holds; safe more than once, and from any coroutine (a socket busy
-- in another coroutine refuses: that transfer closes it itself when it ends).
local function release(job)
  if job.sock then
    if pcall(job.sock.close, job.sock) then job.sock = nil end
  end
  if job.file then
    pcall(job.file.close, job.file)
    job.file = nil
  end
end

-- The C engine's result table (src/parts_table.c).
local function result(job)
  local r = { id = job.id, status = job.status, bytes = job.done, etag = job.etag,
    content_range = job.content_range, content_length = job.content_length }
  if job.status ~= 0 and not (job.status >= 200 and job.status < 300) then r.body = job.body or "" end
  if job.reason then r.error = { reason = job.reason, message = job.message, code = 0 } end
  return r
end

local function finish(self, job)
  if self.live[job] then
    self.live[job] = nil
    self.nrunning = self.nrunning - 1
  end
  job.state = "done"
  self.done[#self.done + 1] = job
end

-- Starts queued transfers, oldest first, while fewer than `concurrency` run.
local function start_queued(self)
  while self.nrunning < self.concurrency and self.qhead <= self.qtail do
    local job = self.queue[self.qhead]
    self.queue[self.qhead] = nil
    self.qhead = self.qhead + 1
    if job.state == "queued" then
      self.nqueued = self.nqueued - 1
      job.state = "running"
      self.live[job] = true
      self.nrunning = self.nrunning + 1
      local count = function(n) self.bytes = self.bytes + n end
      local thread, err = ngx.thread.spawn(function()
        local ok, why = pcall(io_part.run, job, self.cfg, count)
        if not ok then
          job.reason = job.reason or "transport"
          job.message = job.message or ("the transfer failed: " .. tostring(why))
        end
        job.ended = true
        release(job)
        -- Handed over by the next poll (as the C engine does): until then the transfer still
        -- counts as running, so pending() never drops before its result is reported.
        if job.state == "running" then
          self.ended[#self.ended + 1] = job
          if self.sema then self.sema:post(1) end
        end
      end)
      if not thread then
        job.reason, job.message = "transport", "ngx.thread.spawn failed: " .. tostring(err)
        release(job)
        finish(self, job)
      else
        job.thread = thread
      end
    end
  end
end

-- Moves the transfers whose light threads ended to the done list.
local function reap(self)
  local ended = self.ended
  if #ended == 0 then return end
  self.ended = {}
  for _, job in ipairs(ended) do
    if job.state == "running" then finish(self, job) end
  end
end

-- Hands the finished transfers over (as result tables), reaping their light threads.
local function collect(self)
  local out = {}
  for i, job in ipairs(self.done) do
    if job.thread then pcall(ngx.thread.wait, job.thread) end
    out[i] = result(job)
  end
  self.done = {}
  return out
end

--- e:poll(seconds) -> array of finished transfers (maybe empty). Waits at most `seconds`
-- (0: never), yielding to nginx, and returns as soon as one transfer has finished.
function Parts:poll(seconds)
  check_open(self)
  seconds = seconds == nil and 0 or seconds
  if type(seconds) ~= "number" or not (seconds >= 0 and seconds <= 86400) then
    error("bad argument #2 to 'poll' (seconds must be between 0 and 86400)", 2)
  end
  reap(self)
  start_queued(self)
  reap(self)
  if #self.done == 0 and self.nrunning > 0 and seconds > 0 then
    ngx.update_time()
    local deadline = ngx.now() + seconds
    while #self.ended == 0 and self.nrunning > 0 and self.open do
      ngx.update_time()
      local left = deadline - ngx.now()
      if left <= 0 then break end
      if self.sema then self.sema:wait(left) else ngx.sleep(math.min(left, NO_SEMAPHORE_STEP)) end
    end
    if not self.open then error("attempt to use a closed parts engine", 2) end
    reap(self)
    start_queued(self)
    reap(self)
  end
  return collect(self)
end

--- e:add{ id, method = "PUT"|"GET", url, path | data, offset, size, range } -> true
function Parts:add(t)
  check_open(self)
  if type(t) ~= "table" then error("bad argument #2 to 'add' (table expected, got " .. type(t) .. ")", 2) end
  local id = whole(t, "id", true)
  local method = t.method
  if method ~= "PUT" and method ~= "GET" then error('parts: method must be "PUT" or "GET"', 2) end
  local put = method == "PUT"
  local offset = whole(t, "offset", true)
  local size = whole(t, "size", put)
  local range = not put and t.range and true or false
  if range and size == 0 then error("parts: a ranged GET needs size > 0 (or no size)", 2) end
  local url = text(t, "url", true)
  local data, path = t.data, nil
  if put and type(data) == "string" then
    if offset > #data or size > #data - offset then error("parts: offset + size is past the end of data", 2) end
  elseif data ~= nil then
    error("parts: field 'data' must be a string (PUT only)", 2)
  else
    path = text(t, "path", true)
  end
  local job = { id = id, method = method, put = put, url = url, path = path, data = data,
    offset = offset, size = size, range = range, done = 0, status = 0, state = "queued" }
  self.qtail = self.qtail + 1
  self.queue[self.qtail] = job
  self.nqueued = self.nqueued + 1
  return true
end

function Parts:pending()
  check_open(self)
  return self.nqueued + self.nrunning
end

function Parts:running() return check_open(self).nrunning end

--- e:progress() -> body bytes moved by every transfer; e:progress(id) -> those of a running
-- transfer so far (a GET's: written from its offset on, without a gap), nil when not running.
function Parts:progress(id)
  check_open(self)
  if id == nil then return self.bytes end
  for job in pairs(self.live) do
    if job.id == id then return job.done end
  end
  return nil
end

-- Stops a running transfer: its light thread killed (when this coroutine started it), its
-- socket and file closed. One that cannot be killed from here stops at its next chunk.
local function stop(self, job)
  job.state = "cancelled"
  job.cancelled = true
  if self.live[job] then
    self.live[job] = nil
    self.nrunning = self.nrunning - 1
  end
  if job.thread and not job.ended then pcall(ngx.thread.kill, job.thread)
  elseif job.thread then pcall(ngx.thread.wait, job.thread) end
  release(job)
end

--- e:cancel(id) -> true if a queued, running or unreported transfer was dropped.
function Parts:cancel(id)
  check_open(self)
  for i = self.qhead, self.qtail do
    local job = self.queue[i]
    if job and job.id == id and job.state == "queued" then
      job.state = "cancelled"
      self.nqueued = self.nqueued - 1
      return true
    end
  end
  for job in pairs(self.live) do
    if job.id == id then stop(self, job); return true end
  end
  for i, job in ipairs(self.done) do
    if job.id == id then
      if job.thread then pcall(ngx.thread.wait, job.thread) end
      table.remove(self.done, i)
      return true
    end
  end
  return false
end

--- Aborts what is in flight and drops everything; safe to call more than once.
function Parts:close()
  if getmetatable(self) ~= Parts then error("bad argument #1 (koodrive.ngx_parts expected)", 2) end
  if not self.open then return end
  self.open = false
  local list = {}
  for job in pairs(self.live) do list[#list + 1] = job end
  for _, job in ipairs(list) do stop(self, job) end
  for _, job in ipairs(self.done) do
    if job.thread then pcall(ngx.thread.wait, job.thread) end
  end
  self.queue, self.done, self.live, self.ended = {}, {}, {}, {}
  self.qhead, self.qtail, self.nrunning, self.nqueued = 1, 0, 0, 0
  if self.sema then self.sema:post(1) end -- a poll of another coroutine wakes and sees it closed
end

function Parts.__tostring(e)
  if not e.open then return "koodrive.ngx_parts (closed)" end
  return string.format("koodrive.ngx_parts (%d running, %d queued)", e.nrunning, e.nqueued)
end

local function seconds_opt(opts, k, dflt)
  local v = opts[k]
  if v == nil then return dflt end
  if type(v) ~= "number" or not (v >= 0 and v <= 86400) then
    error("parts: option '" .. k .. "' must be between 0 and 86400 seconds", 3)
  end
  return v
end

--- Creates an engine; opts as koodrive.curl.parts takes them (ca_file is accepted and cannot
-- apply: see above).
function M.new(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'parts' (table expected, got " .. type(opts) .. ")", 2) end
  local c = opts.concurrency == nil and 4 or opts.concurrency
  if type(c) ~= "number" or c < 1 or c > MAX_CONCURRENCY or c % 1 ~= 0 then
    error("parts: concurrency must be a whole number 1..256", 2)
  end
  local max_body = opts.max_error_body == nil and 65536 or opts.max_error_body
  if type(max_body) ~= "number" or not (max_body >= 0 and max_body <= 16777216) then
    error("parts: max_error_body must be 0..16 MiB", 2)
  end
  if opts.ca_file ~= nil and type(opts.ca_file) ~= "string" then error("parts: ca_file must be a string", 2) end
  if type(ngx) ~= "table" or type(ngx.thread) ~= "table" or type(ngx.socket) ~= "table" then
    error("koodrive.transfer.ngx_parts works inside nginx only (cosockets and light threads)", 2)
  end
  -- libcurl's meanings: a connect timeout of 0 is its default, a timeout of 0 none, a
  -- low_speed_time of 0 no stall limit.
  local connect_timeout = seconds_opt(opts, "connect_timeout", DEFAULT_CONNECT)
  local timeout = seconds_opt(opts, "timeout", nil)
  local low_speed = seconds_opt(opts, "low_speed_time", 60)
  local cfg = { connect_timeout = connect_timeout > 0 and connect_timeout or DEFAULT_CONNECT,
    timeout = timeout and timeout > 0 and timeout or nil, low_speed_time = low_speed > 0 and low_speed or nil,
    insecure = opts.insecure and true or false, max_error_body = max_body }
  local sema
  local ok, semaphore = pcall(require, "ngx.semaphore")
  if ok and type(semaphore) == "table" and semaphore.new then sema = semaphore.new(0) end
  -- waits: poll(seconds) yields to nginx while it waits (engine.drive need not sleep too)
  return setmetatable({ waits = true, open = true, cfg = cfg, concurrency = c, queue = {}, qhead = 1, qtail = 0,
    nqueued = 0, live = {}, nrunning = 0, ended = {}, done = {}, bytes = 0, sema = sema }, Parts)
end

return M
