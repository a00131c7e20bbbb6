-- Connection bounds: a loop's multi handle opens at most max_connections connections (default
-- 32) and queues the rest, so many tasks under a small `ulimit -n` all succeed and a finished
-- loop keeps at most that many idle sockets; running out of file descriptors is reported as
-- reason "descriptors", not retried. Child processes run under `ulimit -n 64` against a
-- support.echo_server that counts the connections it accepted.
local echo = require "support.echo_server"
local sys = require "support.sys"
local curl_core = require "koodrive.curl"

local LUA = arg and arg[-1] or "lua5.4"

local server
setup(function() server = echo.start { name = "origin" } end)
teardown(function() if server then server.stop() end end)

-- Runs `script` (Lua text; `...` is the server's URL) under `ulimit -n 64`; returns its output.
local function run_limited(script)
  local file = os.tmpname()
  sys.write(file, script)
  local out = sys.capture("sh -c " .. sys.quote("ulimit -n 64; exec " .. sys.quote(LUA) .. " " ..
    sys.quote(file) .. " " .. sys.quote(server.url)) .. " 2>&1")
  os.remove(file)
  return out
end

local CLIENT = [[
local koodrive = require "koodrive"
local url = ...
local c = assert(koodrive.new { endpoint = url, user_id = "1505084218764547200",
  token = "connections-spec-token", timeout = 30 })
require "koodrive.curl" -- loaded now: loading a module needs a descriptor too
]]

describe("a loop's connections", function()
  it("are bounded by default: 200 tasks under ulimit -n 64 all succeed", function()
    local before = server.stats().accepted
    local out = run_limited(CLIENT .. [[
local L = require("koodrive.loop").new()
local ok, failed = 0, {}
for t = 1, 200 do
  L:spawn(function()
    local body, err = c:call { method = "GET", path = "/conn/" .. t, query = { delay = "20" } }
    if body and body.data.target:find("/conn/" .. t, 1, true) then ok = ok + 1
    else failed[#failed + 1] = tostring(err) end
  end)
end
L:run()
L:close()
io.write("ok ", ok, "\n", table.concat(failed, "\n", 1, math.min(#failed, 3)))
]])
    assert.are.equal("ok 200", out:match("^ok %d+"), out)
    local stats = server.stats()
    -- Connections made for the 200 tasks (the stats request's own one not counted).
    local made = stats.accepted - before - 1
    assert.is_true(made >= 1 and made <= 32, "connections made: " .. made)
    assert.is_true(stats.max_open <= 32 + 2, "connections open at once: " .. stats.max_open)
  end)

  it("follow max_connections given to the multi handle; bad values are refused", function()
    local before = server.stats().accepted
    local m = curl_core.multi { max_connections = 3 }
    for i = 1, 12 do
      assert(m:add { method = "GET", url = server.url .. "/bound/" .. i .. "?delay=30", timeout = 20, max_body = 65536 })
    end
    local done, statuses = 0, {}
    for _ = 1, 2000 do
      for _, id in ipairs(m:perform(0.05)) do
        local res = assert(m:take(id))
        statuses[#statuses + 1] = res.status
        done = done + 1
      end
      if done == 12 then break end
    end
    m:close()
    assert.are.equal(12, done)
    for _, s in ipairs(statuses) do assert.are.equal(200, s) end
    local made = server.stats().accepted - before - 1
    assert.is_true(made >= 1 and made <= 3, "connections made: " .. made)
    for _, bad in ipairs { 0, 1025, 1.5, "8", -1 } do
      local ok, err = pcall(curl_core.multi, { max_connections = bad })
      assert.is_false(ok)
      assert.matches("max_connections", tostring(err))
    end
    assert.has_error(function() curl_core.multi("32") end)
    curl_core.multi():close() -- no options: the default
  end)
end)

describe("out of file descriptors", function()
  local EXHAUST = [[
local files = {}
while true do
  local f = io.open("/dev/null")
  if not f then break end
  files[#files + 1] = f
end
local function describe_err(err)
  return table.concat({ tostring(err.kind), tostring(err.reason), tostring(err.retryable),
    tostring(err.attempts) }, " ")
end
]]

  it("is reason 'descriptors' on the blocking transport, not retried", function()
    local out = run_limited(CLIENT .. EXHAUST .. [[
local body, err = c:call { method = "GET", path = "/fd/blocking" }
io.write(body and "ok" or describe_err(err), "\n")
for _, f in ipairs(files) do f:close() end -- a sanitizer's exit report needs descriptors too
]])
    assert.are.equal("transport descriptors false 1", out:match("^[^\n]*"), out)
  end)

  it("is reason 'descriptors' in a loop task, not retried", function()
    local out = run_limited(CLIENT .. [[
local L = require("koodrive.loop").new()
]] .. EXHAUST .. [[
local result
L:spawn(function()
  local body, err = c:call { method = "GET", path = "/fd/loop" }
  result = body and "ok" or describe_err(err)
end)
L:run()
io.write(result, "\n")
for _, f in ipairs(files) do f:close() end
L:close()
]])
    assert.are.equal("transport descriptors false 1", out:match("^[^\n]*"), out)
  end)
end)
