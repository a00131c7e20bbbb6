-- LuaRocks: `luarocks make --deps-mode=none` installs koodrive into a local tree for Lua 5.1
-- and for Lua 5.4, and a script that sees only that tree (plus the system's lua-cjson and
-- LuaSocket through the default paths, never the repository's lua/ or build/) loads it from
-- there and calls the local service.
--
-- It drives both installs itself, so it runs once: under lua5.4 (the interpreter of the local
-- service). luarocks writes build artefacts (src/*.o, koodrive/core.so) next to the rockspec,
-- so it works on a copy of the rockspec, src/ and lua/ in a temporary directory, which is
-- removed afterwards; the repository is left as it was.
if _VERSION ~= "Lua 5.4" then
  describe("luarocks make", function()
    pending("runs once, under lua5.4: it drives the Lua 5.1 and 5.4 installs itself (this is " ..
      _VERSION .. (jit and (", " .. jit.version) or "") .. ")")
  end)
  return
end

local local_service = require "local_service"
local creds = require "local_credentials"

local ROCKSPEC = "koodrive-scm-1.rockspec"

local q = require("support.sys").quote

-- Debian keeps curl/curl.h under the multiarch include directory, where LuaRocks does not look:
-- /usr/include/x86_64-linux-gnu on amd64.
local function curl_incdir()
  local p = io.popen("cc -print-multiarch 2>/dev/null")
  local arch = p and p:read("*l")
  if p then p:close() end
  return "/usr/include/" .. ((arch and arch ~= "") and arch or "x86_64-linux-gnu")
end

-- Runs a shell command; returns its exit status (a number) and its output (stdout + stderr).
local function sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"EXIT:$?\""))
  local out = p:read("*a")
  p:close()
  local status = out:match("EXIT:(%d+)\n$")
  return tonumber(status), (out:gsub("EXIT:%d+\n$", ""))
end

local function run(cmd)
  local status, out = sh(cmd)
  assert(status == 0, "command failed (" .. tostring(status) .. "): " .. cmd .. "\n" .. out)
  return out
end

-- The script run from the tree. It must work on every Lua (5.1 has no package.searchpath).
local CHILD = [==[
local function searchpath(name, path)
  if package.searchpath then return package.searchpath(name, path) end
  local file = name:gsub("%.", "/")
  for template in path:gmatch("[^;]+") do
    local candidate = template:gsub("%?", file)
    local f = io.open(candidate, "rb")
    if f then f:close() return candidate end
  end
  return nil
end

print("version " .. _VERSION)
print("searchpath koodrive " .. tostring(searchpath("koodrive", package.path)))
print("searchpath koodrive.core " .. tostring(searchpath("koodrive.core", package.cpath)))
print("searchpath koodrive.curl " .. tostring(searchpath("koodrive.curl", package.cpath)))
local koodrive = require "koodrive"
print("source koodrive.new " .. debug.getinfo(koodrive.new, "S").source)
local client = assert(koodrive.new { endpoint = os.getenv("KD_ENDPOINT"),
  user_id = os.getenv("KD_USER_ID"), token = os.getenv("KD_TOKEN"), timeout = 10 })
local device = assert(client.devices:bind { machineCode = os.getenv("KD_MACHINE_CODE"),
  deviceName = "luarocks", deviceOS = "android" })
print("bound " .. device.deviceId)
local devices = assert(client.devices:list())
for _, d in ipairs(devices) do print("listed " .. d.deviceId .. " " .. d.machineCode) end
-- the shared objects the process actually mapped, once the calls went through libcurl
local maps = io.open("/proc/self/maps", "rb")
if maps then
  for line in maps:lines() do
    local path = line:match("(/%S*koodrive/%a+%.so)$")
    if path then print("mapped " .. path) end
  end
  maps:close()
end
client:close()
print("done")
]==]

describe("luarocks make", function()
  local root, server

  setup(function()
    root = run("mktemp -d \"${TMPDIR:-/tmp}/koodrive-luarocks.XXXXXX\""):match("^([^\n]+)")
    server = local_service.start()
  end)

  teardown(function()
    if server then server.stop() end
    if root and root:find("koodrive%-luarocks%.") then os.execute("rm -rf " .. q(root)) end
  end)

  for i, v in ipairs { "5.1", "5.4" } do
    it("installs into a local tree for Lua " .. v .. ", which alone runs a call", function()
      local dir = root .. "/" .. v
      local work, tree = dir .. "/source", dir .. "/tree"
      -- A copy of what the rockspec builds from.
      run("mkdir -p " .. q(work .. "/src") .. " && cp " .. q(ROCKSPEC) .. " " .. q(work) ..
        " && cp -R lua bin " .. q(work) .. " && cp src/*.c src/*.h " .. q(work .. "/src"))
      local marker = dir .. "/started"
      run("touch " .. q(marker))

      -- luarocks sees neither the repository's module paths nor its build directory.
      local out = run("cd " .. q(work) .. " && env -u LUA_PATH -u LUA_CPATH -u LUA_INIT luarocks" ..
        " --lua-version " .. v .. " make --deps-mode=none --tree " .. q(tree) ..
        " CURL_INCDIR=" .. q(curl_incdir()) .. " " .. ROCKSPEC)
      assert.matches("koodrive scm-1 is now installed in " .. tree, out, 1, true)
      -- the build happened in the copy, and wrote nothing into the repository
      local built = io.open(work .. "/koodrive/core.so", "rb")
      assert.is_truthy(built, "no build artefact in the copy")
      built:close()
      assert.are.equal("", run("find koodrive src lua -newer " .. q(marker) ..
        " \\( -name '*.o' -o -name '*.so' -o -name '*.rock' \\) 2>/dev/null; true"))

      local share, lib = tree .. "/share/lua/" .. v, tree .. "/lib/lua/" .. v
      -- the rockspec installs the koodrive command; it runs with the tree's paths, as after
      -- `eval "$(luarocks --tree TREE path)"`
      local help_status, help = sh("env -u LUA_INIT LUA_PATH=" .. q(share .. "/?.lua;" .. share .. "/?/init.lua;;") ..
        " LUA_CPATH=" .. q(lib .. "/?.so;;") .. " " .. q(tree .. "/bin/koodrive") .. " help")
      assert.are.equal(0, help_status, help)
      assert.matches("devices", help, 1, true)
      local f = assert(io.open(dir .. "/child.lua", "wb"))
      f:write(CHILD)
      f:close()
      -- Run from the temporary directory: the default paths start with ./?.lua and ./?.so.
      local status, child = sh("cd " .. q(dir) .. " && env -u LUA_INIT -u LUA_INIT_5_4" ..
        " -u LUA_PATH_5_4 -u LUA_CPATH_5_4" ..
        " LUA_PATH=" .. q(share .. "/?.lua;" .. share .. "/?/init.lua;;") ..
        " LUA_CPATH=" .. q(lib .. "/?.so;;") ..
        " KD_ENDPOINT=" .. q(server.url) .. " KD_USER_ID=" .. q(creds.koodrive.user_id) ..
        " KD_TOKEN=" .. q(next(creds.koodrive.tokens)) .. " KD_MACHINE_CODE=" .. q("rock" .. i) ..
        " lua" .. v .. " child.lua")
      assert.are.equal(0, status, child)
      assert.matches("version Lua " .. v, child, 1, true)
      assert.matches("searchpath koodrive " .. share .. "/koodrive/init.lua\n", child, 1, true)
      assert.matches("searchpath koodrive.core " .. lib .. "/koodrive/core.so\n", child, 1, true)
      assert.matches("searchpath koodrive.curl " .. lib .. "/koodrive/curl.so\n", child, 1, true)
      assert.matches("source koodrive.new @" .. share .. "/koodrive/client.lua\n", child, 1, true)
      -- Every module mapped comes from the tree; core and curl (the calls went through libcurl).
      local mapped = {}
      for path in child:gmatch("mapped (%S+)") do
        assert.are.equal(lib .. "/koodrive/", path:sub(1, #lib + 10))
        mapped[path:match("[^/]+$")] = true
      end
      assert.is_true(mapped["core.so"] and mapped["curl.so"], "koodrive modules not mapped:\n" .. child)
      local bound = child:match("bound (%d+)\n")
      assert.is_string(bound, child)
      assert.matches("listed " .. bound .. " rock" .. i .. "\n", child, 1, true)
      assert.matches("done\n$", child)
    end)
  end
end)
