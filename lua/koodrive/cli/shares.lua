--- `koodrive shares ls|create|cancel`.
local json = require "koodrive.json"
local config = require "koodrive.cli.config"
local output = require "koodrive.cli.output"
local bulk = require "koodrive.cli.bulk"
local exit = require "koodrive.cli.exit"
local paths = require "koodrive.cli.paths"

local EXIT = exit.EXIT
local must = paths.must

-- The service cancels up to 100 shares in one call (koodrive-sharing-groups-api.md §1.5).
local CANCEL_CHUNK = 100

local function file_names(s)
  if type(s.files) ~= "table" then return nil end
  local names = {}
  for i, f in ipairs(s.files) do names[i] = type(f) == "table" and tostring(f.fileName or f.id) or tostring(f) end
  return #names > 0 and table.concat(names, ",") or nil
end

local SHARE_COLUMNS = {
  { "shareId", "shareId" }, { "name", function(s) return s.displayName or file_names(s) end },
  { "scope", "scope" }, { "status", "status" }, { "expireTime", "expireTime" }, { "link", "linkUrl" },
}

local function whole(v, name, lo, hi)
  local n = tonumber(v)
  if not n or n % 1 ~= 0 or n < lo or n > hi then
    exit.usage(name .. " must be a whole number from " .. lo .. " to " .. hi)
  end
  return n
end

local function list(ctx)
  local a = ctx.args
  local limit = output.limit(ctx)
  local client = config.koodrive_client(ctx.config())
  local op = a.received and "received" or "list"
  if a.dry_run then return output.dry_run(ctx, { ctx.prepare(client, "shares." .. op, {}) }) end
  local items, err
  if a.received then
    items, err = output.collect(limit, client.shares:received_each({}))
  else
    items, err = output.collect(limit, client.shares:each({}))
  end
  if not items then exit.with(err) end
  if a.json then
    ctx.out(output.encode({ shareLinks = json.array(items) }) .. "\n")
  elseif #items == 0 then
    ctx.out(a.received and "nothing shared with you\n" or "no shares\n")
  else
    ctx.out(output.columns_text(items, SHARE_COLUMNS))
  end
  return EXIT.ok
end

local function create(ctx)
  local a = ctx.args
  if #(a.paths or {}) == 0 then exit.usage("shares create needs PATH_OR_ID...") end
  if not a.days then exit.usage("shares create needs --days N") end
  local req = { validDays = whole(a.days, "--days", 1, 365), scope = whole(a.scope or 2, "--scope", 1, 3) }
  paths.check_all(a.paths)
  local client = config.koodrive_client(ctx.config())
  local r = paths.resolver(client, { container_id = a.container_id })
  req.containerId = must(r:container())
  req.fileIds = {}
  for i, w in ipairs(a.paths) do
    local target = must(r:resolve(w))
    if target.root then exit.fail(EXIT.validation, "shares create: not the root folder") end
    req.fileIds[i] = target.id
  end
  if a.dry_run then return output.dry_run(ctx, { ctx.prepare(client, "shares.create", req) }) end
  local share, err = client.shares:create(req)
  if not share then exit.with(err) end
  if a.json then ctx.out(output.encode(share) .. "\n") else ctx.out(output.flat_text(share)) end
  return EXIT.ok
end

-- An entry of cancel's lists: an id, or a table with shareId.
local function share_id(e)
  if type(e) == "table" then return e.shareId end
  return e
end

-- A refused share's reason: the service's code and message.
local function refusal(f)
  local text = "refused by the service"
  if f.code ~= nil or f.msg ~= nil then text = text .. ": " .. tostring(f.code) .. " " .. tostring(f.msg or "") end
  return (text:gsub("%s+$", ""))
end

