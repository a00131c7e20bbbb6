-- The API reference and the editor annotations cover the public API: every public function
-- of the files LDoc reads (config.ld) has a doc comment and LuaLS annotations, `make docs`
-- (LDoc) writes an entry for each of them, and every client option and error kind the code
-- accepts is documented.
local errors = require "koodrive.errors"
local koodrive = require "koodrive"

local sys = require "support.sys"

local function read(path) return (assert(sys.read(path), path)) end

local function lines_of(path)
  local t = {}
  for line in (read(path) .. "\n"):gmatch("([^\n]*)\n") do t[#t + 1] = line end
  return t
end

-- The files LDoc documents, from config.ld.
local FILES = {}
for path in read("config.ld"):match("file%s*=%s*(%b{})"):gmatch('"([^"]+)"') do FILES[#FILES + 1] = path end

-- Public definitions: `function tbl.name(` / `function Tbl:name(` at the top level. Internal
-- auth profiles (`profile.*`) and metamethods are not API.
local function public_functions(path)
  local found, lines = {}, lines_of(path)
  for i, line in ipairs(lines) do
    local name = line:match("^function ([%w_]+[.:][%w_]+)%(")
    if name and not name:match("^profile%.") and not name:match("[.:]__") then
      local doc, annotated, j = false, false, i - 1
      while j > 0 and lines[j]:match("^%-%-") do
        if lines[j]:match("^%-%-%-@") then annotated = true
        elseif lines[j]:match("^%-%-%- ") then doc = true end
        j = j - 1
      end
      found[#found + 1] = { name = name, line = i, doc = doc, annotated = annotated }
    end
  end
  return found
end

-- Field names listed under a `---@class NAME` block of meta.lua.
local function class_fields(class)
  local fields, inside = {}, false
  for _, line in ipairs(lines_of("lua/koodrive/meta.lua")) do
    if line:match("^%-%-%-@class ") then
      inside = line:match("^%-%-%-@class ([%w_.]+)") == class
    elseif inside then
      local f = line:match("^%-%-%-@field ([%w_]+)")
      if f then fields[#fields + 1] = f elseif not line:match("^%-%-%-") then inside = false end
    end
  end
  return fields
end

describe("API reference sources", function()
  it("config.ld lists the public modules", function()
    assert.is_true(#FILES >= 8)
    for _, path in ipairs(FILES) do assert.is_truthy(io.open(path), path) end
  end)

  for _, path in ipairs(FILES) do
    it("every public function of " .. path .. " has a doc comment and LuaLS annotations", function()
      local missing = {}
      for _, f in ipairs(public_functions(path)) do
        if not (f.doc and f.annotated) then
          missing[#missing + 1] = ("%s:%d %s (doc %s, ---@ %s)"):format(path, f.line, f.name,
            tostring(f.doc), tostring(f.annotated))
        end
      end
      assert.are.same({}, missing)
    end)
  end

  it("documents exactly the client options koodrive.new and koodrive.iotda.new accept", function()
    local common = class_fields("koodrive.CommonOptions")
    local kd, iot = class_fields("koodrive.Options"), class_fields("koodrive.IotdaOptions")
    assert.is_true(#common >= 10 and #kd >= 4 and #iot >= 5)
    -- Each documented option is known: a wrong value for it is refused for its value, never
    -- as an unknown option. A function is a wrong value for every option except clock/logger/
    -- sleep/token_provider, and for those a table is.
    local function refusal(new, name)
      for _, bad in ipairs { function() end, { {} } } do
        local _, err = new { [name] = bad }
        assert.is_table(err, name)
        if err.rule == "unknown_option" then return err end
      end
    end
    for _, list in ipairs { { koodrive.new, common }, { koodrive.new, kd },
      { koodrive.iotda.new, common }, { koodrive.iotda.new, iot } } do
      for _, name in ipairs(list[2]) do
        local err = refusal(list[1], name)
        assert.is_nil(err, name .. " is documented but refused as unknown")
      end
    end
    -- And an option nobody documented is refused as unknown.
    local _, err = koodrive.new { endpoint = "http://127.0.0.1:1", user_id = "u", token = "t", tokn = "x" }
    assert.are.equal("unknown_option", err.rule)
    assert.are.equal("tokn", err.field)
  end)
end)

describe("one source for the options (lua/koodrive/options.lua)", function()
  local gen = dofile("tools/gen_docs.lua")
  local options = require "koodrive.options"

  for _, target in ipairs(gen.targets) do
    it(target.path .. " holds what `make gen` writes from the schema now", function()
      local want = gen.expected(target.path)
      if want == nil then
        assert.is_true(target.optional, target.path .. " has no generated block")
        return
      end
      assert.are.equal(want, gen.current(target.path), target.path .. " is not current: run make gen")
    end)
  end

  it("is what meta.lua declares, class by class", function()
    for _, g in ipairs(options.groups) do
      local names = {}
      for _, o in ipairs(g) do names[#names + 1] = o[1] end
      assert.are.same(names, class_fields(g.class), g.class)
    end
  end)

  it("is what the per-call checks and the bulk helpers accept", function()
    local seen = {}
    local transport = { send = function(_, req)
      seen[#seen + 1] = req
      return { status = 200, headers = {}, body = '{"code":0,"data":[]}' }
    end }
    local client = assert(koodrive.new { endpoint = "http://127.0.0.1:1", user_id = "1", token = "t",
      transport = transport })
    -- A function is a wrong value for every per-call option: refused for its value, not its name.
    for name in pairs(options.names("call")) do
      local _, err = client.devices:list { [name] = function() end }
      assert.are_not.equal("unknown_option", err.rule, name)
      assert.are.equal(name, err.field)
    end
    local _, err = client.devices:list { trace = "x" }
    assert.are.equal("validation", err.kind)
    assert.matches("trace", err.field)
    for name in pairs(options.names("batch")) do
      local _, berr = client.devices:unbind_many({ "1" }, { [name] = {} })
      assert.are.equal(name, berr.field)
    end
    assert.are.equal(0, #seen)
  end)
end)

local LDOC = "/usr/bin/ldoc"
local have_ldoc = io.open(LDOC) ~= nil and sys.succeeds("command -v lua5.1 >/dev/null 2>&1")

describe("make docs (LDoc)", function()
  if not have_ldoc then
    pending("lua-ldoc and lua5.1 are not installed (make tool-deps)")
    return
  end

  local dir, html = os.tmpname(), {}
  setup(function()
    os.remove(dir)
    sys.run("mkdir -p " .. sys.quote(dir))
    local ok = sys.succeeds("lua5.1 " .. LDOC .. " -d " .. sys.quote(dir) .. " . >" .. sys.quote(dir .. "/ldoc.log") .. " 2>&1")
    assert.is_true(ok, read(dir .. "/ldoc.log"))
    for _, path in ipairs(FILES) do
      local module = read(path):match("@module ([%w_.]+)")
      html[path] = read(dir .. "/modules/" .. module .. ".html")
    end
    html.all = table.concat(html, "")
    for _, page in pairs(html) do html.all = html.all .. page end
  end)
  teardown(function() os.execute("rm -rf " .. sys.quote(dir)) end)

  it("writes no warning", function()
    local log = read(dir .. "/ldoc.log")
    assert.is_nil(log:match("[^\n]*warning[^\n]*"))
    assert.is_nil(log:match("[^\n]*not found[^\n]*"))
  end)

  it("has an entry for every public function", function()
    for _, path in ipairs(FILES) do
      for _, f in ipairs(public_functions(path)) do
        -- LDoc names module functions by their bare name and methods Class:name.
        local entry = f.name:find(":", 1, true) and f.name or f.name:match("%.([%w_]+)$")
        assert.is_truthy(html[path]:find('name = "' .. entry .. '"', 1, true), path .. ": " .. f.name)
      end
    end
  end)

  it("has an entry for every operation of both clients", function()
    for _, entry in ipairs { "devices:list", "devices:bind", "devices:unbind", "devices:unbind_many",
      "usergroups:delete_members", "usergroups:delete_members_many", "device_policies:unbind",
      "device_policies:unbind_all" } do
      assert.is_truthy(html.all:find('name = "' .. entry .. '"', 1, true), entry)
    end
  end)

  it("names every client option", function()
    for _, class in ipairs { "koodrive.CommonOptions", "koodrive.Options", "koodrive.IotdaOptions",
      "koodrive.CallOptions", "koodrive.RetryOptions" } do
      for _, name in ipairs(class_fields(class)) do
        assert.is_truthy(html.all:find(name, 1, true), class .. "." .. name)
      end
    end
  end)

  it("describes every error kind", function()
    local section = html["lua/koodrive/errors.lua"]:match('name = "kinds".-</dd>')
    assert.is_string(section)
    local n = 0
    for kind in pairs(errors.kinds) do
      n = n + 1
      assert.is_truthy(section:find('<span class="parameter">' .. kind .. '</span>', 1, true), kind)
    end
    assert.are.equal(8, n)
  end)
end)
