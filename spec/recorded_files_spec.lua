-- The contract's recorded examples of the spaces, files, jobs and favorites calls, replayed
-- through their operations (copies in spec/fixtures/recorded/).
local fixtures = require "support.fixtures"

local CONTAINER = "IAADfsBFCO6WtAtuA315074383680425b8aa9a130cba2d4"

describe("recorded files:recycle_clear", function()
  it("sends the space id and names it in the result (no task id comes back)", function()
    local client, t = fixtures.client("files-clear-recycle", "recycle bin clearing started")
    local result, err = client.files:recycle_clear(CONTAINER)
    assert.is_nil(err)
    assert.are.same({ containerId = CONTAINER }, result)
    assert.are.same({}, t:unused())
    assert.are.equal("POST", t.requests[1].method)
    assert.are.equal("application/json", t.requests[1].headers["Content-Type"])
  end)
end)

describe("recorded files:path", function()
  it("returns fileIdPath and namePath with their segments", function()
    local client, t = fixtures.client("files-full-path", "full path")
    local result, err = client.files:path("FqS6hLLy_DkjlWdfOnEdCErhsmokRvdXI", CONTAINER)
    assert.is_nil(err)
    assert.are.equal("/rootIAADfsBFCO6WtAtuA315074383680425b8aa9a130cba2d4/007/001/Batch Task Test",
      result.namePath)
    assert.are.equal(4, #result.fileIds)
    assert.are.equal("FqS6hLLy_DkjlWdfOnEdCErhsmokRvdXI", result.fileIds[4])
    assert.are.same({ "rootIAADfsBFCO6WtAtuA315074383680425b8aa9a130cba2d4", "007", "001", "Batch Task Test" },
      result.names)
    assert.are.equal("", t.requests[1].body or "")
    assert.are.same({}, t:unused())
  end)
end)

describe("recorded files:rename", function()
  it("sends name, containerId and the renameMode given", function()
    local client, t = fixtures.client("files-rename", "renamed")
    local result, err = client.files:rename("FtSCRFXCYtFjo315lPfRHeKRiqrDdmm_Y",
      { name = "下载", containerId = CONTAINER, renameMode = 2 })
    assert.is_nil(err)
    assert.are.same({ fileId = "FtSCRFXCYtFjo315lPfRHeKRiqrDdmm_Y", name = "下载", renameMode = 2 }, result)
    assert.are.same({}, t:unused())
  end)

  it("sends renameMode 3 by default and reports the duplicate name as an api error", function()
    local client, t = fixtures.client("files-rename", "duplicate name refused (illustrative)")
    local result, err = client.files:rename("FtSCRFXCYtFjo315lPfRHeKRiqrDdmm_Y",
      { name = "下载", containerId = CONTAINER })
    assert.is_nil(result)
    assert.are.equal("api", err.kind)
    assert.are.equal(400, err.status)
    assert.are.equal(13000405, err.code)
    assert.are.equal("Duplicate file name.", err.msg)
    assert.are.equal("files.rename", err.operation)
    assert.matches('"renameMode":3', t.requests[1].body, 1, true)
  end)
end)

describe("recorded files:stats", function()
  it("sends GET with the query and returns the counts as numbers", function()
    local client, t = fixtures.client("files-stats-dir", "folder statistics")
    local result, err = client.files:stats("FnNGsBnXUdIW7AycSK4ZCTIlPJ6JO1_sF",
      "IAAGvmhWei6Q7A4-A1557836058161393920", { recursive = true })
    assert.is_nil(err)
    assert.are.same({ totalSize = 0, subDirCount = 1, subFileCount = 0 }, result)
    assert.are.equal("GET", t.requests[1].method)
    assert.are.same({}, t:unused())
  end)
end)

describe("recorded jobs:cancel", function()
  it("posts the job id and returns it", function()
    local client, t = fixtures.client("jobs-cancel", "job cancelled")
    local result, err = client.jobs:cancel("1289250105886769024")
    assert.is_nil(err)
    assert.are.same({ jobId = "1289250105886769024" }, result)
    assert.are.equal('{"jobId":"1289250105886769024"}', t.requests[1].body)
  end)
end)

describe("recorded favorites:set", function()
  it("reads the answer without envelope and reports the file as done", function()
    local client, t = fixtures.client("star-batch", "added to favorites")
    local result, err = client.favorites:set({ { containerId = CONTAINER,
      fileId = "Fn1bTLIOomJkTCAe9DEVBRY4U6IkuqkMZ" } }, true)
    assert.is_nil(err)
    assert.are.same({ status = 0, done = { "Fn1bTLIOomJkTCAe9DEVBRY4U6IkuqkMZ" }, failed = {} }, result)
    assert.are.same({}, t:unused())
  end)
end)

describe("recorded examples in app mode", function()
  it("replay with an app signature as well", function()
    local client = fixtures.client("jobs-cancel", "job cancelled",
      { token = false, app_id = "spec-app-id", app_secret = "spec-app-secret-value" })
    local result, err = client.jobs:cancel("1289250105886769024")
    assert.is_nil(err)
    assert.are.equal("1289250105886769024", result.jobId)
  end)
end)
