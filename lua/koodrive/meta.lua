---@meta koodrive.meta
-- Type annotations for LuaLS / EmmyLua-aware editors: the shapes of koodrive's option
-- tables, results, errors and the service objects, which are built at run time from
-- koodrive.operations. Nothing requires this file and the rockspec does not install it;
-- it only declares types (every function body here is empty).
-- luacheck: ignore 212 241 (declarations only: arguments and method tables are never used)

---------------------------------------------------------------------------------------------
-- Options
---------------------------------------------------------------------------------------------

---@alias koodrive.Logger fun(record: koodrive.LogRecord)
---@alias koodrive.TokenProvider fun(): string
---@alias koodrive.Progress fun(done: integer, total: integer, item: any, result: any, err: koodrive.Error?)

-- BEGIN GENERATED OPTIONS (make gen: tools/gen_docs.lua from lua/koodrive/options.lua)

---Options every client takes (koodrive.new and koodrive.iotda.new).
---@class koodrive.CommonOptions
---@field endpoint string Base URL, e.g. "https://cn.myhuaweicloud-koodrive.com". Required.
---@field timeout? number Whole-request timeout in seconds. Default: 30.
---@field connect_timeout? number Connection timeout in seconds. Default: 10.
---@field ca_file? string PEM bundle to verify the server with.
---@field insecure? boolean Skip TLS verification (logged as a warning). Default: false.
---@field clock? fun(): number Seconds since the epoch to sign with. Default: os.time.
---@field transport? koodrive.Transport A transport from koodrive.transport. Default: koodrive.transport.auto().
---@field max_body? integer Largest response body accepted, in bytes. Default: 8388608.
---@field retries? koodrive.RetryOptions|false Retry policy (RetryOptions), or false for none.
---@field logger? koodrive.Logger Receives one redacted LogRecord per attempt.
---@field sleep? fun(seconds: number) Waits between retries outside a loop.
---@field token_provider? koodrive.TokenProvider Returns a fresh token when needed (token mode).
---@field proxy? string|false Proxy URL (http, https, socks5, socks5h), or "env" for http_proxy & co.
---@field no_proxy? string Comma-separated hosts or domains reached direct, or "*".

---koodrive.new options.
---@class koodrive.Options: koodrive.CommonOptions
---@field user_id string|integer The KooDrive user id, sent as X-User-Id. Required.
---@field token? string Bearer token (token mode).
---@field app_id? string App id (app-signature mode, with app_secret).
---@field app_secret? string App secret (app-signature mode, with app_id).
---@field language? string Value of the `language` header.
---@field trace_ids? boolean Send a fresh X-Traceid with every call. Default: false.

---koodrive.iotda.new options.
---@class koodrive.IotdaOptions: koodrive.CommonOptions
---@field project_id string The IAM project id. Required.
---@field ak? string Access key (AK/SK mode, with sk).
---@field sk? string Secret key (AK/SK mode, with ak).
---@field security_token? string Temporary security token for AK/SK.
---@field token? string IAM token (X-Auth-Token mode).
---@field region? string Region, e.g. "cn-north-4"; required for derived signing.
---@field derived? boolean Use V11-HMAC-SHA256 derived signing.
---@field instance_id? string Instance-Id header.

---Per-call options (last argument of every operation, and of call/prepare specs).
---@class koodrive.CallOptions
---@field trace_id? string X-Traceid to send (58 characters).
---@field language? string `language` header for this call.
---@field timeout? number Whole-request timeout in seconds. Default: the client's.
---@field connect_timeout? number Connection timeout in seconds. Default: the client's.
---@field retry? boolean Whether this call may be retried. Default: true for operations that are safe to repeat.

---Per-call options of a listing (with the CallOptions), and of its pages/each/all.
---@class koodrive.PageOptions
---@field page_size? integer Items asked for per page, 1-100 (1-50 on IoTDA). Default: the service's default.
---@field cursor? string|integer Resume from a page's `next` (a saved continuation).
---@field max_items? integer all() only: stop after this many items (the result has `more`).

---The `retries` option.
---@class koodrive.RetryOptions
---@field max_attempts? integer Attempts in all, the first included. Default: 3.
---@field base_delay? number First backoff delay, seconds. Default: 0.2.
---@field max_delay? number Largest backoff delay, seconds. Default: 5.
---@field max_elapsed? number Give up after this many seconds in all. Default: 30.

