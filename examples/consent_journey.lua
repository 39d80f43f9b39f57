-- The consent journey in plain Lua: a Basiq user, the Consent UI's address
-- with a state to check, the redirect back, the connections' jobs (an MFA
-- code answered from the terminal), then the accounts and transactions.
--   BASIQ_API_KEY=... lua5.4 examples/consent_journey.lua
-- Open the address it prints; when Basiq sends the browser back to your
-- redirect URL (set in Basiq's dashboard), paste that address here.
-- BASIQ_SERVER and BASIQ_CONSENT_SERVER point it at a local Basiq (basiq
-- mock); USER_ID reuses a user instead of creating one; INSTITUTION_ID skips
-- the Consent UI's institution picker; POLL_MS sets how often the jobs are
-- looked at (default 1000).
local basiq = require("basiq")

basiq.auth("Basic " .. assert(os.getenv("BASIQ_API_KEY"), "set BASIQ_API_KEY"))
if os.getenv("BASIQ_SERVER") then basiq.server(os.getenv("BASIQ_SERVER")) end
if os.getenv("BASIQ_CONSENT_SERVER") then basiq.config({ consentServer = os.getenv("BASIQ_CONSENT_SERVER") }) end

local function fail(err)
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

-- 1. The person's Basiq user: made once, kept with your own account for them.
local userId = os.getenv("USER_ID")
if not userId then
  local res, err = basiq.createUser({ email = "gavin@hooli.com", mobile = "+61410888666" })
  if not res then fail(err) end
  userId = res.data.id
  print("created user " .. userId)
end

-- 2 and 3. The Consent UI's address, with a CLIENT_ACCESS token bound to the
-- user and a fresh state. A web app keeps the state in the person's session
-- and redirects the browser to the address, which it never logs: it holds
-- the token.
local url, state = basiq.consentUrl(userId, { state = true, institutionId = os.getenv("INSTITUTION_ID") })
if not url then fail(state) end
print("Open this address to connect a bank:")
print(url)

-- 4. Basiq sends the browser back to your redirect URL with ?jobIds=...&state=...
io.write("Then paste the address Basiq sent you back to: ")
io.flush()
local jobIds, err = basiq.consentReturn(io.read("*l") or "", state)
if not jobIds then fail(err) end -- err.code "state": not the visit this state was made for
print(#jobIds .. " connection job(s): " .. table.concat(jobIds, ", "))

-- 5. Wait for every job at once; a bank that asks for an MFA code gets one,
-- then its job is waited for again.
local waiting = jobIds
while waiting[1] do
  local results, errors = basiq.waitForJobs(waiting, { interval = tonumber(os.getenv("POLL_MS")) or 1000,
    timeout = 5 * 60 * 1000, onStep = function(step, _, jobId) print(jobId, step.title, step.status) end })
  local again = {}
  for _, id in ipairs(waiting) do
    local e = errors[id]
    if results[id] then
      print(id .. ": connected")
    elseif e.code == "mfa-required" then
      io.write(id .. ": " .. table.concat(e.data.input or { "MFA code" }, " ") .. ": ")
      io.flush()
      local ok, merr = basiq.postJobMfa({ ["mfa-response"] = { io.read("*l") or "" } }, { jobId = id })
      if not ok then fail(merr) end
      again[#again + 1] = id
    else
      print(id .. ": " .. e.message) -- a failed step (e.step, e.code), or the timeout
    end
  end
  waiting = again
end

-- 6. What the person shared: their accounts, then their transactions page by page.
local accounts, aerr = basiq.getAccounts({ userId = userId })
if not accounts then fail(aerr) end
for _, a in ipairs(accounts.data.data or {}) do
  print(string.format("account %s  %s  balance %s", a.id, tostring(a.name), tostring(a.balance)))
end
local count = 0
for page, perr in basiq.paginate("getTransactions", { userId = userId, limit = 100 }) do
  if not page then fail(perr) end
  for _, t in ipairs(page.data.data or {}) do
    count = count + 1
    if count <= 5 then print(string.format("transaction %s  %s  %s", t.id, tostring(t.amount), tostring(t.description))) end
  end
end
print(count .. " transaction(s)")
