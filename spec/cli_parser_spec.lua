-- The `koodrive` command's parser (lua/koodrive/cli.lua on argparse), in-process and without
-- a service: flags before the command words, help from the flag declarations, usage errors
-- in the command's words, and dry runs through client:prepare_operation.
local cli = require "koodrive.cli"
local json = require "koodrive.json"

local ENV = { KOODRIVE_ENDPOINT = "http://127.0.0.1:9", KOODRIVE_USER_ID = "1",
  KOODRIVE_TOKEN = "parser-spec-token", KOODRIVE_IOTDA_ENDPOINT = "http://127.0.0.1:9",
  KOODRIVE_PROJECT_ID = "p1", KOODRIVE_IAM_TOKEN = "parser-spec-iam", HOME = "/nonexistent" }

local function run(argv)
  local out, err = {}, {}
  local code = cli.main(argv, { out = function(s) out[#out + 1] = s end, err = function(s) err[#err + 1] = s end,
    getenv = function(name) return ENV[name] end })
  return code, table.concat(out), table.concat(err)
end

describe("koodrive parser", function()
  it("takes flags before the command words, as after them", function()
    local code, out, err = run { "--json", "--timeout", "2", "devices", "unbind", "7", "--dry-run" }
    assert.are.equal(0, code, err)
    local doc = assert(json.decode(out))
    assert.are.equal("http://127.0.0.1:9/koodrive/ose/v1/backup/device/7", doc.requests[1].url)
    code, out, err = run { "devices", "--json", "--timeout", "2", "unbind", "--dry-run", "8" }
    assert.are.equal(0, code, err)
    assert.are.equal("http://127.0.0.1:9/koodrive/ose/v1/backup/device/8", assert(json.decode(out)).requests[1].url)
    code, out = run { "--help", "devices" }
    assert.are.equal(0, code)
    assert.truthy(out:find("Usage: koodrive devices list|bind|unbind", 1, true), out)
    code, out, err = run { "--json" }
    assert.are.same({ cli.EXIT.usage, "" }, { code, out })
    assert.truthy(err:find("no command given", 1, true), err)
  end)

  it("help lists every flag of a command with its environment variable, from the declarations", function()
    local code, out = run { "help", "iotda", "unbind-policy" }
    assert.are.equal(0, code)
    for _, flag in ipairs { "--target-type", "--iam-token", "--concurrency", "--file", "--json", "--dry-run" } do
      assert.truthy(out:find(flag, 1, true), flag)
    end
    assert.truthy(out:find("KOODRIVE_IAM_TOKEN", 1, true))
    assert.falsy(out:find("--machine-code", 1, true))
    code = run { "help", "devices", "nope" }
    assert.are.equal(cli.EXIT.usage, code)
  end)

  it("a flag given twice and a value given to a plain flag are usage errors", function()
    local code, out, err = run { "devices", "list", "--endpoint", "http://a", "--endpoint", "http://b" }
    assert.are.equal("", out)
    assert.are.equal(cli.EXIT.usage, code)
    assert.truthy(err:find("--endpoint given twice", 1, true), err)
    code, out, err = run { "call", "GET", "/x", "--iotda=1" }
    assert.are.same({ cli.EXIT.usage, "" }, { code, out })
    assert.truthy(err:find("--iotda takes no value", 1, true), err)
  end)

  it("the word after a flag that takes a value is its value, even when it starts with '-'", function()
    local code, out, err = run { "call", "GET", "/x", "--token", "-starts-with-a-dash", "--query", "-a=-1", "--dry-run" }
    assert.are.equal(0, code, err)
    assert.truthy(out:find("^GET http://127.0.0.1:9/x%?%-a=%-1\n"), out)
    assert.falsy(out:find("-starts-with-a-dash", 1, true), out)
  end)

  it("--help does not hide a wrong flag before it, but wins over a missing subcommand", function()
    local code, out, err = run { "devices", "list", "--bogus", "--help" }
    assert.are.same({ cli.EXIT.usage, "" }, { code, out })
    assert.truthy(err:find("unknown flag --bogus", 1, true), err)
    code, out = run { "groups", "--help" }
    assert.are.equal(0, code)
    assert.truthy(out:find("delete-members", 1, true), out)
  end)

  it("a dry run of an operation signs what the operation would send, secrets redacted", function()
    local code, out, err = run { "iotda", "unbind-policy", "5c90fa7d3c4e4405e8525079",
      "--target-type", "app", "a1", "a2", "--dry-run", "--json" }
    assert.are.equal(0, code, err)
    local doc = assert(json.decode(out))
    assert.are.equal(1, #doc.requests)
    assert.are.equal("http://127.0.0.1:9/v5/iot/p1/device-policies/5c90fa7d3c4e4405e8525079/unbind", doc.requests[1].url)
    assert.are.same({ target_type = "app", target_ids = { "a1", "a2" } }, json.decode(doc.requests[1].body))
    assert.are.equal("<redacted>", doc.requests[1].headers["X-Auth-Token"])
    assert.falsy(out:find("parser-spec-iam", 1, true))
    -- a refused argument is the validation error of the operation, before anything is built
    code, out, err = run { "devices", "unbind", "a/b", "--dry-run" }
    assert.are.equal("", out)
    assert.are.equal(cli.EXIT.validation, code)
    assert.truthy(err:find("devices.unbind validation error", 1, true), err)
  end)

  it("client:prepare_operation refuses an unknown operation name", function()
    local koodrive = require "koodrive"
    local c = assert(koodrive.new { endpoint = "http://127.0.0.1:9", user_id = "1", token = "t" })
    local r, err = c:prepare_operation("devices.explode")
    assert.is_nil(r)
    assert.are.equal("validation", err.kind)
    r = assert(c:prepare_operation("devices.bind", { machineCode = "M1" }))
    assert.are.same({ "POST", '{"machineCode":"M1"}' }, { r.method, r.body })
    c:close()
  end)
end)
