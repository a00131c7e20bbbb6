-- A hostile HTTP server for spec/hostile_server_spec.lua: it works out the correct answer to
-- each KooDrive / IoTDA request, then serves it mutated - bad chunking, wrong lengths, 1xx,
-- close-delimited and truncated bodies, deep nesting, 1e999, duplicate keys, wrong types,
-- answers about other ids, echoed credentials, header floods, slow trickles, NUL and garbage
-- after the JSON. The mutation is chosen by a seeded generator, and logged per X-Traceid so
-- the spec can tell which answers no client may take as a success.
--
--   local hostile = require "support.hostile_server"
--   local server = hostile.start { seed = 7 }   -- { port, url, pid, log(), stop() }
--
-- Run as a script (`lua5.4 spec/support/hostile_server.lua --serve SEED PORTFILE LOGFILE`) it
-- serves on 127.0.0.1 until killed, many connections at once (LuaSocket, coroutines, select).
local socket = require "socket"
local cjson = require("cjson").new()

local M = {}

local function quote(s) return cjson.encode(s) end

-- An answer is an ordered list of { key, json_text } pairs, so that mutations can write any
-- text at all (1e-400, "0x0", duplicate keys) where a value goes.
local function render(fields)
  local out = {}
  for i, f in ipairs(fields) do out[i] = quote(f[1]) .. ":" .. f[2] end
  return "{" .. table.concat(out, ",") .. "}"
end

