--- Pipeline step 4, response: an answer (or a transport's failure) becomes the decoded body
-- or an error from koodrive.errors, every text in it passed through koodrive.secrets first.
-- The service's envelope (is this a success, which code) is the profile's decision.
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local vault = require "koodrive.secrets"
local config = require "koodrive.request.config"

local response = {}

local proxies = config.proxies

--- Replaces any of the client's secrets inside `s` (e.g. a body echoed in an error), in
-- every form a server may echo them, and those of `request` (its credential headers).
local function redact(client, s, request)
  if type(s) ~= "string" then return s end
  return vault.redact(s, vault.values(client, request))
end
response.redact = redact

local SNIPPET = 200

--- The first SNIPPET bytes of a body for a message. Redacted before it is cut, so a secret
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
response.snippet = snippet

-- Server text for an error: secrets out, control characters shown as escapes. Codes and
-- messages of the service (`code`, `msg`) keep their type; strings among them are redacted.
local function server_text(client, ctx, v)
  if type(v) == "string" then return redact(client, v, ctx.request) end
  if type(v) == "table" then return vault.redact_value(v, vault.values(client, ctx.request)) end
  return v
end

--- The error for a response that arrived but is not a success; returns nil, error, response.
local function failure(client, ctx, res, kind, message, code, msg)
  local headers = res.headers or {}
  local request_id = headers["x-request-id"]
  if request_id ~= nil then request_id = errors.printable(server_text(client, ctx, request_id)) end
  return nil, errors.new { kind = kind, message = errors.printable(server_text(client, ctx, message)),
    operation = ctx.operation, status = res.status, request_id = request_id, trace_id = ctx.trace_id,
    code = server_text(client, ctx, code), msg = server_text(client, ctx, msg) }, res
end
response.failure = failure

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
        s = s:sub(1, i - 1) .. vault.MARK .. s:sub(j + 1)
        from = i + #vault.MARK
      end
    end
  end
  return s
end

--- A transport's error: every string in it may quote the request (its URL, its headers, the
-- proxy's credentials). Returns nil and the error.
function response.transport_failure(client, ctx, terr)
  local e = terr
  if not errors.is(e) then
    e = errors.new { kind = "transport", message = tostring(terr) }
  end
  local cfg = client._config
  for k, v in pairs(e) do
    if type(v) == "string" and k ~= "kind" then
      e[k] = hide_proxy_secret(cfg, errors.printable(server_text(client, ctx, v)))
    end
  end
  e.operation, e.trace_id = ctx.operation, ctx.trace_id
  return nil, e
end

--- Reads a response: the decoded body and the response, or nil, an error and the response.
function response.decode(client, ctx, res)
  local status, body = res.status, res.body
  if type(status) ~= "number" or type(body) ~= "string" then
    return failure(client, ctx, res, "transport",
      "transport returned a response without a numeric status and a string body")
  end
  local decoded, derr
  if body ~= "" then
    decoded, derr = json.decode(body)
  elseif ctx.empty_body and status >= 200 and status < 300 then
    -- A documented empty success (IoTDA's 204 No Content).
    return {}, nil, res
  end
  -- Both services answer with a JSON object (koodrive-api.md: "Every KooDrive response body is
  -- {"code": <int>, ...}"; iotda-api.md: "Response 200: policy_id, ..."): an array is no answer.
  if json.is_array(decoded) then decoded, derr = nil, "a JSON array where an object is documented" end
  if type(decoded) ~= "table" then
    local what = body == "" and "an empty body"
      or ("a non-JSON body (" .. ((res.headers or {})["content-type"] or "no content type") .. "): " ..
        snippet(body, client, ctx))
    if status >= 300 or status < 200 then
      return failure(client, ctx, res, "http", "HTTP " .. status .. " with " .. what)
    end
    return failure(client, ctx, res, "decode", "HTTP " .. status .. " with " .. what ..
      (derr and (" [" .. tostring(derr) .. "]") or ""))
  end
  local code, msg, envelope_err = client._profile.envelope(decoded, status, ctx)
  if envelope_err then return failure(client, ctx, res, "decode", envelope_err) end
  if code ~= nil then
    local text = msg ~= nil and tostring(msg) or "no message"
    return failure(client, ctx, res, "api", "service error " .. tostring(code) .. ": " .. text,
      code, msg)
  end
  if status < 200 or status >= 300 then
    return failure(client, ctx, res, "http", "HTTP " .. status .. ": " .. snippet(body, client, ctx))
  end
  return decoded, nil, res
end

-- Whether a failed attempt may nevertheless have been carried out: the request may have
-- reached the service (a reset, a timeout, an answer too large or unreadable, a gateway's
-- 502/503/504, the service's own "inner server invoke failure", a fork mid-transfer). A refused
-- connection, a failed TLS handshake, no file descriptor left, a call that could not wait, or a
-- request that was never built was not sent.
local NOT_SENT = { connect = true, tls = true, request = true, descriptors = true, not_yieldable = true }
local AMBIGUOUS_STATUS = { [502] = true, [503] = true, [504] = true }

--- Whether the attempt that failed with `err` may have been carried out.
function response.ambiguous(err)
  local kind = err.kind
  if kind == "transport" or kind == "timeout" then return not NOT_SENT[err.reason] end
  if kind == "decode" then return true end
  if kind == "http" or kind == "api" then
    return AMBIGUOUS_STATUS[err.status] == true or err.code == 13000201
  end
  return false
end

return response
