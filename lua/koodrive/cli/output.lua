--- Output of the `koodrive` command: readable tables or one JSON document, bulk results,
-- dry runs (signed requests, secrets redacted) and the progress bar.
--
-- Whatever came from the service is shown printable (koodrive.errors.printable), so no
-- text of its can drive the terminal; configured secrets are taken out (koodrive.secrets).
local json = require "koodrive.json"
local vault = require "koodrive.secrets"
local printable = require("koodrive.errors").printable
local exit = require "koodrive.cli.exit"

local output = {}
local EXIT = exit.EXIT

--- The text after every command's options: output modes and exit codes.
output.HELP = [[
Errors go to standard error as "koodrive: <error>". Exit codes: 0 ok, 1 some items of a
bulk command failed, 2 usage, 3 config, 4 validation, 5 service error, 6 transport/timeout.]]

--- Declares --json and --dry-run on `cmd`.
---@param cmd table an argparse command
function output.flags(cmd)
  cmd:flag("--json", "one JSON document on stdout (default: a readable table)"):overwrite(false)
  cmd:flag("--dry-run", "print the signed request(s), secrets redacted, and send nothing"):overwrite(false)
end

--- Declares --limit on a listing command.
---@param cmd table an argparse command
function output.limit_flag(cmd)
  cmd:option("--limit", "show at most N entries (default: all, page after page)"):argname("N"):overwrite(false)
end

--- The --limit value (nil when not given; a usage failure unless a whole number >= 1).
---@param ctx table
---@return integer|nil
function output.limit(ctx)
  local l = ctx.args.limit
  if l == nil then return nil end
  local n = tonumber(l)
  if not n or n % 1 ~= 0 or n < 1 then exit.usage("--limit must be a whole number of at least 1") end
  return n
end

--- `value` as JSON text (a service failure if it cannot be written).
---@param value any
---@return string
function output.encode(value)
  local text, err = json.encode(value)
  if not text then exit.fail(EXIT.service, "cannot write JSON: " .. tostring(err)) end
  return text
end
local encode = output.encode

--- The fields of a library error worth printing as JSON.
---@param err any
---@return table
function output.plain_error(err)
  if type(err) ~= "table" then return { message = tostring(err) } end
  return { kind = err.kind, message = err.message, code = err.code, status = err.status,
    field = err.field, request_id = err.request_id }
end

local function cell(v)
  if v == nil or v == json.null then return "-" end
  return tostring(v)
end

