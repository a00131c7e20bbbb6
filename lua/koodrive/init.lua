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
local client = require "koodrive.client"
local errors = require "koodrive.errors"
local json = require "koodrive.json"
local loop = require "koodrive.loop"
local pipeline = require "koodrive.pipeline"

local koodrive = {
  _VERSION = pipeline.VERSION,
  new = client.new,
  iotda = { new = require("koodrive.iotda").new },
  transport = require "koodrive.transport",
  errors = errors,
  loop = loop.new,          -- koodrive.loop(): many calls in flight, driven by loop:poll(timeout)
  run = loop.run,           -- koodrive.run(fn, ...): fn's calls read sequentially, run non-blocking
  spawn = loop.spawn,       -- inside run: start another task
  wait = loop.wait,         -- inside run: wait for spawned tasks
  batch = require("koodrive.batch").map,
  null = json.null,
  array = json.array,      -- koodrive.array(t): t is written as a JSON array, [] when empty
  int64 = json.int64,      -- koodrive.int64(id): id written as an exact JSON integer
}

-- The module-level default client, made on first use from the environment or by configure.
local default_client, default_error

--- koodrive.configure{ ... } sets the default client used by koodrive.devices etc.
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
function koodrive.default()
  if not default_client and not default_error then
    default_client, default_error = from_environment()
  end
  return default_client, default_error
end

-- koodrive.devices:list() etc. forward to the default client's service objects.
for service in pairs(client.Client.operations) do
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

return koodrive
