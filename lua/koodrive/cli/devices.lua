--- `koodrive devices list|bind|unbind`.
local config = require "koodrive.cli.config"
local output = require "koodrive.cli.output"
local bulk = require "koodrive.cli.bulk"
local exit = require "koodrive.cli.exit"

local EXIT = exit.EXIT

local function list(ctx)
  local client = config.koodrive_client(ctx.config())
  if ctx.args.dry_run then
    return output.dry_run(ctx, { ctx.prepare(client, "devices.list") })
  end
  local devices, err = client.devices:list()
  if not devices then exit.with(err) end
  if ctx.args.json then
    ctx.out(output.encode({ devices = require("koodrive.json").array(devices) }) .. "\n")
  elseif #devices == 0 then
    ctx.out("no devices\n")
  else
    ctx.out(output.devices_text(devices))
  end
  return EXIT.ok
end

local function bind(ctx)
  local a = ctx.args
  if not a.machine_code then exit.usage("devices bind needs --machine-code") end
  local device = { machineCode = a.machine_code, deviceName = a.device_name, deviceOS = a.device_os }
  local client = config.koodrive_client(ctx.config())
  if a.dry_run then
    return output.dry_run(ctx, { ctx.prepare(client, "devices.bind", device) })
  end
  local d, err = client.devices:bind(device)
  if not d then exit.with(err) end
  if a.json then ctx.out(output.encode(d) .. "\n") else ctx.out(output.devices_text({ d })) end
  return EXIT.ok
end

local function unbind(ctx)
  local concurrency = bulk.concurrency(ctx)
  local ids = bulk.ids(ctx, ctx.args.ids, "device ids")
  local client = config.koodrive_client(ctx.config())
  if ctx.args.dry_run then
    local requests = {}
    for i, id in ipairs(ids) do requests[i] = ctx.prepare(client, "devices.unbind", id) end
    return output.dry_run(ctx, requests)
  end
  local progress, done = output.progress(ctx, #ids)
  local r, err = client.devices:unbind_many(ids, { concurrency = concurrency, progress = progress })
  done()
  if not r then exit.with(err) end
  -- Back to input order: each id's outcomes, in the order they were reported.
  local outcomes = {}
  local function push(id, o)
    outcomes[id] = outcomes[id] or {}
    table.insert(outcomes[id], o)
  end
  for _, d in ipairs(r.done) do push(d.deviceId, { ok = true, extra = { device = d.device } }) end
  for _, f in ipairs(r.failed) do
    push(f.deviceId, { ok = false, reason = tostring(f.error), error = output.plain_error(f.error),
      exit = exit.of(f.error) })
  end
  -- May have been unbound (koodrive.batch): not ok, but never reported as refused.
  for _, u in ipairs(r.uncertain or {}) do
    push(u.deviceId, { ok = false, reason = "uncertain, may have been done: " .. tostring(u.error),
      error = output.plain_error(u.error), extra = { uncertain = true }, exit = exit.of(u.error) })
  end
  local results = {}
  for i, id in ipairs(ids) do
    local o = table.remove(outcomes[id], 1)
    o.id = id
    results[i] = o
  end
  return output.bulk(ctx, results)
end

local function koodrive_flags(cmd)
  config.koodrive_flags(cmd)
  output.flags(cmd)
end

return {
  name = "devices",
  summary = "list, bind and unbind devices",
  usage = "Usage: koodrive devices list|bind|unbind [ARGS] [FLAGS]",
  epilog = 'Run "koodrive devices SUBCOMMAND --help" for details.',
  commands = {
    {
      name = "list",
      summary = "list the bound devices",
      usage = "Usage: koodrive devices list [FLAGS]",
      description = "Lists the devices bound to the user: deviceId, machineCode, deviceName, deviceOS,\n" ..
        'createTime. With --json: {"devices": [ ... ]}.',
      declare = koodrive_flags,
      too_many = "devices list takes no arguments",
      run = list,
    },
    {
      name = "bind",
      summary = "bind a device",
      usage = "Usage: koodrive devices bind --machine-code CODE [--device-name NAME] [--device-os OS] [FLAGS]",
      description = "Binds a device and prints it. With --json: the device object.",
      declare = function(cmd)
        cmd:option("--machine-code", "required, [A-Za-z0-9_]{1,64}"):argname("CODE"):overwrite(false)
        cmd:option("--device-name", "optional, [A-Za-z0-9-_ ]{1,32}"):argname("NAME"):overwrite(false)
        cmd:option("--device-os", "optional, [A-Za-z0-9_ ]{1,32}"):argname("OS"):overwrite(false)
        koodrive_flags(cmd)
      end,
      too_many = "devices bind takes no arguments (use --machine-code)",
      run = bind,
    },
    {
      name = "unbind",
      summary = "unbind devices (bulk)",
      usage = "Usage: koodrive devices unbind [ID...] [--file PATH] [--concurrency N] [FLAGS]",
      description = 'Unbinds each device and prints one line per id: "ok" or "failed: reason". With --json:\n' ..
        '{"ok": N, "failed": N, "results": [{"id", "ok", "device" | "error"}]}.',
      epilog = bulk.HELP,
      declare = function(cmd)
        cmd:argument("ids", "device ids"):args("*"):argname("ID")
        bulk.flags(cmd)
        koodrive_flags(cmd)
      end,
      run = unbind,
    },
  },
}
