--- Pipeline step 2, build: a request spec { method, path, query, body } becomes the signed
-- request { method, url, headers, body } of one attempt (a fresh date and signature each time).
-- Also the generic specs of call/prepare, query pairs, path templates, and the caches the hot
-- path relies on (encoded paths, the date stamp of the current second).
local core = require "koodrive.core"
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local vault = require "koodrive.secrets"
local options = require "koodrive.options"
local validate = require "koodrive.validate"
local config = require "koodrive.request.config"
local response = require "koodrive.request.response"

local build = {}

local secrets = vault.store
local redact = response.redact

build.USER_AGENT = "koodrive-lua/" .. core._VERSION .. " (" .. _VERSION .. ")"
local USER_AGENT = build.USER_AGENT

--- A fresh 58-character trace id (lowercase hex). The bytes come from the operating system on
-- every call (core.random_hex), so separate processes, forked children included, never send the
-- same sequence (math.random repeats it on Lua 5.1-5.3 and LuaJIT, and across a fork).
function build.new_trace_id()
  return core.random_hex(29)
end

-- Scalar query values as the text that is sent (valid UTF-8, no control characters, finite).
local query_text = validate.query_value

--- Normalises a query given as { name = value | {values} } or { {name, value}, ... }.
local function query_pairs(q)
  if q == nil then return {} end
  if type(q) ~= "table" then
    return nil, errors.validation("query", "type", "must be a table")
  end
  local pairs_out = {}
  if #q > 0 then
    for k in pairs(q) do
      if type(k) ~= "number" then
        return nil, errors.validation("query", "type",
          "must be either { name = value } or a list of {name, value} pairs, not both")
      end
    end
    for i, p in ipairs(q) do
      if type(p) ~= "table" or type(p[1]) ~= "string" then
        return nil, errors.validation("query[" .. i .. "]", "type", "must be a {name, value} pair")
      end
      local ok, nerr = validate.query_name(p[1], "query[" .. i .. "]")
      if not ok then return nil, nerr end
      local v, err = query_text(p[2], "query." .. p[1])
      if not v then return nil, err end
      pairs_out[#pairs_out + 1] = { p[1], v }
    end
    return pairs_out
  end
  for name, value in pairs(q) do
    if type(name) ~= "string" then
      return nil, errors.validation("query", "type", "names must be strings")
    end
    local ok, nerr = validate.query_name(name, "query." .. validate.key_label(name))
    if not ok then return nil, nerr end
    local values = type(value) == "table" and value or { value }
    for _, item in ipairs(values) do
      local v, err = query_text(item, "query." .. name)
      if not v then return nil, err end
      pairs_out[#pairs_out + 1] = { name, v }
    end
  end
  return pairs_out
end

build.query_pairs = query_pairs

--- An operation's extra header (its `headers` builder): a token name and a header value;
-- true, or nil and a validation error naming the header.
function build.check_header(name, value)
  if type(name) ~= "string" or not name:find("^[%w%-_]+$") then
    return nil, errors.validation("headers", "header_name", "names must be header tokens")
  end
  local ok, err = validate.header_value(value, name)
  if not ok then return nil, err end
  return true
end

-- A spec's own keys and the per-call options (koodrive.options).
local SPEC_KEYS = options.names("call", { "method", "path", "query", "body" })

local METHODS = { GET = true, POST = true, PUT = true, DELETE = true, PATCH = true, HEAD = true }

--- Checks a generic request spec of call/prepare; returns the pipeline spec and options.
function build.generic_spec(spec)
  if type(spec) ~= "table" then
    return nil, errors.validation("request", "type", "must be a table { method, path, query, body }")
  end
  local ok, err = validate.known_keys(spec, "request", SPEC_KEYS)
  if not ok then return nil, err end
  local method = spec.method
  if type(method) ~= "string" or not METHODS[method:upper()] then
    return nil, errors.validation("method", "enum", "must be one of GET, POST, PUT, DELETE, PATCH, HEAD")
  end
  local path, perr = validate.request_path(spec.path, "path")
  if not path then return nil, perr end
  local query, qerr = query_pairs(spec.query)
  if not query then return nil, qerr end
  local body = spec.body
  if type(body) == "table" then
    local valid, verr = validate.json_body(body, "body")
    if not valid then return nil, verr end
    local text, jerr = json.encode(body)
    if not text then return nil, errors.validation("body", "json", "cannot be encoded as JSON: " .. jerr) end
    body = text
  elseif type(body) == "string" then
    -- Sent as is, but labelled application/json: it must at least be UTF-8.
    local valid, verr = validate.utf8(body, "body")
    if not valid then return nil, verr end
  elseif body ~= nil then
    return nil, errors.validation("body", "type", "must be a table (sent as JSON) or a string")
  end
  local opts, oerr = config.call_options {
    trace_id = spec.trace_id, language = spec.language,
    timeout = spec.timeout, connect_timeout = spec.connect_timeout, retry = spec.retry }
  if not opts then return nil, oerr end
  return { method = method:upper(), path = path, query = query, body = body }, opts
end

--- Fills {name} of an operation's path from its arguments, else from the client's path
-- values (project_id).
function build.fill_template(template, args, client_values)
  if not template:find("{", 1, true) then return template end
  return (template:gsub("{([%w_]+)}", function(name)
    local v = args[name]
    if v == nil then v = client_values[name] end
    return v
  end))
end

-- Date stamps change once a second; calls within that second share one.
local utc_stamp, stamp_second, stamp_text = core.utc_stamp, nil, nil

--- core.utc_stamp(seconds), "YYYYMMDDTHHMMSSZ", remembered for the last second asked.
function build.utc_stamp(seconds)
  if seconds ~= stamp_second then stamp_second, stamp_text = seconds, utc_stamp(seconds) end
  return stamp_text
end

-- Encoded forms of the paths last sent: most programs call a handful of paths again and
-- again. Bounded: emptied when it reaches PATH_CACHE_MAX entries.
local encode_path, encoded_paths, encoded_count = core.encode_path, {}, 0
local PATH_CACHE_MAX = 256

local function encoded_path(path)
  local e = encoded_paths[path]
  if e then return e end
  e = encode_path(path)
  if encoded_count >= PATH_CACHE_MAX then encoded_paths, encoded_count = {}, 0 end
  encoded_paths[path], encoded_count = e, encoded_count + 1
  return e
end

--- Applies what a profile's `authorize` returned: the date header (`date_header`, set to the
-- UTC stamp of `now`), the credential headers (`headers`), then, when `scheme` is set, the
-- signature of the C core over the request, leaving the headers named in `unsigned` out of it
-- (with `key_id`, `secret` and, for V11, `region` and `service`). Without a scheme (token modes)
-- the path and query are only encoded. Returns path, query or nil, err.
function build.encode_or_sign(request, auth, now)
  local headers = request.headers
  if auth.date_header then headers[auth.date_header] = build.utc_stamp(now) end
  if auth.headers then
    for name, value in pairs(auth.headers) do headers[name] = value end
  end
  if auth.scheme == nil then
    local query = request.query
    return encoded_path(request.path), (query == nil or query[1] == nil) and "" or core.encode_query(query)
  end
  -- auth is this call's own table: it becomes the signer's request.
  auth.method, auth.path, auth.query = request.method, request.path, request.query
  auth.headers, auth.body = headers, request.body
  -- libcrypto is loaded on the first signature, not by require "koodrive" (src/core.c).
  local signed, err = require("koodrive.sign").sign(auth)
  if not signed then
    return nil, errors.validation("headers", "header_value", err)
  end
  headers.Authorization = signed.authorization
  return signed.path, signed.query
end

--- Asks the token_provider for a fresh token and stores it; true, or nil and why not.
-- A provider may return, after the token, the seconds until it is due for a refresh
-- (koodrive.session_tokens does): the client then asks again once that time has passed, before
-- the call that would otherwise go out with a token about to expire.
function build.refresh_token(client)
  local ok, token, due_in = pcall(client._config.token_provider)
  if not ok then
    local shown, text = pcall(tostring, token)
    -- Redacted before it is cut and escaped: a provider's error may quote what it fetched.
    return nil, "failed: " .. validate.safe_text(redact(client, shown and text or "an error value"), 200)
  end
  if type(token) ~= "string" or token == "" then return nil, "returned no token" end
  local valid, verr = validate.header_value(token, "token")
  if not valid then return nil, "returned a token that " .. verr.message:gsub("^token: ", "") end
  local secret = secrets[client]
  client._profile.set_token(secret, token)
  secret.token_due = nil
  if type(due_in) == "number" and due_in == due_in and due_in >= 0 and due_in < 1e9 then
    secret.token_due = core.monotonic() + due_in
  end
  return true
end
local refresh_token = build.refresh_token

--- Builds the signed request: { method, url, headers, body }, its trace id and signing time.
-- `spec` = { method, path (raw, relative to the endpoint's base), query = pairs, body = string }.
function build.request(client, spec, opts)
  local profile = client._profile
  -- A token mode client with only a token_provider gets its first token now (not for an
  -- operation that sends no credentials: a provider's own login goes through one).
  if client._config.token_provider and not spec.no_auth then
    local secret = secrets[client]
    if not secret.token then
      local ok, why = refresh_token(client)
      if not ok then
        return nil, errors.new { kind = "config", field = "token_provider", rule = "token",
          message = "token_provider: " .. redact(client, tostring(why)) }
      end
    elseif secret.token_due and core.monotonic() >= secret.token_due then
      -- Due for a refresh: a failure keeps the current token (it is still valid for a while)
      -- and asks again a few seconds later.
      if not refresh_token(client) then secret.token_due = core.monotonic() + 5 end
    end
  end
  local ep = client._config.endpoint
  -- The fields listed nil are set later: a constructor sizes the table for every field it
  -- names, so the request and its headers are allocated once, not regrown field by field.
  local headers = { Host = ep.host_header, ["User-Agent"] = USER_AGENT,
    Accept = "application/json", ["Content-Type"] = nil, ["X-User-Id"] = nil, ["X-Date"] = nil,
    Authorization = nil, ["X-Traceid"] = nil }
  if spec.body ~= nil then headers["Content-Type"] = "application/json" end
  local trace_id = opts.trace_id
  profile.headers(client, headers, opts)
  if headers["X-Traceid"] then trace_id = headers["X-Traceid"] end
  if spec.headers then
    for name, value in pairs(spec.headers) do headers[name] = value end
  end
  local request = {
    method = spec.method,
    path = ep.base .. spec.path,
    query = spec.query,
    headers = headers,
    body = spec.body,
    secrets = spec.secrets,
    -- set when it is sent (request.attempts) and by the transport
    url = nil, timeout = nil, connect_timeout = nil, ca_file = nil, insecure = nil,
    max_body = nil, proxy = nil, no_proxy = nil, operation = nil, fresh_connect = nil,
  }
  local now = client._config.clock()
  if type(now) ~= "number" or now ~= now then
    return nil, errors.config("clock", "type", "must return a number of Unix seconds")
  end
  if not (now >= 0 and now < 253402300800) then
    return nil, errors.config("clock", "range", "must return Unix seconds between 1970 and 9999")
  end
  -- The offset learned from a clock refusal (see request.attempts) keeps signing at the
  -- server's time.
  now = math.floor(now) + client._clock_offset
  local auth = profile.authorize(client, secrets[client])
  -- An operation without credentials (auth = "none": a session from a code, a carrier login)
  -- keeps the date header and nothing else of the client's authorization.
  if spec.no_auth then auth = { date_header = auth.date_header } end
  local path, query = build.encode_or_sign(request, auth, now)
  if not path then return nil, query end
  local url = ep.origin .. path
  if query ~= "" then url = url .. "?" .. query end
  -- What is sent: { method, url, headers, body }.
  request.url, request.path, request.query = url, nil, nil
  return request, trace_id, now
end

return build
