--- Pipeline step 1, configuration: the options every client has (endpoint parsing, proxy,
-- timeouts, transport), string options that become headers, and the per-call options.
-- Every rule here produces a config error for client options and a validation error for
-- per-call options; no caller patches the kind afterwards.
local errors = require "koodrive.errors"
local limits = require "koodrive.limits"
local schema = require "koodrive.options"
local retry = require "koodrive.retry"
local validate = require "koodrive.validate"

local config = {}

--- Splits an http(s) base URL into scheme, host (for the Host header), base path. The text
-- rules (length, bytes, base path) are validate.endpoint's; the URL's parts are read here.
local function parse_endpoint(endpoint)
  if type(endpoint) ~= "string" then
    return nil, errors.config("endpoint", "required", "must be an http(s) URL string")
  end
  local ok, verr = validate.endpoint(endpoint, "endpoint", "config")
  if not ok then return nil, verr end
  local scheme, authority, base = endpoint:match("^(https?)://([^/?#]+)(/?[^?#]*)$")
  if not scheme or authority:find("@", 1, true) then
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
config.parse_endpoint = parse_endpoint

-- The names come from the one schema of options (koodrive.options).
local COMMON_OPTIONS = schema.names("common")

--- A client's proxy URL, keyed by its config table: it may carry credentials, so it is not a
-- field a dump of the client (or of its config) would show.
config.proxies = setmetatable({}, { __mode = "k" })
local proxies = config.proxies

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

