-- support.tls_server: a real HTTPS endpoint on 127.0.0.1 for TLS specs: Debian's nginx with a
-- private CA and a server certificate made on the spot with the openssl command (nothing
-- secret is committed). start() -> { url, ca_file, dir, stop }.
local socket = require "socket"

local M = {}

local function run(cmd)
  local ok = os.execute(cmd)
  if ok ~= true and ok ~= 0 then error("command failed: " .. cmd) end
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

-- A CA and a certificate for 127.0.0.1/localhost signed by it, in a fresh directory.
local function make_certificates(dir)
  local quiet = " >/dev/null 2>&1"
  local ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  run("openssl req -x509" .. ec .. " -keyout " .. dir .. "/ca.key -out " .. dir .. "/ca.pem -days 2" ..
    " -subj '/CN=koodrive-lua test CA' -addext basicConstraints=critical,CA:TRUE" ..
    " -addext keyUsage=critical,keyCertSign,cRLSign" .. quiet)
  run("openssl req" .. ec .. " -keyout " .. dir .. "/server.key -out " .. dir .. "/server.csr" ..
    " -subj /CN=127.0.0.1" .. quiet)
  write(dir .. "/ext.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
  run("openssl x509 -req -in " .. dir .. "/server.csr -CA " .. dir .. "/ca.pem -CAkey " .. dir ..
    "/ca.key -CAcreateserial -out " .. dir .. "/server.pem -days 2 -extfile " .. dir .. "/ext.cnf" .. quiet)
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local CONF = [[
daemon off;
master_process on;
worker_processes 1;
pid DIR/nginx.pid;
error_log DIR/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path DIR/tmp;
  proxy_temp_path DIR/tmp;
  fastcgi_temp_path DIR/tmp;
  uwsgi_temp_path DIR/tmp;
  scgi_temp_path DIR/tmp;
  server {
    listen 127.0.0.1:PORT ssl;
    ssl_certificate DIR/server.pem;
    ssl_certificate_key DIR/server.key;
    location / {
      default_type application/json;
      return 200 '{"code":0,"msg":"success","data":[]}';
    }
  }
}
]]

-- os.execute gives true|nil on Lua 5.2+, the exit status (0 on success) on 5.1 and LuaJIT.
local function alive(pid)
  local ok = os.execute("kill -0 " .. pid .. " 2>/dev/null")
  return ok == true or ok == 0
end

function M.start()
  local dir = os.tmpname()
  os.remove(dir)
  run("mkdir -p " .. dir .. "/tmp && chmod 755 " .. dir)
  make_certificates(dir)
  for _ = 1, 3 do
    local port = free_port()
    write(dir .. "/nginx.conf", (CONF:gsub("DIR", dir):gsub("PORT", tostring(port))))
    local p = io.popen("sh -c '/usr/sbin/nginx -p " .. dir .. " -c " .. dir .. "/nginx.conf -e " .. dir ..
      "/error.log >" .. dir .. "/out.log 2>&1 & echo $!'")
    local pid = p:read("*l")
    p:close()
    local deadline = socket.gettime() + 5
    while socket.gettime() < deadline and alive(pid) do
      local c = socket.connect("127.0.0.1", port)
      if c then
        c:close()
        local server = { url = "https://127.0.0.1:" .. port, ca_file = dir .. "/ca.pem", dir = dir }
        local stopped = false
        function server.stop()
          if stopped then return end
          stopped = true
          os.execute("kill -QUIT " .. pid .. " 2>/dev/null")
          local until_ = socket.gettime() + 3
          while alive(pid) and socket.gettime() < until_ do socket.sleep(0.05) end
          if alive(pid) then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
          os.execute("rm -rf " .. dir)
        end
        return server
      end
      socket.sleep(0.05)
    end
    os.execute("kill -9 " .. pid .. " 2>/dev/null")
  end
  error("nginx did not start: " .. read(dir .. "/error.log") .. read(dir .. "/out.log"))
end

return M
