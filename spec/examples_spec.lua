-- The demo (examples/demo.lua + examples/quickstart.lua) runs end to end against the local service.
describe("make demo", function()
  it("binds, lists, unbinds, deletes members with one partial failure and unbinds policy targets", function()
    local lua = arg and arg[-1] or "lua5.4"
    -- The exit status comes back through the output: on Lua 5.1 and LuaJIT, close() on a
    -- popen file returns true whatever the command's status was.
    local p = assert(io.popen(lua .. " examples/demo.lua 2>&1; echo \"EXIT:$?\""))
    local out = p:read("*a")
    p:close()
    local status = out:match("EXIT:(%d+)\n$")
    assert.are.equal("0", status, out)
    assert.matches("== bind a device\nbound    %d+", out)
    assert.matches("== list devices\n +%d+ +20251217", out)
    assert.matches("== unbind the device\nunbound  %d+", out)
    assert.matches("status 1 %(0 all deleted", out)
    assert.matches("deleted  3432423464657862424", out, 1, true)
    assert.matches("failed   1111111111111111111", out, 1, true)
    assert.matches("unbound  64a7ba7ef9cb063d27e16b97_123456", out, 1, true)
    assert.matches("failed   64a7ba7ef9cb063d27e16b97_999999  IOTDA.015207", out, 1, true)
    assert.is_nil(out:find("local-app-secret", 1, true), "a secret was printed")
  end)
end)

-- Whether a C module is on package.cpath - looked up, not loaded (Lua 5.1 has no
-- package.searchpath).
local function c_module_found(name)
  for template in package.cpath:gmatch("[^;]+") do
    local f = io.open((template:gsub("%?", name)), "rb")
    if f then f:close(); return true end
  end
  return false
end

describe("examples", function()
  local function run(name)
    local lua = arg and arg[-1] or "lua5.4"
    local p = assert(io.popen(lua .. " examples/demo.lua " .. name .. " 2>&1; echo \"exit:$?\""))
    local out = p:read("*a")
    p:close()
    assert.matches("exit:0%s*$", out)
    return out
  end

  it("game_loop.lua binds from a frame loop and unbinds in a task", function()
    local out = run("game_loop")
    assert.matches("bound 3 devices in %d+ frames", out)
    assert.matches("listed %d+ devices, unbound 3", out)
  end)

  it("luv_host.lua runs calls on a libuv loop woken by socket events", function()
    -- Looked up, not loaded: luv loaded in busted's process (whose insulation drops it from
    -- package.loaded after each file) is opened again by a later require, and the first
    -- module's collection closes the libuv loop the second one uses (uv_poll_init crashed).
    if not c_module_found("luv") then return pending("lua-luv is not installed") end
    local out = run("luv_host")
    assert.matches("listed devices 5 times %(%d+ each%) in %d+ wakes; the host's timer ran %d+ times", out)
  end)

  it("lua_http_server.lua answers /ping while a handler's call waits on a cqueues socket", function()
    -- Tried in a child: lua-http needs lua-fifo, which Debian has for Lua 5.1/5.2 (and LuaJIT) only.
    local lua = arg and arg[-1] or "lua5.4"
    local loads = os.execute(lua .. " -e 'require \"http.server\"' >/dev/null 2>&1")
    if not (loads == true or loads == 0) then return pending("lua-http cannot be loaded by " .. lua) end
    local out = run("lua_http_server")
    assert.matches("/devices +200 %d+ devices", out)
    assert.matches("/ping +200 pong", out)
  end)

  it("cqueues_host.lua runs calls from coroutines of a cqueues controller", function()
    if not c_module_found("_cqueues") then return pending("lua-cqueues is not installed") end
    local out = run("cqueues_host")
    assert.matches("5 calls from 5 coroutines in %d+ wakes", out)
    assert.matches("coroutine 3: %d+ devices", out)
  end)

  it("batch_job.lua accounts for every item of three bulk tasks", function()
    local out = run("batch_job")
    assert.matches("unbound 12, failed 1", out, 1, true)
    assert.matches("unbind devices: 13/13", out, 1, true)
    assert.matches("deleted 1, failed 2", out, 1, true)
    assert.matches("3 calls: 45 unbound, 1 failed", out, 1, true)
    assert.matches("never_bound_target: IOTDA.015207", out, 1, true)
  end)
end)
