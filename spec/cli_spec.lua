-- The `koodrive` command (bin/koodrive, lua/koodrive/cli.lua), run as a child process with
-- the interpreter running busted, against the local service: every command in table and
-- JSON mode, bulk input from arguments, --file and stdin, --dry-run, configuration
-- precedence and the profile file, and each exit code.
local koodrive = require "koodrive"
local local_service = require "local_service"
local creds = require "local_credentials"
local socket = require "socket"
local sys = require "support.sys"

local LUA = arg and arg[-1] or "lua5.4"
local ak, sk = next(creds.iotda.aksk)
local app_id, app_secret = next(creds.koodrive.apps)
local POLICY = creds.iotda.policy_id
local GROUP = creds.koodrive.group_id
local MEMBERS = creds.koodrive.group_members
local TARGETS = creds.iotda.policy_targets.device

local server, tmp

local q = sys.quote

-- A captured stream's text ("" when the command left none).
local function read_file(path) return sys.read(path) or "" end

local function write_file(path, text, mode)
  sys.write(path, text)
  if mode then sys.run("chmod " .. mode .. " " .. q(path)) end
end

local ENV_NAMES = { "KOODRIVE_ENDPOINT", "KOODRIVE_USER_ID", "KOODRIVE_TOKEN", "KOODRIVE_APP_ID",
  "KOODRIVE_APP_SECRET", "KOODRIVE_TIMEOUT", "KOODRIVE_PROFILE", "KOODRIVE_CONFIG",
  "KOODRIVE_IOTDA_ENDPOINT", "KOODRIVE_PROJECT_ID", "KOODRIVE_AK", "KOODRIVE_SK",
  "KOODRIVE_SECURITY_TOKEN", "KOODRIVE_IAM_TOKEN", "KOODRIVE_REGION", "KOODRIVE_DERIVED",
  "KOODRIVE_INSTANCE_ID", "KOODRIVE_FORCE_TTY" }

-- The environment of a configured run (opts.env adds to it; false removes a variable).
local function full_env()
  return { KOODRIVE_ENDPOINT = server.url, KOODRIVE_USER_ID = creds.koodrive.user_id,
    KOODRIVE_TOKEN = "local-token-alice", KOODRIVE_IOTDA_ENDPOINT = server.url,
    KOODRIVE_PROJECT_ID = creds.iotda.project_id, KOODRIVE_AK = ak, KOODRIVE_SK = sk,
    KOODRIVE_REGION = creds.iotda.region, KOODRIVE_TIMEOUT = "10" }
end

