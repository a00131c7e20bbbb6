-- Credentials the local KooDrive + IoTDA service accepts. They are made up for
-- local development and tests only: they open nothing outside this machine.
return {
  koodrive = {
    -- token mode: Authorization: Bearer <token>
    tokens = { ["local-token-alice"] = true, ["local-token-bob"] = true },
    -- app mode: HMAC-SHA256 with these app ids and secrets
    apps = { ["local-app-id-0001"] = "local-app-secret-0001" },
    -- users that exist; any 1-19 digit X-User-Id is accepted, these are seeded
    user_id = "1505084218764547200",
    -- a seeded group and its members (user ids as strings)
    group_id = "369528171409614001",
    group_members = { "3432423464657862424", "132543141414141414", "7000000000000000001" },
  },
  iotda = {
    project_id = "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    region = "cn-north-4",
    service = "iotdm",
    tokens = { ["local-iam-token"] = true },
    aksk = { ["LOCALACCESSKEY0001"] = "local-secret-key-0001" },
    -- a seeded policy (the documented create example) and the targets bound to it
    policy_id = "5c90fa7d3c4e4405e8525079",
    policy_name = "testPolicy",
    policy_app_id = "jeQDJQZltU8iKgFFoW060F5SGZka",
    policy_statement = {
      { effect = "ALLOW", actions = { "iotda:devices:publish", "iotda:devices:subscribe" },
        resources = { "topic:/v1/${devices.deviceId}/test/hello", "topic:/v1/${devices.productId}/test/hello" } },
    },
    policy_targets = {
      device = { "64a7ba7ef9cb063d27e16b97_123456", "64a7ba7ef9cb063d27e16b97_123457" },
      product = { "64a7ba7ef9cb063d27e16b97" },
      app = {},
    },
  },
}
