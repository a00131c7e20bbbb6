-- The validation rules of koodrive.validate themselves, on the edges the hostile-input specs
-- (spec/hostile_input_*_spec.lua) rely on: UTF-8, endpoints, request paths, query names and
-- values, JSON bodies, file paths, counts, languages and safe text.
local koodrive = require "koodrive"
local errors = require "koodrive.errors"
local hostile = require "support.hostile"

local MIB = hostile.MIB
local FN = hostile.FN

describe("validate rules", function()
  local validate = require "koodrive.validate"

  local function refuses(fn, ...)
    local ok, res, err = pcall(fn, ...)
    assert(ok, "raised: " .. tostring(res))
    assert(res == nil and errors.is(err), "accepted")
    return err
  end
  local function accepts(fn, value, ...)
    local ok, res, err = pcall(fn, value, ...)
    assert(ok, "raised: " .. tostring(res))
    assert(res ~= nil, "refused: " .. tostring(err))
    return res
  end

  it("is_utf8 takes shortest forms up to U+10FFFF and nothing else", function()
    for _, s in ipairs { "", "ascii", "caf\195\169", "\228\184\128", "\240\159\152\128", "\244\143\191\191",
      "\0", "\237\159\191" } do
      assert.is_true(validate.is_utf8(s), string.format("%q", s))
    end
    for _, s in ipairs { "\128", "\192\175", "\193\191", "\224\128\175", "\237\160\128", "\240\128\128\175",
      "\244\144\128\128", "\245\128\128\128", "\255", "\195", "\226\130", "a\195(" } do
      assert.is_false(validate.is_utf8(s), string.format("%q", s))
    end
  end)

  it("endpoint: refuses traversal, controls, non-ASCII and length; keeps ports, IPv6 and base paths", function()
    for _, good in ipairs { "https://h", "http://127.0.0.1:8080", "https://[::1]:8443/base/v1/",
      "https://h/a%20b/c", "https://h/..a/b.." } do
      accepts(validate.endpoint, good, "endpoint")
    end
    for _, bad in ipairs { "https://h/..", "https://h/a/./b", "https://h/%2E%2E", "https://h/a\\b",
      "https://h/a%2fb", "https://h/%00", "https://h\n", "https://h/\255", "https://h/" .. MIB, 42 } do
      assert.are.equal("endpoint", refuses(validate.endpoint, bad, "endpoint").field)
    end
  end)

  it("request_path: refuses what could leave the intended path", function()
    for _, good in ipairs { "/", "/a/b", "/a/%41", "/a/b c", "/v5/iot/p/device-policies/x/unbind", "/a/...", "/a/.b" } do
      accepts(validate.request_path, good, "path")
    end
    local cases = { { "a", "type" }, { "/a?b", "path" }, { "/a#b", "path" }, { "/a\r\n", "path" },
      { "/\195\169", "path" }, { "/a/../b", "path_segment" }, { "/%2e%2E", "path_segment" },
      { "/a\\b", "path_segment" }, { "/a%5cb", "path_segment" }, { "/a%2F", "path_segment" },
      { "/a%0D%0A", "path_segment" }, { "/" .. string.rep("a", 4096), "length" } }
    for _, c in ipairs(cases) do
      local err = refuses(validate.request_path, c[1], "path")
      assert.are.equal("path", err.field)
      assert.are.equal(c[2], err.rule, c[1])
    end
  end)

  it("query names and values: UTF-8 yes, invalid UTF-8, controls and non-finite numbers no", function()
    accepts(validate.query_name, "k\228\184\128", "q")
    accepts(validate.query_name, "k ", "q")
    for _, bad in ipairs { "", "a\r\n", "\255", string.rep("a", 257), 1, {} } do
      refuses(validate.query_name, bad, "q")
    end
    assert.are.equal("caf\195\169", accepts(validate.query_value, "caf\195\169", "q"))
    assert.are.equal("42", accepts(validate.query_value, 42, "q"))
    assert.are.equal("1.5", accepts(validate.query_value, 1.5, "q"))
    assert.are.equal("true", accepts(validate.query_value, true, "q"))
    for _, bad in ipairs { "a\0", "a\r\nb", "\192\175", string.rep("a", 8193), 0 / 0, math.huge, {}, FN } do
      refuses(validate.query_value, bad, "q")
    end
  end)

  it("json_body: names the path to the bad value", function()
    accepts(validate.json_body, { a = { "x", 1, true, koodrive.null, { b = "caf\195\169\n" } } }, "body")
    assert.are.equal("body.a[2].b", refuses(validate.json_body, { a = { "x", { b = "\255" } } }, "body").field)
    assert.are.equal("body.f", refuses(validate.json_body, { f = FN }, "body").field)
    assert.are.equal("body.n", refuses(validate.json_body, { n = 0 / 0 }, "body").field)
    local cyclic = {}
    cyclic.self = cyclic
    assert.are.equal("json", refuses(validate.json_body, cyclic, "body").rule)
    assert.are.equal("body", refuses(validate.json_body, { [true] = 1 }, "body").field)
  end)

  it("file paths, counts, languages and safe text", function()
    accepts(validate.file_path, "/etc/\255.pem", "ca_file")
    for _, bad in ipairs { "", "a\0b", "a\nb", string.rep("a", 4097), 1 } do refuses(validate.file_path, bad, "ca_file") end
    accepts(validate.count, 0, "n", 10)
    for _, bad in ipairs { -1, 11, 1.5, 0 / 0, math.huge, "1" } do refuses(validate.count, bad, "n", 10) end
    accepts(validate.language, "zh-Hans_CN", "language")
    for _, bad in ipairs { "en US", "en\r\n", "\195\169", string.rep("a", 36), "" } do
      refuses(validate.language, bad, "language")
    end
    assert.are.equal("a\\x0D\\x0Ab\\xFF", validate.safe_text("a\r\nb\255"))
    assert.are.equal(string.rep("a", 64) .. "...", validate.safe_text(MIB))
  end)
end)