-- Several lua_States on several threads: spec/support/threads_harness.c (built here with cc)
-- runs four Lua 5.4 states on four threads, released together from a barrier, so that their
-- first require "koodrive", first load of koodrive.sign and koodrive.curl and first signature
-- happen at once; then each makes its own signed calls (KooDrive app HMAC-SHA256, IoTDA SDK and
-- V11 AK/SK, blocking and multi handles) against the local service and checks every answer.
-- The harness always runs Lua 5.4 (build/5.4), whichever interpreter runs this spec.
-- The third case runs it under ThreadSanitizer too (built with clang-14 into build/tsan, as
-- `make check-tsan` does with more rounds): a data race on process-wide state in src/ fails it.
local sys = require "support.sys"
local threads = require "support.threads"

local ROUNDS = 10

describe("four lua_States on four threads", function()
  local cc = os.getenv("CC") or "cc"
  local have_cc = sys.succeeds("command -v " .. sys.quote(cc) .. " >/dev/null 2>&1")
  local dir, harness

  setup(function()
    if not have_cc then return end
    dir = os.tmpname()
    os.remove(dir)
    sys.run("mkdir -p " .. sys.quote(dir))
    harness = dir .. "/threads_harness"
    -- The Lua 5.4 modules the harness loads; make does nothing when they are up to date.
    sys.run("make -s --no-print-directory build/5.4/koodrive/core.so >/dev/null")
    local out = sys.capture(threads.build_command(harness, cc) .. "; echo \"exit:$?\"")
    assert(out:match("exit:0%s*$"), "building the harness failed:\n" .. out)
  end)

  teardown(function()
    if dir then os.execute("rm -rf " .. sys.quote(dir)) end
  end)

  it("sign at the same moment and each gets its own correct answers", function()
    if not have_cc then return pending("no C compiler (" .. cc .. ")") end
    local result = threads.run(harness, "build/5.4", ROUNDS, 60)
    assert.is_nil(threads.problem(result, ROUNDS), result.output)
    assert.are.equal(0, result.status)
    local counts = threads.counts(result.output)
    for i = 1, threads.THREADS do
      assert.are.same({ koodrive = 2 * ROUNDS + 2 + 5, iotda = 2 * ROUNDS }, counts[i], result.output)
    end
    assert.matches("threads: 4 of 4 ok", result.output, 1, true)
    -- The service saw every call of every thread, and nothing else.
    assert.are.equal(threads.THREADS * (4 * ROUNDS + 2 + 5), result.served)
  end)

  it("under ThreadSanitizer, share no unsynchronised state (make check-tsan, shorter)", function()
    if not sys.succeeds("command -v clang-14 >/dev/null 2>&1") then return pending("no clang-14 (make check-deps)") end
    local tsan = "build/tsan"
    sys.run("make -s --no-print-directory " .. tsan .. "/koodrive/core.so " .. tsan .. "/koodrive/sign.so " ..
      tsan .. "/koodrive/curl.so " .. tsan .. "/threads_harness >/dev/null")
    local result = threads.run(tsan .. "/threads_harness", tsan, 3, 90, threads.tsan_env())
    assert.is_nil(result.output:find("ThreadSanitizer", 1, true), result.output)
    assert.are.equal(0, result.status, result.output)
    assert.is_nil(threads.problem(result, 3), result.output)
  end)

  it("fails, naming each thread, when the calls fail", function()
    if not have_cc then return pending("no C compiler (" .. cc .. ")") end
    -- Nothing listens on the port: every thread's first call is a connect failure.
    local url = "http://127.0.0.1:" .. sys.free_port()
    local out = sys.capture(string.format("timeout 60 %s . build/5.4 %s 2 2>&1; echo \"exit:$?\"",
      sys.quote(harness), sys.quote(url)))
    assert.matches("exit:1%s*$", out)
    for i = 1, threads.THREADS do
      assert.matches("thread " .. i .. ": FAILED: thread " .. i .. ": devices:list: ", out, 1, true)
    end
    assert.matches("threads: 0 of 4 ok", out, 1, true)
    assert.are.same({}, threads.counts(out))
  end)
end)
