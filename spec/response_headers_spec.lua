-- Response headers of the curl transport: libcurl parses them (its header API); the transfer
-- packs the final response's headers into one string while it still owns the easy handle, and
-- the first read of `response.headers` splits that into a plain { [lowercase name] = value },
-- repeats joined with ", " (src/transfer.c, src/headers.c). A late read never sees another
-- call's headers, although the easy handle that received them has since been reset and reused
-- (blocking handle) or handed to the next transfer (multi pool). The header callback only
-- guards the size: 256 KiB per header block, 200 lines in all. Real libcurl against LuaSocket
-- servers on 127.0.0.1.
local LUA = "lua5.4" -- runs the servers below, as for the local service
local KIB = 1024

-- A server answering the raw HTTP answers of `answers` in order, on keep-alive connections
-- (one request each); it goes away after the last answer or after 10 s of nothing.
local function serve(answers)
  local script = os.tmpname()
  local f = assert(io.open(script, "wb"))
  local quoted = {}
  for i, a in ipairs(answers) do quoted[i] = string.format("%q", a) end
  f:write([[
local socket = require "socket"
local answers = { ]] .. table.concat(quoted, ", ") .. [[ }
local s = assert(socket.bind("127.0.0.1", 0))
local _, port = s:getsockname()
print(port)
io.stdout:flush()
s:settimeout(10)
local n = 0
while n < #answers do
  local c = s:accept()
  if not c then break end
  c:settimeout(10)
  while n < #answers do
    local line = c:receive("*l")
    if not line then break end
    repeat line = c:receive("*l") until not line or line == ""
    n = n + 1
    c:send(answers[n])
  end
  c:close()
end
]])
  f:close()
  local p = assert(io.popen(LUA .. " " .. script, "r"))
  local port = tonumber(p:read("*l"))
  assert.is_number(port)
  return "http://127.0.0.1:" .. port .. "/", function() p:close() os.remove(script) end
end

-- `count` answers, the n-th with request id "req-n", a header only it has ("X-Only-n"), a
-- repeated header and (on the first) a 103 interim block before the final one.
local function numbered(count)
  local answers = {}
  for n = 1, count do
    local early = n == 1 and "HTTP/1.1 103 Early Hints\r\nLink: </early>\r\nX-Request-Id: interim\r\n\r\n" or ""
    answers[n] = early .. "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-Id: req-" .. n ..
      "\r\nSet-Thing: a\r\nset-thing: b" .. n .. "\r\nX-Only-" .. n .. ": yes\r\nContent-Type: application/json\r\n\r\n{}"
  end
  return serve(answers)
end

-- One GET of a fresh blocking handle to a server answering `answer`; what perform returns.
local function exchange(answer)
  local url, done = serve { answer }
  local h = require("koodrive.curl").http()
  local res, kind, msg = h:perform { method = "GET", url = url, timeout = 10, max_body = 65536 }
  h:close()
  done()
  return res, kind, msg
end

local function headers_of(answer)
  local res, kind, msg = exchange(answer)
  assert.is_table(res, tostring(kind) .. ": " .. tostring(msg))
  assert.are.equal(200, res.status)
  return res.headers
end

