-- A plain-Lua Basiq webhook receiver (luasocket, loopback): verifies each
-- delivery and answers 204, or 400 when the signature does not hold.
--   BASIQ_WEBHOOK_SECRET=whsec_... PORT=8080 lua5.4 examples/webhook_receiver.lua
-- (For OpenResty, see examples/openresty/.)
local socket = require("socket")
local basiq = require("basiq")
local cjson = require("cjson.safe")

local secret = assert(os.getenv("BASIQ_WEBHOOK_SECRET"), "set BASIQ_WEBHOOK_SECRET")
local server = assert(socket.bind("127.0.0.1", tonumber(os.getenv("PORT") or "8080")))

local function handle(conn)
  local line = conn:receive("*l")
  if not line then return end
  local headers = {}
  for h in function() return conn:receive("*l") end do
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.-)%s*$")
    if k then
      k = k:lower()
      if headers[k] then v = { headers[k], v } end -- sent twice: verify refuses it
      headers[k] = v
    end
  end
  local len = headers["content-length"] or "0"
  local n = type(len) == "string" and len:match("^%d+$") and tonumber(len)
  if not n or n > 1024 * 1024 then -- Basiq's events are small
    return conn:send("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
  end
  local body = n > 0 and conn:receive(n) or ""
  local ok, why = basiq.webhook.verify(secret, headers, body) -- the raw body, before any decoding
  if ok then
    local event = cjson.decode(body) or {}
    print("event", event.eventTypeId or event.type, event.id)
    conn:send("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
  else
    print("rejected:", why)
    conn:send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
  end
end

while true do
  local conn = server:accept()
  conn:settimeout(5)
  handle(conn)
  conn:close()
end
