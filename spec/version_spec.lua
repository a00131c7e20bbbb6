-- One version: the C core's KOODRIVE_VERSION (src/core.h) is koodrive._VERSION, the rockspec's
-- version, and the one in the User-Agent of every request.
local koodrive = require "koodrive"
local core = require "koodrive.core"
local fixtures = require "support.fixtures"

local sys = require "support.sys"

local function read(path) return (assert(sys.read(path), path)) end

describe("version", function()
  it("is the same in the C core, the Lua module and the rockspec", function()
    local rockspec = read("koodrive-scm-1.rockspec")
    local declared = rockspec:match('\nversion%s*=%s*"([^"]+)"')
    assert.is_string(declared)
    assert.are.equal(declared, core._VERSION)
    assert.are.equal(declared, koodrive._VERSION)
    assert.are.equal('#define KOODRIVE_VERSION "' .. declared .. '"',
      read("src/core.h"):match('#define KOODRIVE_VERSION "[^"]*"'))
  end)

  it("is sent in the User-Agent with the Lua version", function()
    local client = assert(koodrive.new { endpoint = fixtures.ENDPOINT, user_id = "1", token = "t",
      transport = fixtures.never() })
    local ua = client:prepare { method = "GET", path = "/" }.headers["User-Agent"]
    assert.are.equal("koodrive-lua/" .. koodrive._VERSION .. " (" .. _VERSION .. ")", ua)
  end)

  it("has an entry in CHANGELOG.md", function()
    assert.matches("## " .. koodrive._VERSION:gsub("%-", "%%-"), read("CHANGELOG.md"))
  end)
end)
