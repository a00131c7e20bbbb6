--- The part plan of an upload (koodrive-transfer-api.md §2, Decision "plan"): the part size,
-- the parts with their offsets, and the MultiPartInfo list create and uploadUrl take.
-- Sizes are whole numbers of bytes; a 200 GiB file still counts exactly in a double.
local errors = require "koodrive.errors"

local plan = {}

plan.MIN_PART = 5242880        -- 5 MiB: every part but the last is at least this
plan.MAX_PART = 5368709120     -- 5 GiB: no part is larger
plan.MAX_PARTS = 10000         -- partNumber 1..10000
plan.MAX_LENGTH = 214748364800 -- 200 GiB ("200 GB", unit unstated: the server has the last word)
plan.BLOCK = 64                -- SHA-256's block: part boundaries of a concurrent upload

local function whole(v) return type(v) == "number" and v == v and v % 1 == 0 end

local function ceil_div(a, b) return (a + b - 1 - (a + b - 1) % b) / b end

--- The part size for a file of `length` bytes: the caller's `wanted` when it is within §2's
-- bounds (a multiple of 64, and no more than 10000 parts), else max(5 MiB, ceil(length /
-- 10000)) rounded up to a multiple of 64. Returns the size, or nil and a validation error.
function plan.part_size(length, wanted)
  if not whole(length) or length < 0 then
    return nil, errors.validation("length", "type", "must be a whole number of bytes")
  end
  if length > plan.MAX_LENGTH then
    return nil, errors.validation("length", "range",
      "is over 200 GiB (214748364800 bytes), the most one upload may hold")
  end
  local size
  if wanted ~= nil then
    if not whole(wanted) or wanted < plan.MIN_PART or wanted > plan.MAX_PART or wanted % plan.BLOCK ~= 0 then
      return nil, errors.validation("part_size", "range",
        "must be a multiple of 64 bytes from 5242880 (5 MiB) to 5368709120 (5 GiB)")
    end
    size = wanted
  else
    size = math.max(plan.MIN_PART, ceil_div(length, plan.MAX_PARTS))
    size = ceil_div(size, plan.BLOCK) * plan.BLOCK
  end
  if size > plan.MAX_PART then
    return nil, errors.validation("part_size", "range", "would be over 5 GiB for this length")
  end
  if length > 0 and ceil_div(length, size) > plan.MAX_PARTS then
    return nil, errors.validation("part_size", "range", "gives more than 10000 parts for this length")
  end
  return size
end

--- The parts of a file: { { partNumber, partSize, partOffset }, ... }. All have `size` bytes
-- except the last, which takes the rest; a 0-byte file is one part of 0 bytes.
function plan.parts(length, size)
  local list, offset, n = {}, 0, 0
  repeat
    n = n + 1
    local this = math.min(size, length - offset)
    list[n] = { partNumber = n, partSize = this, partOffset = offset }
    offset = offset + this
  until offset >= length
  return list
end

--- Part n's hashCtx from the hashing pass's packed contexts (koodrive.sign.part_hasher's
-- finish: 32 bytes per part, h0..h7 big-endian): a fresh list of 8 unsigned 32-bit integers
-- (integers on Lua 5.3+; string.byte and integer arithmetic, so also on 5.1 and LuaJIT).
function plan.context(contexts, n)
  local ctx, at = {}, 32 * (n - 1)
  for k = 1, 8 do
    local b1, b2, b3, b4 = contexts:byte(at + 1, at + 4)
    ctx[k] = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    at = at + 4
  end
  return ctx
end

--- The MultiPartInfo entries the service takes for `parts` (a subset of plan.parts, in any
-- order). Concurrent uploads carry partOffset and hashCtx (the SHA-256 state before the part,
-- part partNumber's of the hashing pass's packed `contexts`); sequential ones carry neither.
function plan.multi_parts(parts, contexts, concurrent)
  local out = {}
  for i, p in ipairs(parts) do
    local info = { partNumber = p.partNumber, partSize = p.partSize }
    if concurrent then
      info.partOffset = p.partOffset
      info.hashCtx = plan.context(contexts, p.partNumber)
    end
    out[i] = info
  end
  return out
end

return plan
