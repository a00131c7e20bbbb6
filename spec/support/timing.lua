-- support.timing: upper wall-clock bounds for specs that also run under sanitizers and valgrind.
--
--   local timing = require "support.timing"
--   assert.is_true(elapsed < timing.limit(1.8))
--
-- `make check-asan` sets KOODRIVE_SPEC_SLOW=1 and `make check-valgrind` KOODRIVE_SPEC_SLOW=50:
-- everything runs many times slower there, so an upper bound on elapsed time says nothing
-- about koodrive. With the switch set, limit(s) returns s * 20 (KOODRIVE_SPEC_SLOW=1, or any
-- value that is not a number above 1) or s * N (KOODRIVE_SPEC_SLOW=N, N > 1); without it, s.
-- Only upper bounds go through it: lower bounds (a delay really happened) and
-- every functional assertion stay as they are.
local M = {}

local setting = os.getenv("KOODRIVE_SPEC_SLOW")
local factor = 1
if setting and setting ~= "" and setting ~= "0" then
  local n = tonumber(setting)
  factor = (n and n > 1) and n or 20
end

M.slow = factor > 1
M.factor = factor

--- The upper bound to assert for something that takes under `seconds` at full speed.
function M.limit(seconds)
  return seconds * factor
end

return M