local function cancel(ctx)
  local ids = bulk.ids(ctx, ctx.args.share_ids, "share ids")
  local client = config.koodrive_client(ctx.config())
  if ctx.args.dry_run then
    local requests = {}
    for i, chunk in ipairs(bulk.chunks(ids, CANCEL_CHUNK)) do
      requests[i] = ctx.prepare(client, "shares.cancel", chunk)
    end
    return output.dry_run(ctx, requests)
  end
  -- One call per 100 ids; a call that fails as a whole fails its ids, the others stand.
  local outcome = {}
  local function failed(id, o) outcome[tostring(id)] = o end
  for _, chunk in ipairs(bulk.chunks(ids, CANCEL_CHUNK)) do
    local r, err = client.shares:cancel(chunk)
    if not r then
      for _, id in ipairs(chunk) do
        failed(id, { ok = false, reason = tostring(err), error = output.plain_error(err), exit = exit.of(err) })
      end
    else
      for _, c in ipairs(r.cancelled or {}) do outcome[tostring(share_id(c))] = { ok = true } end
      for _, f in ipairs(r.failed or {}) do
        failed(share_id(f), { ok = false, reason = refusal(f), extra = { refused = true },
          error = { code = f.code, message = f.msg }, exit = EXIT.service })
      end
      -- After an attempt that may have been carried out a refusal may be our own earlier success.
      for _, u in ipairs(r.uncertain or {}) do
        failed(share_id(u), { ok = false, reason = "uncertain, may have been done: " .. refusal(u),
          extra = { uncertain = true }, error = { code = u.code, message = u.msg }, exit = EXIT.service })
      end
    end
  end
  local results = {}
  for i, id in ipairs(ids) do
    local o = outcome[id] or { ok = false, reason = "not reported by the service", exit = EXIT.service,
      extra = { uncertain = true } }
    o.id = id
    results[i] = o
  end
  return output.bulk(ctx, results)
end

local function flags(cmd)
  config.koodrive_flags(cmd)
  output.flags(cmd)
end

return {
  name = "shares",
  summary = "list, create and cancel shares",
  usage = "Usage: koodrive shares ls|create|cancel [ARGS] [FLAGS]",
  epilog = 'Run "koodrive shares SUBCOMMAND --help" for details.',
  commands = {
    {
      name = "ls",
      summary = "list your shares (or the ones shared with you)",
      usage = "Usage: koodrive shares ls [--received] [--limit N] [FLAGS]",
      description = "Lists the shares you created (--received: shared with you), page after page: shareId,\n" ..
        'name, scope, status, expireTime, link. With --json: {"shareLinks": [ ... ]}.',
      declare = function(cmd)
        cmd:flag("--received", "the shares others made with you"):overwrite(false)
        output.limit_flag(cmd)
        flags(cmd)
      end,
      too_many = "shares ls takes no arguments",
      run = list,
    },
    {
      name = "create",
      summary = "share files",
      usage = "Usage: koodrive shares create PATH_OR_ID... --days N [--scope N] [FLAGS]",
      description = "Shares the files and folders in one link and prints it (shareId, linkUrl, ...).\n" ..
        "With --json: the result as the service gives it.",
      epilog = 'A PATH starts with "/" (the root of your space); any other argument is a file id.',
      declare = function(cmd)
        cmd:argument("paths", "the files or folders"):args("*"):argname("PATH_OR_ID")
        cmd:option("--days", "required: days the link is valid, 1-365"):argname("N"):overwrite(false)
        cmd:option("--scope", "1 anyone with the link, 2 enterprise users (default), 3 specified users")
          :argname("N"):overwrite(false)
        cmd:option("--container-id", "your individual space to use (default: the one spaces:mine finds)")
          :argname("ID"):overwrite(false)
        flags(cmd)
      end,
      run = create,
    },
    {
      name = "cancel",
      summary = "stop sharing (bulk)",
      usage = "Usage: koodrive shares cancel [SHARE_ID...] [--file PATH] [FLAGS]",
      description = 'Cancels the shares and prints one line per id: "ok" or "failed: reason". With --json:\n' ..
        '{"ok": N, "failed": N, "results": [{"id", "ok", "error"}]}.',
      epilog = bulk.HELP,
      declare = function(cmd)
        cmd:argument("share_ids", "the shares"):args("*"):argname("SHARE_ID")
        cmd:option("--file", 'read ids from PATH ("-": standard input)'):argname("PATH"):overwrite(false)
        flags(cmd)
      end,
      run = cancel,
    },
  },
}
