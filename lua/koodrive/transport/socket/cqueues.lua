--- The cqueues adapter of koodrive.transport.socket: cqueues sockets (Debian's lua-cqueues),
-- whose waits yield to the cqueues controller running the calling coroutine (lua-http's
-- servers run on one), and block only outside a controller. https is verified with luaossl
-- (lua-luaossl, which cqueues uses for TLS): the system's trusted CAs, or the request's
-- `ca_file`, the host name (or IP address) checked, SNI sent for a name; `insecure = true`
-- skips the checks. Reads go through koodrive.transport.socket.buffered. No pool.
-- Internal: made by koodrive.transport.socket("cqueues").
local http1 = require "koodrive.transport.http1"
local buffered = require "koodrive.transport.socket.buffered"

local M = {}

local ETIMEDOUT = 110

local function word(err, errno)
  if errno == ETIMEDOUT or err == ETIMEDOUT or (type(err) == "string" and err:lower():find("timed out", 1, true)) then
    return "timeout"
  end
  if type(err) == "number" then
    local ok, text = pcall(function() return require("cqueues.errno").strerror(err) end)
    return ok and text or ("error " .. err)
  end
  return err and tostring(err) or "closed"
end

-- cqueues sockets raise their errors by default; these are returned instead.
local function returned(_, _, why) return why end

-- A luaossl TLS object for one connection: verification, trusted CAs, host check, SNI.
local function tls_for(u, o)
  local context = require "openssl.ssl.context"
  local ssl = require "openssl.ssl"
  local ctx = context.new("TLS", false)
  if o.verify then
    ctx:setVerify(context.VERIFY_PEER)
    local store = ctx:getStore()
    if o.request.ca_file then store:add(o.request.ca_file) else store:addDefaults() end
  else
    ctx:setVerify(context.VERIFY_NONE)
  end
  local s = ssl.new(ctx)
  local host = http1.strip_brackets(u.host)
  if o.sni then s:setHostName(o.sni) end
  if o.verify then
    -- A fresh parameter set with only the name to check (SSL_set1_param merges it into the
    -- connection's own); the connection's parameters are not copied out and back.
    local param = require("openssl.x509.verify_param").new()
    if o.is_ip then param:setIP(host) else param:setHost(host) end
    s:setParam(param)
  end
  return s
end

local function wrap(sock)
  return buffered.conn {
    read_some = function(max, seconds)
      local data, err, errno = sock:xread(-max, "b", seconds)
      if data then return data end
      if err == nil and errno == nil then return nil, "closed" end -- end of stream
      return nil, word(err, errno)
    end,
    send = function(data, seconds)
      local ok, err, errno = sock:xwrite(data, "bn", seconds)
      if not ok then return nil, word(err, errno) end
      return true
    end,
    close = function() sock:close() end,
  }
end

function M.new()
  local csocket = require "cqueues.socket"
  local cqueues = require "cqueues"
  local net = { name = "cqueues", now = cqueues.monotime }
  function net.open(u, o)
    local host = http1.strip_brackets(u.host)
    local ok_new, sock, nerr = pcall(csocket.connect, { host = host, port = u.port, nodelay = true,
      sendname = false })
    if not ok_new or not sock then
      return http1.failure("connect", "connect to " .. u.authority .. " failed: " .. tostring(ok_new and nerr or sock))
    end
    sock:onerror(returned)
    sock:setmode("b", "bn")
    local ok, err, errno = sock:connect(o.clock.connect_ms() / 1000)
    if not ok then
      sock:close()
      return http1.connect_failure(word(err, errno), u, o.clock)
    end
    if u.scheme == "https" then
      local made, s = pcall(tls_for, u, o)
      if not made then
        sock:close()
        return http1.failure("tls", "TLS setup for " .. u.authority .. " failed: " .. tostring(s))
      end
      local tok, terr, terrno = sock:starttls(s, o.clock.connect_ms() / 1000)
      if not tok then
        sock:close()
        return http1.connect_failure(word(terr, terrno), u, o.clock, "TLS handshake with", "tls")
      end
    end
    return wrap(sock)
  end
  return net
end

return M
