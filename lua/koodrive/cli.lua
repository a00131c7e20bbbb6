--- The `koodrive` command: the library's operations from a shell.
--
--   koodrive devices list|bind|unbind, koodrive groups delete-members,
--   koodrive iotda unbind-policy, koodrive call METHOD PATH
--
-- bin/koodrive only calls main(arg) and exits with its code; everything else is here, so
-- the command can also be driven in-process. Runs on Lua 5.1-5.4 and LuaJIT.
--
-- Configuration comes from flags, then KOODRIVE_* environment variables, then a profile
-- file (INI, one section per profile), which is refused when group or others may read it.
-- Exit codes: 0 ok, 1 partial failure (bulk), 2 usage, 3 config, 4 validation,
-- 5 service (api/http/decode), 6 transport/timeout.
local koodrive = require "koodrive"
local json = require "koodrive.json"
local pipeline = require "koodrive.pipeline"
local vault = require "koodrive.secrets"
local errors_printable = require("koodrive.errors").printable

local cli = {}

local EXIT = { ok = 0, partial = 1, usage = 2, config = 3, validation = 4, service = 5, transport = 6 }
cli.EXIT = EXIT

local KIND_EXIT = { config = 3, validation = 4, api = 5, http = 5, decode = 5, transport = 6, timeout = 6 }

-- A failure that ends the command: raised with error() and turned into an exit code by main.
local Failure = {}
Failure.__index = Failure
local function fail(code, message)
  error(setmetatable({ code = code, message = message }, Failure), 0)
end
local function usage(message) fail(EXIT.usage, message .. " (try --help)") end
local function config_error(message) fail(EXIT.config, message) end

-- A library error ends the command with the exit code of its kind.
local function fail_with(err)
  fail(KIND_EXIT[err.kind] or EXIT.service, tostring(err))
end

--------------------------------------------------------------------------------------------
-- Help
--------------------------------------------------------------------------------------------

local CONFIG_HELP = [[
Configuration (first found wins: flag, then environment, then profile file):
  --endpoint URL        KOODRIVE_ENDPOINT        endpoint        KooDrive base URL
  --user-id ID          KOODRIVE_USER_ID         user_id         X-User-Id (1-19 digits)
  --token TOKEN         KOODRIVE_TOKEN           token           bearer token
  --app-id ID           KOODRIVE_APP_ID          app_id          app mode (with app_secret)
  --app-secret SECRET   KOODRIVE_APP_SECRET      app_secret
  --timeout SECONDS     KOODRIVE_TIMEOUT         timeout         per-request time limit
  --proxy URL|env|none  KOODRIVE_PROXY           proxy           default "env": http_proxy,
                                                                 HTTPS_PROXY, ALL_PROXY, NO_PROXY
  --profile NAME        KOODRIVE_PROFILE         (default "default")
  --config PATH         KOODRIVE_CONFIG          (default ~/.config/koodrive/config)
  Secrets given as flags are visible to other users in `ps`: prefer the environment or
  the profile file. The profile file is INI ([default], [name] sections, key = value) and
  is refused unless only its owner can read it (chmod 600).]]

local IOTDA_CONFIG_HELP = [[
IoTDA configuration (flag, environment, profile key):
  --iotda-endpoint URL  KOODRIVE_IOTDA_ENDPOINT  iotda_endpoint
  --project-id ID       KOODRIVE_PROJECT_ID      project_id
  --ak AK --sk SK       KOODRIVE_AK, KOODRIVE_SK ak, sk          AK/SK signing
  --security-token T    KOODRIVE_SECURITY_TOKEN  security_token  temporary AK/SK
  --iam-token TOKEN     KOODRIVE_IAM_TOKEN       iam_token       or an IAM token
  --region REGION       KOODRIVE_REGION          region          needed for derived signing
  --derived             KOODRIVE_DERIVED         derived         V11 derived signing (true/false)
  --instance-id ID      KOODRIVE_INSTANCE_ID     instance_id]]

local COMMON_HELP = [[
Output and exit codes:
  --json                one JSON document on stdout (default: a readable table)
  --dry-run             print the signed request(s), secrets redacted, and send nothing
  -h, --help            this help
  Errors go to standard error as "koodrive: <error>". Exit codes: 0 ok, 1 some items of a
  bulk command failed, 2 usage, 3 config, 4 validation, 5 service error, 6 transport/timeout.]]