---Options of the bulk helpers and koodrive.batch.
---@class koodrive.BatchOptions
---@field concurrency? integer Calls in flight at once, 1-256. Default: 8.
---@field progress? koodrive.Progress Called as each item finishes: progress(done, total, item, result, err).

-- END GENERATED OPTIONS

---What the logger receives for each attempt; secrets are redacted.
---@class koodrive.LogRecord
---@field level "info"|"warn"
---@field event string "attempt"
---@field operation string e.g. "devices.list"
---@field method string HTTP method.
---@field url string Request URL (secret query values redacted).
---@field request_headers table<string, string> Request headers (secrets redacted).
---@field attempt integer Attempt number, from 1.
---@field duration number Seconds the attempt took.
---@field status? integer HTTP status.
---@field request_id? string X-Request-Id of the response.
---@field trace_id? string X-Traceid sent.
---@field error_kind? string Kind of the error, if the attempt failed.
---@field error_message? string Message of the error, if the attempt failed.

---------------------------------------------------------------------------------------------
-- Errors, requests, responses
---------------------------------------------------------------------------------------------

---@alias koodrive.ErrorKind "config"|"validation"|"transport"|"timeout"|"http"|"api"|"decode"|"io"

---The second result of every failing call (see koodrive.errors).
---@class koodrive.Error
---@field kind koodrive.ErrorKind
---@field message string What went wrong, in words.
---@field operation? string e.g. "devices.unbind", or "call" / "prepare".
---@field status? integer HTTP status, when a response arrived.
---@field code? integer|string The service's error code (KooDrive code, IoTDA error_code).
---@field msg? string The service's error message.
---@field request_id? string X-Request-Id of the response.
---@field trace_id? string X-Traceid that was sent.
---@field field? string Validation/config errors: the input at fault.
---@field rule? string Validation/config errors: the rule it broke.
---@field retryable boolean Whether sending the same request again may succeed.
---@field reason? string Transport errors: "connect", "tls", "dns", ...
---@field tls? string TLS errors: "untrusted", "self_signed", "expired", "hostname", ...
---@field attempts? integer After retries: how many attempts were made.
---@field history? table[] After retries: one entry per attempt (`ambiguous` when it may have been carried out).
---@field ambiguous? boolean An earlier attempt may have been carried out (reset, timeout, 502/503/504...).
---@field uncertain? boolean The call may have been carried out: reported as uncertain, never as refused.
---@field body? string Decode errors: a redacted snippet of the response body.

---An HTTP request, as transports receive it and client:prepare returns it.
---@class koodrive.Request
---@field method string
---@field url string
---@field headers table<string, string>
---@field body? string
---@field timeout? number
---@field connect_timeout? number
---@field max_body? integer
---@field proxy? string Proxy URL or "env"; absent: no proxy.
---@field no_proxy? string

---An HTTP response, as transports return it.
---@class koodrive.Response
---@field status integer
---@field headers table<string, string> Lower-case names.
---@field body string

---A transport: sends requests (see koodrive.transport).
---@class koodrive.Transport
---@field multi? boolean Whether a koodrive.loop may carry its requests.
local Transport = {}
---@param request koodrive.Request
---@return koodrive.Response|nil response
---@return koodrive.Error|nil err
function Transport:send(request) end
function Transport:close() end

---The spec of client:call and client:prepare.
---@class koodrive.CallSpec: koodrive.CallOptions
---@field method string HTTP method.
---@field path string Path under the endpoint.
---@field query? table Query parameters: { name = value } or { {name, value}, ... }.
---@field body? table|string JSON body.

---------------------------------------------------------------------------------------------
-- Loops
---------------------------------------------------------------------------------------------

---A task started by loop:spawn or koodrive.spawn.
---@class koodrive.Handle
---@field done boolean
---@field result any First result of the task.
---@field err any Second result of the task.
---@field values table All results, with `n`.
---@field error? string The error the task raised, with traceback.

---An event loop over one libcurl multi handle (koodrive.loop()).
---@class koodrive.Loop
local Loop = {}
---@param fn function
---@param callback? fun(...)
---@return koodrive.Handle
function Loop:spawn(fn, callback, ...) end
---@param timeout? number
---@param budget? number
---@return integer tasks_left
function Loop:poll(timeout, budget) end
function Loop:run() end
---@return integer
function Loop:pending() end
---@param seconds number
function Loop:sleep(seconds) end
---@param handles koodrive.Handle[]
function Loop:wait_all(handles) end
function Loop:close() end

---------------------------------------------------------------------------------------------
-- KooDrive results and service objects
---------------------------------------------------------------------------------------------

