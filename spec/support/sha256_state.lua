-- spec.support.sha256_state: SHA-256 with its chaining state h0..h7 visible at
-- chosen offsets, independent of the server's libcrypto FFI: under LuaJIT the
-- system's libcrypto through FFI, under Lua 5.3+ a small pure-Lua compression
-- (loaded from a string so that LuaJIT never parses its integer operators).
-- states(data, offsets) -> { [offset] = { h0..h7 } }, hex digest of data.

local M = {}

local PURE = [[
local K = {
  0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
  0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
  0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
  0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
  0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
  0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
  0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
  0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2 }
local M32 = 0xffffffff
local function rotr(x, n) return ((x >> n) | (x << (32 - n))) & M32 end
local w = {}
local function block(h, s, pos)
  for i = 1, 16 do w[i] = string.unpack(">I4", s, pos + (i - 1) * 4) end
  for i = 17, 64 do
    local a, b = w[i - 15], w[i - 2]
    local s0 = rotr(a, 7) ~ rotr(a, 18) ~ (a >> 3)
    local s1 = rotr(b, 17) ~ rotr(b, 19) ~ (b >> 10)
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & M32
  end
  local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
  for i = 1, 64 do
    local S1 = rotr(e, 6) ~ rotr(e, 11) ~ rotr(e, 25)
    local ch = (e & f) ~ (~e & g)
    local t1 = (hh + S1 + ch + K[i] + w[i]) & M32
    local S0 = rotr(a, 2) ~ rotr(a, 13) ~ rotr(a, 22)
    local maj = (a & b) ~ (a & c) ~ (b & c)
    local t2 = (S0 + maj) & M32
    hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + t2) & M32
  end
  h[1], h[2], h[3], h[4] = (h[1] + a) & M32, (h[2] + b) & M32, (h[3] + c) & M32, (h[4] + d) & M32
  h[5], h[6], h[7], h[8] = (h[5] + e) & M32, (h[6] + f) & M32, (h[7] + g) & M32, (h[8] + hh) & M32
end
return function(data, offsets)
  local want = {}
  for _, o in ipairs(offsets) do want[o] = true end
  local h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  local out = {}
  local n = #data
  local pad = data:sub(n - n % 64 + 1) .. "\128" .. string.rep("\0", (55 - n % 64) % 64) .. string.pack(">I8", n * 8)
  local full = n - n % 64
  for pos = 1, full, 64 do
    if want[pos - 1] then out[pos - 1] = { table.unpack(h) } end
    block(h, data, pos)
  end
  if want[full] then out[full] = { table.unpack(h) } end
  for pos = 1, #pad, 64 do block(h, pad, pos) end
  return out, string.format(string.rep("%08x", 8), table.unpack(h))
end
]]

local FFI = [[
local ffi = require "ffi"
pcall(ffi.cdef, "typedef struct spec_sha256 { unsigned int h[8]; unsigned int Nl, Nh; unsigned int data[16];" ..
  " unsigned int num, md_len; } spec_sha256; int SHA256_Init(spec_sha256 *c);" ..
  " int SHA256_Update(spec_sha256 *c, const void *d, size_t n); int SHA256_Final(unsigned char *md, spec_sha256 *c);")
local ok, C = pcall(ffi.load, "libcrypto.so.3")
if not ok then C = ffi.load("crypto") end
return function(data, offsets)
  table.sort(offsets)
  local c = ffi.new("spec_sha256")
  C.SHA256_Init(c)
  local out, at = {}, 0
  for _, o in ipairs(offsets) do
    C.SHA256_Update(c, data:sub(at + 1, o), o - at)
    at = o
    local h = {}
    for i = 0, 7 do h[i + 1] = tonumber(c.h[i]) end
    out[o] = h
  end
  C.SHA256_Update(c, data:sub(at + 1), #data - at)
  local md = ffi.new("unsigned char[32]")
  C.SHA256_Final(md, c)
  return out, (ffi.string(md, 32):gsub(".", function(ch) return string.format("%02x", ch:byte()) end))
end
]]

-- Lua 5.3+ has the integer operators the pure version is written with, LuaJIT has the FFI;
-- Lua 5.1 and 5.2 have neither (M.states stays nil: the specs using it say so).
local loader = (jit or math.type) and (loadstring or load) -- luacheck: ignore 143
if loader then M.states = assert(loader(jit and FFI or PURE, "=sha256_state"))() end

return M
