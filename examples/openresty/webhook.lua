-- POST /webhooks/basiq: each Basiq webhook delivery verified and handled
-- once by basiq.webhook.receive, its marks in lua_shared_dict
-- basiq_webhooks so that every worker agrees (or, with REDIS_HOST set, in
-- Redis so that every host of a fleet agrees), and answered as soon as the
-- handler is done. BASIQ_WEBHOOK_SECRET may hold two secrets, space-
-- separated, while one is rotated.
local basiq = require("basiq")

-- Several hosts behind a load balancer: one Redis that every host asks
-- (lua-resty-redis on cosockets; one store per worker for these options).
local store = os.getenv("REDIS_HOST") and basiq.webhook.redisStore({ host = os.getenv("REDIS_HOST"),
  port = tonumber(os.getenv("REDIS_PORT") or "6379"), password = os.getenv("REDIS_PASSWORD") })

local MAX_BODY = 1024 * 1024 -- as client_max_body_size: Basiq's events are small

local secrets = {}
for s in (os.getenv("BASIQ_WEBHOOK_SECRET") or ""):gmatch("%S+") do secrets[#secrets + 1] = s end
if not secrets[1] then
  ngx.log(ngx.ERR, "BASIQ_WEBHOOK_SECRET is not set")
  return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
end

-- The body exactly as received: in memory, or in the file nginx spooled it
-- to when it outgrew client_body_buffer_size (a local temporary file:
-- reading it does not wait on the network). nil and why when it cannot be had.
local function raw_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  local path = ngx.req.get_body_file()
  if not path then return "" end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local size = f:seek("end")
  if not size or size > MAX_BODY then
    f:close()
    return nil, "larger than " .. MAX_BODY .. " bytes"
  end
  f:seek("set")
  body = f:read("*a")
  f:close()
  if not body or #body ~= size then return nil, "the spooled body could not be read" end
  return body
end

-- The application's work for one event: true once it is done for good; a
-- false answer or an error makes Basiq deliver it again later. Basiq waits
-- only seconds for the answer: do here what must be done before the 2xx.
local function handle(event, ctx)
  if event.links and event.links.eventEntity then
    local entity, err = ctx.fetch() -- the user, connection... it is about (only from Basiq's server)
    if not entity then return false, err end
  end
  ngx.log(ngx.NOTICE, "basiq event ", event.eventTypeId, " ", event.eventId, " processed (webhook ", ctx.id, ")")
  return true
end

local body, why = raw_body()
if not body then
  ngx.log(ngx.WARN, "basiq webhook refused: ", why)
  return ngx.exit(ngx.HTTP_REQUEST_ENTITY_TOO_LARGE)
end
local headers = ngx.req.get_headers()
local status, detail, err = basiq.webhook.receive(secrets, headers, body, handle, { store = store })
local id = tostring(headers["webhook-id"])
if err then ngx.log(ngx.ERR, "basiq webhook ", id, ": ", tostring(err)) end
ngx.log(status < 300 and ngx.NOTICE or ngx.WARN, "basiq webhook ", id, ": ", status, " ",
  type(detail) == "table" and "processed" or detail)
ngx.status = status
if status >= 300 then ngx.say(detail) end -- a short reason, never an error's details
return ngx.exit(ngx.HTTP_OK) -- the request is done, with the status set above
