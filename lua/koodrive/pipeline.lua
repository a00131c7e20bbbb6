--- The one request pipeline shared by every operation, `call` and `prepare`, read top to
-- bottom as its steps:
--   1. configuration  koodrive.request.config    client options, endpoint, per-call options
--   2. arguments      check_args (below)         an operation's positional arguments
--   3. build          koodrive.request.build     headers, path, query, signature (in C)
--   4. attempts       koodrive.request.attempts  send, retries, clock skew, token refresh, logs
--   5. response       koodrive.request.response  decode, envelope, errors (secrets redacted)
--   6. result         op.result (koodrive.shape) the documented shape of the answer
-- A service (KooDrive, IoTDA) plugs in a profile: its headers, its auth and its error
-- envelope. Clients are built by `pipeline.class(profile)`.
local core = require "koodrive.core"
local errors = require "koodrive.errors"
local vault = require "koodrive.secrets"
local config = require "koodrive.request.config"
local build = require "koodrive.request.build"
local attempts = require "koodrive.request.attempts"
local response = require "koodrive.request.response"
local paging = require "koodrive.paging"

local pipeline = {}

pipeline.VERSION = core._VERSION
pipeline.USER_AGENT = build.USER_AGENT

-- The steps' entries that the service modules (client.lua, iotda.lua) use.
pipeline.common_config = config.common
pipeline.env_proxy = config.env_proxy
pipeline.header_option = config.header_option
pipeline.new_trace_id = build.new_trace_id
pipeline.utc_stamp = build.utc_stamp
pipeline.encode_or_sign = build.encode_or_sign
pipeline.build = build.request
pipeline.redact = response.redact
pipeline.ambiguous = response.ambiguous
pipeline.emit = attempts.emit
pipeline.warn_insecure = attempts.warn_insecure

local call_options, generic_spec, fill_template = config.call_options, build.generic_spec, build.fill_template
local build_request, execute = build.request, attempts.execute

--- A bulk helper of koodrive.batch by name, loaded on its first call (not by require).
function pipeline.lazy_batch(name)
  return function(...) return require("koodrive.batch")[name](...) end
end

-- Secrets live in koodrive.secrets, keyed by client, so they are not fields a dump of the
-- client would show.
local secrets = vault.store

--------------------------------------------------------------------------------------------
-- Arguments of a declared operation
--------------------------------------------------------------------------------------------

--- Checks the caller's positional arguments against an operation's declaration; returns
-- the arguments by name and the per-call options, or nil and a validation error.
local function check_args(op, ...)
  local nargs = #op.args
  local args = {}
  for i, a in ipairs(op.args) do
    local v, err = a.check((select(i, ...)), a.name)
    if v == nil then
      err.operation = op.name
      return nil, err
    end
    args[a.name] = v
  end
  local opts, oerr = call_options((select(nargs + 1, ...)), op)
  if not opts then oerr.operation = op.name; return nil, oerr end
  if select("#", ...) > nargs + 1 then
    return nil, errors.new { kind = "validation", operation = op.name, rule = "arity",
      field = "arguments", message = "arguments: takes at most " .. (nargs + 1) .. " arguments" }
  end
  return args, opts
end

local NO_QUERY = {}

-- A builder's failure (body, query, headers) as the call's validation error.
local function build_failure(op, berr)
  if type(berr) == "table" then berr.operation = op.name; return berr end
  return errors.new { kind = "validation", operation = op.name, message = berr }
end

-- The query pairs and extra headers an operation builds from its arguments, checked as a
-- generic call's are; or nil and a validation error.
local function query_and_headers(op, args, opts)
  local query, headers = NO_QUERY, nil
  if op.query then
    local q, qerr = op.query(args, opts)
    if q == nil then return nil, build_failure(op, qerr) end
    q, qerr = build.query_pairs(q)
    if not q then return nil, build_failure(op, qerr) end
    query = q
  end
  if op.headers then
    local h, herr = op.headers(args, opts)
    if h == nil then return nil, build_failure(op, herr) end
    for name, value in pairs(h) do
      local ok, verr = build.check_header(name, value)
      if not ok then return nil, build_failure(op, verr) end
    end
    headers = next(h) ~= nil and h or nil
  end
  return query, headers
