-- support.sys: files, shell commands and processes, for the specs and their helpers.
--
--   local sys = require "support.sys"
--   sys.run("mkdir -p " .. sys.quote(dir))
--
-- os.execute gives true|nil on Lua 5.2+ and the exit status (0 on success) on 5.1 and LuaJIT;
-- everything here works on both.
local socket = require "socket"

local M = {}

--- s as one single-quoted shell word.
function M.quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

--- The whole file, or nil when it cannot be opened.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes text to path, replacing what was there.
function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- A new empty folder under the system's temporary folder (the caller removes it).
function M.tmp_dir()
  local d = os.tmpname()
  os.remove(d)
  M.run("mkdir -p " .. M.quote(d))
  return d
end

--- n deterministic bytes from a cheap generator (the same on every interpreter, unlike
-- math.random): content that differs at every offset, for hashing and transfer specs.
function M.bytes(n, seed)
  local t, x = {}, seed or 7
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    t[i] = string.char(math.floor(x / 65536) % 256)
  end
  return table.concat(t)
end

--- Whether a shell command exits with status 0.
function M.succeeds(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

--- Runs a shell command; raises (at the caller) when it fails.
function M.run(cmd)
  if not M.succeeds(cmd) then error("command failed: " .. cmd, 2) end
end

--- The standard output of a shell command.
function M.capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  return out
end

--- Whether the process runs. A zombie counts as gone: it has exited, and whether someone
-- reaps it soon is not ours to wait for.
function M.alive(pid)
  local stat = M.read("/proc/" .. pid .. "/stat")
  if stat then
    local state = stat:match("^%d+ %b() (%a)")
    return state ~= "Z" and state ~= "X"
  end
  if M.read("/proc/self/stat") then return false end -- /proc works, so it is gone
  return M.succeeds("kill -0 " .. pid .. " 2>/dev/null")
end

--- A TCP port on 127.0.0.1 that was free a moment ago (for a server about to start).
function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

return M
