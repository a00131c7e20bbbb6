-- koodrive_local.auth: the local service's own check of the three signature schemes
-- (KooDrive HMAC-SHA256 app auth, Huawei Cloud SDK-HMAC-SHA256 and
-- V11-HMAC-SHA256) and of the token modes, written from signing.md in plain
-- Lua over luaossl (built for every Lua here, LuaJIT included: nginx runs it).
-- It deliberately shares no code with the library (no require of koodrive.*,
-- whose signer is in its C core): a client bug then shows up as a refused
-- request instead of being mirrored. The syntax is Lua 5.1's, so that the
-- same file runs under nginx's LuaJIT and in-process in every spec.
--
-- Every building block is an ordinary function of strings and tables (no
-- socket), so the specs can run the known-answer vectors through it and can
-- sign test requests with it.
--
-- A request, for the verifiers, is a table:
--   { method = "GET", path = <raw path as received>, query = <raw query
--     string or nil>, headers = { [lowercase name] = trimmed value }, body = <bytes> }

local digest = require "openssl.digest"
local hmac = require "openssl.hmac"
local kdf = require "openssl.kdf"

local M = {}

M.EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
M.MAX_SKEW = 15 * 60            -- both services allow 15 minutes

---------------------------------------------------------------------------
-- Hashing

local function hex(bytes)
  return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
M.hex = hex

function M.sha256_hex(s)
  return hex(digest.new("sha256"):final(s))
end

function M.hmac_sha256_hex(key, msg)
  return hex(hmac.new(key, "sha256"):final(msg))
end

function M.hkdf_sha256(ikm, salt, info, len)
  return kdf.derive { type = "HKDF", md = "sha256", key = ikm, salt = salt, info = info, outlen = len }
end

-- Comparison whose time does not depend on where the strings differ; a local
-- service hardly needs it, but a verifier should not teach the opposite.
local function same(a, b)
  if type(a) ~= "string" or type(b) ~= "string" or #a ~= #b then return false end
  local same_so_far = true
  for i = 1, #a do
    if a:byte(i) ~= b:byte(i) then same_so_far = false end
  end
  return same_so_far
end
M.same = same

---------------------------------------------------------------------------
-- Canonical request pieces

