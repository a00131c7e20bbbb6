-- A client nobody holds any more is collected, with its libcurl handle and connections, on
-- every interpreter: Lua 5.1 and LuaJIT have no ephemerons, so a weak-keyed table whose value
-- leads back to its key keeps both for ever (it did: pipeline's service -> client map).
local koodrive = require "koodrive"

local function collected(make)
  local weak = setmetatable({}, { __mode = "v" })
  weak[1] = make()
  for _ = 1, 4 do collectgarbage("collect") end
  return weak[1] == nil
end

local function new_client(extra)
  local config = { endpoint = "http://127.0.0.1:9", user_id = "1", token = "t", retries = false }
  for k, v in pairs(extra or {}) do config[k] = v end
  if config.token_provider then config.token = nil end
  return assert(koodrive.new(config))
end

describe("a dropped client", function()
  it("is collected", function()
    assert.is_true(collected(function() return new_client() end))
  end)

  it("is collected after its service objects and composites were used", function()
    assert.is_true(collected(function()
      local c = new_client()
      c.devices:list() -- fails to connect: fine, the objects were used
      c.jobs:wait("../bad") -- a validation error, through the service -> client map
      local _ = c.files:pages { containerId = "c", parentFileId = "root" }
      return c
    end))
  end)

  it("is collected with a session_tokens provider", function()
    assert.is_true(collected(function()
      local auth = new_client()
      local provider = assert(koodrive.session_tokens { client = auth, code = "local-auth-code-0001" })
      return new_client { token_provider = provider }
    end))
  end)

  it("is collected when only its service object was kept, once that goes too", function()
    local weak = setmetatable({}, { __mode = "v" })
    local files
    do
      local c = new_client()
      weak[1] = c
      files = c.files
    end
    collectgarbage("collect")
    assert.is_not_nil(weak[1], "the client went while its service object is still used")
    assert.is_function(files.list)
    files = nil -- luacheck: ignore 311
    for _ = 1, 4 do collectgarbage("collect") end
    assert.is_nil(weak[1])
  end)
end)
