--- The `koodrive` command: the library's operations from a shell.
--
--   koodrive devices list|bind|unbind, koodrive groups delete-members,
--   koodrive iotda unbind-policy, koodrive call METHOD PATH
--
-- bin/koodrive only calls main(arg) and exits with its code. The parser is argparse; each
-- command group is one module in koodrive/cli/ (listed in COMMANDS) that declares its
-- flags, their help and its handler. cli/config.lua has the flags, environment and profile
-- file, cli/output.lua tables, JSON, dry runs and progress, cli/exit.lua the exit codes.
-- Runs on Lua 5.1-5.4 and LuaJIT.
local argparse = require "argparse"
local vault = require "koodrive.secrets"
local printable = require("koodrive.errors").printable
local exit = require "koodrive.cli.exit"
local config = require "koodrive.cli.config"
local output = require "koodrive.cli.output"

local cli = {}

--- Exit codes: 0 ok, 1 partial failure (bulk), 2 usage, 3 config, 4 validation,
-- 5 service (api/http/decode), 6 transport/timeout.
cli.EXIT = exit.EXIT
local EXIT = exit.EXIT

-- The command modules (koodrive.cli.NAME), in the order help lists them. A new command or
-- group is a new module and one name here.
local COMMANDS = { "devices", "files", "jobs", "shares", "groups", "iotda", "call" }

local MAIN_USAGE = "Usage: koodrive COMMAND [SUBCOMMAND] [ARGS] [FLAGS]"
local MAIN_DESCRIPTION = 'Run "koodrive help COMMAND [SUBCOMMAND]" or "koodrive COMMAND --help" for the\n' ..
  "flags of a command."

local function help_flag(cmd, state)
  cmd:add_help(false)
  cmd:flag("-h --help", "this help"):action(function() state.help = state.help or cmd end)
end

local function epilog(spec)
  return (spec.epilog and (spec.epilog .. "\n\n") or "") .. config.HELP .. "\n\n" .. output.HELP
end

-- Builds the parser. state.help is set to the command whose --help was given; `info` maps
-- each argparse command to { name = "devices list", spec = its declaration }.
local function build(state)
  local info = {}
  local root = argparse("koodrive"):usage(MAIN_USAGE):description(MAIN_DESCRIPTION)
    :epilog(config.HELP .. "\n\n" .. output.HELP):command_target("_command")
  help_flag(root, state)
  info[root] = { name = "koodrive", root = true }
  local function add(parent, spec, full)
    local cmd = parent:command(spec.name):summary(spec.summary):usage(spec.usage)
    cmd:description(spec.description or spec.summary)
    help_flag(cmd, state)
    info[cmd] = { name = full, spec = spec }
    if spec.commands then
      cmd:epilog(spec.epilog):command_target("_sub")
      for _, sub in ipairs(spec.commands) do add(cmd, sub, full .. " " .. sub.name) end
    else
      cmd:epilog(epilog(spec))
      spec.declare(cmd)
    end
    return cmd
  end
  for _, name in ipairs(COMMANDS) do
    local spec = require("koodrive.cli." .. name)
    add(root, spec, spec.name)
  end
  return root, info
end

-- Every long flag of any command -> whether it takes a value (argparse keeps the
-- declarations in _options and _commands).
local function all_flags(root)
  local flags = {}
  local function walk(p)
    for _, o in ipairs(p._options or {}) do
      for _, alias in ipairs(o._aliases or {}) do flags[alias] = (o._maxargs or 0) > 0 end
    end
    for _, c in ipairs(p._commands or {}) do walk(c) end
  end
  walk(root)
  return flags
end

