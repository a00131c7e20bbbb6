--- The libcurl transport: one easy handle (and so one connection cache) per transport.
-- It blocks the calling thread for the length of each transfer, except inside a
-- koodrive.loop task, where the loop runs the request on its multi handle instead
-- (`multi = true` says the loop may do so).
local errors = require "koodrive.errors"

local curl = {}

local Curl = {}
Curl.__index = Curl
Curl.__name = "koodrive.transport.curl"
Curl.multi = true

-- libcurl codes that are TLS failures, and what each says when the text does not say more.
-- 60 (CURLE_PEER_FAILED_VERIFICATION) covers every certificate refusal: its error buffer
-- tells which.
local TLS_CODES = {
  [35] = "handshake",  -- CURLE_SSL_CONNECT_ERROR
  [53] = "handshake",  -- CURLE_SSL_ENGINE_NOTFOUND
  [54] = "handshake",  -- CURLE_SSL_ENGINE_SETFAILED
  [58] = "handshake",  -- CURLE_SSL_CERTPROBLEM (client certificate)
  [59] = "handshake",  -- CURLE_SSL_CIPHER
  [60] = "untrusted",  -- CURLE_PEER_FAILED_VERIFICATION
  [64] = "handshake",  -- CURLE_USE_SSL_FAILED
  [66] = "handshake",  -- CURLE_SSL_ENGINE_INITFAILED
  [77] = "ca_file",    -- CURLE_SSL_CACERT_BADFILE
  [80] = "handshake",  -- CURLE_SSL_SHUTDOWN_FAILED
  [82] = "ca_file",    -- CURLE_SSL_CRL_BADFILE
  [83] = "untrusted",  -- CURLE_SSL_ISSUER_ERROR
  [90] = "untrusted",  -- CURLE_SSL_PINNEDPUBKEYNOTMATCH
  [91] = "untrusted",  -- CURLE_SSL_INVALIDCERTSTATUS
  [98] = "handshake",  -- CURLE_SSL_CLIENTCERT
}

-- Phrases of OpenSSL's verify errors (as libcurl and nginx quote them), first match wins.
-- "self-signed certificate in certificate chain" is an untrusted root, not a self-signed leaf.
local TLS_PHRASES = {
  { "in certificate chain", "untrusted" },
  { "self[- ]signed certificate", "self_signed" },
  { "certificate has expired", "expired" },
  { "certificate is not yet valid", "expired" },
  { "no alternative certificate subject name matches", "hostname" },
  { "does not match target host name", "hostname" },
  { "hostname mismatch", "hostname" },
  { "host mismatch", "hostname" },      -- nginx: "certificate host mismatch"
  { "ip address mismatch", "hostname" },
  { "error setting certificate file", "ca_file" },
  { "error setting certificate verify locations", "ca_file" },
  { "unable to get local issuer certificate", "untrusted" },
  { "unable to get issuer certificate", "untrusted" },
  { "unable to verify the first certificate", "untrusted" },
}

local TLS_WORDS = {
  self_signed = "the server's certificate is self-signed (no CA vouches for it; " ..
    "trust it with ca_file, or use insecure = true for testing only)",
  expired = "the server's certificate has expired",
  hostname = "the server's certificate is not for this host name",
  untrusted = "the server's certificate is not signed by a trusted CA (give its CA in ca_file)",
  ca_file = "the CA file (ca_file) is missing, unreadable or holds no certificate",
  handshake = "the TLS handshake failed",
}

--- Which TLS failure a libcurl code and its error text describe: "self_signed", "expired",
-- "hostname", "untrusted", "ca_file" or "handshake"; nil when the code is not a TLS failure
-- (and `reason` is not "tls"). Usable for any OpenSSL verify message (nginx quotes them too).
function curl.tls_kind(code, text, reason)
  local by_code = TLS_CODES[code]
  if not by_code and reason ~= "tls" then return nil end
  local lower = type(text) == "string" and text:lower() or ""
  if by_code == "ca_file" or by_code == nil or by_code == "untrusted" then
    for _, p in ipairs(TLS_PHRASES) do
      if lower:find(p[1]) then
        if p[2] == "expired" and lower:find("not yet valid", 1, true) then return "expired", true end
        return p[2]
      end
    end
  end
  return by_code or "handshake"
end

-- Reasons a second attempt cannot cure, or must not try:
--   too_large    the answer would be as large again
--   descriptors  the process is out of file descriptors (EMFILE/ENFILE): a retry would fail the
--                same way, and reporting it as a connection failure hid the cause
--   forked       a transfer that was in flight when the process forked stays with the parent;
--                it may have been sent, so the child must not send it again
local NOT_RETRYABLE = { too_large = true, tls = true, descriptors = true, forked = true }

--- The error for a failure reported by the C core as (reason, message, curl code).
-- reason "descriptors" (out of file descriptors) and "forked" (see src/multi.c) are never
-- retryable.
-- A TLS failure has reason = "tls", `tls` saying which (see curl.tls_kind) and a message
-- that says it in words, libcurl's own detail kept in parentheses. It is never retryable.
function curl.failure(reason, message, code)
  if reason == "request" then
    return errors.new { kind = "validation", field = "headers", rule = "header_value",
      message = message, retryable = false }
  end
  local tls, not_yet = curl.tls_kind(code, message, reason)
  if tls then
    local words = TLS_WORDS[tls]
    if not_yet then words = "the server's certificate is not valid yet (check this machine's clock)" end
    return errors.new { kind = "transport", reason = "tls", tls = tls,
      message = "TLS: " .. words .. " (" .. tostring(message) .. ")", curl_code = code,
      retryable = false }
  end
  return errors.new { kind = reason == "timeout" and "timeout" or "transport", reason = reason,
    message = message, curl_code = code, retryable = not NOT_RETRYABLE[reason] }
end

function Curl:send(request)
  local res, reason, message, code = self.handle:perform(request)
  if res then return res end
  return nil, curl.failure(reason, message, code)
end

function Curl:close() self.handle:close() end
Curl.__close = Curl.close

function Curl.__tostring() return "koodrive.transport.curl" end

function curl.new()
  -- libcurl is loaded here, on first use, not by require "koodrive" (src/curl_core.c).
  return setmetatable({ handle = require("koodrive.curl").http() }, Curl)
end

return curl
