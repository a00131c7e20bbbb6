-- sign.part_hasher: one pass giving the file's SHA-256 and the chaining state h0..h7 at every
-- part boundary (koodrive-transfer-api.md section 2, hashCtx). Checked against sha256sum and
-- against a small pure-Lua SHA-256 compression function written here (Lua 5.3+).
local sign = require "koodrive.sign"

local IV = { 1779033703, 3144134277, 1013904242, 2773480762, 1359893119, 2600822924,
  528734635, 1541459225 }

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

-- Deterministic bytes: a cheap generator, not random() (same across interpreters).
local function bytes(n, seed)
  local t, x = {}, seed or 7
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    t[i] = string.char(math.floor(x / 65536) % 256)
  end
  return table.concat(t)
end

local function write(name, s)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  return path
end

local function sha256sum(path)
  local p = assert(io.popen("sha256sum " .. path))
  local out = p:read("*a")
  p:close()
  return out:match("^(%x+)")
end

-- The independent oracle: SHA-256's compression over whole 64-byte blocks, from the IV.
local compress_state
if _VERSION ~= "Lua 5.1" and _VERSION ~= "Lua 5.2" and math.type then
  compress_state = load [[
    local K = {
      0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
      0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
      0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
      0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
      0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
      0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
      0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
      0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2 }
    local M = 0xffffffff
    local function rotr(x, n) return ((x >> n) | (x << (32 - n))) & M end
    return function(iv, s)
      local h = { table.unpack(iv) }
      local w = {}
      for b = 1, #s, 64 do
        for i = 0, 15 do w[i] = string.unpack(">I4", s, b + 4 * i) end
        for i = 16, 63 do
          local s0 = rotr(w[i-15], 7) ~ rotr(w[i-15], 18) ~ (w[i-15] >> 3)
          local s1 = rotr(w[i-2], 17) ~ rotr(w[i-2], 19) ~ (w[i-2] >> 10)
          w[i] = (w[i-16] + s0 + w[i-7] + s1) & M
        end
        local a, b2, c, d, e, f, g, hh = table.unpack(h)
        for i = 0, 63 do
          local S1 = rotr(e, 6) ~ rotr(e, 11) ~ rotr(e, 25)
          local ch = (e & f) ~ (~e & g)
          local t1 = (hh + S1 + ch + K[i+1] + w[i]) & M
          local S0 = rotr(a, 2) ~ rotr(a, 13) ~ rotr(a, 22)
          local maj = (a & b2) ~ (a & c) ~ (b2 & c)
          local t2 = (S0 + maj) & M
          hh, g, f, e, d, c, b2, a = g, f, e, (d + t1) & M, c, b2, a, (t1 + t2) & M
        end
        local v = { a, b2, c, d, e, f, g, hh }
        for i = 1, 8 do h[i] = (h[i] + v[i]) & M end
      end
      return h
    end
  ]]()
end

-- Hashes `s` through a hasher fed in random chunks, alternating update and read_file.
local function hash_mixed(path, s, part_size, seed)
  local h = sign.part_hasher(part_size)
  local x = seed
  while h:size() < #s do
    x = (x * 1103515245 + 12345) % 2147483648
    local n = 1 + x % 70000
    if x % 2 == 0 then
      local from = h:size()
      h:update(s:sub(from + 1, from + n))
    else
      assert(h:read_file(path, n))
    end
  end
  return h:finish()
end

teardown(function() os.execute("rm -rf " .. dir) end)

describe("sign.part_hasher", function()
  local PS = 1024
  local sizes = { 0, 1, 63, 64, 65, PS - 1, PS, PS + 1, 3 * PS, 3 * PS + 100, 200000 }
  for _, n in ipairs(sizes) do
    it("gives sha256sum's digest and one context per part for " .. n .. " bytes", function()
      local s = bytes(n, n + 1)
      local path = write("f" .. n, s)
      local h = sign.part_hasher(PS)
      local got = h:read_file(path, n + 10)
      assert.are.equal(n, got)
      assert.are.equal(0, h:read_file(path, 10)) -- EOF
      local r = h:finish()
      assert.are.equal(n, r.size)
      assert.are.equal(sha256sum(path), r.sha256)
      assert.are.equal(math.max(1, math.ceil(n / PS)), #r.contexts)
      assert.are.same(IV, r.contexts[1])
      -- any chunking of update and read_file gives the same result
      for seed = 1, 3 do assert.are.same(r, hash_mixed(path, s, PS, seed)) end
    end)
  end

  it("captures h0..h7 exactly at each boundary (pure-Lua oracle)", function()
    if not compress_state then return pending("needs Lua 5.3+ integer operators") end
    local s = bytes(5 * 4096 + 17, 3)
    local path = write("oracle", s)
    local r = hash_mixed(path, s, 4096, 11)
    assert.are.equal(6, #r.contexts)
    for i, ctx in ipairs(r.contexts) do
      assert.are.same(compress_state(IV, s:sub(1, (i - 1) * 4096)), ctx)
      for _, v in ipairs(ctx) do assert.are.equal("integer", math.type(v)) end
    end
  end)

  it("reports a missing file and a directory with strerror's text", function()
    local h = sign.part_hasher(64)
    local n, err = h:read_file(dir .. "/none", 10)
    assert.is_nil(n)
    assert.matches("No such file", err)
    n, err = h:read_file(dir, 10)
    assert.is_nil(n)
    assert.matches("Is a directory", err)
    assert.are.equal(0, h:size())
  end)

  it("refuses a part_size that is not a positive multiple of 64", function()
    for _, bad in ipairs { 0, -64, 100, 64.5, "x" } do
      assert.has_error(function() sign.part_hasher(bad) end)
    end
    assert.has_no_error(function() sign.part_hasher(5242880) end)
  end)

  it("refuses use after finish", function()
    local h = sign.part_hasher(64)
    h:update("abc")
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      h:finish().sha256)
    assert.has_error(function() h:finish() end, nil)
    assert.has_error(function() h:update("x") end)
    assert.has_error(function() h:read_file(dir .. "/f1", 1) end)
  end)
end)
