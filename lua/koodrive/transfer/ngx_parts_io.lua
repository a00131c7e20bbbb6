--- One transfer of koodrive.transfer.ngx_parts on an nginx cosocket, run inside a light thread:
-- connect (within connect_timeout), TLS for https (verified unless insecure), the request head
-- (Host and Content-Length for a PUT, Host and Range for a ranged GET: nothing else goes to an
-- object store), a PUT body streamed from the file (or a `data` slice) in CHUNK-sized pieces,
-- the answer's head read with koodrive.transport.ngx.http1's reader and limits, and a 2xx GET
-- body written in CHUNK-sized pieces at the offset. Memory per transfer is a few chunks,
-- whatever the part's size. The range checks are the C engine's (src/parts_io.c): 200 to a
-- ranged request past 0 is range_ignored, a 206 whose Content-Range does not start at the
-- offset is range_mismatch; besides, a GET never writes past offset + size. A connection
-- whose answer was read to its end is kept alive for the next part (as libcurl does).
-- Internal: not part of the API.
local core = require "koodrive.core"
local connect = require "koodrive.transport.ngx.connect"
local http1 = require "koodrive.transport.ngx.http1"
local parse_url = require("koodrive.transport.ngx").parse_url

local ngx = ngx -- luacheck: ignore (the global of nginx's Lua module; nil elsewhere)

local M = {}

M.CHUNK = 64 * 1024 -- bytes read from (or written to) the file at a time
local MAX_HEADER_BYTES = connect.MAX_HEADER_BYTES
local PUT_BODY_KEPT = 64 * 1024 -- bytes of a 2xx PUT answer's body read (and dropped) at most
local NO_LIMIT_MS = 86400 * 1000
-- Tries of a part whose pooled connection failed before any answer byte: one more (a store
-- that resets on purpose is the flow's business, retried with backoff).
local MAX_STALE = 2


local min, floor = math.min, math.floor

-- The first failure is the one reported (as in the C engine).
local function fail(job, reason, message)
  if not job.reason then job.reason, job.message = reason, message end
  return false
end

local function ms(seconds) return math.max(1, floor(seconds * 1000 + 0.5)) end

-- Deadlines of one transfer: connect within connect_timeout, every send or receive within
-- low_speed_time (no byte for that long: a stalled peer), the whole within `timeout`.
local function clock_for(cfg)
  ngx.update_time()
  local start = ngx.now()
  local c = {}
  function c.left()
    if not cfg.timeout then return math.huge end
    ngx.update_time()
    return cfg.timeout - (ngx.now() - start)
  end
  function c.connect_ms() return ms(math.max(0.001, min(cfg.connect_timeout, c.left()))) end
  function c.io_ms()
    local s = min(cfg.low_speed_time or math.huge, c.left())
    if s == math.huge then return NO_LIMIT_MS end
    return min(NO_LIMIT_MS, ms(math.max(0.001, s)))
  end
  return c
end

-- A socket error word as the engine's reason: timeout, or reset (the peer closed or broke the
-- connection mid-exchange).
local function io_reason(err)
  if err == "timeout" then return "timeout" end
  return "reset"
end

-- Opens the file a GET writes to, creating it (like open(O_WRONLY|O_CREAT)) but never
-- truncating it: other ranges of the same file are written by other transfers.
local function open_for_write(path)
  -- Lua's io has no O_NOFOLLOW (the C engine's open has): a link at the part file's name is
  -- refused here instead, so the bytes never go where a link planted there points.
  local st = core.stat(path, true)
  if st and st.type == "link" then return nil, path .. ": is a symbolic link" end
  local f = io.open(path, "r+b")
  if f then return f end
  local created, msg = io.open(path, "ab")
  if not created then return nil, msg end
  created:close()
  return io.open(path, "r+b")
end

-- The part's bytes, CHUNK at a time: a function returning the next piece, "" at the end, or
-- nil after recording a read failure.
local function body_source(job)
  local left = job.size
  if job.data then
    local pos = job.offset + 1
    return function()
      if left == 0 then return "" end
      local n = min(M.CHUNK, left)
      local piece = job.data:sub(pos, pos + n - 1)
      pos, left = pos + n, left - n
      return piece
    end
  end
  local f = job.file
  return function()
    if left == 0 then return "" end
    local piece, msg = f:read(min(M.CHUNK, left))
    if not piece then
      fail(job, "read", msg and ("reading the part: " .. msg) or "the file ended before the part's end (it shrank)")
      return nil
    end
    left = left - #piece
    return piece
  end
