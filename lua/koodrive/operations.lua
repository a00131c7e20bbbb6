--- Every API operation of koodrive, declared once as data, one module per family under
-- koodrive.operations.* (lua/koodrive/operations/).
--
-- An operation names its service object and method (`devices.list` becomes
-- `client.devices:list(...)`), its HTTP method and path template, the positional arguments
-- it takes with the rule each must pass, how to build the body, query and extra headers, and
-- how to shape the decoded response into the result. `koodrive.pipeline` sends all of them the
-- same way; docs/ARCHITECTURE.md lists every field an entry may have. Adding an endpoint is
-- adding an entry to its family's module; adding a family is adding its name below
-- and its services to SERVICES.
local operations = {}

-- Families in the order their services are documented.
local FAMILIES = {
  koodrive = { "devices", "spaces", "files", "transfers", "jobs", "favorites", "shares", "usergroups", "users",
    "backups", "sessions" },
  iotda = { "iotda" },
}

-- The family module (or modules) that declares each service object's operations, so that a client loads a
-- family when one of its services is first used, not at `require` (operations_spec checks this
-- map against what the modules declare).
operations.SERVICES = {
  koodrive = { devices = "devices", spaces = "spaces", files = { "files", "transfers" }, jobs = "jobs",
    favorites = "favorites", shares = "shares", usergroups = "usergroups", users = "users",
    usage = "users", backups = "backups", sessions = "sessions" },
  iotda = { device_policies = "iotda" },
}

-- Each service's whole list (for tools and specs) is built when first asked for.
setmetatable(operations, { __index = function(t, service)
  local families = FAMILIES[service]
  if not families then return nil end
  local list = {}
  for _, family in ipairs(families) do
    for _, op in ipairs(require("koodrive.operations." .. family)) do list[#list + 1] = op end
  end
  rawset(t, service, list)
  return list
end })

return operations
