-- support.nginx: runs Debian's nginx with the Lua module (libnginx-mod-http-lua, on LuaJIT)
-- for the OpenResty specs, in a private prefix directory on 127.0.0.1, from any interpreter
-- running busted: it only starts processes and uses LuaSocket.
--
--   local nginx = require "support.nginx"
--   local srv = nginx.start {
--     conf  = "...",                        -- nginx.conf text with @NAME@ placeholders (below)
--     files = { ["lua/handlers.lua"] = "..." },  -- written under the prefix first
--     vars  = { SERVICE = "http://127.0.0.1:1234" },  -- extra placeholders
--     ports = 2,                            -- free ports wanted: @PORT@, @PORT2@, ...
--     env   = { NAME = "value" },           -- environment of the nginx process
--   }
--   srv.port, srv.ports, srv.url, srv.dir, srv.pid, srv.log(), srv.stop()
--
-- stop() sends QUIT, then KILL to the master and its workers if they linger, and removes the
-- prefix (kept when opts.keep or $KOODRIVE_SPEC_KEEP_NGINX is set, for reading its logs).
--
-- Placeholders: @PREFIX@ (the temp dir), @ROOT@ (the repository), @PORT@.., @USER@ ("user root;"
-- when running as root, so workers can read a repository under /root), @MODULES@ (load_module
-- lines for Debian's NDK and Lua modules), @LUA_PATH@ / @LUA_CPATH@ (the repository's lua/,
-- server/ and build/luajit/, the prefix's lua/, and nginx's defaults), @TEMP_PATHS@ (temp
-- directories inside the prefix), @MAIN@ (the main context: modules, user, no daemon, one
-- worker, pid and error log in the prefix) and any in `vars`.
local socket = require "socket"
local sys = require "support.sys"

local M = {}

M.NGINX = "/usr/sbin/nginx"
M.MODULE_DIR = "/usr/lib/nginx/modules"

local shell_quote, read, write, run, capture = sys.quote, sys.read, sys.write, sys.run, sys.capture

-- The repository root: two directories above this file (spec/support/), made absolute.
local function find_root()
  local src = debug.getinfo(1, "S").source
  local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/spec/support/[^/]*$") or nil
  if not dir and src:match("^@spec/") then dir = "." end
  dir = dir or "."
  if dir:sub(1, 1) ~= "/" then
    local cwd = capture("pwd"):gsub("%s+$", "")
    dir = dir == "." and cwd or (cwd .. "/" .. dir)
  end
  return dir
end

M.root = find_root()

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

--- true, or false and what is missing to run nginx with the Lua module and koodrive.
function M.available()
  if not exists(M.NGINX) then return false, M.NGINX .. " is missing (Debian package nginx)" end
  for _, m in ipairs { "ndk_http_module.so", "ngx_http_lua_module.so" } do
    if not exists(M.MODULE_DIR .. "/" .. m) then
      return false, M.MODULE_DIR .. "/" .. m .. " is missing (Debian package libnginx-mod-http-lua)"
    end
  end
  if not exists("/usr/share/lua/5.1/resty/core.lua") then
    return false, "lua-resty-core is missing (Debian package lua-resty-core)"
  end
  if not exists(M.root .. "/build/luajit/koodrive/core.so") then
    return false, "build/luajit/koodrive/core.so is missing: run make build/luajit/koodrive/core.so"
  end
  return true
end

local function is_root() return capture("id -u"):match("^%s*0%s*$") ~= nil end

local alive = sys.alive
M.alive = alive

