--- The one request pipeline shared by every operation, `call` and `prepare`:
--   validate -> build -> sign (in C) -> send (transport) -> decode -> shape.
-- A service (KooDrive, IoTDA) plugs in a profile: its headers, its auth and its error
-- envelope. Clients are built by `pipeline.class(profile)`.
local core = require "koodrive.core"
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local retry = require "koodrive.retry"
local vault = require "koodrive.secrets"
local validate = require "koodrive.validate"
local current_loop = require("koodrive.loop").current
local scheduler = require "koodrive.scheduler"

local pipeline = {}

--- A bulk helper of koodrive.batch by name, loaded on its first call (not by require).
function pipeline.lazy_batch(name)
  return function(...) return require("koodrive.batch")[name](...) end
end

pipeline.VERSION = core._VERSION
pipeline.USER_AGENT = "koodrive-lua/" .. core._VERSION .. " (" .. _VERSION .. ")"

local DEFAULT_MAX_BODY = 8 * 1024 * 1024

-- Secrets live in koodrive.secrets, keyed by client, so they are not fields a dump of the
-- client would show.
local secrets = vault.store

--------------------------------------------------------------------------------------------
-- Configuration shared by every client
--------------------------------------------------------------------------------------------

--- Splits an http(s) base URL into scheme, host (for the Host header), base path.
local function parse_endpoint(endpoint)
  if type(endpoint) ~= "string" then
    return nil, errors.config("endpoint", "required", "must be an http(s) URL string")
  end
  local ok, verr = validate.endpoint(endpoint, "endpoint")
  if not ok then verr.kind = "config"; return nil, verr end
  local scheme, authority, base = endpoint:match("^(https?)://([^/?#]+)(/?[^?#]*)$")
  if not scheme or endpoint:find("[%s%c]") or authority:find("@", 1, true) then
    return nil, errors.config("endpoint", "url",
      "must be an http(s) URL like https://host[:port][/base] (no user info, query or fragment)")
  end
  local host, port = authority:match("^(%[[%x:.]+%]):?(%d*)$")
  if not host then host, port = authority:match("^([%w%.%-]+):?(%d*)$") end
  if not host then return nil, errors.config("endpoint", "url", "has an invalid host") end
  if port ~= "" then
    local n = tonumber(port)
    if n < 1 or n > 65535 then return nil, errors.config("endpoint", "url", "has an invalid port") end
    -- curl leaves a default port out of Host; sign what is sent.
    if (scheme == "https" and n == 443) or (scheme == "http" and n == 80) then port = "" end
  end
  local host_header = port == "" and host or (host .. ":" .. port)
  base = base:gsub("/+$", "")
  return { scheme = scheme, host = host, host_header = host_header,
    origin = scheme .. "://" .. host_header, base = base }
end

local COMMON_OPTIONS = {
  endpoint = true, timeout = true, connect_timeout = true, ca_file = true, insecure = true,
  clock = true, transport = true, max_body = true, retries = true, logger = true, sleep = true,
  token_provider = true, proxy = true, no_proxy = true,
}

-- A client's proxy URL, keyed by its config table: it may carry credentials, so it is not a
-- field a dump of the client (or of its config) would show.
local proxies = setmetatable({}, { __mode = "k" })

local PROXY_SCHEMES = { http = true, https = true, socks5 = true, socks5h = true }

