--- `koodrive files put|get`: uploads and downloads (client.files:upload / files:download).
-- Several files run as one bounded batch (files:upload_many / download_many, --files at
-- once), each reported; rerunning the same command resumes (the upload journal beside the
-- source, the download's part file beside the destination). On a terminal a bar shows
-- bytes, rate and time left on standard error.
local config = require "koodrive.cli.config"
local output = require "koodrive.cli.output"
local exit = require "koodrive.cli.exit"
local paths = require "koodrive.cli.paths"
local core = require "koodrive.core"

local EXIT = exit.EXIT
local must = paths.must

local function human(n)
  local units, i = { "B", "KiB", "MiB", "GiB", "TiB" }, 1
  while n >= 1024 and i < #units do n, i = n / 1024, i + 1 end
  return (i == 1 and string.format("%d %s", n, units[i])) or string.format("%.1f %s", n, units[i])
end

-- A progress(done, total) drawing "name  12.0 MiB / 40.0 MiB  8.1 MiB/s  ETA 4s" when standard
-- error is a terminal (nil otherwise), and the function that ends the line.
local function bar(ctx, name)
  if ctx.args.json or not output.is_tty(ctx, 2) then return nil, function() end end
  local started, last = core.monotonic(), -1
  return function(done, total)
    local now = core.monotonic()
    if now - last < 0.1 and done < total then return end
    last = now
    local rate = done / math.max(now - started, 1e-3)
    local eta = rate > 0 and (total - done) / rate or 0
    ctx.err(string.format("\r%s  %s / %s  %s/s  ETA %ds   ", name, human(done), human(total), human(rate),
      math.floor(eta + 0.5)))
  end, function() ctx.err("\n") end
end

local function concurrency(ctx)
  local c = ctx.args.concurrency
  if c == nil then return 4 end
  c = tonumber(c)
  if not c or c % 1 ~= 0 or c < 1 or c > 64 then exit.usage("--concurrency takes a whole number from 1 to 64") end
  return c
end

local function report(ctx, results)
  local ok = 0
  for _, r in ipairs(results) do
    if r.ok then ok = ok + 1 end
    if not ctx.args.json then
      if r.ok then ctx.out(r.line .. "\n") else ctx.err(r.arg .. ": " .. tostring(r.error) .. "\n") end
    end
  end
  if ctx.args.json then
    local list = {}
    for i, r in ipairs(results) do
      list[i] = r.ok and r.result or { arg = r.arg, error = output.plain_error(r.error) }
    end
    ctx.out(output.encode(#list == 1 and list[1] or { results = list }) .. "\n")
  end
  if ok == #results then return EXIT.ok end
  if ok > 0 then return EXIT.partial end
  return exit.of(results[1].error)
end

local function files_at_once(ctx)
  local f = ctx.args.files
  if f == nil then return 2 end
  f = tonumber(f)
  if not f or f % 1 ~= 0 or f < 1 or f > 16 then exit.usage("--files takes a whole number from 1 to 16") end
  return f
end

-- The results of a batch (upload_many / download_many) in the order of `args`, for report.
local function batch_results(args, r, line)
  local results = {}
  for _, e in ipairs(r.done) do
    results[e.index] = { arg = args[e.index], ok = true, result = e.result, line = line(e.result) }
  end
  for _, list in ipairs { r.failed, r.uncertain } do
    for _, e in ipairs(list) do results[e.index] = { arg = args[e.index], ok = false, error = e.error } end
  end
  return results
end

local function put_line(res)
  return string.format("%s  %s  %s%s", res.fileName, human(res.size), res.fileId,
    res.rapidUpload and "  (already stored)" or (res.resumed_parts > 0 and ("  (resumed, " ..
      res.resumed_parts .. " parts were stored)") or ""))
end

local function put(ctx)
  local args = ctx.args.paths or {}
  if #args == 0 then exit.usage("files put needs LOCAL [REMOTE_FOLDER]") end
  local folder = #args > 1 and table.remove(args) or "/"
  paths.check_all { folder }
  local n, at_once = concurrency(ctx), files_at_once(ctx)
  local client = config.koodrive_client(ctx.config())
  local r = paths.resolver(client, { container_id = ctx.args.container_id })
  local container = must(r:container())
  local parent = must(r:concrete_id(must(r:folder(folder))))
  local progress, done = bar(ctx, #args == 1 and args[1] or (#args .. " files"))
  local opts = { containerId = container, parentFolder = { parent }, concurrency = n, progress = progress }
  if #args == 1 then
    local res, err = client.files:upload(args[1], opts)
    done()
    return report(ctx, { { arg = args[1], ok = res ~= nil, error = err, result = res, line = res and put_line(res) } })
  end
  opts.files = at_once
  local res, err = client.files:upload_many(args, opts)
  done()
  if not res then return report(ctx, { { arg = "files put", ok = false, error = err } }) end
  return report(ctx, batch_results(args, res, put_line))
end

local function get_line(res) return string.format("%s  %s", res.path, human(res.size)) end

local function get(ctx)
  local args = ctx.args.paths or {}
  if #args == 0 then exit.usage("files get needs REMOTE [LOCAL]") end
  local dest = #args > 1 and table.remove(args) or nil
  paths.check_all(args)
  local n, at_once = concurrency(ctx), files_at_once(ctx)
  local client = config.koodrive_client(ctx.config())
  local r = paths.resolver(client, { container_id = ctx.args.container_id })
  local container = must(r:container())
  local dir = dest and core.stat(dest)
  if #args > 1 and not (dir and dir.type == "directory") then
    exit.usage("files get of several files takes a LOCAL folder last")
  end
  local ids = {}
  for i, remote in ipairs(args) do ids[i] = must(r:concrete_id(must(r:resolve(remote)))) end
  local progress, done = bar(ctx, #args == 1 and args[1] or (#args .. " files"))
  -- Without a LOCAL path the file lands here under the name the service gives it (download
  -- checks it is a plain name: a service cannot make it land elsewhere).
  local opts = { containerId = container, concurrency = n, progress = progress, overwrite = ctx.args.overwrite or nil }
  if #args == 1 then
    local res, err = client.files:download(ids[1], dest or "./", opts)
    done()
    return report(ctx, { { arg = args[1], ok = res ~= nil, error = err, result = res, line = res and get_line(res) } })
  end
  opts.files, opts.dir = at_once, dest
  local res, err = client.files:download_many(ids, opts)
  done()
  if not res then return report(ctx, { { arg = "files get", ok = false, error = err } }) end
  return report(ctx, batch_results(args, res, get_line))
end

local function flags(cmd)
  cmd:option("--concurrency", "parts or ranges in flight per file (default 4)"):argname("N"):overwrite(false)
  cmd:option("--files", "files transferred at once when there are several (default 2)"):argname("N"):overwrite(false)
  cmd:option("--container-id", "your individual space to use (default: the one spaces:mine finds)")
    :argname("ID"):overwrite(false)
  config.koodrive_flags(cmd)
  output.flags(cmd)
end

return {
  {
    name = "put",
    summary = "upload files",
    usage = "Usage: koodrive files put LOCAL... [REMOTE_FOLDER] [--concurrency N] [FLAGS]",
    description = "Uploads each LOCAL file into REMOTE_FOLDER (default /): one hashing pass, parts in\n" ..
      "parallel. Run the same command again to resume an interrupted upload. With --json: the\n" ..
      "result (several files: {\"results\": [ ... ]}).",
    declare = function(cmd)
      cmd:argument("paths", "the local files, then the remote folder"):args("*"):argname("LOCAL")
      flags(cmd)
    end,
    run = put,
  },
  {
    name = "get",
    summary = "download files",
    usage = "Usage: koodrive files get REMOTE... [LOCAL] [--overwrite] [--concurrency N] [FLAGS]",
    description = "Downloads each REMOTE file (path or id) to LOCAL (default: its name here; several\n" ..
      "files: into the LOCAL folder). Run the same command again to resume. An existing file is\n" ..
      "refused unless --overwrite.",
    declare = function(cmd)
      cmd:argument("paths", "the remote files, then the local path or folder"):args("*"):argname("REMOTE")
      cmd:flag("--overwrite", "replace an existing local file"):overwrite(false)
      flags(cmd)
    end,
    run = get,
  },
}
