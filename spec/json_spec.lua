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

  -- The strict reader (src/json.c): lua-cjson's leniencies let a garbled answer pass for a
  -- success (issue 10), so responses are read as exactly one RFC 8259 value.
  describe("reads strictly", function()
    for _, text in ipairs {
      '{"code":0}\0{"code":1}', '{"code":0} x', '{"code":0}}', '{"code":1,"code":0}', "1e999", "-1e999",
      "1e-400", "[0x1F]", "[+1]", "[NaN]", "[Infinity]", "[01]", "[1.]", "[.5]", "[1e]", "[1,]",
      '{"a":1,}', "{'a':1}", [["\ud800"]], [["\udc00x"]], [["a\x"]], '"raw\tcontrol"', "",
      ("["):rep(1001) .. ("]"):rep(1001),
    } do
      it("refuses " .. string.format("%q", text):sub(1, 40), function()
        local v, err = json.decode(text)
        assert.is_nil(v)
        assert.matches("at character %d+", err)
      end)
    end

    it("tells arrays from objects, also when empty", function()
      local v = assert(json.decode('{"a":[],"b":{},"c":[{}]}'))
      assert.is_true(json.is_array(v.a))
      assert.is_false(json.is_array(v.b))
      assert.is_true(json.is_object(v.b))
      assert.is_true(json.is_object(v.c[1]))
      assert.is_false(json.is_array({}))
      assert.are.equal('[]', json.encode(v.a))
    end)

    it("knows which numbers were written as integers", function()
      local v = assert(json.decode('{"a":0,"b":0.0,"c":0e5,"d":-0,"e":[1,1.0],"f":7,"g":1.5}'))
      assert.are.equal(0, json.integer(v, "a"))
      assert.is_nil(json.integer(v, "b"))
      assert.is_nil(json.integer(v, "c"))
      assert.are.equal(0, json.integer(v, "d"))
      assert.are.equal(1, json.integer(v.e, 1))
      assert.is_nil(json.integer(v.e, 2))
      assert.are.equal(7, json.integer(v, "f"))
      assert.is_nil(json.integer(v, "g"))
    end)

    it("decodes escapes, surrogate pairs and raw UTF-8", function()
      local v = assert(json.decode([=[["\u00e9\ud83d\ude00\n\/", "]=] .. "\195\169" .. [=[", "", {"":null}]]=]))
      assert.are.equal("\195\169\240\159\152\128\n/", v[1])
      assert.are.equal("\195\169", v[2])
      assert.are.equal("", v[3])
      assert.are.equal(json.null, v[4][""])
    end)

    it("reads 1000 levels and refuses 10000 without crashing", function()
      assert.is_table(json.decode(("["):rep(1000) .. ("]"):rep(1000)))
      local v, err = json.decode(("["):rep(10000) .. ("]"):rep(10000))
      assert.is_nil(v)
      assert.matches("nested too deep", err, 1, true)
    end)
  end)

  -- The reader keeps up to 16 members on the stack before it makes the table (src/json_decode.c):
  -- what it reads must not depend on where a member falls around those batches.
  it("reads objects and arrays of any size member for member, around its batches of 16", function()
    for _, n in ipairs { 0, 1, 15, 16, 17, 31, 32, 33, 50 } do
      local keys, items = {}, {}
      for i = 1, n do
        keys[#keys + 1] = string.format('"k%d":%s', i, i % 7 == 0 and (i .. ".0") or tostring(i))
        items[#items + 1] = i % 5 == 0 and (i .. "e0") or (i % 3 == 0 and ('"s' .. i .. '"') or tostring(i))
      end
      local obj = assert(json.decode("{" .. table.concat(keys, ",") .. "}"))
      local arr = assert(json.decode("[" .. table.concat(items, ",") .. "]"))
      local count = 0
      for _ in pairs(obj) do count = count + 1 end
      assert.are.equal(n, count)
      assert.are.equal(n, #arr)
      assert.is_true(json.is_array(arr))
      assert.is_true(json.is_object(obj))
      for i = 1, n do
        assert.are.equal(i, obj["k" .. i])
        -- a whole number written as a float stays marked wherever it falls
        if i % 7 == 0 then assert.is_nil(json.integer(obj, "k" .. i)) else assert.are.equal(i, json.integer(obj, "k" .. i)) end
        if i % 5 == 0 then
          assert.are.equal(i, arr[i]); assert.is_nil(json.integer(arr, i))
        elseif i % 3 == 0 then
          assert.are.equal("s" .. i, arr[i])
        else
          assert.are.equal(i, json.integer(arr, i))
        end
      end
    end
  end)

  it("refuses a repeated key whether it repeats one in the same batch of 16 or an earlier one", function()
    for _, at in ipairs { { 1, 2 }, { 3, 15 }, { 2, 16 }, { 2, 17 }, { 17, 18 }, { 5, 40 }, { 33, 34 } } do
      local keys = {}
      for i = 1, 45 do keys[i] = string.format('"k%d":%d', i == at[2] and at[1] or i, i) end
      local v, err = json.decode("{" .. table.concat(keys, ",") .. "}")
      assert.is_nil(v)
      assert.matches("duplicate key", err)
    end
    -- nested containers inside a batch keep their own members
    local v = assert(json.decode('{"a":{"a":1,"b":[1,2,{"a":3}]},"b":2}'))
    assert.are.equal(3, v.a.b[3].a)
    assert.are.equal(2, v.b)
  end)

  it("reads nesting at the depth limit and refuses one deeper, arrays and objects alike", function()
    local deep = string.rep("[", 1000) .. string.rep("]", 1000)
    assert.is_table(json.decode(deep))
    local v, err = json.decode("[" .. deep .. "]")
    assert.is_nil(v)
    assert.matches("nested too deep", err)
    local objs = string.rep('{"a":1,"b":', 999) .. "1" .. string.rep("}", 999)
    assert.is_table(json.decode(objs))
  end)

  it("leaves the host's global cjson settings alone", function()
    local cjson = require "cjson"
    cjson.encode_sparse_array(true)
    json.encode { [1] = 1, [3] = 3 }
    local ok = pcall(cjson.encode, { [1] = 1, [5] = 5 })
    assert.is_true(ok)
    cjson.encode_sparse_array(false)
  end)
end)
