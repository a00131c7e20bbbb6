-- The paginators and job waits read the same in a plain script, a koodrive.loop task and an
-- OpenResty handler (Debian's nginx with its Lua module), against the local service: cursor
-- listings with empty pages before the end, offset listings, a file job waited for, and - in
-- the host that cannot block - other work going on while the wait sleeps.
local cjson = require "cjson"
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"
local nginx = require "support.nginx"
local socket = require "socket"

local KD = creds.koodrive
local SPACE = KD.space.containerId

local service

setup(function()
  service = local_service.start()
end)
teardown(function() if service then service.stop() end end)
before_each(function()
  service.control("/_local/reset")
  service.control("/_local/jobs?pending_ms=200&processing_ms=200")
  service.control("/_local/paging?mode=empty_first&pages=2")
end)

local function client()
  return assert(koodrive.new { endpoint = service.url, user_id = KD.user_id, token = "local-token-alice",
    timeout = 10 })
end

local ROOT_NAMES = { "Documents", "Photos", "readme.txt" }

local function names(items)
  local out = {}
  for i, f in ipairs(items) do out[i] = f.fileName end
  table.sort(out)
  return out
end

describe("in a plain script", function()
  it("follows empty pages to the end, and waits for a job", function()
    local c = client()
    local all = assert(c.files:all({ containerId = SPACE, parentFileId = "root" }, { page_size = 1 }))
    assert.are.same(ROOT_NAMES, names(all))
    local path = assert(c.files:path("FlocalNotes000000000000000000000001", SPACE))
    local job = assert(c.files:delete({ { fileId = "FlocalNotes000000000000000000000001", filePath = path.fileIdPath } },
      { srcContainerId = SPACE, interval = 0.1 }))
    assert.are.equal("done", job.state)
    c:close()
  end)
end)

describe("in a koodrive.loop task", function()
  it("pages and waits through the loop while another task runs", function()
    local c = client()
    local loop = koodrive.loop()
    local events = {}
    loop:spawn(function()
      local all = assert(c.files:all({ containerId = SPACE, parentFileId = "root" }, { page_size = 1 }))
      events[#events + 1] = "listed " .. #all
      local created = assert(c.jobs:create { taskType = 2, actionType = 202,
        taskInfo = { srcContainerId = SPACE, fileInfo = { { fileId = "FlocalReadme00000000000000000000001" } } } })
      local job = assert(c.jobs:wait(created.jobId, { interval = 0.1 }))
      events[#events + 1] = "job " .. job.state
    end)
    local ticks = 0
    loop:spawn(function()
      for _ = 1, 5 do
        loop:sleep(0.05)
        ticks = ticks + 1
      end
    end)
    while loop:poll(0.05) > 0 do end
    loop:close()
    c:close()
    assert.are.same({ "listed 3", "job done" }, events)
    assert.are.equal(5, ticks)
  end)
end)

local CONF = [[
@MAIN@
events { worker_connections 64; }
http {
  access_log off;
  @TEMP_PATHS@
  lua_package_path "@LUA_PATH@";
  lua_package_cpath "@LUA_CPATH@";
  server {
    listen 127.0.0.1:@PORT@;
    location /api { content_by_lua_block { require("kd_hosts_api").handle("@SERVICE@") } }
    location /ping { content_by_lua_block { ngx.say("pong") } }
  }
}
]]

local HANDLERS = [[
local cjson = require "cjson"
local koodrive = require "koodrive"
local creds = require "local_credentials"
local M = {}
function M.handle(service)
  local KD = creds.koodrive
  local c = assert(koodrive.new { endpoint = service, user_id = KD.user_id, token = "local-token-alice" })
  local out = {}
  local all, err = c.files:all({ containerId = KD.space.containerId, parentFileId = "root" }, { page_size = 1 })
  out.listed = all and #all or tostring(err)
  local n = 0
  for item, e in c.usergroups:members_each(KD.group_id, nil, { page_size = 1 }) do
    if not item then out.members_error = tostring(e); break end
    n = n + 1
  end
  out.members = n
  local created = assert(c.jobs:create { taskType = 2, actionType = 202, taskInfo = {
    srcContainerId = KD.space.containerId, fileInfo = { { fileId = "FlocalReadme00000000000000000000001" } } } })
  local job, jerr = c.jobs:wait(created.jobId, { interval = 0.2 })
  out.job = job and job.state or tostring(jerr)
  ngx.say(cjson.encode(out))
end
return M
]]

describe("in an OpenResty handler", function()
  local srv
  setup(function()
    local ok, why = nginx.available()
    assert(ok, why)
    srv = nginx.start { conf = CONF, files = { ["lua/kd_hosts_api.lua"] = HANDLERS }, vars = { SERVICE = service.url } }
  end)
  teardown(function() if srv then srv.stop() end end)

  it("pages over cosockets and waits on ngx.sleep: the worker answers /ping meanwhile", function()
    local pending = nginx.send_get(srv.port, "/api", 30)
    socket.sleep(0.3)
    local t0 = socket.gettime()
    local status, _, body = nginx.get(srv.port, "/ping", 10)
    local ping = socket.gettime() - t0
    assert.are.equal(200, status)
    assert.matches("pong", body)
    assert.is_true(ping < 0.5, "the worker was blocked for " .. ping .. " s")
    local st, _, answer = nginx.read_answer(pending)
    assert.are.equal(200, st, tostring(answer) .. "\n" .. srv.log():sub(-2000))
    local r = cjson.decode(answer)
    assert.are.equal(3, r.listed)
    assert.are.equal(#KD.group_members, r.members)
    assert.are.equal("done", r.job)
  end)
end)
