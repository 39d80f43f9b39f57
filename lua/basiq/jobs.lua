-- basiq.waitForJob and basiq.waitForJobs: poll getJobs until a job's steps
-- are all done, one job or many at once under one timeout. Steps are found
-- by title, never by position (an mfa-challenge step may appear).
local errors = require("basiq.shared.errors")
local values = require("basiq.shared.values")
local strict = require("basiq.shared.strict")
local engine = require("basiq.call.engine")

local M = {}

-- Whether id can be a job id: unreserved URL characters only, so that a
-- list of them ("a,b" in a redirect) is never mistaken for one.
function M.valid_id(id)
  return type(id) == "string" and #id <= 128 and id:find("^[%w._~-]+$") ~= nil
end

-- The options both functions take: interval and timeout in seconds, onStep.
local OPTIONS = { "interval", "timeout", "onStep" }
local function options(who, opts)
  if opts ~= nil and type(opts) ~= "table" then errors.raise("basiq." .. who .. ": options must be a table") end
  opts = opts or {}
  strict.options("basiq." .. who, opts, OPTIONS)
  local function ms(k, def)
    local v = opts[k]
    if v == nil then return def / 1000 end
    if not values.positive(v) then
      errors.raise("basiq." .. who .. ": option '" .. k .. "' must be a positive number of milliseconds")
    end
    return v / 1000
  end
  local onStep = opts.onStep
  if onStep ~= nil and type(onStep) ~= "function" then errors.raise("basiq." .. who .. ": option 'onStep' must be a function") end
  return ms("interval", 1500), ms("timeout", 600000), onStep
end

-- An MFA step that is waiting for the user: in progress, with a challenge.
local function mfa_waiting(step)
  return step.title == "mfa-challenge" and step.status == "in-progress"
    and type(step.result) == "table" and step.result.type == "mfa"
end

-- One job's wait: its id, and the step statuses onStep has been told.
local function job(who, id, onStep)
  return { who = who, id = id, onStep = onStep, seen = {} }
end

