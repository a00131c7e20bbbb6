--- Transports: how a built request reaches the service.
-- A transport is any object with `send(self, request)` where request is
--   { method, url, headers = { [Name] = value }, body = string|nil,
--     timeout, connect_timeout, ca_file, insecure, max_body, operation }
-- returning { status = number, headers = { [lowercase name] = value }, body = string },
-- or nil and an error (a koodrive error, or a string taken as a transport error).
-- @module koodrive.transport
local transport = {}

--- The default: nginx's non-blocking cosockets where they work (OpenResty request handlers,
-- timers), libcurl everywhere else; chosen on every send.
---@param opts? table
---@return koodrive.Transport
function transport.auto(opts) return require("koodrive.transport.auto").new(opts) end

--- A blocking libcurl easy handle, reused across calls (keep-alive).
---@param opts? table
---@return koodrive.Transport
function transport.curl(opts) return require("koodrive.transport.curl").new(opts) end

--- nginx cosockets (OpenResty): lua-resty-http when installed, else a built-in HTTP/1.1 client.
---@param opts? table
---@return koodrive.Transport
function transport.ngx(opts) return require("koodrive.transport.ngx").new(opts) end

--- The one HTTP/1.1 client (that of the nginx transport) over a host's own sockets:
-- "luasocket", "haproxy" or an adapter table (see koodrive.transport.http1).
---@param net string|table
---@param opts? table
---@return koodrive.Transport
function transport.socket(net, opts) return require("koodrive.transport.socket").new(net, opts) end

--- HAProxy's Lua sockets (core.tcp): calls from a Lua service, action or task yield to
-- HAProxy's scheduler instead of blocking the process. opts.backend = "httpclient" sends
-- with HAProxy's own HTTP client instead (https verified by HAProxy; see its file).
---@param opts? table
---@return koodrive.Transport
function transport.haproxy(opts)
  if type(opts) == "table" and opts.backend == "httpclient" then
    return require("koodrive.transport.haproxy_httpclient").new(opts)
  end
  if type(opts) == "table" and opts.backend ~= nil and opts.backend ~= "tcp" then
    error("koodrive.transport.haproxy: backend must be \"tcp\" (core.tcp, the default) or \"httpclient\"", 2)
  end
  return require("koodrive.transport.socket").new("haproxy", opts and { pool_size = opts.pool_size })
end

--- Answers from recorded interactions; raises on a request it has no recording for.
---@param cassette string|table a cassette file path or its decoded table
---@param opts? table
---@return koodrive.Transport
function transport.replay(cassette, opts) return require("koodrive.transport.replay").new(cassette, opts) end

--- Sends through `inner` and writes every interaction to a cassette file, secrets scrubbed.
---@param inner koodrive.Transport
---@param path string cassette file to write
---@return koodrive.Transport
function transport.record(inner, path) return require("koodrive.transport.record").new(inner, path) end

return transport
