-- neovim.lua: koodrive inside Neovim's own event loop (vim.loop / vim.uv, which is luv) through
-- koodrive.hosts.luv: 20 calls read sequentially inside host.spawn tasks while the editor keeps
-- running. Neovim 0.7 has no `-l`; run it headless from the repository root:
--
--   KOODRIVE_ENDPOINT=... KOODRIVE_USER_ID=... KOODRIVE_TOKEN=... \
--     nvim --headless -u NONE -i NONE -n --cmd "set rtp=" -c "luafile examples/neovim.lua" </dev/null
--
-- Configured like quickstart.lua (the default client reads KOODRIVE_ENDPOINT, KOODRIVE_USER_ID
-- and the credentials). Also read:
--   KOODRIVE_NVIM_SUMMARY   file the summary is written to (else stdout)
--   KOODRIVE_NVIM_MEASURE   "0": no measuring harness (the editor loop then sleeps between
--                           socket events: the host holds no timer of its own)
--   KOODRIVE_NVIM_DEADLINE  seconds before a safety quit with a failure line (default 30)
--
-- The harness (a 1 ms timer recording the longest gap between its callbacks, and vim.schedule
-- round trips) only measures how responsive the editor stays; it does not drive koodrive.
-- luacheck: globals vim
local uv = vim.uv or vim.loop
local env = os.getenv

-- The repository's modules: lua/ and the C modules built for LuaJIT (Neovim runs on LuaJIT).
do
  local src = debug.getinfo(1, "S").source
  local root = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/examples/[^/]*$") or "."
  package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  package.cpath = root .. "/build/luajit/?.so;" .. package.cpath
end

local CALLS = 20
local measure = env("KOODRIVE_NVIM_MEASURE") ~= "0"
local deadline_s = tonumber(env("KOODRIVE_NVIM_DEADLINE") or "") or 30

local function finish(lines, failed)
  local text = table.concat(lines, "\n") .. "\n"
  local path = env("KOODRIVE_NVIM_SUMMARY")
  local f = path and assert(io.open(path, "w")) or io.stdout
  f:write(text)
  if path then f:close() else f:flush() end
  vim.cmd(failed and "cquit 1" or "qa!")
end

local koodrive = require "koodrive"
local client, cerr = koodrive.default()
if not client then return finish({ "result failed: " .. tostring(cerr) }, true) end
local host = require("koodrive.hosts.luv")(uv)

local t0 = uv.hrtime()
local results, ok_calls, done = {}, 0, 0
local max_gap_ns, ticks, max_sched_ns, scheds = 0, 0, 0, 0
local probe, safety

local function ms(ns) return string.format("%.1f", ns / 1e6) end

local function all_done()
  local elapsed = (uv.hrtime() - t0) / 1e9
  if probe then probe:stop(); probe:close() end
  safety:stop(); safety:close()
  host.close()
  finish({
    "calls_ok " .. ok_calls .. "/" .. CALLS,
    "results " .. table.concat(results, ","),
    "max_stall_ms " .. (measure and ms(max_gap_ns) or "-"),
    "probe_ticks " .. ticks,
    "max_schedule_ms " .. (measure and ms(max_sched_ns) or "-"),
    "schedules " .. scheds,
    "wakes " .. host.wakes,
    "elapsed_s " .. string.format("%.3f", elapsed),
    "result " .. (ok_calls == CALLS and "ok" or "failed"),
  }, ok_calls ~= CALLS)
end

for i = 1, CALLS do
  host.spawn(function()
    -- Reads sequentially: the task waits on the koodrive loop, the editor loop goes on.
    local list, err = client.devices:list()
    if list then ok_calls = ok_calls + 1 end
    results[i] = list and tostring(#list) or ("error:" .. tostring(err):gsub("[\n,]", " "))
    done = done + 1
    -- Quit from the editor loop, not from inside the host's poll.
    if done == CALLS then vim.schedule(all_done) end
  end)
end

if measure then
  -- The longest gap between callbacks of a 1 ms timer: how long the editor loop was held.
  local last, outstanding = nil, false
  probe = uv.new_timer()
  probe:start(1, 1, function()
    local now = uv.hrtime()
    if last and now - last > max_gap_ns then max_gap_ns = now - last end
    last, ticks = now, ticks + 1
    -- A vim.schedule round trip: the latency of work queued for the editor's main loop.
    if not outstanding then
      outstanding = true
      local sent = now
      vim.schedule(function()
        local took = uv.hrtime() - sent
        if took > max_sched_ns then max_sched_ns = took end
        scheds, outstanding = scheds + 1, false
      end)
    end
  end)
end

safety = uv.new_timer()
safety:start(deadline_s * 1000, 0, function()
  vim.schedule(function()
    finish({ "result failed: " .. done .. "/" .. CALLS .. " calls done after " .. deadline_s .. " s" }, true)
  end)
end)
