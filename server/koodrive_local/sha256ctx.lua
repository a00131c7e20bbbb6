-- koodrive_local.sha256ctx: SHA-256 whose chaining state h0..h7 can be read
-- between updates (the contract's hashCtx, transfer-api §2). luaossl hides the
-- state, so this is LuaJIT FFI on libcrypto's low-level SHA256_CTX.

-- The FFI is set up on first use: the service's modules are also loaded in-process by specs
-- on plain Lua, where there is no FFI (and no transfer route is called).
local ffi, crypto
local function setup()
  if ffi then return end
  ffi = require "ffi"
  ffi.cdef [[
typedef struct koodrive_local_sha256 {
  unsigned int h[8]; unsigned int Nl, Nh; unsigned int data[16]; unsigned int num, md_len;
} koodrive_local_sha256;
int SHA256_Init(koodrive_local_sha256 *c);
int SHA256_Update(koodrive_local_sha256 *c, const void *data, size_t len);
int SHA256_Final(unsigned char *md, koodrive_local_sha256 *c);
]]
  local ok, lib = pcall(ffi.load, "libcrypto.so.3")
  crypto = ok and lib or ffi.load("crypto")
end

local M = {}

local Ctx = {}
Ctx.__index = Ctx

function M.new()
  setup()
  local c = ffi.new("koodrive_local_sha256")
  crypto.SHA256_Init(c)
  return setmetatable({ c = c }, Ctx)
end

--- A context that has already hashed `bytes` bytes (a multiple of 64) and is in state h
-- (h0..h7): where a concurrent part starts, from its hashCtx and partOffset.
function M.at(h, bytes)
  setup()
  local c = ffi.new("koodrive_local_sha256")
  crypto.SHA256_Init(c)
  for i = 0, 7 do c.h[i] = h[i + 1] end
  local bits = bytes * 8   -- exact in a double up to 2^53 bits (200 GiB is 2^40.6 bytes)
  c.Nl, c.Nh = bits % 4294967296, math.floor(bits / 4294967296)
  return setmetatable({ c = c }, Ctx)
end

function Ctx:update(s)
  crypto.SHA256_Update(self.c, s, #s)
end

--- An independent copy (hex() consumes a context; the copy goes on).
function Ctx:clone()
  local c = ffi.new("koodrive_local_sha256")
  ffi.copy(c, self.c, ffi.sizeof(c))
  return setmetatable({ c = c }, Ctx)
end

--- A string equal for two contexts exactly when hashing the same bytes from here on gives
-- the same digest: the state, the length so far and the buffered partial block (the stale
-- rest of the block buffer is left out).
function Ctx:key()
  local c = self.c
  local t = {}
  for i = 0, 7 do t[#t + 1] = tonumber(c.h[i]) end
  t[#t + 1], t[#t + 1], t[#t + 1] = tonumber(c.Nl), tonumber(c.Nh), tonumber(c.num)
  return table.concat(t, ",") .. ":" .. ffi.string(c.data, tonumber(c.num))
end

--- h0..h7 as 64 hex digits (the part's ETag: what the store holds, given what came before).
function Ctx:state_hex()
  local t = {}
  for i = 0, 7 do t[i + 1] = string.format("%08x", tonumber(self.c.h[i])) end
  return table.concat(t)
end

--- h0..h7 as unsigned 32-bit numbers: the state after the bytes so far
-- (meaningful at a multiple of 64 bytes, when no partial block is buffered).
function Ctx:state()
  local out = {}
  for i = 0, 7 do out[i + 1] = tonumber(self.c.h[i]) end
  return out, tonumber(self.c.num)
end

function Ctx:hex()
  local md = ffi.new("unsigned char[32]")
  crypto.SHA256_Final(md, self.c)
  local s = ffi.string(md, 32)
  return (s:gsub(".", function(ch) return string.format("%02x", ch:byte()) end))
end

return M
