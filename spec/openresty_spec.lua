-- OpenResty: koodrive inside Debian's nginx + libnginx-mod-http-lua (LuaJIT), one worker.
-- The handlers below run in nginx and call the local service; this file only starts
-- processes and makes HTTP requests with LuaSocket, so any interpreter can run it.
--
-- What it proves: calls from request handlers and timers go out on nginx's non-blocking
-- cosockets (two delayed calls overlap in one worker; through libcurl they queue), the C core
-- built for LuaJIT signs in the worker (app mode, IoTDA SDK and V11), a client made in
-- init_by_lua uses libcurl there and cosockets later, connections are kept alive, failures
-- map to the same error kinds as with libcurl, the HTTP/1.1 reader handles chunked,
-- close-delimited and empty bodies, TLS is verified, and examples/openresty runs.
local socket = require "socket"
local cjson = require "cjson"
local nginx = require "support.nginx"
local timing = require "support.timing"
local sys = require "support.sys"
local local_service = require "local_service"
local creds = require "local_credentials"

-- Handlers for the spec's nginx: written to <prefix>/lua/kd_test.lua.
local HANDLERS = [==[
local koodrive = require "koodrive"
local auto = require "koodrive.transport.auto"
local ngx_transport = require "koodrive.transport.ngx"
local cjson = require "cjson.safe"
local creds = require "local_credentials"

local M = {}
local SERVICE

-- A transport around `inner` that adds X-Local-Delay-Ms when notes.delay is set and notes
-- which transport, backend and connection carried the call.
local function observed(inner, name, notes_of)
  return { send = function(_, req)
    local notes = notes_of()
    if notes.delay then req.headers["X-Local-Delay-Ms"] = tostring(notes.delay) end
    local res, err = inner:send(req)
    notes.transport = res and (res.transport or name) or nil
    notes.backend, notes.reused = res and res.backend, res and res.reused
    return res, err
  end, close = function() if inner.close then inner:close() end end }
end

local function make_transport(via)
  if via == "auto" then return auto.new() end
  if via == "ngx" then return ngx_transport.new() end
  if via == "cosocket" then return ngx_transport.new { backend = "cosocket" } end
  if via == "resty" then return ngx_transport.new { backend = "resty.http" } end
  if via == "curl" then return koodrive.transport.curl() end
  error("unknown via " .. tostring(via))
end

local function reply(notes, result, err)
  local out = { ok = result ~= nil, phase = ngx.get_phase(), pid = ngx.worker.pid(),
    transport = notes.transport, backend = notes.backend, reused = notes.reused }
  for k, v in pairs(result or {}) do out[k] = v end
  if err then
    out.kind, out.reason, out.message, out.retryable = err.kind, err.reason, err.message, err.retryable
  end
  return out
end

local function say(t)
  ngx.header.content_type = "application/json"
  ngx.say(cjson.encode(t))
end

local function koodrive_client(args, transport)
  local config = { endpoint = args.endpoint or SERVICE, user_id = args.user or creds.koodrive.user_id,
    transport = transport, timeout = tonumber(args.timeout) or 10, connect_timeout = 5,
    max_body = tonumber(args.max_body), retries = false }
  if args.mode == "app" then
    config.app_id, config.app_secret = next(creds.koodrive.apps)
  else
    config.token = "local-token-alice"
  end
  return assert(koodrive.new(config))
end

local function list_devices(args, notes)
  local via = args.via or "auto"
  local client = koodrive_client(args, observed(make_transport(via), via, function() return notes end))
  local list, err = client.devices:list()
  return reply(notes, list and { count = #list }, err)
end

--- init_by_lua: a module-level client, and one call made right here (through libcurl).
function M.init(service)
  SERVICE = service
  M.init_notes = {}
  local current = M.init_notes
  M.init_auto = auto.new()
  M.init_client = koodrive_client({}, observed(M.init_auto, "auto", function()
    if ngx.get_phase() == "init" then return current end
    return ngx.ctx
  end))
  local list, err = M.init_client.devices:list()
  M.init_result = reply(M.init_notes, list and { count = #list }, err)
end

local routes = {}

function routes.devices(args) return list_devices(args, { delay = tonumber(args.delay) }) end

function routes.bind(args)
  local notes = {}
  local client = koodrive_client(args, observed(auto.new(), "auto", function() return notes end))
  local d, err = client.devices:bind { machineCode = args.machine or "M_openresty",
    deviceName = "nginx worker", deviceOS = "linux" }
  return reply(notes, d and { device_id = d.deviceId }, err)
end

function routes.iotda(args)
  local notes = {}
  local ak, sk = next(creds.iotda.aksk)
  local iot = assert(koodrive.iotda.new { endpoint = SERVICE, project_id = creds.iotda.project_id,
    ak = ak, sk = sk, region = creds.iotda.region, derived = args.derived == "1", timeout = 10,
    transport = observed(auto.new(), "auto", function() return notes end) })
  local r, err = iot.device_policies:unbind(creds.iotda.policy_id,
    { target_type = "device", target_ids = { args.target } })
  return reply(notes, r and { success = r.success_targets, failed = #r.failure_targets }, err)
end

function routes.init(args)
  local list, err = M.init_client.devices:list()
  local now = reply(ngx.ctx, list and { count = #list }, err)
  return { at_init = M.init_result, in_content = now }
end

-- A call from a timer (cosockets work there); the handler waits for its result.
function routes.timer(args)
  local box = {}
  local ok, terr = ngx.timer.at(0, function(premature)
    if premature then return end
    box.result = list_devices(args, {})
  end)
  if not ok then return { ok = false, message = terr } end
  for _ = 1, 500 do
    if box.result then return box.result end
    ngx.sleep(0.01)
  end
  return { ok = false, message = "the timer did not finish" }
end

-- The result of the call made in log_by_lua of /kd/logphase (see M.in_log).
function routes.logresult()
  local text = ngx.shared.kd:get("log")
  return text and cjson.decode(text) or { pending = true }
end

-- Through the client made in init_by_lua, whose libcurl handle was made in the master: the
-- worker must make its own (and keep the master's untouched).
function M.in_log()
  local list, err = M.init_client.devices:list()
  local out = reply(ngx.ctx, list and { count = #list }, err)
  out.own_curl = M.init_auto.curl_pid == ngx.worker.pid() and M.init_auto.inherited ~= nil
  ngx.shared.kd:set("log", cjson.encode(out))
end

-- One request straight through a transport to a path of this nginx.
function routes.raw(args)
  local t = make_transport(args.via or "cosocket")
  local res, err = t:send { method = args.method or "GET",
    url = "http://127.0.0.1:" .. ngx.var.server_port .. args.path,
    headers = { Host = "127.0.0.1:" .. ngx.var.server_port }, timeout = tonumber(args.timeout) or 5,
    connect_timeout = 2,
    max_body = tonumber(args.max_body) or 1024 * 1024 }
  if not res then return reply({}, nil, err) end
  return { ok = true, status = res.status, body = res.body, length = #res.body,
    te = res.headers["transfer-encoding"], x_test = res.headers["x-test"], backend = res.backend }
end

-- The client's default transport (koodrive.transport.auto once it is the default).
function routes.default()
  local client = assert(koodrive.new { endpoint = SERVICE, user_id = creds.koodrive.user_id,
    token = "local-token-alice" })
  local name = tostring(client._config.transport)
  local list, err = client.devices:list()
  return { ok = list ~= nil, default = name, message = err and tostring(err) }
end

function routes.probe()
  return { resty_http = (pcall(require, "resty.http")), backend = ngx_transport.new():backend_name(),
    core = package.searchpath("koodrive.core", package.cpath), jit = jit and jit.version,
    core_version = require("koodrive.core")._VERSION }
end

function M.handle()
  local name = ngx.var.uri:match("^/kd/(%w+)$")
  local route = routes[name]
  if not route then return ngx.exit(404) end
  say(route(ngx.req.get_uri_args()))
end

return M
]==]

local CONF = [[
@MAIN@
events { worker_connections 256; }
http {
  access_log off;
  @TEMP_PATHS@
  lua_package_path "@LUA_PATH@";
  lua_package_cpath "@LUA_CPATH@";
  lua_shared_dict kd 1m;
  lua_ssl_trusted_certificate @PREFIX@/ca.pem;
  lua_ssl_verify_depth 3;
  init_by_lua_block { require("kd_test").init("@SERVICE@") }

  server {
    listen 127.0.0.1:@PORT@;
    location /kd/ { content_by_lua_block { require("kd_test").handle() } }
    location = /kd/logphase {
      content_by_lua_block { ngx.say("ok") }
      log_by_lua_block { require("kd_test").in_log() }
    }
    # answers for the HTTP/1.1 reader
    location = /t/chunked {
      content_by_lua_block {
        ngx.header["X-Test"] = "a"
        for _, part in ipairs { "ab", "cde", ("x"):rep(5000) } do ngx.print(part); ngx.flush(true) end
      }
    }
    location = /t/close {
      chunked_transfer_encoding off;
      content_by_lua_block { ngx.print("hello"); ngx.flush(true); ngx.print(" world") }
    }
    location = /t/empty { return 204; }
    location = /t/length { return 200 "0123456789"; }
    location = /t/trickle {
      content_by_lua_block {
        ngx.header["Content-Length"] = 40
        for _ = 1, 40 do ngx.print("x"); ngx.flush(true); ngx.sleep(0.05) end
      }
    }
  }
  # HTTPS with a certificate from the trusted CA, and one from a CA nginx does not trust
  server {
    listen 127.0.0.1:@PORT2@ ssl;
    ssl_certificate @PREFIX@/server.pem;
    ssl_certificate_key @PREFIX@/server.key;
    location / { default_type application/json; return 200 '{"code":0,"msg":"success","data":[]}'; }
  }
  server {
    listen 127.0.0.1:@PORT3@ ssl;
    ssl_certificate @PREFIX@/rogue.pem;
    ssl_certificate_key @PREFIX@/rogue.key;
    location / { default_type application/json; return 200 '{"code":0,"msg":"success","data":[]}'; }
  }
}
]]

-- A CA (ca.pem), a server certificate for 127.0.0.1 signed by it, and a "rogue" one signed by
-- a second CA that nginx is not told to trust; made with the openssl command in `dir`.
local function make_certificates(dir)
  local q = " >/dev/null 2>&1"
  local ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  local run = sys.run
  local function ca(name)
    run("openssl req -x509" .. ec .. " -keyout " .. dir .. "/" .. name .. ".key -out " .. dir .. "/" ..
      name .. ".pem -days 2 -subj '/CN=koodrive-lua " .. name .. "' -addext basicConstraints=critical,CA:TRUE" ..
      " -addext keyUsage=critical,keyCertSign,cRLSign" .. q)
  end
  local function leaf(name, by)
    run("openssl req" .. ec .. " -keyout " .. dir .. "/" .. name .. ".key -out " .. dir .. "/" .. name ..
      ".csr -subj /CN=127.0.0.1" .. q)
    local f = assert(io.open(dir .. "/ext.cnf", "w"))
    f:write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    f:close()
    run("openssl x509 -req -in " .. dir .. "/" .. name .. ".csr -CA " .. dir .. "/" .. by .. ".pem -CAkey " ..
      dir .. "/" .. by .. ".key -CAcreateserial -out " .. dir .. "/" .. name .. ".pem -days 2 -extfile " ..
      dir .. "/ext.cnf" .. q)
  end
  ca("ca"); ca("other_ca")
  leaf("server", "ca"); leaf("rogue", "other_ca")
end

local service, srv, certs

local function get_json(path, port)
  local status, _, body = nginx.get(port or srv.port, path, 15)
  assert(status == 200, "GET " .. path .. " -> " .. tostring(status) .. ": " .. tostring(body) ..
    "\n" .. srv.log():sub(-3000))
  return cjson.decode(body)
end

-- Sends every path on its own connection before reading any answer; returns the decoded
-- answers and the seconds from the first send to the last answer.
local function concurrently(paths)
  local t0 = socket.gettime()
  local conns = {}
  for i, p in ipairs(paths) do conns[i] = nginx.send_get(srv.port, p, 15) end
  local out = {}
  for i, c in ipairs(conns) do
    local status, _, body = nginx.read_answer(c)
    assert(status == 200, "status " .. tostring(status) .. ": " .. tostring(body))
    out[i] = cjson.decode(body)
  end
  return out, socket.gettime() - t0
end

-- Whether lua-resty-http is installed where nginx's default Lua path looks (or named by
-- KOODRIVE_RESTY_HTTP_PATH, a lua_package_path entry such as /opt/lua-resty-http/lib/?.lua).
local RESTY_PATH = os.getenv("KOODRIVE_RESTY_HTTP_PATH")
local function resty_http_installed()
  if RESTY_PATH then return true end
  for _, dir in ipairs { "/usr/local/share/lua/5.1", "/usr/share/lua/5.1", "/usr/local/openresty/lualib",
      "/usr/share/luajit-2.1.0-beta3" } do
    local f = io.open(dir .. "/resty/http.lua", "rb")
    if f then f:close() return true end
  end
  return false
end

local VIAS = { "auto", "cosocket" }
if resty_http_installed() then VIAS[#VIAS + 1] = "resty" end

setup(function()
  local ok, why = nginx.available()
  assert(ok, why)
  service = local_service.start()
  local dir = os.tmpname()
  os.remove(dir)
  sys.run("mkdir -p " .. dir)
  certs = dir
  make_certificates(dir)
  local files = { ["lua/kd_test.lua"] = HANDLERS }
  for _, name in ipairs { "ca.pem", "server.pem", "server.key", "rogue.pem", "rogue.key" } do
    local f = assert(io.open(dir .. "/" .. name, "rb"))
    files[name] = f:read("*a")
    f:close()
  end
  srv = nginx.start { conf = CONF, files = files, ports = 3, vars = { SERVICE = service.url },
    extra_lua_path = RESTY_PATH }
end)

teardown(function()
  if srv then srv.stop() end
  if service then service.stop() end
  if certs then os.execute("rm -rf " .. certs) end
end)

describe("OpenResty (Debian nginx + lua module, worker_processes 1)", function()
  describe("non-blocking calls from request handlers", function()
    for _, via in ipairs(VIAS) do
      it("overlaps two calls delayed 1 s each in one worker (via " .. via .. ")", function()
        local out, elapsed = concurrently { "/kd/devices?via=" .. via .. "&delay=1000",
          "/kd/devices?via=" .. via .. "&delay=1000" }
        for _, r in ipairs(out) do
          assert.is_true(r.ok, r.message)
          if via == "auto" then assert.are.equal("ngx", r.transport) end
          assert.is_string(r.backend) -- set by the ngx transport only
          local backend = ({ cosocket = "cosocket", resty = "resty.http" })[via]
          if backend then assert.are.equal(backend, r.backend) end
          assert.are.equal("content", r.phase)
        end
        assert.are.equal(out[1].pid, out[2].pid)
        assert.is_true(elapsed >= 1.0, "answered before the service's delay: " .. elapsed)
        assert.is_true(elapsed < timing.limit(1.8), string.format("took %.3f s (two 1 s calls should overlap)", elapsed))
        print(string.format("\n  [openresty] via %s: two concurrent 1 s calls took %.3f s", via, elapsed))
      end)
    end

    it("reports the auto transport's choice in the content phase: ngx", function()
      local r = get_json("/kd/devices?via=auto")
      assert.is_true(r.ok, r.message)
      assert.are.equal("ngx", r.transport)
      assert.are.equal("content", r.phase)
      assert.is_number(r.count)
    end)

    it("queues the same two calls behind each other through blocking libcurl (>= 2 s)", function()
      local out, elapsed = concurrently { "/kd/devices?via=curl&delay=1000", "/kd/devices?via=curl&delay=1000" }
      for _, r in ipairs(out) do
        assert.is_true(r.ok, r.message)
        assert.are.equal("curl", r.transport)
      end
      assert.is_true(elapsed >= 2.0, string.format("took %.3f s", elapsed))
      print(string.format("\n  [openresty] via curl: two concurrent 1 s calls took %.3f s", elapsed))
    end)

    it("calls from a timer through the cosockets", function()
      local r = get_json("/kd/timer?via=auto")
      assert.is_true(r.ok, r.message)
      assert.are.equal("ngx", r.transport)
      assert.are.equal("timer", r.phase)
    end)
  end)

  describe("signing in the worker (the C core built for LuaJIT)", function()
    it("loads koodrive.core from build/luajit into LuaJIT", function()
      local r = get_json("/kd/probe")
      assert.are.equal(nginx.root .. "/build/luajit/koodrive/core.so", r.core)
      assert.matches("^LuaJIT 2%.1", r.jit)
      assert.is_string(r.core_version)
    end)

    it("KooDrive app mode (HMAC-SHA256) is accepted by the service", function()
      local r = get_json("/kd/devices?via=auto&mode=app")
      assert.is_true(r.ok, r.message)
      assert.are.equal("ngx", r.transport)
    end)

    it("binds a device in token mode and lists it", function()
      local user = "1000000000000000777"
      local b = get_json("/kd/bind?user=" .. user .. "&machine=M_nginx")
      assert.is_true(b.ok, b.message)
      assert.matches("^%d+$", b.device_id)
      local r = get_json("/kd/devices?user=" .. user)
      assert.is_true(r.ok, r.message)
      assert.are.equal(1, r.count)
    end)

    it("IoTDA unbind with AK/SK: SDK-HMAC-SHA256 and V11-HMAC-SHA256", function()
      local targets = creds.iotda.policy_targets.device
      local sdk = get_json("/kd/iotda?derived=0&target=" .. targets[1])
      assert.is_true(sdk.ok, sdk.message)
      assert.are.same({ targets[1] }, sdk.success)
      assert.are.equal("ngx", sdk.transport)
      local v11 = get_json("/kd/iotda?derived=1&target=" .. targets[2])
      assert.is_true(v11.ok, v11.message)
      assert.are.same({ targets[2] }, v11.success)
    end)
  end)

  describe("phases", function()
    it("a client made in init_by_lua called through libcurl there, and through cosockets in a handler", function()
      local r = get_json("/kd/init")
      assert.is_true(r.at_init.ok, r.at_init.message)
      assert.are.equal("curl", r.at_init.transport)
      assert.are.equal("init", r.at_init.phase)
      assert.is_true(r.in_content.ok, r.in_content.message)
      assert.are.equal("ngx", r.in_content.transport)
      assert.are.equal("content", r.in_content.phase)
    end)

    it("log_by_lua (no cosockets there) falls back to libcurl, with the worker's own handle", function()
      local status = nginx.get(srv.port, "/kd/logphase")
      assert.are.equal(200, status)
      local r
      for _ = 1, 100 do
        r = get_json("/kd/logresult")
        if not r.pending then break end
        socket.sleep(0.05)
      end
      assert.is_true(r.ok, r.message)
      assert.are.equal("curl", r.transport)
      assert.are.equal("log", r.phase)
      assert.is_true(r.own_curl, "the worker used the libcurl handle made in the master")
    end)

    it("the client's default transport is koodrive.transport.auto", function()
      local r = get_json("/kd/default")
      assert.is_true(r.ok, r.message)
      if r.default ~= "koodrive.transport.auto" then
        pending("the default transport is still " .. tostring(r.default) ..
          " (pipeline.common_config does not make koodrive.transport.auto yet)")
      end
      assert.are.equal("koodrive.transport.auto", r.default)
    end)
  end)

  describe("keep-alive", function()
    for _, via in ipairs(VIAS) do
      it("sequential calls reuse one pooled connection (via " .. via .. ")", function()
        local reused = {}
        for i = 1, 4 do
          local r = get_json("/kd/devices?via=" .. via)
          assert.is_true(r.ok, r.message)
          reused[i] = r.reused
        end
        for i = 2, 4 do
          assert.is_true(reused[i] > 0, "call " .. i .. " opened a new connection: " .. table.concat(reused, ","))
          assert.are.equal(reused[i - 1] + 1, reused[i])
        end
      end)
    end
  end)

  describe("errors map as with libcurl", function()
    for _, via in ipairs { "auto", "cosocket", "curl" } do
      it("connection refused -> transport/connect (via " .. via .. ")", function()
        local r = get_json("/kd/devices?via=" .. via .. "&endpoint=http://127.0.0.1:" .. nginx.free_port())
        assert.is_false(r.ok)
        assert.are.equal("transport", r.kind)
        assert.are.equal("connect", r.reason)
        assert.is_true(r.retryable)
      end)

      it("an answer later than the 0.3 s timeout -> timeout (via " .. via .. ")", function()
        local t0 = socket.gettime()
        local r = get_json("/kd/devices?via=" .. via .. "&timeout=0.3&delay=1000")
        local elapsed = socket.gettime() - t0
        assert.is_false(r.ok)
        assert.are.equal("timeout", r.kind)
        assert.is_true(r.retryable)
        assert.is_true(elapsed >= 0.3 and elapsed < timing.limit(0.9), "took " .. elapsed)
      end)

      it("a body over max_body -> transport/too_large (via " .. via .. ")", function()
        local r = get_json("/kd/devices?via=" .. via .. "&max_body=10")
        assert.is_false(r.ok)
        assert.are.equal("transport", r.kind)
        assert.are.equal("too_large", r.reason)
        assert.is_false(r.retryable)
      end)
    end
  end)

  describe("the HTTP/1.1 reader", function()
    local backends = { "cosocket" }
    if resty_http_installed() then backends[2] = "resty" end
    for _, via in ipairs(backends) do
      it("reads a chunked body and its headers (via " .. via .. ")", function()
        local r = get_json("/kd/raw?via=" .. via .. "&path=/t/chunked")
        assert.is_true(r.ok, r.message)
        assert.are.equal(200, r.status)
        assert.are.equal("abcde" .. ("x"):rep(5000), r.body)
        assert.are.equal("chunked", r.te)
        assert.are.equal("a", r.x_test)
      end)

      it("reads a body delimited by the connection's end (via " .. via .. ")", function()
        local r = get_json("/kd/raw?via=" .. via .. "&path=/t/close")
        assert.is_true(r.ok, r.message)
        assert.are.equal("hello world", r.body)
      end)

      it("reads 204 and HEAD answers without a body (via " .. via .. ")", function()
        local r = get_json("/kd/raw?via=" .. via .. "&path=/t/empty")
        assert.is_true(r.ok, r.message)
        assert.are.equal(204, r.status)
        assert.are.equal("", r.body)
        local h = get_json("/kd/raw?via=" .. via .. "&path=/t/length&method=HEAD")
        assert.is_true(h.ok, h.message)
        assert.are.equal(200, h.status)
        assert.are.equal("", h.body)
        local g = get_json("/kd/raw?via=" .. via .. "&path=/t/length")
        assert.are.equal("0123456789", g.body)
      end)

      it("ends a body trickled a byte at a time at the request's total timeout (via " .. via .. ")", function()
        -- 40 bytes 50 ms apart: every wait is short, only the total 0.5 s timeout can end it.
        local t0 = socket.gettime()
        local r = get_json("/kd/raw?via=" .. via .. "&timeout=0.5&path=/t/trickle")
        local elapsed = socket.gettime() - t0
        assert.is_false(r.ok, r.body)
        assert.are.equal("timeout", r.kind)
        assert.is_true(elapsed < timing.limit(1.5), "took " .. elapsed)
      end)

      it("caps chunked, close-delimited and sized bodies at max_body (via " .. via .. ")", function()
        for _, path in ipairs { "/t/chunked", "/t/close", "/t/length" } do
          local r = get_json("/kd/raw?via=" .. via .. "&max_body=4&path=" .. path)
          assert.is_false(r.ok, path)
          assert.are.equal("too_large", r.reason, path)
        end
        local exact = get_json("/kd/raw?via=" .. via .. "&max_body=10&path=/t/length")
        assert.are.equal("0123456789", exact.body)
      end)
    end
  end)

  describe("TLS (lua_ssl_trusted_certificate)", function()
    for _, via in ipairs(VIAS) do
      it("verifies the server against nginx's trusted CAs (via " .. via .. ")", function()
        local good = get_json("/kd/devices?via=" .. via .. "&endpoint=https://127.0.0.1:" .. srv.ports[2])
        assert.is_true(good.ok, good.message)
        assert.are.equal(0, good.count)
        local bad = get_json("/kd/devices?via=" .. via .. "&endpoint=https://127.0.0.1:" .. srv.ports[3])
        assert.is_false(bad.ok)
        assert.are.equal("transport", bad.kind)
        assert.are.equal("tls", bad.reason)
        assert.is_false(bad.retryable)
        assert.matches("lua_ssl_trusted_certificate", bad.message)
      end)
    end
  end)
end)

describe("examples/openresty", function()
  local example

  setup(function()
    local f = assert(io.open(nginx.root .. "/examples/openresty/nginx.conf", "rb"))
    local conf = f:read("*a")
    f:close()
    -- Adapt the example as its comments tell a user to: paths, port, one foreground worker.
    local function replace(from, to)
      local n
      conf, n = conf:gsub(from:gsub("%p", "%%%0"), (to:gsub("%%", "%%%%")))
      assert(n > 0, "examples/openresty/nginx.conf no longer contains: " .. from)
    end
    replace("/srv/koodrive-lua", "@ROOT@")
    replace("worker_processes auto;", "@USER@\ndaemon off;\nmaster_process on;\nworker_processes 1;")
    replace("listen 127.0.0.1:8080;", "listen 127.0.0.1:@PORT@;")
    replace("http {", "http {\n  @TEMP_PATHS@")
    example = nginx.start { conf = conf, env = { KOODRIVE_ENDPOINT = service.url,
      KOODRIVE_USER_ID = "1000000000000000888", KOODRIVE_TOKEN = "local-token-alice" } }
  end)

  teardown(function() if example then example.stop() end end)

  it("lists the devices of the configured user", function()
    local b = get_json("/kd/bind?user=1000000000000000888&machine=M_example")
    assert.is_true(b.ok, b.message)
    local status, headers, body = nginx.get(example.port, "/devices", 15)
    assert.are.equal(200, status, body .. example.log():sub(-2000))
    assert.matches("^application/json", headers["content-type"])
    local r = cjson.decode(body)
    assert.are.equal(1, #r.devices)
    assert.are.equal(b.device_id, r.devices[1].deviceId)
    assert.are.equal("M_example", r.devices[1].machineCode)
  end)
end)
