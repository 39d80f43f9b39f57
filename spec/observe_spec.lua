-- Call events (basiq.config{ observe = fn }), the debug log (BASIQ_DEBUG=1
-- or config{ debug = true }) and mistakes that say how to fix them, against
-- the suite's own server on loopback.
local procs = require("support.procs")
local basiq = require("basiq")
local cjson = require("cjson")
local secrets = require("support.secrets")

local KEY = "b2JzZXJ2ZS1rZXk6c2VjcmV0LXZhbHVl"

-- A child script on this run's Lua, with env in front: exit code, stdout, stderr.
local function child(env, code, ...)
  local script = procs.temp_file(code)
  local rc, out, err = procs.run(procs.LUA_ENV .. " env " .. env .. " " .. procs.LUA .. " " .. script .. " "
    .. table.concat({ ... }, " "))
  os.remove(script)
  return rc, out, err
end

local function no_secret(events, list) secrets.none(events, list, "an event") end

describe("call events", function()
  local srv, n = nil, 0
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  local function observed(opts)
    local events = {}
    opts = opts or {}
    opts.observe = function(ev) events[#events + 1] = ev end
    return basiq.new(opts), events
  end

  it("stops with config{ observe = false }; false gives any option its default back", function()
    local c, events = observed({ server = srv.url, timeout = 5000, attemptTimeout = 100 })
    c.auth("t")
    assert(c.getUser({ userId = "u1" }))
    assert.are.equal(1, #events)
    c.config({ observe = false })
    assert(c.getUser({ userId = "u1" }))
    assert.are.equal(1, #events) -- no observer any more
    c.config({ observe = function(ev) events[#events + 1] = ev end })
    assert(c.getUser({ userId = "u1" }))
    assert.are.equal(2, #events)
    -- attemptTimeout = false: no cap per attempt again, so a 0.3 s answer fits
    c.config({ observe = false, retries = 0 }).server(srv.url .. "/delay/300")
    local res, err = c.getUser({ userId = "u" })
    assert.is_nil(res)
    assert.are.equal("timeout", err.code)
    c.config({ attemptTimeout = false, timeout = false })
    assert(c.getUser({ userId = "u" }))
  end)

  it("has one event for a success: operation, method, status, attempt, ms, bytes", function()
    local c, events = observed({ server = srv.url })
    local res = assert(c.auth("tok-success-secret").getUser({ userId = "u1" }))
    assert.are.equal(1, #events)
    local ev = events[1]
    assert.are.same({ "attempt", "getUser", "GET", 200, 1 }, { ev.kind, ev.operation, ev.method, ev.status, ev.attempt })
    assert.is_nil(ev.code)
    assert.is_true(ev.ms >= 0 and ev.ms < 60000)
    assert.are.equal(#cjson.encode(res.data) > 0 and "number" or "?", type(ev.bytes))
    assert.is_true(ev.bytes > 100)
    assert.is_nil(ev.retryIn)
    no_secret(events, { "tok-success-secret" })
  end)

  it("has one event per attempt of a retried 429 and 503, with retryIn, and Basiq's correlationId", function()
    for _, status in ipairs({ 429, 503 }) do
      n = n + 1
      local c, events = observed({ server = srv.url .. "/flaky/obs" .. n .. "/2/" .. status, retryDelay = 1 })
      assert(c.auth("tok-retry-secret").getUser({ userId = "u1" }))
      assert.are.equal(3, #events)
      for i = 1, 2 do
        assert.are.same({ status, i }, { events[i].status, events[i].attempt })
        assert.is_number(events[i].retryIn)
        assert.are.equal("corr-" .. status, events[i].correlationId)
      end
      assert.are.same({ 200, 3 }, { events[3].status, events[3].attempt })
      assert.is_nil(events[3].retryIn)
      no_secret(events, { "tok-retry-secret" })
    end
  end)

  it("has the error code and no status for a network failure", function()
    local c, events = observed({ server = "http://127.0.0.1:" .. procs.free_port(), retries = 1, retryDelay = 1 })
    local res, err = c.auth("tok-net-secret").getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal("connect", err.code)
    assert.are.equal(2, #events)
    for i, ev in ipairs(events) do
      assert.is_nil(ev.status)
      assert.are.same({ "connect", i }, { ev.code, ev.attempt })
    end
    assert.is_number(events[1].retryIn)
    assert.is_nil(events[2].retryIn)
  end)

  it("has token events for an automatic token's fetch, and none holds the key or the token", function()
    n = n + 1
    local base = srv.url .. "/tok/60/observe" .. n
    local c, events = observed({ server = base, apiKey = KEY })
    assert(c.getUser({ userId = "u1" }))
    assert(c.getUser({ userId = "u2" }))
    assert.are.same({ "token", "postToken", "POST", 200, 1 },
      { events[1].kind, events[1].operation, events[1].method, events[1].status, events[1].attempt })
    assert.are.same({ "attempt", "getUser", 200 }, { events[2].kind, events[2].operation, events[2].status })
    assert.are.same({ "attempt", "getUser", 200 }, { events[3].kind, events[3].operation, events[3].status })
    assert.are.equal(3, #events)
    -- the stand-in's tokens are "<realm>-<n>": the one this client was issued
    no_secret(events, { KEY, "Basic " .. KEY, "observe" .. n .. "-1" })
  end)

  it("survives an observer that raises: the call works, the error is reported once", function()
    local rc, out, err = child("-u BASIQ_DEBUG", [[
      local basiq = require("basiq")
      local c = basiq.new({ server = arg[1], observe = function(ev) error("observer broke on " .. ev.operation) end })
      c.auth("tok-raise-secret")
      for i = 1, 3 do assert(c.getUser({ userId = "u" .. i }), "the call failed") end
      print("calls ok")
    ]], srv.url)
    out = out .. err
    assert.matches("calls ok", out, 1, true)
    assert.are.equal(0, rc, out)
    local _, reports = out:gsub("the observe function raised", "")
    assert.are.equal(1, reports, out)
    assert.matches("observer broke on getUser", out, 1, true)
  end)
end)

describe("the debug log", function()
  local srv
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  local function run(env, code) -- what the child wrote to stderr
    local _, _, err = child(env, code, srv.url)
    return err
  end

  it("logs one line per event to stderr with BASIQ_DEBUG=1, redacted like errors", function()
    local out = run("BASIQ_DEBUG=1", [[
      local c = require("basiq").new({ server = arg[1] .. "/leaky" }).auth("tok-debug-secret-value")
      c.getUser({ userId = "u1" })
      require("basiq").new({ server = arg[1], retries = 0 }).auth("x1234").getUser({ userId = "u2" })
    ]])
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(2, #lines, out)
    assert.matches("^basiq: attempt getUser GET 401 attempt 1 [%d.]+ ms %d+ bytes", lines[1])
    assert.matches("^basiq: attempt getUser GET 200 attempt 1 [%d.]+ ms %d+ bytes$", lines[2])
    assert.is_nil(out:find("tok-debug-secret-value", 1, true))
  end)

  it("logs with config{ debug = true }, and not without it", function()
    local out = run("-u BASIQ_DEBUG", [[
      local basiq = require("basiq")
      basiq.new({ server = arg[1] }).auth("t0ken").getUser({ userId = "quiet" })
      basiq.new({ server = arg[1] }).config({ debug = true }).auth("t0ken").getUser({ userId = "loud" })
    ]])
    local _, n = out:gsub("basiq: attempt getUser GET 200", "")
    assert.are.equal(1, n, out)
  end)

  it("logs a token store's failure with the debug log on, and the call still works", function()
    local rc, out, err = child("BASIQ_DEBUG=1", [[
      local down = {}
      for _, m in ipairs({ "set", "drop", "lock", "unlock" }) do down[m] = function() return nil, "down" end end
      down.get = function() return false, "down" end
      local c = require("basiq").new({ server = arg[1] .. "/tok/3600/storedown", apiKey = "a2V5", tokenStore = down })
      print(assert(c.getUser({ userId = "u1" })).status)
    ]], srv.url)
    assert.are.equal(0, rc, err)
    assert.are.equal("200\n", out)
    local _, n = err:gsub("basiq: the token store is unavailable %(down%); the client's own store stands in\n", "")
    assert.are.equal(1, n, err) -- said once, whatever the debug setting
  end)

  it("says once per process that a deprecated operation was called: one event, one debug line", function()
    local rc, out, err = child("BASIQ_DEBUG=1", [[
      local basiq = require("basiq")
      local kinds = {}
      local function observer(ev)
        if ev.kind == "deprecated" then kinds[#kinds + 1] = ev.operation .. ": " .. ev.message end
      end
      local meta = { userId = "u1", snapshotId = "s1" }
      assert(basiq.new({ server = arg[1], observe = observer }).auth("t0ken").getIncome(meta))
      local c = basiq.new({ server = arg[1], observe = observer }).auth("t0ken")
      assert(c.getIncome(meta))                                  -- another client: said already
      assert(c.call("getIncome", meta))
      c.batch({ { "getIncome", meta }, { "getExpenses", meta } }) -- a second operation: said for it
      assert(c.getUser({ userId = "u1" }))                       -- not deprecated
      print(table.concat(kinds, "\n"))
    ]], srv.url)
    assert.are.equal(0, rc, err)
    assert.are.equal("getIncome: basiq: getIncome is deprecated in Basiq's definition: it may stop working; said once"
      .. " per process\ngetExpenses: basiq: getExpenses is deprecated in Basiq's definition: it may stop working;"
      .. " said once per process\n", out)
    local _, lines = err:gsub("basiq: getIncome is deprecated", "")
    assert.are.equal(1, lines, err)
    local _, attempts = err:gsub("basiq: attempt getIncome GET 200", "")
    assert.are.equal(4, attempts, err)
  end)

  it("keeps the news for a client that listens, when the first call had no one listening", function()
    local rc, out, err = child("-u BASIQ_DEBUG", [[
      local basiq = require("basiq")
      local meta = { userId = "u1", snapshotId = "s1" }
      assert(basiq.new({ server = arg[1] }).auth("t0ken").getIncome(meta))
      local said = 0
      local c = basiq.new({ server = arg[1], observe = function(ev) if ev.kind == "deprecated" then said = said + 1 end end })
      for _ = 1, 3 do
        for _ in c.auth("t0ken").paginate("getAffordabilityList", { userId = "u1" }) do end
      end
      print(said)
    ]], srv.url)
    assert.are.equal(0, rc, err)
    assert.are.equal("1\n", out)
  end)
end)

describe("a mistake says how to fix it", function()
  it("names the nearest operation, loaded ones included", function()
    local c = basiq.new()
    assert.has_error(function() return c.getUsers end, "basiq: no operation 'getUsers' (did you mean getUser?)")
    assert.has_error(function() return c.GetUser end, "basiq: no operation 'GetUser' (did you mean getUser?)")
    assert.has_error(function() return c.frobnicate end, "basiq: no operation 'frobnicate'")
    local path = procs.temp_file({ openapi = "3.0.0", servers = { { url = "https://api.example.com" } },
      paths = { ["/widgets"] = { get = { operationId = "ListWidgets", responses = { ["200"] = { description = "ok" } } } } } })
    assert.are.equal(1, c.load(path))
    os.remove(path)
    assert.is_function(c.listWidgets)
    assert.has_error(function() return c.listWidget end, "basiq: no operation 'listWidget' (did you mean listWidgets?)")
    -- reads of names that exist, and rawget feature tests, never raise
    assert.is_function(c.getUser)
    assert.is_function(rawget(c, "getUser"))
    assert.is_nil(rawget(c, "getUsers"))
    assert.is_nil(c[1])
    assert.is_nil(c.__index)
  end)

  it("lists the parameters an operation takes", function()
    assert.has_error(function() basiq.getUser({ id = 1234 }) end,
      "basiq.getUser: unknown parameter 'id' (getUser takes userId)")
    assert.has_error(function() basiq.getTransactions({ userId = "u", limt = 5 }) end,
      "basiq.getTransactions: unknown parameter 'limt' (did you mean limit? getTransactions takes userId, limit, filter)")
    assert.has_error(function() basiq.listEventTypes(nil, { x = 1 }) end,
      "basiq.listEventTypes: unknown parameter 'x' (listEventTypes takes no parameters)")
  end)

  it("suggests the nearest option", function()
    assert.has_error(function() basiq.new({ timout = 5 }) end, "basiq.new: unknown option 'timout' (did you mean timeout?)")
    assert.has_error(function() basiq.config({ retrys = 1 }) end, "basiq.config: unknown option 'retrys' (did you mean retries?)")
    assert.has_error(function() basiq.config({ zzz = 1 }) end, "basiq.config: unknown option 'zzz'")
  end)
end)
