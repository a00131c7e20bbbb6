-- fuzz target "sign": core.sign (src/sign.c, src/sign_req.c), the canonical request and the
-- three schemes (HMAC-SHA256, SDK-HMAC-SHA256, V11-HMAC-SHA256), on requests built from the input.
--
-- Invariants:
--   * misuse (unknown scheme, a method that is not a token, a path without "/", an empty or
--     control-character key id, an empty secret, a bad or over-long (> 500 bytes)
--     region/service, a non-string body or header, bad query pairs, an `unsigned` that is no
--     array of at most 16 strings) raises "bad argument #1",
--     and nothing else ever raises;
--   * a bad header set (a name that is not a token, names equal but for case, CR/LF in a
--     value, a missing Host/X-Date/X-User-Id or X-Sdk-Date, a V11 date under 8 bytes) gives
--     nil and a message string;
--   * otherwise every field equals a plain Lua reference built from signing.md's rules (less the
--     headers named in `unsigned`, in any case), with
--     digests from independent one-shot OpenSSL calls (kd_fuzz.*, not sign_ctx.c's cached
--     contexts), so the key caches of sign_ctx.c are checked across inputs too.
local core = require "koodrive.sign" -- the signing module also has the encoders
local support = require "support"
local check, show = support.check, support.show

local SCHEMES = { "HMAC-SHA256", "SDK-HMAC-SHA256", "V11-HMAC-SHA256" }
local METHODS = { "GET", "POST", "PUT", "DELETE", "delete", "HEAD", "PATCH", "M-SEARCH", "GET " }
local NAMES = { "Host", "host", "HOST", "X-Date", "x-date", "X-User-Id", "X-Sdk-Date",
  "x-sdk-date", "X-Sdk-Content-Sha256", "Content-Type", "X-Project-Id", "X_Underscore",
  "Authorization", "language", "X-Traceid", "Instance-Id", "a", "Z", "x-user-id" }
local VALUES = { "20251217T093000Z", "20251217", "2025121", "  20251217T093000Z\t", "UNSIGNED-PAYLOAD",
  " UNSIGNED-PAYLOAD ", "cn.myhuaweicloud-koodrive.com", "1505084218764547200", "", " ", "\t",
  "a\r\nb", "a\nb", "v\0x", "application/json;charset=UTF-8" }
local TCHARS = "!#$%&'*+-.^_`|~09AZaz"

local EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

local function has_control(s) return s:find("[%z\1-\31\127]") ~= nil end
local function is_token(s) return #s > 0 and s:find("^[%w!#%$%%&'%*%+%-%.%^_`|~]+$") ~= nil end
local function trim(s) return (s:gsub("^[ \t]+", ""):gsub("[ \t]+$", "")) end

local function ascii_lower(s) return (s:gsub("%u", string.lower)) end
local function ascii_upper(s) return (s:gsub("%l", string.upper)) end

local bytes_less = support.bytes_less

local function header_value(r)
  local k = r:byte() % 4
  if k == 0 then return r:str(40) end
  if k == 1 then return r:text(" \tAz09:;/-\r\n", 20) end
  return r:pick(VALUES)
end

local function header_name(r)
  local k = r:byte() % 4
  if k == 0 then return r:text(TCHARS, 10) end
  if k == 1 then return r:str(12) end
  return r:pick(NAMES)
end

local function query_item(r)
  local k = r:byte() % 8
  if k < 5 then return r:str(24) end
  if k == 5 then return r:byte() - 50 end
  if k == 6 then return r:pick { 0.5, 1 / 0, 2 ^ 63, -0.0 } end
  return r:bool() and true or {} -- refused
end

