-- sign.follow_hasher: the SHA-256 of a file computed by a thread of its own while the file is
-- still being written (files:download hashes with it as the ranges arrive). Checked against
-- sha256sum and sign.sha256_hex of the same bytes; the thread must follow only what it is told
-- is written, end on close or collection, fail clearly on a short file, and leave a forked
-- child nothing to join.
local sign = require "koodrive.sign"

local sys = require "support.sys"

local dir = sys.tmp_dir()
local bytes = sys.bytes

local function sha256sum(path)
  local p = assert(io.popen("sha256sum " .. path))
  local out = p:read("*a")
  p:close()
  return (out:match("^(%x+)"))
end

local function waited(h)
  local hex, err
  for _ = 1, 200 do
    hex, err = h:wait(0.05)
    if err ~= "pending" then break end
  end
  return hex, err
end

describe("sign.follow_hasher", function()
  teardown(function() os.execute("rm -rf " .. dir) end)

  it("hashes a file as it is written, following only the bytes it is told are there", function()
    local path = dir .. "/grow.bin"
    local chunk = bytes(300000, 3)
    local f = assert(io.open(path, "wb"))
    f:setvbuf("no")
    local h = assert(sign.follow_hasher(path))
    local whole = {}
    for i = 1, 8 do
      -- each chunk differs, so hashing a byte before it is written gives another digest
      local piece = chunk:sub(i) .. chunk:sub(1, i - 1)
      f:write(piece)
      whole[#whole + 1] = piece
      h:advance(#table.concat(whole))
      h:advance(1) -- a lower figure than before changes nothing
      local hex, err = h:wait(0)
      assert.is_nil(hex)
      assert.are.equal("pending", err) -- never done before finish
    end
    f:close()
    local all = table.concat(whole)
    h:finish(#all)
    local hex = assert(waited(h))
    assert.are.equal(sign.sha256_hex(all), hex)
    assert.are.equal(sha256sum(path), hex)
    assert.are.equal(hex, (h:wait(0))) -- asked again: the same answer
    h:close()
  end)

  it("hashes bytes at gaps only once they are said to be written (pwrite order)", function()
    -- the second half lands first, as a later range of a download may
    local path = dir .. "/gaps.bin"
    local a, b = bytes(70000, 5), bytes(50000, 6)
    local f = assert(io.open(path, "wb"))
    f:write(("\0"):rep(#a), b)
    f:flush()
    local h = assert(sign.follow_hasher(path))
    h:advance(0)
    f:seek("set", 0)
    f:write(a)
    f:close()
    h:finish(#a + #b)
    assert.are.equal(sign.sha256_hex(a .. b), (assert(waited(h))))
    h:close()
  end)

  it("gives the SHA-256 of an empty file", function()
    local path = dir .. "/empty.bin"
    sys.write(path, "")
    local h = assert(sign.follow_hasher(path))
    h:finish(0)
    assert.are.equal(sign.sha256_hex(""), (assert(waited(h))))
  end)

  it("says when the file is shorter than the size it was given", function()
    local path = dir .. "/short.bin"
    sys.write(path, bytes(1000))
    local h = assert(sign.follow_hasher(path))
    h:finish(1001)
    local hex, err = waited(h)
    assert.is_nil(hex)
    assert.matches("shorter", err)
  end)

  it("refuses a file it cannot open, and bad figures, with clear messages", function()
    local h, err = sign.follow_hasher(dir .. "/none/at/all")
    assert.is_nil(h)
    assert.matches("No such file", err)
    local path = dir .. "/args.bin"
    sys.write(path, "")
    local g = assert(sign.follow_hasher(path))
    assert.has_error(function() g:advance(-1) end)
    assert.has_error(function() g:advance(1.5) end)
    assert.has_error(function() g:wait(-1) end)
    g:close()
  end)

  it("ends its thread when closed or collected mid-file, and says closed after", function()
    local path = dir .. "/stop.bin"
    sys.write(path, bytes(100000))
    local h = assert(sign.follow_hasher(path))
    h:advance(50000)     -- the thread hashes half, then waits for more that never comes
    h:close()
    h:close()            -- twice is harmless
    local hex, err = h:wait(0)
    assert.is_nil(hex)
    assert.are.equal("closed", err)
    h:advance(100000)    -- ignored once closed
    for _ = 1, 20 do     -- and collected while waiting: __gc must end the threads, not hang
      local g = assert(sign.follow_hasher(path))
      g:advance(10)
    end
    collectgarbage()
    collectgarbage()
    assert.is_true(true) -- reached: no collection hung on a thread
  end)

  it("in a forked child says forked instead of waiting on the parent's thread", function()
    local fork = require "support.fork"
    local path = dir .. "/fork.bin"
    sys.write(path, bytes(200000))
    local h = assert(sign.follow_hasher(path))
    h:advance(100000)
    local text = fork.run(function()
      h:finish(200000)
      local hex, err = h:wait(0.1)
      h:close() -- must neither join nor touch the parent's lock
      return tostring(hex) .. ";" .. tostring(err)
    end)
    assert.matches("^nil;forked", text)
    -- the parent's hasher is untouched by the child
    h:finish(200000)
    assert.are.equal(sha256sum(path), (assert(waited(h))))
    h:close()
  end)
end)
