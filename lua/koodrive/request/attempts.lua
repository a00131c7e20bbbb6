--- Pipeline step 3, attempts: a request is built, sent and read, attempt after attempt, until
-- it succeeds or may not be tried again (the retry policy, a clock refusal, a 401 in token
-- mode). Each attempt is logged with every secret redacted; waits go through
-- koodrive.scheduler so they never block a loop or an OpenResty worker.
local errors = require "koodrive.errors"
local retry = require "koodrive.retry"
local vault = require "koodrive.secrets"
-- The loop and the scheduler load when first needed (a loop made, a retry waiting), so that
-- `require "koodrive"` stays short; which loop runs this coroutine is the tasks' owner map.
local loop_owner = require("koodrive.loop.tasks").owner
local running = coroutine.running
local function current_loop()
  local co = running()
  return co and loop_owner[co] or nil
end
local config = require "koodrive.request.config"
local build = require "koodrive.request.build"
local response = require "koodrive.request.response"

local attempts = {}

local proxies = config.proxies
local build_request, refresh_token = build.request, build.refresh_token
local decode, transport_failure, ambiguous = response.decode, response.transport_failure, response.ambiguous
local redact = response.redact

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
  if not res then return transport_failure(client, ctx, terr) end
  return decode(client, ctx, res)
end

local SECRET_HEADERS = vault.HEADERS
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
attempts.emit = emit

--- Waits between attempts without blocking where the host cannot block: in a loop task the
-- loop's timer, in an OpenResty handler ngx.sleep, else the thread sleeps (koodrive.scheduler).
local function pause(client, seconds)
  if seconds <= 0 then return end
  local custom = client._config.sleep
  if custom then return custom(seconds) end
  require("koodrive.scheduler").sleep(seconds)
end

--- Tells, once per client, that TLS verification is off: through the logger when there is
-- one, else nginx's error log inside OpenResty, else standard error.
function attempts.warn_insecure(client)
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

--- Sends a request, attempt after attempt, until it succeeds or may not be tried again.
-- Every attempt is built and signed afresh (a new date). Besides the retry policy:
--  * a refusal of the request's date teaches the clock offset and is tried once more;
--  * a 401 in token mode asks the token_provider for a fresh token and is tried once more.
-- ctx = { operation, idempotent }. Returns the decoded body, nil, the response and the history
-- of failed attempts (nil when the first succeeded), or nil and the final error with
-- `attempts`, `history` (entries marked `ambiguous` when that attempt may have been carried
-- out), `ambiguous` (an earlier attempt may have been carried out) and `uncertain` (the call
-- may have been carried out: its final attempt is ambiguous).
function attempts.execute(client, spec, opts, ctx)
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
    local request, trace_id, signed_at = build_request(client, spec, opts)
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
    elseif err.status == 401 and not token_refreshed and cfg.token_provider and not spec.no_auth then
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

return attempts
