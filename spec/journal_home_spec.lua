-- Where an upload's resume journal lives when the caller names none: beside the source, or -
-- when the source's folder cannot be written (a read-only mount, another user's folder) - in
-- the user's state folder, and nowhere (no journal, the upload still runs) when neither can be
-- had. A folder is made unwritable for real: chmod for a user, `chattr +i` for root (whom
-- permissions do not stop); the uploads run in a child with its own XDG_STATE_HOME/HOME.
local journal = require "koodrive.transfer.journal"
local sign = require "koodrive.sign"
local core = require "koodrive.core"
local sys = require "support.sys"
local local_service = require "local_service"

local LUA = arg and arg[-1] or "lua5.4"
local root = sys.capture("id -u"):match("^0") ~= nil

local dir

-- Makes `folder` unwritable; returns a function that undoes it, or nil and why it cannot.
local function lock(folder)
  if root then
    if not sys.succeeds("chattr +i " .. sys.quote(folder) .. " 2>/dev/null") then
      return nil, "chattr +i is refused here (no CAP_LINUX_IMMUTABLE or no such attribute on this file system)"
    end
    return function() sys.succeeds("chattr -i " .. sys.quote(folder)) end
  end
  sys.run("chmod 555 " .. sys.quote(folder))
  return function() sys.run("chmod 755 " .. sys.quote(folder)) end
end

describe("the default journal of an upload", function()
  local unlock = {}
  setup(function() dir = sys.tmp_dir() end)
  after_each(function()
    for _, undo in ipairs(unlock) do undo() end
    unlock = {}
  end)
  teardown(function() sys.run("rm -rf " .. sys.quote(dir)) end)

  it("is a hidden file beside a source whose folder can be written", function()
    assert.are.equal(dir .. "/.a.bin.koodrive-upload", journal.default_path(dir .. "/a.bin"))
  end)

  it("is in the state folder, named after the source's absolute path, when its folder cannot be written", function()
    local ro = dir .. "/ro"
    sys.run("mkdir -p " .. sys.quote(ro) .. " && head -c 6000000 /dev/urandom > " .. sys.quote(ro .. "/src.bin"))
    local undo, why = lock(ro)
    if not undo then return pending(why) end
    unlock[#unlock + 1] = undo
    assert.is_false((core.writable(ro)))

    local server = local_service.start()
    local state = dir .. "/state"
    local script = dir .. "/child.lua"
    sys.write(script, [[
      local koodrive = require "koodrive"
      local creds = require "local_credentials"
      local journal = require "koodrive.transfer.journal"
      local src, url = arg[1], arg[2]
      local path = journal.default_path(src)
      if url == "-" then return print("journal=" .. tostring(path)) end
      local c = assert(koodrive.new { endpoint = url, user_id = creds.koodrive.user_id,
        token = "local-token-alice", timeout = 30 })
      local space = assert(c.spaces:mine()).containerId
      local seen
      local r, err = c.files:upload(src, { containerId = space, fileName = "ro-src.bin", concurrency = 1,
        part_size = 5 * 1024 * 1024,
        progress = function() if seen == nil then local f = io.open(path, "rb"); seen = f ~= nil; if f then f:close() end end end })
      local left = io.open(path, "rb")
      if left then left:close() end
      print("journal=" .. tostring(path))
      print("result=" .. tostring(r and r.parts) .. " " .. tostring(err))
      print("seen=" .. tostring(seen) .. " left=" .. tostring(left ~= nil))
    ]])
    local env = "XDG_STATE_HOME=" .. sys.quote(state) .. " HOME=" .. sys.quote(ro) .. " LUA_PATH=" .. sys.quote(package.path) ..
      " LUA_CPATH=" .. sys.quote(package.cpath) .. " "
    local out = sys.capture(env .. sys.quote(LUA) .. " " .. sys.quote(script) .. " " .. sys.quote(ro .. "/src.bin") ..
      " " .. sys.quote(server.url) .. " 2>&1")
    server.stop()
    local expected = state .. "/koodrive/uploads/" .. sign.sha256_hex(core.realpath(ro .. "/src.bin")) .. ".koodrive-upload"
    assert.matches("journal=" .. expected:gsub("%p", "%%%0"), out)
    assert.matches("result=2 nil", out, 1, true)           -- the upload itself went through
    assert.matches("seen=true left=false", out, 1, true)   -- journaled while it ran, gone after
    assert.are.equal("directory", core.stat(state .. "/koodrive/uploads").type)
    -- (the folder made for it is the user's alone)
    assert.matches("^drwx%-%-%-%-%-%-", sys.capture("ls -ld " .. sys.quote(state .. "/koodrive/uploads")))
    -- nothing was written beside the source
    assert.are.equal("src.bin\n", sys.capture("ls -A " .. sys.quote(ro)))

    -- neither beside it nor a state folder (HOME the unwritable folder, no XDG_STATE_HOME): no
    -- journal, and the upload is not refused for it
    local none = sys.capture("XDG_STATE_HOME= HOME=" .. sys.quote(ro) .. " LUA_PATH=" .. sys.quote(package.path) ..
      " LUA_CPATH=" .. sys.quote(package.cpath) .. " " .. sys.quote(LUA) .. " " .. sys.quote(script) .. " " ..
      sys.quote(ro .. "/src.bin") .. " - 2>&1")
    assert.are.equal("journal=nil\n", none)
  end)
end)
