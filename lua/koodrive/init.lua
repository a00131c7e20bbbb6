--- koodrive: a client for the Huawei Cloud KooDrive API (and IoTDA device policies).
--
--   local koodrive = require "koodrive"
--   local client = assert(koodrive.new { endpoint = ..., user_id = ..., token = ... })
--   local devices, err = client.devices:list()
--
-- Every call returns its result, or nil and an error table (see koodrive.errors).
-- Caveats: 19-digit ids are strings in every result (and may be given as strings or, on
-- Lua 5.3+, integers); JSON null arrives as koodrive.null; the default transport blocks
-- the calling thread for the length of each request, except inside an OpenResty handler
-- (nginx cosockets) or a koodrive.loop task (libcurl's multi interface).
-- @module koodrive
local client = require "koodrive.client"
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local pipeline = require "koodrive.pipeline"

-- Editor types (LuaLS): see lua/koodrive/meta.lua.
---@class koodrive
---@field devices koodrive.DevicesService Forwards to the default client's `devices`.
---@field usergroups koodrive.UsergroupsService Forwards to the default client's `usergroups`.
local koodrive = {
  _VERSION = pipeline.VERSION,
  new = client.new,
  -- IoTDA and the bulk helpers load on first use: `require "koodrive"` stays short.
  iotda = { new = function(config) return require("koodrive.iotda").new(config) end },
  transport = require "koodrive.transport",
  errors = errors,
  -- The loop and the scheduler load on first use too.
  -- koodrive.loop(): many calls in flight, driven by loop:poll(timeout)
  loop = function(...) return require("koodrive.loop").new(...) end,
  -- koodrive.run(fn, ...): fn's calls read sequentially, run non-blocking
  run = function(...) return require("koodrive.scheduler").run(...) end,
  -- inside run, a loop task or an OpenResty handler: start another task
  spawn = function(...) return require("koodrive.scheduler").spawn(...) end,
  -- there: wait for spawned tasks
  wait = function(...) return require("koodrive.scheduler").wait(...) end,
  batch = function(...) return require("koodrive.batch").map(...) end,
  -- koodrive.session_tokens{ ... }: provider, session (a token_provider on the session calls)
  session_tokens = function(...) return require("koodrive.session_tokens").new(...) end,
  null = json.null,
  array = json.array,      -- koodrive.array(t): t is written as a JSON array, [] when empty
  int64 = json.int64,      -- koodrive.int64(id): id written as an exact JSON integer
}

-- The module-level default client, made on first use from the environment or by configure.
local default_client, default_error

--- Sets the default client used by `koodrive.devices` etc.
-- The previous default client, if any, is closed.
---@param config koodrive.Options the options of `koodrive.new`
---@return koodrive.Client|nil client the new default client
---@return koodrive.Error|nil err a config error
function koodrive.configure(config)
  local c, err = client.new(config)
  if not c then return nil, err end
  if default_client then default_client:close() end
  default_client, default_error = c, nil
  return c
end

local function from_environment()
  local env = os.getenv
  local config = { endpoint = env("KOODRIVE_ENDPOINT"), user_id = env("KOODRIVE_USER_ID"),
    token = env("KOODRIVE_TOKEN"), app_id = env("KOODRIVE_APP_ID"),
    app_secret = env("KOODRIVE_APP_SECRET") }
  if not config.endpoint then
    return nil, errors.config("KOODRIVE_ENDPOINT", "required",
      "no default client: set KOODRIVE_ENDPOINT, KOODRIVE_USER_ID and KOODRIVE_TOKEN " ..
      "(or KOODRIVE_APP_ID + KOODRIVE_APP_SECRET), or call koodrive.configure{...}")
  end
  return client.new(config)
end

--- The default client, or nil and the config error that prevents making it.
-- Made on first use from `KOODRIVE_ENDPOINT`, `KOODRIVE_USER_ID`, `KOODRIVE_TOKEN`
-- (or `KOODRIVE_APP_ID` + `KOODRIVE_APP_SECRET`) unless `koodrive.configure` was called.
---@return koodrive.Client|nil client
---@return koodrive.Error|nil err
function koodrive.default()
  if not default_client and not default_error then
    default_client, default_error = from_environment()
  end
  return default_client, default_error
end

-- koodrive.devices:list() etc. forward to the default client's service objects.
for service in pairs(client.Client.services) do
  koodrive[service] = setmetatable({}, {
    __index = function(_, method)
      return function(_, ...)
        local c, err = koodrive.default()
        if not c then return nil, err end
        local svc = c[service]
        if not svc[method] then error("koodrive." .. service .. " has no method " .. tostring(method), 2) end
        return svc[method](svc, ...)
      end
    end,
  })
end

-- LDoc reference for the module's fields (LuaLS reads their types from the code above).

--- Creates a KooDrive client (`koodrive.client.new`).
-- @function new
-- @tparam Options config
-- @return a `koodrive.client` client, or nil and a config error (`koodrive.errors`)

--- Creates an IoTDA client (`koodrive.iotda.new`).
-- @function iotda.new
-- @tparam IotdaOptions config
-- @return an IoTDA client, or nil and a config error

--- A new loop: many calls in flight, driven by `loop:poll(timeout)` (`koodrive.loop.new`).
-- @function loop
-- @tparam[opt] table opts `{ starts_per_poll = 8, max_connections = n }` (max_connections:
-- 1 to 1024, the most connections the loop's multi handle opens at once; 32 when not
-- given)
-- @return a loop

--- Runs `fn(...)` as a task on a fresh loop until every task has ended and returns fn's
-- results: calls inside read sequentially and run non-blocking (`koodrive.loop.run`). In an
-- OpenResty handler fn runs right where it is called, its calls over cosockets.
-- @function run
-- @tparam function fn
-- @param ... arguments for fn

--- Starts another task and returns its handle: inside `koodrive.run` or a loop task on that
-- loop, in an OpenResty handler (no `koodrive.run` needed) on an nginx light thread.
-- @function spawn
-- @tparam function fn
-- @tparam[opt] function callback receives the task's results
-- @param ... arguments for fn

--- Waits for the given handles, made by `koodrive.spawn` in the same place (a handle of
-- another loop is an error). In OpenResty an error the task raised is raised again here.
-- @function wait
-- @param ... handles from `koodrive.spawn`

--- Runs `work(item)` for every item with bounded concurrency (`koodrive.batch.map`).
-- @function batch
-- @tparam table items
-- @tparam function work returns result, err
-- @tparam[opt] BatchOptions opts
-- @return a list of `{ result, err }` in the order of items

--- Marks an id (digit string or Lua integer) to be written as an exact JSON integer.
-- @function int64
-- @param id

--- Marks a table as a JSON array: an empty one is written `[]`, not `{}`.
-- @function array
-- @tparam table t

--- Module values.
-- @table koodrive
-- @field _VERSION the library version
-- @field null JSON null as it arrives in results (lua-cjson's null sentinel)
-- @field transport `koodrive.transport`: the transports
-- @field errors `koodrive.errors`
-- @field devices the default client's `devices` service object (see `koodrive.default`)
-- @field usergroups the default client's `usergroups` service object

-- BEGIN GENERATED OPTIONS (make gen: tools/gen_docs.lua from lua/koodrive/options.lua)

--- Options every client takes (koodrive.new and koodrive.iotda.new).
-- @table CommonOptions
-- @field endpoint Base URL, e.g. "https://cn.myhuaweicloud-koodrive.com". (required)
-- @field timeout Whole-request timeout in seconds. (default: 30)
-- @field connect_timeout Connection timeout in seconds. (default: 10)
-- @field ca_file PEM bundle to verify the server with.
-- @field insecure Skip TLS verification (logged as a warning). (default: false)
-- @field clock Seconds since the epoch to sign with. (default: os.time)
-- @field transport A transport from koodrive.transport. (default: koodrive.transport.auto())
-- @field max_body Largest response body accepted, in bytes. (default: 8388608)
-- @field retries Retry policy (RetryOptions), or false for none. (default: the RetryOptions
-- defaults)
-- @field logger Receives one redacted LogRecord per attempt.
-- @field sleep Waits between retries outside a loop.
-- @field token_provider Returns a fresh token when needed (token mode).
-- @field proxy Proxy URL (http, https, socks5, socks5h), or "env" for http_proxy & co. Credentials
-- in the URL are allowed and never shown. nil/false: no proxy, whatever the environment says (the
-- default). The ngx transport refuses a proxy.
-- @field no_proxy Comma-separated hosts or domains reached direct, or "*".

--- Options of `koodrive.new` (besides `CommonOptions`).
-- Give `token` (or `token_provider`), or `app_id` and `app_secret`.
-- @table Options
-- @field user_id The KooDrive user id, sent as X-User-Id. (required)
-- @field token Bearer token (token mode).
-- @field app_id App id (app-signature mode, with app_secret).
-- @field app_secret App secret (app-signature mode, with app_id).
-- @field language Value of the `language` header.
-- @field trace_ids Send a fresh X-Traceid with every call. (default: false)

--- Options of `koodrive.iotda.new` (besides `CommonOptions`).
-- Give `ak` and `sk` (optionally `security_token`), or `token` (or `token_provider`).
-- @table IotdaOptions
-- @field project_id The IAM project id. (required)
-- @field ak Access key (AK/SK mode, with sk).
-- @field sk Secret key (AK/SK mode, with ak).
-- @field security_token Temporary security token for AK/SK.
-- @field token IAM token (X-Auth-Token mode).
-- @field region Region, e.g. "cn-north-4"; required for derived signing.
-- @field derived Use V11-HMAC-SHA256 derived signing. (default: every host except
-- <service>.<region>.myhuaweicloud.com)
-- @field instance_id Instance-Id header.

--- Per-call options: the last argument of every operation; also accepted in the spec of
-- `call` and `prepare`.
-- @table CallOptions
-- @field trace_id X-Traceid to send (58 characters).
-- @field language `language` header for this call.
-- @field timeout Whole-request timeout in seconds. (default: the client's)
-- @field connect_timeout Connection timeout in seconds. (default: the client's)
-- @field retry Whether this call may be retried. (default: true for operations that are safe to
-- repeat)

--- Per-call options of a listing (with the CallOptions), and of its pages/each/all.
-- @table PageOptions
-- @field page_size Items asked for per page, 1-100 (1-50 on IoTDA). (default: the service's
-- default)
-- @field cursor Resume from a page's `next` (a saved continuation).
-- @field max_items all() only: stop after this many items (the result has `more`).

--- The `retries` option.
-- @table RetryOptions
-- @field max_attempts Attempts in all, the first included. (default: 3)
-- @field base_delay First backoff delay, seconds. (default: 0.2)
-- @field max_delay Largest backoff delay, seconds. (default: 5)
-- @field max_elapsed Give up after this many seconds in all. (default: 30)

--- Options of the bulk helpers (`unbind_many`, `delete_members_many`, `unbind_all`) and
-- `koodrive.batch`.
-- @table BatchOptions
-- @field concurrency Calls in flight at once, 1-256. (default: 8)
-- @field progress Called as each item finishes: progress(done, total, item, result, err).

-- END GENERATED OPTIONS

--- What the `logger` receives for each attempt; secrets are redacted.
-- @table LogRecord
-- @field level "info" or "warn"
-- @field event "attempt"
-- @field operation e.g. "devices.list"
-- @field method HTTP method
-- @field url request URL, secret query values redacted
-- @field request_headers request headers, secrets redacted
-- @field attempt attempt number, from 1
-- @field duration seconds the attempt took
-- @field status HTTP status
-- @field request_id X-Request-Id of the response
-- @field trace_id X-Traceid sent
-- @field error_kind kind of the error, if the attempt failed
-- @field error_message message of the error, if the attempt failed

return koodrive
