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
    -- The seeded user's individual space and its root ids (fixed so that specs
    -- and the demo can name them); every other user's space gets random ids.
    space = {
      containerId = "IAADlocalSpace00000000000000000000000000001",
      bizRootFileId = "DEUIlocal0001rootIAADlocalSpace00000000000000000000000000001",
      rootFileId = "RlocalRoot000000000000000000000001",
      bizSboxFileId = "SlocalSbox000000000000000000000001",
    },
    -- the seeded group's team space (type 2)
    group_space = { containerId = "IAADlocalGroupSpace000000000000000000000001" },
    -- files of the seeded user's space: { id, parent ("root" or an id above), name, size };
    -- size nil = a folder (fileType "10"); fileType given for plain files
    seed_files = {
      { id = "FlocalDocs0000000000000000000000001", parent = "root", name = "Documents" },
      { id = "FlocalPhotos00000000000000000000001", parent = "root", name = "Photos" },
      { id = "FlocalReadme00000000000000000000001", parent = "root", name = "readme.txt", size = 100, fileType = "45" },
      { id = "FlocalReport00000000000000000000001", parent = "FlocalDocs0000000000000000000000001",
        name = "report.docx", size = 2048, fileType = "26" },
      { id = "FlocalNotes000000000000000000000001", parent = "FlocalDocs0000000000000000000000001",
        name = "notes.txt", size = 512, fileType = "45" },
      { id = "Flocal2025000000000000000000000001", parent = "FlocalDocs0000000000000000000000001", name = "2025" },
      { id = "FlocalBeach00000000000000000000001", parent = "Flocal2025000000000000000000000001",
        name = "beach.jpg", size = 4096, fileType = "15" },
    },
    -- OrgID authorization codes POST session/ accepts, each once (per reset)
    auth_codes = { "local-auth-code-0001", "local-auth-code-0002", "local-auth-code-0003" },
    -- the carrier account POST auth/login accepts (authType "1") and its user
    carrier_account = "0027188460911",
    carrier_password = "local-carrier-password",
    carrier_user_id = "1882575898755117312",
    -- a backup record with files, for GET backup/record/{id}/files
    backup_record_id = "1700000000000000001",
    backup_record_files = 5,
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
