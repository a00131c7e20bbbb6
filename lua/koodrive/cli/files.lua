--- `koodrive files ls|mkdir|mv|cp|rm|restore|info|search` (and put|get, cli/transfer.lua): files
-- by path or by id.
--
-- Paths are resolved by koodrive.cli.paths (each folder on the way listed); copy, move,
-- delete and restore are jobs (client.files:copy/move/delete/restore wait for them, koodrive.cli.jobs
-- prints them). A dry run prints the request that would change something and sends none; the
-- read-only lookups it needs (your space, the folders on a path, files:path) are sent.
local json = require "koodrive.json"
local config = require "koodrive.cli.config"
local output = require "koodrive.cli.output"
local exit = require "koodrive.cli.exit"
local paths = require "koodrive.cli.paths"
local jobs = require "koodrive.cli.jobs"
local transfer = require "koodrive.cli.transfer"

local EXIT = exit.EXIT
local must = paths.must

-- fileType codes (koodrive-files-api.md §3).
local FILE_TYPES = { ["10"] = "folder", ["11"] = "smart folder", ["15"] = "image", ["20"] = "video",
  ["26"] = "word", ["27"] = "excel", ["28"] = "powerpoint", ["30"] = "audio", ["35"] = "archive",
  ["40"] = "application", ["45"] = "other" }

local function type_word(e)
  local t = e.fileType
  if t == nil or t == json.null then return nil end
  return FILE_TYPES[tostring(t)] or tostring(t)
end

local FILE_COLUMNS = {
  { "name", "fileName" }, { "type", type_word }, { "size", "size" }, { "id", "id" },
}
local SEARCH_COLUMNS = {
  { "name", "fileName" }, { "type", type_word }, { "size", "size" }, { "id", "id" }, { "path", "namePath" },
}

-- Jobs of koodrive-files-api.md §5.1 (taskType, actionType), for the dry runs' jobs.create.
local JOB_KINDS = {
  cp = { method = "copy", taskType = 1, actionType = 101 },
  mv = { method = "move", taskType = 3, actionType = 301 },
  rm = { method = "delete", taskType = 2, actionType = 201 },
  rm_permanent = { method = "delete", taskType = 2, actionType = 202 },
  restore = { method = "restore", taskType = 4 },
}

local function setup(ctx)
  local client = config.koodrive_client(ctx.config())
  return client, paths.resolver(client, { container_id = ctx.args.container_id })
end

local list_out = output.list_out

local function ls(ctx)
  local a = ctx.args
  local limit = output.limit(ctx)
  local arg = a.path or "/"
  if a.recycled and paths.is_path(arg) and arg:find("[^/]") then
    exit.usage("with --recycled give / (the recycle bin) or the id of a folder in it")
  end
  paths.check_all { arg }
  local client, r = setup(ctx)
  local target = must(r:folder(arg))
  local req = { containerId = must(r:container()), parentFileId = target.id }
  local op = a.recycled and "files.list_recycled" or "files.list"
  if a.dry_run then return output.dry_run(ctx, { ctx.prepare(client, op, req, { page_size = 100 }) }) end
  local items, err
  if a.recycled then
    items, err = output.collect(limit, client.files:list_recycled_each(req, { page_size = 100 }))
  else
    items, err = output.collect(limit, client.files:each(req, { page_size = 100 }))
  end
  if not items then exit.with(err) end
  return list_out(ctx, items, "files", req, FILE_COLUMNS, a.recycled and "the recycle bin is empty" or "empty folder")
end

local function mkdir_request(container, parent, name)
  -- parentFolder left out: the root (koodrive-files-api.md §4.2).
  return { fileName = name, fileType = paths.FOLDER, containerId = container,
    parentFolder = not parent.root and { parent.id } or nil }
end