--- Rows of cells as lines with aligned columns (the last column is not padded).
---@param rows string[][]
---@return string
function output.table_text(rows)
  for _, row in ipairs(rows) do
    for i, c in ipairs(row) do row[i] = printable(c) end
  end
  local widths = {}
  for _, row in ipairs(rows) do
    for i, c in ipairs(row) do
      if #c > (widths[i] or 0) then widths[i] = #c end
    end
  end
  local lines = {}
  for _, row in ipairs(rows) do
    local parts = {}
    for i, c in ipairs(row) do
      parts[i] = (i < #row) and (c .. string.rep(" ", widths[i] - #c)) or c
    end
    lines[#lines + 1] = table.concat(parts, "  ")
  end
  return table.concat(lines, "\n") .. "\n"
end
local table_text = output.table_text

local DEVICE_COLUMNS = { "deviceId", "machineCode", "deviceName", "deviceOS", "createTime" }

--- Devices as a table with a header row.
---@param devices table[]
---@return string
function output.devices_text(devices)
  local rows = { DEVICE_COLUMNS }
  for _, d in ipairs(devices) do
    local row = {}
    for i, name in ipairs(DEVICE_COLUMNS) do row[i] = cell(d[name]) end
    rows[#rows + 1] = row
  end
  return table_text(rows)
end

--- Entries as a table under a header row: `columns` is a list of { header, field } where
-- field is a key of the entry or a function(entry) -> value; absent values show as "-".
---@param entries table[]
---@param columns table[]
---@return string
function output.columns_text(entries, columns)
  local header = {}
  for i, c in ipairs(columns) do header[i] = c[1] end
  local rows = { header }
  for _, e in ipairs(entries) do
    local row = {}
    for i, c in ipairs(columns) do
      local f = c[2]
      if type(f) == "function" then row[i] = cell(f(e)) else row[i] = cell(e[f]) end
    end
    rows[#rows + 1] = row
  end
  return table_text(rows)
end

--- The items of a library each() iterator, at most `limit` (nil: all); nil and the error
-- when one comes. The iterator is called by hand, so an error yielded as (nil, err) is seen
-- as well as one yielded as (false, err). The iterator comes last, so that
-- collect(limit, client.jobs:each(q)) passes all of each()'s values.
---@param limit integer|nil
---@param iter function
---@param state any
---@param control any
---@return table[]|nil items
---@return table|nil err
function output.collect(limit, iter, state, control)
  local items = {}
  while not limit or #items < limit do
    local item, err = iter(state, control)
    if err then return nil, err end
    if not item then break end
    items[#items + 1] = item
    control = item
  end
  return items
end

-- "key  value" rows for a decoded JSON value, nested keys joined with ".".
local function flatten(value, prefix, rows)
  if type(value) == "table" and value ~= json.null then
    local keys = {}
    for k in pairs(value) do keys[#keys + 1] = k end
    if #keys == 0 then
      rows[#rows + 1] = { prefix ~= "" and prefix or "(empty)", "{}" }
      return rows
    end
    table.sort(keys, function(a, b)
      if type(a) == type(b) then return a < b end
      return type(a) == "number"
    end)
    for _, k in ipairs(keys) do
      local name
      if type(k) == "number" then name = prefix .. "[" .. k .. "]"
      elseif prefix == "" then name = tostring(k)
      else name = prefix .. "." .. tostring(k) end
      flatten(value[k], name, rows)
    end
  else
    local text = value == json.null and "null" or tostring(value)
    rows[#rows + 1] = { prefix ~= "" and prefix or "(value)", text }
  end
  return rows
end

--- A decoded JSON value as "key  value" lines.
---@param value any
---@return string
function output.flat_text(value) return table_text(flatten(value, "", {})) end

local function redacted_request(request, values)
  local function redact(s) return type(s) == "string" and vault.redact(s, values) or s end
  local headers = {}
  for name, value in pairs(request.headers) do
    headers[name] = vault.header(name) and vault.MARK or redact(value)
  end
  return { method = request.method, url = redact(request.url), headers = headers,
    body = redact(request.body or "") }
end

local function request_text(r)
  local lines = { r.method .. " " .. r.url }
  local names = {}
  for name in pairs(r.headers) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do lines[#lines + 1] = name .. ": " .. r.headers[name] end
  lines[#lines + 1] = ""
  if r.body ~= "" then lines[#lines + 1] = r.body end
  return table.concat(lines, "\n") .. "\n"
end

--- Prints signed requests with every configured secret redacted; returns exit code 0.
---@param ctx table
---@param requests koodrive.Request[]
---@return integer
function output.dry_run(ctx, requests)
  local shown = {}
  for i, r in ipairs(requests) do shown[i] = redacted_request(r, ctx.secret_values or {}) end
  if ctx.args.json then
    ctx.out(encode({ dry_run = true, requests = json.array(shown) }) .. "\n")
  else
    local parts = {}
    for i, r in ipairs(shown) do parts[i] = request_text(r) end
    ctx.out(table.concat(parts, "\n"))
  end
  return EXIT.ok
end

local function succeeded(status) return status == true or status == 0 end

--- Whether file descriptor fd (0, 1 or 2) is a terminal; KOODRIVE_FORCE_TTY=1|0 overrides
-- for 1 and 2.
---@param ctx table
---@param fd integer
---@return boolean
function output.is_tty(ctx, fd)
  local force = fd ~= 0 and ctx.getenv("KOODRIVE_FORCE_TTY")
  if force == "1" then return true elseif force == "0" then return false end
  return succeeded(os.execute("test -t " .. fd))
end

--- A progress callback drawing "[#####.....] 12/40" on standard error when it is a terminal,
-- and the function that ends the bar. `weight(item)` counts the ids of one bulk item.
---@param ctx table
---@param total integer
---@param weight fun(item: any): integer|nil
---@return function|nil progress
---@return function done
function output.progress(ctx, total, weight)
  if not output.is_tty(ctx, 2) then return nil, function() end end
  local done, width = 0, 20
  local function draw()
    local filled = total > 0 and math.floor(done * width / total) or width
    ctx.err("\r[" .. string.rep("#", filled) .. string.rep(".", width - filled) .. "] " ..
      done .. "/" .. total)
  end
  draw()
  return function(_, _, item)
    done = done + (weight and weight(item) or 1)
    if done > total then done = total end
    draw()
  end, function() ctx.err("\n") end
end

--- Prints bulk results { {id, ok, reason, error, extra, exit} } after `header` (JSON fields);
-- returns the exit code: 0 all ok, 1 some ok, else the first failure's.
---@param ctx table
---@param results table[]
---@param header table|nil
---@return integer
function output.bulk(ctx, results, header)
  local ok_count, failed_count = 0, 0
  local first_failure
  for _, r in ipairs(results) do
    if r.ok then ok_count = ok_count + 1 else
      failed_count = failed_count + 1
      first_failure = first_failure or r
    end
  end
  if ctx.args.json then
    local doc = {}
    for k, v in pairs(header or {}) do doc[k] = v end
    doc.ok, doc.failed = ok_count, failed_count
    local items = {}
    for i, r in ipairs(results) do
      local item = { id = r.id, ok = r.ok }
      for k, v in pairs(r.extra or {}) do item[k] = v end
      -- Per-target failures quote the service (IoTDA error_msg): no secret of ours in them.
      if r.error then item.error = vault.redact_value(r.error, ctx.secret_values) end
      items[i] = item
    end
    doc.results = json.array(items)
    ctx.out(encode(doc) .. "\n")
  else
    local rows = {}
    for i, r in ipairs(results) do
      rows[i] = { r.id, r.ok and "ok" or ("failed: " .. vault.redact(r.reason, ctx.secret_values)) }
    end
    ctx.out(table_text(rows))
    ctx.out(ok_count .. " ok, " .. failed_count .. " failed\n")
  end
  if failed_count == 0 then return EXIT.ok end
  if ok_count > 0 then return EXIT.partial end
  return first_failure.exit or EXIT.service
end

--- A listing command's output: one JSON document (the `header` fields and the items under
-- `key`) with --json, else `empty` for no items or a table of `columns`; the exit code.
function output.list_out(ctx, items, key, header, columns, empty)
  if ctx.args.json then
    local doc = {}
    for k, v in pairs(header or {}) do doc[k] = v end
    doc[key] = json.array(items)
    ctx.out(output.encode(doc) .. "\n")
  elseif #items == 0 then
    ctx.out(empty .. "\n")
  else
    ctx.out(output.columns_text(items, columns))
  end
  return EXIT.ok
end

return output
