--- Every option of the public API, written once: name, LuaLS type, default, doc. The checks
-- read the option names (and defaults) from here; `make gen` (tools/gen_docs.lua) writes from
-- it the option classes of lua/koodrive/meta.lua, the LDoc option tables of
-- lua/koodrive/init.lua and OPTIONS.md, and spec/docs_spec.lua checks those are current.
-- Pure data: loading it loads no library.
local limits = require "koodrive.limits"

local options = {}

-- Each option: { name, type, doc, default = value, default_text = text, required = bool,
-- more = further sentences for the reference (not the one-line LuaLS stub) }.
options.groups = {
  {
    id = "common", class = "koodrive.CommonOptions", ldoc = "CommonOptions",
    doc = "Options every client takes (koodrive.new and koodrive.iotda.new).",
    { "endpoint", "string", 'Base URL, e.g. "https://cn.myhuaweicloud-koodrive.com".', required = true },
    { "timeout", "number", "Whole-request timeout in seconds.", default = limits.TIMEOUT },
    { "connect_timeout", "number", "Connection timeout in seconds.", default = limits.CONNECT_TIMEOUT },
    { "ca_file", "string", "PEM bundle to verify the server with." },
    { "insecure", "boolean", "Skip TLS verification (logged as a warning).", default = false },
    { "clock", "fun(): number", "Seconds since the epoch to sign with.", default_text = "os.time" },
    { "transport", "koodrive.Transport", "A transport from koodrive.transport.",
      default_text = "koodrive.transport.auto()" },
    { "max_body", "integer", "Largest response body accepted, in bytes.", default = limits.MAX_BODY },
    { "retries", "koodrive.RetryOptions|false", "Retry policy (RetryOptions), or false for none.",
      default_text = "the RetryOptions defaults" },
    { "logger", "koodrive.Logger", "Receives one redacted LogRecord per attempt." },
    { "sleep", "fun(seconds: number)", "Waits between retries outside a loop." },
    { "token_provider", "koodrive.TokenProvider", "Returns a fresh token when needed (token mode)." },
    { "proxy", "string|false", 'Proxy URL (http, https, socks5, socks5h), or "env" for http_proxy & co.',
      more = "Credentials in the URL are allowed and never shown. nil/false: no proxy, whatever " ..
        "the environment says (the default). The ngx transport refuses a proxy." },
    { "no_proxy", "string", 'Comma-separated hosts or domains reached direct, or "*".' },
  },
  {
    id = "koodrive", class = "koodrive.Options", parent = "koodrive.CommonOptions", ldoc = "Options",
    doc = "koodrive.new options.",
    ldoc_doc = "Options of `koodrive.new` (besides `CommonOptions`).\n" ..
      "Give `token` (or `token_provider`), or `app_id` and `app_secret`.",
    { "user_id", "string|integer", "The KooDrive user id, sent as X-User-Id.", required = true },
    { "token", "string", "Bearer token (token mode)." },
    { "app_id", "string", "App id (app-signature mode, with app_secret)." },
    { "app_secret", "string", "App secret (app-signature mode, with app_id)." },
    { "language", "string", "Value of the `language` header." },
    { "trace_ids", "boolean", "Send a fresh X-Traceid with every call.", default = false },
  },
  {
    id = "iotda", class = "koodrive.IotdaOptions", parent = "koodrive.CommonOptions", ldoc = "IotdaOptions",
    doc = "koodrive.iotda.new options.",
    ldoc_doc = "Options of `koodrive.iotda.new` (besides `CommonOptions`).\n" ..
      "Give `ak` and `sk` (optionally `security_token`), or `token` (or `token_provider`).",
    { "project_id", "string", "The IAM project id.", required = true },
    { "ak", "string", "Access key (AK/SK mode, with sk)." },
    { "sk", "string", "Secret key (AK/SK mode, with ak)." },
    { "security_token", "string", "Temporary security token for AK/SK." },
    { "token", "string", "IAM token (X-Auth-Token mode)." },
    { "region", "string", 'Region, e.g. "cn-north-4"; required for derived signing.' },
    { "derived", "boolean", "Use V11-HMAC-SHA256 derived signing.",
      default_text = "every host except <service>.<region>.myhuaweicloud.com" },
    { "instance_id", "string", "Instance-Id header." },
  },
  {
    id = "call", class = "koodrive.CallOptions", ldoc = "CallOptions",
    doc = "Per-call options (last argument of every operation, and of call/prepare specs).",
    ldoc_doc = "Per-call options: the last argument of every operation; also accepted in the spec of\n" ..
      "`call` and `prepare`.",
    { "trace_id", "string", "X-Traceid to send (58 characters)." },
    { "language", "string", "`language` header for this call." },
    { "timeout", "number", "Whole-request timeout in seconds.", default_text = "the client's" },
    { "connect_timeout", "number", "Connection timeout in seconds.", default_text = "the client's" },
    { "retry", "boolean", "Whether this call may be retried.",
      default_text = "true for operations that are safe to repeat" },
  },
  {
    id = "page", class = "koodrive.PageOptions", ldoc = "PageOptions",
    doc = "Per-call options of a listing (with the CallOptions), and of its pages/each/all.",
    { "page_size", "integer", "Items asked for per page, 1-100 (1-50 on IoTDA).",
      default_text = "the service's default" },
    { "cursor", "string|integer", "Resume from a page's `next` (a saved continuation)." },
    { "max_items", "integer", "all() only: stop after this many items (the result has `more`)." },
  },
  {
    id = "retries", class = "koodrive.RetryOptions", ldoc = "RetryOptions",
    doc = "The `retries` option.",
    { "max_attempts", "integer", "Attempts in all, the first included.", default = limits.RETRY.max_attempts },
    { "base_delay", "number", "First backoff delay, seconds.", default = limits.RETRY.base_delay },
    { "max_delay", "number", "Largest backoff delay, seconds.", default = limits.RETRY.max_delay },
    { "max_elapsed", "number", "Give up after this many seconds in all.", default = limits.RETRY.max_elapsed },
  },
  {
    id = "batch", class = "koodrive.BatchOptions", ldoc = "BatchOptions",
    doc = "Options of the bulk helpers and koodrive.batch.",
    ldoc_doc = "Options of the bulk helpers (`unbind_many`, `delete_members_many`, `unbind_all`) and\n" ..
      "`koodrive.batch`.",
    { "concurrency", "integer", "Calls in flight at once, 1-" .. limits.CONCURRENCY_MAX .. ".",
      default = limits.CONCURRENCY },
    { "progress", "koodrive.Progress", "Called as each item finishes: progress(done, total, item, result, err)." },
  },
}

local by_id = {}
for _, g in ipairs(options.groups) do by_id[g.id] = g end

--- The group of options called `id` ("common", "koodrive", "iotda", "call", "retries", "batch").
function options.group(id)
  return assert(by_id[id], "no option group " .. tostring(id))
end

--- The names of group `id` as a set { name = true }, plus the names of `extra` (a list).
function options.names(id, extra)
  local set = {}
  for _, o in ipairs(options.group(id)) do set[o[1]] = true end
  for _, name in ipairs(extra or {}) do set[name] = true end
  return set
end

return options
