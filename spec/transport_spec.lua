-- Transports: replay fails loudly on an unknown request; record writes a scrubbed cassette
-- that replay plays back.
local koodrive = require "koodrive"
local fixtures = require "support.fixtures"

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p .. ".json"
end

describe("transport.replay", function()
  it("raises on a request it has no recording for, saying why", function()
    local client = fixtures.client("devices-unbind", "unbind")
    assert.has_error(function() client.devices:unbind("1234") end)
    local ok, msg = pcall(client.devices.unbind, client.devices, "1234")
    assert.is_false(ok)
    assert.matches("no recorded interaction for DELETE /koodrive/ose/v1/backup/device/1234", msg, 1, true)
    assert.matches("differs in path", msg, 1, true)
  end)

  it("answers each recording once", function()
    local client = fixtures.client("devices-unbind", "unbind")
    assert(client.devices:unbind("1775406005920779393"))
    assert.has_error(function() client.devices:unbind("1775406005920779393") end)
  end)

  it("compares the recorded headers and bodies", function()
    local client = fixtures.client("devices-bind", "bind")
    local ok, msg = pcall(client.devices.bind, client.devices, { machineCode = "other" })
    assert.is_false(ok)
    assert.matches("differs in body", msg, 1, true)
    local other_user = fixtures.client("devices-bind", "bind", { user_id = "7" })
    ok, msg = pcall(other_user.devices.bind, other_user.devices,
      { machineCode = "20251217", deviceName = "Magic-v5", deviceOS = "android" })
    assert.is_false(ok)
    assert.matches("differs in header X-User-Id", msg, 1, true)
  end)
end)

describe("transport.record", function()
  it("writes a cassette with secrets scrubbed that replays the same results", function()
    local path = tmpname()
    local inner = { send = function(_, _req)
      return { status = 200, headers = { ["content-type"] = "application/json", ["x-subject-token"] = "SUBJECT-SECRET" },
        body = '{"code":0,"msg":"success","data":{"deviceId":"1842812272691451648","machineCode":"m","password":"PW-SECRET"}}' }
    end }
    local recorder = koodrive.transport.record(inner, path)
    local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID,
      token = "TOKEN-SECRET", transport = recorder })
    local first = assert(client.devices:bind { machineCode = "m" })
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    for _, secret in ipairs { "TOKEN-SECRET", "SUBJECT-SECRET", "PW-SECRET" } do
      assert.is_nil(text:find(secret, 1, true), secret .. " was written to the cassette")
    end
    assert.matches("<redacted>", text, 1, true)
    local replayed = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = fixtures.USER_ID,
      token = "another-token", transport = koodrive.transport.replay(path) })
    local again = assert(replayed.devices:bind { machineCode = "m" })
    assert.are.equal(first.deviceId, again.deviceId)
    os.remove(path)
  end)
end)
