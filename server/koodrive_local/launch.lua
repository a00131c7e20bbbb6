-- koodrive_local.launch: runs the local service on Debian's nginx with its Lua
-- module (libnginx-mod-http-lua, LuaJIT) in a private prefix directory. Used
-- by server/local_service.lua (background, from any Lua with LuaSocket) and by
-- server/main.lua (foreground). Needs only os/io and LuaSocket for its clock.
--
-- One worker process: the service is stateful (devices, faults, the request
-- log) and its state is that worker's Lua tables. It still holds thousands of
-- connections (worker_connections), and every wait yields.

local socket = require "socket"

local M = {}

M.NGINX = "/usr/sbin/nginx"
M.MODULE_DIR = "/usr/lib/nginx/modules"
M.WORKER_CONNECTIONS = 4096

local function quote(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end
M.quote = quote

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end
M.read = read

local function capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  return out
end

-- An absolute directory (nginx resolves relative paths against its prefix).
function M.absolute(dir)
  if dir:sub(1, 1) == "/" then return dir end
  local cwd = capture("pwd"):gsub("%s+$", "")
  return dir == "." and cwd or (cwd .. "/" .. dir)
end

-- Whether a process still runs; a zombie counts as gone.
function M.alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  if stat then
    local st = stat:match("^%d+ %b() (%a)")
    return st ~= "Z" and st ~= "X"
  end
  return false
end

-- Pids whose parent is pid (nginx's worker).
local function children(pid)
  local out = {}
  for child, ppid in capture("cat /proc/[0-9]*/stat 2>/dev/null"):gmatch("(%d+) %b() %a (%d+)") do
    if tonumber(ppid) == pid then out[#out + 1] = tonumber(child) end
  end
  return out
end

-- A port nobody listens on right now (nginx cannot report a port 0 took).
function M.free_port(host)
  local s = assert(socket.bind(host, 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function lua_string(s) return string.format("%q", s or "") end

--- The nginx.conf text. opts: prefix, root (absolute), host, port,
-- port_file?, access_log?, watch_pid? (nginx stops itself and removes the
-- prefix once that process is gone: no nginx outlives whoever started it).
function M.conf(opts)
  local is_root = capture("id -u"):match("^%s*0%s*$") ~= nil
  local p = opts.prefix
  return table.concat({
    -- as root the master may name the workers' user: the repository may be readable by root only
    is_root and "user root;" or "",
    "daemon off;",
    "worker_processes 1;",
    "worker_rlimit_nofile " .. (M.WORKER_CONNECTIONS * 2) .. ";",
    "worker_shutdown_timeout 1s;",
    "pid " .. p .. "/logs/nginx.pid;",
    "error_log " .. p .. "/logs/error.log warn;",
    "load_module " .. M.MODULE_DIR .. "/ndk_http_module.so;",
    "load_module " .. M.MODULE_DIR .. "/ngx_http_lua_module.so;",
    "events { worker_connections " .. M.WORKER_CONNECTIONS .. "; multi_accept on; }",
    "http {",
    "  access_log " .. (opts.access_log and "/dev/stderr" or "off") .. ";",
    "  client_body_temp_path " .. p .. "/tmp/body;",
    "  proxy_temp_path " .. p .. "/tmp/proxy;",
    "  fastcgi_temp_path " .. p .. "/tmp/fastcgi;",
    "  uwsgi_temp_path " .. p .. "/tmp/uwsgi;",
    "  scgi_temp_path " .. p .. "/tmp/scgi;",
    -- server/ only: the service must not see the library (auth.lua is an independent oracle)
    '  lua_package_path "' .. opts.root .. '/server/?.lua;' .. opts.root .. '/server/?/init.lua;;";',
    "  server_tokens off;",
    "  keepalive_timeout 30s;",
    "  keepalive_requests 1000000;",
    "  client_header_buffer_size 4k;",
    "  large_client_header_buffers 8 64k;",
    "  client_max_body_size 10m;",
    "  client_body_buffer_size 10m;",
    "  client_header_timeout 30s;",
    "  client_body_timeout 30s;",
    "  send_timeout 60s;",
    "  tcp_nodelay on;",
    "  lua_socket_log_errors off;",
    "  init_worker_by_lua_block { require('koodrive_local.nginx_app').ready(" ..
      lua_string(opts.port_file) .. ", " .. lua_string(opts.host) .. ", " .. opts.port .. ", " ..
      (opts.watch_pid or "nil") .. ", " .. lua_string(opts.prefix) .. ") }",
    "  server {",
    "    listen " .. opts.host .. ":" .. opts.port .. " backlog=4096;",
    -- the service's envelope instead of nginx's HTML page; a URI, not a named location (a
    -- request line that does not parse has no URI to take to a named location)
    "    error_page 400 /_local/_error/400;",
    "    error_page 408 /_local/_error/408;",
    "    error_page 411 /_local/_error/411;",
    "    error_page 413 /_local/_error/413;",
    "    error_page 414 /_local/_error/414;",
    "    error_page 494 /_local/_error/431;",
    "    error_page 500 /_local/_error/500;",
    "    error_page 501 /_local/_error/501;",
    "    error_page 505 /_local/_error/505;",
    "    location / { content_by_lua_block { require('koodrive_local.nginx_app').serve() } }",
    "    location /_local/blobs/ {",
    "      client_max_body_size 0;",
    "      client_body_buffer_size 1m;",
    "      lua_socket_buffer_size 1m;",
    "      content_by_lua_block { require('koodrive_local.nginx_app').serve_blob() }",
    "    }",
    -- the transfer object store: PUT bodies read by Lua from the socket, GET bytes by nginx
    "    location /_store/ {",
    "      client_max_body_size 0;",
    "      lua_socket_buffer_size 256k;",
    "      content_by_lua_block { require('koodrive_local.nginx_app').serve_store() }",
    "    }",
    "    location /_store_data/ {",
    "      internal;",
    "      alias " .. p .. "/store/;",
    "      default_type application/octet-stream;",
    "    }",
    "    location /_local/_error/ {",
    "      internal;",
    "      content_by_lua_block { require('koodrive_local.nginx_app').error_page() }",
    "    }",
    "  }",
    "}",
    "",
  }, "\n")
end

--- A fresh prefix directory with conf/, logs/ and tmp/ (world-readable, for
-- a worker that runs as another user).
function M.prefix()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. quote(dir) .. "/conf " .. quote(dir) .. "/logs " .. quote(dir) .. "/tmp" ..
    " && chmod 755 " .. quote(dir))
  return dir
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- The nginx command line for a prefix (the conf is conf/nginx.conf in it).
function M.command(dir)
  return string.format("%s -p %s -e %s -c conf/nginx.conf", M.NGINX, quote(dir .. "/"),
    quote(dir .. "/logs/error.log"))
end

--- Writes the conf for opts (see M.conf; prefix is made here when absent).
function M.configure(opts)
  opts.prefix = opts.prefix or M.prefix()
  write(opts.prefix .. "/conf/nginx.conf", M.conf(opts))
  return opts.prefix
end

--- Stops an nginx master: QUIT (graceful, bounded by worker_shutdown_timeout),
-- then KILL for the master and its worker if they are still there.
function M.stop(pid)
  local workers = children(pid)
  os.execute("kill -QUIT " .. pid .. " 2>/dev/null")
  local deadline = socket.gettime() + 3
  while M.alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
  if M.alive(pid) then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
  for _, w in ipairs(workers) do
    if M.alive(w) then os.execute("kill -9 " .. w .. " 2>/dev/null") end
  end
  deadline = socket.gettime() + 2
  while M.alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
end

-- Whether GET /_local/health answers 200 on host:port.
local function healthy(host, port)
  local c = socket.connect(host, port)
  if not c then return false end
  c:settimeout(1)
  c:send("GET /_local/health HTTP/1.1\r\nHost: " .. host .. "\r\nConnection: close\r\n\r\n")
  local line = c:receive("*l")
  c:close()
  return line ~= nil and line:match("^HTTP/1%.1 200 ") ~= nil
end

--- The pid of this Lua process (the parent of the shell io.popen runs).
function M.own_pid()
  return tonumber((capture("echo $PPID"):match("%d+")))
end

--- Starts nginx in the background and waits until /_local/health answers.
-- opts: root, host (127.0.0.1), port (0: a free one, retried if taken in
-- between), port_file?, access_log?, timeout (seconds, default 10), log_file
-- (nginx's stdout and stderr). Returns { pid, port, prefix } or nil and why.
function M.start(opts)
  local host = opts.host or "127.0.0.1"
  local why
  for _ = 1, (opts.port or 0) == 0 and 4 or 1 do
    local port = (opts.port or 0) ~= 0 and opts.port or M.free_port(host)
    local dir = M.configure { root = opts.root, host = host, port = port, port_file = opts.port_file,
      access_log = opts.access_log, watch_pid = M.own_pid() }
    -- LUA_PATH/LUA_CPATH of the caller (which name the library's lua/) stay out of nginx
    local inner = string.format("env -u LUA_PATH -u LUA_CPATH %s </dev/null >>%s 2>&1 & echo $!",
      M.command(dir), quote(opts.log_file))
    local pid = tonumber(capture("sh -c " .. quote(inner)):match("(%d+)"))
    local deadline = socket.gettime() + (opts.timeout or 10)
    while pid and M.alive(pid) and socket.gettime() < deadline do
      if healthy(host, port) then return { pid = pid, port = port, prefix = dir } end
      socket.sleep(0.02)
    end
    why = (pid and M.alive(pid)) and "not answering after " .. (opts.timeout or 10) .. " s" or "nginx exited"
    local log = read(dir .. "/logs/error.log") or ""
    why = why .. "; the end of its error log:\n" .. log:sub(-4000)
    if pid then M.stop(pid) end
    os.execute("rm -rf " .. quote(dir))
  end
  return nil, why
end

return M
