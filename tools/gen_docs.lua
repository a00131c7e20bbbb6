-- tools/gen_docs.lua - writes the option documentation from the one schema,
-- lua/koodrive/options.lua: the LuaLS classes in lua/koodrive/meta.lua, the LDoc tables in
-- lua/koodrive/init.lua (each between its BEGIN/END GENERATED OPTIONS markers), OPTIONS.md,
-- and the tables of README.md when it has the markers.
--   lua5.4 tools/gen_docs.lua           (from the repository root; `make gen`) writes them
--   lua5.4 tools/gen_docs.lua --check   exits 1 and names the files that are not current
-- Loaded as a module (dofile) it returns { targets, expected(path), current(path) } for
-- spec/docs_spec.lua.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local options = require "koodrive.options"

local M = {}

local WIDTH = 120
local BEGIN, END = "BEGIN GENERATED OPTIONS", "END GENERATED OPTIONS"
local ORIGIN = "(make gen: tools/gen_docs.lua from lua/koodrive/options.lua; edit that file, not this block)"

local function default_text(o)
  if o.required then return nil end
  if o.default_text then return o.default_text end
  if o.default ~= nil then return tostring(o.default) end
  return nil
end

-- `text` cut into lines of at most `width` columns, each starting with `prefix` (the first
-- with `first`).
local function wrap(first, prefix, text, width)
  local lines, line = {}, first
  for word in text:gmatch("%S+") do
    if #line + 1 + #word > width and line ~= first and line ~= prefix then
      lines[#lines + 1] = line
      line = prefix .. word
    elseif line == first or line == prefix then
      line = line .. word
    else
      line = line .. " " .. word
    end
  end
  lines[#lines + 1] = line
  return lines
end

--- The LuaLS classes of meta.lua: one ---@field line per option.
function M.meta()
  local out = {}
  for i, g in ipairs(options.groups) do
    if i > 1 then out[#out + 1] = "" end
    out[#out + 1] = "---" .. g.doc
    out[#out + 1] = "---@class " .. g.class .. (g.parent and (": " .. g.parent) or "")
    for _, o in ipairs(g) do
      local d = default_text(o)
      local doc = o[3] .. (o.required and " Required." or "") .. (d and (" Default: " .. d .. ".") or "")
      local line = "---@field " .. o[1] .. (o.required and " " or "? ") .. o[2] .. " " .. doc
      if #line > WIDTH then line = "---@field " .. o[1] .. (o.required and " " or "? ") .. o[2] .. " " .. o[3] end
      assert(#line <= WIDTH, "options.lua: the doc of " .. o[1] .. " is too long for meta.lua")
      out[#out + 1] = line
    end
  end
  return out
end

--- The LDoc tables of init.lua.
function M.ldoc()
  local out = {}
  for i, g in ipairs(options.groups) do
    if i > 1 then out[#out + 1] = "" end
    local doc = g.ldoc_doc or g.doc
    local first = true
    for line in (doc .. "\n"):gmatch("([^\n]*)\n") do
      out[#out + 1] = (first and "--- " or "-- ") .. line
      first = false
    end
    out[#out + 1] = "-- @table " .. g.ldoc
    for _, o in ipairs(g) do
      local d = default_text(o)
      local text = o[3] .. (o.more and (" " .. o.more) or "") .. (o.required and " (required)" or "") ..
        (d and (" (default: " .. d .. ")") or "")
      for _, line in ipairs(wrap("-- @field " .. o[1] .. " ", "-- ", text, WIDTH - 20)) do out[#out + 1] = line end
    end
  end
  return out
end

local function cell(s) return (s:gsub("|", "\\|")) end

--- The Markdown tables (OPTIONS.md, README.md).
function M.markdown()
  local out = {}
  for i, g in ipairs(options.groups) do
    if i > 1 then out[#out + 1] = "" end
    out[#out + 1] = "### `" .. g.ldoc .. "`" .. (g.parent and " (and every `CommonOptions`)" or "")
    out[#out + 1] = ""
    out[#out + 1] = (g.ldoc_doc or g.doc):gsub("\n", " ")
    out[#out + 1] = ""
    out[#out + 1] = "| Option | Type | Default | Meaning |"
    out[#out + 1] = "|---|---|---|---|"
    for _, o in ipairs(g) do
      local d = o.required and "required" or default_text(o)
      out[#out + 1] = "| `" .. o[1] .. "` | `" .. cell(o[2]) .. "` | " .. (d and cell(d) or "—") .. " | " ..
        cell(o[3] .. (o.more and (" " .. o.more) or "")) .. " |"
    end
  end
  return out
end

--------------------------------------------------------------------------------------------
-- Service methods: LuaLS stubs for every method the pipeline makes from koodrive.operations
-- (and the composites and bulk helpers) that meta.lua does not declare by hand.
--------------------------------------------------------------------------------------------

local SERVICES_BEGIN, SERVICES_END = "BEGIN GENERATED SERVICES", "END GENERATED SERVICES"

local function class_name(service)
  return (service:gsub("^%l", string.upper):gsub("_(%l)", function(c) return c:upper() end)) .. "Service"
end

local function stub(lines, class, method, params)
  for _, p in ipairs(params) do
    lines[#lines + 1] = "---@param " .. p .. (p == "opts" and "? table per-call options" or " any")
  end
  lines[#lines + 1] = "---@return any|nil result"
  lines[#lines + 1] = "---@return koodrive.Error|nil err"
  local names = {}
  for i, p in ipairs(params) do names[i] = p end
  lines[#lines + 1] = "function " .. class .. ":" .. method .. "(" .. table.concat(names, ", ") .. ") end"
end

--- The generated service stubs, given meta.lua's current text (its hand-written methods stay).
function M.services(text)
  text = text:gsub(SERVICES_BEGIN .. ".-" .. SERVICES_END, "")
  local declared, classes = {}, {}
  for class, method in text:gmatch("\nfunction (%w+):([%w_]+)%(") do declared[class .. ":" .. method] = true end
  for class in text:gmatch("\nlocal (%w+Service) = {}") do classes[class] = true end
  local lines = {}
  for _, client in ipairs { { "koodrive.Client", "koodrive.client", "Client" },
      { "koodrive.IotdaClient", "koodrive.iotda", "Client" } } do
    local Client = require(client[2])[client[3]]
    local services = {}
    local operations = Client.operations()
    for service in pairs(operations) do services[#services + 1] = service end
    for service in pairs(Client.extras) do
      if not operations[service] then services[#services + 1] = service end
    end
    table.sort(services)
    local fields = {}
    for _, service in ipairs(services) do
      local class = class_name(service)
      local methods = {}
      for method, op in pairs(operations[service] or {}) do
        local params = {}
        for i, a in ipairs(op.args) do params[i] = a.name end
        params[#params + 1] = "opts"
        methods[#methods + 1] = { method, params }
        if op.paging then
          local prefix = method == "list" and "" or (method .. "_")
          for _, c in ipairs { "pages", "each", "all" } do methods[#methods + 1] = { prefix .. c, params } end
        end
      end
      for method in pairs(Client.extras[service] or {}) do methods[#methods + 1] = { method, { "..." } } end
      table.sort(methods, function(a, b) return a[1] < b[1] end)
      local body = {}
      for _, m in ipairs(methods) do
        if not declared[class .. ":" .. m[1]] then
          body[#body + 1] = ""
          stub(body, class, m[1], m[2])
        end
      end
      if not classes[class] then
        fields[#fields + 1] = "---@field " .. service .. " koodrive." .. class
        lines[#lines + 1] = "---client." .. service
        lines[#lines + 1] = "---@class koodrive." .. class
        lines[#lines + 1] = "local " .. class .. " = {}"
      end
      for _, l in ipairs(body) do lines[#lines + 1] = l end
      lines[#lines + 1] = ""
    end
    if #fields > 0 then
      lines[#lines + 1] = "---@class " .. client[1]
      for _, f in ipairs(fields) do lines[#lines + 1] = f end
      lines[#lines + 1] = ""
    end
  end
  while lines[#lines] == "" do lines[#lines] = nil end
  return lines
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- `text` with the lines between the line holding BEGIN and the line holding END replaced;
-- nil when the markers are missing.
local function splice(text, lines, first, last)
  first, last = first or BEGIN, last or END
  local before, rest = text:match("^(.-[^\n]*" .. first .. "[^\n]*\n)(.*)$")
  if not before then return nil end
  local after = rest:match("\n?([^\n]*" .. last .. ".*)$")
  if not after then return nil end
  -- Blank lines around the block: LDoc would read a marker next to a comment as part of it.
  return before .. "\n" .. table.concat(lines, "\n") .. "\n\n" .. after
end

--- The generated files: path -> how to make its content from the current one.
M.targets = {
  { path = "lua/koodrive/meta.lua", make = function(text)
      local out = splice(text, M.meta())
      return out and splice(out, M.services(out), SERVICES_BEGIN, SERVICES_END)
    end },
  { path = "lua/koodrive/init.lua", make = function(text) return splice(text, M.ldoc()) end },
  { path = "OPTIONS.md", make = function()
      local lines = { "# Client and call options", "",
        "<!-- generated " .. ORIGIN .. " -->", "",
        "Every option `koodrive.new`, `koodrive.iotda.new`, the operations and the bulk helpers take." }
      lines[#lines + 1] = ""
      for _, l in ipairs(M.markdown()) do lines[#lines + 1] = l end
      return table.concat(lines, "\n") .. "\n"
    end },
  { path = "README.md", optional = true, make = function(text) return splice(text, M.markdown()) end },
}

--- What the file at `path` should hold now, or nil when it is an optional target without markers.
function M.expected(path)
  for _, t in ipairs(M.targets) do
    if t.path == path then
      local text = read(path) or ""
      local out = t.make(text)
      if out == nil and not t.optional then error(path .. ": no " .. BEGIN .. " / " .. END .. " markers") end
      return out
    end
  end
  error("not a generated file: " .. path)
end

M.current = read

local function main(check)
  local stale = {}
  for _, t in ipairs(M.targets) do
    local want = M.expected(t.path)
    if want ~= nil and want ~= read(t.path) then
      stale[#stale + 1] = t.path
      if not check then
        local f = assert(io.open(t.path, "wb"))
        f:write(want)
        f:close()
        print("wrote " .. t.path)
      end
    end
  end
  if check and #stale > 0 then
    io.stderr:write("not current (run make gen): ", table.concat(stale, ", "), "\n")
    os.exit(1)
  end
end

if arg and arg[0] and arg[0]:match("gen_docs%.lua$") and not package.loaded["busted"] then
  main(arg[1] == "--check")
end

return M
