-- koodrive in Neovim's own event loop: headless nvim runs examples/neovim.lua (koodrive.hosts.luv
-- over vim.loop) against the local service holding every answer 1 s. nvim is a child process,
-- so luv is never loaded into this busted process. What is asserted is structural: the calls
-- give real results, the editor loop was never held for anything like the server's delay, and
-- the host was woken by socket events, not a fixed-rate timer. The measured stall is printed
-- (the issue's 10 ms target is a speed figure, reported rather than asserted).
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"

local DELAY_MS = 1000
local BOUND = 3 -- devices the seeded user has while nvim lists them

local function nvim_missing()
  local p = io.popen("command -v nvim 2>/dev/null")
  local out = p and p:read("*a") or ""
  if p then p:close() end
  return out == ""
end

local skip_why
if require("support.timing").slow then
  skip_why = "not under ASan/valgrind (make test runs it)"
elseif nvim_missing() then
  skip_why = "neovim is not installed"
elseif not io.open("build/luajit/koodrive/core.so") then
  skip_why = "the LuaJIT modules are not built (build/luajit)"
end

local server

setup(function()
  if skip_why then return end
  server = local_service.start()
  local c = assert(koodrive.new { endpoint = server.url, user_id = creds.koodrive.user_id,
    token = "local-token-alice", timeout = 10 })
  local before = #assert(c.devices:list())
  for i = 1, BOUND do
    assert(c.devices:bind { machineCode = "nvim" .. i, deviceName = "nvim-" .. i, deviceOS = "linux" })
  end
  BOUND = before + BOUND
  c:close()
  server.control("/_local/delay?ms=" .. DELAY_MS)
end)

teardown(function()
  if server then server.stop() end
end)

local function run_nvim()
  local summary = os.tmpname()
  local cmd = table.concat({
    "env -u LUA_PATH -u LUA_CPATH",
    "KOODRIVE_ENDPOINT=" .. server.url,
    "KOODRIVE_USER_ID=" .. creds.koodrive.user_id,
    "KOODRIVE_TOKEN=local-token-alice",
    "KOODRIVE_NVIM_SUMMARY=" .. summary,
    "KOODRIVE_NVIM_DEADLINE=30",
    -- bounded twice: the example's own safety quit, then timeout's TERM and KILL
    "timeout -k 5 45 nvim --headless -u NONE -i NONE -n --cmd 'set rtp='",
    "-c 'luafile examples/neovim.lua' </dev/null 2>&1; echo \"exit:$?\"",
  }, " ")
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  local f = io.open(summary)
  local text = f and f:read("*a") or ""
  if f then f:close() end
  os.remove(summary)
  local fields = {}
  for k, v in text:gmatch("(%S+) ([^\n]*)") do fields[k] = v end
  return fields, text, out
end

describe("koodrive in Neovim (hosts.luv over vim.loop)", function()
  it("runs 20 calls in the editor's loop without holding it, woken by socket events", function()
    if skip_why then return pending(skip_why) end
    local s, text, out = run_nvim()
    local context = text .. "\n" .. out
    assert.matches("exit:0%s*$", out, nil, false, context)
    assert.are.equal("ok", s.result, context)
    assert.are.equal("20/20", s.calls_ok, context)
    -- real results: every call saw the devices bound above
    local counts = {}
    for n in (s.results or ""):gmatch("[^,]+") do counts[#counts + 1] = n end
    assert.are.equal(20, #counts, context)
    for i = 1, 20 do assert.are.equal(tostring(BOUND), counts[i], context) end
    -- All 20 were in flight at once: together they took about one delay, not twenty.
    local elapsed = assert(tonumber(s.elapsed_s), context)
    assert.is_true(elapsed >= DELAY_MS / 1000, context)
    -- The editor loop: its 1 ms timer and vim.schedule kept running while every answer was
    -- held. A loop that blocked on a call would show a gap of the full second.
    local stall = assert(tonumber(s.max_stall_ms), context)
    local sched = assert(tonumber(s.max_schedule_ms), context)
    print(string.format("\n  neovim: max stall %.1f ms, max vim.schedule round trip %.1f ms, " ..
      "%s wakes, %s probe ticks, %.3f s", stall, sched, s.wakes, s.probe_ticks, elapsed))
    assert.is_true(stall < 200, context)
    assert.is_true(sched < 200, context)
    assert.is_true(tonumber(s.probe_ticks) > 100, context)
    -- Wake-ups: 7-19 measured here for 20 calls (connects, requests, answers, and libcurl's
    -- once-a-second checks), the same with the answers held 3 s. A 5 ms polling timer would
    -- have woken the host ~200 times over the one-second hold alone.
    local wakes = assert(tonumber(s.wakes), context)
    assert.is_true(wakes > 0 and wakes < 100, context)
  end)
end)