local function set(fields, key, text)
  for _, f in ipairs(fields) do
    if f[1] == key then f[2] = text; return fields end
  end
  fields[#fields + 1] = { key, text }
  return fields
end

local function remove(fields, key)
  for i, f in ipairs(fields) do
    if f[1] == key then table.remove(fields, i); return fields end
  end
  return fields
end

local function device(id, machine)
  return { { "deviceId", quote(id) }, { "machineCode", quote(machine or "m1") },
    { "deviceName", quote("dev") }, { "deviceOS", quote("android") },
    { "createTime", quote("2025-12-17T06:19:01.803Z") } }
end

local function list_text(items)
  local out = {}
  for i, v in ipairs(items) do out[i] = v end
  return "[" .. table.concat(out, ",") .. "]"
end

-- The correct answer to a request: op name, the answer's fields, and what the request asked.
local function correct(req, rng)
  local m, path = req.method, req.path
  if path:find("^/koodrive/ose/v1/backup/device/?$") then
    if m == "GET" then
      return "list", { { "code", "0" }, { "msg", '"success"' }, { "data", list_text {
        render(device("1775406005920779393", "a1")), render(device("1842812272691451648", "b2")) } } }
    end
    local ok, body = pcall(cjson.decode, req.body)
    local machine = ok and type(body) == "table" and body.machineCode or "?"
    return "bind", { { "code", "0" }, { "msg", '"success"' },
      { "data", render(device("1842812272691451648", machine)) } }, { machine = machine }
  end
  local id = path:match("^/koodrive/ose/v1/backup/device/([^/]+)$")
  if id then
    return "unbind", { { "code", "0" }, { "msg", '"success"' }, { "data", render(device(id)) } }, { id = id }
  end
  if path:find("/members/batchDelete$") then
    local ids = {}
    for d in req.body:gmatch('"userId":(%d+)') do ids[#ids + 1] = d end
    local failed = {}
    for _, d in ipairs(ids) do
      if rng(4) == 1 then failed[#failed + 1] = quote(d) end
    end
    local status = (#failed == 0 and 0) or (#failed == #ids and 2) or 1
    return "delete", { { "code", "0" }, { "msg", '"Success"' }, { "status", tostring(status) },
      { "failedList", list_text(failed) } }, { ids = ids }
  end
  local policy = path:match("^/v5/iot/[^/]+/device%-policies/([^/]+)/unbind$")
  if policy then
    local ok, body = pcall(cjson.decode, req.body)
    local targets = ok and type(body) == "table" and type(body.target_ids) == "table" and body.target_ids or {}
    local success, failure = {}, {}
    for _, t in ipairs(targets) do
      if rng(4) == 1 then
        failure[#failure + 1] = render { { "target_id", quote(t) }, { "error_code", '"IOTDA.015207"' },
          { "error_msg", '"not bound"' } }
      else
        success[#success + 1] = quote(t)
      end
    end
    return "iot", { { "policy_id", quote(policy) }, { "target_type", '"device"' },
      { "success_targets", list_text(success) }, { "failure_targets", list_text(failure) } },
      { targets = targets, policy = policy }
  end
  return "unknown", { { "code", "13000309" }, { "msg", '"Resource does not exist."' } }
end

local KOODRIVE = { list = true, bind = true, unbind = true, delete = true }

-- Body mutations: (op, fields, asked, req, rng) -> body text, must_fail[, status].
-- must_fail: no client may report this answer as a success.
local body_mutations = {
  ok = function(_, f) return render(f), false end,
  code = function(op, f, _, _, rng)
    if not KOODRIVE[op] then return render(set(f, "error_code", '"IOTDA.000006"')), true end
    local codes = { '"0x0"', '" 0 "', '"0e99"', "1e-400", "0.0", "false", '"00"', '"-0"', "null",
      "1e999", "[]", "{}", '"0 "', "true", "-0.0", "0e0" }
    return render(set(f, "code", codes[rng(#codes)])), true
  end,
  code_twice = function(op, f)
    if not KOODRIVE[op] then return render(f):gsub("^{", '{"success_targets":[],', 1), true end
    return render(f):gsub("^{", '{"code":13000201,', 1), true
  end,
  wrong_type = function(op, f, _, _, rng)
    if op == "list" or op == "bind" or op == "unbind" then
      local bad = { "{}", '"x"', "5", "null", "true" }
      if op ~= "list" then bad[#bad + 1] = "[]" end
      local r = rng(4)
      if r == 1 then return render(set(f, "data", bad[rng(#bad)])), true end
      if r == 2 then return render(remove(f, "data")), true end
      local d = op == "list" and device("17", "a1") or device(op == "unbind" and "x" or "1", "m1")
      local field = ({ "deviceId", "machineCode", "deviceName", "createTime" })[rng(4)]
      set(d, field, ({ "17", "{}", "[1]", "false" })[rng(4)])
      return render(set(f, "data", op == "list" and list_text { render(d) } or render(d))), true
    elseif op == "delete" then
      local r = rng(3)
      if r == 1 then return render(set(f, "status", ({ '"0"', "0.0", "3", "-1", "1e999", "[]" })[rng(6)])), true end
      if r == 2 then return render(set(f, "failedList", ({ "{}", '"x"', "5", "[[]]", "[1.5]" })[rng(5)])), true end
      return render(set(f, "failedList", "[true]")), true
    elseif op == "iot" then
      local key = rng(2) == 1 and "success_targets" or "failure_targets"
      return render(set(f, key, ({ "{}", '"x"', "5", "[{}]", "[[]]", "[true]" })[rng(6)])), true
    end
    return render(f), true
  end,
  wrong_subject = function(op, f, asked, _, rng)
    if op == "list" then
      return render(set(f, "data", list_text { render(device("1", "a")), render(device("1", "b")) })), true
    elseif op == "bind" then
      return render(set(f, "data", render(device("1842812272691451648", "other_" .. rng(9))))), true
    elseif op == "unbind" then
      return render(set(f, "data", render(device("999" .. rng(9))))), true
    elseif op == "delete" then
      local r = rng(3)
      if r == 1 then return render(set(set(f, "status", "1"), "failedList", '["42"]')), true end
      if r == 2 then return render(set(set(f, "status", "2"), "failedList", "[]")), true end
      local all = {}
      for i, d in ipairs(asked.ids) do all[i] = quote(d) end
      return render(set(set(f, "status", "0"), "failedList", list_text(all))), true
    elseif op == "iot" then
      local r = rng(3)
      if r == 1 then return render(set(f, "success_targets", '["not-sent"]')), true end
      if r == 2 then return render(set(f, "policy_id", '"ffffffffffffffffffffffff"')), true end
      local t = asked.targets[1] and quote(asked.targets[1]) or '"x"'
      return render(set(set(f, "success_targets", "[" .. t .. "]"), "failure_targets",
        '[{"target_id":' .. t .. ',"error_code":"X"}]')), true
    end
    return render(f), true
  end,
  deep = function(_, f) return render(set(f, "x", ("["):rep(10000) .. ("]"):rep(10000))), true end,
  huge = function(_, f) return render(set(f, "n", ({ "1e999", "-1e999", "NaN", "Infinity", "0x10", "+1" })[math.random(6)])), true end,
  nul_garbage = function(_, f) return render(f) .. "\0garbage{", true end,
  trailing = function(_, f) return render(f) .. ({ "}", " x", "{}", ",", "\0" })[math.random(5)], true end,
  top_array = function(_, f) return "[" .. render(f) .. "]", true end,
  not_json = function(_, f) return render(f):sub(1, -2), true end,
  echo_secret = function(op, _, _, req)
    local secret = req.headers["authorization"] or req.headers["x-auth-token"] or "none"
    if KOODRIVE[op] then
      return render { { "code", "13000102" }, { "msg", quote("bad token " .. secret) } }, true, 400
    end
    return render { { "error_code", '"IOTDA.000006"' }, { "error_msg", quote("token " .. secret) } }, true, 401
  end,
  echo_secret_page = function(_, _, _, req)
    local secret = req.headers["authorization"] or req.headers["x-auth-token"] or "none"
    return "<html>bad gateway for " .. secret .. "</html>", true, 502
  end,
  status_2xx = function(op, f) return render(f), true, op == "iot" and 202 or 201 end,
  status_5xx = function(_, f) return render(f), true, 500 end,
}

-- Framing mutations: (body, status) -> list of pieces to send (a number: sleep that long),
-- must_fail. The body given is a correct answer unless a body mutation was also chosen.
local function head(status, extra)
  return "HTTP/1.1 " .. status .. " X\r\nContent-Type: application/json\r\nConnection: close\r\n" ..
    (extra or "")
end

local frame_mutations = {
  plain = function(b, s) return { head(s, "Content-Length: " .. #b .. "\r\n\r\n") .. b }, false end,
  chunked = function(b, s)
    local half = math.floor(#b / 2)
    return { head(s, "Transfer-Encoding: chunked\r\n\r\n") ..
      string.format("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", half, b:sub(1, half), #b - half, b:sub(half + 1)) }, false
  end,
  bad_chunk = function(b, s)
    local size = ({ "zz", "-5", "fffffffffffffffff", "1;x=\0", "" })[math.random(5)]
    return { head(s, "Transfer-Encoding: chunked\r\n\r\n") .. size .. "\r\n" .. b .. "\r\n0\r\n\r\n" }, true
  end,
  chunk_short = function(b, s)
    return { head(s, "Transfer-Encoding: chunked\r\n\r\n") .. string.format("%x\r\n", #b + 50) .. b }, true
  end,
  cl_twice = function(b, s)
    return { head(s, "Content-Length: " .. #b .. "\r\nContent-Length: " .. (#b + 7) .. "\r\n\r\n") .. b }, false
  end,
  cl_negative = function(b, s) return { head(s, "Content-Length: -" .. #b .. "\r\n\r\n") .. b }, false end,
  cl_long = function(b, s) return { head(s, "Content-Length: " .. (#b + 100) .. "\r\n\r\n") .. b }, true end,
  cl_short = function(b, s)
    return { head(s, "Content-Length: " .. math.max(0, #b - 3) .. "\r\n\r\n") .. b }, true
  end,
  -- libcurl may read an overflowing length as "until close": the answer itself is whole.
  cl_huge = function(b, s) return { head(s, "Content-Length: 99999999999999999999\r\n\r\n") .. b }, false end,
  info_first = function(b, s)
    return { "HTTP/1.1 " .. ({ "100 Continue", "102 Processing", "103 Early Hints" })[math.random(3)] ..
      "\r\n\r\n" .. head(s, "Content-Length: " .. #b .. "\r\n\r\n") .. b }, false
  end,
  info_only = function() return { "HTTP/1.1 100 Continue\r\n\r\n" }, true end,
  close_delimited = function(b, s) return { head(s, "\r\n") .. b }, false end,
  truncated = function(b, s)
    return { head(s, "Content-Length: " .. #b .. "\r\n\r\n") .. b:sub(1, math.floor(#b / 2)) }, true
  end,
  header_flood = function(b, s)
    local flood = {}
    for i = 1, 3000 do flood[i] = "X-Flood-" .. i .. ": " .. ("v"):rep(90) .. "\r\n" end
    return { head(s, table.concat(flood) .. "Content-Length: " .. #b .. "\r\n\r\n") .. b }, true
  end,
  trickle = function(b, s)
    local text = head(s, "Content-Length: " .. #b .. "\r\n\r\n") .. b
    local out = {}
    for i = 1, 8 do
      out[#out + 1] = text:sub((i - 1) * 8 + 1, i * 8)
      out[#out + 1] = 0.12
    end
    out[#out + 1] = text:sub(65)
    return out, true -- about 1 s in all, past the client's timeout
  end,
  bad_status = function(b)
    return { ({ "HTTP/1.1 2OO OK\r\n", "HTTP/1.1 \r\n", "GARBAGE\r\n", "HTTP/1.1 99999 X\r\n" })[math.random(4)] ..
      "Content-Length: " .. #b .. "\r\n\r\n" .. b }, true
  end,
  no_answer = function() return {}, true end,
}

-- Weights: about half the answers come through clean framing, so the body checks get their share.
local BODY_WEIGHTS = { ok = 10, code = 6, code_twice = 2, wrong_type = 6, wrong_subject = 6, deep = 1, huge = 2,
  nul_garbage = 2, trailing = 2, top_array = 1, not_json = 1, echo_secret = 2, echo_secret_page = 1,
  status_2xx = 1, status_5xx = 1 }
-- A trickle holds its call for the client's whole timeout: it is the rarest.
local FRAME_WEIGHTS = { plain = 48, chunked = 8, bad_chunk = 4, chunk_short = 2, cl_twice = 2, cl_negative = 2,
  cl_long = 2, cl_short = 2, cl_huge = 2, info_first = 4, info_only = 2, close_delimited = 4, truncated = 2,
  header_flood = 2, bad_status = 2, no_answer = 2, trickle = 1 }

local function picker(weights)
  local names, total = {}, 0
  for name, w in pairs(weights) do names[#names + 1] = name; total = total + w end
  table.sort(names)
  return function(rng)
    local r = rng(total)
    for _, name in ipairs(names) do
      r = r - weights[name]
      if r <= 0 then return name end
    end
  end
end

-- Reads one request from a coroutine-driven non-blocking socket.
local function reader(sock)
  local buf = ""
  local function fill()
    local data, err, partial = sock:receive(8192)
    data = data or partial
    if data and #data > 0 then buf = buf .. data; return true end
    if err == "closed" then return nil end
    coroutine.yield("wait")
    return true
  end
  local function line()
    while true do
      local i = buf:find("\r\n", 1, true)
      if i then local l = buf:sub(1, i - 1); buf = buf:sub(i + 2); return l end
      if not fill() then return nil end
    end
  end
  local function bytes(n)
    while #buf < n do if not fill() then return nil end end
    local b = buf:sub(1, n); buf = buf:sub(n + 1); return b
  end
  return line, bytes
end

local function send_all(sock, data)
  local i = 1
  while i <= #data do
    local last, err, partial = sock:send(data, i)
    last = last or partial
    if err == "closed" then return false end
    if last and last >= i then i = last + 1 end
    if i <= #data then coroutine.yield("wait") end
  end
  return true
end

local function serve(seed, port_file, log_file)
  local state = tonumber(seed) or 1
  -- A small LCG of our own: math.random differs between interpreters and is shared.
  local function rng(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
  math.randomseed(tonumber(seed) or 1)
  local pick_body, pick_frame = picker(BODY_WEIGHTS), picker(FRAME_WEIGHTS)
  local log = assert(io.open(log_file, "a"))
  local server = assert(socket.bind("127.0.0.1", 0))
  server:settimeout(0)
  local _, port = server:getsockname()
  local f = assert(io.open(port_file .. ".tmp", "w"))
  f:write(port, "\n")
  f:close()
  os.rename(port_file .. ".tmp", port_file)

  local function handle(sock)
    local line, bytes = reader(sock)
    local request_line = line()
    if not request_line then return end
    local method, path = request_line:match("^(%u+) ([^ ?]+)")
    local headers = {}
    while true do
      local h = line()
      if not h then return end
      if h == "" then break end
      local k, v = h:match("^([^:]+):%s*(.-)%s*$")
      if k then headers[k:lower()] = v end
    end
    local body = bytes(tonumber(headers["content-length"]) or 0)
    if not body then return end
    local req = { method = method or "?", path = path or "/", headers = headers, body = body }
    local op, fields, asked = correct(req, rng)
    local bname, fname = pick_body(rng), pick_frame(rng)
    local text, must_fail, status = body_mutations[bname](op, fields, asked or {}, req, rng)
    local pieces, frame_fail = frame_mutations[fname](text, status or 200)
    must_fail = must_fail or frame_fail
    -- The key the spec finds the answer by: the trace id, or (IoTDA sends none) the first target.
    local key = headers["x-traceid"] or (asked and asked.targets and asked.targets[1]) or "-"
    log:write(tostring(key):gsub("%s", "_"), " ", op, " ", bname, "+", fname, " ", must_fail and "fail" or "any", "\n")
    log:flush()
    for _, piece in ipairs(pieces) do
      if type(piece) == "number" then
        coroutine.yield("sleep", piece)
      elseif not send_all(sock, piece) then
        return
      end
    end
  end

  local tasks = {}
  while true do
    local client = server:accept()
    while client do
      client:settimeout(0)
      client:setoption("tcp-nodelay", true)
      local co = coroutine.create(handle)
      tasks[#tasks + 1] = { co = co, sock = client, wake = 0, deadline = socket.gettime() + 10 }
      client = server:accept()
    end
    local now = socket.gettime()
    local readers, nearest = { server }, 0.05
    for i = #tasks, 1, -1 do
      local t = tasks[i]
      if now >= t.wake then
        local ok, what, arg = coroutine.resume(t.co, t.sock)
        if ok and what == "sleep" then t.wake = now + arg end
        if not ok or coroutine.status(t.co) == "dead" or now > t.deadline then
          if not ok then io.stderr:write("hostile server: ", tostring(what), "\n") end
          t.sock:close()
          table.remove(tasks, i)
        else
          readers[#readers + 1] = t.sock
        end
      end
      if t.wake > now then nearest = math.min(nearest, t.wake - now) end
    end
    socket.select(readers, nil, #tasks > 0 and math.min(nearest, 0.005) or 0.05)
  end
end

local first = ...
if first == "--serve" then
  serve(select(2, ...))
  return
end

local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then return false end
  local state = f:read("*a"):match("^%d+ %b() (%a)")
  f:close()
  return state ~= "Z" and state ~= "X"
end

--- Starts the server in a child process (lua5.4); returns { port, url, pid, log(), stop() }.
-- log() reads what was served: { [trace_id] = { op, mutation, must_fail } } (the last
-- answer for each trace id) and the number of answers.
function M.start(opts)
  opts = opts or {}
  local port_file, log_file, out_file = os.tmpname(), os.tmpname(), os.tmpname()
  os.remove(port_file)
  local cmd = string.format("%s spec/support/hostile_server.lua --serve %d %s %s </dev/null >%s 2>&1 & echo $!",
    opts.lua or "lua5.4", opts.seed or 1, port_file, log_file, out_file)
  local p = assert(io.popen(cmd, "r"))
  local pid = assert(tonumber(p:read("*l")), "hostile server: no pid")
  p:close()
  local handle = { pid = pid }
  function handle.stop()
    if handle.stopped then return end
    handle.stopped = true
    os.execute("kill " .. pid .. " 2>/dev/null")
    local deadline = socket.gettime() + 2
    while alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
    if alive(pid) then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
    for _, f in ipairs { port_file, log_file, out_file } do os.remove(f) end
  end
  function handle.log()
    local served, n = {}, 0
    for l in io.lines(log_file) do
      local trace, op, mutation, verdict = l:match("^(%S+) (%S+) (%S+) (%S+)$")
      if trace then
        n = n + 1
        served[trace] = { op = op, mutation = mutation, must_fail = verdict == "fail" }
      end
    end
    return served, n
  end
  function handle.output()
    local f = io.open(out_file, "r")
    local s = f and f:read("*a") or ""
    if f then f:close() end
    return s
  end
  local deadline = socket.gettime() + 5
  while true do
    local f = io.open(port_file, "r")
    local port = f and tonumber(f:read("*l"))
    if f then f:close() end
    if port then handle.port = port; break end
    if not alive(pid) or socket.gettime() > deadline then
      local out = handle.output()
      handle.stop()
      error("hostile server did not start: " .. out)
    end
    socket.sleep(0.02)
  end
  handle.url = "http://127.0.0.1:" .. handle.port
  return handle
end

return M
