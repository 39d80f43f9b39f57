-- A plain-Lua Basiq webhook receiver (luasocket, loopback): each delivery
-- verified and handled once by basiq.webhook.receive, with its in-process
-- memory store (or, on a fleet, Redis), and answered with the status it gives.
--   BASIQ_WEBHOOK_SECRET=whsec_... PORT=8080 lua5.4 examples/webhook_receiver.lua
-- Several hosts behind a load balancer: REDIS_HOST=10.0.0.5 REDIS_PASSWORD=...
-- (REDIS_PORT, default 6379), and each delivery is processed once on any host.
-- While a secret is rotated, give both: BASIQ_WEBHOOK_SECRET="whsec_new whsec_old".
-- With BASIQ_API_KEY set, the handler also fetches the entity each event is
-- about (from BASIQ_SERVER, default Basiq's). For OpenResty, see examples/openresty/.
local socket = require("socket")
local basiq = require("basiq")

io.stdout:setvbuf("line")
local secrets = {}
for s in assert(os.getenv("BASIQ_WEBHOOK_SECRET"), "set BASIQ_WEBHOOK_SECRET"):gmatch("%S+") do
  secrets[#secrets + 1] = s
end
if os.getenv("BASIQ_API_KEY") then basiq.auth("Basic " .. os.getenv("BASIQ_API_KEY")) end
if os.getenv("BASIQ_SERVER") then basiq.server(os.getenv("BASIQ_SERVER")) end
-- One Redis that every host asks, or (nil) this process's own marks
local store = os.getenv("REDIS_HOST") and basiq.webhook.redisStore({ host = os.getenv("REDIS_HOST"),
  port = tonumber(os.getenv("REDIS_PORT") or "6379"), password = os.getenv("REDIS_PASSWORD") })
local server = assert(socket.bind("127.0.0.1", tonumber(os.getenv("PORT") or "8080")))
local MAX_BODY = 1024 * 1024 -- Basiq's events are small

local REASONS = { [200] = "OK", [400] = "Bad Request", [413] = "Payload Too Large",
  [500] = "Internal Server Error", [503] = "Service Unavailable" }

-- The application's work for one event: true once it is done for good.
-- A false answer (or an error) makes Basiq deliver the event again later.
local function handle(event, ctx)
  if os.getenv("BASIQ_API_KEY") then
    local entity, err = ctx.fetch() -- e.g. the connection a connection.created is about
    if not entity then return false, err end
  end
  print("processed", event.eventTypeId, event.eventId, ctx.id)
  return true
end

local function answer(conn, status, text)
  text = text or ""
  conn:send(("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
    :format(status, REASONS[status] or "Status", #text, text))
end

local function serve(conn)
  local line = conn:receive("*l")
  if not line then return end
  local headers = {}
  for h in function() return conn:receive("*l") end do
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.-)%s*$")
    if k then
      k = k:lower()
      if headers[k] then v = { headers[k], v } end -- sent twice: receive refuses it
      headers[k] = v
    end
  end
  local len = headers["content-length"] or "0"
  local n = type(len) == "string" and len:match("^%d+$") and tonumber(len)
  if not n or n > MAX_BODY then return answer(conn, 413) end
  local body = n > 0 and conn:receive(n) or ""
  if not body then return end
  -- the raw body, before any decoding
  local status, detail, err = basiq.webhook.receive(secrets, headers, body, handle, { store = store })
  if err then io.stderr:write("basiq webhook ", tostring(headers["webhook-id"]), ": ", tostring(err), "\n") end
  if status >= 300 then print("answered", status, detail) end
  answer(conn, status, status >= 300 and detail or nil)
end

while true do
  local conn = server:accept()
  conn:settimeout(5)
  serve(conn)
  conn:close()
end