end

-- The first body bytes of a 2xx GET: is this the range asked for? (src/parts_io.c)
local function check_answer(job)
  job.checked = true
  if not job.range then return true end
  if job.status == 200 and job.offset > 0 then
    return fail(job, "range_ignored", "the server answered 200 (the whole file) to a ranged request")
  end
  if job.status == 206 then
    local want = "bytes " .. string.format("%d", job.offset) .. "-"
    if (job.content_range or ""):sub(1, #want):lower() ~= want then
      return fail(job, "range_mismatch", "the 206 answer's Content-Range is not the range asked")
    end
  end
  return true
end

-- Where the answer's body goes: a function(piece) -> true to go on, false to stop reading.
local function body_sink(job, cfg, count)
  local is_2xx = job.status >= 200 and job.status < 300
  if not is_2xx or job.put then
    local kept, n, cap = {}, 0, is_2xx and PUT_BODY_KEPT or cfg.max_error_body
    return function(piece)
      if not is_2xx and n < cap then kept[#kept + 1] = piece:sub(1, cap - n) end
      n = n + #piece
      if not is_2xx then job.body = table.concat(kept) end
      return n < cap -- past the cap the rest is dropped unread (the connection is closed)
    end
  end
  job.body = nil
  return function(piece)
    if job.cancelled then return false end
    if not job.checked and not check_answer(job) then return false end
    if job.size and job.done + #piece > job.size then
      -- a 200 from 0 is a store that ignored Range: the caller restarts, not fails
      return fail(job, job.range and job.status == 200 and "range_ignored" or "range_mismatch",
        "the answer is longer than the " .. job.size .. " bytes asked")
    end
    local ok, msg = job.file:write(piece)
    if not ok then return fail(job, "write", "writing the file: " .. tostring(msg)) end
    job.done = job.done + #piece
    count(#piece)
    return true
  end
end

-- Reads the answer's body into `sink`; true (whole, or the sink stopped), or false after
-- recording the failure.
local function read_body(job, conn, sink_to, clock)
  local sock, headers = conn.sock, job.headers
  -- A body the sink stopped reading is not read to its end: its connection is not reused.
  local function sink(piece)
    if sink_to(piece) then return true end
    job.stopped = true
    return false
  end
  local function step_timeouts() sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms()) end
  local function broken(err, what)
    return fail(job, io_reason(err), (what or "reading the answer body") .. " from " .. job.authority ..
      " failed: " .. tostring(err))
  end
  if job.status == 204 or job.status == 304 then return true end
  local te = headers["transfer-encoding"]
  if te and te:lower():match("chunked%s*$") then
    while true do
      step_timeouts()
      local line, err = http1.read_line(conn, 1024)
      if not line then
        if err == "too_large" then return fail(job, "transport", "bad chunk size line from " .. job.authority) end
        return broken(err)
      end
      local hex = line:match("^%s*(%x+)%s*;") or line:match("^%s*(%x+)%s*$")
      if not hex or #hex > 12 then return fail(job, "transport", "bad chunk size line from " .. job.authority) end
      local size = tonumber(hex, 16)
      if size == 0 then
        local trailers, terr = http1.read_headers(conn, MAX_HEADER_BYTES)
        if not trailers then
          if terr == "too_large" then return fail(job, "too_large", "the response trailers are too large") end
          return broken(terr)
        end
        return true
      end
      while size > 0 do
        step_timeouts()
        local data, rerr, partial = sock:receive(min(M.CHUNK, size))
        data = data or partial
        if data and #data > 0 and not sink(data) then return true end
        if rerr then return broken(rerr) end
        size = size - #data
      end
      local crlf, cerr = http1.read_line(conn, 2)
      if crlf == nil and cerr ~= "too_large" then return broken(cerr) end
      if crlf ~= "" then return fail(job, "transport", "bad chunk terminator from " .. job.authority) end
    end
  end
  local length = job.content_length
  if length then
    while length > 0 do
      step_timeouts()
      local data, err, partial = sock:receive(min(M.CHUNK, length))
      data = data or partial
      if data and #data > 0 and not sink(data) then return true end
      if err then return broken(err) end
      length = length - #data
    end
    return true
  end
  job.until_close = true
  while true do -- delimited by the server closing the connection
    step_timeouts()
    local data, err = sock:receiveany(M.CHUNK)
    if not data then
      if err == "closed" then return true end
      return broken(err)
    end
    if not sink(data) then return true end
  end
end

-- Reads the status line and headers (skipping 1xx interim answers) into job; true or false.
local function read_head(job, conn, clock)
  local sock = conn.sock
  repeat
    sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
    local line, err = http1.read_line(conn, 8192)
    if not line then
      if err == "too_large" then return fail(job, "too_large", "the status line is too long") end
      return fail(job, io_reason(err), "reading the answer from " .. job.authority .. " failed: " .. tostring(err))
    end
    job.answered = true
    local version, code = line:match("^HTTP/(%d%.%d) (%d%d%d)")
    if not code then
      return fail(job, "transport", "not an HTTP/1.x answer from " .. job.authority .. ": " .. line:sub(1, 80))
    end
    job.status, job.version = tonumber(code), version
    local headers, herr = http1.read_headers(conn, MAX_HEADER_BYTES)
    if not headers then
      job.status = 0
      if herr == "too_large" then return fail(job, "too_large", "the response headers are too large") end
      if herr == "malformed header line" then
        return fail(job, "transport", "malformed header line from " .. job.authority)
      end
      return fail(job, io_reason(herr), "reading the answer from " .. job.authority .. " failed: " .. tostring(herr))
    end
    job.headers = headers
  until job.status >= 200 or job.status == 101
  if job.status == 101 then return fail(job, "transport", "101 Switching Protocols from " .. job.authority) end
  local h = job.headers
  job.etag, job.content_range = h.etag, h["content-range"]
  if h["content-length"] then
    local length
    for v in h["content-length"]:gmatch("[^,]+") do
      local n = v:match("^%s*(%d+)%s*$")
      if not n or #n > 15 or (length and tonumber(n) ~= length) then
        return fail(job, "transport", "invalid Content-Length from " .. job.authority)
      end
      length = tonumber(n)
    end
    job.content_length = length
  end
  return true
end

-- Connects (and shakes hands for https); true or false.
local function open_connection(job, cfg, clock, u)
  local sock, serr = ngx.socket.tcp()
  if not sock then return fail(job, "transport", "cannot create a socket: " .. tostring(serr)) end
  job.sock = sock
  local host = connect.strip_brackets(u.host)
  local is_ip = host:match("^[%d.]+$") or host:find(":", 1, true)
  sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
  local verify = not cfg.insecure
  local sni = not is_ip and host or nil
  -- Pools of this engine's own (one per scheme, host, port, TLS name and verification mode),
  -- holding only connections whose last answer was read to its end.
  local pool = connect.pool_name(u.scheme, u.host, u.port, sni, verify) .. "|parts"
  local ok, err = connect.connect_within(function()
    return sock:connect(u.host, u.port, { pool = pool })
  end, is_ip, clock)
  if not ok then
    if err == "timeout" or (err and err:find("timed out", 1, true)) then
      return fail(job, "timeout", "connect to " .. u.authority .. " timed out" .. connect.resolving(is_ip))
    end
    return fail(job, "connect", "connect to " .. u.authority .. " failed: " .. tostring(err))
  end
  job.reused = sock:getreusedtimes() or 0
  if u.scheme == "https" and job.reused == 0 then
    local session, herr = sock:sslhandshake(nil, sni, verify)
    if not session then
      if herr == "timeout" then return fail(job, "timeout", "TLS handshake with " .. u.authority .. " timed out") end
      return fail(job, "tls", "TLS handshake with " .. u.authority .. " failed: " .. tostring(herr) ..
        (verify and " (cosockets trust nginx's lua_ssl_trusted_certificate; ca_file cannot apply)" or ""))
    end
  end
  return true
end

-- One exchange of the transfer on one connection; true, or false with the failure recorded.
local function exchange(job, cfg, count, u, target, clock)
  job.answered, job.stopped, job.until_close, job.reused = false, false, false, nil
  if not open_connection(job, cfg, clock, u) or job.cancelled then return false end
  local sock, authority = job.sock, u.authority

  local lines = { job.method .. " " .. target .. " HTTP/1.1", "Host: " .. authority }
  if job.put then
    lines[#lines + 1] = "Content-Length: " .. string.format("%d", job.size)
  elseif job.range then
    lines[#lines + 1] = "Range: bytes=" .. string.format("%d", job.offset) .. "-" ..
      (job.size and string.format("%d", job.offset + job.size - 1) or "")
  end
  lines[#lines + 1] = "\r\n"
  sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
  local sent, werr = sock:send(table.concat(lines, "\r\n"))
  if not sent then return fail(job, io_reason(werr), "sending to " .. authority .. " failed: " .. tostring(werr)) end
  if job.put then
    local next_piece = body_source(job)
    while true do
      if job.cancelled then return false end
      local piece = next_piece()
      if not piece then return false end
      if piece == "" then break end
      sock:settimeouts(clock.connect_ms(), clock.io_ms(), clock.io_ms())
      sent, werr = sock:send(piece)
      if not sent then
        -- The store may have answered (and closed) before taking the whole body: its answer
        -- says more than the broken pipe does.
        fail(job, io_reason(werr), "sending the part to " .. authority .. " failed: " .. tostring(werr))
        break
      end
      job.done = job.done + #piece
      count(#piece)
    end
  end

  local send_failed = job.reason
  if send_failed == "timeout" then return false end
  local conn = { sock = sock, line_reader = sock:receiveuntil("\n") }
  if not read_head(job, conn, clock) then return false end -- (a send failure stays the reason)
  if send_failed then job.reason, job.message = nil, nil end -- an answer came: it is the outcome
  if job.status < 200 or job.status >= 300 then job.body = "" end
  local ok = read_body(job, conn, body_sink(job, cfg, count), clock)
  -- Kept for the next part when this answer was read to its end and may be followed by another.
  if ok and not send_failed and not job.reason and not job.stopped and not job.until_close and job.version == "1.1"
      and not http1.has_token(job.headers.connection, "close") then
    if sock:setkeepalive() then job.sock = nil end
  end
  return ok
end

--- Runs one transfer to its end, recording on `job` what the C engine reports (status, done,
-- etag, content_range, content_length, body, reason, message). `count(n)` adds moved bytes
-- to the engine's progress. The caller closes job.sock and job.file afterwards.
function M.run(job, cfg, count)
  local scheme, host, port, target, authority = parse_url(job.url)
  if not scheme then return fail(job, "transport", "not an absolute http(s) URL") end
  job.authority = authority
  local u = { scheme = scheme, host = host, port = port, authority = authority }
  if job.put and not job.data then
    local f, msg = io.open(job.path, "rb")
    if not f then return fail(job, "read", msg) end
    job.file = f
    local pos, serr = f:seek("set", job.offset)
    if not pos then return fail(job, "read", "reading the part: " .. tostring(serr)) end
  elseif not job.put then
    local f, msg = open_for_write(job.path)
    if not f then return fail(job, "write", msg) end
    job.file = f
    f:setvbuf("no") -- every write reaches the file at once, so its failure is seen here
    local pos, serr = f:seek("set", job.offset)
    if not pos then return fail(job, "write", "writing the file: " .. tostring(serr)) end
  end
  local clock = clock_for(cfg)
  for _ = 1, MAX_STALE do
    local ok = exchange(job, cfg, count, u, target, clock)
    if ok or job.cancelled or job.reused == 0 or job.answered or job.reason ~= "reset" then return ok end
    -- A pooled connection the store had closed meanwhile (it failed before any answer
    -- byte): the part again, from its start, on another connection.
    if job.sock then pcall(job.sock.close, job.sock); job.sock = nil end
    count(-job.done)
    job.done, job.status, job.reason, job.message, job.headers, job.body = 0, 0, nil, nil, nil, nil
    if job.file then job.file:seek("set", job.offset) end
  end
  return false
end

return M
