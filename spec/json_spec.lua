-- JSON through a private cjson instance: exact 64-bit ids both ways, the host's cjson untouched.
local json = require "koodrive.json"

describe("koodrive.json", function()
  it("writes int64-marked ids digit for digit", function()
    local text = json.encode { amendModRoles = { { userId = json.int64("9223372036854775807") } } }
    assert.are.equal('{"amendModRoles":[{"userId":9223372036854775807}]}', text)
  end)

  it("reads integers beyond 2^53 as exact strings", function()
    local v = json.decode('{"a":3432423464657862424,"b":[132543141414141414,-9223372036854775807],"c":"12345678901234567890"}')
    assert.are.equal("3432423464657862424", v.a)
    assert.are.same({ "132543141414141414", "-9223372036854775807" }, v.b)
    assert.are.equal("12345678901234567890", v.c)
  end)

  it("does not touch digits inside strings or floats", function()
    local v = json.decode('{"s":"x 12345678901234567890 \\" 98765432109876543210","f":1.2345678901234567e3}')
    assert.are.equal('x 12345678901234567890 " 98765432109876543210', v.s)
    assert.is_true(math.abs(v.f - 1234.5678901234567) < 1e-9)
  end)

  it("writes an empty marked array as []", function()
    assert.are.equal('{"ids":[]}', json.encode { ids = json.array {} })
  end)

  it("returns nil and a message for malformed JSON", function()
    local v, err = json.decode("{\"code\":")
    assert.is_nil(v)
    assert.is_string(err)
  end)

  if math.type then
    it("writes Lua integers beyond 2^53 exactly (Lua 5.3+)", function()
      assert.are.equal('[3432423464657862424]', json.encode { 3432423464657862424 })
    end)
    it("reads whole numbers as integers (Lua 5.3+)", function()
      assert.are.equal("integer", math.type(json.decode('{"code":0}').code))
    end)
    it("reads whole numbers as integers at every depth, fractions and huge values as floats", function()
      local v = json.decode('{"a":[1,2.5,{"b":[-3,1e3,1e300,-0.0]}],"c":9007199254740993}')
      assert.are.equal("integer", math.type(v.a[1]))
      assert.are.equal("float", math.type(v.a[2]))
      assert.are.equal("integer", math.type(v.a[3].b[1]))
      assert.are.equal(-3, v.a[3].b[1])
      assert.are.equal("integer", math.type(v.a[3].b[2]))
      assert.are.equal(1000, v.a[3].b[2])
      assert.are.equal("float", math.type(v.a[3].b[3])) -- beyond the integer range
      assert.are.equal("string", type(v.c))           -- 16 digits: kept exact as a string
    end)
    it("stops converting below 200 levels without failing on deeper text", function()
      local deep = json.decode(("["):rep(500) .. "1" .. ("]"):rep(500))
      assert.is_table(deep)
      local shallow = json.decode(("["):rep(50) .. "7" .. ("]"):rep(50))
      for _ = 1, 50 do shallow = shallow[1] end
      assert.are.equal("integer", math.type(shallow))
    end)
  end

  it("leaves the host's global cjson settings alone", function()
    local cjson = require "cjson"
    cjson.encode_sparse_array(true)
    json.encode { [1] = 1, [3] = 3 }
    local ok = pcall(cjson.encode, { [1] = 1, [5] = 5 })
    assert.is_true(ok)
    cjson.encode_sparse_array(false)
  end)
end)
