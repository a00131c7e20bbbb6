-- jobs:wait and the file operations that exist only as jobs (koodrive.composite), over a
-- scripted transport: the polls, their intervals (1 s doubling to 10 s), the deadline, the
-- job bodies sent, and waits that sleep through the scheduler inside a loop.
local cjson = require "cjson"
local koodrive = require "koodrive"

local JOB = "1309243162258308352"
local SPACE = "IAADfsBFCO6WtAtuAb7e92cde625843cfb7f4ceba802e0b"

local function job_body(status, extra)
  local data = { jobInfo = { taskId = JOB, status = status, taskType = 1, actionType = 101 },
    taskInfos = extra }
  return { code = 0, msg = "success", data = data }
end

-- A transport answering `bodies` in order, keeping the requests; sleeps are recorded.
local function scripted(bodies)
  local t = { requests = {}, slept = {} }
  function t.send(_, req)
    t.requests[#t.requests + 1] = req
    local b = table.remove(bodies, 1)
    if b == nil then return nil, { kind = "transport", reason = "connect", message = "script ended" } end
    if b.status and b.body then return { status = b.status, body = b.body, headers = {} } end
    return { status = 200, body = cjson.encode(b), headers = {} }
  end
  return t
end

local function client(bodies, with_sleep)
  local t = scripted(bodies)
  local c = assert(koodrive.new { endpoint = "http://127.0.0.1:9", user_id = "1505084218764547200",
    token = "spec-token-value", transport = t, retries = false,
    sleep = with_sleep ~= false and function(s) t.slept[#t.slept + 1] = s end or nil })
  return c, t
end

local ITEMS = { { fileId = "f1", filePath = "/rootX/f1" } }

describe("jobs:wait", function()
  it("polls until done, 1 s doubling, and returns the job with its per-item results", function()
    local c, t = client { job_body(0), job_body(1), job_body(1), job_body(2, { { fileId = "f1", code = "0" } }) }
    local job, err = c.jobs:wait(JOB)
    assert.is_nil(err)
    assert.are.equal("done", job.state)
    assert.are.equal(JOB, job.jobId)
    assert.are.equal(2, job.jobInfo.status)
    assert.are.equal("f1", job.taskInfos[1].fileId)
    assert.are.same({ 1, 2, 4 }, t.slept)
    assert.are.equal(4, #t.requests)
    assert.matches("/koodrive/ose/v1/" .. JOB .. "$", t.requests[1].url)
  end)

  it("caps the interval at 10 s and stops at the deadline with a timeout carrying the job id", function()
    local bodies = {}
    for i = 1, 20 do bodies[i] = job_body(1) end
    local c, t = client(bodies)
    local job, err = c.jobs:wait(JOB, { deadline = 30 })
    assert.is_nil(job)
    assert.are.equal("timeout", err.kind)
    assert.are.equal("job_deadline", err.reason)
    assert.are.equal(JOB, err.job_id)
    assert.are.same({ 1, 2, 4, 8, 10, 5 }, t.slept)
  end)

  it("returns a cancelled job as finished, not as an error", function()
    local c = client { job_body(3) }
    local job = assert(c.jobs:wait(JOB))
    assert.are.equal("cancelled", job.state)
  end)

  it("gives a failed poll's error the job id", function()
    local c = client { job_body(0), { status = 500, body = '{"code":13000201,"msg":"inner"}' } }
    local job, err = c.jobs:wait(JOB)
    assert.is_nil(job)
    assert.are.equal(JOB, err.job_id)
    assert.are.equal(13000201, err.code)
  end)

  it("refuses a bad job id, deadline or option before polling", function()
    local c, t = client {}
    local _, err = c.jobs:wait("../x")
    assert.are.equal("validation", err.kind)
    _, err = c.jobs:wait(JOB, { deadline = -1 })
    assert.are.equal("deadline", err.field)
    _, err = c.jobs:wait(JOB, { dealine = 5 })
    assert.are.equal("validation", err.kind)
    assert.are.equal(0, #t.requests)
  end)

  it("sleeps through the loop inside a loop task: other tasks run meanwhile", function()
    local c = client({ job_body(0), job_body(2) }, false)
    local loop = koodrive.loop()
    local order = {}
    loop:spawn(function()
      local job = assert(c.jobs:wait(JOB, { interval = 0.2 }))
      order[#order + 1] = "job " .. job.state
    end)
    loop:spawn(function() order[#order + 1] = "other" end)
    while loop:poll(0.05) > 0 do end
    loop:close()
    assert.are.same({ "other", "job done" }, order)
  end)
end)

describe("file operations as jobs", function()
  local function sent_job(t)
    return cjson.decode(t.requests[1].body)
  end

  it("copy creates a taskType 1 / 101 job across spaces and waits for it", function()
    local c, t = client { { code = 0, msg = "success", data = JOB }, job_body(2) }
    local job = assert(c.files:copy(ITEMS, { srcContainerId = SPACE, dstContainerId = "IAADother" }))
    assert.are.equal("done", job.state)
    local body = sent_job(t)
    assert.are.equal(1, body.taskType)
    assert.are.equal(101, body.actionType)
    assert.are.equal("IAADother", body.dstContainerId)
    assert.are.equal(SPACE, body.taskInfo.srcContainerId)
    assert.are.equal("f1", body.taskInfo.fileInfo[1].fileId)
  end)

  it("delete sends the source space as the target, 201 or 202 when permanent", function()
    local c, t = client { { code = 0, data = JOB } }
    local created = assert(c.files:delete(ITEMS, { srcContainerId = SPACE, wait = false }))
    assert.are.same({ jobId = JOB }, created)
    local body = sent_job(t)
    assert.are.equal(2, body.taskType)
    assert.are.equal(201, body.actionType)
    assert.are.equal(SPACE, body.dstContainerId)
    c, t = client { { code = 0, data = JOB } }
    assert(c.files:delete(ITEMS, { srcContainerId = SPACE, permanent = true, wait = false }))
    assert.are.equal(202, sent_job(t).actionType)
  end)

  it("move and restore use taskTypes 3 and 4", function()
    local c, t = client { { code = 0, data = JOB } }
    assert(c.files:move(ITEMS, { srcContainerId = SPACE, dstContainerId = SPACE, wait = false }))
    assert.are.equal(3, sent_job(t).taskType)
    assert.are.equal(301, sent_job(t).actionType)
    c, t = client { { code = 0, data = JOB } }
    assert(c.files:restore(ITEMS, { srcContainerId = SPACE, wait = false }))
    assert.are.equal(4, sent_job(t).taskType)
  end)

  it("never resends a job after a reset mid-call: the error says it may have been created", function()
    local t = { requests = {} }
    function t.send(_, req)
      t.requests[#t.requests + 1] = req
      return nil, { kind = "transport", reason = "reset", message = "connection reset by peer" }
    end
    local c = assert(koodrive.new { endpoint = "http://127.0.0.1:9", user_id = "1505084218764547200",
      token = "spec-token-value", transport = t, sleep = function() end })   -- retries on
    local job, err = c.files:copy(ITEMS, { srcContainerId = SPACE, dstContainerId = "IAADother" })
    assert.is_nil(job)
    assert.are.equal(1, #t.requests)
    assert.are.equal("files.copy", err.operation)
    assert.is_true(err.uncertain)
  end)

  it("refuses misplaced options before sending", function()
    local c, t = client {}
    local _, err = c.files:copy(ITEMS, { srcContainerId = SPACE, permanent = true })
    assert.are.equal("permanent", err.field)
    _, err = c.files:delete(ITEMS, { srcContainerId = SPACE, dstContainerId = "IAADother" })
    assert.are.equal("dstContainerId", err.field)
    _, err = c.files:delete(ITEMS, { srcContainerId = SPACE, wait = "no" })
    assert.are.equal("wait", err.field)
    _, err = c.files:move(ITEMS, { srcContainerId = SPACE, bogus = 1 })
    assert.are.equal("validation", err.kind)
    assert.are.equal(0, #t.requests)
  end)

  it("clear_recycled follows the newest taskType 7 job", function()
    local c, t = client {
      { code = 0, msg = "success" },
      { code = 0, data = {
        { taskId = "111", status = 2, taskType = 7, createTime = "1700000000000" },
        { taskId = JOB, status = 1, taskType = 7, createTime = "1700000009000" },
      } },
      job_body(2),
    }
    local job = assert(c.files:clear_recycled(SPACE))
    assert.are.equal(JOB, job.jobId)
    assert.matches("/files/recycle$", t.requests[1].url)
    assert.matches("type=7", t.requests[2].url)
  end)
end)

describe("spaces:mine", function()
  it("is the individual space of GET v2 space/{userId}?type=1", function()
    local c, t = client { { code = 0, msg = "success", data = {
      { type = "1", containerId = SPACE, rootFileId = "r1", bizRootFileId = "b1", ownerId = "1505084218764547200" } } } }
    local space = assert(c.spaces:mine())
    assert.are.equal(SPACE, space.containerId)
    assert.are.equal("b1", space.bizRootFileId)
    assert.matches("/koodrive/ose/v2/space/1505084218764547200%?type=1$", t.requests[1].url)
  end)

  it("is a decode error when no individual space is listed", function()
    local c = client { { code = 0, msg = "success", data = { { type = "2", containerId = "G" } } } }
    local space, err = c.spaces:mine()
    assert.is_nil(space)
    assert.are.equal("decode", err.kind)
  end)
end)
