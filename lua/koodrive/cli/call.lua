--- `koodrive call METHOD PATH`: any endpoint through the client.
local json = require "koodrive.json"
local config = require "koodrive.cli.config"
local output = require "koodrive.cli.output"
local exit = require "koodrive.cli.exit"

local function call(ctx)
  local a = ctx.args
  local method, path = a.method, a.path
  if not method or not path then exit.usage("call needs METHOD and PATH") end
  local query = {}
  for _, q in ipairs(a.query or {}) do
    local name, value = q:match("^([^=]+)=(.*)$")
    if not name then exit.usage("--query must be NAME=VALUE, got " .. q) end
    query[#query + 1] = { name, value }
  end
  local body = a.body
  if body ~= nil then
    local _, jerr = json.decode(body)
    if jerr then exit.usage("--body is not valid JSON: " .. tostring(jerr)) end
  end
  local cfg = ctx.config()
  local client
  if a.iotda then client = config.iotda_client(cfg) else client = config.koodrive_client(cfg) end
  local spec = { method = method, path = path, query = query, body = body }
  if a.dry_run then
    local request, err = client:prepare(spec)
    if not request then exit.with(err) end
    return output.dry_run(ctx, { request })
  end
  local envelope, err = client:call(spec)
  if not envelope then exit.with(err) end
  if a.json then
    ctx.out(output.encode(envelope) .. "\n")
  else
    ctx.out(output.flat_text(envelope))
  end
  return exit.EXIT.ok
end

return {
  name = "call",
  summary = "any KooDrive (or, with --iotda, IoTDA) endpoint",
  usage = "Usage: koodrive call METHOD PATH [--query NAME=VALUE]... [--body JSON] [--iotda] [FLAGS]",
  description = "Sends any request through the client (validation, signing, retries, error envelope) and\n" ..
    'prints the decoded response envelope: as "key  value" lines (nested keys joined with "."),\n' ..
    "or with --json as the JSON document. Ids of 16 digits or more are kept exact, as strings.",
  declare = function(cmd)
    cmd:argument("method", "GET, POST, PUT, DELETE, PATCH or HEAD"):args("?"):argname("METHOD")
    cmd:argument("path", 'path below the endpoint, starting with "/"'):args("?"):argname("PATH")
    cmd:option("--query", "a query parameter (repeat for more)"):argname("NAME=VALUE"):count("*")
    cmd:option("--body", "the request body, sent as given (it must be valid JSON)"):argname("JSON"):overwrite(false)
    cmd:flag("--iotda", "send to the IoTDA endpoint with the IoTDA credentials"):overwrite(false)
    config.koodrive_flags(cmd)
    config.iotda_flags(cmd)
    output.flags(cmd)
  end,
  too_many = "call takes METHOD and PATH only (use --query and --body)",
  run = call,
}
