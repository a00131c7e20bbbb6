-- fuzz/support.lua: shared helpers of the fuzz target scripts (run by fuzz/harness.c).
--
-- reader(data) turns the fuzzer's bytes into structured choices; reading past the end yields
-- zeros and empty strings, so every input is a valid recipe and small mutations stay local.
local M = {}

local Reader = {}
Reader.__index = Reader

function M.reader(data)
  return setmetatable({ s = data, i = 1 }, Reader)
end

function Reader:left()
  return #self.s - self.i + 1
end

function Reader:byte()
  local b = self.s:byte(self.i) or 0
  self.i = self.i + 1
  return b
end

-- 0 .. n-1
function Reader:int(n)
  if n <= 256 then return self:byte() % n end
  return (self:byte() * 256 + self:byte()) % n
end

function Reader:bool()
  return self:byte() % 2 == 1
end

-- A string of up to `max` bytes: a length byte (scaled up when max > 255), then the bytes.
function Reader:str(max)
  max = max or 64
  local n
  if max > 255 then n = self:int(max + 1) else n = self:byte() % (max + 1) end
  local s = self.s:sub(self.i, self.i + n - 1)
  self.i = self.i + n
  return s
end

-- A string drawn from `alphabet` (one byte each), up to `max` long.
function Reader:text(alphabet, max)
  local n = self:byte() % ((max or 32) + 1)
  local out = {}
  for k = 1, n do
    local b = self:byte()
    out[k] = alphabet:sub(b % #alphabet + 1, b % #alphabet + 1)
  end
  return table.concat(out)
end

function Reader:pick(list)
  return list[self:byte() % #list + 1]
end

function Reader:rest()
  local s = self.s:sub(self.i)
  self.i = #self.s + 1
  return s
end

--- Bytewise order, a proper prefix first (what memcmp gives), independent of the locale:
-- Lua's own < on strings follows strcoll.
function M.bytes_less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- Fails with a message naming the input (as a quoted Lua string) when `ok` is false.
function M.check(ok, what, ...)
  if not ok then
    local parts = {}
    for k = 1, select("#", ...) do parts[k] = string.format("%q", tostring((select(k, ...)))) end
    error(what .. (#parts > 0 and (": " .. table.concat(parts, ", ")) or ""), 2)
  end
end

-- A short, printable rendering of any value for failure messages.
function M.show(v, depth)
  depth = depth or 0
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" or depth > 3 then return tostring(v) end
  local parts = {}
  for k, item in pairs(v) do
    parts[#parts + 1] = "[" .. M.show(k, depth + 1) .. "]=" .. M.show(item, depth + 1)
    if #parts > 20 then parts[#parts + 1] = "..." break end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

return M