--- Checks the `proxy` option: nil or false (no proxy, whatever the environment says), "env"
-- (the standard variables: http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY) or a URL
-- scheme://[user:password@]host[:port] with scheme http, https, socks5 or socks5h.
-- Messages never quote the value: it may hold a password.
local function proxy_option(v)
  if v == nil or v == false then return nil end
  if type(v) ~= "string" then
    return nil, errors.config("proxy", "type", 'must be "env" or a proxy URL string')
  end
  if v == "env" then return v end
  local scheme, rest = v:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme or not PROXY_SCHEMES[scheme:lower()] then
    return nil, errors.config("proxy", "url",
      'must be "env" or an http://, https://, socks5:// or socks5h:// URL')
  end
  if v:find("[%s%c]") then
    return nil, errors.config("proxy", "url", "must not contain spaces or control characters")
  end
  local authority = rest:match("^([^/?#]*)/?$")
  if not authority then return nil, errors.config("proxy", "url", "must have no path, query or fragment") end
  local hostport = authority:match("@([^@]*)$") or authority
  local host, port = hostport:match("^(%[[%x:.]+%]):?(%d*)$")
  if not host then host, port = hostport:match("^([%w%.%-]+):?(%d*)$") end
  if not host or (port ~= "" and not (tonumber(port) >= 1 and tonumber(port) <= 65535)) then
    return nil, errors.config("proxy", "url", "has an invalid host or port")
  end
  return v
end

--- Checks the options every client has; returns the normalised common settings.
function pipeline.common_config(config, extra_allowed)
  if type(config) ~= "table" then
    return nil, errors.config("config", "type", "must be a table of options")
  end
  for k in pairs(config) do
    if not COMMON_OPTIONS[k] and not extra_allowed[k] then
      return nil, errors.config(validate.key_label(k), "unknown_option", "is not a known option")
    end
  end
  local ep, err = parse_endpoint(config.endpoint)
  if not ep then return nil, err end
  local c = { endpoint = ep, timeout = 30, connect_timeout = 10, max_body = DEFAULT_MAX_BODY }
  for _, name in ipairs { "timeout", "connect_timeout" } do
    if config[name] ~= nil then
      local v, e = validate.seconds(config[name], name)
      if not v then e.kind = "config"; return nil, e end
      c[name] = v
    end
  end
  if config.max_body ~= nil then
    -- The C core takes at most 2^31-1 bytes.
    local v, e = validate.count(config.max_body, "max_body", 2 ^ 31 - 1)
    if not v then e.kind = "config"; return nil, e end
    c.max_body = v
  end
  if config.ca_file ~= nil then
    local v, e = validate.file_path(config.ca_file, "ca_file")
    if not v then e.kind = "config"; return nil, e end
  end
  c.ca_file = config.ca_file
  if config.insecure ~= nil and type(config.insecure) ~= "boolean" then
    return nil, errors.config("insecure", "type", "must be a boolean")
  end
  c.insecure = config.insecure == true
  local proxy
  proxy, err = proxy_option(config.proxy)
  if err then return nil, err end
  if config.no_proxy ~= nil and (type(config.no_proxy) ~= "string" or config.no_proxy:find("[%s%c]")) then
    return nil, errors.config("no_proxy", "type",
      'must be a string of comma-separated host names or domains without spaces, or "*"')
  end
  c.no_proxy = config.no_proxy
  if config.clock ~= nil and type(config.clock) ~= "function" then
    return nil, errors.config("clock", "type", "must be a function returning Unix seconds")
  end
  c.clock = config.clock or os.time
  for _, name in ipairs { "logger", "sleep", "token_provider" } do
    if config[name] ~= nil and type(config[name]) ~= "function" then
      return nil, errors.config(name, "type", "must be a function")
    end
    c[name] = config[name]
  end
  c.retries, err = retry.policy(config.retries)
  if c.retries == nil then return nil, err end
  local t = config.transport
  if t ~= nil and (type(t) ~= "table" or type(t.send) ~= "function") then
    return nil, errors.config("transport", "type", "must be an object with a send(request) method")
  end
  if t == nil then
    c.transport = require("koodrive.transport").auto()
    c.owns_transport = true
  else
    c.transport = t
  end
  -- A transport that says it cannot go through a proxy (the ngx one) refuses one now.
  if proxy and t and t.proxy == false and (proxy ~= "env" or pipeline.env_proxy()) then
    return nil, errors.config("proxy", "unsupported", "this transport (" .. tostring(t) ..
      ") cannot send through a proxy; use the libcurl transport")
  end
  proxies[c] = proxy
  return c
end

