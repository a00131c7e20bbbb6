--- Transports: how a built request reaches the service.
-- A transport is any object with `send(self, request)` where request is
--   { method, url, headers = { [Name] = value }, body = string|nil,
--     timeout, connect_timeout, ca_file, insecure, max_body, operation }
-- returning { status = number, headers = { [lowercase name] = value }, body = string },
-- or nil and an error (a koodrive error, or a string taken as a transport error).
local transport = {}

--- The default: a blocking libcurl easy handle, reused across calls (keep-alive).
function transport.curl(opts) return require("koodrive.transport.curl").new(opts) end

function transport.ngx(opts) return require("koodrive.transport.ngx").new(opts) end -- nginx cosockets (OpenResty)
--- Answers from recorded interactions; raises on a request it has no recording for.
function transport.replay(cassette, opts) return require("koodrive.transport.replay").new(cassette, opts) end

--- Sends through `inner` and writes every interaction to a cassette file, secrets scrubbed.
function transport.record(inner, path) return require("koodrive.transport.record").new(inner, path) end

return transport
