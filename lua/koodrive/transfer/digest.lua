--- The hashing pass of a transfer (koodrive.sign.part_hasher, OpenSSL's SHA-256): one read
-- of a file, or of bytes in memory, gives the whole SHA-256 and the SHA-256 state at every
-- part boundary. A file is read in bounded steps with a chance for the host to run between
-- two of them, so hashing a large file never holds a loop task or an nginx worker for long.
local errors = require "koodrive.errors"
local engine = require "koodrive.transfer.engine"

local digest = {}

digest.STEP = 8 * 1024 * 1024     -- bytes hashed between two chances for the host to run
digest.NGX_STEP = 1024 * 1024     -- the same inside nginx, whose worker serves every request

--- src = { path, size } or { data }. Returns { size, sha256, contexts } or nil, err (kind
-- "io", field `field`: the file could not be read, or changed size while it was).
function digest.of(src, part_size, field)
  local h = require("koodrive.sign").part_hasher(part_size)
  if src.data then
    h:update(src.data)
  else
    local step = require("koodrive.scheduler").current().name == "ngx" and digest.NGX_STEP or digest.STEP
    while true do
      local n, err = h:read_file(src.path, step)
      if not n then return nil, errors.new { kind = "io", field = field, message = err } end
      if n == 0 then break end
      engine.yield()
    end
    if src.size and h:size() ~= src.size then
      return nil, errors.new { kind = "io", field = field, message = "changed size while it was read" }
    end
  end
  return h:finish()
end

return digest
