-- GET /consent/return?jobIds=...&state=...: where Basiq's Consent UI sends
-- the person back (your redirect URL in Basiq's dashboard). The state must
-- be the one in this browser's cookie; then the connections' jobs are
-- waited for together (light threads: the worker keeps serving) and the
-- accounts shown.
local basiq = require("basiq")
local cjson = require("cjson.safe")

ngx.header.content_type = "application/json"
ngx.header["Cache-Control"] = "no-store"
local function answer(status, body)
  ngx.status = status
  ngx.say(cjson.encode(body))
end

local state = ngx.var.cookie_basiq_state
-- used once: the cookie and the server's note go, whatever the outcome
ngx.header["Set-Cookie"] = "basiq_state=; Path=/consent; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
local jobIds, err = basiq.consentReturn(ngx.req.get_uri_args(), state)
if not jobIds then
  return answer(ngx.HTTP_FORBIDDEN, { error = err.message })
end
local userId = ngx.shared.basiq_consent:get(state)
ngx.shared.basiq_consent:delete(state)
if not userId then
  return answer(ngx.HTTP_FORBIDDEN, { error = "this visit has expired; start again" })
end

local jobs = {}
local results, errors = basiq.waitForJobs(jobIds, { interval = 500, timeout = 60000 })
for _, id in ipairs(jobIds) do
  -- mfa-required: the Consent UI asks the person; timeout: still running, a
  -- webhook (or a later look) tells the rest
  jobs[id] = results[id] and "success" or errors[id].code
end

local res, aerr = basiq.getAccounts({ userId = userId })
if not res then
  return answer(ngx.HTTP_BAD_GATEWAY, { error = aerr.message, jobs = jobs })
end
local accounts = {}
for i, a in ipairs(res.data.data or {}) do
  accounts[i] = { id = a.id, name = a.name, balance = a.balance, institution = a.institution }
end
return answer(ngx.HTTP_OK, { jobs = jobs, accounts = accounts })
