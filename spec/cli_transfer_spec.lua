-- `koodrive files put|get` (lua/koodrive/cli/transfer.lua) against a scripted client: what each
-- command asks client.files:upload / files:download for, its output, JSON and exit codes. The
-- transfers themselves are specified in transfer_flow_spec.
local cli = require "koodrive.cli"
local config = require "koodrive.cli.config"
local json = require "koodrive.json"
local errors = require "koodrive.errors"

local ENV = { KOODRIVE_ENDPOINT = "http://127.0.0.1:9", KOODRIVE_USER_ID = "1",
  KOODRIVE_TOKEN = "transfer-cli-token", HOME = "/nonexistent" }

local function scripted()
  local c = { calls = {} }
  local function iterate(list) local i = 0; return function() i = i + 1; return list[i] end end
  local tree = { root = { { id = "docs", fileName = "Docs", fileType = "10" } },
    docs = { { id = "f1", fileName = "report.pdf", fileType = "45", size = 3 } } }
  c.spaces = { mine = function() return { containerId = "C1", bizRootFileId = "biz-root" } end }
  c.files = {
    each = function(_, req) return iterate(tree[req.parentFileId] or {}) end,
    upload = function(_, src, opts)
      c.calls[#c.calls + 1] = { "upload", src, opts }
      if src:find("bad") then return nil, errors.new { kind = "io", field = "source", message = "cannot read " .. src } end
      if opts.progress then opts.progress(5, 10); opts.progress(10, 10) end
      return { fileId = "F-" .. src:match("[^/]+$"), fileName = src:match("[^/]+$"), size = 10,
        sha256 = ("a"):rep(64), rapidUpload = false, parts = 1, resumed_parts = 0 }
    end,
    download = function(_, id, dest, opts)
      c.calls[#c.calls + 1] = { "download", id, dest, opts }
      return { fileId = id, path = dest, size = 3 }
    end,
  }
  -- The batch calls as the library answers them (transfer_many_spec specifies them).
  local function many(kind, each)
    return function(self, items, opts)
      c.calls[#c.calls + 1] = { kind, items, opts }
      local out = { done = {}, failed = {}, uncertain = {} }
      for i, item in ipairs(items) do
        local res, err = each(self, item, opts)
        local list = res and out.done or (err.uncertain and out.uncertain or out.failed)
        list[#list + 1] = { index = i, result = res, error = err }
      end
      return out
    end
  end
  c.files.upload_many = many("upload_many", c.files.upload)
  c.files.download_many = many("download_many", function(self, id, opts)
    return c.files.download(self, id, opts.dir .. "/" .. id, opts)
  end)
  return c
end

local fake
local real_client = config.koodrive_client

local function run(argv, env)
  local out, err = {}, {}
  local code = cli.main(argv, { out = function(s) out[#out + 1] = s end, err = function(s) err[#err + 1] = s end,
    getenv = function(name) return (env or {})[name] or ENV[name] end, stdin = io.open("/dev/null") })
  return code, table.concat(out), table.concat(err)
end

describe("koodrive files put|get (scripted client)", function()
  before_each(function()
    fake = scripted()
    config.koodrive_client = function() return fake end
  end)
  after_each(function() config.koodrive_client = real_client end)

  it("put: uploads into the folder given by path, with the concurrency asked for", function()
    local code, out, err = run { "files", "put", "/tmp/x/a.bin", "/Docs", "--concurrency", "2" }
    assert.are.equal(0, code, err)
    local call = fake.calls[1]
    assert.are.same({ "upload", "/tmp/x/a.bin" }, { call[1], call[2] })
    assert.are.same({ "C1", { "docs" }, 2 }, { call[3].containerId, call[3].parentFolder, call[3].concurrency })
    assert.matches("a%.bin  10 B  F%-a%.bin", out)
    assert.is_nil(call[3].progress) -- not a terminal: no bar
  end)

  it("put: several files are one batch, each reported; one failure exits 1 and names the file", function()
    local code, out, err = run { "files", "put", "/tmp/a.bin", "/tmp/bad.bin", "/", "--files", "3" }
    assert.are.equal(1, code, err)
    assert.are.same({ "upload_many", { "/tmp/a.bin", "/tmp/bad.bin" } }, { fake.calls[1][1], fake.calls[1][2] })
    assert.are.same({ "biz-root" }, fake.calls[1][3].parentFolder)
    assert.are.equal(3, fake.calls[1][3].files)
    assert.are.equal(3, #fake.calls) -- the batch, then its two uploads
    assert.matches("a%.bin", out)
    assert.matches("/tmp/bad%.bin: .*cannot read", err)
    code = run { "files", "put", "/tmp/bad.bin" }
    assert.are.equal(6, code) -- io: like a transport failure
  end)

  it("put --json prints the result; a terminal gets a bar with bytes, rate and ETA", function()
    local code, out = run { "files", "put", "/tmp/a.bin", "--json" }
    assert.are.equal(0, code)
    assert.are.equal("F-a.bin", json.decode(out).fileId)
    local _, _, err = run({ "files", "put", "/tmp/a.bin" }, { KOODRIVE_FORCE_TTY = "1" })
    assert.matches("10 B / 10 B", err)
    assert.matches("ETA", err)
  end)

  it("get: a path or an id, to its name or the path given; --overwrite passed on", function()
    local code, out, err = run { "files", "get", "/Docs/report.pdf", "/tmp/r.pdf", "--overwrite" }
    assert.are.equal(0, code, err)
    assert.are.same({ "download", "f1", "/tmp/r.pdf" }, { fake.calls[1][1], fake.calls[1][2], fake.calls[1][3] })
    assert.is_true(fake.calls[1][4].overwrite)
    assert.matches("/tmp/r%.pdf  3 B", out)
    code = run { "files", "get", "f1" }
    assert.are.equal(0, code)
    assert.are.equal("./", fake.calls[2][3]) -- here, under the (checked) name the service gives
    local tmp = os.tmpname()
    os.remove(tmp)
    assert(os.execute("mkdir -p " .. tmp))
    code = run { "files", "get", "/Docs/report.pdf", "f1", tmp, "--files", "1" }
    os.execute("rm -rf " .. tmp)
    assert.are.equal(0, code)
    assert.are.same({ "download_many", { "f1", "f1" }, tmp, 1 },
      { fake.calls[3][1], fake.calls[3][2], fake.calls[3][3].dir, fake.calls[3][3].files })
    code = run { "files", "get", "/Docs/report.pdf", "f1", "/nonexistent-dir-xyz" }
    assert.are.equal(2, code) -- several files need a local folder
  end)

  it("needs something to transfer", function()
    assert.are.equal(2, (run { "files", "put" }))
    assert.are.equal(2, (run { "files", "get" }))
    assert.are.equal(2, (run { "files", "put", "/tmp/a.bin", "--concurrency", "0" }))
    assert.are.equal(2, (run { "files", "put", "/tmp/a.bin", "/tmp/b.bin", "/", "--files", "17" }))
  end)
end)
