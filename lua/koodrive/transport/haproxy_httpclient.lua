--- koodrive.transport.haproxy { backend = "httpclient" }: HAProxy's own HTTP client
-- (core.httpclient, HAProxy 2.5+), for https from HAProxy with the server verified -
-- HAProxy's global `httpclient.ssl.verify` (default required, host name checked) and
-- `httpclient.ssl.ca-file` (default the system CAs) apply; a request's ca_file and insecure
-- cannot. What it cannot do, said here so that nothing is silently different:
--   - methods: GET, HEAD, PUT, POST and DELETE only (others are refused before sending);
--   - HAProxy reads the whole body before koodrive sees it: max_body is checked afterwards;
--   - its timeout is one of inactivity: a server trickling its answer can outlast `timeout`
--     (the core.tcp backend, the default, keeps the total);
--   - when it reaches no server (refused, TLS refused, name not resolved) HAProxy answers
--     with its own 503 page; that page is taken as a transport error (reason "connect"),
--     never as the service's answer.
-- Internal: made by koodrive.transport.haproxy { backend = "httpclient" }.
local errors = require "koodrive.errors"
local http1 = require "koodrive.transport.http1"
local limits = require "koodrive.limits"
local validate = require "koodrive.validate"

local core = core -- luacheck: ignore (the global of HAProxy's Lua; nil elsewhere)

local M = {}

local METHODS = { GET = "get", HEAD = "head", PUT = "put", POST = "post", DELETE = "delete" }
-- The first line of HAProxy's own answer when no server could be reached.
local NO_SERVER = "<html><body><h1>503 Service Unavailable</h1>\nNo server is available"

local HC = {}
HC.__index = HC
HC.__name = "koodrive.transport.haproxy"
HC.proxy = false

-- HAProxy's header lists are arrays from index 0; koodrive's are one string per name.
local function flat(headers)
  local out = {}
  for name, values in pairs(headers or {}) do
    local list = {}
    if type(values) == "table" then
      for i = 0, 64 do
        if values[i] == nil then break end
        list[#list + 1] = tostring(values[i])
      end
    else
      list[1] = tostring(values)
    end
    out[tostring(name):lower()] = table.concat(list, ", ")
  end
  return out
end

function HC.send(_, request)
  if type(request) ~= "table" then error("haproxy transport: send needs a request table", 2) end
  if request.proxy and (request.proxy ~= "env" or require("koodrive.pipeline").env_proxy()) then
    return nil, errors.config("proxy", "unsupported", "the haproxy transport cannot send through a proxy")
  end
  local verb = METHODS[request.method]
  if not verb then
    return nil, errors.new { kind = "validation", field = "method", rule = "method", retryable = false,
      message = "HAProxy's httpclient cannot send " .. tostring(request.method) ..
        "; use koodrive.transport.haproxy() (core.tcp) for it" }
  end
  local u, uerr = http1.target(request)
  if not u then return nil, uerr end
  local headers = {}
  for name, value in pairs(request.headers or {}) do
    local line = type(name) == "string" and validate.header_line(name, value)
    if not line then
      return nil, errors.new { kind = "validation", field = "headers", rule = "header_value", retryable = false,
        message = "header '" .. tostring(name) .. "' is not a safe header line" }
    end
    -- Framing is HAProxy's business here, as it is the built-in client's.
    if not http1.FRAMING[name:lower()] then headers[name] = { line } end
  end
  local made, hc = pcall(core.httpclient)
  if not made or not hc then
    return http1.failure("transport", "core.httpclient() is not usable here (" .. tostring(hc) .. ")")
  end
  local timeout = tonumber(request.timeout)
  local ok, res = pcall(hc[verb], hc, { url = request.url, headers = headers, body = request.body,
    timeout = timeout and timeout > 0 and math.max(1, math.floor(timeout * 1000)) or nil })
  if not ok then return http1.failure("transport", "HAProxy's httpclient failed: " .. tostring(res)) end
  if type(res) ~= "table" or type(res.status) ~= "number" or res.status < 100 then
    return http1.failure("transport", "HAProxy's httpclient gave no answer from " .. u.authority)
  end
  local body = type(res.body) == "string" and res.body or ""
  if res.status == 503 and body:sub(1, #NO_SERVER) == NO_SERVER then
    return http1.failure("connect", "HAProxy's httpclient reached no server at " .. u.authority ..
      " (refused, TLS verification failed, or the name did not resolve)")
  end
  local max_body = tonumber(request.max_body) or limits.MAX_BODY
  if #body > max_body then return http1.too_large(max_body) end
  return { status = res.status, headers = flat(res.headers), body = body, backend = "httpclient",
    reused = 0, new_connections = 1 }
end

function HC.close() end
function HC.__tostring() return "koodrive.transport.haproxy (httpclient)" end

function M.new()
  if type(core) ~= "table" or type(core.httpclient) ~= "function" then
    error("koodrive.transport.haproxy: this HAProxy has no core.httpclient (2.5 or later)", 3)
  end
  return setmetatable({}, HC)
end

return M