local function build(r)
  local req = {}
  local k = r:byte()
  if k < 250 then req.scheme = SCHEMES[k % 3 + 1] else req.scheme = r:str(20) end
  local scheme_ok = false
  for _, s in ipairs(SCHEMES) do if req.scheme == s then scheme_ok = true end end
  local raise = not scheme_ok

  k = r:byte() % 8
  req.method = k < 6 and r:pick(METHODS) or r:text(TCHARS .. " (", 8)
  if not is_token(req.method) then raise = true end

  k = r:byte() % 16
  if k == 0 then req.path = r:str(30) else req.path = "/" .. r:str(120) end
  if req.path:sub(1, 1) ~= "/" then raise = true end

  req.key_id = r:byte() % 16 == 0 and r:str(20) or r:text("AKSK0123456789-_ \1", 24)
  if req.key_id == "" or has_control(req.key_id) then raise = true end
  req.secret = r:str(r:byte() % 4 == 0 and 300 or 40)
  if req.secret == "" then raise = true end

  if req.scheme == "V11-HMAC-SHA256" then
    k = r:byte() % 16
    -- long ones too: region and service end up in the HKDF info, which OpenSSL caps
    req.region = k == 0 and r:str(12) or k == 1 and ("r"):rep(r:int(1200)) or
      r:pick { "cn-north-4", "ap-southeast-1", "r" }
    req.service = r:byte() % 16 == 0 and r:str(12) or "iotdm"
    if req.region == "" or has_control(req.region) or req.service == "" or has_control(req.service) or
        #req.region > 500 or #req.service > 500 then
      raise = true
    end
  end

  k = r:byte() % 8
  if k < 3 then req.body = nil elseif k < 7 then req.body = r:str(200) else req.body, raise = {}, true end

  k = r:byte() % 4
  if k > 0 then
    req.query = {}
    for i = 1, r:byte() % 20 do
      local name, value = query_item(r), query_item(r)
      if type(name) ~= "string" and type(name) ~= "number" then raise = true end
      if type(value) ~= "string" and type(value) ~= "number" then raise = true end
      req.query[i] = { name, value }
    end
  end

  req.headers = {}
  if r:byte() % 4 ~= 0 then -- the headers the scheme needs, most of the time
    if req.scheme == "HMAC-SHA256" then
      req.headers.Host = "example.com"
      req.headers["X-Date"] = "20251217T093000Z"
      req.headers["X-User-Id"] = "1505084218764547200"
    else
      req.headers["X-Sdk-Date"] = r:bool() and "20251217T093000Z" or header_value(r)
    end
  end
  for _ = 1, r:byte() % 24 do -- more than 16 takes the qsort path
    local name = header_name(r)
    if r:byte() == 0 then req.headers[name] = 7 else req.headers[name] = header_value(r) end
  end
  for _, value in pairs(req.headers) do
    if type(value) ~= "string" then raise = true end
  end
  -- `unsigned`: names of present headers in another case, or any names; rarely misused.
  k = r:byte() % 8
  if k == 1 then
    req.unsigned, raise = r:bool() and "accept" or { 1 }, true
  elseif k == 2 then
    req.unsigned = {}
    for i = 1, 17 do req.unsigned[i] = "h" .. i end
    raise = true
  elseif k >= 3 then
    req.unsigned = {}
    for name in pairs(req.headers) do
      if #req.unsigned < 16 and r:bool() then
        req.unsigned[#req.unsigned + 1] = r:bool() and ascii_upper(name) or ascii_lower(name)
      end
    end
    if #req.unsigned < 16 and r:bool() then req.unsigned[#req.unsigned + 1] = header_name(r) end
  end
  return req, raise
end

-- nil, or the message core.sign must return (only whether one is returned is compared).
local function header_problem(req)
  local seen = {}
  for name, value in pairs(req.headers) do
    if not is_token(name) then return "invalid header name" end
    local lower = ascii_lower(name)
    if seen[lower] then return "differ only in case" end
    seen[lower] = true
    if value:find("[\r\n]") then return "CR or LF" end
  end
  if req.scheme == "HMAC-SHA256" then
    for _, need in ipairs { "host", "x-date", "x-user-id" } do
      if not seen[need] then return "missing header" end
    end
    return nil
  end
  if not seen["x-sdk-date"] then return "missing header" end
  return nil
end

local function find_header(headers, lower)
  for name, value in pairs(headers) do
    if ascii_lower(name) == lower then return trim(value) end
  end
end

local function reference(req)
  local scheme = req.scheme
  local path = core.encode_path(req.path)
  local query = core.encode_query(req.query)
  local names, unsigned = {}, {}
  for _, name in ipairs(req.unsigned or {}) do unsigned[ascii_lower(name)] = true end
  for name in pairs(req.headers) do
    local lower = ascii_lower(name)
    local signed
    if scheme == "HMAC-SHA256" then
      signed = lower == "host" or lower == "x-date" or lower == "x-user-id"
    else
      signed = not name:find("_", 1, true)
    end
    if signed and not unsigned[lower] then names[#names + 1] = name end
  end
  table.sort(names, function(a, b) return bytes_less(ascii_lower(a), ascii_lower(b)) end)
  local lowers, lines = {}, {}
  for i, name in ipairs(names) do
    lowers[i] = ascii_lower(name)
    lines[i] = lowers[i] .. ":" .. trim(req.headers[name]) .. "\n"
  end
  local signed_headers = table.concat(lowers, ";")
  local payload
  local content = scheme ~= "HMAC-SHA256" and find_header(req.headers, "x-sdk-content-sha256")
  if content == "UNSIGNED-PAYLOAD" then
    payload = "UNSIGNED-PAYLOAD"
  elseif req.body == nil or req.body == "" then
    payload = EMPTY_SHA256
  else
    payload = kd_fuzz.sha256_hex(req.body)
  end
  local canonical = ascii_upper(req.method) .. "\n" .. path .. (path:sub(-1) == "/" and "" or "/") ..
    "\n" .. query .. "\n" .. table.concat(lines) .. "\n" .. signed_headers .. "\n" .. payload
  local date = find_header(req.headers, "x-sdk-date")
  local info, key = nil, req.secret
  if scheme == "V11-HMAC-SHA256" then
    info = date:sub(1, 8) .. "/" .. req.region .. "/" .. req.service
    key = kd_fuzz.hkdf_sha256_hex(req.secret, req.key_id, info)
  end
  local sts = scheme .. "\n" .. (date and scheme ~= "HMAC-SHA256" and (date .. "\n") or "") ..
    (info and (info .. "\n") or "") .. kd_fuzz.sha256_hex(canonical)
  local signature = kd_fuzz.hmac_sha256_hex(key, sts)
  local app = scheme == "HMAC-SHA256"
  local auth = scheme .. (app and " AppId=" or scheme == "SDK-HMAC-SHA256" and " Access=" or " Credential=") ..
    req.key_id .. (info and ("/" .. info) or "") .. (app and ",SignedHeaders=" or ", SignedHeaders=") ..
    signed_headers .. (app and ",Signature=" or ", Signature=") .. signature
  return { path = path, query = query, signed_headers = signed_headers, canonical_request = canonical,
    string_to_sign = sts, authorization = auth }
end

return function(data)
  local r = support.reader(data)
  local req, raise = build(r)
  local ok, result, message = pcall(core.sign, req)
  if raise then
    check(not ok and tostring(result):find("bad argument #1", 1, true), "sign did not refuse misuse",
      show(req), result, message)
    return
  end
  check(ok, "sign raised", show(req), result)
  local problem = header_problem(req)
  if not problem and req.scheme == "V11-HMAC-SHA256" and #find_header(req.headers, "x-sdk-date") < 8 then
    problem = "YYYYMMDDTHHMMSSZ"
  end
  if problem then
    check(result == nil and type(message) == "string", "sign accepted bad headers (" .. problem .. ")",
      show(req), show(result))
    return
  end
  check(type(result) == "table", "sign refused a good request", show(req), message)
  local want = reference(req)
  for field, value in pairs(want) do
    check(result[field] == value, "sign: field " .. field .. " differs from the reference", show(req),
      result[field], value)
  end
end
