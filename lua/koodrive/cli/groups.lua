--- `koodrive groups delete-members`.
local config = require "koodrive.cli.config"
local output = require "koodrive.cli.output"
local bulk = require "koodrive.cli.bulk"
local exit = require "koodrive.cli.exit"

local EXIT = exit.EXIT

-- The service takes up to 100 user ids in one call.
local GROUP_CHUNK = 100

local function delete_members(ctx)
  local group_id = ctx.args.group_id
  if not group_id then exit.usage("groups delete-members needs GROUP_ID") end
  local concurrency = bulk.concurrency(ctx)
  local ids = bulk.ids(ctx, ctx.args.user_ids, "user ids")
  local client = config.koodrive_client(ctx.config())
  local groups = {}
  for i, chunk in ipairs(bulk.chunks(ids, GROUP_CHUNK)) do groups[i] = { group_id, chunk } end
  if ctx.args.dry_run then
    local requests = {}
    for i, g in ipairs(groups) do
      requests[i] = ctx.prepare(client, "usergroups.delete_members", g[1], g[2])
    end
    return output.dry_run(ctx, requests)
  end
  local progress, done = output.progress(ctx, #ids, function(g) return #g[2] end)
  local r, err = client.usergroups:delete_members_many(groups, { concurrency = concurrency, progress = progress })
  done()
  if not r then exit.with(err) end
  local results = {}
  for _, d in ipairs(r.deleted) do results[#results + 1] = { id = d.userId, ok = true } end
  for _, f in ipairs(r.failed) do
    if f.refused then
      results[#results + 1] = { id = f.userId, ok = false, reason = "refused by the service",
        extra = { refused = true }, exit = EXIT.service }
    else
      results[#results + 1] = { id = f.userId, ok = false, reason = tostring(f.error),
        error = output.plain_error(f.error), exit = exit.of(f.error) }
    end
  end
  for _, u in ipairs(r.uncertain or {}) do
    results[#results + 1] = { id = u.userId, ok = false, extra = { uncertain = true },
      reason = "uncertain, may have been done" .. (u.error and (": " .. tostring(u.error)) or ""),
      error = u.error and output.plain_error(u.error), exit = exit.of(u.error) }
  end
  return output.bulk(ctx, results, { groupId = group_id })
end

return {
  name = "groups",
  summary = "delete members from a user group",
  usage = "Usage: koodrive groups delete-members GROUP_ID [USER_ID...] [FLAGS]",
  epilog = 'Run "koodrive groups delete-members --help" for details.',
  commands = {
    {
      name = "delete-members",
      summary = "delete members from a user group (bulk)",
      usage = "Usage: koodrive groups delete-members GROUP_ID [USER_ID...] [--file PATH] [--concurrency N] [FLAGS]",
      description = "Deletes the users from the group, in calls of up to 100 ids, and prints one line per id:\n" ..
        '"ok" or "failed: reason" (an id the service refused, e.g. not a member). With --json:\n' ..
        '{"groupId", "ok": N, "failed": N, "results": [{"id", "ok", "refused" | "error"}]}.',
      epilog = bulk.HELP,
      declare = function(cmd)
        cmd:argument("group_id", "the user group"):args("?"):argname("GROUP_ID")
        cmd:argument("user_ids", "the users to delete from it"):args("*"):argname("USER_ID")
        bulk.flags(cmd)
        config.koodrive_flags(cmd)
        output.flags(cmd)
      end,
      run = delete_members,
    },
  },
}
