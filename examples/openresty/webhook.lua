-- POST /webhooks/basiq: verifies a Basiq webhook (Standard Webhooks
-- signature over the raw body), then handles it.
local basiq = require("basiq")
local cjson = require("cjson.safe")

local secret = os.getenv("BASIQ_WEBHOOK_SECRET")
if not secret then
  ngx.log(ngx.ERR, "BASIQ_WEBHOOK_SECRET is not set")
  return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
end

ngx.req.read_body()
local body = ngx.req.get_body_data() -- nil when nginx spooled it to disk: refused below
local ok, why = false, "no body in memory"
if body then ok, why = basiq.webhook.verify(secret, ngx.req.get_headers(), body) end
if not ok then
  ngx.log(ngx.WARN, "basiq webhook rejected: ", why)
  return ngx.exit(ngx.HTTP_BAD_REQUEST)
end

local event = cjson.decode(body) or {}
ngx.log(ngx.INFO, "basiq event ", tostring(event.eventTypeId or event.type), " ", tostring(event.id))
-- answer fast; do slow work in a timer (the SDK works there too)
ngx.timer.at(0, function() --[[ e.g. basiq.getUser{ userId = ... } ]] end)
return ngx.exit(ngx.HTTP_NO_CONTENT)