-- Only A-Z a-z 0-9 - _ . ~ stay literal; every other byte becomes %XY.
function M.uri_encode(s)
  return (s:gsub("[^A-Za-z0-9%-_.~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- Percent-decoding only: '+' stays '+' (clients write a space as %20, and the
-- SDKs' canonical form treats '+' as a literal byte). A '%' not followed by
-- two hex digits is kept as it is, as the SDKs' unquote does.
function M.percent_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Bytewise "less than". Lua's < on strings goes through strcoll, which
-- depends on the locale and stops at NUL; the contract wants memcmp order.
local function bytes_less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
M.bytes_less = bytes_less

-- The path as received: each segment decoded then re-encoded, joined with
-- "/", and a "/" appended when it does not end with one.
function M.canonical_uri(raw_path)
  local parts = {}
  for seg in (raw_path .. "/"):gmatch("([^/]*)/") do
    parts[#parts + 1] = M.uri_encode(M.percent_decode(seg))
  end
  -- the gmatch above gives one element per "/"-separated piece; the extra
  -- "/" added to the input makes the last piece come out as well
  local uri = table.concat(parts, "/")
  if uri:sub(-1) ~= "/" then uri = uri .. "/" end
  return uri
end

-- The raw query string split into decoded { name, value } pairs, in the
-- order received. Empty pieces ("a=1&&b=2") are skipped; "name" without "="
-- has the value "".
function M.parse_query(raw_query)
  local pairs_ = {}
  if not raw_query or raw_query == "" then return pairs_ end
  for piece in raw_query:gmatch("[^&]+") do
    local name, value = piece:match("^([^=]*)=(.*)$")
    if not name then name, value = piece, "" end
    pairs_[#pairs_ + 1] = { M.percent_decode(name), M.percent_decode(value) }
  end
  return pairs_
end

-- Sorted by raw (decoded) name, then raw value, bytewise; only then encoded.
function M.canonical_query(raw_query)
  local q = M.parse_query(raw_query)
  table.sort(q, function(a, b)
    if a[1] ~= b[1] then return bytes_less(a[1], b[1]) end
    return bytes_less(a[2], b[2])
  end)
  local out = {}
  for i, p in ipairs(q) do out[i] = M.uri_encode(p[1]) .. "=" .. M.uri_encode(p[2]) end
  return table.concat(out, "&")
end

-- headers: { [lowercase name] = value }; signed: list of lowercase names.
-- Returns the canonical header block (ending in "\n") or nil and the name
-- of the first signed header the request does not carry.
function M.canonical_headers(headers, signed)
  local out = {}
  for _, name in ipairs(signed) do
    local v = headers[name]
    if v == nil then return nil, name end
    v = v:match("^%s*(.-)%s*$")
    out[#out + 1] = name .. ":" .. v .. "\n"
  end
  return table.concat(out)
end

-- r = { method, path, query, headers, body, signed = {names}, payload_hash? }
-- Returns the canonical request, or nil and a reason.
function M.canonical_request(r)
  local block, missing = M.canonical_headers(r.headers, r.signed)
  if not block then return nil, "signed header missing: " .. missing end
  return table.concat({
    r.method:upper(),
    M.canonical_uri(r.path),
    M.canonical_query(r.query),
    block,
    table.concat(r.signed, ";"),
    r.payload_hash or M.sha256_hex(r.body or ""),
  }, "\n")
end

---------------------------------------------------------------------------
-- The three schemes: string to sign, key, header

M.APP_SIGNED = { "host", "x-date", "x-user-id" }

function M.app_string_to_sign(creq)
  return "HMAC-SHA256\n" .. M.sha256_hex(creq)
end

function M.app_signature(secret, creq)
  return M.hmac_sha256_hex(secret, M.app_string_to_sign(creq))
end

function M.app_authorization(app_id, signature)
  return "HMAC-SHA256 AppId=" .. app_id .. ",SignedHeaders=host;x-date;x-user-id,Signature=" .. signature
end

function M.sdk_string_to_sign(sdk_date, creq)
  return "SDK-HMAC-SHA256\n" .. sdk_date .. "\n" .. M.sha256_hex(creq)
end

function M.sdk_signature(sk, sdk_date, creq)
  return M.hmac_sha256_hex(sk, M.sdk_string_to_sign(sdk_date, creq))
end

function M.sdk_authorization(ak, signed, signature)
  return "SDK-HMAC-SHA256 Access=" .. ak .. ", SignedHeaders=" .. table.concat(signed, ";")
    .. ", Signature=" .. signature
end

function M.v11_info(sdk_date, region, service)
  return sdk_date:sub(1, 8) .. "/" .. region .. "/" .. service
end

function M.v11_string_to_sign(sdk_date, info, creq)
  return "V11-HMAC-SHA256\n" .. sdk_date .. "\n" .. info .. "\n" .. M.sha256_hex(creq)
end

-- The derived key is the hex text of the HKDF output, used as ASCII bytes.
function M.v11_key(ak, sk, info)
  return hex(M.hkdf_sha256(sk, ak, info, 32))
end

function M.v11_signature(ak, sk, sdk_date, info, creq)
  return M.hmac_sha256_hex(M.v11_key(ak, sk, info), M.v11_string_to_sign(sdk_date, info, creq))
end

function M.v11_authorization(ak, info, signed, signature)
  return "V11-HMAC-SHA256 Credential=" .. ak .. "/" .. info .. ", SignedHeaders="
    .. table.concat(signed, ";") .. ", Signature=" .. signature
end

---------------------------------------------------------------------------
-- Dates: YYYYMMDDTHHMMSSZ (UTC) <-> seconds since the epoch

-- Days since 1970-01-01 of a proleptic Gregorian date (no os.time: that one
-- reads the local time zone).
local floor = math.floor

local function days_from_civil(y, m, d)
  y = (m <= 2) and (y - 1) or y
  local era = floor((y >= 0 and y or y - 399) / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

function M.parse_compact_date(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se = s:match("^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)Z$")
  if not y then return nil end
  y, mo, d, h, mi, se = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(se)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or se > 60 then return nil end
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se
end

function M.compact_date(t)
  return os.date("!%Y%m%dT%H%M%SZ", t)
end

---------------------------------------------------------------------------
-- KooDrive verification
--
-- verify_koodrive(req, creds, now) -> true, { user_id, mode, app_id? }
--                                   | false, http_status, code, msg
-- creds is local_credentials.koodrive; now is the server's time in seconds.

local function kd_fail(status, code, msg) return false, status, code, msg end

function M.verify_koodrive(req, creds, now)
  local h = req.headers
  local user_id, xdate = h["x-user-id"], h["x-date"]
  -- Both headers are mandatory; a missing or malformed one is a parameter
  -- error (the request cannot even be checked), not a refused credential.
  if not user_id or not user_id:match("^%d+$") or #user_id > 19 then
    return kd_fail(400, 13000102, "Verify parameters failed.")
  end
  local t = M.parse_compact_date(xdate)
  if not t then return kd_fail(400, 13000102, "Verify parameters failed.") end
  now = math.floor(now)
  if t > now or now - t > M.MAX_SKEW then
    return kd_fail(401, 401, "X-Date is out of range: it must not be in the future nor older than 15 minutes")
  end

  local authz = h["authorization"]
  if not authz then return kd_fail(401, 401, "Unauthorized") end

  -- Bearer: the scheme name in any case, exactly one space. The carrier's
  -- "AT <token>" (from auth/login, sent unchanged) is a token too; creds.tokens
  -- may be a lookup that knows issued tokens (koodrive_local.routes_sessions).
  local scheme, token = authz:match("^(%a+) (.+)$")
  if scheme == "AT" then scheme, token = "Bearer", "AT " .. token end
  if scheme and scheme:lower() == "bearer" then
    if creds.tokens[token] then return true, { user_id = user_id, mode = "token" } end
    return kd_fail(401, 401, "Unauthorized")
  end

  -- App mode, in the exact format of signing.md: no spaces after the commas,
  -- and exactly the three signed headers.
  local app_id, signed, sig = authz:match("^HMAC%-SHA256 AppId=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)$")
  if not app_id or signed ~= "host;x-date;x-user-id" then return kd_fail(401, 401, "Unauthorized") end
  local secret = creds.apps[app_id]
  if not secret then return kd_fail(401, 401, "Unauthorized") end
  local creq = M.canonical_request {
    method = req.method, path = req.path, query = req.query, headers = h,
    body = req.body, signed = M.APP_SIGNED,
  }
  if not creq or not same(M.app_signature(secret, creq), sig) then
    return kd_fail(401, 401, "Unauthorized")
  end
  return true, { user_id = user_id, mode = "app", app_id = app_id }
end

---------------------------------------------------------------------------
-- IoTDA (API gateway) verification
--
-- verify_iotda(req, creds, now) -> true, { mode, ak? }
--                                | false, http_status, error_code, error_msg
-- creds is local_credentials.iotda.

local SIG_FAIL = "Incorrect IAM authentication information: verify aksk signature fail"

local function gw_fail(code, msg) return false, 401, code, msg end

-- SignedHeaders as the signer writes them: lowercase names, sorted, unique,
-- joined by ";". Anything else is refused rather than guessed at.
local function parse_signed(list)
  local names = {}
  for name in list:gmatch("[^;]+") do names[#names + 1] = name end
  if table.concat(names, ";") ~= list then return nil end
  local has_host, has_date = false, false
  for i, name in ipairs(names) do
    if not name:match("^[a-z0-9%-_]+$") then return nil end
    if i > 1 and not bytes_less(names[i - 1], name) then return nil end
    if name == "host" then has_host = true end
    if name == "x-sdk-date" then has_date = true end
  end
  if not (has_host and has_date) then return nil end
  return names
end

function M.verify_iotda(req, creds, now)
  local h = req.headers
  local token = h["x-auth-token"]
  if token then
    if creds.tokens[token] then return true, { mode = "token" } end
    return gw_fail("APIGW.0307", "The token must be updated.")
  end

  local authz = h["authorization"]
  if not authz then
    return gw_fail("APIGW.0301", "Incorrect IAM authentication information: Authorization not found in header")
  end

  local algo, rest = authz:match("^(%S+) (.*)$")
  local ak, scope, signed_list, sig
  if algo == "SDK-HMAC-SHA256" then
    ak, signed_list, sig = rest:match("^Access=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)$")
  elseif algo == "V11-HMAC-SHA256" then
    local cred
    cred, signed_list, sig = rest:match("^Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)$")
    if cred then ak, scope = cred:match("^([^/]+)/(%d%d%d%d%d%d%d%d/[^/]+/[^/]+)$") end
  end
  if not (ak and signed_list and sig) then return gw_fail("APIGW.0301", SIG_FAIL) end

  local sdk_date = h["x-sdk-date"]
  local t = M.parse_compact_date(sdk_date)
  if not t then
    return gw_fail("APIGW.0301", "Incorrect IAM authentication information: x-sdk-date is missing or malformed")
  end
  if math.abs(math.floor(now) - t) > M.MAX_SKEW then
    return gw_fail("APIGW.0303", "Incorrect IAM authentication information: the request has expired")
  end

  local sk = creds.aksk[ak]
  local signed = parse_signed(signed_list)
  if not sk or not signed then return gw_fail("APIGW.0301", SIG_FAIL) end

  -- A body sent as UNSIGNED-PAYLOAD is not hashed (signing.md).
  local payload_hash
  if h["x-sdk-content-sha256"] == "UNSIGNED-PAYLOAD" then payload_hash = "UNSIGNED-PAYLOAD" end
  local creq = M.canonical_request {
    method = req.method, path = req.path, query = req.query, headers = h,
    body = req.body, signed = signed, payload_hash = payload_hash,
  }
  if not creq then return gw_fail("APIGW.0301", SIG_FAIL) end

  local expected
  if algo == "SDK-HMAC-SHA256" then
    expected = M.sdk_signature(sk, sdk_date, creq)
  else
    -- the scope must be this service's: the date of X-Sdk-Date, our region
    -- and service name
    local want = M.v11_info(sdk_date, creds.region, creds.service)
    if scope ~= want then return gw_fail("APIGW.0301", SIG_FAIL) end
    expected = M.v11_signature(ak, sk, sdk_date, scope, creq)
  end
  if not same(expected, sig) then return gw_fail("APIGW.0301", SIG_FAIL) end
  return true, { mode = algo, ak = ak }
end

return M
