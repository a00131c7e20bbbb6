-- What `require "koodrive"` loads, seen from a fresh process: no shared library beyond the
-- interpreter's and lua-cjson's. libcrypto comes with the first signature (koodrive.sign),
-- libcurl with the first libcurl transport or loop (koodrive.curl); token-mode clients on
-- other transports (OpenResty cosockets, cassettes) never load either.
local LUA = arg and arg[-1] or "lua5.4"

-- Runs `script` in a fresh interpreter with this suite's paths; returns what it printed.
local function run(script)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write([[
local function maps()
  local m = io.open("/proc/self/maps"):read("*a")
  return (m:find("libcrypto", 1, true) and "crypto" or "-") .. " " .. (m:find("libcurl", 1, true) and "curl" or "-")
end
local function modules()
  local out = {}
  for _, name in ipairs { "koodrive.sign", "koodrive.curl", "koodrive.batch", "koodrive.iotda" } do
    if package.loaded[name] then out[#out + 1] = name end
  end
  return table.concat(out, ",")
end
]] .. script)
  f:close()
  local p = assert(io.popen(LUA .. " " .. path .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  return out
end

local REPLAY = [[
local koodrive = require "koodrive"
local cassette = { interactions = { {
  request = { method = "GET", path = "/koodrive/ose/v1/backup/device" },
  response = { status = 200, headers = { ["Content-Type"] = "application/json" },
    body = { code = 0, msg = "success", data = { { deviceId = "1", machineCode = "m", deviceName = "n",
      deviceOS = "android" } } } } } } }
]]

describe("loading", function()
  it("require 'koodrive' loads neither libcrypto nor libcurl, nor the modules used later", function()
    local out = run([[
require "koodrive"
print("maps " .. maps())
print("modules [" .. modules() .. "]")
]])
    assert.matches("maps %- %-", out)
    assert.matches("modules %[%]", out)
  end)

  it("a token-mode client on a cassette lists devices without loading either", function()
    local out = run(REPLAY .. [[
local c = assert(koodrive.new { endpoint = "https://kd.example.com", user_id = "1", token = "t",
  transport = koodrive.transport.replay(cassette), retries = false })
local devices = assert(c.devices:list())
print("devices " .. #devices)
print("maps " .. maps())
]])
    assert.matches("devices 1", out)
    assert.matches("maps %- %-", out)
  end)

  it("the first signature loads libcrypto (koodrive.sign), still not libcurl", function()
    local out = run(REPLAY .. [[
local c = assert(koodrive.new { endpoint = "https://kd.example.com", user_id = "1", app_id = "a",
  app_secret = "s", transport = koodrive.transport.replay(cassette), retries = false })
print("before " .. maps())
local req = assert(c:prepare { method = "GET", path = "/koodrive/ose/v1/backup/device" })
print("signed " .. tostring(req.headers.Authorization:match("^HMAC%-SHA256") ~= nil))
print("after " .. maps() .. " [" .. modules() .. "]")
]])
    assert.matches("before %- %-", out)
    assert.matches("signed true", out)
    assert.matches("after crypto %- %[koodrive.sign%]", out)
  end)

  it("the first libcurl transport loads libcurl (koodrive.curl); iotda and batch load on use", function()
    local out = run([[
local koodrive = require "koodrive"
local t = koodrive.transport.curl()
print("curl " .. maps() .. " [" .. modules() .. "]")
t:close()
local c = koodrive.iotda.new { endpoint = "https://iotda.example.com", project_id = "p", token = "t" }
print("iotda " .. tostring(c ~= nil) .. " [" .. modules() .. "]")
]])
    assert.matches("curl %S+ curl %[koodrive.curl%]", out) -- libcurl brings its own libcrypto
    assert.matches("iotda true %[koodrive.curl,koodrive.iotda%]", out)
  end)

  it("a family's operations load with the first use of one of its services, not at require", function()
    local out = run([[
local koodrive = require "koodrive"
local function families()
  local out = {}
  for _, f in ipairs { "devices", "files", "users", "iotda" } do
    if package.loaded["koodrive.operations." .. f] then out[#out + 1] = f end
  end
  return table.concat(out, ",")
end
print("require [" .. families() .. "]")
local c = assert(koodrive.new { endpoint = "https://kd.example.com", user_id = "1", token = "t" })
print("new [" .. families() .. "]")
print("method " .. type(c.usage.by_user) .. " [" .. families() .. "]")
print("bulk " .. type(c.devices.unbind_many) .. " [" .. families() .. "]")
print("list " .. type(c.devices.list) .. " " .. type(c.devices.nope))
local req = assert(c:prepare_operation("files.list", { containerId = "IAADx", parentFileId = "root" }))
print("prepared " .. req.method .. " [" .. families() .. "]")
print("paged " .. type(c.files.each) .. " " .. type(c.files.list_recycled_all))
print("unknown " .. tostring(select(2, c:prepare_operation("nope.list")).message:match("devices%.list") ~= nil))
]])
    assert.matches("require %[%]", out)
    assert.matches("new %[%]", out)
    -- usage is declared by the users family: the first lookup loads that family only.
    assert.matches("method function %[users%]", out)
    assert.matches("bulk function %[devices,users%]", out)
    assert.matches("list function nil", out)
    assert.matches("prepared %u+ %[devices,files,users%]", out)
    assert.matches("paged function function", out)
    -- An unknown name lists every operation, so every family loads to say which exist.
    assert.matches("unknown true", out)
  end)
end)
