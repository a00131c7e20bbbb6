--- `koodrive groups ls|create|members|add-members|delete-members`.
local config = require "koodrive.cli.config"
local output = require "koodrive.cli.output"
local bulk = require "koodrive.cli.bulk"
local exit = require "koodrive.cli.exit"

local EXIT = exit.EXIT

-- The service takes up to 100 user ids in one delete call; batchAdd's pages name no limit,
-- so adding goes in calls of the same size.
local GROUP_CHUNK = 100
local ADD_CHUNK = GROUP_CHUNK

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

local GROUP_COLUMNS = { { "id", "id" }, { "groupName", "groupName" }, { "ownerId", "ownerId" },
  { "createdTime", "createdTime" } }
local MEMBER_COLUMNS = { { "userId", "userId" }, { "userName", "userName" }, { "deptName", "deptName" },
  { "mobile", "mobile" }, { "createdTime", "createdTime" } }

-- --source-type: 0 group (default), 1 user group (koodrive-sharing-groups-api.md §2.2).
local function source_type(ctx)
  local v = ctx.args.source_type
  if v == nil then return 0 end
  if v ~= "0" and v ~= "1" then exit.usage("--source-type must be 0 (group) or 1 (user group)") end
  return tonumber(v)
end

local list_out = output.list_out

local function list(ctx)
  local limit = output.limit(ctx)
  local query = { sourceType = source_type(ctx) }
  local client = config.koodrive_client(ctx.config())
  if ctx.args.dry_run then return output.dry_run(ctx, { ctx.prepare(client, "usergroups.list", query) }) end
  local items, err = output.collect(limit, client.usergroups:each(query))
  if not items then exit.with(err) end
  return list_out(ctx, items, "userGroupList", nil, GROUP_COLUMNS, "no groups")
end

local function create(ctx)
  local name = ctx.args.name
  if not name then exit.usage("groups create needs NAME") end
  local req = { groupName = name, sourceType = source_type(ctx) }
  local client = config.koodrive_client(ctx.config())
  if ctx.args.dry_run then return output.dry_run(ctx, { ctx.prepare(client, "usergroups.create", req) }) end
  local r, err = client.usergroups:create(req)
  if not r then exit.with(err) end
  if ctx.args.json then
    ctx.out(output.encode(r) .. "\n")
  else
    ctx.out(output.columns_text({ { id = r.id, groupName = r.groupName or name } },
      { { "id", "id" }, { "groupName", "groupName" } }))
  end
  return EXIT.ok
end

local function members(ctx)
  local group_id = ctx.args.group_id
  if not group_id then exit.usage("groups members needs GROUP_ID") end
  local limit = output.limit(ctx)
  local client = config.koodrive_client(ctx.config())
  if ctx.args.dry_run then return output.dry_run(ctx, { ctx.prepare(client, "usergroups.members", group_id) }) end
  local items, err = output.collect(limit, client.usergroups:members_each(group_id))
  if not items then exit.with(err) end
  return list_out(ctx, items, "userGroupMemberInfos", { groupId = group_id }, MEMBER_COLUMNS, "no members")
end

-- An entry of a failed list: a user id, or a table with userId.
local function user_of(e)
  if type(e) == "table" then return e.userId end
  return e
end

