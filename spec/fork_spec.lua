-- After fork(): the blocking client, the loop (multi handle) and their pooled easy handles
-- notice they are in a new process and start fresh connections, so parent and child each get
-- only their own answers; the child's use and close of the inherited handles leave the
-- parent's keep-alive TLS connection working; trace ids (and the JSON int64 nonce of a fresh
-- process) come from the OS, so they differ between processes on every interpreter.
-- fork() comes from spec/support/forker.c (support.fork), built for this interpreter.
local fork = require "support.fork"
local echo = require "support.echo_server"
local sys = require "support.sys"
local tls_server = require "support.tls_server"
local koodrive = require "koodrive"
local pipeline = require "koodrive.pipeline"
local curl_core = require "koodrive.curl"

local LUA = arg and arg[-1] or "lua5.4"

local server
setup(function() server = echo.start { name = "origin" } end)
teardown(function() if server then server.stop() end end)

local function client(url, extra)
  local config = { endpoint = url, user_id = "1505084218764547200", token = "fork-spec-token",
    trace_ids = true, timeout = 10 }
  for k, v in pairs(extra or {}) do config[k] = v end
  return assert(koodrive.new(config))
end

-- Runs fn() in a forked child, which ends right after (fork.exit: no atexit, no Lua close).
-- fn returns an array of strings; the returned `collect()` waits for the child and gives them
-- back (a child that failed gives { "error: ..." }).
local function in_child(fn)
  local out = os.tmpname()
  local pid = fork.fork()
  if pid == 0 then
    pcall(function()
      local ok, lines = pcall(fn)
      local f = io.open(out, "w")
      if ok then
        f:write(table.concat(lines, "\n"), "\n", "done\n")
      else
        f:write("error: ", tostring(lines), "\n")
      end
      f:close()
    end)
    fork.exit(0)
  end
  return function()
    fork.wait(pid)
    local lines = {}
    for line in (sys.read(out) or ""):gmatch("[^\n]+") do lines[#lines + 1] = line end
    os.remove(out)
    assert.are.equal("done", lines[#lines], "the child did not finish: " .. tostring(lines[1]))
    lines[#lines] = nil
    return lines
  end
end

-- One echo call that says who made it; returns "ok <conn> <trace>" or what went wrong.
local function marked_call(c, who, i, delay)
  local body, err = c:call { method = "GET", path = "/fork/echo",
    query = { who = who, i = tostring(i), delay = tostring(delay or 2) } }
  if not body then return "failed " .. tostring(err) end
  local d = body.data
  local want = "who=" .. who .. "&i=" .. i .. "&"
  -- query order is the pipeline's; look for both parts rather than one order.
  if not (d.target:find("who=" .. who, 1, true) and d.target:find("i=" .. i .. "[&]?", 1)) then
    return "wrong answer for " .. want .. ": " .. d.target
  end
  return "ok " .. d.conn .. " " .. d.trace
end

-- Splits "ok <conn> <trace>" lines into a set of conns and a set of traces; asserts all ok.
local function tally(lines, who)
  local conns, traces = {}, {}
  for _, line in ipairs(lines) do
    local conn, trace = line:match("^ok (%d+) (%x+)$")
    assert.is_truthy(conn, who .. ": " .. line)
    conns[conn], traces[trace] = true, true
  end
  return conns, traces
end

local function disjoint(a, b, what)
  for k in pairs(a) do assert.is_nil(b[k], what .. " shared by parent and child: " .. k) end
end

describe("after fork()", function()
  it("a blocking client's parent and child each get only their own answers", function()
    local c = client(server.url)
    assert.are.equal("ok", marked_call(c, "parent", 0):sub(1, 2)) -- a keep-alive connection now
    local collect = in_child(function()
      local out = {}
      for i = 1, 40 do out[#out + 1] = marked_call(c, "child", i) end
      c:close()
      return out
    end)
    local mine = {}
    for i = 1, 40 do mine[#mine + 1] = marked_call(c, "parent", i) end
    local theirs = collect()
    assert.are.equal(40, #theirs)
    local pconns, ptraces = tally(mine, "parent")
    local cconns, ctraces = tally(theirs, "child")
    disjoint(pconns, cconns, "connection")
    disjoint(ptraces, ctraces, "trace id")
    -- The parent's connection survived the child's use, close and exit.
    assert.are.equal("ok", marked_call(c, "parent", 41):sub(1, 2))
    c:close()
  end)

  it("a loop's parent and child each get only their own answers", function()
    local c = client(server.url)
    local L = koodrive.loop()
    local function burst(who, n)
      local out = {}
      for t = 1, n do
        L:spawn(function()
          for k = 1, 3 do
            local r = marked_call(c, who, t * 10 + k, 3) -- yields: index after it
            out[#out + 1] = r
          end
        end)
      end
      L:run()
      return out
    end
    burst("warmup", 8) -- connections in the loop's cache and easy handles in its pool
    local collect = in_child(function()
      local out = burst("child", 12)
      L:close()
      return out
    end)
    local mine = burst("parent", 12)
    local theirs = collect()
    assert.are.equal(36, #mine)
    assert.are.equal(36, #theirs)
    local pconns, ptraces = tally(mine, "parent")
    local cconns, ctraces = tally(theirs, "child")
    disjoint(pconns, cconns, "connection")
    disjoint(ptraces, ctraces, "trace id")
    assert.are.equal(3, #burst("parent-again", 1))
    L:close()
    c:close()
  end)

  it("calls in flight at the fork stay the parent's; in the child they end as 'forked'", function()
    local c = client(server.url)
    local L = koodrive.loop()
    local results = {}
    for t = 1, 4 do
      L:spawn(function()
        local body, err = c:call { method = "GET", path = "/fork/slow", query = { t = tostring(t), delay = "300" } }
        results[t] = body and ("ok " .. body.data.target) or
          ("err " .. tostring(err.reason) .. " " .. tostring(err.retryable) .. " " .. tostring(err.attempts))
      end)
    end
    L:poll(0.05) -- the four requests are on the wire
    local collect = in_child(function()
      L:run()
      L:close()
      return results
    end)
    L:run()
    local theirs = collect()
    for t = 1, 4 do
      assert.matches("^ok /fork/slow", results[t])
      assert.matches("^err forked false", theirs[t])
    end
    L:close()
    c:close()
  end)

  it("trace ids differ between parent and child", function()
    local collect = in_child(function()
      local out = {}
      for i = 1, 5 do out[i] = pipeline.new_trace_id() end
      return out
    end)
    local mine = {}
    for i = 1, 5 do mine[pipeline.new_trace_id()] = i end
    for _, id in ipairs(collect()) do
      assert.matches("^%x+$", id)
      assert.are.equal(58, #id)
      assert.is_nil(mine[id], "the child repeated the parent's trace id " .. id)
    end
  end)

  it("separate processes draw different trace ids and JSON int64 nonces", function()
    local script = "local p = require 'koodrive.pipeline'; local j = require 'koodrive.json';" ..
      "io.write(p.new_trace_id(), ' ', (j.int64('1'):match('int64%-(%x+):')))"
    local file = os.tmpname() -- a file, not -e: the sanitizer build's lua takes only scripts
    sys.write(file, script)
    local cmd = sys.quote(LUA) .. " " .. sys.quote(file)
    local a, b = sys.capture(cmd), sys.capture(cmd)
    os.remove(file)
    local ta, na = a:match("^(%x+) (%x+)$")
    local tb, nb = b:match("^(%x+) (%x+)$")
    assert.is_truthy(ta, a)
    assert.is_truthy(tb, b)
    assert.are_not.equal(ta, tb)
    assert.are_not.equal(na, nb)
  end)
end)

describe("after fork(), over TLS", function()
  local tls
  setup(function() tls = tls_server.start() end)
  teardown(function() if tls then tls.stop() end end)

  local function get(h)
    return assert(h:perform { method = "GET", url = tls.url .. "/", ca_file = tls.ca_file, timeout = 10,
      max_body = 65536 })
  end

  it("the child's use and close of a blocking handle leave the parent's connection alive", function()
    local h = curl_core.http()
    local first = get(h)
    assert.are.equal(1, first.new_connections)
    local collect = in_child(function()
      local r = get(h)
      h:close()
      return { tostring(r.new_connections), tostring(r.local_port) }
    end)
    local theirs = collect()
    assert.are.equal("1", theirs[1], "the child reused the parent's TLS connection")
    assert.are_not.equal(tostring(first.local_port), theirs[2])
    local again = get(h)
    assert.are.equal(0, again.new_connections, "the parent's keep-alive connection was broken")
    assert.are.equal(first.local_port, again.local_port)
    h:close()
  end)

  it("the child's close of a multi handle leaves the parent's connection alive", function()
    local m = curl_core.multi()
    local function get_multi()
      local id = assert(m:add { method = "GET", url = tls.url .. "/", ca_file = tls.ca_file, timeout = 10, max_body = 65536 })
      for _ = 1, 200 do
        for _, done in ipairs(m:perform(0.05)) do
          if done == id then return assert(m:take(id)) end
        end
      end
      error("no answer")
    end
    local first = get_multi()
    assert.are.equal(1, first.new_connections)
    local collect = in_child(function()
      m:close()
      return { "closed" }
    end)
    assert.are.same({ "closed" }, collect())
    local again = get_multi()
    assert.are.equal(0, again.new_connections, "the child's close broke the parent's connection")
    assert.are.equal(first.local_port, again.local_port)
    m:close()
  end)
end)