--- Whether the standard proxy variables name a proxy (what proxy = "env" follows).
---@return boolean
function pipeline.env_proxy()
  -- As libcurl reads them: lowercase http_proxy only (HTTP_PROXY can come from a CGI request).
  for _, name in ipairs { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" } do
    local v = os.getenv(name)
    if v and v ~= "" then return true end
  end
  return false
end

--- A string option that goes into a header: present, no CR/LF.
function pipeline.header_option(config, name, required)
  local v = config[name]
  if v == nil then
    if required then return nil, errors.config(name, "required", "is required") end
    return nil
  end
  local ok, err = validate.header_value(v, name)
  if not ok then err.kind = "config"; return nil, err end
  if v == "" then return nil, errors.config(name, "length", "must not be empty") end
  return v
end

--------------------------------------------------------------------------------------------
-- Per-call options
--------------------------------------------------------------------------------------------

local CALL_OPTIONS = { trace_id = true, language = true, timeout = true, connect_timeout = true,
  retry = true }

-- Options of a call given none; never written to.
local NO_OPTIONS = setmetatable({}, { __newindex = function() error("NO_OPTIONS is read-only", 2) end })

local function check_call_options(opts)
  if opts == nil then return NO_OPTIONS end
  if type(opts) ~= "table" then
    return nil, errors.validation("options", "type", "must be a table of per-call options")
  end
  local ok, err = validate.known_keys(opts, "options", CALL_OPTIONS)
  if not ok then return nil, err end
  if opts.trace_id ~= nil then
    ok, err = validate.trace_id(opts.trace_id, "trace_id")
    if not ok then return nil, err end
  end
  if opts.language ~= nil then
    ok, err = validate.language(opts.language, "language")
    if not ok then return nil, err end
  end
  for _, name in ipairs { "timeout", "connect_timeout" } do
    if opts[name] ~= nil then
      ok, err = validate.seconds(opts[name], name)
      if not ok then return nil, err end
    end
  end
  if opts.retry ~= nil and type(opts.retry) ~= "boolean" then
    return nil, errors.validation("retry", "type", "must be a boolean")
  end
  return opts
end

--- A fresh 58-character trace id (lowercase hex). The bytes come from the operating system on
-- every call (core.random_hex), so separate processes, forked children included, never send the
-- same sequence (math.random repeats it on Lua 5.1-5.3 and LuaJIT, and across a fork).
function pipeline.new_trace_id()
  return core.random_hex(29)
end

--------------------------------------------------------------------------------------------
-- Build and sign
--------------------------------------------------------------------------------------------

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

--- Builds the signed request: { method, url, headers, body }.
-- `spec` = { method, path (raw, relative to the endpoint's base), query = pairs, body = string }.
local refresh_token -- defined with the attempt logic below

local function build(client, spec, opts)
  local profile = client._profile
  -- A token mode client with only a token_provider gets its first token now.
  if client._config.token_provider and not secrets[client].token then
    local ok, why = refresh_token(client)
    if not ok then
      return nil, errors.new { kind = "config", field = "token_provider", rule = "token",
        message = "token_provider: " .. pipeline.redact(client, tostring(why)) }
    end
  end
  local ep = client._config.endpoint
  local headers = { Host = ep.host_header, ["User-Agent"] = pipeline.USER_AGENT,
    Accept = "application/json" }
  if spec.body ~= nil then headers["Content-Type"] = "application/json" end
  local trace_id = opts.trace_id
  profile.headers(client, headers, opts)
  if headers["X-Traceid"] then trace_id = headers["X-Traceid"] end
  local request = {
    method = spec.method,
    path = ep.base .. spec.path,
    query = spec.query,
    headers = headers,
    body = spec.body,
  }
  local now = client._config.clock()
  if type(now) ~= "number" or now ~= now then
    return nil, errors.config("clock", "type", "must return a number of Unix seconds")
  end
  if not (now >= 0 and now < 253402300800) then
    return nil, errors.config("clock", "range", "must return Unix seconds between 1970 and 9999")
  end
  -- The offset learned from a clock refusal (see execute) keeps signing at the server's time.
  now = math.floor(now) + client._clock_offset
  local path, query = pipeline.encode_or_sign(request, profile.authorize(client, secrets[client]), now)
  if not path then return nil, query end
  local url = ep.origin .. path
  if query ~= "" then url = url .. "?" .. query end
  -- What is sent: { method, url, headers, body }.
  request.url, request.path, request.query = url, nil, nil
  return request, trace_id, now
end
pipeline.build = build

-- Date stamps change once a second; calls within that second share one.
local utc_stamp, stamp_second, stamp_text = core.utc_stamp, nil, nil

--- core.utc_stamp(seconds), "YYYYMMDDTHHMMSSZ", remembered for the last second asked.
function pipeline.utc_stamp(seconds)
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
function pipeline.encode_or_sign(request, auth, now)
  local headers = request.headers
  if auth.date_header then headers[auth.date_header] = pipeline.utc_stamp(now) end
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

--------------------------------------------------------------------------------------------
-- Send and decode
--------------------------------------------------------------------------------------------

--- Replaces any of the client's secrets inside `s` (e.g. a body echoed in an error), in
-- every form a server may echo them, and those of `request` (its credential headers).
local function redact(client, s, request)
  if type(s) ~= "string" then return s end
  return vault.redact(s, vault.values(client, request))
end
pipeline.redact = redact

local SNIPPET = 200

-- The first SNIPPET bytes of a body for a message. Redacted before it is cut, so a secret
-- across the cut is found whole; a window past the cut is enough for any escaped secret.
local function snippet(body, client, ctx)
  local values = vault.values(client, ctx and ctx.request)
  local longest = 0
  for _, v in ipairs(values) do longest = math.max(longest, #v) end
  local s = vault.redact(body:sub(1, SNIPPET + 6 * longest + 16), values):sub(1, SNIPPET)
  -- A cut mark: what is left of it says nothing.
  local cut = s:match("<[a-z]*$")
  if cut and vault.MARK:sub(1, #cut) == cut then s = s:sub(1, -#cut - 1) .. vault.MARK end
  s = s:gsub("[%c]+", " ")
  if #body > SNIPPET then s = s .. "..." end
  return s
end

-- Server text for an error: secrets out, control characters shown as escapes. Codes and
-- messages of the service (`code`, `msg`) keep their type; strings among them are redacted.
local function server_text(client, ctx, v)
  if type(v) == "string" then return redact(client, v, ctx.request) end
  if type(v) == "table" then return vault.redact_value(v, vault.values(client, ctx.request)) end
  return v
end

-- The error for a response that arrived but is not a success; returns nil, error, response.
local function response_failure(client, ctx, res, kind, message, code, msg)
  local headers = res.headers or {}
  local request_id = headers["x-request-id"]
  if request_id ~= nil then request_id = errors.printable(server_text(client, ctx, request_id)) end
  return nil, errors.new { kind = kind, message = errors.printable(server_text(client, ctx, message)),
    operation = ctx.operation, status = res.status, request_id = request_id, trace_id = ctx.trace_id,
    code = server_text(client, ctx, code), msg = server_text(client, ctx, msg) }, res
end

-- A transport's error: every string in it may quote the request (its URL, its headers).
local function transport_failure(client, ctx, terr)
  local e = terr
  if not errors.is(e) then
    e = errors.new { kind = "transport", message = tostring(terr) }
  end
  for k, v in pairs(e) do
    if type(v) == "string" and k ~= "kind" then
      e[k] = errors.printable(server_text(client, ctx, v))
    end
  end
  e.operation, e.trace_id = ctx.operation, ctx.trace_id
  return nil, e
end

-- A transport's message with the proxy URL's user:password (and each part) taken out.
local function hide_proxy_secret(cfg, s)
  local userinfo = type(proxies[cfg]) == "string" and proxies[cfg]:match("://([^/]*)@")
  if not userinfo or type(s) ~= "string" then return s end
  local parts = { userinfo, userinfo:match("^([^:]*)"), userinfo:match(":(.*)$") }
  for _, part in ipairs(parts) do
    if #part >= 3 then
      local from = 1
      while true do
        local i, j = s:find(part, from, true)
        if not i then break end
        s = s:sub(1, i - 1) .. "<redacted>" .. s:sub(j + 1)
        from = i + #"<redacted>"
      end
    end
  end
  return s
end

--- Sends a built request once; returns the decoded body table and the response, or nil, an
-- error and the response (when one arrived).
local function send(client, request, opts, ctx)
  local cfg = client._config
  request.timeout = opts.timeout or cfg.timeout
  request.connect_timeout = opts.connect_timeout or cfg.connect_timeout
  request.ca_file, request.insecure, request.max_body = cfg.ca_file, cfg.insecure, cfg.max_body
  request.proxy, request.no_proxy = proxies[cfg], cfg.no_proxy
  request.operation = ctx.operation
  ctx.request = request
  vault.bind(request, client)
  -- libcurl (like the ngx transport) sends a request again by itself when a reused keep-alive
  -- connection dies before any answer; a request that may not be repeated gets a new one.
  request.fresh_connect = not ctx.repeatable or nil
  -- Inside a koodrive.loop task the loop's multi handle carries the request, so the task
  -- waits without blocking the host.
  local loop = current_loop()
  local res, terr
  if client._closed then
    -- A closed client sends nothing, in a loop or not (its transport may be freed).
    terr = errors.config("client", "closed", "is closed: calls after client:close() are refused")
  elseif loop and cfg.transport.multi then
    res, terr = loop:send(request, client) -- checked again when the request goes out
  else
    res, terr = cfg.transport:send(request)
  end
  if not res then
    local _, e = transport_failure(client, ctx, terr)
    for k, v in pairs(e) do
      if type(v) == "string" and k ~= "kind" then e[k] = hide_proxy_secret(cfg, v) end
    end
    return nil, e
  end
  local status, body = res.status, res.body
  if type(status) ~= "number" or type(body) ~= "string" then
    return response_failure(client, ctx, res, "transport",
      "transport returned a response without a numeric status and a string body")
  end
  local decoded, derr
  if body ~= "" then decoded, derr = json.decode(body) end
  -- Both services answer with a JSON object (koodrive-api.md: "Every KooDrive response body is
  -- {"code": <int>, ...}"; iotda-api.md: "Response 200: policy_id, ..."): an array is no answer.
  if json.is_array(decoded) then decoded, derr = nil, "a JSON array where an object is documented" end
  if type(decoded) ~= "table" then
    local what = body == "" and "an empty body"
      or ("a non-JSON body (" .. ((res.headers or {})["content-type"] or "no content type") .. "): " ..
        snippet(body, client, ctx))
    if status >= 300 or status < 200 then
      return response_failure(client, ctx, res, "http", "HTTP " .. status .. " with " .. what)
    end
    return response_failure(client, ctx, res, "decode", "HTTP " .. status .. " with " .. what ..
      (derr and (" [" .. tostring(derr) .. "]") or ""))
  end
  local code, msg, envelope_err = client._profile.envelope(decoded, status)
  if envelope_err then return response_failure(client, ctx, res, "decode", envelope_err) end
  if code ~= nil then
    local text = msg ~= nil and tostring(msg) or "no message"
    return response_failure(client, ctx, res, "api", "service error " .. tostring(code) .. ": " .. text,
      code, msg)
  end
  if status < 200 or status >= 300 then
    return response_failure(client, ctx, res, "http", "HTTP " .. status .. ": " .. snippet(body, client, ctx))
  end
  return decoded, nil, res
end

--------------------------------------------------------------------------------------------
-- Attempts: retries, clock skew, token refresh, logging
--------------------------------------------------------------------------------------------

local SECRET_HEADERS = vault.HEADERS

-- Query parameters whose values are credentials.
local secret_param = vault.name

-- Text for a log record: secrets out (the client's and the request's), one printable line.
local function log_text(v, values)
  if type(v) ~= "string" then return v end
  return errors.printable(vault.redact(v, values))
end

--- A log record with every secret redacted before the hook sees it, and every text from
-- the server (the request id, the error message) made printable: no forged log lines.
local function log_record(client, request, ctx, attempt, started, res, err)
  local values = vault.values(client, request)
  local headers = {}
  for k, v in pairs(request.headers) do
    headers[k] = SECRET_HEADERS[k:lower()] and vault.MARK or log_text(v, values)
  end
  local url = request.url:gsub("([?&])([^=&]+)=([^&]*)", function(sep, name, value)
    return sep .. name .. "=" .. (secret_param(name) and vault.MARK or value)
  end)
  local response_headers = res and res.headers or {}
  return {
    level = err and "warn" or "info", event = "attempt",
    operation = ctx.operation, method = request.method, url = log_text(url, values),
    request_headers = headers, attempt = attempt, duration = retry.now() - started,
    status = (err and err.status) or (res and res.status) or nil,
    request_id = log_text(response_headers["x-request-id"], values), trace_id = ctx.trace_id,
    error_kind = err and err.kind or nil, error_message = err and log_text(err.message, values) or nil,
  }
end

--- Hands a record to the client's logger; a failing logger never breaks the call.
local function emit(client, record)
  local logger = client._config.logger
  if logger then pcall(logger, record) end
end
pipeline.emit = emit

--- Waits between attempts without blocking where the host cannot block: in a loop task the
-- loop's timer, in an OpenResty handler ngx.sleep, else the thread sleeps (koodrive.scheduler).
local function pause(client, seconds)
  if seconds <= 0 then return end
  local custom = client._config.sleep
  if custom then return custom(seconds) end
  scheduler.sleep(seconds)
end

--- Asks the token_provider for a fresh token and stores it; true, or nil and why not.
function refresh_token(client)
  local ok, token = pcall(client._config.token_provider)
  if not ok then
    local shown, text = pcall(tostring, token)
    -- Redacted before it is cut and escaped: a provider's error may quote what it fetched.
    return nil, "failed: " .. validate.safe_text(redact(client, shown and text or "an error value"), 200)
  end
  if type(token) ~= "string" or token == "" then return nil, "returned no token" end
  local valid, verr = validate.header_value(token, "token")
  if not valid then return nil, "returned a token that " .. verr.message:gsub("^token: ", "") end
  client._profile.set_token(secrets[client], token)
  return true
end

--- Tells, once per client, that TLS verification is off: through the logger when there is
-- one, else nginx's error log inside OpenResty, else standard error.
function pipeline.warn_insecure(client)
  local message = "TLS certificate verification is off (insecure = true) for " ..
    client._config.endpoint.origin
  if client._config.logger then
    emit(client, { level = "warn", event = "insecure", message = message })
  elseif type(ngx) == "table" and type(ngx.log) == "function" then
    ngx.log(ngx.WARN, "koodrive: ", message)
  else
    io.stderr:write("koodrive: warning: ", message, "\n")
  end
end

-- Whether a failed attempt may nevertheless have been carried out: the request may have
-- reached the service (a reset, a timeout, an answer too large or unreadable, a gateway's
-- 502/503/504, the service's own "inner server invoke failure", a fork mid-transfer). A refused
-- connection, a failed TLS handshake, no file descriptor left, a call that could not wait, or a
-- request that was never built was not sent.
local NOT_SENT = { connect = true, tls = true, request = true, descriptors = true, not_yieldable = true }
local AMBIGUOUS_STATUS = { [502] = true, [503] = true, [504] = true }
local function ambiguous(err)
  local kind = err.kind
  if kind == "transport" or kind == "timeout" then return not NOT_SENT[err.reason] end
  if kind == "decode" then return true end
  if kind == "http" or kind == "api" then
    return AMBIGUOUS_STATUS[err.status] == true or err.code == 13000201
  end
  return false
end
pipeline.ambiguous = ambiguous

--- Sends a request, attempt after attempt, until it succeeds or may not be tried again.
-- Every attempt is built and signed afresh (a new date). Besides the retry policy:
--  * a refusal of the request's date teaches the clock offset and is tried once more;
--  * a 401 in token mode asks the token_provider for a fresh token and is tried once more.
-- ctx = { operation, idempotent }. Returns the decoded body, nil, the response and the history
-- of failed attempts (nil when the first succeeded), or nil and the final error with
-- `attempts`, `history` (entries marked `ambiguous` when that attempt may have been carried
-- out), `ambiguous` (an earlier attempt may have been carried out) and `uncertain` (the call
-- may have been carried out: its final attempt is ambiguous).
local function execute(client, spec, opts, ctx)
  local cfg = client._config
  local policy = cfg.retries
  local allowed = opts.retry
  if allowed == nil then allowed = ctx.idempotent end
  local max_attempts = (policy and allowed) and policy.max_attempts or 1
  ctx.repeatable = allowed
  local started = retry.now()
  local history, attempt, extra = nil, 0, 0
  local skew_learned, token_refreshed = false, false
  while true do
    attempt = attempt + 1
    local request, trace_id, signed_at = build(client, spec, opts)
    if not request then
      trace_id.operation = ctx.operation
      return nil, trace_id
    end
    ctx.trace_id = trace_id
    local t0 = retry.now()
    local decoded, err, res = send(client, request, opts, ctx)
    if cfg.logger then emit(client, log_record(client, request, ctx, attempt, t0, res, err)) end
    if decoded then return decoded, nil, res, history end
    local entry = { attempt = attempt, kind = err.kind, status = err.status, code = err.code,
      reason = err.reason, message = err.message, ambiguous = ambiguous(err) }
    history = history or {}
    history[#history + 1] = entry
    local again = false
    local server_time = not skew_learned and retry.clock_refusal(err, res, signed_at)
    if server_time then
      -- One second behind what the server's Date said: never sign ahead of its clock.
      client._clock_offset = client._clock_offset + (server_time - 1 - signed_at)
      skew_learned, again, extra = true, true, extra + 1
      entry.retry = "clock"
    elseif err.status == 401 and not token_refreshed and cfg.token_provider then
      token_refreshed = true
      local ok, why = refresh_token(client)
      if ok then
        again, extra = true, extra + 1
        entry.retry = "token"
      else
        err.message = err.message .. " (token_provider: " .. redact(client, tostring(why)) .. ")"
      end
    elseif err.retryable and attempt - extra < max_attempts then
      local res_headers = res and res.headers or {}
      local delay = retry.delay(policy, attempt - extra, retry.after(res_headers["retry-after"], os.time()))
      if retry.now() - started + delay <= policy.max_elapsed then
        entry.delay, entry.retry = delay, "backoff"
        pause(client, delay)
        again = true
      end
    end
    if not again then
      err.attempts, err.history = attempt, history
      for i = 1, #history - 1 do
        if history[i].ambiguous then err.ambiguous = true end
      end
      err.uncertain = entry.ambiguous
      return nil, err
    end
  end
end

--------------------------------------------------------------------------------------------
-- Operations, call and prepare
--------------------------------------------------------------------------------------------

-- Fills {name} from the call's arguments, else from the client's path values (project_id).
local function fill_template(template, args, client_values)
  if not template:find("{", 1, true) then return template end
  return (template:gsub("{([%w_]+)}", function(name)
    local v = args[name]
    if v == nil then v = client_values[name] end
    return v
  end))
end

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
  local opts, oerr = check_call_options((select(nargs + 1, ...)))
  if not opts then oerr.operation = op.name; return nil, oerr end
  if select("#", ...) > nargs + 1 then
    return nil, errors.new { kind = "validation", operation = op.name, rule = "arity",
      field = "arguments", message = "arguments: takes at most " .. (nargs + 1) .. " arguments" }
  end
  return args, opts
end
pipeline.check_args = check_args

local NO_QUERY = {}

--- Runs a declared operation with the caller's positional arguments.
local function run(client, op, ...)
  local args, opts = check_args(op, ...)
  if not args then return nil, opts end
  local body
  if op.body then
    local berr
    body, berr = op.body(args)
    if not body then
      return nil, errors.new { kind = "validation", operation = op.name, message = berr }
    end
  end
  local ctx = { operation = op.name, idempotent = op.idempotent ~= false }
  local decoded, err, res, history = execute(client, {
    method = op.method, path = fill_template(op.path, args, client._path_values), query = NO_QUERY, body = body,
  }, opts, ctx)
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
    result, serr = op.result(decoded, args, call)
  end
  if result == nil then
    -- An answer that contradicts the request: the service did answer, so the call may have
    -- been carried out (uncertain); the error carries the response (status, snippet, history).
    history = history or {}
    history[#history + 1] = { attempt = #history + 1, kind = "decode", status = res.status,
      message = serr, ambiguous = true }
    local _, e = response_failure(client, ctx, res, "decode", serr)
    e.body = errors.printable(snippet(res.body, client, ctx))
    e.attempts, e.history, e.ambiguous, e.uncertain = #history, history, call.ambiguous, true
    return nil, e
  end
  return result
end

local METHODS = { GET = true, POST = true, PUT = true, DELETE = true, PATCH = true, HEAD = true }
local IDEMPOTENT = { GET = true, PUT = true, DELETE = true, HEAD = true }

--- Checks a generic request spec of call/prepare; returns the pipeline spec and options.
local function generic_spec(spec)
  if type(spec) ~= "table" then
    return nil, errors.validation("request", "type", "must be a table { method, path, query, body }")
  end
  local ok, err = validate.known_keys(spec, "request", {
    method = true, path = true, query = true, body = true,
    trace_id = true, language = true, timeout = true, connect_timeout = true, retry = true })
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
  local opts, oerr = check_call_options {
    trace_id = spec.trace_id, language = spec.language,
    timeout = spec.timeout, connect_timeout = spec.connect_timeout, retry = spec.retry }
  if not opts then return nil, oerr end
  return { method = method:upper(), path = path, query = query, body = body }, opts
end

--------------------------------------------------------------------------------------------
-- Client classes
--------------------------------------------------------------------------------------------

--- Makes the client class of a service profile.
-- profile = { name, operations, bulk = { service = { method = fn(service, ...) } },
--             set_token(secret, token) (token modes with a token_provider),
--             headers(client, headers, opts),
--             authorize(client, secrets) -> auth data for pipeline.encode_or_sign,
--             envelope(decoded, status) -> code, msg, decode_error,
--             describe(client) -> text for tostring }
function pipeline.class(profile)
  local Client = {}
  Client.__index = Client
  local label = profile.name == "koodrive" and "koodrive" or ("koodrive." .. profile.name)
  Client.__name = label .. ".client"

  -- Service objects: client.devices:list() runs operation "devices.list".
  local services = {}
  for _, op in ipairs(profile.operations) do
    local service, method = op.name:match("^([%w_]+)%.([%w_]+)$")
    services[service] = services[service] or {}
    services[service][method] = op
  end

  -- Each service object has the declared operations, the bulk helpers of the profile
  -- (which call those operations), and `_ops` for checking arguments without sending.
  local function bind_services(client)
    for service, ops in pairs(services) do
      local obj = { _ops = ops }
      for method, op in pairs(ops) do
        obj[method] = function(_, ...) return run(client, op, ...) end
      end
      for method, fn in pairs(profile.bulk and profile.bulk[service] or {}) do
        obj[method] = fn
      end
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
    local request, err = build(self, s, opts)
    if not request then err.operation = "prepare"; return nil, err end
    request.body = request.body or ""
    return request
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

  Client.operations = services
  return Client
end

return pipeline