---A device bound to the user (KooDrive BoundDeviceEntity).
---@class koodrive.BoundDeviceEntity
---@field deviceId string 19-digit id, always a string.
---@field machineCode string
---@field deviceName? string
---@field deviceOS? string
---@field createTime? string|integer

---devices:bind argument.
---@class koodrive.BindDevice
---@field machineCode string
---@field deviceName? string
---@field deviceOS? string

---usergroups:delete_members result: every id is in `deleted` or `failedList`.
---@class koodrive.DeleteMembersResult
---@field status integer 0 all deleted, 1 some, 2 none.
---@field deleted string[]
---@field failedList string[] The ids the service refused.
---@field uncertain string[] Ids the service called failed after an earlier attempt that may have deleted them.
---@field history? table[] With `uncertain`: the failed attempts before the answer.

---devices:unbind_many result.
---@class koodrive.UnbindManyResult
---@field done {deviceId: string, device: koodrive.BoundDeviceEntity}[]
---@field failed {deviceId: string, error: koodrive.Error}[] Refused by the service, or never sent.
---@field uncertain {deviceId: string, error: koodrive.Error, history: table[]}[] May have been unbound.
---@field callback_error? string The first error the progress callback raised.

---An id of usergroups:delete_members_many that may have been removed.
---@class koodrive.UncertainMember
---@field groupId string
---@field userId string
---@field result? koodrive.DeleteMembersResult The answer that called it failed (after an ambiguous attempt).
---@field error? koodrive.Error The error of a call whose last attempt got no readable answer.
---@field history? table[]

---usergroups:delete_members_many result.
---@class koodrive.DeleteMembersManyResult
---@field deleted {groupId: string, userId: string}[]
---@field failed {groupId: string, userId: string, refused?: boolean, error?: koodrive.Error}[]
---@field uncertain koodrive.UncertainMember[] Ids that may have been removed.
---@field groups {groupId: string, result?: koodrive.DeleteMembersResult, error?: koodrive.Error}[]
---@field callback_error? string The first error the progress callback raised.

---client.devices
---@class koodrive.DevicesService
local DevicesService = {}
---@param opts? koodrive.CallOptions
---@return koodrive.BoundDeviceEntity[]|nil devices
---@return koodrive.Error|nil err
function DevicesService:list(opts) end
---@param device koodrive.BindDevice
---@param opts? koodrive.CallOptions
---@return koodrive.BoundDeviceEntity|nil device
---@return koodrive.Error|nil err
function DevicesService:bind(device, opts) end
---@param deviceId string
---@param opts? koodrive.CallOptions
---@return koodrive.BoundDeviceEntity|nil device
---@return koodrive.Error|nil err
function DevicesService:unbind(deviceId, opts) end
---@param ids string[]
---@param opts? koodrive.BatchOptions
---@return koodrive.UnbindManyResult|nil result
---@return koodrive.Error|nil err
function DevicesService:unbind_many(ids, opts) end

---client.usergroups
---@class koodrive.UsergroupsService
local UsergroupsService = {}
---@param groupId string
---@param userIds (string|integer)[]
---@param opts? koodrive.CallOptions
---@return koodrive.DeleteMembersResult|nil result
---@return koodrive.Error|nil err
function UsergroupsService:delete_members(groupId, userIds, opts) end
---@param groups {[1]: string, [2]: (string|integer)[]}[] { {groupId, userIds}, ... }
---@param opts? koodrive.BatchOptions
---@return koodrive.DeleteMembersManyResult|nil result
---@return koodrive.Error|nil err
function UsergroupsService:delete_members_many(groups, opts) end

---Shared by both clients.
---@class koodrive.BaseClient
---@field endpoint string
---@field auth string
local BaseClient = {}
---Sends any request through the client's auth, retries and logging.
---@param spec koodrive.CallSpec
---@return table|nil envelope The decoded response body.
---@return koodrive.Error|nil err
function BaseClient:call(spec) end
---Builds and signs a request without sending it.
---@param spec koodrive.CallSpec
---@return koodrive.Request|nil request
---@return koodrive.Error|nil err
function BaseClient:prepare(spec) end
---Builds and signs the request a declared operation ("devices.bind") would send, not sent;
---the rest are the operation's arguments, then its per-call options (checked first).
---@param name string
---@param ... any
---@return koodrive.Request|nil request
---@return koodrive.Error|nil err
function BaseClient:prepare_operation(name, ...) end
---Checks a declared operation's arguments without building or sending anything.
---@param name string
---@param ... any
---@return true|nil ok
---@return koodrive.Error|nil err
function BaseClient:check_operation(name, ...) end
---Releases the transport if the client created it.
function BaseClient:close() end

