-- support.threads: builds and runs spec/support/threads_harness.c (several lua_States on
-- several threads signing at once) against a local service it starts and stops itself.
-- Used by spec/threads_spec.lua and, as a script, by `make check-tsan`:
--
--   lua5.4 spec/support/threads.lua HARNESS MODULE_DIR CALLS
--
-- runs HARNESS (built with -fsanitize=thread by the Makefile) on the modules of MODULE_DIR
-- with M.TSAN_OPTIONS (or $TSAN_OPTIONS when set) and exits 0 only when it exited 0, printed a
-- correct line for each thread, no ThreadSanitizer warning showed up and the service saw
-- exactly the calls the threads made.
local script_args = { ... }
local as_script = script_args[1] ~= "support.threads" -- require passes the module's name
if as_script then package.path = "spec/?.lua;server/?.lua;" .. package.path end
local sys = require "support.sys"
local local_service = require "local_service"

local M = {}

M.THREADS = 4
M.SOURCE = "spec/support/threads_harness.c"
-- The first report ends the harness with status 66; tsan.supp may name third-party code only.
M.TSAN_OPTIONS = "halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=%s/spec/support/tsan.supp"

--- The environment assignment that runs a program under M.TSAN_OPTIONS (or $TSAN_OPTIONS).
-- The suppressions path is absolute: TSan would look for a relative one next to the program.
function M.tsan_env()
  local root = sys.capture("pwd"):gsub("%s+$", "")
  return "TSAN_OPTIONS=" .. sys.quote(os.getenv("TSAN_OPTIONS") or M.TSAN_OPTIONS:format(root))
end

--- The shell command that builds the harness with cc (or $CC) and Lua 5.4 from pkg-config.
function M.build_command(out, cc)
  return string.format("%s -std=c99 -D_POSIX_C_SOURCE=200809L -O1 -g -Wall -Wextra -pthread " ..
    "$(pkg-config --cflags lua5.4) -o %s %s $(pkg-config --libs lua5.4) 2>&1",
    cc or os.getenv("CC") or "cc", sys.quote(out), M.SOURCE)
end

--- Runs the harness for `calls` rounds per thread with a fresh local service, killed after
-- `seconds`; `env` (optional) is put before the command, e.g. "TSAN_OPTIONS=...". Returns
-- { status = exit status, output = stdout and stderr, served = the number of API requests the
-- service saw }.
function M.run(harness, module_dir, calls, seconds, env)
  local server = local_service.start()
  local ok, result = pcall(function()
    local out = sys.capture(string.format("%s timeout --kill-after=5 %d %s . %s %s %d %d 2>&1; echo \"exit:$?\"",
      env or "", seconds, sys.quote(harness), sys.quote(module_dir), sys.quote(server.url), calls, M.THREADS))
    local status = tonumber(out:match("exit:(%d+)%s*$"))
    local log = server.get("/_local/requests")
    return { status = status, output = out:gsub("exit:%d+%s*$", ""),
      served = tonumber(log:match('"count":(%d+)')) }
  end)
  server.stop()
  if not ok then error(result, 0) end
  return result
end

--- The calls each thread reported: { [index] = { koodrive = n, iotda = n } }, for the lines
-- that say "thread N: N koodrive calls ok, N iotda calls ok".
function M.counts(output)
  local counts = {}
  for i, kd, iot in output:gmatch("thread (%d+): (%d+) koodrive calls ok, (%d+) iotda calls ok\n") do
    counts[tonumber(i)] = { koodrive = tonumber(kd), iotda = tonumber(iot) }
  end
  return counts
end

--- What one thread must report after `calls` rounds: a list before and after the rounds, and
-- per round a bind and an unbind of a device and of a policy target, and the 5 calls of an
-- upload and its download.
function M.expected(calls)
  return { koodrive = 2 * calls + 2 + 5, iotda = 2 * calls }
end

--- Why a run is wrong, or nil when every thread made its calls and the service saw them all.
function M.problem(result, calls)
  if result.status ~= 0 then return "the harness exited with status " .. tostring(result.status) end
  if result.output:find("ThreadSanitizer", 1, true) then return "ThreadSanitizer reported" end
  local counts, want = M.counts(result.output), M.expected(calls)
  for i = 1, M.THREADS do
    local c = counts[i]
    if not c or c.koodrive ~= want.koodrive or c.iotda ~= want.iotda then
      return "thread " .. i .. " did not report its " .. want.koodrive .. " + " .. want.iotda .. " calls"
    end
  end
  local total = M.THREADS * (want.koodrive + want.iotda)
  if result.served ~= total then
    return "the service saw " .. tostring(result.served) .. " requests, not " .. total
  end
  return nil
end

if as_script then
  local harness, module_dir, calls = script_args[1], script_args[2], tonumber(script_args[3])
  if not (harness and module_dir and calls) then
    io.stderr:write("usage: lua5.4 spec/support/threads.lua HARNESS MODULE_DIR CALLS\n")
    os.exit(2)
  end
  local started = os.time()
  local result = M.run(harness, module_dir, calls, 100, M.tsan_env())
  io.write(result.output)
  local why = M.problem(result, calls)
  local want = M.expected(calls)
  if why then
    print("check-tsan: FAILED: " .. why)
    os.exit(1)
  end
  print(string.format("check-tsan: %d threads, %d signed calls each, no race reported (%ds)",
    M.THREADS, want.koodrive + want.iotda, os.time() - started))
  os.exit(0)
end

return M