local function count_pairs(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- A 200 answer with `lines` header lines of `bytes` bytes each (CRLF included).
local function padded(lines, bytes)
  local parts = { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" }
  for i = 1, lines do
    local name = ("X-Pad-%05d: "):format(i)
    parts[#parts + 1] = name .. ("p"):rep(bytes - #name - 2) .. "\r\n"
  end
  parts[#parts + 1] = "\r\n{}"
  return table.concat(parts)
end

describe("response headers, read late", function()
  it("gives each response of a reused blocking handle its own headers", function()
    local url, done = numbered(3)
    local h = require("koodrive.curl").http()
    local res = {}
    for i = 1, 3 do
      local kind, msg
      res[i], kind, msg = h:perform { method = "GET", url = url, timeout = 10, max_body = 65536 }
      assert.is_table(res[i], tostring(kind) .. ": " .. tostring(msg))
    end
    h:close()
    done()
    assert.is_nil(rawget(res[1], "headers")) -- not built until read
    for i = 3, 1, -1 do                      -- read after the handle served every later call
      local headers = res[i].headers
      assert.are.equal("req-" .. i, headers["x-request-id"])
      assert.are.equal("a, b" .. i, headers["set-thing"])
      for j = 1, 3 do assert.are.equal(i == j and "yes" or nil, headers["x-only-" .. j]) end
      assert.are.equal(headers, rawget(res[i], "headers"))
      assert.is_nil(getmetatable(res[i]))
    end
    -- The 103 block is dropped: only the final response's headers.
    assert.is_nil(res[1].headers.link)
    assert.are.same({ ["content-length"] = "2", ["x-request-id"] = "req-1", ["set-thing"] = "a, b1",
      ["x-only-1"] = "yes", ["content-type"] = "application/json" }, res[1].headers)
  end)

  it("iterates fully with pairs once read, like a plain table", function()
    local url, done = numbered(1)
    local h = require("koodrive.curl").http()
    local res = assert(h:perform { method = "GET", url = url, timeout = 10, max_body = 65536 })
    h:close()
    done()
    assert.are.equal(5, count_pairs(res.headers))
    assert.is_nil(res.no_such_field)
    assert.are.equal(200, res.status)
    assert.are.equal("{}", res.body)
  end)

  it("gives each transfer of a pooled multi handle its own headers", function()
    local url, done = numbered(3)
    local m = require("koodrive.curl").multi()
    local res = {}
    for i = 1, 3 do -- one after the other, so the pool hands the same easy handle back
      local id = assert(m:add { method = "GET", url = url, timeout = 10, max_body = 65536 })
      local deadline = os.time() + 20
      local finished
      repeat finished = m:perform(0.1) until finished[1] or os.time() > deadline
      assert.are.equal(id, finished[1])
      res[i] = assert(m:take(id))
    end
    m:close()
    done()
    for i = 3, 1, -1 do
      assert.are.equal("req-" .. i, res[i].headers["x-request-id"])
      assert.are.equal("a, b" .. i, res[i].headers["set-thing"])
      for j = 1, 3 do assert.are.equal(i == j and "yes" or nil, res[i].headers["x-only-" .. j]) end
    end
  end)
end)

describe("response headers, as libcurl gives them", function()
  it("lower-cases names of any case", function()
    local headers = headers_of("HTTP/1.1 200 OK\r\nX-MiXeD-CaSe: Value Kept\r\nCONTENT-TYPE: application/json\r\n" ..
      "x-lower: l\r\nContent-Length: 2\r\n\r\n{}")
    assert.are.same({ ["x-mixed-case"] = "Value Kept", ["content-type"] = "application/json", ["x-lower"] = "l",
      ["content-length"] = "2" }, headers)
  end)

  it("joins repeated names with \", \" in the order received, whatever their case", function()
    local headers = headers_of("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Other: o\r\nSET-COOKIE: b=2\r\n" ..
      "set-cookie: c=3\r\nX-R:\r\nx-r: z\r\nContent-Length: 0\r\n\r\n")
    assert.are.equal("a=1, b=2, c=3", headers["set-cookie"])
    assert.are.equal(", z", headers["x-r"])
    assert.are.equal("o", headers["x-other"])
    assert.are.equal(4, count_pairs(headers))
  end)

  it("gives values as libcurl trims them: outer blanks gone, inner ones kept, blank values empty", function()
    local headers = headers_of("HTTP/1.1 200 OK\r\nX-Pad:   padded  value \t \r\nX-Inner: a \t b\r\n" ..
      "X-Empty:\r\nX-Blank:  \t \r\nContent-Length: 0\r\n\r\n")
    assert.are.equal("padded  value", headers["x-pad"])
    assert.are.equal("a \t b", headers["x-inner"])
    -- libcurl 7.88 gives "\r" for these two; the transfer makes them empty
    assert.are.equal("", headers["x-empty"])
    assert.are.equal("", headers["x-blank"])
  end)

  it("gives empty values on bare-LF lines empty too", function()
    local headers = headers_of("HTTP/1.1 200 OK\nX-Empty:\nX-Blank: \nX-V: v\nContent-Length: 0\n\n")
    assert.are.same({ ["x-empty"] = "", ["x-blank"] = "", ["x-v"] = "v", ["content-length"] = "0" }, headers)
  end)

  it("leaves 100 Continue and 103 Early Hints headers before the answer out", function()
    local res, kind, msg = exchange("HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n" ..
      "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\nX-Id: early\r\n\r\n" ..
      "HTTP/1.1 200 OK\r\nX-Id: final\r\nContent-Length: 2\r\n\r\n{}")
    assert.is_table(res, tostring(kind) .. ": " .. tostring(msg))
    assert.are.equal(200, res.status)
    assert.are.equal("{}", res.body)
    assert.are.same({ ["x-id"] = "final", ["content-length"] = "2" }, res.headers)
  end)

  it("leaves trailers out, as the ngx transport does", function()
    local headers = headers_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n" ..
      "2\r\n{}\r\n0\r\nX-T: trailer\r\nX-Id: late\r\n\r\n")
    assert.are.same({ ["transfer-encoding"] = "chunked", trailer = "X-T" }, headers)
  end)

  it("gives an empty table for an answer without header lines", function()
    local res = assert(exchange("HTTP/1.0 200 OK\r\n\r\n{}"))
    assert.are.same({}, res.headers)
    assert.are.equal("{}", res.body)
  end)
end)

describe("response headers, size guard", function()
  it("takes a 250 KiB header block", function()
    local headers = headers_of(padded(125, 2 * KIB))
    assert.are.equal(126, count_pairs(headers))
    assert.are.equal(2 * KIB - #"X-Pad-00125: \r\n", #headers["x-pad-00125"])
  end)

  -- (libcurl itself, as Debian ships 7.88, also refuses more than 300 KiB in all blocks.)
  it("counts the bytes of each block: a 60 KiB interim block and a 200 KiB answer pass", function()
    local early = { "HTTP/1.1 103 Early Hints\r\n" }
    for i = 1, 15 do early[#early + 1] = ("X-Early-%02d: %s\r\n"):format(i, ("e"):rep(4 * KIB - 16)) end
    local res, kind, msg = exchange(table.concat(early) .. "\r\n" .. padded(50, 4 * KIB))
    assert.is_table(res, tostring(kind) .. ": " .. tostring(msg))
    assert.is_nil(res.headers["x-early-01"])
    assert.are.equal(51, count_pairs(res.headers))
  end)

  it("refuses a 300 KiB header block with reason too_large", function()
    local res, kind, msg = exchange(padded(150, 2 * KIB))
    assert.is_nil(res)
    assert.are.equal("too_large", kind)
    assert.matches("larger than 256 KiB", msg, 1, true)
  end)

  it("makes a 300 KiB header block a too_large transport error of the client, not retried", function()
    local url, done = serve { padded(150, 2 * KIB) }
    local c = assert(require("koodrive").new { endpoint = url:sub(1, -2), user_id = "1505084218764547200",
      token = "spec-token", timeout = 10, retries = { max_attempts = 2, base_delay = 0.01 } })
    local devices, err = c.devices:list()
    done()
    assert.is_nil(devices)
    assert.is_table(err)
    assert.are.equal("transport", err.kind, tostring(err))
    assert.are.equal("too_large", err.reason, tostring(err))
    assert.is_false(err.retryable)
    assert.are.equal(1, err.attempts, tostring(err))
  end)

  it("takes 190 header lines and refuses 250 (libcurl's header walk grows with lines x bytes)", function()
    local headers = headers_of(padded(190, 40))
    assert.are.equal(191, count_pairs(headers))
    local res, kind, msg = exchange(padded(250, 40))
    assert.is_nil(res)
    assert.are.equal("too_large", kind)
    assert.matches("more than 200 lines", msg, 1, true)
  end)
end)
