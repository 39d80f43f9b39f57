-- Connect a bank and wait for the job: every step by title, MFA answered
-- from the terminal.
--   BASIQ_API_KEY=... USER_ID=... lua5.4 examples/wait_for_job.lua
local basiq = require("basiq")
basiq.auth("Basic " .. assert(os.getenv("BASIQ_API_KEY"), "set BASIQ_API_KEY"))

local userId = assert(os.getenv("USER_ID"), "set USER_ID")
local res, err = basiq.createAuthLink({ mobile = "+61410888666" }, { userId = userId })
if not res then error(tostring(err)) end
print("send the user to", res.data.links.public)

local jobId = assert(os.getenv("JOB_ID"), "set JOB_ID (from the consent flow's redirect)")
local job
job, err = basiq.waitForJob(jobId, {
  interval = 2000, timeout = 10 * 60 * 1000,
  onStep = function(step) print(step.title, step.status) end,
})
while not job and err.code == "mfa-required" do
  io.write(table.concat(err.data.input or { "code" }, " "), ": ")
  local answer = io.read("*l")
  assert(basiq.postJobMfa({ ["mfa-response"] = { answer } }, { jobId = jobId }))
  job, err = basiq.waitForJob(jobId)
end
if not job then
  print("failed:", err.step, err.code, err.detail)
  os.exit(1)
end
print("connected:", job.data.links and job.data.links.source)
