--- `koodrive iotda unbind-policy`.
local config = require "koodrive.cli.config"
local output = require "koodrive.cli.output"
local bulk = require "koodrive.cli.bulk"
local exit = require "koodrive.cli.exit"

-- IoTDA takes up to 20 target ids in one unbind call.
local TARGET_CHUNK = 20

local function failure(f, uncertain)
  return { code = f.error_code, message = f.error_msg, kind = f.error and f.error.kind, uncertain = uncertain }
end

local function unbind_policy(ctx)
  local policy_id = ctx.args.policy_id
  if not policy_id then exit.usage("iotda unbind-policy needs POLICY_ID") end
  local target_type = ctx.args.target_type
  if not target_type then exit.usage("iotda unbind-policy needs --target-type device|product|app") end
  local concurrency = bulk.concurrency(ctx)
  local ids = bulk.ids(ctx, ctx.args.target_ids, "target ids")
  local client = config.iotda_client(ctx.config())
  if ctx.args.dry_run then
    local requests = {}
    for i, chunk in ipairs(bulk.chunks(ids, TARGET_CHUNK)) do
      requests[i] = ctx.prepare(client, "device_policies.unbind", policy_id,
        { target_type = target_type, target_ids = chunk })
    end
    return output.dry_run(ctx, requests)
  end
  local progress, done = output.progress(ctx, #ids, function(chunk) return #chunk end)
  local r, err = client.device_policies:unbind_all(policy_id,
    { target_type = target_type, target_ids = ids }, { concurrency = concurrency, progress = progress })
  done()
  if not r then exit.with(err) end
  local outcomes = {}
  for _, id in ipairs(r.success_targets) do outcomes[id] = { ok = true } end
  for _, f in ipairs(r.failure_targets) do
    outcomes[f.target_id] = { ok = false, reason = tostring(f.error_code) .. ": " .. tostring(f.error_msg),
      error = failure(f), exit = exit.of(f.error) }
  end
  for _, f in ipairs(r.uncertain_targets or {}) do
    outcomes[f.target_id] = { ok = false, reason = "uncertain, may have been done: " ..
      tostring(f.error_code) .. ": " .. tostring(f.error_msg), error = failure(f, true), exit = exit.of(f.error) }
  end
  local results = {}
  for i, id in ipairs(ids) do
    local o = outcomes[id] or { ok = false, reason = "not reported", exit = exit.EXIT.service }
    results[i] = { id = id, ok = o.ok, reason = o.reason, error = o.error, exit = o.exit }
  end
  return output.bulk(ctx, results, { policy_id = policy_id, target_type = target_type })
end

return {
  name = "iotda",
  summary = "IoTDA device policies",
  usage = "Usage: koodrive iotda unbind-policy POLICY_ID --target-type device|product|app [ID...] [FLAGS]",
  epilog = 'Run "koodrive iotda unbind-policy --help" for details.',
  commands = {
    {
      name = "unbind-policy",
      summary = "unbind targets from an IoTDA device policy (bulk)",
      usage = "Usage: koodrive iotda unbind-policy POLICY_ID --target-type device|product|app [ID...] [FLAGS]",
      description = "Unbinds the targets from an IoTDA device policy, in calls of 20 ids, and prints one line\n" ..
        'per id: "ok" or "failed: reason". With --json: {"policy_id", "target_type", "ok": N,\n' ..
        '"failed": N, "results": [{"id", "ok", "error": {"code", "message"}}]}.',
      epilog = bulk.HELP,
      declare = function(cmd)
        cmd:argument("policy_id", "the device policy"):args("?"):argname("POLICY_ID")
        cmd:argument("target_ids", "the targets to unbind"):args("*"):argname("ID")
        cmd:option("--target-type", "device, product or app (required)"):argname("TYPE"):overwrite(false)
        bulk.flags(cmd)
        config.iotda_flags(cmd, true)
        output.flags(cmd)
      end,
      run = unbind_policy,
    },
  },
}
