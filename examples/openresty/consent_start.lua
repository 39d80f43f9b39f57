-- GET /consent/start?userId=...: sends the person to Basiq's Consent UI.
-- A fresh state goes into a cookie on the person's browser and, with the
-- user it was made for, into lua_shared_dict basiq_consent, so the return
-- route can tell this visit's redirect from a forged one. The address holds
-- a token: it goes into the Location header and nowhere else.
-- A real app takes the user from its own session, not from the query.
local basiq = require("basiq")

local userId = ngx.var.arg_userId
if not userId or userId == "" or not userId:find("^[%w-]+$") then
  ngx.status = ngx.HTTP_BAD_REQUEST
  ngx.say("userId is required")
  return
end

local url, state = basiq.consentUrl(userId, { state = true })
if not url then
  ngx.log(ngx.ERR, "basiq consent: ", tostring(state)) -- an error holds no token
  return ngx.exit(ngx.HTTP_BAD_GATEWAY)
end
-- the visit's user, kept on the server for as long as a visit may take
local ok, err = ngx.shared.basiq_consent:set(state, userId, 3600)
if not ok then
  ngx.log(ngx.ERR, "basiq consent: lua_shared_dict basiq_consent: ", err)
  return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
end
-- SameSite=Lax: sent on the top-level redirect back from Basiq (Strict is not)
ngx.header["Set-Cookie"] = "basiq_state=" .. state .. "; Path=/consent; Max-Age=3600; HttpOnly; Secure; SameSite=Lax"
ngx.header["Cache-Control"] = "no-store"
return ngx.redirect(url, ngx.HTTP_MOVED_TEMPORARILY)
