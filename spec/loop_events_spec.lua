-- What a host's own event loop is given (src/multi_events.c, Loop:fd / Loop:timeout): one
-- descriptor that is readable exactly when libcurl has work, and when the loop must be polled
-- without it. Checked with LuaSocket's select (any object with getfd) against a server this
-- spec drives by hand, so that each state - connecting, waiting for the answer, answered,
-- idle - is seen on its own.
local socket = require "socket"
local curl = require "koodrive.curl"
local koodrive_loop = require "koodrive.loop"

local function watch(fd) return { getfd = function() return fd end, dirty = function() return false end } end
local function readable(fd, wait) return #socket.select({ watch(fd) }, nil, wait) > 0 end
local REQ = { method = "GET", headers = {}, timeout = 5, connect_timeout = 5, max_body = 65536 }
local function request(url) local r = {}; for k, v in pairs(REQ) do r[k] = v end; r.url = url; return r end

describe("multi handle events", function()
  local srv, url
  before_each(function()
    srv = assert(socket.bind("127.0.0.1", 0))
    srv:settimeout(0)
    local _, port = srv:getsockname()
    url = "http://127.0.0.1:" .. port .. "/x"
  end)
  after_each(function() srv:close() end)

  it("is readable only while libcurl has work, and says when its timer is due", function()
    local m = curl.multi()
    local fd = assert(m:fd())
    assert.are.equal(fd, m:fd())
    assert.is_nil(m:timeout()) -- nothing added: no timer
    assert.is_false(readable(fd, 0))
    local id = assert(m:add(request(url)))
    assert.are.equal(0, m:timeout()) -- a new transfer wants a poll at once
    -- Driven only by the descriptor and the timeout, the request arrives.
    local conn, line
    for _ = 1, 100 do
      socket.select({ watch(fd) }, nil, m:timeout() or 1)
      m:perform(0)
      conn = conn or srv:accept()
      if conn then conn:settimeout(0.01); line = conn:receive("*l") end
      if line then break end
    end
    assert.are.equal("GET /x HTTP/1.1", line)
    repeat local l = conn:receive("*l") until l == "" or not l
    m:perform(0)
    assert.is_false(readable(fd, 0.2)) -- the answer is not there: nothing to do
    conn:send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert.is_true(readable(fd, 5))
    local done = m:perform(0)
    assert.are.same({ id }, done)
    assert.are.equal("ok", m:take(id).body)
    assert.is_false(readable(fd, 0))
    conn:close()
    m:close()
  end)

  it("perform with a timeout waits on the set and wakes for the answer", function()
    local m = curl.multi()
    local id = assert(m:add(request(url)))
    local conn
    for _ = 1, 200 do
      m:perform(0.01)
      conn = conn or srv:accept()
      if conn then break end
    end
    assert.is_truthy(conn)
    conn:settimeout(2)
    local first
    for _ = 1, 100 do
      m:perform(0.01)
      local l = conn:receive("*l")
      first = first or l
      if l == "" then break end
    end
    assert.are.equal("GET /x HTTP/1.1", first)
    conn:send("HTTP/1.1 204 No Content\r\n\r\n")
    local done = {}
    for _ = 1, 100 do
      done = m:perform(0.05)
      if #done > 0 then break end
    end
    assert.are.same({ id }, done)
    assert.are.equal(204, m:take(id).status)
    conn:close()
    m:close()
  end)
end)

describe("Loop:fd and Loop:timeout", function()
  it("nil when no task is left, 0 with work waiting, a sleep's due time otherwise", function()
    local l = koodrive_loop.new()
    assert.is_number((l:fd()))
    assert.is_nil(l:timeout())
    l:spawn(function() l:sleep(0.3) end)
    local t = l:timeout()
    assert.is_true(t > 0.2 and t <= 0.3, tostring(t))
    while l:poll(0) > 0 do socket.select(nil, nil, l:timeout() or 0.01) end
    assert.is_nil(l:timeout())
    l:close()
  end)
end)