--- Runs bin/koodrive with the words in `args`; returns { code, out, err }.
-- opts.env: variables (value false: unset); opts.bare: start from no KOODRIVE_* at all;
-- opts.stdin: text on standard input (default: /dev/null).
local function run(args, opts)
  opts = opts or {}
  local env = opts.bare and {} or full_env()
  for k, v in pairs(opts.env or {}) do env[k] = v end
  local parts = { "env" }
  for _, name in ipairs(ENV_NAMES) do parts[#parts + 1] = "-u " .. name end
  parts[#parts + 1] = "HOME=" .. q(tmp .. "/home")
  for k, v in pairs(env) do
    if v then parts[#parts + 1] = k .. "=" .. q(v) end
  end
  parts[#parts + 1] = q(LUA) .. " bin/koodrive"
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local stdin = "/dev/null"
  if opts.stdin then
    stdin = tmp .. "/stdin"
    write_file(stdin, opts.stdin)
  end
  local out, err = tmp .. "/out", tmp .. "/err"
  local cmd = table.concat(parts, " ") .. " <" .. q(stdin) .. " >" .. q(out) .. " 2>" .. q(err)
  local p = assert(io.popen("sh -c " .. q(cmd .. '; echo "exit:$?"'), "r"))
  local status = p:read("*a")
  p:close()
  return { code = tonumber(status:match("exit:(%d+)")), out = read_file(out), err = read_file(err) }
end

-- The library's JSON reader: long ids come back as strings.
local json = require "koodrive.json"
local function decode(text)
  local value, err = json.decode(text)
  assert(value, "not JSON (" .. tostring(err) .. "): " .. text)
  return value
end

local function client()
  return assert(koodrive.new { endpoint = server.url, user_id = creds.koodrive.user_id,
    token = "local-token-alice", timeout = 10 })
end

local function devices()
  local c = client()
  local list = assert(c.devices:list())
  c:close()
  return list
end

local function bind(code)
  local c = client()
  local d = assert(c.devices:bind { machineCode = code, deviceName = "cli-" .. code })
  c:close()
  return d
end

local function members()
  local c = client()
  local r = assert(c:call { method = "GET", path = "/koodrive/ose/v1/usergroups/" .. GROUP .. "/members" })
  c:close()
  return r
end

-- A port on 127.0.0.1 where nothing listens.
local function closed_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

setup(function()
  server = local_service.start()
  tmp = os.tmpname()
  os.remove(tmp)
  sys.run("mkdir -p " .. q(tmp .. "/home"))
end)

teardown(function()
  if server then server.stop() end
  if tmp then os.execute("rm -rf " .. q(tmp)) end
end)

before_each(function()
  server.control("/_local/reset")
end)

describe("koodrive --help", function()
  local cases = {
    { { "--help" }, "Usage: koodrive COMMAND" },
    { { "-h" }, "Usage: koodrive COMMAND" },
    { { "help" }, "Usage: koodrive COMMAND" },
    { { "help", "devices", "unbind" }, "Usage: koodrive devices unbind" },
    { { "devices", "--help" }, "Usage: koodrive devices list|bind|unbind" },
    { { "devices", "list", "--help" }, "Usage: koodrive devices list" },
    { { "devices", "bind", "--help" }, "Usage: koodrive devices bind" },
    { { "devices", "unbind", "-h" }, "Usage: koodrive devices unbind" },
    { { "groups", "--help" }, "Usage: koodrive groups delete-members" },
    { { "groups", "delete-members", "--help" }, "Usage: koodrive groups delete-members" },
    { { "iotda", "--help" }, "Usage: koodrive iotda unbind-policy" },
    { { "iotda", "unbind-policy", "--help" }, "Usage: koodrive iotda unbind-policy" },
    { { "call", "--help" }, "Usage: koodrive call METHOD PATH" },
  }
  for _, case in ipairs(cases) do
    it(table.concat(case[1], " ") .. " prints usage and exits 0, without any configuration", function()
      local r = run(case[1], { bare = true })
      assert.are.equal(0, r.code)
      assert.truthy(r.out:find(case[2], 1, true), r.out)
      assert.are.equal("", r.err)
    end)
  end

  it("documents the exit codes and that secrets as flags show in ps", function()
    local r = run({ "devices", "unbind", "--help" }, { bare = true })
    assert.truthy(r.out:find("2 usage, 3 config, 4 validation", 1, true))
    assert.truthy(r.out:find("visible to other users in `ps`", 1, true))
  end)
end)

describe("koodrive usage errors exit 2", function()
  local cases = {
    { { "--bogus" }, "unknown flag --bogus" },
    { { "devices", "list", "--bogus=1" }, "unknown flag --bogus" },
    { { "frobnicate" }, "unknown command 'frobnicate'" },
    { { "devices", "explode" }, "unknown command 'devices explode'" },
    { { "devices" }, "devices needs a subcommand" },
    { {}, "no command given" },
    { { "devices", "list", "--machine-code", "X" }, "--machine-code is not a flag of 'devices list'" },
    { { "devices", "list", "--endpoint" }, "--endpoint needs a value" },
    { { "devices", "list", "--json=yes" }, "--json takes no value" },
    { { "devices", "list", "extra" }, "takes no arguments" },
    { { "devices", "bind" }, "needs --machine-code" },
    { { "devices", "unbind" }, "no device ids given" },
    { { "devices", "unbind", "1", "--concurrency", "0" }, "--concurrency must be" },
    { { "devices", "unbind", "1", "--file", "/nonexistent/ids" }, "cannot read --file" },
    { { "devices", "list", "--timeout", "soon" }, "--timeout must be" },
    { { "groups", "delete-members" }, "needs GROUP_ID" },
    { { "iotda", "unbind-policy", POLICY, "x" }, "needs --target-type" },
    { { "call", "GET" }, "call needs METHOD and PATH" },
    { { "call", "GET", "/x", "--query", "novalue" }, "--query must be NAME=VALUE" },
    { { "call", "POST", "/x", "--body", "{not json" }, "--body is not valid JSON" },
  }
  for _, case in ipairs(cases) do
    it(table.concat(case[1], " "), function()
      local r = run(case[1])
      assert.are.equal(2, r.code, r.err)
      assert.are.equal("", r.out)
      assert.truthy(r.err:find("^koodrive: "), r.err)
      assert.truthy(r.err:find(case[2], 1, true), r.err)
    end)
  end
end)

describe("koodrive devices", function()
  it("list: an aligned table with a header row, and JSON with ids as strings", function()
    local d1, d2 = bind("LIST1"), bind("LIST2")
    local r = run { "devices", "list" }
    assert.are.equal(0, r.code, r.err)
    local lines = {}
    for line in r.out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(3, #lines)
    assert.truthy(lines[1]:find("^deviceId%s+machineCode%s+deviceName%s+deviceOS%s+createTime$"), lines[1])
    assert.truthy(r.out:find(d1.deviceId, 1, true))
    assert.truthy(r.out:find(d2.deviceId, 1, true))
    -- columns line up: machineCode starts at the same offset on every line
    local col = lines[1]:find("machineCode", 1, true)
    assert.are.equal(col, lines[2]:find("LIST", 1, true))
    assert.are.equal(col, lines[3]:find("LIST", 1, true))

    r = run { "devices", "list", "--json" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find('"deviceId":"' .. d1.deviceId .. '"', 1, true), r.out)
    local doc = decode(r.out)
    assert.are.equal(2, #doc.devices)
  end)

  it("list: an empty list", function()
    local r = run { "devices", "list" }
    assert.are.same({ 0, "no devices\n" }, { r.code, r.out })
    r = run { "devices", "list", "--json" }
    assert.are.same({ 0, '{"devices":[]}\n' }, { r.code, r.out })
  end)

  it("bind: prints the new device in a table, or as JSON", function()
    local r = run { "devices", "bind", "--machine-code", "BIND1", "--device-name", "My phone", "--device-os", "android" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("^deviceId"))
    assert.truthy(r.out:find("BIND1%s+My phone%s+android"), r.out)
    r = run { "devices", "bind", "--machine-code=BIND2", "--json" }
    assert.are.equal(0, r.code, r.err)
    local d = decode(r.out)
    assert.are.equal("BIND2", d.machineCode)
    assert.truthy(r.out:find('"deviceId":"%d+"'))
    assert.are.equal(2, #devices())
  end)

  it("bind: a machine code against the contract's rule is a validation error (4), nothing sent", function()
    local r = run { "devices", "bind", "--machine-code", "bad code!" }
    assert.are.equal(4, r.code)
    assert.truthy(r.err:find("^koodrive: koodrive devices.bind validation error: machineCode"), r.err)
    assert.are.equal(0, #devices())
  end)

  it("unbind: ids from the arguments, one line per id", function()
    local a, b = bind("U1"), bind("U2")
    local r = run { "devices", "unbind", a.deviceId, b.deviceId }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find(a.deviceId .. "  ok\n", 1, true), r.out)
    assert.truthy(r.out:find(b.deviceId .. "  ok\n", 1, true), r.out)
    assert.truthy(r.out:find("2 ok, 0 failed", 1, true))
    assert.are.equal("", r.err) -- not a terminal: no progress bar
    assert.are.equal(0, #devices())
  end)

  it("unbind: ids from --file, JSON output", function()
    local a, b = bind("F1"), bind("F2")
    local path = tmp .. "/ids"
    write_file(path, "# devices to drop\n" .. a.deviceId .. "\n\n  " .. b.deviceId .. "  \n")
    local r = run { "devices", "unbind", "--file", path, "--json", "--concurrency", "2" }
    assert.are.equal(0, r.code, r.err)
    local doc = decode(r.out)
    assert.are.equal(2, doc.ok)
    assert.are.equal(0, doc.failed)
    assert.are.equal(a.deviceId, doc.results[1].id)
    assert.are.equal(true, doc.results[1].ok)
    assert.are.equal(a.deviceId, doc.results[1].device.deviceId)
    assert.are.equal(b.deviceId, doc.results[2].id)
    assert.are.equal(0, #devices())
  end)

  it("unbind: ids from standard input (implicit and --file -), with a progress bar on a terminal", function()
    local a, b, c = bind("S1"), bind("S2"), bind("S3")
    local r = run({ "devices", "unbind" }, { stdin = a.deviceId .. "\n" .. b.deviceId .. "\n" })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("2 ok, 0 failed", 1, true))
    r = run({ "devices", "unbind", "--file", "-" }, { stdin = c.deviceId .. "\n",
      env = { KOODRIVE_FORCE_TTY = "1" } })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("[####################] 1/1", 1, true), r.err)
    assert.truthy(r.err:find("\r", 1, true))
    assert.are.equal(0, #devices())
  end)

  it("unbind: some failed is exit 1, each reported", function()
    local a = bind("P1")
    local r = run { "devices", "unbind", a.deviceId, "1234567890" }
    assert.are.equal(1, r.code, r.err)
    assert.truthy(r.out:find(a.deviceId .. "  ok", 1, true))
    assert.truthy(r.out:find("1234567890 +failed: .*13000309"), r.out)
    assert.truthy(r.out:find("1 ok, 1 failed", 1, true))
    r = run { "devices", "unbind", "1234567890", "--json" }
    assert.are.equal(5, r.code)
    local doc = decode(r.out)
    assert.are.same({ 0, 1, false, "api", 13000309 },
      { doc.ok, doc.failed, doc.results[1].ok, doc.results[1].error.kind, doc.results[1].error.code })
  end)

  it("unbind: an unknown device is a service error (5)", function()
    local r = run { "devices", "unbind", "1234567890" }
    assert.are.equal(5, r.code)
    assert.truthy(r.out:find("failed: koodrive devices.unbind api error", 1, true), r.out)
  end)

  it("unbind: an id with '/' is a validation error (4) and nothing is sent", function()
    local a = bind("V1")
    local r = run { "devices", "unbind", a.deviceId, "a/b" }
    assert.are.equal(4, r.code)
    assert.truthy(r.err:find("validation error", 1, true), r.err)
    assert.are.equal(1, #devices())
  end)
end)

describe("koodrive groups delete-members", function()
  it("from arguments: a member and a non-member is a partial failure (1)", function()
    local r = run { "groups", "delete-members", GROUP, MEMBERS[1], "999" }
    assert.are.equal(1, r.code, r.err)
    assert.truthy(r.out:find(MEMBERS[1] .. "  ok", 1, true), r.out)
    assert.truthy(r.out:find("999 +failed: refused by the service"), r.out)
    assert.falsy(json.encode(members()):find(MEMBERS[1], 1, true))
  end)

  it("from --file and stdin, JSON output, all deleted (0)", function()
    local path = tmp .. "/members"
    write_file(path, MEMBERS[1] .. "\n")
    local r = run { "groups", "delete-members", GROUP, "--file", path, "--json" }
    assert.are.equal(0, r.code, r.err)
    local doc = decode(r.out)
    assert.are.same({ GROUP, 1, 0, MEMBERS[1], true },
      { doc.groupId, doc.ok, doc.failed, doc.results[1].id, doc.results[1].ok })
    r = run({ "groups", "delete-members", GROUP, "--json" }, { stdin = MEMBERS[2] .. "\n" .. MEMBERS[3] .. "\n" })
    assert.are.equal(0, r.code, r.err)
    doc = decode(r.out)
    assert.are.equal(2, doc.ok)
  end)

  it("JSON: all refused is a service error (5)", function()
    local r = run { "groups", "delete-members", GROUP, "999", "--json" }
    assert.are.equal(5, r.code)
    local doc = decode(r.out)
    assert.are.same({ 0, 1, true }, { doc.ok, doc.failed, doc.results[1].refused })
  end)

  it("an unknown group is a service error (5)", function()
    local r = run { "groups", "delete-members", "111", MEMBERS[1] }
    assert.are.equal(5, r.code)
    assert.truthy(r.out:find("13000309", 1, true), r.out)
  end)

  it("a user id that is not digits is a validation error (4)", function()
    local r = run { "groups", "delete-members", GROUP, "abc" }
    assert.are.equal(4, r.code)
  end)
end)

describe("koodrive iotda unbind-policy", function()
  it("from arguments in a table (0), through AK/SK signing", function()
    local r = run { "iotda", "unbind-policy", POLICY, "--target-type", "device", TARGETS[1], TARGETS[2] }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find(TARGETS[1] .. "  ok", 1, true), r.out)
    assert.truthy(r.out:find("2 ok, 0 failed", 1, true))
  end)

  it("from stdin, JSON, with an unbound target: partial (1)", function()
    local r = run({ "iotda", "unbind-policy", POLICY, "--target-type", "device", "--json" },
      { stdin = TARGETS[1] .. "\nnot-bound\n" })
    assert.are.equal(1, r.code, r.err)
    local doc = decode(r.out)
    assert.are.same({ POLICY, "device", 1, 1 }, { doc.policy_id, doc.target_type, doc.ok, doc.failed })
    assert.are.equal("not-bound", doc.results[2].id)
    assert.are.equal("IOTDA.015207", doc.results[2].error.code)
  end)

  it("from --file with an IAM token", function()
    local path = tmp .. "/targets"
    write_file(path, creds.iotda.policy_targets.product[1] .. "\n")
    local r = run({ "iotda", "unbind-policy", POLICY, "--target-type", "product", "--file", path },
      { env = { KOODRIVE_AK = false, KOODRIVE_SK = false, KOODRIVE_IAM_TOKEN = "local-iam-token" } })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("1 ok, 0 failed", 1, true))
  end)

  it("an unknown policy is a service error (5); a bad target type a validation error (4)", function()
    local r = run { "iotda", "unbind-policy", "000000000000000000000000", "--target-type", "device", TARGETS[1] }
    assert.are.equal(5, r.code)
    assert.truthy(r.out:find("IOTDA.015206", 1, true), r.out)
    r = run { "iotda", "unbind-policy", POLICY, "--target-type", "toaster", TARGETS[1] }
    assert.are.equal(4, r.code)
    assert.truthy(r.err:find("target_type", 1, true), r.err)
  end)

  it("missing IoTDA configuration is a config error (3)", function()
    local r = run({ "iotda", "unbind-policy", POLICY, "--target-type", "device", "x" },
      { env = { KOODRIVE_PROJECT_ID = false } })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find("missing project_id", 1, true), r.err)
  end)
end)

describe("koodrive call", function()
  it("prints the envelope as key/value lines, or as JSON", function()
    local d = bind("CALL1")
    local r = run { "call", "GET", "/koodrive/ose/v1/backup/device" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("code%s+0\n"), r.out)
    assert.truthy(r.out:find("data%[1%]%.deviceId%s+" .. d.deviceId), r.out)
    r = run { "call", "get", "/koodrive/ose/v1/usergroups/" .. GROUP .. "/members", "--query", "limit=1", "--json" }
    assert.are.equal(0, r.code, r.err)
    local doc = decode(r.out)
    assert.are.equal(0, doc.code)
    assert.falsy(r.out:find("\n.", 1))
  end)

  it("sends --body as given (exact 19-digit ids)", function()
    local body = '{"amendModRoles":[{"userId":' .. MEMBERS[1] .. '}]}'
    local r = run { "call", "POST", "/koodrive/ose/v1/usergroups/" .. GROUP .. "/members/batchDelete",
      "--body", body, "--json" }
    assert.are.equal(0, r.code, r.err)
    local after = members()
    local text = json.encode(after)
    assert.falsy(text:find(MEMBERS[1], 1, true), text)
  end)

  it("to IoTDA with --iotda", function()
    local r = run { "call", "POST", "/v5/iot/" .. creds.iotda.project_id .. "/device-policies/" .. POLICY .. "/unbind",
      "--iotda", "--body", '{"target_type":"device","target_ids":["' .. TARGETS[1] .. '"]}', "--json" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find(TARGETS[1], 1, true), r.out)
  end)

  it("an unknown path is a service error (5); a bad path a validation error (4)", function()
    local r = run { "call", "GET", "/koodrive/ose/v1/nothing-here" }
    assert.are.equal(5, r.code)
    assert.truthy(r.err:find("^koodrive: koodrive call "), r.err)
    r = run { "call", "GET", "/a/../b" }
    assert.are.equal(4, r.code)
    r = run { "call", "FETCH", "/a" }
    assert.are.equal(4, r.code)
  end)
end)

describe("koodrive --dry-run", function()
  local function no_secret(r, secret)
    assert.falsy(r.out:find(secret, 1, true), "secret in output: " .. r.out)
    assert.falsy(r.err:find(secret, 1, true))
  end

  it("devices bind: prints the signed request, token redacted, and binds nothing", function()
    local r = run { "devices", "bind", "--machine-code", "DRY1", "--dry-run" }
    assert.are.equal(0, r.code, r.err)
    local line = "POST " .. server.url .. "/koodrive/ose/v1/backup/device\n"
    assert.are.equal(line, r.out:sub(1, #line))
    assert.truthy(r.out:find("Authorization: <redacted>\n", 1, true))
    assert.truthy(r.out:find("X-User-Id: " .. creds.koodrive.user_id, 1, true))
    assert.truthy(r.out:find('{"machineCode":"DRY1"}', 1, true))
    no_secret(r, "local-token-alice")
    assert.are.equal(0, #devices())
  end)

  it("devices unbind and list, JSON: one request per id, app secret redacted, nothing unbound", function()
    local a, b = bind("DRY2"), bind("DRY3")
    local env = { KOODRIVE_TOKEN = false, KOODRIVE_APP_ID = app_id, KOODRIVE_APP_SECRET = app_secret }
    local r = run({ "devices", "unbind", a.deviceId, b.deviceId, "--dry-run", "--json" }, { env = env })
    assert.are.equal(0, r.code, r.err)
    local doc = decode(r.out)
    assert.are.equal(true, doc.dry_run)
    assert.are.equal(2, #doc.requests)
    assert.are.equal("DELETE", doc.requests[1].method)
    assert.are.equal(server.url .. "/koodrive/ose/v1/backup/device/" .. a.deviceId, doc.requests[1].url)
    assert.are.equal("<redacted>", doc.requests[2].headers.Authorization)
    no_secret(r, app_secret)
    assert.are.equal(2, #devices())
    r = run { "devices", "list", "--dry-run" }
    assert.are.equal(0, r.code)
    assert.truthy(r.out:find("^GET "))
  end)

  it("groups delete-members: the exact body, members unchanged", function()
    local r = run { "groups", "delete-members", GROUP, MEMBERS[1], "--dry-run" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find('{"amendModRoles":[{"userId":' .. MEMBERS[1] .. '}]}', 1, true), r.out)
    local r2 = run { "groups", "delete-members", GROUP, MEMBERS[1] }
    assert.are.equal(0, r2.code, r2.err .. r2.out) -- still a member, so the dry run deleted nothing
  end)

  it("iotda unbind-policy: AK/SK and security token redacted, IAM token redacted, nothing unbound", function()
    local r = run({ "iotda", "unbind-policy", POLICY, "--target-type", "device", TARGETS[1], "--dry-run" },
      { env = { KOODRIVE_SECURITY_TOKEN = "temporary-security-token" } })
    assert.are.equal(0, r.code, r.err)
    local line = "POST " .. server.url .. "/v5/iot/" .. creds.iotda.project_id ..
      "/device-policies/" .. POLICY .. "/unbind\n"
    assert.are.equal(line, r.out:sub(1, #line))
    assert.truthy(r.out:find("Authorization: <redacted>\n", 1, true))
    assert.truthy(r.out:find("X-Security-Token: <redacted>\n", 1, true))
    no_secret(r, sk)
    no_secret(r, "temporary-security-token")
    r = run({ "iotda", "unbind-policy", POLICY, "--target-type", "device", TARGETS[1], "--dry-run", "--json" },
      { env = { KOODRIVE_AK = false, KOODRIVE_SK = false, KOODRIVE_IAM_TOKEN = "local-iam-token" } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("<redacted>", decode(r.out).requests[1].headers["X-Auth-Token"])
    no_secret(r, "local-iam-token")
    -- still bound: unbinding it for real succeeds
    r = run { "iotda", "unbind-policy", POLICY, "--target-type", "device", TARGETS[1] }
    assert.are.equal(0, r.code, r.out)
  end)

  it("call: the query in the URL, the token given as a flag redacted", function()
    local r = run { "call", "GET", "/koodrive/ose/v1/usergroups", "--query", "pageSize=5", "--dry-run",
      "--token", "local-token-bob" }
    assert.are.equal(0, r.code, r.err)
    local line = "GET " .. server.url .. "/koodrive/ose/v1/usergroups?pageSize=5\n"
    assert.are.equal(line, r.out:sub(1, #line))
    no_secret(r, "local-token-bob")
  end)
end)

describe("koodrive configuration", function()
  local function profile(text, mode)
    local path = tmp .. "/config-" .. tostring(math.random(1, 1e9))
    write_file(path, text, mode or "600")
    return path
  end

  it("without any configuration: a config error (3) naming what to set", function()
    local r = run({ "devices", "list" }, { bare = true })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find("koodrive: missing endpoint: set --endpoint, KOODRIVE_ENDPOINT or endpoint in [default]", 1, true), r.err)
    r = run({ "devices", "list", "--json" }, { bare = true, env = { KOODRIVE_ENDPOINT = server.url,
      KOODRIVE_USER_ID = creds.koodrive.user_id } })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find("missing credentials", 1, true), r.err)
  end)

  it("a profile file of mode 0600 works, from $HOME/.config/koodrive/config too", function()
    local text = "# koodrive\n[default]\nendpoint = " .. server.url .. "\nuser_id = " ..
      creds.koodrive.user_id .. "\ntoken = \"local-token-alice\"\n"
    local path = profile(text)
    local r = run({ "devices", "list", "--config", path }, { bare = true })
    assert.are.equal(0, r.code, r.err)
    sys.run("mkdir -p " .. q(tmp .. "/home/.config/koodrive"))
    write_file(tmp .. "/home/.config/koodrive/config", text, "400")
    r = run({ "devices", "list", "--json" }, { bare = true })
    os.remove(tmp .. "/home/.config/koodrive/config")
    assert.are.equal(0, r.code, r.err)
  end)

  it("a profile file readable by others is refused (3), before anything is sent", function()
    local path = profile("[default]\nendpoint = " .. server.url .. "\nuser_id = 1\ntoken = local-token-alice\n", "644")
    local r = run({ "devices", "list", "--config", path }, { bare = true })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find("is readable by others (mode 644)", 1, true), r.err)
    assert.truthy(r.err:find("chmod 600", 1, true))
    path = profile("[default]\n", "640")
    r = run({ "devices", "list", "--config", path }, { env = { KOODRIVE_CONFIG = path } })
    assert.are.equal(3, r.code)
  end)

  it("named profiles with --profile and KOODRIVE_PROFILE; unknown ones refused", function()
    local path = profile("[default]\nendpoint = http://127.0.0.1:" .. closed_port() ..
      "\n\n[local]\nendpoint = " .. server.url .. "\nuser-id = " .. creds.koodrive.user_id ..
      "\napp_id = " .. app_id .. "\napp_secret = " .. app_secret .. "\n")
    local r = run({ "devices", "list", "--config", path, "--profile", "local" }, { bare = true })
    assert.are.equal(0, r.code, r.err)
    r = run({ "devices", "list" }, { bare = true, env = { KOODRIVE_CONFIG = path, KOODRIVE_PROFILE = "local" } })
    assert.are.equal(0, r.code, r.err)
    r = run({ "devices", "list", "--config", path, "--profile", "nope" }, { bare = true })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find("profile 'nope' not found", 1, true), r.err)
  end)

  it("a malformed profile file or a missing --config is refused (3)", function()
    local r = run({ "devices", "list", "--config", profile("[default]\nendpoint\n") }, { bare = true })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find(":2: expected key = value", 1, true), r.err)
    r = run({ "devices", "list", "--config", profile("[default]\ncolour = blue\n") }, { bare = true })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find("unknown key 'colour'", 1, true), r.err)
    r = run({ "devices", "list", "--config", tmp .. "/no-such-config" }, { bare = true })
    assert.are.equal(3, r.code)
  end)

  it("the environment overrides the profile, flags override the environment", function()
    local dead = "http://127.0.0.1:" .. closed_port()
    local path = profile("[default]\nendpoint = " .. dead .. "\nuser_id = " .. creds.koodrive.user_id ..
      "\ntoken = local-token-alice\n")
    -- the profile alone points at a closed port: a transport error
    local r = run({ "devices", "list", "--config", path, "--timeout", "2" }, { bare = true })
    assert.are.equal(6, r.code)
    -- the environment wins over the profile
    r = run({ "devices", "list", "--config", path }, { bare = true, env = { KOODRIVE_ENDPOINT = server.url } })
    assert.are.equal(0, r.code, r.err)
    -- a flag wins over the environment
    r = run({ "devices", "list", "--config", path, "--endpoint", server.url },
      { bare = true, env = { KOODRIVE_ENDPOINT = dead } })
    assert.are.equal(0, r.code, r.err)
    -- credentials of one mode come from one source: app credentials in the environment
    -- replace the profile's token instead of clashing with it
    r = run({ "devices", "list", "--config", path, "--endpoint", server.url },
      { bare = true, env = { KOODRIVE_APP_ID = app_id, KOODRIVE_APP_SECRET = app_secret } })
    assert.are.equal(0, r.code, r.err)
    -- a bad token as a flag beats the good one in the environment: the service refuses it
    r = run { "devices", "list", "--token", "not-a-known-token" }
    assert.are.equal(5, r.code)
  end)

  it("a bad option value is a config error (3)", function()
    local r = run({ "devices", "list" }, { env = { KOODRIVE_USER_ID = "not-digits" } })
    assert.are.equal(3, r.code)
    assert.truthy(r.err:find("user_id", 1, true), r.err)
  end)
end)

describe("koodrive transport errors", function()
  it("an endpoint on a closed port exits 6, in both output modes and in bulk commands", function()
    local dead = "http://127.0.0.1:" .. closed_port()
    local r = run({ "devices", "list" }, { env = { KOODRIVE_ENDPOINT = dead } })
    assert.are.equal(6, r.code)
    assert.truthy(r.err:find("transport error", 1, true), r.err)
    assert.are.equal("", r.out)
    r = run({ "devices", "list", "--json" }, { env = { KOODRIVE_ENDPOINT = dead } })
    assert.are.equal(6, r.code)
    r = run({ "devices", "unbind", "1", "2", "--json" }, { env = { KOODRIVE_ENDPOINT = dead } })
    assert.are.equal(6, r.code)
    local doc = decode(r.out)
    assert.are.same({ 0, 2, "transport" }, { doc.ok, doc.failed, doc.results[1].error.kind })
  end)
end)

describe("koodrive progress and in-process use", function()
  it("draws the bar for IoTDA targets on a terminal only", function()
    local args = { "iotda", "unbind-policy", POLICY, "--target-type", "device", TARGETS[1], TARGETS[2] }
    local r = run(args, { env = { KOODRIVE_FORCE_TTY = "1" } })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("\r[....................] 0/2", 1, true), r.err)
    assert.truthy(r.err:find("\r[####################] 2/2\n", 1, true), r.err)
    server.control("/_local/reset")
    r = run(args, { env = { KOODRIVE_FORCE_TTY = "0" } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("", r.err)
  end)

  it("cli.main runs in-process with its own output functions", function()
    local cli = require "koodrive.cli"
    local out, err = {}, {}
    local code = cli.main({ "devices", "list", "--json" }, {
      out = function(s) out[#out + 1] = s end, err = function(s) err[#err + 1] = s end,
      getenv = function(name) return full_env()[name] end })
    assert.are.equal(0, code, table.concat(err))
    assert.are.equal('{"devices":[]}\n', table.concat(out))
    code = cli.main({ "nope" }, { out = function() end, err = function(s) err[#err + 1] = s end })
    assert.are.equal(cli.EXIT.usage, code)
  end)
end)
