-- basiq.batch over real HTTP on loopback: concurrency through curl multi,
-- results and errors by index, the retry and token rules of single calls.
local procs = require("support.procs")
local basiq = require("basiq")
local core = require("basiq.core")
local cjson = require("cjson")

describe("basiq.batch", function()
  local srv
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  local get = procs.get_json

  it("returns results and errors by call index", function()
    local c = basiq.new({ server = srv.url, retries = 0 }).auth("tok")
    local results, errs = c.batch({
      { "getUser", { userId = "a" } },
      { "getUser", { userId = "status-404" } },
      { "updateUser", { email = "e@x.y" }, { userId = "c" } },
      { "getUser", { userId = "status-500" } },
      { "deleteUser", { userId = "e" } },
    })
    assert.are.equal("/users/a", results[1].data.target)
    assert.are.equal("Bearer tok", results[1].data.headers.authorization)
    assert.are.equal("POST", results[3].data.method)
    assert.are.same({ email = "e@x.y" }, cjson.decode(results[3].data.body))
    assert.are.equal("DELETE", results[5].data.method)
    assert.is_nil(results[2])
    assert.is_nil(results[4])
    assert.are.equal(404, errs[2].status)
    assert.are.equal("resource-not-found", errs[2].code)
    assert.matches("^basiq%.getUser: HTTP 500", errs[4].message)
    assert.is_nil(errs[1] or errs[3] or errs[5])
  end)

  it("runs calls concurrently: 20 answers of 0.3 s each come back together", function()
    local c = basiq.new({ server = srv.url .. "/delay/300" }).auth("tok")
    local calls = {}
    for i = 1, 20 do calls[i] = { "getUser", { userId = "u" .. i } } end
    local t0 = core.now()
    local results, errs = c.batch(calls, { concurrency = 20 })
    local elapsed = core.now() - t0
    for i = 1, 20 do
      assert.is_nil(errs[i])
      assert.are.equal("/delay/300/users/u" .. i, results[i].data.target)
    end
    -- one at a time would take 6 s; generous bound for a loaded machine
    assert.is_true(elapsed < 3, "20 calls of 0.3 s took " .. elapsed .. " s")
  end)

  it("retries what a single call would retry, and only that", function()
    local c = basiq.new({ server = srv.url .. "/flaky/batch1/1/503", retryDelay = 5 }).auth("tok")
    local results, errs = c.batch({
      { "getUser", { userId = "a" } },     -- the server fails its first request only
      { "getUser", { userId = "b" } },
    }, { concurrency = 1 })
    assert.is_table(results[1], tostring(errs[1]))
    assert.is_table(results[2], tostring(errs[2]))
    assert.are.equal(3, #get(srv.url .. "/flaky/batch1/stats").attempts)
    c = basiq.new({ server = srv.url .. "/flaky/batch2/1/503", retryDelay = 5 }).auth("tok")
    results, errs = c.batch({ { "createUser", { email = "a@b.c" } } })
    assert.is_nil(results[1])
    assert.are.equal(503, errs[1].status) -- a POST that reached the server is not repeated
    assert.are.equal(1, #get(srv.url .. "/flaky/batch2/stats").attempts)
  end)

  it("shares one automatic token across the batch", function()
    local base = srv.url .. "/tok/60/batch"
    local c = basiq.new({ server = base, apiKey = "a2V5" })
    local calls = {}
    for i = 1, 10 do calls[i] = { "getUser", { userId = "u" .. i } } end
    local results, errs = c.batch(calls, { concurrency = 5 })
    for i = 1, 10 do
      assert.is_nil(errs[i])
      assert.are.equal("batch-1", results[i].data.token)
    end
    assert.are.equal(1, #get(base .. "/stats").issued)
  end)

  it("reports a network failure at its index and keeps the client usable", function()
    local c = basiq.new({ server = "http://127.0.0.1:" .. procs.free_port(), retries = 0 }).auth("tok")
    local results, errs = c.batch({ { "getUser", { userId = "a" } }, { "getUser", { userId = "b" } } })
    assert.is_nil(results[1])
    assert.are.equal("connect", errs[1].code)
    assert.are.equal("connect", errs[2].code)
    c.server(srv.url)
    results = c.batch({ { "getUser", { userId = "a" } } })
    assert.are.equal("/users/a", results[1].data.target)
    c.close()
    c.close()
  end)

  it("checks every call before sending any", function()
    local c = basiq.new({ server = srv.url .. "/flaky/batch3/0/200" }).auth("tok")
    assert.has_error(function() c.batch({ { "getUser", { userId = "a" } }, { "getUser", {} } }) end,
      "basiq.batch: call 2: basiq.getUser: missing required parameter 'userId'")
    assert.has_error(function() c.batch({ { "nope", {} } }) end, "basiq.batch: call 1: unknown operation 'nope'")
    assert.has_error(function() c.batch({ "getUser" }) end,
      "basiq.batch: call 1 must be { name, body_or_metadata [, metadata] }")
    assert.has_error(function() c.batch({}, { concurrency = 0 }) end,
      "basiq.batch: option 'concurrency' must be an integer from 1 to 1000")
    assert.has_error(function() c.batch("x") end, "basiq.batch: calls must be a list")
    assert.are.equal(0, #get(srv.url .. "/flaky/batch3/stats").attempts)
    local results, errs = c.batch({})
    assert.are.same({}, results)
    assert.are.same({}, errs)
  end)
end)
