--- The input rules for tables: lists, option tables and JSON bodies, and the bounded,
-- printable labels messages use for keys and text. Part of koodrive.validate (installed into
-- it by validate.lua, with its `fail` and `describe`), split out to keep each file short.
return function(validate, fail, describe)

  --- `s` made fit for a message or a log line: control and non-ASCII bytes written as \xNN,
  -- cut to `max` bytes of the original (64 by default) with "..." after.
  function validate.safe_text(s, max)
    max = max or 64
    local out = s:sub(1, max):gsub("[%z\1-\31\127-\255]", function(c) return ("\\x%02X"):format(c:byte()) end)
    if #s > max then out = out .. "..." end
    return out
  end

  -- A readable, bounded label for a table key in a field name: never the raw bytes of a
  -- hostile key, never a call to its __tostring.
  local function key_label(k)
    local t = type(k)
    if t == "string" then
      return validate.safe_text(k, 64)
    elseif t == "number" then
      if k ~= k then return "nan" end
      if k % 1 == 0 and k > -2 ^ 53 and k < 2 ^ 53 then return string.format("%d", k) end
      return string.format("%.17g", k)
    elseif t == "boolean" then
      return tostring(k)
    end
    return "<" .. t .. ">"
  end
  validate.key_label = key_label

  --- Checks a JSON body table: every string (key or value) valid UTF-8, keys strings or
  -- numbers, values tables, strings, finite numbers, booleans or json.null, at most
  -- JSON_DEPTH levels deep. The field of an error is the path to the bad value, e.g.
  -- "body.items[2].name".
  function validate.json_body(v, field)
    local null = require("koodrive.json").null
    local depth_max = validate.JSON_DEPTH
    local function check(x, path, depth)
      local t = type(x)
      if t == "string" then
        local ok, at = validate.is_utf8(x)
        if not ok then
          return fail(path, "utf8", "must be valid UTF-8 (bad byte sequence at offset " .. at .. ")")
        end
        return true
      elseif t == "number" then
        if x ~= x or x == math.huge or x == -math.huge then
          return fail(path, "json", "must be a finite number (JSON has no NaN or infinity)")
        end
        return true
      elseif t == "boolean" or x == null then
        return true
      elseif t ~= "table" then
        return fail(path, "json", "cannot be written as JSON (a " .. t .. ")")
      end
      if depth > depth_max then
        return fail(path, "json", "is nested more than " .. depth_max .. " levels deep (or is cyclic)")
      end
      for k, item in next, x do
        local kt = type(k)
        local sub
        if kt == "number" then
          sub = path .. "[" .. key_label(k) .. "]"
        elseif kt == "string" then
          local ok, at = validate.is_utf8(k)
          if not ok then
            return fail(path, "utf8", "has a key that is not valid UTF-8 (bad byte sequence at offset " .. at .. ")")
          end
          sub = path .. "." .. key_label(k)
        else
          return fail(path, "json", "has a key that cannot be written as JSON (a " .. kt .. ")")
        end
        local ok, err = check(item, sub, depth + 1)
        if not ok then return nil, err end
      end
      return true
    end
    if type(v) ~= "table" then return fail(field, "type", "must be a table, got " .. describe(v)) end
    return check(v, field, 1)
  end

  --- An array (sequence) of 1..max items; returns its length. Only the table's own entries
  -- count: metamethods (__index, __len, __pairs) are neither trusted nor called.
  function validate.list(v, field, max)
    if type(v) ~= "table" then return fail(field, "type", "must be an array, got " .. describe(v)) end
    local n = 0
    for k in next, v do
      if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then
        return fail(field, "type", "must be an array (sequence), found key " .. key_label(k))
      end
      n = n + 1
    end
    for i = 1, n do
      if rawget(v, i) == nil then return fail(field, "type", "must be an array without holes") end
    end
    if n == 0 then return fail(field, "length", "must not be empty") end
    if max and n > max then return fail(field, "length", "must hold at most " .. max .. " items") end
    return n
  end

  --- Only keys listed in `allowed` may appear in the options table `t` (its own entries;
  -- __pairs is not called).
  function validate.known_keys(t, field, allowed)
    if type(t) ~= "table" then return fail(field, "type", "must be a table, got " .. describe(t)) end
    for k in next, t do
      if type(k) ~= "string" or not allowed[k] then
        return fail(field .. "." .. key_label(k), "unknown_option", "is not a known option")
      end
    end
    return true
  end

end