---A KooDrive client (koodrive.new).
---@class koodrive.Client: koodrive.BaseClient
---@field user_id string
---@field language? string
---@field trace_ids boolean
---@field app_id? string
---@field devices koodrive.DevicesService
---@field usergroups koodrive.UsergroupsService

---------------------------------------------------------------------------------------------
-- IoTDA results and service objects
---------------------------------------------------------------------------------------------

---@class koodrive.PolicyTargets
---@field target_type string e.g. "DEVICE".
---@field target_ids string[]

---A target device_policies:unbind could not unbind.
---@class koodrive.FailureTarget
---@field target_id string
---@field error_code? string The service's code, "KOODRIVE.UNREPORTED" or "KOODRIVE.<KIND>".
---@field error_msg? string
---@field error? koodrive.Error unbind_all: the error of the call that carried the id.

---device_policies:unbind / unbind_all result.
---@class koodrive.PolicyUnbindResult
---@field policy_id string
---@field target_type string
---@field success_targets string[]
---@field failure_targets koodrive.FailureTarget[]
---Failures heard after an attempt that may have unbound them, or targets of a call whose last
---attempt got no readable answer.
---@field uncertain_targets koodrive.FailureTarget[]
---@field history? table[] With uncertain targets (one call): the failed attempts before the answer.
---@field calls? integer unbind_all: how many calls were made.
---@field callback_error? string unbind_all: the first error the progress callback raised.

---client.device_policies
---@class koodrive.DevicePoliciesService
local DevicePoliciesService = {}
---@param policy_id string
---@param targets koodrive.PolicyTargets
---@param opts? koodrive.CallOptions
---@return koodrive.PolicyUnbindResult|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:unbind(policy_id, targets, opts) end
---@param policy_id string
---@param targets koodrive.PolicyTargets Any number of ids; sent 20 per call.
---@param opts? koodrive.BatchOptions
---@return koodrive.PolicyUnbindResult|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:unbind_all(policy_id, targets, opts) end

---An IoTDA client (koodrive.iotda.new).
---@class koodrive.IotdaClient: koodrive.BaseClient
---@field project_id string
---@field region? string
---@field derived? boolean
---@field instance_id? string
---@field device_policies koodrive.DevicePoliciesService

-- BEGIN GENERATED SERVICES (make gen: tools/gen_docs.lua from koodrive.operations; edit those, not this block)

---client.backups
---@class koodrive.BackupsService
local BackupsService = {}

---@param deviceId any
---@param moduleCode any
---@param scopeList any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function BackupsService:add_scopes(deviceId, moduleCode, scopeList, opts) end

---@param recordId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function BackupsService:record_files(recordId, query, opts) end

---@param recordId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function BackupsService:record_files_all(recordId, query, opts) end

---@param recordId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function BackupsService:record_files_each(recordId, query, opts) end

---@param recordId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function BackupsService:record_files_pages(recordId, query, opts) end

---@param deviceId any
---@param moduleCode any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function BackupsService:scopes(deviceId, moduleCode, opts) end


