-- files:upload and files:download from an OpenResty content handler (Debian nginx +
-- libnginx-mod-http-lua, one worker, LuaJIT) against the local service: the flows get the
-- cosocket parts engine (koodrive.transfer.ngx_parts) there, the service verifies every part
-- and the whole file's sha256, and while a transfer is in flight (the store paced with its
-- per-connection rate) the same worker keeps answering /ping, whose answers carry the
-- transfer's progress: nothing blocks the worker. This file only starts processes and makes
-- HTTP requests with LuaSocket, so any interpreter runs it.
local json = require "koodrive.json"
local nginx = require "support.nginx"
local sys = require "support.sys"
local socket = require "socket"
local local_service = require "local_service"

local HANDLERS = [==[
local koodrive = require "koodrive"
local cjson = require "cjson.safe"
local creds = require "local_credentials"

local M = {}
local SERVICE

function M.init(service) SERVICE = service end

local function client()
  return assert(koodrive.new { endpoint = SERVICE, user_id = creds.koodrive.user_id,
    token = "local-token-alice", timeout = 30, connect_timeout = 5 })
end

local function note(done, total)
  ngx.shared.kd:set("done", done)
  ngx.shared.kd:set("total", total)
end

local routes = {}

function routes.upload(args)
  local c = client()
  local space = assert(c.spaces:mine()).containerId
  ngx.shared.kd:set("busy", true)
  local r, err = c.files:upload(args.path, { containerId = space, fileName = args.name,
    concurrency = tonumber(args.concurrency) or 3, progress = note })
  ngx.shared.kd:set("busy", false)
  local engine = require("koodrive.transfer.engine").new_parts { concurrency = 1 }
  local name = getmetatable(engine).__name
  engine:close()
  return { ok = r ~= nil, result = r, message = err and tostring(err), engine = name, space = space }
end

function routes.download(args)
  local c = client()
  ngx.shared.kd:set("busy", true)
  local r, err = c.files:download(args.id, args.dest, { containerId = args.space,
    concurrency = tonumber(args.concurrency) or 4, progress = note })
  ngx.shared.kd:set("busy", false)
  return { ok = r ~= nil, result = r, message = err and tostring(err) }
end

-- The progress the flow reported, or (watch = a path) how many bytes that file holds.
function routes.ping(args)
  local d = ngx.shared.kd
  local done, total = d:get("done"), d:get("total")
  if args.watch then
    local f = io.open(args.watch, "rb")
    done, total = f and f:seek("end") or 0, tonumber(args.total)
    if f then f:close() end
  end
  return { pong = true, busy = d:get("busy"), done = done, total = total }
end

-- The same flows in an ngx.timer: up, then down again; the handler only waits for them.
function routes.timer(args)
  local d = ngx.shared.kd
  d:delete("timer")
  local ok, terr = ngx.timer.at(0, function(premature)
    if premature then return end
    local c = client()
    local space = assert(c.spaces:mine()).containerId
    local up, uerr = c.files:upload(args.path, { containerId = space, fileName = "timer.bin", concurrency = 2 })
    local down, derr
    if up then down, derr = c.files:download(up.fileId, args.dest, { containerId = space, concurrency = 2 }) end
    d:set("timer", cjson.encode { up = up, down = down, message = tostring(uerr or derr or ""),
      phase = ngx.get_phase() })
  end)
  if not ok then return { message = terr } end
  for _ = 1, 6000 do
    local text = d:get("timer")
    if text then return cjson.decode(text) end
    ngx.sleep(0.01)
  end
  return { message = "the timer did not finish" }
end

function routes.reset()
  ngx.shared.kd:flush_all()
  return { ok = true }
end

function M.handle()
  local route = routes[ngx.var.uri:match("^/kd/(%w+)$")]
  if not route then return ngx.exit(404) end
  ngx.header.content_type = "application/json"
  ngx.say(cjson.encode(route(ngx.req.get_uri_args())))
end

return M
]==]

local CONF = [[
@MODULES@
@USER@
daemon off;
master_process on;
worker_processes 1;
pid @PREFIX@/logs/nginx.pid;
error_log @PREFIX@/logs/error.log info;
events { worker_connections 256; }
http {
  access_log off;
  @TEMP_PATHS@
  lua_package_path "@LUA_PATH@";
  lua_package_cpath "@LUA_CPATH@";
  lua_shared_dict kd 1m;
  init_by_lua_block { require("kd_transfer").init("@SERVICE@") }
  server {
    listen 127.0.0.1:@PORT@;
    location /kd/ { content_by_lua_block { require("kd_transfer").handle() } }
  }
}
]]

local MiB = 1024 * 1024
local SIZE = 12 * MiB + 77
local service, srv, dir

local function sha(path) return sys.capture("sha256sum " .. sys.quote(path)):match("^(%x+)") end

