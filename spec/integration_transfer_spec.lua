-- files:upload and files:download against the local service and its object store (nginx
-- serving presigned PUT and GET URLs): the service checks each part's bytes, partOffset and
-- hashCtx and the whole file's sha256 with its own SHA-256 code (server/koodrive_local), so an
-- upload it accepts was hashed right; /_local/store counts what the store received.
local koodrive = require "koodrive"
local json = require "koodrive.json"
local local_service = require "local_service"
local creds = require "local_credentials"

local server
local MiB = 1024 * 1024

setup(function() server = local_service.start() end)
teardown(function() if server then server.stop() end end)

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end
local function sha(path) return (sh("sha256sum " .. path):match("^(%x+)")) end
local function tmp_dir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

local function client(mode)
  local config = { endpoint = server.url, user_id = creds.koodrive.user_id, timeout = 30, connect_timeout = 5 }
  if mode == "token" then
    config.token = "local-token-alice"
  else
    local app_id, app_secret = next(creds.koodrive.apps)
    config.app_id, config.app_secret = app_id, app_secret
  end
  return assert(koodrive.new(config))
end

local function store()
  return json.decode((server.get("/_local/store")))
end

for _, mode in ipairs { "token", "app" } do
  describe("uploads and downloads against the local service (" .. mode .. " mode)", function()
    local dir, c, space
    setup(function()
      dir = tmp_dir()
      c = client(mode)
      space = assert(c.spaces:mine()).containerId
    end)
    teardown(function() os.execute("rm -rf " .. dir) end)

    it("uploads in parallel parts the service verifies, lists it, downloads it byte for byte", function()
      local src = dir .. "/big.bin"
      assert(os.execute("head -c " .. (12 * MiB + 77) .. " /dev/urandom > " .. src))
      local before = store().bytes_received
      local r, err = c.files:upload(src, { containerId = space, fileName = mode .. "-big.bin", concurrency = 3 })
      assert.is_nil(err)
      assert.are.same({ 3, 0, false, sha(src) }, { r.parts, r.resumed_parts, r.rapidUpload, r.sha256 })
      assert.are.equal(12 * MiB + 77, store().bytes_received - before)
      local detail = assert(c.files:get(r.fileId, { containerId = space }))
      assert.are.equal(12 * MiB + 77, tonumber(detail.size))
      local dest = dir .. "/back.bin"
      local d = assert(c.files:download(r.fileId, dest, { containerId = space, concurrency = 4 }))
      assert.are.equal(12 * MiB + 77, d.size)
      assert.are.equal(sha(src), sha(dest))
      -- the same content again: the service has it, nothing is sent
      before = store().bytes_received
      local again = assert(c.files:upload(src, { containerId = space, fileName = mode .. "-big2.bin" }))
      assert.is_true(again.rapidUpload)
      assert.are.equal(before, store().bytes_received)
    end)

    it("resumes after the process is killed mid-upload: the rerun sends only the parts not stored", function()
      local src = dir .. "/resume.bin"
      local size = 4 * 5242880 + 1000
      assert(os.execute("head -c " .. size .. " /dev/urandom > " .. src))
      local journal = dir .. "/.resume.bin.koodrive-upload"
      server.get("/_local/store?rate=" .. (6 * MiB)) -- ~0.9 s a part: time to kill in between
      local script = dir .. "/child.lua"
      local f = assert(io.open(script, "w"))
      f:write(string.format([[
local koodrive = require "koodrive"
local c = assert(koodrive.new { endpoint = %q, user_id = %q, token = "local-token-alice" })
c.files:upload(%q, { containerId = %q, fileName = %q, concurrency = 1 })
]], server.url, creds.koodrive.user_id, src, space, mode .. "-resume.bin"))
      f:close()
      local lua = arg and arg[-1] or "lua5.4"
      local pid = tonumber(sh(string.format("(%s %s >/dev/null 2>&1 & echo $!)", lua, script)))
      local deadline, stored = os.time() + 30, 0
      repeat
        sh("sleep 0.05")
        local jf = io.open(journal)
        if jf then
          local j = json.decode(jf:read("*a") or "")
          jf:close()
          stored = j and j.stored and #j.stored or 0
        end
      until stored >= 1 or os.time() > deadline
      os.execute("kill -9 " .. pid .. " 2>/dev/null")
      server.get("/_local/store?reset=1")
      -- What the child had written into the socket before it died may still reach the store
      -- (its reads were paced): wait until the store has read everything it is going to.
      local last, quiet_until = -1, os.time() + 30
      repeat
        local now = store().bytes_read
        if now == last then break end
        last = now
        sh("sleep 0.5")
      until os.time() > quiet_until
      assert.is_true(stored >= 1, "the child stored no part before the deadline")
      local text = assert(io.open(journal)):read("*a")
      assert.is_nil(text:find("X-Amz-Signature", 1, true))
      assert.is_nil(text:find("local-token-alice", 1, true))
      stored = #json.decode(text).stored
      local before = store().bytes_received
      local r = assert(c.files:upload(src, { containerId = space, fileName = mode .. "-resume.bin", concurrency = 2 }))
      assert.are.equal(stored, r.resumed_parts)
      assert.are.equal(size - stored * 5242880, store().bytes_received - before)
      assert.are.equal(sha(src), r.sha256)
      assert.is_nil(io.open(journal))
    end)
  end)
end
