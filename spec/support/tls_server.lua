-- support.tls_server: real HTTPS endpoints on 127.0.0.1 for TLS specs: one Debian nginx with
-- a server per certificate, all made on the spot with the openssl command (nothing secret is
-- committed):
--   ca          a certificate for 127.0.0.1/localhost signed by a private CA (ca.pem)
--   self_signed a self-signed leaf certificate for 127.0.0.1/localhost (no CA at all)
--   expired     signed by the private CA for 127.0.0.1/localhost, valid 2020-01-01..02 only
--   wrong_host  signed by the private CA for "wrong.example" only, served on 127.0.0.1
--   plain       plain HTTP (no TLS at all), for a failed handshake
-- start() -> { url (= urls.ca), urls = { ca, self_signed, expired, wrong_host, plain },
--              ca_file, dir, stop }.
local socket = require "socket"
local sys = require "support.sys"

local M = {}

local SERVERS = { "ca", "self_signed", "expired", "wrong_host", "plain" }

local run, write = sys.run, sys.write

-- A log file's text, "" when there is none yet.
local function read(path) return sys.read(path) or "" end

-- `openssl ca` configuration: the only way the OpenSSL 3.0 command line sets a validity
-- period in the past (-startdate/-enddate); `x509 -req` has only -days.
local CA_CONF = [[
[ ca ]
default_ca = kd
[ kd ]
database = DIR/index.txt
new_certs_dir = DIR/issued
serial = DIR/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
[ leaf ]
subjectAltName = IP:127.0.0.1,DNS:localhost
basicConstraints = CA:FALSE
]]

-- Every certificate the servers use, in a fresh directory.
local function make_certificates(dir)
  local quiet = " >/dev/null 2>&1"
  local ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  local function key_and_csr(name, cn)
    run("openssl req" .. ec .. " -keyout " .. dir .. "/" .. name .. ".key -out " .. dir .. "/" ..
      name .. ".csr -subj /CN=" .. cn .. quiet)
  end
  local function sign(name, ext)
    write(dir .. "/" .. name .. ".ext", ext)
    run("openssl x509 -req -in " .. dir .. "/" .. name .. ".csr -CA " .. dir .. "/ca.pem -CAkey " ..
      dir .. "/ca.key -CAcreateserial -out " .. dir .. "/" .. name .. ".pem -days 2 -extfile " ..
      dir .. "/" .. name .. ".ext" .. quiet)
  end
  -- The private CA.
  run("openssl req -x509" .. ec .. " -keyout " .. dir .. "/ca.key -out " .. dir .. "/ca.pem -days 2" ..
    " -subj '/CN=koodrive-lua test CA' -addext basicConstraints=critical,CA:TRUE" ..
    " -addext keyUsage=critical,keyCertSign,cRLSign" .. quiet)
  -- ca: the good one.
  key_and_csr("server", "127.0.0.1")
  sign("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
  -- wrong_host: good chain, other name.
  key_and_csr("wrong_host", "wrong.example")
  sign("wrong_host", "subjectAltName=DNS:wrong.example\nbasicConstraints=CA:FALSE\n")
  -- self_signed: a leaf that signs itself.
  run("openssl req -x509" .. ec .. " -keyout " .. dir .. "/self_signed.key -out " .. dir ..
    "/self_signed.pem -days 2 -subj /CN=127.0.0.1" ..
    " -addext subjectAltName=IP:127.0.0.1,DNS:localhost -addext basicConstraints=critical,CA:FALSE" .. quiet)
  -- expired: good chain and name, validity over since 2020.
  key_and_csr("expired", "127.0.0.1")
  run("mkdir -p " .. dir .. "/issued")
  write(dir .. "/index.txt", "")
  write(dir .. "/serial", "1000\n")
  write(dir .. "/ca.cnf", (CA_CONF:gsub("DIR", dir)))
  run("openssl ca -batch -notext -config " .. dir .. "/ca.cnf -cert " .. dir .. "/ca.pem -keyfile " ..
    dir .. "/ca.key -in " .. dir .. "/expired.csr -out " .. dir .. "/expired.pem" ..
    " -startdate 20200101000000Z -enddate 20200102000000Z -extensions leaf" .. quiet)
end

local free_port = sys.free_port

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
SERVERS}
]]

local SERVER = [[
  server {
    listen 127.0.0.1:PORT SSL;
    CERTIFICATE
    location / {
      default_type application/json;
      return 200 '{"code":0,"msg":"success","data":[]}';
    }
  }
]]

local CERT_FILE = { ca = "server", self_signed = "self_signed", expired = "expired",
  wrong_host = "wrong_host" }

local function config(dir, ports)
  local blocks = {}
  for _, name in ipairs(SERVERS) do
    local file = CERT_FILE[name]
    local cert = file and ("ssl_certificate " .. dir .. "/" .. file .. ".pem; ssl_certificate_key " ..
      dir .. "/" .. file .. ".key;") or ""
    blocks[#blocks + 1] = (SERVER:gsub("PORT", tostring(ports[name])):gsub("SSL", file and "ssl" or "")
      :gsub("CERTIFICATE", cert))
  end
  return (CONF:gsub("DIR", dir):gsub("SERVERS", table.concat(blocks)))
end

local alive = sys.alive

local function all_listening(ports)
  for _, name in ipairs(SERVERS) do
    local c = socket.connect("127.0.0.1", ports[name])
    if not c then return false end
    c:close()
  end
  return true
end

function M.start()
  local dir = os.tmpname()
  os.remove(dir)
  run("mkdir -p " .. dir .. "/tmp && chmod 755 " .. dir)
  make_certificates(dir)
  for _ = 1, 3 do
    local ports = {}
    for _, name in ipairs(SERVERS) do ports[name] = free_port() end
    write(dir .. "/nginx.conf", config(dir, ports))
    local p = io.popen("sh -c '/usr/sbin/nginx -p " .. dir .. " -c " .. dir .. "/nginx.conf -e " .. dir ..
      "/error.log >" .. dir .. "/out.log 2>&1 & echo $!'")
    local pid = p:read("*l")
    p:close()
    local deadline = socket.gettime() + 5
    while socket.gettime() < deadline and alive(pid) do
      if all_listening(ports) then
        local urls = {}
        for _, name in ipairs(SERVERS) do
          urls[name] = (name == "plain" and "http" or "https") .. "://127.0.0.1:" .. ports[name]
        end
        local server = { url = urls.ca, urls = urls, ca_file = dir .. "/ca.pem", dir = dir }
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