end

-- The pipeline spec { method, path, query, body, headers, no_auth } of an operation called with
-- `...`, its per-call options and its arguments by name; or nil and a validation error.
local function operation_spec(client, op, ...)
  local args, opts = check_args(op, ...)
  if not args then return nil, opts end
  local body
  if op.body then
    local berr
    body, berr = op.body(args, opts)
    if not body then return nil, build_failure(op, berr) end
  end
  local query, headers = query_and_headers(op, args, opts)
  if not query then return nil, headers end
  return { method = op.method, path = fill_template(op.path, args, client._path_values), query = query,
    body = body, headers = headers, no_auth = op.auth == "none",
    -- values this call sends that are secrets whatever their field is called (koodrive.secrets)
    secrets = op.secrets and op.secrets(args, opts) or nil }, opts, args
end

-- Checks an operation's arguments and what it builds from them, without signing anything:
-- true or nil, err.
local function check_operation(op, ...)
  local args, opts = check_args(op, ...)
  if not args then return nil, opts end
  if op.body then
    local body, berr = op.body(args, opts)
    if not body then return nil, build_failure(op, berr) end
  end
  local query, herr = query_and_headers(op, args, opts)
  if not query then return nil, herr end
  return true
end

-- The declared operations of each service object (client.devices, ...), for pipeline.check,
-- and the client each belongs to, for the calls built from other calls (koodrive.composite).
local service_ops = setmetatable({}, { __mode = "k" })
-- Weak keys and values: a weak-keyed table whose value (the client) holds its key (the
-- service object) is never collected on Lua 5.1 and LuaJIT, which have no ephemerons.
local service_client = setmetatable({}, { __mode = "kv" })

--- The client a service object (client.files) belongs to.
function pipeline.client_of(service)
  return service_client[service]
end

--- Whether `service:method(...)` would accept these arguments (and per-call options), checked
-- without building or sending anything: true, or nil and the validation error the call would
-- return. `service` is a client's service object (client.devices); bulk helpers use this to
-- refuse bad input before they send any of it.
function pipeline.check(service, method, ...)
  local ops = service_ops[service]
  local op = ops and (ops() or {})[method]
  if not op then
    return nil, errors.validation("method", "enum", "is not an operation of this service object")
  end
  return check_operation(op, ...)
end

--------------------------------------------------------------------------------------------
-- Running an operation: arguments -> attempts (build, send, response) -> result
--------------------------------------------------------------------------------------------

--- Runs a declared operation with the caller's positional arguments.
local function run(client, op, ...)
  local spec, opts, args = operation_spec(client, op, ...)
  if not spec then return nil, opts end
  local ctx = { operation = op.name, idempotent = op.idempotent ~= false,
    code_optional = op.code_optional, empty_body = op.empty_body,
    repeatable = nil, trace_id = nil, request = nil } -- (set by the attempts: sized once)
  local decoded, err, res, history = execute(client, spec, opts, ctx)
  if not decoded then
    -- "Not found" after an attempt that may have done the work most likely means it did.
    if err.ambiguous and op.already_done and op.already_done(err) then err.uncertain = true end
    return nil, err
  end
  local call = { ambiguous = false, history = history }
  for _, entry in ipairs(history or {}) do
    if entry.ambiguous then call.ambiguous = true end
  end
  local result, serr
  if op.status and res.status ~= op.status then
    serr = "HTTP " .. tostring(res.status) .. " where the contract documents " .. op.status
  else
    result, serr = op.result(decoded, args, call, opts)
  end
  if result == nil then
    -- An answer that contradicts the request: the service did answer, so the call may have
    -- been carried out (uncertain); the error carries the response (status, snippet, history).
    history = history or {}
    history[#history + 1] = { attempt = #history + 1, kind = "decode", status = res.status,
      message = serr, ambiguous = true }
    local _, e = response.failure(client, ctx, res, "decode", serr)
    e.body = errors.printable(response.snippet(res.body, client, ctx))
    e.attempts, e.history, e.ambiguous, e.uncertain = #history, history, call.ambiguous, true
    return nil, e
  end
  return result
