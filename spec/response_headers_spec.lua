-- Response headers are parsed on first read (src/headers.c): the contract for readers is the
-- eager one - `response.headers` is a plain { [lowercase name] = value } of the final response,
-- repeats joined with ", " - and a late read never sees another call's headers, although the
-- easy handle that received them has since been reset and reused (blocking handle) or handed to
-- the next transfer (multi pool). Real libcurl against a LuaSocket server on 127.0.0.1.
local LUA = "lua5.4" -- runs the keep-alive server below, as for the local service

-- A server answering `count` requests on one keep-alive connection, the n-th with request id
-- "req-n", a repeated header and (on the first) a 103 interim block before the final one.
local function serve(count)
  local script = os.tmpname()
  local f = assert(io.open(script, "wb"))
  f:write([[
local socket = require "socket"
local count = ]] .. count .. [[

local s = assert(socket.bind("127.0.0.1", 0))
local _, port = s:getsockname()
print(port)
io.stdout:flush()
s:settimeout(10)
local n = 0
while n < count do
  local c = s:accept()
  if not c then break end
  c:settimeout(10)
  while n < count do
    local line = c:receive("*l")
    if not line then break end
    repeat line = c:receive("*l") until not line or line == ""
    n = n + 1
    local early = n == 1 and "HTTP/1.1 103 Early Hints\r\nLink: </early>\r\nX-Request-Id: interim\r\n\r\n" or ""
    c:send(early .. "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-Id: req-" .. n ..
      "\r\nSet-Thing: a\r\nset-thing: b" .. n .. "\r\nContent-Type: application/json\r\n\r\n{}")
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

local function count_pairs(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

describe("response headers, read late", function()
  it("gives each response of a reused blocking handle its own headers", function()
    local url, done = serve(3)
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
      assert.are.equal(headers, rawget(res[i], "headers"))
      assert.is_nil(getmetatable(res[i]))
    end
    -- The 103 block is dropped: only the final response's headers.
    assert.is_nil(res[1].headers.link)
    assert.are.same({ ["content-length"] = "2", ["x-request-id"] = "req-1", ["set-thing"] = "a, b1",
      ["content-type"] = "application/json" }, res[1].headers)
  end)

  it("iterates fully with pairs once read, like a plain table", function()
    local url, done = serve(1)
    local h = require("koodrive.curl").http()
    local res = assert(h:perform { method = "GET", url = url, timeout = 10, max_body = 65536 })
    h:close()
    done()
    assert.are.equal(4, count_pairs(res.headers))
    assert.is_nil(res.no_such_field)
    assert.are.equal(200, res.status)
    assert.are.equal("{}", res.body)
  end)

  it("gives each transfer of a pooled multi handle its own headers", function()
    local url, done = serve(3)
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
    end
  end)
end)