local BULK_HELP = [[
Ids come from the arguments, from --file PATH (one per line, "-" for standard input, blank
lines and lines starting with # skipped) or, when neither is given and standard input is
not a terminal, from standard input.
  --concurrency N       calls in flight at once, 1-256 (default 8)
  --file PATH           read ids from PATH ("-": standard input)
A progress bar is drawn on standard error when it is a terminal.]]

local HELP = {}

HELP.main = [[
Usage: koodrive COMMAND [SUBCOMMAND] [ARGS] [FLAGS]

Commands:
  devices list                         list the bound devices
  devices bind --machine-code CODE     bind a device
  devices unbind ID...                 unbind devices (bulk)
  groups delete-members GROUP ID...    delete members from a user group (bulk)
  iotda unbind-policy POLICY --target-type device|product|app ID...
                                       unbind targets from an IoTDA device policy (bulk)
  call METHOD PATH [--query k=v]... [--body JSON]
                                       any KooDrive (or, with --iotda, IoTDA) endpoint
  help [COMMAND]                       help on a command

]] .. CONFIG_HELP .. "\n\n" .. COMMON_HELP .. "\n"

HELP.devices = [[
Usage: koodrive devices list|bind|unbind [ARGS] [FLAGS]

  devices list                                   list the bound devices
  devices bind --machine-code CODE [--device-name NAME] [--device-os OS]
  devices unbind ID... | --file PATH             unbind devices

Run "koodrive devices SUBCOMMAND --help" for details.
]]

HELP["devices list"] = [[
Usage: koodrive devices list [FLAGS]

Lists the devices bound to the user: deviceId, machineCode, deviceName, deviceOS,
createTime. With --json: {"devices": [ ... ]}.

]] .. CONFIG_HELP .. "\n\n" .. COMMON_HELP .. "\n"

HELP["devices bind"] = [[
Usage: koodrive devices bind --machine-code CODE [--device-name NAME] [--device-os OS] [FLAGS]

Binds a device and prints it. With --json: the device object.
  --machine-code CODE   required, [A-Za-z0-9_]{1,64}
  --device-name NAME    optional, [A-Za-z0-9-_ ]{1,32}
  --device-os OS        optional, [A-Za-z0-9_ ]{1,32}

]] .. CONFIG_HELP .. "\n\n" .. COMMON_HELP .. "\n"

HELP["devices unbind"] = [[
Usage: koodrive devices unbind [ID...] [--file PATH] [--concurrency N] [FLAGS]

Unbinds each device and prints one line per id: "ok" or "failed: reason". With --json:
{"ok": N, "failed": N, "results": [{"id", "ok", "device" | "error"}]}.

]] .. BULK_HELP .. "\n\n" .. CONFIG_HELP .. "\n\n" .. COMMON_HELP .. "\n"

HELP.groups = [[
Usage: koodrive groups delete-members GROUP_ID [USER_ID...] [FLAGS]

Run "koodrive groups delete-members --help" for details.
]]

HELP["groups delete-members"] = [[
Usage: koodrive groups delete-members GROUP_ID [USER_ID...] [--file PATH] [--concurrency N] [FLAGS]

Deletes the users from the group, in calls of up to 100 ids, and prints one line per id:
"ok" or "failed: reason" (an id the service refused, e.g. not a member). With --json:
{"groupId", "ok": N, "failed": N, "results": [{"id", "ok", "refused" | "error"}]}.

]] .. BULK_HELP .. "\n\n" .. CONFIG_HELP .. "\n\n" .. COMMON_HELP .. "\n"

HELP.iotda = [[
Usage: koodrive iotda unbind-policy POLICY_ID --target-type device|product|app [ID...] [FLAGS]

Run "koodrive iotda unbind-policy --help" for details.
]]

HELP["iotda unbind-policy"] = [[
Usage: koodrive iotda unbind-policy POLICY_ID --target-type device|product|app [ID...] [FLAGS]

Unbinds the targets from an IoTDA device policy, in calls of 20 ids, and prints one line
per id: "ok" or "failed: reason". With --json: {"policy_id", "target_type", "ok": N,
"failed": N, "results": [{"id", "ok", "error": {"code", "message"}}]}.
  --target-type TYPE    device, product or app (required)

]] .. BULK_HELP .. "\n\n" .. IOTDA_CONFIG_HELP .. "\n\n" .. COMMON_HELP .. "\n"

HELP.call = [[
Usage: koodrive call METHOD PATH [--query NAME=VALUE]... [--body JSON] [--iotda] [FLAGS]

Sends any request through the client (validation, signing, retries, error envelope) and
prints the decoded response envelope: as "key  value" lines (nested keys joined with "."),
or with --json as the JSON document. Ids of 16 digits or more are kept exact, as strings.
  METHOD                GET, POST, PUT, DELETE, PATCH or HEAD
  PATH                  path below the endpoint, starting with "/"
  --query NAME=VALUE    a query parameter (repeat for more)
  --body JSON           the request body, sent as given (it must be valid JSON)
  --iotda               send to the IoTDA endpoint with the IoTDA credentials

]] .. CONFIG_HELP .. "\n\n" .. IOTDA_CONFIG_HELP .. "\n\n" .. COMMON_HELP .. "\n"

--------------------------------------------------------------------------------------------
-- Flags
--------------------------------------------------------------------------------------------

-- name -> { value = takes a value, multi = repeatable }
local FLAGS = {
  endpoint = { value = true }, ["user-id"] = { value = true }, token = { value = true },
  ["app-id"] = { value = true }, ["app-secret"] = { value = true },
  profile = { value = true }, config = { value = true }, timeout = { value = true }, proxy = { value = true },
  json = {}, ["dry-run"] = {}, help = {},
  ["iotda-endpoint"] = { value = true }, ["project-id"] = { value = true },
  ak = { value = true }, sk = { value = true }, ["security-token"] = { value = true },
  ["iam-token"] = { value = true }, region = { value = true }, derived = {},
  ["instance-id"] = { value = true },
  concurrency = { value = true }, file = { value = true },
  query = { value = true, multi = true }, body = { value = true }, iotda = {},
  ["machine-code"] = { value = true }, ["device-name"] = { value = true },
  ["device-os"] = { value = true }, ["target-type"] = { value = true },
}

local GLOBAL = { endpoint = true, ["user-id"] = true, token = true, ["app-id"] = true,
  ["app-secret"] = true, profile = true, config = true, timeout = true, proxy = true, json = true,
  ["dry-run"] = true, help = true }
local IOTDA_FLAGS = { ["iotda-endpoint"] = true, ["project-id"] = true, ak = true, sk = true,
  ["security-token"] = true, ["iam-token"] = true, region = true, derived = true,
  ["instance-id"] = true }
local BULK = { concurrency = true, file = true }

local function union(...)
  local out = {}
  for i = 1, select("#", ...) do
    for k in pairs((select(i, ...))) do out[k] = true end
  end
  return out
end

-- The flags each command accepts.
local COMMAND_FLAGS = {
  ["devices list"] = union(GLOBAL),
  ["devices bind"] = union(GLOBAL, { ["machine-code"] = true, ["device-name"] = true, ["device-os"] = true }),
  ["devices unbind"] = union(GLOBAL, BULK),
  ["groups delete-members"] = union(GLOBAL, BULK),
  ["iotda unbind-policy"] = union(GLOBAL, IOTDA_FLAGS, BULK, { ["target-type"] = true }),
  ["call"] = union(GLOBAL, IOTDA_FLAGS, { query = true, body = true, iotda = true }),
}

--- Splits argv into flags ({ name = value | true | {values} }) and positional words.
local function parse_argv(argv)
  local flags, words = {}, {}
  local i, n = 1, #argv
  local only_words = false
  while i <= n do
    local a = argv[i]
    if only_words then
      words[#words + 1] = a
    elseif a == "--" then
      only_words = true
    elseif a == "-h" then
      flags.help = true
    elseif a:sub(1, 2) == "--" and #a > 2 then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      if not name then name = a:sub(3) end
      local def = FLAGS[name]
      if not def then usage("unknown flag --" .. name) end
      if def.value then
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then usage("--" .. name .. " needs a value") end
        end
        if def.multi then
          flags[name] = flags[name] or {}
          table.insert(flags[name], value)
        else
          if flags[name] ~= nil then usage("--" .. name .. " given twice") end
          flags[name] = value
        end
      else
        if value ~= nil then usage("--" .. name .. " takes no value") end
        flags[name] = true
      end
    elseif a:sub(1, 1) == "-" and #a > 1 then
      usage("unknown flag " .. a)
    else
      words[#words + 1] = a
    end
    i = i + 1
  end
  return flags, words
end

--------------------------------------------------------------------------------------------
-- Environment, terminals, files
--------------------------------------------------------------------------------------------

local function succeeded(status)
  return status == true or status == 0
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

-- Whether file descriptor fd (1 or 2) is a terminal; KOODRIVE_FORCE_TTY=1|0 overrides.
local function is_tty(ctx, fd)
  local force = ctx.getenv("KOODRIVE_FORCE_TTY")
  if force == "1" then return true elseif force == "0" then return false end
  return succeeded(os.execute("test -t " .. fd))
end

local function read_all(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

-- The permission bits of a file as an octal string ("600"), or nil.
local function file_mode(path)
  local p = io.popen("stat -c %a " .. shell_quote(path) .. " 2>/dev/null")
  if not p then return nil end
  local out = p:read("*a") or ""
  p:close()
  return out:match("^%s*([0-7]+)%s*$")
end

--------------------------------------------------------------------------------------------
-- Configuration
--------------------------------------------------------------------------------------------

-- key, flag, environment variable
local KEYS = {
  { "endpoint", "endpoint", "KOODRIVE_ENDPOINT" },
  { "user_id", "user-id", "KOODRIVE_USER_ID" },
  { "token", "token", "KOODRIVE_TOKEN" },
  { "app_id", "app-id", "KOODRIVE_APP_ID" },
  { "app_secret", "app-secret", "KOODRIVE_APP_SECRET" },
  { "timeout", "timeout", "KOODRIVE_TIMEOUT" },
  { "proxy", "proxy", "KOODRIVE_PROXY" },
  { "iotda_endpoint", "iotda-endpoint", "KOODRIVE_IOTDA_ENDPOINT" },
  { "project_id", "project-id", "KOODRIVE_PROJECT_ID" },
  { "ak", "ak", "KOODRIVE_AK" },
  { "sk", "sk", "KOODRIVE_SK" },
  { "security_token", "security-token", "KOODRIVE_SECURITY_TOKEN" },
  { "iam_token", "iam-token", "KOODRIVE_IAM_TOKEN" },
  { "region", "region", "KOODRIVE_REGION" },
  { "derived", "derived", "KOODRIVE_DERIVED" },
  { "instance_id", "instance-id", "KOODRIVE_INSTANCE_ID" },
}
local KNOWN_KEYS = {}
for _, k in ipairs(KEYS) do KNOWN_KEYS[k[1]] = k end

-- Credentials of one auth mode come from one source only, so a token in the profile never
-- mixes with an app id from the environment.
local AUTH_GROUPS = {
  { token = true, app_id = true, app_secret = true },
  { iam_token = true, ak = true, sk = true, security_token = true },
}
local SECRET_KEYS = { "token", "app_secret", "sk", "security_token", "iam_token" }

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

--- Parses an INI profile file; returns { [section] = { key = value } }.
local function parse_profiles(text, path)
  local sections, current = {}, nil
  local lineno = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    line = trim(line:gsub("\r$", ""))
    local blank_or_comment = line == "" or line:find("^[#;]")
    if blank_or_comment then -- luacheck: ignore 542
      -- nothing to read on a blank or comment line
    elseif line:find("^%[") then
      local name = line:match("^%[%s*([^%]]-)%s*%]$")
      if not name or name == "" then
        config_error(path .. ":" .. lineno .. ": bad section header " .. line)
      end
      sections[name] = sections[name] or {}
      current = sections[name]
    else
      local key, value = line:match("^([%w_%-]+)%s*=%s*(.-)$")
      if not key then config_error(path .. ":" .. lineno .. ": expected key = value") end
      key = key:gsub("%-", "_")
      if not KNOWN_KEYS[key] then
        config_error(path .. ":" .. lineno .. ": unknown key '" .. key .. "'")
      end
      if not current then
        config_error(path .. ":" .. lineno .. ": '" .. key .. "' is outside any [profile] section")
      end
      local quoted = value:match('^"(.*)"$') or value:match("^'(.*)'$")
      current[key] = quoted or value
    end
  end
  return sections
end

-- The profile's values ({} when there is no file at the default path).
local function load_profile(ctx, flags)
  local explicit = flags.config or ctx.getenv("KOODRIVE_CONFIG")
  local path = explicit
  if not path then
    local home = ctx.getenv("HOME")
    if not home or home == "" then return {}, nil end
    path = home .. "/.config/koodrive/config"
  end
  local name = flags.profile or ctx.getenv("KOODRIVE_PROFILE")
  local text = read_all(path)
  if not text then
    if explicit then config_error("cannot read config file " .. path) end
    if name and name ~= "default" then
      config_error("profile '" .. name .. "' requested but there is no config file " .. path)
    end
    return {}, path
  end
  local mode = file_mode(path)
  if not mode then config_error("cannot check the permissions of config file " .. path) end
  local group = tonumber(mode:sub(-2, -2)) or 0
  local other = tonumber(mode:sub(-1)) or 0
  if group >= 4 or other >= 4 then
    config_error("config file " .. path .. " is readable by others (mode " .. mode ..
      "); it holds secrets: run chmod 600 " .. path)
  end
  local sections = parse_profiles(text, path)
  local section = sections[name or "default"]
  if not section then
    if name then config_error("profile '" .. name .. "' not found in " .. path) end
    return {}, path
  end
  return section, path
end

--- The merged configuration: flags, then environment, then profile.
local function resolve_config(ctx, flags)
  local profile, path = load_profile(ctx, flags)
  local levels = { {}, {}, profile }
  for _, k in ipairs(KEYS) do
    local key, flag, env = k[1], k[2], k[3]
    local fv = flags[flag]
    if fv ~= nil then levels[1][key] = (fv == true) and "true" or fv end
    local ev = ctx.getenv(env)
    if ev ~= nil and ev ~= "" then levels[2][key] = ev end
  end
  local cfg = {}
  for _, k in ipairs(KEYS) do
    local key = k[1]
    for l = 1, 3 do
      if levels[l][key] ~= nil then cfg[key] = levels[l][key]; break end
    end
  end
  for _, group in ipairs(AUTH_GROUPS) do
    for l = 1, 3 do
      local found = false
      for key in pairs(group) do if levels[l][key] ~= nil then found = true end end
      if found then
        for key in pairs(group) do cfg[key] = levels[l][key] end
        break
      end
    end
  end
  cfg._path = path
  cfg._profile = flags.profile or ctx.getenv("KOODRIVE_PROFILE") or "default"
  return cfg
end

local function where(cfg, key)
  local k = KNOWN_KEYS[key]
  local text = "--" .. k[2] .. ", " .. k[3] .. " or " .. key .. " in [" .. cfg._profile .. "]"
  if cfg._path then text = text .. " of " .. cfg._path end
  return text
end

local function require_key(cfg, key)
  if cfg[key] == nil or cfg[key] == "" then config_error("missing " .. key .. ": set " .. where(cfg, key)) end
  return cfg[key]
end

local function timeout_of(cfg)
  if cfg.timeout == nil then return nil end
  local t = tonumber(cfg.timeout)
  if not t or t <= 0 then config_error("timeout must be a positive number of seconds, got " .. cfg.timeout) end
  return t
end

-- The command follows the standard proxy variables unless told otherwise (the library itself
-- uses no proxy it was not given): "none" goes direct.
local function proxy_of(cfg)
  if cfg.proxy == nil then return "env" end
  if cfg.proxy == "none" then return false end
  return cfg.proxy
end

local function koodrive_client(cfg)
  require_key(cfg, "endpoint")
  require_key(cfg, "user_id")
  if not cfg.token and not (cfg.app_id and cfg.app_secret) then
    config_error("missing credentials: set token (" .. where(cfg, "token") ..
      ") or app_id and app_secret")
  end
  local c, err = koodrive.new { endpoint = cfg.endpoint, user_id = cfg.user_id, token = cfg.token,
    app_id = cfg.app_id, app_secret = cfg.app_secret, timeout = timeout_of(cfg), proxy = proxy_of(cfg) }
  if not c then fail(EXIT.config, tostring(err)) end
  return c
end

local function iotda_client(cfg)
  require_key(cfg, "iotda_endpoint")
  require_key(cfg, "project_id")
  if not cfg.iam_token and not (cfg.ak and cfg.sk) then
    config_error("missing IoTDA credentials: set ak and sk (" .. where(cfg, "ak") ..
      ") or iam_token (" .. where(cfg, "iam_token") .. ")")
  end
  local derived
  if cfg.derived ~= nil then
    local d = cfg.derived:lower()
    if d == "true" or d == "1" or d == "yes" then derived = true
    elseif d == "false" or d == "0" or d == "no" then derived = false
    else config_error("derived must be true or false, got " .. cfg.derived) end
  end
  local c, err = koodrive.iotda.new { endpoint = cfg.iotda_endpoint, project_id = cfg.project_id,
    ak = cfg.ak, sk = cfg.sk, security_token = cfg.security_token, token = cfg.iam_token,
    region = cfg.region, derived = derived, instance_id = cfg.instance_id,
    timeout = timeout_of(cfg), proxy = proxy_of(cfg) }
  if not c then fail(EXIT.config, tostring(err)) end
  return c
end

--------------------------------------------------------------------------------------------
-- Output
--------------------------------------------------------------------------------------------

local function encode(value)
  local text, err = json.encode(value)
  if not text then fail(EXIT.service, "cannot write JSON: " .. tostring(err)) end
  return text
end

local function array(t) return json.array(t) end

local function plain_error(err)
  if type(err) ~= "table" then return { message = tostring(err) } end
  return { kind = err.kind, message = err.message, code = err.code, status = err.status,
    field = err.field, request_id = err.request_id }
end

local function cell(v)
  if v == nil or v == json.null then return "-" end
  return tostring(v)
end

-- Rows of cells written with aligned columns (the last column is not padded).
-- Cells come from the service: shown printable, so no text of its can drive the terminal.
local function table_text(rows)
  for _, row in ipairs(rows) do
    for i, c in ipairs(row) do row[i] = errors_printable(c) end
  end
  local widths = {}
  for _, row in ipairs(rows) do
    for i, c in ipairs(row) do
      if #c > (widths[i] or 0) then widths[i] = #c end
    end
  end
  local lines = {}
  for _, row in ipairs(rows) do
    local parts = {}
    for i, c in ipairs(row) do
      parts[i] = (i < #row) and (c .. string.rep(" ", widths[i] - #c)) or c
    end
    lines[#lines + 1] = table.concat(parts, "  ")
  end
  return table.concat(lines, "\n") .. "\n"
end

local DEVICE_COLUMNS = { "deviceId", "machineCode", "deviceName", "deviceOS", "createTime" }

local function devices_text(devices)
  local rows = { DEVICE_COLUMNS }
  for _, d in ipairs(devices) do
    local row = {}
    for i, name in ipairs(DEVICE_COLUMNS) do row[i] = cell(d[name]) end
    rows[#rows + 1] = row
  end
  return table_text(rows)
end

-- "key  value" lines for a decoded JSON value, nested keys joined with ".".
local function flatten(value, prefix, rows)
  if type(value) == "table" and value ~= json.null then
    local keys = {}
    for k in pairs(value) do keys[#keys + 1] = k end
    if #keys == 0 then
      rows[#rows + 1] = { prefix ~= "" and prefix or "(empty)", "{}" }
      return rows
    end
    table.sort(keys, function(a, b)
      if type(a) == type(b) then return a < b end
      return type(a) == "number"
    end)
    for _, k in ipairs(keys) do
      local name
      if type(k) == "number" then name = prefix .. "[" .. k .. "]"
      elseif prefix == "" then name = tostring(k)
      else name = prefix .. "." .. tostring(k) end
      flatten(value[k], name, rows)
    end
  else
    local text = value == json.null and "null" or tostring(value)
    rows[#rows + 1] = { prefix ~= "" and prefix or "(value)", text }
  end
  return rows
end

--------------------------------------------------------------------------------------------
-- Dry run: signed requests, secrets redacted
--------------------------------------------------------------------------------------------

-- The values of the configured secrets, taken out of everything a dry run prints in every
-- form koodrive.secrets knows (raw, percent-encoded in a URL, JSON-escaped in a body).
local function redactor(cfg)
  local secrets = {}
  for _, key in ipairs(SECRET_KEYS) do
    local v = cfg[key]
    if type(v) == "string" and #v >= vault.MIN_LENGTH then secrets[#secrets + 1] = v end
  end
  return secrets, function(s)
    if type(s) ~= "string" then return s end
    return vault.redact(s, secrets)
  end
end

local function redacted_request(request, redact)
  local headers = {}
  for name, value in pairs(request.headers) do
    headers[name] = vault.header(name) and vault.MARK or redact(value)
  end
  return { method = request.method, url = redact(request.url), headers = headers,
    body = redact(request.body or "") }
end

local function request_text(r)
  local lines = { r.method .. " " .. r.url }
  local names = {}
  for name in pairs(r.headers) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do lines[#lines + 1] = name .. ": " .. r.headers[name] end
  lines[#lines + 1] = ""
  if r.body ~= "" then lines[#lines + 1] = r.body end
  return table.concat(lines, "\n") .. "\n"
end

-- Builds the signed request an operation would send, through client:prepare.
local function prepare_operation(client, service, method, path_values, ...)
  local op = client[service]._ops[method]
  local args, err = pipeline.check_args(op, ...)
  if not args then fail_with(err) end
  local body
  if op.body then
    local berr
    body, berr = op.body(args)
    if not body then fail(EXIT.validation, "cannot encode the body: " .. tostring(berr)) end
  end
  local path = op.path:gsub("{([%w_]+)}", function(name)
    local v = args[name]
    if v == nil then v = path_values[name] end
    return tostring(v)
  end)
  local request, perr = client:prepare { method = op.method, path = path, body = body }
  if not request then fail_with(perr) end
  return request
end

local function print_dry_run(ctx, requests, redact)
  local shown = {}
  for i, r in ipairs(requests) do shown[i] = redacted_request(r, redact) end
  if ctx.flags.json then
    ctx.out(encode({ dry_run = true, requests = array(shown) }) .. "\n")
  else
    local parts = {}
    for i, r in ipairs(shown) do parts[i] = request_text(r) end
    ctx.out(table.concat(parts, "\n"))
  end
  return EXIT.ok
end

--------------------------------------------------------------------------------------------
-- Bulk input and progress
--------------------------------------------------------------------------------------------

local function split_ids(text, ids)
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = trim(line)
    if line ~= "" and not line:find("^#") then ids[#ids + 1] = line end
  end
  return ids
end

-- Ids from the words, --file, or standard input when it is not a terminal.
local function collect_ids(ctx, words, what)
  local ids = {}
  for _, w in ipairs(words) do ids[#ids + 1] = w end
  local file = ctx.flags.file
  if file == "-" then
    split_ids(ctx.stdin:read("*a") or "", ids)
  elseif file then
    local text, err = read_all(file)
    if not text then usage("cannot read --file " .. file .. ": " .. tostring(err)) end
    split_ids(text, ids)
  elseif #ids == 0 and not succeeded(os.execute("test -t 0")) then
    split_ids(ctx.stdin:read("*a") or "", ids)
  end
  if #ids == 0 then usage("no " .. what .. " given: pass them as arguments, with --file PATH or on standard input") end
  return ids
end

local function concurrency_of(ctx)
  local c = ctx.flags.concurrency
  if c == nil then return nil end
  local n = tonumber(c)
  if not n or n % 1 ~= 0 or n < 1 or n > 256 then usage("--concurrency must be a whole number from 1 to 256") end
  return n
end

-- A progress callback drawing "[#####.....] 12/40" on standard error when it is a terminal.
local function progress_bar(ctx, total, weight)
  if not is_tty(ctx, 2) then return nil, function() end end
  local done, width = 0, 20
  local function draw()
    local filled = total > 0 and math.floor(done * width / total) or width
    ctx.err("\r[" .. string.rep("#", filled) .. string.rep(".", width - filled) .. "] " ..
      done .. "/" .. total)
  end
  draw()
  return function(_, _, item)
    done = done + (weight and weight(item) or 1)
    if done > total then done = total end
    draw()
  end, function() ctx.err("\n") end
end

-- Prints bulk results; returns the exit code. results = { {id, ok, reason, error, extra} }
local function finish_bulk(ctx, results, header)
  local ok_count, failed_count = 0, 0
  local first_failure
  for _, r in ipairs(results) do
    if r.ok then ok_count = ok_count + 1 else
      failed_count = failed_count + 1
      first_failure = first_failure or r
    end
  end
  if ctx.flags.json then
    local doc = {}
    for k, v in pairs(header or {}) do doc[k] = v end
    doc.ok, doc.failed = ok_count, failed_count
    local items = {}
    for i, r in ipairs(results) do
      local item = { id = r.id, ok = r.ok }
      for k, v in pairs(r.extra or {}) do item[k] = v end
      -- Per-target failures quote the service (IoTDA error_msg): no secret of ours in them.
      if r.error then item.error = vault.redact_value(r.error, ctx.secret_values) end
      items[i] = item
    end
    doc.results = array(items)
    ctx.out(encode(doc) .. "\n")
  else
    local rows = {}
    for i, r in ipairs(results) do
      rows[i] = { r.id, r.ok and "ok" or ("failed: " .. vault.redact(r.reason, ctx.secret_values)) }
    end
    ctx.out(table_text(rows))
    ctx.out(ok_count .. " ok, " .. failed_count .. " failed\n")
  end
  if failed_count == 0 then return EXIT.ok end
  if ok_count > 0 then return EXIT.partial end
  return first_failure.exit or EXIT.service
end

--------------------------------------------------------------------------------------------
-- Commands
--------------------------------------------------------------------------------------------

local commands = {}

commands["devices list"] = function(ctx, words)
  if #words > 0 then usage("devices list takes no arguments") end
  local client = koodrive_client(ctx.config())
  if ctx.flags["dry-run"] then
    return print_dry_run(ctx, { prepare_operation(client, "devices", "list", {}) }, ctx.redact)
  end
  local devices, err = client.devices:list()
  if not devices then fail_with(err) end
  if ctx.flags.json then
    ctx.out(encode({ devices = array(devices) }) .. "\n")
  elseif #devices == 0 then
    ctx.out("no devices\n")
  else
    ctx.out(devices_text(devices))
  end
  return EXIT.ok
end

commands["devices bind"] = function(ctx, words)
  if #words > 0 then usage("devices bind takes no arguments (use --machine-code)") end
  local f = ctx.flags
  if not f["machine-code"] then usage("devices bind needs --machine-code") end
  local device = { machineCode = f["machine-code"], deviceName = f["device-name"], deviceOS = f["device-os"] }
  local client = koodrive_client(ctx.config())
  if f["dry-run"] then
    return print_dry_run(ctx, { prepare_operation(client, "devices", "bind", {}, device) }, ctx.redact)
  end
  local d, err = client.devices:bind(device)
  if not d then fail_with(err) end
  if f.json then ctx.out(encode(d) .. "\n") else ctx.out(devices_text({ d })) end
  return EXIT.ok
end

commands["devices unbind"] = function(ctx, words)
  local concurrency = concurrency_of(ctx)
  local ids = collect_ids(ctx, words, "device ids")
  local client = koodrive_client(ctx.config())
  if ctx.flags["dry-run"] then
    local requests = {}
    for i, id in ipairs(ids) do requests[i] = prepare_operation(client, "devices", "unbind", {}, id) end
    return print_dry_run(ctx, requests, ctx.redact)
  end
  local progress, done = progress_bar(ctx, #ids)
  local r, err = client.devices:unbind_many(ids, { concurrency = concurrency, progress = progress })
  done()
  if not r then fail_with(err) end
  -- Back to input order: each id's outcomes, in the order they were reported.
  local outcomes = {}
  local function push(id, o)
    outcomes[id] = outcomes[id] or {}
    table.insert(outcomes[id], o)
  end
  for _, d in ipairs(r.done) do push(d.deviceId, { ok = true, extra = { device = d.device } }) end
  for _, f in ipairs(r.failed) do
    push(f.deviceId, { ok = false, reason = tostring(f.error), error = plain_error(f.error),
      exit = KIND_EXIT[f.error.kind] })
  end
  -- May have been unbound (koodrive.batch): not ok, but never reported as refused.
  for _, u in ipairs(r.uncertain or {}) do
    push(u.deviceId, { ok = false, reason = "uncertain, may have been done: " .. tostring(u.error),
      error = plain_error(u.error), extra = { uncertain = true }, exit = KIND_EXIT[u.error.kind] })
  end
  local results = {}
  for i, id in ipairs(ids) do
    local o = table.remove(outcomes[id], 1)
    o.id = id
    results[i] = o
  end
  return finish_bulk(ctx, results)
end

local GROUP_CHUNK = 100

commands["groups delete-members"] = function(ctx, words)
  local group_id = table.remove(words, 1)
  if not group_id then usage("groups delete-members needs GROUP_ID") end
  local concurrency = concurrency_of(ctx)
  local ids = collect_ids(ctx, words, "user ids")
  local client = koodrive_client(ctx.config())
  local groups = {}
  for first = 1, #ids, GROUP_CHUNK do
    local chunk = {}
    for i = first, math.min(first + GROUP_CHUNK - 1, #ids) do chunk[#chunk + 1] = ids[i] end
    groups[#groups + 1] = { group_id, chunk }
  end
  if ctx.flags["dry-run"] then
    local requests = {}
    for i, g in ipairs(groups) do
      requests[i] = prepare_operation(client, "usergroups", "delete_members", {}, g[1], g[2])
    end
    return print_dry_run(ctx, requests, ctx.redact)
  end
  local progress, done = progress_bar(ctx, #ids, function(g) return #g[2] end)
  local r, err = client.usergroups:delete_members_many(groups, { concurrency = concurrency, progress = progress })
  done()
  if not r then fail_with(err) end
  local results = {}
  for _, d in ipairs(r.deleted) do results[#results + 1] = { id = d.userId, ok = true } end
  for _, f in ipairs(r.failed) do
    if f.refused then
      results[#results + 1] = { id = f.userId, ok = false, reason = "refused by the service",
        extra = { refused = true }, exit = EXIT.service }
    else
      results[#results + 1] = { id = f.userId, ok = false, reason = tostring(f.error),
        error = plain_error(f.error), exit = KIND_EXIT[f.error.kind] }
    end
  end
  for _, u in ipairs(r.uncertain or {}) do
    results[#results + 1] = { id = u.userId, ok = false, extra = { uncertain = true },
      reason = "uncertain, may have been done" .. (u.error and (": " .. tostring(u.error)) or ""),
      error = u.error and plain_error(u.error), exit = u.error and KIND_EXIT[u.error.kind] or EXIT.service }
  end
  return finish_bulk(ctx, results, { groupId = group_id })
end

commands["iotda unbind-policy"] = function(ctx, words)
  local policy_id = table.remove(words, 1)
  if not policy_id then usage("iotda unbind-policy needs POLICY_ID") end
  local target_type = ctx.flags["target-type"]
  if not target_type then usage("iotda unbind-policy needs --target-type device|product|app") end
  local concurrency = concurrency_of(ctx)
  local ids = collect_ids(ctx, words, "target ids")
  local cfg = ctx.config()
  local client = iotda_client(cfg)
  if ctx.flags["dry-run"] then
    local requests = {}
    for first = 1, #ids, 20 do
      local chunk = {}
      for i = first, math.min(first + 19, #ids) do chunk[#chunk + 1] = ids[i] end
      requests[#requests + 1] = prepare_operation(client, "device_policies", "unbind",
        { project_id = cfg.project_id }, policy_id, { target_type = target_type, target_ids = chunk })
    end
    return print_dry_run(ctx, requests, ctx.redact)
  end
  local progress, done = progress_bar(ctx, #ids, function(chunk) return #chunk end)
  local r, err = client.device_policies:unbind_all(policy_id,
    { target_type = target_type, target_ids = ids }, { concurrency = concurrency, progress = progress })
  done()
  if not r then fail_with(err) end
  local outcomes = {}
  for _, id in ipairs(r.success_targets) do outcomes[id] = { ok = true } end
  for _, f in ipairs(r.failure_targets) do
    local reason = tostring(f.error_code) .. ": " .. tostring(f.error_msg)
    outcomes[f.target_id] = { ok = false, reason = reason,
      error = { code = f.error_code, message = f.error_msg, kind = f.error and f.error.kind },
      exit = f.error and KIND_EXIT[f.error.kind] or EXIT.service }
  end
  for _, f in ipairs(r.uncertain_targets or {}) do
    outcomes[f.target_id] = { ok = false, reason = "uncertain, may have been done: " ..
      tostring(f.error_code) .. ": " .. tostring(f.error_msg),
      error = { code = f.error_code, message = f.error_msg, kind = f.error and f.error.kind, uncertain = true },
      exit = f.error and KIND_EXIT[f.error.kind] or EXIT.service }
  end
  local results = {}
  for i, id in ipairs(ids) do
    local o = outcomes[id] or { ok = false, reason = "not reported", exit = EXIT.service }
    results[i] = { id = id, ok = o.ok, reason = o.reason, error = o.error, exit = o.exit }
  end
  return finish_bulk(ctx, results, { policy_id = policy_id, target_type = target_type })
end

commands["call"] = function(ctx, words)
  local method, path = words[1], words[2]
  if not method or not path then usage("call needs METHOD and PATH") end
  if #words > 2 then usage("call takes METHOD and PATH only (use --query and --body)") end
  local query = {}
  for _, q in ipairs(ctx.flags.query or {}) do
    local name, value = q:match("^([^=]+)=(.*)$")
    if not name then usage("--query must be NAME=VALUE, got " .. q) end
    query[#query + 1] = { name, value }
  end
  local body = ctx.flags.body
  if body ~= nil then
    local _, jerr = json.decode(body)
    if jerr then usage("--body is not valid JSON: " .. tostring(jerr)) end
  end
  local cfg = ctx.config()
  local client
  if ctx.flags.iotda then client = iotda_client(cfg) else client = koodrive_client(cfg) end
  local spec = { method = method, path = path, query = query, body = body }
  if ctx.flags["dry-run"] then
    local request, err = client:prepare(spec)
    if not request then fail_with(err) end
    return print_dry_run(ctx, { request }, ctx.redact)
  end
  local envelope, err = client:call(spec)
  if not envelope then fail_with(err) end
  if ctx.flags.json then
    ctx.out(encode(envelope) .. "\n")
  else
    ctx.out(table_text(flatten(envelope, "", {})))
  end
  return EXIT.ok
end

local GROUPS = { devices = { list = true, bind = true, unbind = true },
  groups = { ["delete-members"] = true }, iotda = { ["unbind-policy"] = true } }

--------------------------------------------------------------------------------------------
-- Entry point
--------------------------------------------------------------------------------------------

local function run(ctx, argv)
  local flags, words = parse_argv(argv)
  ctx.flags = flags
  local first = table.remove(words, 1)
  if first == nil then
    if flags.help then ctx.out(HELP.main); return EXIT.ok end
    usage("no command given")
  end
  if first == "help" then
    local topic = table.concat(words, " ")
    local text = HELP[topic == "" and "main" or topic]
    if not text then usage("no help on '" .. topic .. "'") end
    ctx.out(text)
    return EXIT.ok
  end
  local name = first
  if GROUPS[first] then
    local sub = words[1]
    if sub == nil or not GROUPS[first][sub] then
      if flags.help then ctx.out(HELP[first]); return EXIT.ok end
      if sub == nil then usage(first .. " needs a subcommand") end
      usage("unknown command '" .. first .. " " .. sub .. "'")
    end
    table.remove(words, 1)
    name = first .. " " .. sub
  elseif not commands[first] then
    usage("unknown command '" .. first .. "'")
  end
  local allowed = COMMAND_FLAGS[name]
  for flag in pairs(flags) do
    if not allowed[flag] then usage("--" .. flag .. " is not a flag of '" .. name .. "'") end
  end
  if flags.help then ctx.out(HELP[name]); return EXIT.ok end
  if flags.timeout ~= nil then
    local t = tonumber(flags.timeout)
    if not t or t <= 0 then usage("--timeout must be a positive number of seconds") end
  end
  local cfg
  ctx.config = function()
    if not cfg then
      cfg = resolve_config(ctx, flags)
      ctx.secret_values, ctx.redact = redactor(cfg)
    end
    return cfg
  end
  return commands[name](ctx, words)
end

--- Runs the command line `argv` (a list of strings, like the global `arg`); returns the exit
-- code. `io_ctx` may replace { out(s), err(s), stdin, getenv(name) } for in-process use.
function cli.main(argv, io_ctx)
  io_ctx = io_ctx or {}
  local ctx = {
    out = io_ctx.out or function(s) io.stdout:write(s) end,
    err = io_ctx.err or function(s) io.stderr:write(s) end,
    stdin = io_ctx.stdin or io.stdin,
    getenv = io_ctx.getenv or os.getenv,
  }
  local list = {}
  for i = 1, #(argv or {}) do list[i] = argv[i] end
  local ok, result = pcall(run, ctx, list)
  if ok then
    io.stdout:flush()
    return result
  end
  if getmetatable(result) == Failure then
    ctx.err("koodrive: " .. errors_printable(result.message) .. "\n")
    return result.code
  end
  ctx.err("koodrive: internal error: " .. errors_printable(vault.redact(tostring(result), ctx.secret_values)) .. "\n")
  return EXIT.service
end

return cli