-- Pids whose parent is `pid` (nginx's workers).
local function children(pid)
  local out = {}
  local text = capture("cat /proc/[0-9]*/stat 2>/dev/null")
  for child, ppid in text:gmatch("(%d+) %b() %a (%d+)") do
    if tonumber(ppid) == tonumber(pid) then out[#out + 1] = tonumber(child) end
  end
  return out
end
M.children = children

local free_port = sys.free_port
M.free_port = free_port

local function substitute(text, vars)
  -- two passes: a value may itself hold placeholders (@TEMP_PATHS@ and @MAIN@ do)
  for _ = 1, 2 do
    text = text:gsub("@([%u%d_]+)@", function(name)
      local v = vars[name]
      if v == nil then return nil end
      return tostring(v)
    end)
  end
  local left = text:match("@[%u%d_]+@")
  if left then error("nginx config: no value for placeholder " .. left, 3) end
  return text
end

local function waitpid_gone(pid, seconds)
  local deadline = socket.gettime() + seconds
  while alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
  return not alive(pid)
end

-- Stops nginx: QUIT (graceful), then KILL for the master and any worker left.
local function kill(pid)
  local workers = children(pid)
  os.execute("kill -QUIT " .. pid .. " 2>/dev/null")
  if not waitpid_gone(pid, 5) then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
  for _, w in ipairs(workers) do
    if not waitpid_gone(w, 1) then os.execute("kill -9 " .. w .. " 2>/dev/null") end
  end
  waitpid_gone(pid, 2)
end

function M.start(opts)
  local ok, why = M.available()
  if not ok then error("cannot run nginx for the OpenResty specs: " .. why, 2) end
  local dir = os.tmpname()
  os.remove(dir)
  run("mkdir -p " .. shell_quote(dir) .. "/lua " .. shell_quote(dir) .. "/tmp " ..
    shell_quote(dir) .. "/logs " .. shell_quote(dir) .. "/conf && chmod 755 " .. shell_quote(dir))
  for name, text in pairs(opts.files or {}) do
    local sub = name:match("^(.*)/[^/]+$")
    if sub then run("mkdir -p " .. shell_quote(dir .. "/" .. sub)) end
    write(dir .. "/" .. name, text)
  end
  local root = M.root
  local base = {
    PREFIX = dir, ROOT = root,
    USER = is_root() and "user root;" or "",
    MODULES = "load_module " .. M.MODULE_DIR .. "/ndk_http_module.so;\n" ..
      "load_module " .. M.MODULE_DIR .. "/ngx_http_lua_module.so;",
    LUA_PATH = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/server/?.lua;" ..
      dir .. "/lua/?.lua;" .. (opts.extra_lua_path and (opts.extra_lua_path:gsub(";+$", "") .. ";") or "") .. ";",
    LUA_CPATH = root .. "/build/luajit/?.so;;",
    -- The main context every spec's nginx.conf starts with.
    MAIN = "@MODULES@\n@USER@\ndaemon off;\nmaster_process on;\nworker_processes 1;\n" ..
      "pid @PREFIX@/logs/nginx.pid;\nerror_log @PREFIX@/logs/error.log info;",
    TEMP_PATHS = "client_body_temp_path @PREFIX@/tmp/body;\n  proxy_temp_path @PREFIX@/tmp/proxy;\n" ..
      "  fastcgi_temp_path @PREFIX@/tmp/fastcgi;\n  uwsgi_temp_path @PREFIX@/tmp/uwsgi;\n" ..
      "  scgi_temp_path @PREFIX@/tmp/scgi;",
  }
  for k, v in pairs(opts.vars or {}) do base[k] = v end
  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. shell_quote(v) end
  local last_log = ""
  for _ = 1, 4 do
    local vars = setmetatable({}, { __index = base })
    local ports = {}
    local taken = {}
    for i = 1, opts.ports or 1 do
      -- (a port just closed may come back at once: two servers on one port would share
      -- its listen options, such as ssl)
      repeat ports[i] = free_port() until not taken[ports[i]]
      taken[ports[i]] = true
      vars[i == 1 and "PORT" or ("PORT" .. i)] = ports[i]
    end
    write(dir .. "/conf/nginx.conf", substitute(opts.conf, vars))
    os.remove(dir .. "/logs/error.log")
    local inner = string.format("%s %s -p %s -e %s -c conf/nginx.conf </dev/null >%s 2>&1 & echo $!",
      table.concat(env, " "), M.NGINX, shell_quote(dir .. "/"), shell_quote(dir .. "/logs/error.log"),
      shell_quote(dir .. "/logs/stdout.log"))
    local pid = tonumber(capture("sh -c " .. shell_quote(inner)):match("(%d+)"))
    if not pid then error("could not start nginx") end
    local deadline = socket.gettime() + (opts.timeout or 10)
    local up = false
    while socket.gettime() < deadline and alive(pid) do
      local all = true
      for _, p in ipairs(ports) do
        local c = socket.connect("127.0.0.1", p)
        if c then c:close() else all = false break end
      end
      -- the listening sockets open before the workers fork: wait for a worker too
      if all and #children(pid) > 0 then up = true break end
      socket.sleep(0.05)
    end
    if up then
      local srv = { pid = pid, dir = dir, port = ports[1], ports = ports,
        url = "http://127.0.0.1:" .. ports[1] }
      local stopped = false
      function srv.log() return (read(dir .. "/logs/error.log") or "") .. (read(dir .. "/logs/stdout.log") or "") end
      function srv.stop()
        if stopped then return end
        stopped = true
        kill(pid)
        if opts.keep or os.getenv("KOODRIVE_SPEC_KEEP_NGINX") then
          io.stderr:write("support.nginx: kept ", dir, "\n")
        else
          os.execute("rm -rf " .. shell_quote(dir))
        end
      end
      return srv
    end
    last_log = (read(dir .. "/logs/error.log") or "") .. (read(dir .. "/logs/stdout.log") or "")
    if alive(pid) then kill(pid) end
    if not last_log:find("Address already in use", 1, true) then break end
  end
  os.execute("rm -rf " .. shell_quote(dir))
  error("nginx did not start; its log:\n" .. last_log, 2)
end

--------------------------------------------------------------------------------------------
-- A tiny HTTP/1.1 client on LuaSocket for the specs (one request per connection)
--------------------------------------------------------------------------------------------

--- Opens a connection and sends `GET path` on it without reading: returns the socket.
function M.send_get(port, path, timeout)
  local c = assert(socket.tcp())
  c:settimeout(timeout or 10)
  assert(c:connect("127.0.0.1", port))
  assert(c:send("GET " .. path .. " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
  return c
end

--- Reads the whole answer of a connection from send_get: status, headers, body.
function M.read_answer(c)
  local line, err = c:receive("*l")
  if not line then c:close() return nil, "no status line: " .. tostring(err) end
  local status = tonumber(line:match("^HTTP/1%.%d (%d%d%d)"))
  local headers = {}
  while true do
    local h = c:receive("*l")
    if not h or h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.*)$")
    if k then headers[k:lower()] = v end
  end
  local body
  if headers["content-length"] then
    body = c:receive(tonumber(headers["content-length"]))
  elseif (headers["transfer-encoding"] or ""):lower() == "chunked" then
    local parts = {}
    while true do
      local size = tonumber((c:receive("*l") or "0"):match("^(%x+)") or "0", 16)
      if size == 0 then break end
      parts[#parts + 1] = c:receive(size)
      c:receive("*l")
    end
    body = table.concat(parts)
  else
    body = c:receive("*a")
  end
  c:close()
  return status, headers, body or ""
end

--- One GET: status, headers, body.
function M.get(port, path, timeout)
  return M.read_answer(M.send_get(port, path, timeout))
end

return M
