-- demo.lua: starts the local KooDrive + IoTDA service on a free port of 127.0.0.1, runs an
-- example against it (examples/quickstart.lua unless another name is given: game_loop,
-- batch_job, luv_host, cqueues_host), and stops the service. `make demo` runs the quickstart.
local local_service = require "local_service"
local creds = require "local_credentials"

local lua = arg[-1] or "lua5.4"
local server = local_service.start { lua = os.getenv("KOODRIVE_SERVER_LUA") or "lua5.4" }
local ak, sk = next(creds.iotda.aksk)
local settings = {
  KOODRIVE_ENDPOINT = server.url,
  KOODRIVE_USER_ID = creds.koodrive.user_id,
  KOODRIVE_APP_ID = (next(creds.koodrive.apps)),
  KOODRIVE_APP_SECRET = creds.koodrive.apps[(next(creds.koodrive.apps))],
  KOODRIVE_GROUP_ID = creds.koodrive.group_id,
  -- one member and one id that is not in the group: a partial failure
  KOODRIVE_MEMBER_IDS = creds.koodrive.group_members[1] .. ",1111111111111111111",
  IOTDA_ENDPOINT = server.url,
  IOTDA_PROJECT_ID = creds.iotda.project_id,
  IOTDA_AK = ak, IOTDA_SK = sk, IOTDA_REGION = creds.iotda.region,
  IOTDA_POLICY_ID = creds.iotda.policy_id,
  IOTDA_TARGET_IDS = table.concat(creds.iotda.policy_targets.device, ",") .. ",64a7ba7ef9cb063d27e16b97_999999",
}
local assignments = {}
for k, v in pairs(settings) do assignments[#assignments + 1] = k .. "='" .. v .. "'" end
print("local service listening on " .. server.url .. "\n")
local example = arg[1] or "quickstart"
local ok = os.execute(table.concat(assignments, " ") .. " " .. lua .. " examples/" .. example .. ".lua")
server.stop()
os.exit((ok == true or ok == 0) and 0 or 1)
