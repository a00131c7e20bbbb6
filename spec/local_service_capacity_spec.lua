-- Capacity of the local service (nginx + server/koodrive_local/): at least 1,000 concurrent
-- keep-alive connections, each delayed answer waiting without holding up the others, and
-- large request and response bodies at loopback speed through the blob store
-- (PUT/GET /_local/blobs/NAME), the object store behind later presigned transfers.
local socket = require "socket"
local svc = require "local_service"
local sys = require "support.sys"

local LUA = arg and arg[-1] or "lua5.4"
local CONNECTIONS = 1000
local DELAY_MS = 1500

local server
setup(function() server = svc.start() end)
teardown(function() if server then server.stop() end end)

describe("local service capacity", function()
  it("holds " .. CONNECTIONS .. " keep-alive connections at once, their delays overlapping", function()
    -- a child with room for the descriptors (busted itself may have a limit of 1024)
    local cmd = string.format("sh -c %s 2>&1", sys.quote(string.format(
      "ulimit -n 4096 2>/dev/null; exec %s spec/support/capacity_client.lua %d %d %d",
      LUA, server.port, CONNECTIONS, DELAY_MS)))
    local t0 = socket.gettime()
    local out = sys.capture(cmd)
    local elapsed = socket.gettime() - t0
    assert.truthy(out:find("connected " .. CONNECTIONS .. "\n", 1, true), out)
    -- one by one, 1,000 answers of 1.5 s would take 25 minutes; at once, 1.5 s and the rest
    local round1 = tonumber(out:match("round1 OK ([%d.]+)"))
    assert.is_number(round1, out)
    assert.is_true(round1 >= DELAY_MS / 1000 - 0.05, "delays were not applied: " .. round1)
    assert.is_true(round1 < 15, "1,000 delayed answers took " .. round1 .. " s")
    -- the second round reused every connection: none was dropped while the others were open
    assert.truthy(out:find("round2 OK\n", 1, true), out)
    assert.are.equal(2 * CONNECTIONS, tonumber(out:match("keepalive (%d+)")), out)
    assert.is_true(elapsed < 30, "took " .. elapsed .. " s")
  end)

  it("stores and returns a 64 MiB body at loopback speed", function()
    local size = 64 * 1024 * 1024
    -- not one repeated byte: a pattern whose every MiB differs, so a misplaced piece shows
    local pieces = {}
    for i = 1, 64 do pieces[i] = string.rep(string.format("%07d|", i), 1024 * 1024 / 8) end
    local body = table.concat(pieces)
    assert.are.equal(size, #body)

    local c = assert(socket.connect("127.0.0.1", server.port))
    c:settimeout(30)
    local t0 = socket.gettime()
    assert(c:send("PUT /_local/blobs/big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " .. size ..
      "\r\n\r\n"))
    assert(c:send(body))
    local status = c:receive("*l")
    assert.are.equal("HTTP/1.1 200 OK", status)
    local length
    repeat
      local h = assert(c:receive("*l"))
      length = length or tonumber(h:match("^[Cc]ontent%-[Ll]ength: (%d+)$"))
    until h == ""
    local stored = assert(c:receive(length))
    assert.truthy(stored:find('"size":' .. size, 1, true), stored)
    local t_up = socket.gettime() - t0

    -- the same connection, kept alive, for the download
    t0 = socket.gettime()
    assert(c:send("GET /_local/blobs/big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
    assert.are.equal("HTTP/1.1 200 OK", c:receive("*l"))
    length = nil
    repeat
      local h = assert(c:receive("*l"))
      length = length or tonumber(h:match("^[Cc]ontent%-[Ll]ength: (%d+)$"))
    until h == ""
    assert.are.equal(size, length)
    local got = assert(c:receive(length))
    local t_down = socket.gettime() - t0
    c:close()
    assert.is_true(got == body, "the body came back different")
    print(string.format("\n64 MiB: up %.0f MiB/s, down %.0f MiB/s", 64 / t_up, 64 / t_down))
    -- loopback moves GiB/s; a bound a loaded 2-core machine still meets
    assert.is_true(t_up + t_down < 20, string.format("up %.2f s, down %.2f s", t_up, t_down))
    assert.are.equal(200, (server.control("/_local/reset")))
    local _, st = server.get("/_local/blobs/big")
    assert.are.equal(404, st)      -- reset empties the store
  end)

  it("keeps the 10 MiB limit on service paths", function()
    local c = assert(socket.connect("127.0.0.1", server.port))
    c:settimeout(5)
    assert(c:send("POST /koodrive/ose/v1/backup/device HTTP/1.1\r\nHost: h\r\nContent-Length: 10485761\r\n\r\n"))
    assert.are.equal("HTTP/1.1 413 Request Entity Too Large", c:receive("*l"))
    c:close()
  end)
end)
