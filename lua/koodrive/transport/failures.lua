--- Transport failures, mapped once for every transport (libcurl, its multi loop, nginx): the
-- libcurl codes this library tells apart, each named once, what it means (`reason`), and the
-- one constructor of transport errors. The C core reports a failure as (reason, message, code)
-- with reason "transport" for any libcurl code (the code is named here) or one of the cases
-- only C can see: "too_large", "descriptors", "forked", "request".
local errors = require "koodrive.errors"

local failures = {}

--- libcurl codes by name (as curl.h names them, without CURLE_): { number, reason, tls }.
-- `tls` is which TLS failure the code is when its text says no more (see failures.tls_kind);
-- PEER_FAILED_VERIFICATION covers every certificate refusal: its text tells which. A code
-- not listed is reason "transport".
failures.CURL = {
  COULDNT_RESOLVE_HOST = { 6, "connect" },
  COULDNT_CONNECT = { 7, "connect" },
  OPERATION_TIMEDOUT = { 28, "timeout" },
  SSL_CONNECT_ERROR = { 35, "tls", "handshake" },
  SSL_ENGINE_NOTFOUND = { 53, "tls", "handshake" },
  SSL_ENGINE_SETFAILED = { 54, "tls", "handshake" },
  SSL_CERTPROBLEM = { 58, "tls", "handshake" }, -- the client certificate
  SSL_CIPHER = { 59, "tls", "handshake" },
  PEER_FAILED_VERIFICATION = { 60, "tls", "untrusted" },
  USE_SSL_FAILED = { 64, "tls", "handshake" },
  SSL_ENGINE_INITFAILED = { 66, "tls", "handshake" },
  SSL_CACERT_BADFILE = { 77, "tls", "ca_file" },
  SSL_SHUTDOWN_FAILED = { 80, "tls", "handshake" },
  SSL_CRL_BADFILE = { 82, "tls", "ca_file" },
  SSL_ISSUER_ERROR = { 83, "tls", "untrusted" },
  SSL_PINNEDPUBKEYNOTMATCH = { 90, "tls", "untrusted" },
  SSL_INVALIDCERTSTATUS = { 91, "tls", "untrusted" },
  SSL_CLIENTCERT = { 98, "tls", "handshake" },
}

--- The names of failures.CURL by code number.
failures.CURL_NAMES = {}
for name, entry in pairs(failures.CURL) do failures.CURL_NAMES[entry[1]] = name end
local BY_CODE = {}
for _, entry in pairs(failures.CURL) do BY_CODE[entry[1]] = entry end

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
function failures.tls_kind(code, text, reason)
  local entry = BY_CODE[code]
  local by_code = entry and entry[3]
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
--   tls          the same certificate would be refused again
--   descriptors  the process is out of file descriptors (EMFILE/ENFILE): a retry would fail the
--                same way, and reporting it as a connection failure hid the cause
--   forked       a transfer that was in flight when the process forked stays with the parent;
--                it may have been sent, so the child must not send it again
local NOT_RETRYABLE = { too_large = true, tls = true, descriptors = true, forked = true }

--- The error of a transport failure: `reason` ("connect", "timeout", "tls", "too_large",
-- "descriptors", "forked", "request", or "transport" for anything else), the message and,
-- from libcurl, its code (which names the reason when `reason` is "transport").
-- A TLS failure has reason = "tls", `tls` saying which (see failures.tls_kind) and a message
-- that says it in words, the transport's own detail kept in parentheses. Neither it nor
-- too_large, descriptors or forked is retryable. "request" (C refused a header line) is a
-- validation error.
function failures.new(reason, message, code)
  if reason == "request" then
    return errors.new { kind = "validation", field = "headers", rule = "header_value",
      message = message, retryable = false }
  end
  if reason == "transport" and code then
    local entry = BY_CODE[code]
    if entry then reason = entry[2] end
  end
  local tls, not_yet = failures.tls_kind(code, message, reason)
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

return failures