-- The word after a flag that takes a value is its value, whatever it looks like (a token may
-- start with "-"): "--token X" becomes "--token=X" before argparse sees it.
local function join_values(argv, flags)
  local out, i = {}, 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for k = i, #argv do out[#out + 1] = argv[k] end
      break
    end
    if flags[a] and argv[i + 1] ~= nil then
      out[#out + 1] = a .. "=" .. argv[i + 1]
      i = i + 1
    else
      out[#out + 1] = a
    end
    i = i + 1
  end
  return out
end

-- Flags given before or between the command words ("--json devices list", "devices --json
-- list") go after them: the command accepts its flags anywhere, argparse only after the
-- command they belong to. (Values are joined to their flags already.)
local function hoist(argv, info_by_name)
  local path, lead, i, want = {}, {}, 1, 1
  while argv[i] and argv[i] ~= "--" and #path < want do
    local a = argv[i]
    if a:sub(1, 1) == "-" and a ~= "-" then
      lead[#lead + 1] = a
    else
      path[#path + 1] = a
      local info = #path == 1 and info_by_name[a]
      if info and info.spec and info.spec.commands then want = 2 end
    end
    i = i + 1
  end
  if #lead == 0 then return argv end
  local out = {}
  for _, w in ipairs(path) do out[#out + 1] = w end
  for _, f in ipairs(lead) do out[#out + 1] = f end
  for k = i, #argv do out[#out + 1] = argv[k] end
  return out
end

-- argparse's message, in the command's words.
local function usage_message(info, flags, msg)
  msg = msg:gsub("\nDid you mean.*$", "")
  local name = info.name
  local opt = msg:match("^unknown option '(.-)'$")
  if opt then
    -- A command's flag with no command after it.
    if flags[opt] ~= nil and info.root then return "no command given" end
    if flags[opt] ~= nil then return opt .. " is not a flag of '" .. name .. "'" end
    return "unknown flag " .. opt
  end
  opt = msg:match("^option '(.-)' requires an argument$")
  if opt then return opt .. " needs a value" end
  opt = msg:match("^option '(.-)' does not take arguments$")
  if opt then return opt .. " takes no value" end
  opt = msg:match("^option '(.-)' must be used at most")
  if opt then return opt .. " given twice" end
  local command = msg:match("^unknown command '(.-)'$")
  if command then return "unknown command '" .. (info.root and "" or name .. " ") .. command .. "'" end
  if msg == "a command is required" then
    return info.root and "no command given" or name .. " needs a subcommand"
  end
  if msg == "too many arguments" then
    return info.spec and info.spec.too_many or (name .. " takes no more arguments")
  end
  return msg
end

local function run(ctx, argv)
  local state = {}
  local root, info = build(state)
  local flags = all_flags(root)
  local by_name = {}
  for _, i in pairs(info) do by_name[i.name] = i end
  if argv[1] == "help" then
    local topic = table.concat(argv, " ", 2)
    if topic == "" then ctx.out(root:get_help() .. "\n"); return EXIT.ok end
    if not by_name[topic] or by_name[topic].root then exit.usage("no help on '" .. topic .. "'") end
    local words = {}
    for k = 2, #argv do words[#words + 1] = argv[k] end
    words[#words + 1] = "--help"
    argv = words
  end
  argv = hoist(join_values(argv, flags), by_name)
  local failed_in, failure
  local ok, args = pcall(function()
    return root:_parse(argv, function(parser, msg)
      failed_in, failure = parser, msg
      error(msg, 0)
    end)
  end)
  -- --help wins over what is missing (a subcommand), not over what is wrong.
  if state.help and (ok or failure == "a command is required") then
    ctx.out(state.help:get_help() .. "\n")
    return EXIT.ok
  end
  if not ok then
    if not failure then error(args, 0) end
    exit.usage(usage_message(info[failed_in] or info[root], flags, failure))
  end
  local name = args._command .. (args._sub and (" " .. args._sub) or "")
  if args.timeout ~= nil then
    local t = tonumber(args.timeout)
    if not t or t <= 0 then exit.usage("--timeout must be a positive number of seconds") end
  end
  ctx.args = args
  local cfg
  ctx.config = function()
    if not cfg then
      cfg = config.resolve(ctx, args)
      ctx.secret_values = config.secret_values(cfg)
    end
    return cfg
  end
  -- The signed request an operation would send (a failure of its kind when it is refused).
  ctx.prepare = function(client, operation, ...)
    local request, err = client:prepare_operation(operation, ...)
    if not request then exit.with(err) end
    return request
  end
  return by_name[name].spec.run(ctx)
end

--- Runs the command line `argv` (a list of strings, like the global `arg`); returns the exit
-- code. `io_ctx` may replace { out(s), err(s), stdin, getenv(name) } for in-process use.
---@param argv string[]
---@param io_ctx table|nil
---@return integer
function cli.main(argv, io_ctx)
  io_ctx = io_ctx or {}
  local ctx = {
    out = io_ctx.out or function(s) io.stdout:write(s) end,
    err = io_ctx.err or function(s) io.stderr:write(s) end,
    stdin = io_ctx.stdin or io.stdin,
    getenv = io_ctx.getenv or os.getenv,
  }
  local list = {}
  for i = 1, #(argv or {}) do list[i] = argv[i] end
  local ok, result = pcall(run, ctx, list)
  if ok then
    io.stdout:flush()
    return result
  end
  if exit.is_failure(result) then
    ctx.err("koodrive: " .. printable(result.message) .. "\n")
    return result.code
  end
  ctx.err("koodrive: internal error: " .. printable(vault.redact(tostring(result), ctx.secret_values)) .. "\n")
  return EXIT.service
end

return cli