local function add_members(ctx)
  local group_id = ctx.args.group_id
  if not group_id then exit.usage("groups add-members needs GROUP_ID") end
  local ids = bulk.ids(ctx, ctx.args.user_ids, "user ids")
  local client = config.koodrive_client(ctx.config())
  local chunks = bulk.chunks(ids, ADD_CHUNK)
  if ctx.args.dry_run then
    local requests = {}
    for i, chunk in ipairs(chunks) do requests[i] = ctx.prepare(client, "usergroups.add_members", group_id, chunk) end
    return output.dry_run(ctx, requests)
  end
  local outcome = {}
  for _, chunk in ipairs(chunks) do
    local r, err = client.usergroups:add_members(group_id, chunk)
    if not r then
      -- This call failed as a whole: each of its ids failed with it; the others stand.
      for _, id in ipairs(chunk) do
        outcome[id] = { ok = false, reason = tostring(err), error = output.plain_error(err), exit = exit.of(err) }
      end
    else
      local failed, uncertain = {}, {}
      for _, f in ipairs(r.failedList or {}) do failed[tostring(user_of(f))] = true end
      for _, u in ipairs(r.uncertain or {}) do uncertain[tostring(user_of(u))] = true end
      for _, id in ipairs(chunk) do
        if failed[id] then
          outcome[id] = { ok = false, reason = "refused by the service", extra = { refused = true },
            exit = EXIT.service }
        elseif uncertain[id] then
          -- Refused after an attempt that may have added it: perhaps our own earlier success.
          outcome[id] = { ok = false, reason = "uncertain, may have been done", extra = { uncertain = true },
            exit = EXIT.service }
        else
          outcome[id] = { ok = true }
        end
      end
    end
  end
  local results = {}
  for i, id in ipairs(ids) do
    local o = outcome[id]
    o.id = id
    results[i] = o
  end
  return output.bulk(ctx, results, { groupId = group_id })
end

local function flags(cmd)
  config.koodrive_flags(cmd)
  output.flags(cmd)
end

local function source_flag(cmd)
  cmd:option("--source-type", "0 group (default), 1 user group"):argname("N"):overwrite(false)
end

return {
  name = "groups",
  summary = "list and create user groups, list, add and delete members",
  -- delete-members first: the usage line existing scripts and specs look for.
  usage = "Usage: koodrive groups delete-members|add-members|members|create|ls [ARGS] [FLAGS]",
  epilog = 'Run "koodrive groups SUBCOMMAND --help" for details.',
  commands = {
    {
      name = "ls",
      summary = "list the groups you belong to",
      usage = "Usage: koodrive groups ls [--source-type N] [--limit N] [FLAGS]",
      description = "Lists the groups, page after page: id, groupName, ownerId, createdTime.\n" ..
        'With --json: {"userGroupList": [ ... ]}.',
      declare = function(cmd)
        source_flag(cmd)
        output.limit_flag(cmd)
        flags(cmd)
      end,
      too_many = "groups ls takes no arguments",
      run = list,
    },
    {
      name = "create",
      summary = "create a user group",
      usage = "Usage: koodrive groups create NAME [--source-type N] [FLAGS]",
      description = "Creates the group and prints its id. With --json: the result as the service gives it.",
      declare = function(cmd)
        cmd:argument("name", "the group's name (1-30 characters)"):args("?"):argname("NAME")
        source_flag(cmd)
        flags(cmd)
      end,
      too_many = "groups create takes one NAME (quote it)",
      run = create,
    },
    {
      name = "members",
      summary = "list a group's members",
      usage = "Usage: koodrive groups members GROUP_ID [--limit N] [FLAGS]",
      description = "Lists the members, page after page: userId, userName, deptName, mobile, createdTime.\n" ..
        'With --json: {"groupId", "userGroupMemberInfos": [ ... ]}.',
      declare = function(cmd)
        cmd:argument("group_id", "the user group"):args("?"):argname("GROUP_ID")
        output.limit_flag(cmd)
        flags(cmd)
      end,
      too_many = "groups members takes one GROUP_ID",
      run = members,
    },
    {
      name = "add-members",
      summary = "add members to a user group (bulk)",
      usage = "Usage: koodrive groups add-members GROUP_ID [USER_ID...] [--file PATH] [FLAGS]",
      description = "Adds the users to the group, in calls of up to " .. 50 .. " ids, and prints one line per id:\n" ..
        '"ok" or "failed: reason". With --json: {"groupId", "ok": N, "failed": N, "results": [ ... ]}.',
      epilog = bulk.HELP,
      declare = function(cmd)
        cmd:argument("group_id", "the user group"):args("?"):argname("GROUP_ID")
        cmd:argument("user_ids", "the users to add"):args("*"):argname("USER_ID")
        cmd:option("--file", 'read ids from PATH ("-": standard input)'):argname("PATH"):overwrite(false)
        flags(cmd)
      end,
      run = add_members,
    },
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
