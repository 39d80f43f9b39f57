-- paginate and waitForJob against the suite's server (spec/support/httpd.lua:
-- /pages/... links pages by links.next, /jobsim/... advances job steps).
local procs = require("support.procs")
local basiq = require("basiq")
local core = require("basiq.core")
local cjson = require("cjson")

describe("basiq.paginate", function()
  local srv
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  it("follows links.next until there is none, with the token on every page", function()
    local c = basiq.new({ server = srv.url .. "/pages/3" }).auth("tok")
    local ids, queries = {}, {}
    for res, err in c.paginate("getTransactions", { userId = "u1", limit = 2 }) do
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      ids[#ids + 1] = res.data.data[1].id
      queries[#queries + 1] = res.data.data[1].query
      assert.are.equal("Bearer tok", res.data.auth)
    end
    assert.are.same({ "t1", "t2", "t3" }, ids)
    assert.are.same({ "limit=2", "next=c2", "next=c3" }, queries)
  end)

  -- what the loop body sees: each page's first id, or the error
  local function walk(path)
    local c = basiq.new({ server = srv.url .. path, retries = 0 }).auth("tok")
    local seen = {}
    for res, err in c.paginate("getTransactions", { userId = "u1" }) do
      seen[#seen + 1] = res and res.data.data[1].id or err
    end
    return seen
  end

  it("ends after one (false, err) when a page fails", function()
    local seen = walk("/pages/3-fail")
    assert.are.equal(2, #seen)
    assert.are.equal("t1", seen[1])
    assert.are.equal(500, seen[2].status)
    assert.matches("^basiq%.getTransactions: HTTP 500", seen[2].message)
  end)

  it("refuses a next link to another host, so the token stays home", function()
    local seen = walk("/pages/3-away")
    assert.are.equal(2, #seen)
    assert.are.equal("t1", seen[1])
    assert.are.equal("pagination", seen[2].code)
    assert.are.equal("basiq.getTransactions: not following links.next (the token stays here): links are followed"
      .. " only on the client's own server: a path such as /users/... (Basiq's own links), taken under the client's"
      .. " server URL, or a full URL that begins with that server URL", seen[2].message)
  end)

  it("follows Basiq's path links (links.next = \"/users/...\") on the client's own server", function()
    local seen = walk("/pages/3-path")
    assert.are.same({ "t1", "t2", "t3" }, seen)
  end)

  it("sends each page with the credential set by then, automatic tokens included", function()
    local key = "bXktYXBpLWtleTpzZWNyZXQtdmFsdWU="
    local seen = {} -- each request's Authorization line
    local function transport(req)
      local auth
      for _, line in ipairs(req.headers) do auth = line:match("^Authorization: (.*)$") or auth end
      local json = { ["content-type"] = "application/json" }
      if req.url:find("/token$") then
        seen[#seen + 1] = "token: " .. tostring(auth)
        return { status = 200, headers = json, body = cjson.encode({ access_token = "T1", expires_in = 3600 }) }
      end
      seen[#seen + 1] = auth
      local k = tonumber(req.url:match("next=c(%d+)") or "1")
      local page = { data = { { id = "t" .. k } } }
      if k < 3 then page.links = { next = "https://api.test/users/u1/transactions?next=c" .. (k + 1) } end
      return { status = 200, headers = json, body = cjson.encode(page) }
    end
    local c = basiq.new({ server = "https://api.test", transport = transport }).auth("manual")
    local pages = 0
    for res, err in c.paginate("getTransactions", { userId = "u1" }) do
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      pages = pages + 1
      if pages == 1 then c.auth("Basic " .. key) elseif pages == 2 then c.auth("manual2") end
    end
    assert.are.same({ "Bearer manual", "token: Basic " .. key, "Bearer T1", "Bearer manual2" }, seen)
  end)

  it("checks each page against plain http, as the settings are by then", function()
    local sent = 0
    local function transport(req)
      sent = sent + 1
      return { status = 200, headers = { ["content-type"] = "application/json" }, body = cjson.encode({ data = {},
        links = { next = req.url:gsub("%?.*$", "") .. "?next=c" .. sent } }) }
    end
    local c = basiq.new({ server = "https://api.test", transport = transport }).auth("tok")
    local iter = c.paginate("getTransactions", { userId = "u1" })
    assert.are.equal(200, iter().status)
    c.server("http://api.example.com")
    assert.has_error(function() iter() end,
      "basiq.paginate: refusing to send credentials over plain http to a host other than loopback;"
      .. " use https, or basiq.config{ allowInsecureHttp = true }")
    assert.are.equal(1, sent)
  end)

  it("refuses what cannot be paged, naming the operation", function()
    assert.has_error(function() basiq.paginate("nope", {}) end, "basiq.paginate: unknown operation 'nope'")
    assert.has_error(function() basiq.paginate("createUser", {}) end,
      "basiq.paginate: createUser is not a list operation (GET)")
    assert.has_error(function() basiq.paginate("getTransactions", { limit = 1 }) end)
  end)
end)

describe("basiq.waitForJob", function()
  local srv, n = nil, 0
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  local function job(scenario)
    n = n + 1
    local id = scenario .. "-" .. n
    local function stats()
      local h = core.new()
      local o = h:perform({ method = "GET", url = srv.url .. "/jobsim/jobs/" .. id .. "/stats" })
      local st, body = o.status, o.body
      h:close()
      assert.are.equal(200, st)
      return cjson.decode(body)
    end
    return basiq.new({ server = srv.url .. "/jobsim" }).auth("tok"), id, stats
  end

  it("returns the final job once every step succeeded, reporting each step change", function()
    local c, id, stats = job("ok")
    local changes = {}
    local res, err = c.waitForJob(id, { interval = 20, onStep = function(step)
      changes[#changes + 1] = step.title .. "=" .. step.status
    end })
    assert.is_nil(err)
    assert.are.equal(id, res.data.id)
    assert.are.equal(3, stats().polls)
    assert.are.same({ "verify-credentials=in-progress", "retrieve-accounts=pending", "retrieve-transactions=pending",
      "verify-credentials=success", "retrieve-accounts=in-progress",
      "retrieve-accounts=success", "retrieve-transactions=success" }, changes)
  end)

  it("returns the failed step by title with Basiq's code, title and detail", function()
    local c, id = job("fail")
    local res, err = c.waitForJob(id, { interval = 20 })
    assert.is_nil(res)
    assert.are.equal("verify-credentials", err.step)
    assert.are.equal("authorization-failed", err.code)
    assert.are.equal("Authorization failed", err.title)
    assert.are.equal("access_denied", err.detail)
    assert.are.equal("basiq.waitForJob: job " .. id .. ": step verify-credentials failed: authorization-failed:"
      .. " Authorization failed: access_denied", tostring(err))
  end)

  it("stops for an MFA challenge, and finishes after postJobMfa and a second wait", function()
    local c, id, stats = job("mfa")
    local res, err = c.waitForJob(id, { interval = 20 })
    assert.is_nil(res)
    assert.are.equal("mfa-required", err.code)
    assert.are.equal("mfa-challenge", err.step)
    assert.are.equal("token", err.data.method)
    assert.are.same({ "We sent a code to XXXX 178." }, err.data.input)
    assert(c.postJobMfa({ ["mfa-response"] = { "1234" } }, { jobId = id }))
    res, err = c.waitForJob(id, { interval = 20 })
    assert.is_nil(err)
    assert.are.equal("success", res.data.steps[3].status)
    assert.are.same({ "1234" }, stats().answer)
  end)

  it("bounds the whole wait by its timeout, backing off gently", function()
    local c, id, stats = job("slow")
    local t0 = core.now()
    local res, err = c.waitForJob(id, { interval = 50, timeout = 600 })
    local elapsed = core.now() - t0
    assert.is_nil(res)
    assert.are.equal("timeout", err.code)
    assert.is_true(elapsed < 2, "waited " .. elapsed .. " s for a 0.6 s timeout")
    local t = stats().times
    assert.is_true(#t >= 3 and #t <= 12, #t .. " polls")
    -- each gap is at least the backoff's: 50 ms, then a quarter more each time. A loaded
    -- machine only lengthens gaps, so this holds however busy it is (comparing each gap
    -- with the one before did not: one late poll made the next gap look short)
    for i = 2, #t do
      local want = 0.05 * 1.25 ^ (i - 2)
      assert.is_true(t[i] - t[i - 1] >= want * 0.9 - 0.005,
        string.format("gap %d was %.3f s, the backoff's %.3f s", i, t[i] - t[i - 1], want))
    end
  end)

  it("passes getJobs errors through and refuses bad arguments", function()
    local c = job("ok")
    local res, err = c.waitForJob("nosuch-1", { interval = 20 })
    assert.is_nil(res)
    assert.are.equal(404, err.status)
    assert.has_error(function() c.waitForJob(nil) end, "basiq.waitForJob: jobId must be a non-empty string")
    assert.has_error(function() c.waitForJob("j", { interval = -1 }) end,
      "basiq.waitForJob: option 'interval' must be a positive number of milliseconds")
    assert.has_error(function() c.waitForJob("j", { onStep = 1 }) end,
      "basiq.waitForJob: option 'onStep' must be a function")
    -- a redirect's jobIds given whole would never be found: said at once
    assert.has_error(function() c.waitForJob("a,b") end, "basiq.waitForJob: jobId 'a,b' is a list; for the jobIds"
      .. " of a Consent UI redirect, use basiq.consentReturn and basiq.waitForJobs")
  end)
end)

describe("basiq.waitForJobs", function()
  local srv, n = nil, 0
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  local function ids(...)
    n = n + 1
    local out = {}
    for i, scenario in ipairs({ ... }) do out[i] = scenario .. "-w" .. n end
    return out
  end
  local function stats(id) return procs.get_json(srv.url .. "/jobsim/jobs/" .. id .. "/stats") end
  local function client() return basiq.new({ server = srv.url .. "/jobsim" }).auth("tok") end

  it("waits for three jobs at once: one done, one needing MFA, one failing, each by waitForJob's rules", function()
    local c = client()
    local jobs = ids("ok", "mfa", "fail")
    local steps = {}
    local results, errs = c.waitForJobs(jobs, { interval = 30, timeout = 5000, onStep = function(_, res, id)
      assert.are.equal(id, res.data.id)
      steps[id] = (steps[id] or 0) + 1
    end })
    local ok, mfa, fail = jobs[1], jobs[2], jobs[3]
    assert.are.equal(ok, results[ok].data.id)
    assert.is_nil(errs[ok])
    assert.is_nil(results[mfa])
    assert.are.equal("mfa-required", errs[mfa].code)
    assert.are.equal("mfa-challenge", errs[mfa].step)
    assert.are.same({ "We sent a code to XXXX 178." }, errs[mfa].data.input)
    assert.is_nil(results[fail])
    assert.are.equal("authorization-failed", errs[fail].code)
    assert.are.equal("basiq.waitForJobs: job " .. fail .. ": step verify-credentials failed: authorization-failed:"
      .. " Authorization failed: access_denied", errs[fail].message)
    assert.are.equal(7, steps[ok]) -- every change of the ok job's three steps, as waitForJob reports them
    -- at once: every job's first poll came before any job's second
    local first_polls, second_polls = 0, math.huge
    for _, id in ipairs(jobs) do
      local t = stats(id).times
      first_polls = math.max(first_polls, t[1])
      if t[2] then second_polls = math.min(second_polls, t[2]) end
    end
    assert.is_true(first_polls < second_polls, "the jobs were polled one after another")
    -- the MFA answer, then a second wait for that job alone
    assert(c.postJobMfa({ ["mfa-response"] = { "1234" } }, { jobId = mfa }))
    results, errs = c.waitForJobs({ mfa }, { interval = 30 })
    assert.is_nil(errs[mfa])
    assert.are.equal("success", results[mfa].data.steps[3].status)
  end)

  it("bounds the whole wait by one timeout, whatever the number of jobs", function()
    local c = client()
    local jobs = ids("slow", "slow", "ok")
    jobs[2] = jobs[2] .. "b"
    local t0 = core.now()
    local results, errs = c.waitForJobs(jobs, { interval = 40, timeout = 500 })
    local elapsed = core.now() - t0
    assert.are.equal("timeout", errs[jobs[1]].code)
    assert.are.equal("timeout", errs[jobs[2]].code)
    assert.matches("^basiq%.waitForJobs: job " .. jobs[1]:gsub("%p", "%%%0") .. " was still running", errs[jobs[1]].message)
    assert.are.equal(jobs[3], results[jobs[3]].data.id)
    -- one after another would take a timeout each
    assert.is_true(elapsed < 0.95, "waited " .. elapsed .. " s for one 0.5 s timeout")
    local polls = #stats(jobs[1]).times
    assert.is_true(polls >= 3 and polls <= 12, polls .. " polls")
  end)

  it("passes a getJobs error through for its job, takes an empty list, and refuses bad arguments", function()
    local c = client()
    local jobs = ids("ok")
    jobs[2] = "nosuch-w" .. n
    jobs[3] = jobs[1] -- twice: waited for once
    local results, errs = c.waitForJobs(jobs, { interval = 20 })
    assert.are.equal(404, errs[jobs[2]].status)
    assert.is_table(results[jobs[1]])
    assert.are.equal(3, stats(jobs[1]).polls)
    results, errs = c.waitForJobs({})
    assert.are.same({}, results)
    assert.are.same({}, errs)
    assert.has_error(function() c.waitForJobs("a,b") end,
      "basiq.waitForJobs: jobIds must be a list of job ids (consentReturn gives one)")
    assert.has_error(function() c.waitForJobs({ "a,b" }) end,
      "basiq.waitForJobs: jobIds[1] must be one job id (a non-empty string without commas)")
    assert.has_error(function() c.waitForJobs({ "a" }, { timout = 1 }) end,
      "basiq.waitForJobs: unknown option 'timout' (did you mean timeout?)")
  end)
end)

describe("basiq.follow", function()
  local srv
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  it("fetches a job step's path link on the client's server, with its token", function()
    local base = srv.url .. "/tok/60/follow"
    local c = basiq.new({ server = base, apiKey = "a2V5" })
    local res = assert(c.follow("/users/u1/accounts?filter=institution.id.eq('AU00000')"))
    assert.are.equal("/tok/60/follow/users/u1/accounts?filter=institution.id.eq('AU00000')", res.data.target)
    assert.are.equal("follow-1", res.data.token)
    res = assert(c.follow(base .. "/users/u1/transactions")) -- a full URL on the same server, as before
    assert.are.equal("/tok/60/follow/users/u1/transactions", res.data.target)
  end)

  it("refuses a link to another host, saying the rule, and sends nothing", function()
    local base = srv.url .. "/tok/60/refuse"
    local c = basiq.new({ server = base, apiKey = "a2V5" })
    for _, link in ipairs({ "https://elsewhere.invalid/users/u1", "//elsewhere.invalid/users/u1",
      "/\\elsewhere.invalid/users/u1", srv.url .. "/users/u1", "users/u1", "/users/u 1" }) do
      local res, err = c.follow(link)
      assert.is_nil(res, link)
      assert.are.equal("refused", err.code)
      assert.are.equal(link, err.link)
      assert.are.equal("basiq.follow: not following this link (the token stays here): links are followed only on"
        .. " the client's own server: a path such as /users/... (Basiq's own links), taken under the client's server"
        .. " URL, or a full URL that begins with that server URL", err.message)
    end
    assert.are.same({}, procs.get_json(base .. "/stats").issued) -- not even a token was asked for
  end)
end)