---client.favorites
---@class koodrive.FavoritesService
local FavoritesService = {}

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FavoritesService:all(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FavoritesService:each(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FavoritesService:list(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FavoritesService:pages(query, opts) end

---@param entries any
---@param starred any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FavoritesService:set(entries, starred, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function FavoritesService:set_many(...) end

---client.files
---@class koodrive.FilesService
local FilesService = {}

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:all(req, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:clear_recycled(...) end

---@param fileId any
---@param sha256 any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:complete_upload(fileId, sha256, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:copy(...) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:create_upload(req, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:delete(...) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:download(...) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:download_many(...) end

---@param containerId any
---@param fileIds any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:download_urls(containerId, fileIds, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:each(req, opts) end

---@param fileId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:get(fileId, req, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list(req, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_recycled(req, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_recycled_all(req, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_recycled_each(req, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_recycled_pages(req, opts) end

---@param groupId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_team(groupId, req, opts) end

---@param groupId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_team_all(groupId, req, opts) end

---@param groupId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_team_each(groupId, req, opts) end

---@param groupId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_team_pages(groupId, req, opts) end

---@param groupId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_team_recycled(groupId, req, opts) end

---@param groupId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_team_recycled_all(groupId, req, opts) end

---@param groupId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_team_recycled_each(groupId, req, opts) end

---@param groupId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:list_team_recycled_pages(groupId, req, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:mkdir(req, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:move(...) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:pages(req, opts) end

---@param fileId any
---@param containerId any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:path(fileId, containerId, opts) end

---@param containerId any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:recycle_clear(containerId, opts) end

---@param fileId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:rename(fileId, req, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:restore(...) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:search(req, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:search_all(req, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:search_each(req, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:search_pages(req, opts) end

---@param fileId any
---@param containerId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:stats(fileId, containerId, query, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:upload(...) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:upload_many(...) end

---@param fileId any
---@param multiParts any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function FilesService:upload_urls(fileId, multiParts, opts) end

---client.jobs
---@class koodrive.JobsService
local JobsService = {}

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function JobsService:all(query, opts) end

---@param jobId any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function JobsService:cancel(jobId, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function JobsService:create(req, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function JobsService:each(query, opts) end

---@param jobId any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function JobsService:get(jobId, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function JobsService:list(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function JobsService:pages(query, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function JobsService:wait(...) end

---client.sessions
---@class koodrive.SessionsService
local SessionsService = {}

---@param code any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SessionsService:create(code, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SessionsService:login(req, opts) end

---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SessionsService:logoff(opts) end

---@param sessionId any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SessionsService:refresh(sessionId, opts) end

---@param accessToken any
---@param refreshToken any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SessionsService:refresh_token(accessToken, refreshToken, opts) end

---client.shares
---@class koodrive.SharesService
local SharesService = {}

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:all(query, opts) end

---@param shareIds any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:cancel(shareIds, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:cancel_many(...) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:create(req, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:each(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:list(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:pages(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:received(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:received_all(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:received_each(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:received_pages(query, opts) end

---@param shareId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SharesService:update(shareId, req, opts) end

---client.spaces
---@class koodrive.SpacesService
local SpacesService = {}

---@param ownerId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SpacesService:get(ownerId, query, opts) end

---@param ownerId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function SpacesService:list(ownerId, query, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function SpacesService:mine(...) end

---client.usage
---@class koodrive.UsageService
local UsageService = {}

---@param userIds any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsageService:by_user(userIds, query, opts) end

---@param userIds any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsageService:by_user_all(userIds, query, opts) end

---@param userIds any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsageService:by_user_each(userIds, query, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function UsageService:by_user_many(...) end

---@param userIds any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsageService:by_user_pages(userIds, query, opts) end


---@param groupId any
---@param members any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:add_members(groupId, members, opts) end

---@param ... any
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:add_members_many(...) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:all(query, opts) end

---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:create(req, opts) end

---@param groupId any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:delete(groupId, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:each(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:list(query, opts) end

---@param groupId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:members(groupId, query, opts) end

---@param groupId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:members_all(groupId, query, opts) end

---@param groupId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:members_each(groupId, query, opts) end

---@param groupId any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:members_pages(groupId, query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:pages(query, opts) end

---@param groupId any
---@param req any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsergroupsService:update(groupId, req, opts) end

---client.users
---@class koodrive.UsersService
local UsersService = {}

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsersService:all(query, opts) end

---@param userId any
---@param modifyUserInfoReq any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsersService:create(userId, modifyUserInfoReq, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsersService:each(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsersService:list(query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function UsersService:pages(query, opts) end

---@class koodrive.Client
---@field backups koodrive.BackupsService
---@field favorites koodrive.FavoritesService
---@field files koodrive.FilesService
---@field jobs koodrive.JobsService
---@field sessions koodrive.SessionsService
---@field shares koodrive.SharesService
---@field spaces koodrive.SpacesService
---@field usage koodrive.UsageService
---@field users koodrive.UsersService


---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:all(query, opts) end

---@param policy_id any
---@param targets any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:bind(policy_id, targets, opts) end

---@param policy any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:create(policy, opts) end

---@param policy_id any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:delete(policy_id, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:each(query, opts) end

---@param policy_id any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:get(policy_id, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:list(query, opts) end

---@param policy_id any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:list_targets(policy_id, query, opts) end

---@param policy_id any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:list_targets_all(policy_id, query, opts) end

---@param policy_id any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:list_targets_each(policy_id, query, opts) end

---@param policy_id any
---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:list_targets_pages(policy_id, query, opts) end

---@param query any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:pages(query, opts) end

---@param policy_id any
---@param policy any
---@param opts? table per-call options
---@return any|nil result
---@return koodrive.Error|nil err
function DevicePoliciesService:update(policy_id, policy, opts) end

-- END GENERATED SERVICES
