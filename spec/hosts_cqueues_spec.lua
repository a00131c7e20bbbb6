-- koodrive.hosts.cqueues: a koodrive.loop driven from a cqueues controller (Debian's
-- lua-cqueues), and a lua-http server (Debian's lua-http, on the same controller) whose
-- handlers call koodrive while it keeps answering other requests - against the local service
-- with its answers delayed. Wakes are counted, as for luv.
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"

local ok_cq, cqueues = pcall(require, "cqueues")
local ok_http = ok_cq and pcall(require, "http.server")

local server, c
local DELAY_MS = 1000

setup(function()
  if not ok_cq then return end
  server = local_service.start()
  c = assert(koodrive.new { endpoint = server.url, user_id = creds.koodrive.user_id, token = "local-token-alice",
    timeout = 10, connect_timeout = 5 })
end)
teardown(function() if server then server.stop() end end)
before_each(function() if server then server.control("/_local/delay?ms=" .. DELAY_MS) end end)
after_each(function() if server then server.control("/_local/reset") end end)

local hosts_cqueues = function(...) return require("koodrive.hosts.cqueues")(...) end

describe("koodrive.hosts.cqueues", function()
  it("runs calls from 20 coroutines of the controller, each reading sequentially, woken by events", function()
    if not ok_cq then return pending("lua-cqueues is not installed") end
    local cq = cqueues.new()
    local host = hosts_cqueues(cqueues, { cq = cq })
    local done, counts = 0, {}
    for i = 1, 20 do
      cq:wrap(function()
        local list = assert(host.run(function() return c.devices:list() end))
        counts[i] = #list
        done = done + 1
      end)
    end
    local ticks, marks = 0, {}
    cq:wrap(function()
      local started = cqueues.monotime()
      while done < 20 do
        cqueues.sleep(0.02)
        ticks = ticks + 1
        local at = cqueues.monotime() - started
        if not marks[1] and at >= 0.25 then marks[1] = host.wakes end
        if not marks[2] and at >= 0.85 then marks[2] = host.wakes end
      end
    end)
    assert(cq:loop())
    assert.are.equal(20, done)
    for i = 1, 20 do assert.is_number(counts[i]) end
    assert.is_true(ticks >= 40, "the controller's own coroutine ran " .. ticks .. " times")
    assert.is_true(host.wakes <= 2 * 20, "woken " .. host.wakes .. " times")
    -- (a window of wall time: meaningless when a checker slows everything down)
    if not require("support.timing").slow then
      assert.is_true(marks[2] - marks[1] <= 10, (marks[2] - marks[1]) .. " wakes while every answer was held")
    end
    host.close()
  end)

  it("run() outside any coroutine drives the controller itself; a task's error is raised there", function()
    if not ok_cq then return pending("lua-cqueues is not installed") end
    server.control("/_local/delay?ms=0")
    local host = hosts_cqueues(cqueues)
    local a, b = host.run(function() return 1, #assert(c.devices:list()) end)
    assert.are.equal(1, a)
    assert.is_number(b)
    local ok, err = pcall(host.run, function() error("task failed on purpose", 0) end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("task failed on purpose", 1, true))
    host.close()
  end)

  it("a lua-http server keeps answering /ping while its handlers' koodrive calls are in flight", function()
    if not ok_http then return pending("lua-http is not installed for " .. _VERSION) end
    local http_server = require "http.server"
    local headers = require "http.headers"
    local request = require "http.request"
    local cq = cqueues.new()
    local host = hosts_cqueues(cqueues, { cq = cq })
    local srv = assert(http_server.listen { host = "127.0.0.1", port = 0, cq = cq,
      onstream = function(_, stream)
        local req = stream:get_headers()
        local body
        if req:get(":path") == "/devices" then
          body = tostring(#assert(host.run(function() return c.devices:list() end)))
        else
          body = "pong"
        end
        local h = headers.new()
        h:append(":status", "200")
        stream:write_headers(h, false)
        stream:write_chunk(body, true)
      end })
    assert(srv:listen())
    local _, _, port = srv:localname()
    local base = "http://127.0.0.1:" .. port
    local got, order = {}, {}
    local function fetch(path)
      local h, s = assert(request.new_from_uri(base .. path):go(10))
      got[path] = { h:get(":status"), assert(s:get_body_as_string()) }
      order[#order + 1] = path
    end
    cq:wrap(function() fetch("/devices") end)
    cq:wrap(function() cqueues.sleep(0.2); fetch("/ping") end)
    cq:wrap(function()
      while #order < 2 do cqueues.sleep(0.05) end
      srv:close()
    end)
    assert(cq:loop())
    assert.are.same({ "/ping", "/devices" }, order) -- asked later, answered first
    assert.are.equal("pong", got["/ping"][2])
    assert.matches("^%d+$", got["/devices"][2])
    host.close()
  end)
end)
