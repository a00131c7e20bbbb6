--- The record transport: sends through another transport and writes each interaction to a
-- cassette that `transport.replay` can play back. Secrets are scrubbed before anything is
-- written: credential headers, credential-like query parameters and JSON fields.
local json = require "koodrive.json"

local Record = {}
Record.__index = Record
Record.__name = "koodrive.transport.record"

local SECRET_HEADERS = { authorization = true, ["x-auth-token"] = true, ["x-security-token"] = true,
  ["x-subject-token"] = true, cookie = true, ["set-cookie"] = true, ["proxy-authorization"] = true }

-- Names of query parameters and JSON fields whose values are credentials.
local function secret_name(name)
  local n = name:lower()
  return n:find("token", 1, true) or n:find("secret", 1, true) or n:find("password", 1, true)
    or n:find("signature", 1, true) or n == "sk" or n == "ak" or n:find("access_?key")
end

local function scrub_headers(headers)
  local out = {}
  for k, v in pairs(headers or {}) do
    out[k] = SECRET_HEADERS[k:lower()] and "<redacted>" or v
  end
  return out
end

local function scrub_query(query)
  return (query:gsub("([^&=]+)=([^&]*)", function(name, value)
    if secret_name(name) then return name .. "=<redacted>" end
    return name .. "=" .. value
  end))
end

local function scrub_body(body)
  if body == nil or body == "" then return "" end
  return (body:gsub('"([^"\\]+)"(%s*:%s*)"([^"\\]*)"', function(name, sep, value)
    if secret_name(name) then return '"' .. name .. '"' .. sep .. '"<redacted>"' end
    return '"' .. name .. '"' .. sep .. '"' .. value .. '"'
  end))
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
    local list = self.cassette.interactions
    list[#list + 1] = {
      name = (req.operation or "request") .. " #" .. (#list + 1),
      request = { method = req.method, path = path, query = query ~= "" and scrub_query(query) or nil,
        headers = scrub_headers(req.headers), body_raw = scrub_body(req.body) },
      response = { status = res.status, headers = scrub_headers(res.headers),
        body_raw = scrub_body(res.body) },
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