local function get(path)
  local status, _, body = nginx.get(srv.port, path, 60)
  assert(status == 200, path .. ": " .. tostring(status) .. " " .. tostring(body))
  return assert(json.decode(body))
end

-- Starts `path` on nginx without waiting for it, pings the same worker until the answer
-- is there, and returns the answer and the pings that saw the transfer part way (by the
-- flow's progress, or by the bytes in the file `watch`).
local function while_pinging(path, watch)
  get("/kd/reset")
  local c = nginx.send_get(srv.port, path, 120)
  local in_flight, pings = 0, 0
  local deadline = socket.gettime() + 90
  c:settimeout(0)
  while socket.gettime() < deadline do
    local ready = socket.select({ c }, nil, 0.05)
    if ready[1] then break end
    local p = get("/kd/ping" .. (watch and ("?total=" .. SIZE .. "&watch=" .. watch) or ""))
    pings = pings + 1
    if p.busy and p.done and p.total and p.done > 0 and p.done < p.total then in_flight = in_flight + 1 end
  end
  c:settimeout(60)
  local status, _, body = nginx.read_answer(c)
  assert(status == 200, path .. ": " .. tostring(status) .. " " .. tostring(body))
  return assert(json.decode(body)), in_flight, pings
end

setup(function()
  local ok, why = nginx.available()
  if not ok then error(why) end
  service = local_service.start()
  srv = nginx.start { conf = CONF, files = { ["lua/kd_transfer.lua"] = HANDLERS }, vars = { SERVICE = service.url } }
  dir = srv.dir
  sys.run(string.format("head -c %d /dev/urandom > %s", SIZE, sys.quote(dir .. "/src.bin")))
end)

teardown(function()
  if srv then srv.stop() end
  if service then service.stop() end
end)

describe("files:upload and files:download in an OpenResty handler", function()
  it("move a 12 MiB file over cosockets while the same worker keeps answering", function()
    -- ~4 MiB/s a connection: the transfers take a few seconds, time for many pings
    service.get("/_local/store?rate=" .. (4 * MiB))
    local before = json.decode((service.get("/_local/store"))).bytes_received
    local up, up_seen = while_pinging("/kd/upload?path=" .. dir .. "/src.bin&name=openresty.bin")
    assert.is_true(up.ok, up.message)
    assert.are.equal("koodrive.ngx_parts", up.engine)
    assert.are.same({ 3, 0, false, sha(dir .. "/src.bin"), SIZE },
      { up.result.parts, up.result.resumed_parts, up.result.rapidUpload, up.result.sha256, up.result.size })
    assert.are.equal(SIZE, json.decode((service.get("/_local/store"))).bytes_received - before)
    assert.is_true(up_seen > 0, "no /ping was answered while the upload was in flight")

    local dest = dir .. "/back.bin"
    local down, down_seen = while_pinging("/kd/download?id=" .. up.result.fileId .. "&space=" .. up.space ..
      "&dest=" .. dest, dest .. ".koodrive-part")
    service.get("/_local/store?rate=0")
    assert.is_true(down.ok, down.message)
    assert.are.equal(SIZE, down.result.size)
    assert.are.equal(sha(dir .. "/src.bin"), sha(dest))
    assert.is_nil(sys.read(dest .. ".koodrive-part"))
    assert.is_true(down_seen > 0, "no /ping was answered while the download was in flight")
  end)

  it("retry a part reset mid-body and a part answered 503, over cosockets", function()
    local function counters() return json.decode((service.get("/_local/store"))) end
    for i, fault in ipairs { "reset_after=" .. MiB, "status=503" } do
      local src = dir .. "/faults" .. i .. ".bin"
      sys.run(string.format("head -c %d /dev/urandom > %s", 11 * MiB, sys.quote(src)))
      local before = counters()
      service.get("/_local/store?count=1&" .. fault)
      local up = get("/kd/upload?concurrency=2&path=" .. src .. "&name=faults" .. i .. ".bin")
      assert.is_true(up.ok, fault .. ": " .. tostring(up.message))
      assert.are.equal(sha(src), up.result.sha256)
      local after = counters()
      assert.are.equal(3, after.puts - before.puts) -- each part stored once
      -- the failed attempt's bytes came too: the part was sent again
      assert.is_true(after.bytes_read - before.bytes_read >= 11 * MiB + MiB)
    end
  end)

  it("work in an ngx.timer too", function()
    local src, dest = dir .. "/timer.bin", dir .. "/timer-back.bin"
    sys.run(string.format("head -c %d /dev/urandom > %s", 6 * MiB + 5, sys.quote(src)))
    local out = get("/kd/timer?path=" .. src .. "&dest=" .. dest)
    assert.are.equal("", out.message)
    assert.are.equal("timer", out.phase)
    assert.are.equal(2, out.up.parts)
    assert.are.equal(6 * MiB + 5, out.down.size)
    assert.are.equal(sha(src), sha(dest))
  end)
end)