end

local IDEMPOTENT = { GET = true, PUT = true, DELETE = true, HEAD = true }

--------------------------------------------------------------------------------------------
-- Client classes
--------------------------------------------------------------------------------------------

--- Makes the client class of a service profile.
-- profile = { name, services = { service = family module name, or a list of them, or (for a
--             test profile) a list of declarations },
--             bulk = { service = { method = fn(service, ...) } },
--             set_token(secret, token) (token modes with a token_provider),
--             headers(client, headers, opts),
--             authorize(client, secrets) -> auth data for encode_or_sign (request/build.lua),
--             envelope(decoded, status) -> code, msg, decode_error,
--             describe(client) -> text for tostring }
function pipeline.class(profile)
  local Client = {}
  Client.__index = Client
  local label = profile.name == "koodrive" and "koodrive" or ("koodrive." .. profile.name)
  Client.__name = label .. ".client"

  -- The declarations by service ("devices" -> { list = op, ... }) and by name. A family's
  -- module (koodrive.operations.<family>) is loaded when one of its services is first used,
  -- so `require "koodrive"` parses none of them.
  local by_name = {}
  local services = setmetatable({}, { __index = function(t, service)
    local families = profile.services[service]
    if not families then return nil end
    if type(families) == "string" then families = { families } end
    for _, family in ipairs(families) do
      local declared = type(family) == "table" and family or require("koodrive.operations." .. family)
      for _, op in ipairs(declared) do
        local s, method = op.name:match("^([%w_]+)%.([%w_]+)$")
        local ops = rawget(t, s) or {}
        rawset(t, s, ops)
        ops[method] = op
        by_name[op.name] = op
      end
    end
    return rawget(t, service)
  end })

  -- Every service's declarations, all families loaded (for tools and error messages).
  local function all_services()
    for service in pairs(profile.services) do local _ = services[service] end
    return services
  end

  -- The declared operation called `name` ("devices.bind"), or nil and a validation error.
  local function operation(name)
    local service = type(name) == "string" and name:match("^([%w_]+)%.")
    local op = service and services[service] and by_name[name]
    if op then return op end
    local known = {}
    for n in pairs(all_services() and by_name) do known[#known + 1] = n end
    table.sort(known)
    return nil, errors.validation("operation", "enum", "must be one of " .. table.concat(known, ", "))
  end

  -- A service object's methods, made on its first use: the declared operations, their paging
  -- companions, then the profile's bulk helpers for the service (which call those operations
  -- and win over a declared method of the same name). Their declarations stay private: the
  -- bulk helpers check arguments through pipeline.check, the CLI through
  -- client:prepare_operation.
  local function bind_methods(obj, service, client)
    for method, op in pairs(services[service] or {}) do
      obj[method] = function(_, ...) return run(client, op, ...) end
      if op.paging then
        paging.companions(obj, method, #op.args, op.name, function(...) return run(client, op, ...) end)
      end
    end
    for method, fn in pairs(profile.bulk and profile.bulk[service] or {}) do obj[method] = fn end
  end

  -- One service object per service name the profile knows (client.devices, client.files...).
  -- Its metatable binds the methods on the first lookup, then goes away; until then it holds
  -- the client, so a kept service object keeps its client alive as its methods do.
  local names = {}
  for service in pairs(profile.services) do names[service] = true end
  for service in pairs(profile.bulk or {}) do names[service] = true end
  local function ops_of(service) return function() return services[service] end end

  local function bind_services(client)
    for service in pairs(names) do
      local obj = setmetatable({}, { __index = function(obj, method)
        setmetatable(obj, nil)
        bind_methods(obj, service, client)
        return rawget(obj, method)
      end })
      service_ops[obj] = ops_of(service)
      service_client[obj] = client
      client[service] = obj
    end
  end

  --- Creates a client from checked config: `settings` fields become client fields.
  function Client._create(common, settings, secret_values, path_values)
    local client = setmetatable({ _config = common, _profile = profile,
      _path_values = path_values or {}, _clock_offset = 0 }, Client)
    for k, v in pairs(settings) do client[k] = v end
    secrets[client] = secret_values
    bind_services(client)
    if common.insecure then pipeline.warn_insecure(client) end
    return client
  end

  --- client:call{ method, path, query, body } -> the decoded response envelope.
  ---@param spec koodrive.CallSpec
  ---@return table|nil envelope
  ---@return koodrive.Error|nil err
  function Client:call(spec)
    local s, opts = generic_spec(spec)
    if not s then opts.operation = "call"; return nil, opts end
    local decoded, err = execute(self, s, opts, { operation = "call", idempotent = IDEMPOTENT[s.method] })
    if not decoded then return nil, err end
    return decoded
  end

  --- client:prepare{ method, path, query, body } -> the signed request, not sent.
  ---@param spec koodrive.CallSpec
  ---@return koodrive.Request|nil request
  ---@return koodrive.Error|nil err
  function Client:prepare(spec)
    local s, opts = generic_spec(spec)
    if not s then opts.operation = "prepare"; return nil, opts end
    local request, err = build_request(self, s, opts)
    if not request then err.operation = "prepare"; return nil, err end
    request.body = request.body or ""
    return request
  end

  --- client:prepare_operation(name, ...) -> the signed request a declared operation would
  -- send, not sent: `name` like "devices.bind", then the operation's positional arguments and
  -- its per-call options, exactly as `client.devices:bind(...)` takes them. The arguments are
  -- checked first (the same validation error the call would return).
  ---@param name string an operation, "service.method"
  ---@param ... any the operation's arguments, then its per-call options
  ---@return koodrive.Request|nil request { method, url, headers, body }
  ---@return koodrive.Error|nil err
  function Client:prepare_operation(name, ...)
    local op, oerr = operation(name)
    if not op then return nil, oerr end
    local spec, opts = operation_spec(self, op, ...)
    if not spec then return nil, opts end
    local request, err = build_request(self, spec, opts)
    if not request then err.operation = op.name; return nil, err end
    request.body = request.body or ""
    return request
  end

  --- client:check_operation(name, ...) -> true when a declared operation would accept these
  -- arguments (and per-call options), without building or sending anything; else nil and the
  -- validation error the call would return. For bulk work that must refuse bad input before
  -- it sends any of it.
  ---@param name string an operation, "service.method"
  ---@param ... any the operation's arguments, then its per-call options
  ---@return true|nil ok
  ---@return koodrive.Error|nil err
  function Client.check_operation(_, name, ...)
    local op, oerr = operation(name)
    if not op then return nil, oerr end
    return check_operation(op, ...)
  end

  --- Releases the transport (the libcurl handle) if the client created it. Every later call,
  -- and every call a loop has queued but not sent yet, fails with a config error (rule
  -- "closed") without reaching the network. Closing twice is harmless.
  function Client:close()
    if self._closed then return end
    self._closed = true
    local cfg = self._config
    if cfg.owns_transport and cfg.transport.close then cfg.transport:close() end
  end
  Client.__close = Client.close

  function Client.__tostring(c)
    return label .. " client (" .. profile.describe(c) .. ")"
  end

  --- Every service's declarations ("devices" -> { list = op, ... }), all families loaded.
  Client.operations = all_services
  -- The service names of the profile (no family loaded).
  Client.services = profile.services
  -- The calls built from others (composites, bulk helpers) by service, for tools/gen_docs.lua.
  Client.extras = profile.bulk or {}
  return Client
end

return pipeline