--- Whether the standard proxy variables name a proxy (what proxy = "env" follows).
function config.env_proxy()
  -- As libcurl reads them: lowercase http_proxy only (HTTP_PROXY can come from a CGI request).
  for _, name in ipairs { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" } do
    local v = os.getenv(name)
    if v and v ~= "" then return true end
  end
  return false
end

--- Checks the options every client has; returns the normalised common settings.
function config.common(options, extra_allowed)
  if type(options) ~= "table" then
    return nil, errors.config("config", "type", "must be a table of options")
  end
  for k in pairs(options) do
    if not COMMON_OPTIONS[k] and not extra_allowed[k] then
      return nil, errors.config(validate.key_label(k), "unknown_option", "is not a known option")
    end
  end
  local ep, err = parse_endpoint(options.endpoint)
  if not ep then return nil, err end
  local c = { endpoint = ep, timeout = limits.TIMEOUT, connect_timeout = limits.CONNECT_TIMEOUT,
    max_body = limits.MAX_BODY }
  for _, name in ipairs { "timeout", "connect_timeout" } do
    if options[name] ~= nil then
      local v, e = validate.seconds(options[name], name, "config")
      if not v then return nil, e end
      c[name] = v
    end
  end
  if options.max_body ~= nil then
    local v, e = validate.count(options.max_body, "max_body", limits.MAX_BODY_LIMIT, "config")
    if not v then return nil, e end
    c.max_body = v
  end
  if options.ca_file ~= nil then
    local v, e = validate.file_path(options.ca_file, "ca_file", "config")
    if not v then return nil, e end
  end
  c.ca_file = options.ca_file
  if options.insecure ~= nil and type(options.insecure) ~= "boolean" then
    return nil, errors.config("insecure", "type", "must be a boolean")
  end
  c.insecure = options.insecure == true
  local proxy
  proxy, err = proxy_option(options.proxy)
  if err then return nil, err end
  local no_proxy = options.no_proxy
  if no_proxy ~= nil and (type(no_proxy) ~= "string" or no_proxy:find("[%s%c]")) then
    return nil, errors.config("no_proxy", "type",
      'must be a string of comma-separated host names or domains without spaces, or "*"')
  end
  c.no_proxy = no_proxy
  if options.clock ~= nil and type(options.clock) ~= "function" then
    return nil, errors.config("clock", "type", "must be a function returning Unix seconds")
  end
  c.clock = options.clock or os.time
  for _, name in ipairs { "logger", "sleep", "token_provider" } do
    if options[name] ~= nil and type(options[name]) ~= "function" then
      return nil, errors.config(name, "type", "must be a function")
    end
    c[name] = options[name]
  end
  c.retries, err = retry.policy(options.retries)
  if c.retries == nil then return nil, err end
  local t = options.transport
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
  if proxy and t and t.proxy == false and (proxy ~= "env" or config.env_proxy()) then
    return nil, errors.config("proxy", "unsupported", "this transport (" .. tostring(t) ..
      ") cannot send through a proxy; use the libcurl transport")
  end
  proxies[c] = proxy
  return c
end

--- A string option that goes into a header: present, no CR/LF.
function config.header_option(options, name, required)
  local v = options[name]
  if v == nil then
    if required then return nil, errors.config(name, "required", "is required") end
    return nil
  end
  local ok, err = validate.header_value(v, name, nil, "config")
  if not ok then return nil, err end
  if v == "" then return nil, errors.config(name, "length", "must not be empty") end
  return v
end

--------------------------------------------------------------------------------------------
-- Per-call options
--------------------------------------------------------------------------------------------

local CALL_OPTIONS = schema.names("call")

-- Options of a call given none; never written to.
local NO_OPTIONS = setmetatable({}, { __newindex = function() error("NO_OPTIONS is read-only", 2) end })

-- Per-call options of a listing operation (paging = "cursor" | "offset" | "marker").
local PAGE_OPTIONS = schema.names("page")

-- The option names an operation accepts: the call options, the page options of a listing and
-- the operation's own `options` keys; computed once per operation.
local accepted = setmetatable({}, { __mode = "k" })

local function accepted_names(op)
  local set = accepted[op]
  if set then return set end
  set = {}
  for k in pairs(CALL_OPTIONS) do set[k] = true end
  if op.paging then
    for k in pairs(PAGE_OPTIONS) do set[k] = true end
  end
  for k in pairs(op.options or {}) do set[k] = true end
  accepted[op] = set
  return set
end

-- page_size: 1..op.page_max (default limits.PAGE_MAX); cursor: what a page's `next` was - a
-- non-negative integer for offset listings, a string for cursor and marker listings.
local function check_page(opts, op)
  local size = opts.page_size
  if size ~= nil then
    local ok, err = validate.count(size, "page_size", op.page_max or limits.PAGE_MAX)
    if not ok then return nil, err end
    if size < 1 then return nil, errors.validation("page_size", "range", "must be at least 1") end
  end
  local cursor = opts.cursor
  if cursor ~= nil then
    if op.paging == "offset" then
      local ok, err = validate.count(cursor, "cursor", limits.OFFSET_MAX)
      if not ok then return nil, err end
    else
      local ok, err = validate.text(cursor, "cursor", limits.CURSOR_MAX)
      if not ok then return nil, err end
      if cursor == "" then return nil, errors.validation("cursor", "length", "must not be empty") end
    end
  end
  if opts.max_items ~= nil then
    local ok, err = validate.count(opts.max_items, "max_items", limits.MAX_ITEMS_MAX)
    if not ok then return nil, err end
  end
  return true
end

--- Checks a call's options table (nil for none); returns it, or nil and a validation error.
-- With `op` (a declared operation) the table may also hold the page options of a listing and
-- the operation's own `options`, each checked by its rule.
function config.call_options(opts, op)
  if opts == nil then return NO_OPTIONS end
  if type(opts) ~= "table" then
    return nil, errors.validation("options", "type", "must be a table of per-call options")
  end
  local ok, err = validate.known_keys(opts, "options", op and accepted_names(op) or CALL_OPTIONS)
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
  if not op or (not op.paging and not op.options) then return opts end
  if op.paging then
    ok, err = check_page(opts, op)
    if not ok then return nil, err end
  end
  if not op.options then return opts end
  -- The operation's own options: checked values in a copy (the caller's table stays as given).
  local out = {}
  for k, v in pairs(opts) do out[k] = v end
  for name, check in pairs(op.options) do
    local v = rawget(opts, name)
    local value, cerr = check(v, name)
    if value == nil and cerr then return nil, cerr end
    out[name] = value
  end
  return out
end

return config
