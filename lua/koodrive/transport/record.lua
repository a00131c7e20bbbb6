--- The record transport: sends through another transport and writes each interaction to a
-- cassette that `transport.replay` can play back. Secrets are scrubbed before anything is
-- written (koodrive.secrets): credential headers, credential-like query parameters and JSON
-- fields (names and values compared decoded, so `pa\/ss` or `%5F` hide nothing), and the
-- secrets of the client that sent the request wherever they appear, in any form a server
-- may echo them (headers, path, query, bodies).
local json = require "koodrive.json"
local vault = require "koodrive.secrets"

local Record = {}
Record.__index = Record
Record.__name = "koodrive.transport.record"

local function scrub_headers(headers, values)
  local out = {}
  for k, v in pairs(headers or {}) do
    out[k] = vault.header(k) and vault.MARK or vault.redact(v, values)
  end
  return out
end

local function scrub_query(query, values)
  return (query:gsub("([^&=]+)=([^&]*)", function(name, value)
    if vault.name(name) then return name .. "=" .. vault.MARK end
    return name .. "=" .. vault.redact(value, values)
  end))
end

local function scrub_body(body, values)
  if body == nil or body == "" then return "" end
  return vault.redact(body, values)
end

function Record:write()
  local text = assert(json.encode(self.cassette))
  local tmp = self.path .. ".tmp"
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, self.path))
end

function Record:send(req)
  local res, err = self.inner:send(req)
  if res then
    local path, query = req.url:match("^%a+://[^/]+([^?]*)%??(.*)$")
    local values = vault.values(nil, req)
    local list = self.cassette.interactions
    list[#list + 1] = {
      name = (req.operation or "request") .. " #" .. (#list + 1),
      request = { method = req.method, path = vault.redact(path, values),
        query = query ~= "" and scrub_query(query, values) or nil,
        headers = scrub_headers(req.headers, values), body_raw = scrub_body(req.body, values) },
      response = { status = res.status, headers = scrub_headers(res.headers, values),
        body_raw = scrub_body(res.body, values) },
    }
    self:write()
  end
  return res, err
end

function Record:close()
  if self.inner.close then self.inner:close() end
end

local function new(inner, path)
  assert(type(inner) == "table" and type(inner.send) == "function",
    "record: inner transport must have a send method")
  assert(type(path) == "string", "record: path must be a string")
  return setmetatable({ inner = inner, path = path, cassette = {
    about = "recorded by koodrive-lua; secrets replaced by <redacted>", interactions = {} } }, Record)
end

return { new = new }
