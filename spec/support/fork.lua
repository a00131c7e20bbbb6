-- support.fork: fork() for the specs, from spec/support/forker.c built on the spot with cc for
-- the interpreter that runs the spec (pkg-config names its headers), into a temporary
-- directory that is removed once the module is loaded (it stays mapped).
--
--   local fork = require "support.fork"
--   local pid = fork.fork()           -- 0 in the child
--   if pid == 0 then ...; fork.exit(0) end
--   fork.wait(pid)                    -- the child's exit status
--   local text = fork.run(fn)         -- fn() in a child: the string it returned
local sys = require "support.sys"

local function headers()
  if type(jit) == "table" then return "luajit" end
  return "lua" .. _VERSION:match("%d+%.%d+")
end

local dir = os.tmpname()
os.remove(dir)
sys.run("mkdir -p " .. sys.quote(dir))
local so = dir .. "/forker.so"
sys.run("cc -std=c99 -D_POSIX_C_SOURCE=200809L -O1 -fPIC -shared $(pkg-config --cflags " ..
  headers() .. ") -o " .. sys.quote(so) .. " spec/support/forker.c")
local open = assert(package.loadlib(so, "luaopen_forker"))
os.execute("rm -rf " .. sys.quote(dir))
local M = open()

--- Runs fn() in a forked child, which ends right after (fork.exit: no atexit, no Lua close),
-- and gives back the string fn returned, or "error <message>" when it raised.
function M.run(fn)
  local out = os.tmpname()
  local pid = M.fork()
  if pid == 0 then
    local ok, text = pcall(fn)
    local f = io.open(out, "wb")
    if f then f:write(ok and tostring(text) or ("error " .. tostring(text))); f:close() end
    M.exit(0)
  end
  M.wait(pid)
  local text = sys.read(out)
  os.remove(out)
  return text
end

return M
