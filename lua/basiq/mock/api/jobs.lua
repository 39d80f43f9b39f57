-- The mock's jobs and their scenarios: a connection job's steps advance one
-- at a time, on each poll of getJobs; the institution picks the scenario
-- (fixtures.lua): all steps succeed, an MFA challenge waits for postJobMfa,
-- or one named step fails. A step's success does its work (the connection
-- turns active, accounts and transactions appear) and sends its event; a
-- job never moves on without being polled.
local json = require("basiq.mock.json")
local Store = require("basiq.mock.store")
local fixtures = require("basiq.mock.fixtures")
local filters = require("basiq.mock.filters")
local refuse = require("basiq.mock.refusals").refuse

local iso = Store.iso

local M = { handlers = {} }
local H = M.handlers

local STEPS = { "verify-credentials", "retrieve-accounts", "retrieve-transactions" }

-- Starts a job on a connection: the job record.
-- work: what its steps do, { accounts = fn(store, conn), transactions = fn(store, conn) } (data.lua).
function M.start(store, user, conn, work)
  local inst = fixtures.BY_ID[conn.institution] or fixtures.BY_ID[fixtures.DEFAULT_INSTITUTION]
  local scenario = inst.scenario
  local titles = {}
  for _, t in ipairs(STEPS) do
    titles[#titles + 1] = t
    if t == "verify-credentials" and scenario == "mfa" then titles[#titles + 1] = "mfa-challenge" end
  end
  local steps = {}
  for i, t in ipairs(titles) do steps[i] = { title = t, status = "pending" } end
  local t = os.time()
  local job = { id = Store.uuid(), user = user.id, connection = conn.id, institution = inst.id, scenario = scenario,
    fails = scenario:match("^fail:(.+)$"), steps = steps, created = t, updated = t, work = work }
  store.jobs[job.id] = job
  user.jobs[#user.jobs + 1] = job.id
  return job
end

local function link(url) return { type = "link", url = url } end

local CHALLENGE = { type = "mfa", method = "token", input = { "One-time code" },
  description = "The mock bank sent a code: answer with postJobMfa (any code is accepted).", expiryMs = 300000 }

-- What finishing a step does, and the result it shows.
local function succeed(store, job, step)
  local user, conn = store.users[job.user], store.connections[job.connection]
  local upath = "/users/" .. job.user
  local by_conn = "?filter=connection.id.eq('" .. job.connection .. "')"
  step.status, step.result = "success", nil
  if not conn then return end -- deleted meanwhile: nothing left to fill
  if step.title == "verify-credentials" then
    if conn.status ~= "active" then
      conn.status = "active"
      store:emit("connection.created", user.id, upath .. "/connections/" .. conn.id)
    end
    conn.last_used = os.time()
  elseif step.title == "retrieve-accounts" then
    job.work.accounts(store, conn)
    step.result = link(upath .. "/accounts" .. by_conn)
    for _, aid in ipairs(conn.accounts) do store:emit("account.updated", user.id, upath .. "/accounts/" .. aid) end
  elseif step.title == "retrieve-transactions" then
    job.work.transactions(store, conn)
    step.result = link(upath .. "/transactions" .. by_conn)
    store:emit("transactions.updated", user.id, upath .. "/transactions" .. by_conn)
  end
end

local function fail(store, job, step)
  local f = fixtures.FAILURES[step.title]
  step.status = "failed"
  step.result = { type = "error", code = f[1], title = f[2], detail = f[3] }
  local conn = store.connections[job.connection]
  if conn and step.title == "verify-credentials" then
    conn.status = "invalid"
    store:emit("connection.invalidated", job.user, "/users/" .. job.user .. "/connections/" .. conn.id)
  end
end

-- One poll: the first unfinished step moves on by one state.
function M.advance(store, job)
  for i, step in ipairs(job.steps) do
    if step.status == "failed" then return end
    if step.status ~= "success" then
      if step.status == "pending" then
        step.status = "in-progress"
      elseif step.title == "mfa-challenge" then
        if not job.mfa_answer then return end
        step.status, step.result = "success", nil
        local nxt = job.steps[i + 1]
        if nxt then nxt.status = "in-progress" end
      elseif job.fails == step.title then
        fail(store, job, step)
      else
        succeed(store, job, step)
        local nxt = job.steps[i + 1]
        if nxt then nxt.status = "in-progress" end
      end
      local now = job.steps[i + 1]
      if now and now.title == "mfa-challenge" and now.status == "in-progress" and not job.mfa_answer then
        now.result = CHALLENGE
      end
      job.updated = os.time()
      return
    end
  end
end

-- The job's state in one word: "success", "failed" or "in-progress".
function M.state(job)
  local done = true
  for _, s in ipairs(job.steps) do
    if s.status == "failed" then return "failed" end
    if s.status ~= "success" then done = false end
  end
  return done and "success" or "in-progress"
end

local function view(ctx, job)
  local steps = {}
  for i, s in ipairs(job.steps) do
    steps[i] = { title = s.title, status = s.status, result = s.result or json.null }
  end
  return { type = "job", id = job.id, jobType = "connection", created = iso(job.created), updated = iso(job.updated),
    steps = steps, links = { self = ctx.base .. "/jobs/" .. job.id,
      source = ctx.base .. "/users/" .. job.user .. "/connections/" .. job.connection } }
end

-- A job the request may see: its own user's, for a CLIENT_ACCESS token.
local function job_for(ctx)
  local job = ctx.store.jobs[ctx.params.jobId]
  if not job then refuse("resource-not-found", "No job with this id.", "jobId") end
  if ctx.token.scope == "CLIENT_ACCESS" and ctx.token.user ~= job.user then
    refuse("forbidden-access", "This CLIENT_ACCESS token is bound to another user.", "jobId")
  end
  return job
end

function H.getJobs(ctx)
  local job = job_for(ctx)
  M.advance(ctx.store, job)
  return 200, view(ctx, job)
end

function H.postJobMfa(ctx)
  local job = job_for(ctx)
  local waiting
  for _, s in ipairs(job.steps) do
    if s.title == "mfa-challenge" and s.status == "in-progress" then waiting = true end
  end
  if not waiting or job.mfa_answer then
    refuse("parameter-not-valid", "This job is not waiting for an MFA answer.", "jobId")
  end
  local answer = ctx.body["mfa-response"]
  if #answer == 0 or answer[1] == "" then refuse("parameter-not-valid", "mfa-response must hold the code.", "mfa-response") end
  job.mfa_answer = answer
  job.updated = os.time()
  return 202, { type = "job", id = job.id, links = { self = ctx.base .. "/jobs/" .. job.id } }
end

-- getUserJobs shows the steps its definition names (an MFA step is seen
-- through getJobs), each with a result object, as that definition requires.
local USER_JOB_STEPS = { ["verify-credentials"] = true, ["retrieve-accounts"] = true,
  ["retrieve-transactions"] = true, ["retrieve-statements"] = true }
local JOB_FIELDS = {
  ["connection.id"] = function(j) return j.connection end,
  ["institution.id"] = function(j) return j.institution end,
  ["job.id"] = function(j) return j.id end,
}

function H.getUserJobs(ctx)
  local u = ctx.store.users[ctx.params.userId]
  local keep = filters.compile(ctx.query.filter, JOB_FIELDS)
  local data = {}
  for _, id in ipairs(u.jobs) do
    local job = ctx.store.jobs[id]
    if job and keep(job) then
      local steps = {}
      for _, s in ipairs(job.steps) do
        if USER_JOB_STEPS[s.title] then steps[#steps + 1] = { title = s.title, status = s.status, result = s.result or json.object() } end
      end
      data[#data + 1] = { type = "job", id = job.id, created = iso(job.created), updated = iso(job.updated), steps = steps,
        institution = { type = "institution", id = job.institution, links = { self = ctx.base .. "/institutions/" .. job.institution } },
        links = { self = ctx.base .. "/jobs/" .. job.id } }
    end
  end
  return 200, { type = "list", size = #data, data = data, links = { self = ctx.base .. "/users/" .. u.id .. "/jobs" } }
end

return M
