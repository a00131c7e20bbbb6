--- The replay transport: answers from recorded interactions (cassettes).
-- A cassette is { interactions = { { name, request = {...}, response = {...} }, ... } },
-- the format of the contract's recorded examples and of `transport.record`, given as a
-- table or as the path of a JSON file. Each recording answers once, in order of the file;
-- a request with no unused matching recording raises an error that says why none matched.
-- A recording compares method, path, query, its non-secret headers and its body (when it
-- has one: `body` as JSON compared by value, `body_raw` byte for byte); "<redacted>" in a
-- recorded path, query, header or raw body (transport.record's mark) matches any text.
-- `requests` lists every request received, so a spec can check what was (not) sent.
local core = require "koodrive.core"
local json = require "koodrive.json"
local vault = require "koodrive.secrets"

local Replay = {}
Replay.__index = Replay
Replay.__name = "koodrive.transport.replay"

-- Headers whose recorded value is not comparable: secrets (koodrive.secrets), the signing
-- time, per-run values.
local UNCOMPARED = { ["x-date"] = true, ["x-sdk-date"] = true, ["user-agent"] = true, ["x-traceid"] = true }
for name in pairs(vault.HEADERS) do UNCOMPARED[name] = true end

local function load(cassette)
  if type(cassette) == "string" then
    local f = assert(io.open(cassette, "rb"))
    local text = f:read("*a")
    f:close()
    cassette = assert(json.decode(text), "replay: " .. cassette .. " is not JSON")
  end
  assert(type(cassette) == "table", "replay: cassette must be a table or a file path")
  return cassette.interactions or cassette
end

local function deep_equal(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not deep_equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function header(headers, name)
  local lname = name:lower()
  for k, v in pairs(headers or {}) do
    if k:lower() == lname then return v end
  end
  return nil
end

-- Whether recorded text matches what is sent: the same, or the same but where
-- transport.record put "<redacted>" (any text there), so a scrubbed cassette plays back.
local function same(recorded, sent)
  if recorded == sent then return true end
  if type(recorded) ~= "string" or type(sent) ~= "string" then return false end
  if not recorded:find(vault.MARK, 1, true) then return false end
  local parts = {}
  local from = 1
  while true do
    local i, j = recorded:find(vault.MARK, from, true)
    parts[#parts + 1] = recorded:sub(from, (i or 0) - 1):gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
    if not i then break end
    from = j + 1
  end
  return sent:find("^" .. table.concat(parts, ".-") .. "$") ~= nil
end

-- A recorded path as sent (percent-encoded), its marks kept as they are.
local function recorded_path(p)
  if not p:find(vault.MARK, 1, true) then return core.encode_path(p) end
  local out = {}
  for piece in (p .. vault.MARK):gmatch("(.-)" .. vault.MARK) do
    out[#out + 1] = piece == "" and "" or core.encode_path(piece)
  end
  return table.concat(out, vault.MARK)
end

-- Returns nil when `rec` answers `req`, else the first difference, in words.
local function difference(rec, req, path, query)
  if (rec.method or "GET"):upper() ~= req.method then return "method" end
  if not same(recorded_path(rec.path), path) then return "path" end
  if not same(rec.query or "", query) then return "query" end
  for name, value in pairs(rec.headers or {}) do
    if not UNCOMPARED[name:lower()] and not same(value, header(req.headers, name)) then
      return "header " .. name
    end
  end
  local body = req.body or ""
  if rec.body_raw ~= nil then
    if not same(rec.body_raw, body) then return "body" end
  elseif type(rec.body) == "table" then
    local sent = body ~= "" and json.decode(body)
    if not deep_equal(rec.body, sent) then return "body" end
  elseif rec.body ~= nil and rec.body ~= body then
    return "body"
  end
  return nil
end

local function response(rec)
  local headers = {}
  for k, v in pairs(rec.headers or {}) do headers[k:lower()] = v end
  local body = rec.body_raw
  if body == nil then
    body = type(rec.body) == "table" and assert(json.encode(rec.body)) or (rec.body or "")
  end
  return { status = rec.status, headers = headers, body = body }
end

function Replay:send(req)
  local path, query = req.url:match("^%a+://[^/]+([^?]*)%??(.*)$")
  self.requests[#self.requests + 1] = req
  local why = {}
  for i, it in ipairs(self.interactions) do
    if not self.used[i] then
      local diff = difference(it.request, req, path, query)
      if not diff then
        self.used[i] = true
        return response(it.response)
      end
      why[#why + 1] = string.format("'%s' differs in %s", it.name or ("#" .. i), diff)
    end
  end
  -- The message quotes the request: its secrets (a token in the query) stay out.
  local values = vault.values(nil, req)
  error(string.format("replay: no recorded interaction for %s %s%s (%s)", req.method,
    vault.redact(path, values), query ~= "" and ("?" .. vault.redact(query, values)) or "",
    #why > 0 and table.concat(why, "; ") or "every recording has been used"), 2)
end

--- Names of the recordings not played yet.
function Replay:unused()
  local names = {}
  for i, it in ipairs(self.interactions) do
    if not self.used[i] then names[#names + 1] = it.name or ("#" .. i) end
  end
  return names
end

--- replay(cassette [, { only = name | {names} }])
local function new(cassette, opts)
  local list = load(cassette)
  if opts and opts.only then
    local wanted = type(opts.only) == "table" and opts.only or { opts.only }
    local keep = {}
    for _, name in ipairs(wanted) do
      for _, it in ipairs(list) do
        if it.name == name then keep[#keep + 1] = it end
      end
    end
    assert(#keep == #wanted, "replay: a selected interaction is not in the cassette")
    list = keep
  end
  return setmetatable({ interactions = list, used = {}, requests = {} }, Replay)
end

return { new = new }
