--- Configuration of the `koodrive` command: the flags, KOODRIVE_* environment variables and
-- the profile file (INI, one section per profile), and the clients made from them.
--
-- First found wins: flag, then environment, then profile. The profile file is refused when
-- group or others may read it: it holds secrets.
local koodrive = require "koodrive"
local vault = require "koodrive.secrets"
local exit = require "koodrive.cli.exit"

local config = {}
local config_error = exit.config

-- key (the profile key and the flag's target), flag, environment variable, argname, help
local KEYS = {
  { "endpoint", "--endpoint", "KOODRIVE_ENDPOINT", "URL", "KooDrive base URL" },
  { "user_id", "--user-id", "KOODRIVE_USER_ID", "ID", "X-User-Id (1-19 digits)" },
  { "token", "--token", "KOODRIVE_TOKEN", "TOKEN", "bearer token" },
  { "app_id", "--app-id", "KOODRIVE_APP_ID", "ID", "app mode (with app_secret)" },
  { "app_secret", "--app-secret", "KOODRIVE_APP_SECRET", "SECRET", "app secret" },
  { "timeout", "--timeout", "KOODRIVE_TIMEOUT", "SECONDS", "per-request time limit" },
  { "proxy", "--proxy", "KOODRIVE_PROXY", "URL|env|none",
    'default "env": http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY' },
  { "iotda_endpoint", "--iotda-endpoint", "KOODRIVE_IOTDA_ENDPOINT", "URL", "IoTDA base URL" },
  { "project_id", "--project-id", "KOODRIVE_PROJECT_ID", "ID", "IoTDA project id" },
  { "ak", "--ak", "KOODRIVE_AK", "AK", "access key (AK/SK signing)" },
  { "sk", "--sk", "KOODRIVE_SK", "SK", "secret key" },
  { "security_token", "--security-token", "KOODRIVE_SECURITY_TOKEN", "T", "temporary AK/SK" },
  { "iam_token", "--iam-token", "KOODRIVE_IAM_TOKEN", "TOKEN", "or an IAM token" },
  { "region", "--region", "KOODRIVE_REGION", "REGION", "needed for derived signing" },
  { "derived", "--derived", "KOODRIVE_DERIVED", nil, "V11 derived signing (environment, profile: true or false)" },
  { "instance_id", "--instance-id", "KOODRIVE_INSTANCE_ID", "ID", "IoTDA instance id" },
}
local KNOWN_KEYS = {}
for _, k in ipairs(KEYS) do KNOWN_KEYS[k[1]] = k end

local KOODRIVE_KEYS = { "endpoint", "user_id", "token", "app_id", "app_secret" }
local IOTDA_KEYS = { "iotda_endpoint", "project_id", "ak", "sk", "security_token", "iam_token",
  "region", "derived", "instance_id" }

-- Credentials of one auth mode come from one source only, so a token in the profile never
-- mixes with an app id from the environment.
local AUTH_GROUPS = {
  { token = true, app_id = true, app_secret = true },
  { iam_token = true, ak = true, sk = true, security_token = true },
}

--- The text after a command's options: precedence, the profile file, secrets in `ps`.
config.HELP = [[
Configuration: first found wins: flag, then environment variable, then profile file.
Secrets given as flags are visible to other users in `ps`: prefer the environment or the
profile file. The profile file is INI ([default], [name] sections, key = value, keys as
above: endpoint, user_id, token, ...) and is refused unless only its owner can read it
(chmod 600).]]

local function declare(cmd, key)
  local k = KNOWN_KEYS[key]
  local help = k[5] .. " (" .. k[3] .. ", " .. k[1] .. ")"
  if k[4] then
    cmd:option(k[2], help):argname(k[4]):overwrite(false)
  else
    cmd:flag(k[2], help):overwrite(false)
  end
end

local function declare_common(cmd)
  declare(cmd, "timeout")
  declare(cmd, "proxy")
  cmd:option("--profile", 'profile name (KOODRIVE_PROFILE, default "default")'):argname("NAME"):overwrite(false)
  cmd:option("--config", "profile file (KOODRIVE_CONFIG, default ~/.config/koodrive/config)")
    :argname("PATH"):overwrite(false)
end

--- Declares the KooDrive flags (endpoint, user, credentials, timeout, proxy, profile) on `cmd`.
---@param cmd table an argparse command
function config.koodrive_flags(cmd)
  for _, key in ipairs(KOODRIVE_KEYS) do declare(cmd, key) end
  declare_common(cmd)
end

--- Declares the IoTDA flags on `cmd`; `common` also the timeout, proxy and profile flags.
---@param cmd table an argparse command
---@param common boolean|nil
function config.iotda_flags(cmd, common)
  for _, key in ipairs(IOTDA_KEYS) do declare(cmd, key) end
  if common then declare_common(cmd) end
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end
config.trim = trim

local function read_all(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end
config.read_all = read_all

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

-- The permission bits of a file as an octal string ("600"), or nil.
local function file_mode(path)
  local p = io.popen("stat -c %a " .. shell_quote(path) .. " 2>/dev/null")
  if not p then return nil end
  local out = p:read("*a") or ""
  p:close()
  return out:match("^%s*([0-7]+)%s*$")
end

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
  local section = parse_profiles(text, path)[name or "default"]
  if not section then
    if name then config_error("profile '" .. name .. "' not found in " .. path) end
    return {}, path
  end
  return section, path
end

--- The merged configuration of the parsed flags: flags, then environment, then profile.
---@param ctx table the command's context (getenv)
---@param flags table the parsed arguments
---@return table cfg
function config.resolve(ctx, flags)
  local profile, path = load_profile(ctx, flags)
  local levels = { {}, {}, profile }
  for _, k in ipairs(KEYS) do
    local key, env = k[1], k[3]
    local fv = flags[key]
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
  local text = k[2] .. ", " .. k[3] .. " or " .. key .. " in [" .. cfg._profile .. "]"
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

--- A KooDrive client from the configuration (a config failure when something is missing).
---@param cfg table
---@return table client
function config.koodrive_client(cfg)
  require_key(cfg, "endpoint")
  require_key(cfg, "user_id")
  if not cfg.token and not (cfg.app_id and cfg.app_secret) then
    config_error("missing credentials: set token (" .. where(cfg, "token") ..
      ") or app_id and app_secret")
  end
  local c, err = koodrive.new { endpoint = cfg.endpoint, user_id = cfg.user_id, token = cfg.token,
    app_id = cfg.app_id, app_secret = cfg.app_secret, timeout = timeout_of(cfg), proxy = proxy_of(cfg) }
  if not c then exit.fail(exit.EXIT.config, tostring(err)) end
  return c
end

--- An IoTDA client from the configuration (a config failure when something is missing).
---@param cfg table
---@return table client
function config.iotda_client(cfg)
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
  if not c then exit.fail(exit.EXIT.config, tostring(err)) end
  return c
end

--- The values of the configured secrets (for koodrive.secrets.redact).
---@param cfg table
---@return string[]
function config.secret_values(cfg)
  local values = {}
  -- Which settings are secrets is koodrive.secrets' rule for names, as everywhere else.
  for key, v in pairs(cfg) do
    if type(key) == "string" and vault.name(key) and type(v) == "string" and #v >= vault.MIN_LENGTH then
      values[#values + 1] = v
    end
  end
  return values
end

return config
