-- fuzz target "headers": the response header parser of src/headers.c (kd_headers_push),
-- which turns the header block libcurl handed over into { [lowercase name] = value }, and the
-- lazy `headers` field of a response table (kd_headers_lazy). The input is the header block
-- itself, as received.
--
-- Invariants:
--   * the result equals a plain Lua reference: lines split at "\n"; status lines ("HTTP/...")
--     and lines without a ":" after at least one byte are skipped; the name is everything before
--     the first ":", ASCII lower-cased; the value drops leading spaces/tabs and trailing
--     CR/spaces/tabs; a repeated name joins its values with ", ";
--   * no name is empty or holds ":" or "\n" or an upper-case letter; no value holds "\n"
--     (a value is trimmed, but a repeat joined to an empty value may end in ", ");
--   * the parser reads nothing outside the block (the harness hands it an exact-size copy);
--   * the lazy response: its first read of `headers` gives a plain table equal to the eager one,
--     stored as a raw field (pairs sees it), and the response has no metatable left.
local support = require "support"
local check, show = support.check, support.show

local function reference(block)
  local out = {}
  for line in (block .. "\n"):gmatch("([^\n]*)\n") do
    local colon = line:find(":", 1, true)
    if colon and colon > 1 and line:sub(1, 5) ~= "HTTP/" then
      local name = line:sub(1, colon - 1):gsub("%u", string.lower)
      local value = line:sub(colon + 1):gsub("^[ \t]+", ""):gsub("[\r \t]+$", "")
      out[name] = out[name] and (out[name] .. ", " .. value) or value
    end
  end
  return out
end

return function(block)
  local got = kd_fuzz.push_headers(block)
  local want = reference(block)
  for name, value in pairs(got) do
    check(type(name) == "string" and type(value) == "string", "non-string entry", block, show(got))
    check(name ~= "" and not name:find("[:\n%u]"), "bad header name", block, name)
    check(not value:find("\n", 1, true), "value spans lines", block, name, value)
    check(want[name] == value, "differs from the reference", block, name, value, want[name])
  end
  for name in pairs(want) do
    check(got[name] ~= nil, "header missing", block, name)
  end
  local res = kd_fuzz.lazy_headers(block)
  check(rawget(res, "headers") == nil and res.missing == nil, "lazy field read early", block)
  local lazy = res.headers
  check(getmetatable(res) == nil and rawget(res, "headers") == lazy, "lazy field not stored", block)
  check(getmetatable(lazy) == nil, "lazy headers carry a metatable", block)
  for name, value in pairs(lazy) do
    check(got[name] == value, "lazy differs from eager", block, name, value, got[name])
  end
  for name in pairs(got) do
    check(lazy[name] ~= nil, "lazy header missing", block, name)
  end
end
