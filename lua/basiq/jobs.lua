-- basiq.waitForJob: polls getJobs until the job's steps are all done. Steps
-- are found by title, never by position (an mfa-challenge step may appear).
local errors = require("basiq.shared.errors")
local values = require("basiq.shared.values")
local strict = require("basiq.shared.strict")

local M = {}

local function check_ms(opts, k, def)
  local v = opts[k]
  if v == nil then return def end
  if not values.positive(v) then
    errors.raise("basiq.waitForJob: option '" .. k .. "' must be a positive number of milliseconds")
  end
  return v
end

-- An MFA step that is waiting for the user: in progress, with a challenge.
local function mfa_waiting(step)
  return step.title == "mfa-challenge" and step.status == "in-progress"
    and type(step.result) == "table" and step.result.type == "mfa"
end

-- client: the basiq client; clock: its transport ({ now, sleep } in seconds).
function M.wait(client, clock, jobId, opts)
  if type(jobId) ~= "string" or jobId == "" then errors.raise("basiq.waitForJob: jobId must be a non-empty string") end
  if opts ~= nil and type(opts) ~= "table" then errors.raise("basiq.waitForJob: options must be a table") end
  opts = opts or {}
  strict.options("basiq.waitForJob", opts, { "interval", "onStep", "timeout" })
  local interval = check_ms(opts, "interval", 1500) / 1000
  local deadline = clock.now() + check_ms(opts, "timeout", 600000) / 1000
  local onStep = opts.onStep
  if onStep ~= nil and type(onStep) ~= "function" then errors.raise("basiq.waitForJob: option 'onStep' must be a function") end
  local seen = {} -- step title -> last status reported to onStep
  local max_interval = math.max(interval * 4, 5)
  while true do
    local res, err = client.getJobs({ jobId = jobId })
    if not res then return nil, err end
    local steps = type(res.data) == "table" and res.data.steps
    if type(steps) ~= "table" then
      return nil, errors.new("job", "basiq.waitForJob: job " .. jobId .. " has no steps", { data = res.data })
    end
    local done = #steps > 0
    for _, step in ipairs(steps) do
      if type(step) == "table" then
        if onStep and seen[step.title] ~= step.status then
          seen[step.title] = step.status
          onStep(step, res)
        end
        if step.status == "failed" then
          local r = type(step.result) == "table" and step.result or {}
          local parts = { "basiq.waitForJob: step " .. tostring(step.title) .. " failed" }
          for _, k in ipairs({ "code", "title", "detail" }) do
            if type(r[k]) == "string" and r[k] ~= "" then parts[#parts + 1] = r[k] end
          end
          return nil, errors.new(r.code or "job-failed", table.concat(parts, ": "),
            { step = step.title, title = r.title, detail = r.detail, data = res.data })
        elseif mfa_waiting(step) then
          return nil, errors.new("mfa-required", "basiq.waitForJob: job " .. jobId
            .. " waits for an MFA answer (postJobMfa), then wait again", { step = step.title, data = step.result, job = res.data })
        elseif step.status ~= "success" then
          done = false
        end
      end
    end
    if done then return res end
    local now = clock.now()
    if now + interval > deadline then
      return nil, errors.new("timeout", "basiq.waitForJob: job " .. jobId .. " was still running when the timeout ran out",
        { data = res.data })
    end
    clock.sleep(interval)
    interval = math.min(interval * 1.25, max_interval) -- back off gently
  end
end

return M
