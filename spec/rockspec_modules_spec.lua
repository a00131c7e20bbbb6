-- The rockspec installs every Lua module of the tree (a module missing there works from a
-- checkout and fails once installed with LuaRocks), and nothing that is not in the tree.
local function rockspec_modules()
  local f = assert(io.open("koodrive-scm-1.rockspec"))
  local text = f:read("*a")
  f:close()
  local listed = {}
  for name, file in text:gmatch('%["(koodrive[%w%._]*)"%]%s*=%s*"(lua/[^"]+%.lua)"') do listed[file] = name end
  return listed
end

local function tree_modules()
  local out = {}
  local p = assert(io.popen("find lua -name '*.lua' | sort"))
  for file in p:lines() do
    -- meta.lua holds LuaLS declarations only; it is not installed.
    if file ~= "lua/koodrive/meta.lua" then out[#out + 1] = file end
  end
  p:close()
  return out
end

describe("koodrive-scm-1.rockspec", function()
  it("lists every Lua module of lua/ under its module name", function()
    local listed = rockspec_modules()
    for _, file in ipairs(tree_modules()) do
      local want = file:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
      assert.are.equal(want, listed[file], file .. " is not installed by the rockspec as " .. want)
    end
  end)

  it("lists no file that does not exist", function()
    for file in pairs(rockspec_modules()) do
      local f = io.open(file)
      assert.is_truthy(f, file .. " is in the rockspec but not in the tree")
      if f then f:close() end
    end
  end)
end)
