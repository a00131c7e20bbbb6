--- Exit codes of the `koodrive` command and the failure that ends a command with one.
--
-- A command raises a failure with error(); koodrive.cli.main turns it into the exit code
-- and one "koodrive: <message>" line on standard error.
local exit = {}

--- 0 ok, 1 partial failure (bulk), 2 usage, 3 config, 4 validation, 5 service (api, http,
-- decode), 6 transport or timeout.
exit.EXIT = { ok = 0, partial = 1, usage = 2, config = 3, validation = 4, service = 5, transport = 6 }
local EXIT = exit.EXIT

--- The exit code of each koodrive.errors kind (any other kind: service).
exit.KIND = { config = 3, validation = 4, api = 5, http = 5, decode = 5, transport = 6, timeout = 6, io = 6 }

local Failure = {}
Failure.__index = Failure

--- Whether `v` is a failure raised by exit.fail.
---@param v any
---@return boolean
function exit.is_failure(v) return getmetatable(v) == Failure end

--- Ends the command with `code` and `message`.
---@param code integer
---@param message string
function exit.fail(code, message)
  error(setmetatable({ code = code, message = message }, Failure), 0)
end
local fail = exit.fail

--- Ends the command with a usage error (exit 2).
---@param message string
function exit.usage(message) fail(EXIT.usage, message .. " (try --help)") end

--- Ends the command with a configuration error (exit 3).
---@param message string
function exit.config(message) fail(EXIT.config, message) end

--- Ends the command with the exit code of a library error's kind.
---@param err koodrive.Error
function exit.with(err) fail(exit.KIND[err.kind] or EXIT.service, tostring(err)) end

--- The exit code of a library error (service when it has no known kind).
---@param err koodrive.Error|nil
---@return integer
function exit.of(err) return err and exit.KIND[err.kind] or EXIT.service end

return exit
