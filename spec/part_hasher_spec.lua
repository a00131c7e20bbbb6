-- sign.part_hasher: one pass giving the file's SHA-256 and the chaining state h0..h7 at every
-- part boundary (koodrive-transfer-api.md section 2, hashCtx). Checked against sha256sum and
-- against a small pure-Lua SHA-256 compression function written here (Lua 5.3+).
local sign = require "koodrive.sign"
local plan = require "koodrive.transfer.plan"

local IV = { 1779033703, 3144134277, 1013904242, 2773480762, 1359893119, 2600822924,
  528734635, 1541459225 }

local sys = require "support.sys"

local dir = sys.tmp_dir()
-- Deterministic bytes (the same across interpreters).
local bytes = sys.bytes

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

-- The independent oracle (spec/support/sha256_state.lua): the chaining state at chosen
-- offsets, from a pure-Lua compression on Lua 5.3+ or libcrypto's own SHA256_CTX under LuaJIT.
local oracle = require("support.sha256_state").states

-- finish() packs the contexts: 32 bytes a part, h0..h7 big-endian. Unpacked here on its own
-- (not through koodrive.transfer.plan.context) to a list of lists of 8 words.
local function unpack_contexts(packed)
  assert(#packed % 32 == 0, "32 bytes a part")
  local list = {}
  for at = 0, #packed - 1, 32 do
    local ctx = {}
    for k = 0, 7 do
      local a, b, c, d = packed:byte(at + 4 * k + 1, at + 4 * k + 4)
      ctx[k + 1] = a * 16777216 + b * 65536 + c * 256 + d
    end
    list[#list + 1] = ctx
  end
  return list
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
      assert.are.equal("string", type(r.contexts))
      local contexts = unpack_contexts(r.contexts)
      assert.are.equal(math.max(1, math.ceil(n / PS)), #contexts)
      assert.are.same(IV, contexts[1])
      -- any chunking of update and read_file gives the same result
      for seed = 1, 3 do assert.are.same(r, hash_mixed(path, s, PS, seed)) end
    end)
  end

  it("captures h0..h7 exactly at each boundary (independent oracle)", function()
    if not oracle then return pending("the oracle needs Lua 5.3+ integer operators or LuaJIT's FFI") end
    local s = bytes(5 * 4096 + 17, 3)
    local path = write("oracle", s)
    local r = hash_mixed(path, s, 4096, 11)
    local contexts = unpack_contexts(r.contexts)
    assert.are.equal(6, #contexts)
    local offsets = {}
    for i = 1, 6 do offsets[i] = (i - 1) * 4096 end
    local states, digest = oracle(s, offsets)
    assert.are.equal(digest, r.sha256)
    for i, ctx in ipairs(contexts) do
      assert.are.same(states[(i - 1) * 4096], ctx)
      -- and as the upload reads them: plan.context, the hashCtx integers of a request
      local used = plan.context(r.contexts, i)
      assert.are.same(states[(i - 1) * 4096], used)
      if math.type then
        for _, v in ipairs(used) do assert.are.equal("integer", math.type(v)) end
      end
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