-- Judges one poll of job j (getJobs' res): true (every step succeeded),
-- false (still running) | nil, err (a step failed, or MFA waits).
local function judge(j, res)
  local steps = type(res.data) == "table" and res.data.steps
  if type(steps) ~= "table" then
    return nil, errors.new("job", "basiq." .. j.who .. ": job " .. j.id .. " has no steps", { data = res.data })
  end
  local done = #steps > 0
  for _, step in ipairs(steps) do
    if type(step) == "table" then
      if j.onStep and j.seen[step.title] ~= step.status then
        j.seen[step.title] = step.status
        j.onStep(step, res, j.id)
      end
      if step.status == "failed" then
        local r = type(step.result) == "table" and step.result or {}
        local parts = { "basiq." .. j.who .. ": job " .. j.id .. ": step " .. tostring(step.title) .. " failed" }
        for _, k in ipairs({ "code", "title", "detail" }) do
          if type(r[k]) == "string" and r[k] ~= "" then parts[#parts + 1] = r[k] end
        end
        return nil, errors.new(r.code or "job-failed", table.concat(parts, ": "),
          { step = step.title, title = r.title, detail = r.detail, data = res.data })
      elseif mfa_waiting(step) then
        return nil, errors.new("mfa-required", "basiq." .. j.who .. ": job " .. j.id
          .. " waits for an MFA answer (postJobMfa), then wait again", { step = step.title, data = step.result, job = res.data })
      elseif step.status ~= "success" then
        done = false
      end
    end
  end
  return done
end

local function timed_out(j, res)
  return errors.new("timeout", "basiq." .. j.who .. ": job " .. j.id .. " was still running when the timeout ran out",
    { data = res.data })
end

-- The next interval: a quarter longer each time, up to four times the first.
local function backoff(interval, first)
  return math.min(interval * 1.25, math.max(first * 4, 5))
end

-- Polls job j until it is over or deadline (clock seconds) passes: res | nil, err.
local function wait_one(client, clock, j, interval, deadline)
  local first = interval
  while true do
    local res, err = client.getJobs({ jobId = j.id })
    if not res then return nil, err end
    local done, jerr = judge(j, res)
    if done then return res end
    if jerr then return nil, jerr end
    if clock.now() + interval > deadline then return nil, timed_out(j, res) end
    clock.sleep(interval)
    interval = backoff(interval, first)
  end
end

-- client: the basiq client; clock: its transport ({ now, sleep } in seconds).
function M.wait(client, clock, jobId, opts)
  if type(jobId) ~= "string" or jobId == "" then errors.raise("basiq.waitForJob: jobId must be a non-empty string") end
  if jobId:find(",", 1, true) then
    errors.raise("basiq.waitForJob: jobId '" .. values.shown(jobId) .. "' is a list; for the jobIds of a"
      .. " Consent UI redirect, use basiq.consentReturn and basiq.waitForJobs")
  end
  local interval, timeout, onStep = options("waitForJob", opts)
  return wait_one(client, clock, job("waitForJob", jobId, onStep), interval, clock.now() + timeout)
end

-- Inside nginx, with a transport that yields (its sleep is nginx's) in a
-- phase that has light threads: each job in one of its own, so every poll
-- overlaps the others.
local THREAD_PHASES = { rewrite = true, access = true, content = true, timer = true }
local function threads_here(clock)
  return ngx ~= nil and clock.sleep == ngx.sleep and THREAD_PHASES[ngx.get_phase()] ~= nil
end
local function in_threads(client, clock, list, interval, deadline, results, errs)
  local threads = {}
  for i, j in ipairs(list) do threads[i] = ngx.thread.spawn(wait_one, client, clock, j, interval, deadline) end
  for i, j in ipairs(list) do
    local ok, res, err = ngx.thread.wait(threads[i])
    if not ok then -- onStep raised: the caller's mistake, as in waitForJob
      for k = i + 1, #threads do ngx.thread.kill(threads[k]) end
      error(res, 0)
    end
    results[j.id], errs[j.id] = res, err
  end
end

-- Elsewhere: rounds, each polling every job still running in one batch
-- (curl multi), a round per interval. The jobs start together and back off
-- alike, so each is polled on waitForJob's schedule.
local function in_rounds(client, clock, list, interval, deadline, results, errs)
  local first = interval
  while #list > 0 do
    local calls = {}
    for i, j in ipairs(list) do calls[i] = { "getJobs", { jobId = j.id } } end
    local rs, es = client.batch(calls, { concurrency = math.min(#calls, 16) })
    local running = {}
    for i, j in ipairs(list) do
      local res = rs[i]
      if not res then
        errs[j.id] = es[i]
      else
        local done, jerr = judge(j, res)
        if done then results[j.id] = res
        elseif jerr then errs[j.id] = jerr
        else running[#running + 1] = { j, res } end
      end
    end
    list = {}
    if running[1] and clock.now() + interval > deadline then
      for _, p in ipairs(running) do errs[p[1].id] = timed_out(p[1], p[2]) end
    else
      for i, p in ipairs(running) do list[i] = p[1] end
      if list[1] then
        clock.sleep(interval)
        interval = backoff(interval, first)
      end
    end
  end
end

-- results, errors by job id: every job of jobIds (a list) waited for at
-- once, each by waitForJob's rules, all within one timeout. state: the
-- client's (its transport is the clock).
function M.wait_all(client, state, jobIds, opts)
  local n = values.sequence(jobIds)
  if not n then errors.raise("basiq.waitForJobs: jobIds must be a list of job ids (consentReturn gives one)") end
  local interval, timeout, onStep = options("waitForJobs", opts)
  local list, seen = {}, {}
  for i = 1, n do
    local id = jobIds[i]
    if type(id) ~= "string" or id == "" or id:find(",", 1, true) then
      errors.raise("basiq.waitForJobs: jobIds[" .. i .. "] must be one job id (a non-empty string without commas)")
    end
    if not seen[id] then
      seen[id] = true
      list[#list + 1] = job("waitForJobs", id, onStep)
    end
  end
  local results, errs = {}, {}
  if not list[1] then return results, errs end
  local perr = engine.unusable(state, "waitForJobs")
  if perr then
    for _, j in ipairs(list) do errs[j.id] = perr end
    return results, errs
  end
  local clock = state.transport
  local deadline = clock.now() + timeout
  if #list > 1 and threads_here(clock) then
    in_threads(client, clock, list, interval, deadline, results, errs)
  else
    in_rounds(client, clock, list, interval, deadline, results, errs)
  end
  return results, errs
end

return M
