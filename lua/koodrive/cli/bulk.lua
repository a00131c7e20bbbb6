--- Input of the bulk commands: ids from the arguments, --file or standard input, the
-- --concurrency flag, and chunking ids into calls.
local config = require "koodrive.cli.config"
local exit = require "koodrive.cli.exit"
local output = require "koodrive.cli.output"

local bulk = {}

--- The text after a bulk command's options.
bulk.HELP = [[
Ids come from the arguments, from --file PATH (one per line, "-" for standard input, blank
lines and lines starting with # skipped) or, when neither is given and standard input is
not a terminal, from standard input. A progress bar is drawn on standard error when it is
a terminal.]]

--- Declares --concurrency and --file on `cmd`.
---@param cmd table an argparse command
function bulk.flags(cmd)
  cmd:option("--concurrency", "calls in flight at once, 1-256 (default 8)"):argname("N"):overwrite(false)
  cmd:option("--file", 'read ids from PATH ("-": standard input)'):argname("PATH"):overwrite(false)
end

local function split_ids(text, ids)
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = config.trim(line)
    if line ~= "" and not line:find("^#") then ids[#ids + 1] = line end
  end
  return ids
end

--- The ids: `words`, then --file, or standard input when neither is given and it is not a
-- terminal. A usage failure when there are none; `what` names them ("device ids").
---@param ctx table
---@param words string[]
---@param what string
---@return string[]
function bulk.ids(ctx, words, what)
  local ids = {}
  for _, w in ipairs(words or {}) do ids[#ids + 1] = w end
  local file = ctx.args.file
  if file == "-" then
    split_ids(ctx.stdin:read("*a") or "", ids)
  elseif file then
    local text, err = config.read_all(file)
    if not text then exit.usage("cannot read --file " .. file .. ": " .. tostring(err)) end
    split_ids(text, ids)
  elseif #ids == 0 and not output.is_tty(ctx, 0) then
    split_ids(ctx.stdin:read("*a") or "", ids)
  end
  if #ids == 0 then
    exit.usage("no " .. what .. " given: pass them as arguments, with --file PATH or on standard input")
  end
  return ids
end

--- The --concurrency value (nil when not given; a usage failure when out of range).
---@param ctx table
---@return integer|nil
function bulk.concurrency(ctx)
  local c = ctx.args.concurrency
  if c == nil then return nil end
  local n = tonumber(c)
  if not n or n % 1 ~= 0 or n < 1 or n > 256 then exit.usage("--concurrency must be a whole number from 1 to 256") end
  return n
end

--- `list` cut into lists of at most `size` items, in order.
---@param list any[]
---@param size integer
---@return any[][]
function bulk.chunks(list, size) return require("koodrive.batch").chunks(list, size) end

return bulk