local function mkdir(ctx)
  local a = ctx.args
  local path = a.path
  if not path then exit.usage("files mkdir needs PATH") end
  if not paths.is_path(path) then exit.usage('files mkdir needs a PATH starting with "/"') end
  local segments = must(paths.split(path))
  if #segments == 0 then exit.usage("files mkdir: / exists already") end
  local client, r = setup(ctx)
  local container = must(r:container())
  -- The deepest folder on the path that exists; with --parents the rest is created.
  local parent, n = { id = "root", root = true, path = "/" }, 0
  while n < #segments do
    local shown = "/" .. table.concat(segments, "/", 1, n + 1)
    local t, err = r:resolve(shown)
    if not t then
      if err.kind ~= "not_found" or (n + 1 < #segments and not a.parents) then paths.fail(err) end
      break
    end
    if n + 1 == #segments and not a.parents then
      exit.fail(EXIT.validation, shown .. " exists already")
    end
    if t.entry and not paths.is_folder(t.entry) then
      exit.fail(EXIT.validation, shown .. " exists and is not a folder")
    end
    parent, n = t, n + 1
  end
  if a.dry_run then
    if n + 1 < #segments then
      ctx.err("koodrive: the folders below " .. "/" .. table.concat(segments, "/", 1, n + 1) ..
        " need its id: only its request is shown\n")
    end
    if n == #segments then return output.dry_run(ctx, {}) end
    local req = mkdir_request(container, parent, segments[n + 1])
    return output.dry_run(ctx, { ctx.prepare(client, "files.mkdir", req) })
  end
  local created = {}
  for k = n + 1, #segments do
    local folder, err = client.files:mkdir(mkdir_request(container, parent, segments[k]))
    if not folder then exit.with(err) end
    folder.fileName = folder.fileName or segments[k]
    folder.fileType = folder.fileType or paths.FOLDER
    created[#created + 1] = folder
    parent = { id = folder.id }
  end
  return list_out(ctx, created, "created", { containerId = container }, FILE_COLUMNS, "nothing created (it exists)")
end

-- mv, cp, rm, restore: resolve, build the job's items, run (or show) the job.
local function job_command(kind)
  return function(ctx)
    local a = ctx.args
    local words = a.paths or {}
    local copying = kind == "mv" or kind == "cp"
    if #words < (copying and 2 or 1) then
      exit.usage("files " .. kind .. " needs " .. (copying and "SRC... DEST_FOLDER" or "PATH_OR_ID..."))
    end
    local deadline
    if a.wait_timeout then
      deadline = tonumber(a.wait_timeout)
      if not deadline or deadline <= 0 then exit.usage("--wait-timeout must be a positive number of seconds") end
    end
    paths.check_all(words)
    local client, r = setup(ctx)
    local container = must(r:container())
    local opts = { srcContainerId = container, dstContainerId = container, deadline = deadline }
    if a.no_wait then opts.wait = false end
    local sources = words
    if copying then
      sources = {}
      for i = 1, #words - 1 do sources[i] = words[i] end
      local dest = must(r:folder(words[#words]))
      opts.newFilePath = must(r:job_item(dest)).filePath
    end
    local items, shown = {}, {}
    for i, w in ipairs(sources) do
      local target, terr
      if kind == "restore" then target, terr = r:recycled(w) else target, terr = r:resolve(w) end
      must(target, terr)
      if kind ~= "restore" and target.root then
        exit.fail(EXIT.validation, "files " .. kind .. ": not the root folder")
      end
      items[i] = must(r:job_item(target))
      shown[i] = { arg = w, fileId = items[i].fileId }
    end
    local job_kind = JOB_KINDS[(kind == "rm" and a.permanent) and "rm_permanent" or kind]
    if kind == "rm" then
      opts = { srcContainerId = container, permanent = a.permanent and true or false, deadline = opts.deadline,
        wait = opts.wait }
    end
    if a.dry_run then
      local req = { taskType = job_kind.taskType, actionType = job_kind.actionType, dstContainerId = container,
        taskInfo = { fileInfo = items, srcContainerId = container, newFilePath = opts.newFilePath } }
      return output.dry_run(ctx, { ctx.prepare(client, "jobs.create", req) })
    end
    local job, err = client.files[job_kind.method](client.files, items, opts)
    if not job then exit.with(err) end
    if opts.wait == false then return jobs.started(ctx, job) end
    return jobs.report(ctx, job, { files = json.array(shown) })
  end
end

local function info(ctx)
  local arg = ctx.args.path
  if not arg then exit.usage("files info needs PATH_OR_ID") end
  paths.check_all { arg }
  local client, r = setup(ctx)
  local container = must(r:container())
  local id = must(r:concrete_id(must(r:resolve(arg))))
  if ctx.args.dry_run then
    return output.dry_run(ctx, { ctx.prepare(client, "files.get", id, { containerId = container }),
      ctx.prepare(client, "files.path", id, container) })
  end
  local detail, err = client.files:get(id, { containerId = container })
  if not detail then exit.with(err) end
  local p
  p, err = client.files:path(id, container)
  if not p then exit.with(err) end
  if ctx.args.json then
    ctx.out(output.encode({ file = detail, path = p }) .. "\n")
  else
    local shown = {}
    for k, v in pairs(detail) do shown[k] = v end
    shown.namePath, shown.fileIdPath = p.namePath, p.fileIdPath
    ctx.out(output.flat_text(shown))
  end
  return EXIT.ok
end

local function search(ctx)
  local a = ctx.args
  if not a.keyword then exit.usage("files search needs KEYWORD") end
  local limit = output.limit(ctx)
  local client = config.koodrive_client(ctx.config())
  local req = { searchType = a.team and "team" or "personal", filter = { keyWord = a.keyword } }
  if a.dry_run then return output.dry_run(ctx, { ctx.prepare(client, "files.search", req, { page_size = 100 }) }) end
  local items, err = output.collect(limit, client.files:search_each(req, { page_size = 100 }))
  if not items then exit.with(err) end
  return list_out(ctx, items, "files", { keyWord = a.keyword }, SEARCH_COLUMNS, "nothing found")
end

local function flags(cmd, space)
  if space ~= false then
    cmd:option("--container-id", "your individual space to use (default: the one spaces:mine finds)")
      :argname("ID"):overwrite(false)
  end
  config.koodrive_flags(cmd)
  output.flags(cmd)
end

local function job_flags(cmd)
  cmd:flag("--no-wait", "start the job and print its id; do not wait for it"):overwrite(false)
  cmd:option("--wait-timeout", "give up waiting after SECONDS (default 600; the job goes on)"):argname("SECONDS")
    :overwrite(false)
  flags(cmd)
end

local PATH_HELP = 'A PATH starts with "/", the root of your space: each folder on it is listed to find the\n' ..
  "next name, and a name two entries share is refused with both ids. Any other argument is a\n" ..
  "file id. --dry-run still sends these read-only lookups (your space, the folders on a path,\n" ..
  "files:path); the request that would change something is printed, not sent."
local JOB_HELP = "The command waits for the job and prints its status and tasks; exit 1 when it partly\n" ..
  "failed, 5 when it failed or was cancelled. With --json: the job ({jobId, jobInfo, taskInfos}) and\n" ..
  '"files": [{"arg", "fileId"}]. Each item\'s filePath is the service\'s fileIdPath (files:path).'

local function job_spec(name, summary, usage, description, declare)
  return { name = name, summary = summary, usage = usage, description = description .. "\n" .. JOB_HELP,
    epilog = PATH_HELP, declare = function(cmd) declare(cmd); job_flags(cmd) end, run = job_command(name) }
end

local function sources_dest(cmd)
  cmd:argument("paths", "the files or folders, then the destination folder"):args("*"):argname("SRC")
end

return {
  name = "files",
  summary = "list, create, move, copy, delete, restore, inspect and search files",
  usage = "Usage: koodrive files ls|mkdir|mv|cp|rm|restore|info|search|put|get [ARGS] [FLAGS]",
  epilog = PATH_HELP .. '\nRun "koodrive files SUBCOMMAND --help" for details.',
  commands = {
    {
      name = "ls",
      summary = "list a folder",
      usage = "Usage: koodrive files ls [PATH_OR_ID] [--recycled] [--limit N] [FLAGS]",
      description = "Lists the folder (default /), page after page: name, type, size, id. --recycled lists\n" ..
        'the recycle bin. With --json: {"containerId", "parentFileId", "files": [ ... ]}.',
      epilog = PATH_HELP,
      declare = function(cmd)
        cmd:argument("path", "the folder (default /)"):args("?"):argname("PATH_OR_ID")
        cmd:flag("--recycled", "list the recycle bin (/ or a folder id in it)"):overwrite(false)
        output.limit_flag(cmd)
        flags(cmd)
      end,
      too_many = "files ls takes one PATH_OR_ID",
      run = ls,
    },
    {
      name = "mkdir",
      summary = "create a folder",
      usage = "Usage: koodrive files mkdir PATH [--parents] [FLAGS]",
      description = "Creates the folder and prints it (name, type, size, id). An existing name is refused (4);\n" ..
        'with --parents missing folders on the way are created and existing ones are fine.\n' ..
        'With --json: {"containerId", "created": [ ... ]}.',
      epilog = PATH_HELP,
      declare = function(cmd)
        cmd:argument("path", "the new folder"):args("?"):argname("PATH")
        cmd:flag("-p --parents", "create missing parent folders too"):overwrite(false)
        flags(cmd)
      end,
      too_many = "files mkdir takes one PATH",
      run = mkdir,
    },
    job_spec("mv", "move files and folders into a folder", "Usage: koodrive files mv SRC... DEST_FOLDER [FLAGS]",
      "Moves the files and folders into DEST_FOLDER (a move job).", sources_dest),
    job_spec("cp", "copy files and folders into a folder", "Usage: koodrive files cp SRC... DEST_FOLDER [FLAGS]",
      "Copies the files and folders into DEST_FOLDER (a copy job).", sources_dest),
    job_spec("rm", "delete files and folders", "Usage: koodrive files rm PATH_OR_ID... [--permanent] [FLAGS]",
      "Moves the files and folders to the recycle bin, or with --permanent deletes them for good.",
      function(cmd)
        cmd:argument("paths", "the files or folders"):args("*"):argname("PATH_OR_ID")
        cmd:flag("--permanent", "delete for good instead of moving to the recycle bin"):overwrite(false)
      end),
    job_spec("restore", "restore files from the recycle bin",
      "Usage: koodrive files restore PATH_OR_ID... [FLAGS]",
      "Restores files and folders from the recycle bin. A PATH is where the entry was: its name is\n" ..
      "looked up in the recycle bin among the entries deleted from its parent folder.",
      function(cmd) cmd:argument("paths", "the deleted files or folders"):args("*"):argname("PATH_OR_ID") end),
    {
      name = "info",
      summary = "show a file's detail and path",
      usage = "Usage: koodrive files info PATH_OR_ID [FLAGS]",
      description = 'Prints the file\'s detail as "key  value" lines with its namePath and fileIdPath.\n' ..
        'With --json: {"file": <detail>, "path": {"fileIdPath", "namePath"}}.',
      epilog = PATH_HELP,
      declare = function(cmd)
        cmd:argument("path", "the file or folder"):args("?"):argname("PATH_OR_ID")
        flags(cmd)
      end,
      too_many = "files info takes one PATH_OR_ID",
      run = info,
    },
    {
      name = "search",
      summary = "search files by name",
      usage = "Usage: koodrive files search KEYWORD [--team] [--limit N] [FLAGS]",
      description = "Searches your files (--team: your teams' spaces) by name: name, type, size, id, path.\n" ..
        'With --json: {"keyWord", "files": [ ... ]}.',
      declare = function(cmd)
        cmd:argument("keyword", "part of the name"):args("?"):argname("KEYWORD")
        cmd:flag("--team", "search team spaces instead of your own"):overwrite(false)
        output.limit_flag(cmd)
        flags(cmd, false)
      end,
      too_many = "files search takes one KEYWORD (quote it)",
      run = search,
    },
    transfer[1], transfer[2],
  },
}
