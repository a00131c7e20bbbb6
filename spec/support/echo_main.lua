-- A hostile service for spec/secrets_spec.lua: it answers every request with an error that
-- echoes the caller's credentials back, in the way the path asks (/echo/<style>[/<n>]).
--
--   lua5.4 spec/support/echo_main.lua SECRETS_FILE PORT_FILE
--
-- SECRETS_FILE holds the secrets the service knows (a real service knows the app secret or
-- the SK it checks a signature with), one a line. The echoed text also holds the
-- credential headers the request carried. Runs on spec/support/httpd.lua until killed.
local dir = (arg and arg[0] or ""):match("^(.*)/spec/support/[^/]*$") or "."
package.path = dir .. "/spec/?.lua;" .. package.path

local httpd = require "support.httpd"

local secrets_file, port_file = arg[1], arg[2]
local known = {}
for line in io.lines(secrets_file) do
  if line ~= "" then known[#known + 1] = line end
end

local function percent(s)
  return (s:gsub("[^%w%-._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- JSON string content with every "/" as "\/" and every letter a-f as \u00xx.
local function json_escaped(s)
  return (s:gsub('[%c"\\/a-f]', function(c)
    if c == "/" or c == '"' or c == "\\" then return "\\" .. c end
    return string.format("\\u%04x", c:byte())
  end))
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function html_escaped(s)
  return (s:gsub("[/&<>+=]", function(c) return "&#" .. c:byte() .. ";" end))
end

local CREDENTIAL_HEADERS = { "authorization", "x-auth-token", "x-security-token" }

-- Everything the service could echo: what it knows and what it received.
local function echo_of(req)
  local parts = {}
  for _, s in ipairs(known) do parts[#parts + 1] = s end
  for _, name in ipairs(CREDENTIAL_HEADERS) do
    local v = req.headers[name]
    if v then parts[#parts + 1] = name .. ": " .. v end
  end
  return table.concat(parts, " ")
end

-- A body both envelopes read as an error: KooDrive code/msg, IoTDA error_code/error_msg.
local function envelope(code, msg)
  return "{" .. '"code":' .. json_string(code) .. ',"msg":' .. json_string(msg) ..
    ',"error_code":' .. json_string(code) .. ',"error_msg":' .. json_string(msg) .. "}"
end

local function answer(req)
  local style, n = req.path:match("^/echo/([%w_]+)/?(%d*)")
  local echo = echo_of(req)
  -- Every answer also echoes the credentials in headers: a cassette must not keep them.
  local headers = { { "Authorization", req.headers.authorization or "none" },
    { "X-Echo", (echo:gsub("[%c]", " ")) } }
  local function with(extra)
    for _, h in ipairs(extra) do headers[#headers + 1] = h end
    return headers
  end
  if style == "msg" then
    return 400, headers, envelope("KD.40001", "credential refused: " .. echo)
  elseif style == "code" then
    return 400, headers, envelope(echo, "refused")
  elseif style == "request_id" then
    return 400, with { { "X-Request-Id", (echo:gsub("[%c]", " ")) } }, envelope("KD.40002", "refused")
  elseif style == "html" then
    return 502, with { { "Content-Type", "text/html" } },
      "<html><body><h1>502 Bad Gateway</h1><p>" .. html_escaped(echo) .. "</p></body></html>"
  elseif style == "escaped" then
    -- Not JSON (cut short): the message quotes the body itself.
    return 400, with { { "Content-Type", "text/plain" } }, 'upstream: {"echo":"' .. json_escaped(echo) .. '",'
  elseif style == "escaped_msg" then
    return 400, headers, '{"code":"KD.40003","error_code":"KD.40003","msg":"' .. json_escaped(echo) ..
      '","error_msg":"' .. json_escaped(echo) .. '"}'
  elseif style == "percent" then
    return 400, headers, envelope("KD.40004", "retry at https://example.invalid/cb?state=" .. percent(echo))
  elseif style == "percent_body" then
    return 400, with { { "Content-Type", "text/plain" } }, "go to /cb?state=" .. percent(echo) .. " now"
  elseif style == "straddle" or style == "prefix" then
    -- Secret n across byte 200 of a body that is not JSON, or only its first 12 bytes at
    -- the end of the body (a service that cut its own echo).
    local s = known[tonumber(n) or 1]
    local filler = string.rep("x", 200 - math.floor(#s / 2))
    local body = style == "straddle" and (filler .. s .. " and more text after it")
      or (string.rep("y", 170) .. " " .. s:sub(1, 12))
    return 503, with { { "Content-Type", "text/plain" } }, body
  elseif style == "control" then
    return 400, with { { "X-Request-Id", "id\27[2J\27]0;owned\7" } },
      envelope("KD\r\n40005", "bad\r\nkoodrive info: forged line\27[31m red\27[0m \194\155 " .. echo)
  end
  return 404, headers, envelope("KD.40400", "no such style")
end

httpd.serve {
  host = "127.0.0.1",
  port = 0,
  handler = answer,
  error_body = function(status, why) return envelope("KD." .. status, why) end,
  on_listen = function(port)
    local f = assert(io.open(port_file .. ".tmp", "w"))
    f:write(port, "\n")
    f:close()
    assert(os.rename(port_file .. ".tmp", port_file))
  end,
}
