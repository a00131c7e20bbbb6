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

function Ctx:update(s)
  crypto.SHA256_Update(self.c, s, #s)
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
