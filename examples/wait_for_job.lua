-- Wait for one job (a connection's: its id comes back from the Consent UI
-- in the redirect's jobIds), every step by title, an MFA code answered from
-- the terminal. examples/consent_journey.lua walks the whole journey.
--   BASIQ_API_KEY=... JOB_ID=... lua5.4 examples/wait_for_job.lua
-- (BASIQ_SERVER points it at a local Basiq; POLL_MS sets how often the job
-- is looked at, default 2000)
local basiq = require("basiq")
basiq.auth("Basic " .. assert(os.getenv("BASIQ_API_KEY"), "set BASIQ_API_KEY"))
if os.getenv("BASIQ_SERVER") then basiq.server(os.getenv("BASIQ_SERVER")) end

local jobId = assert(os.getenv("JOB_ID"), "set JOB_ID (one of the jobIds in the Consent UI's redirect)")
local wait = { interval = tonumber(os.getenv("POLL_MS")) or 2000, timeout = 10 * 60 * 1000,
  onStep = function(step) print(step.title, step.status) end }
local job, err = basiq.waitForJob(jobId, wait)
while not job and err.code == "mfa-required" do
  io.write(table.concat(err.data.input or { "code" }, " "), ": ")
  io.flush()
  local answer = io.read("*l")
  assert(basiq.postJobMfa({ ["mfa-response"] = { answer } }, { jobId = jobId }))
  job, err = basiq.waitForJob(jobId, wait)
end
if not job then
  print("failed:", err.step, err.code, err.detail or err.message)
  os.exit(1)
end
print("connected:", job.data.links and job.data.links.source)
