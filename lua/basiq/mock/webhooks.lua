-- Webhook delivery: each event goes to the --webhook URL (and to webhooks
-- added through the API whose URL is on this machine), signed the
-- Standard Webhooks way with basiq.webhook.sign, and is delivered again
-- with the same webhook-id on Basiq's schedule (scaled by --retry-scale)
-- until the receiver answers 2xx. Plain http goes through the loop and
-- never blocks it; https goes through the SDK's C core, bounded by a
-- timeout. Never sends to any other host, and never logs a secret.
local json = require("basiq.mock.json")
local wire = require("basiq.mock.wire")
local Store = require("basiq.mock.store")

local M = {}

-- Basiq's retry schedule: seconds before each attempt.
M.SCHEDULE = { 0, 5, 300, 1800, 7200, 18000, 36000, 36000 }
M.TIMEOUT = 5 -- seconds for one attempt

-- url -> { scheme, host, port, path, authority }, or nil and why not.
function M.parse_url(url)
  local scheme, authority, path = tostring(url):match("^(https?)://([^/?#]+)([^#]*)$")
  if not scheme then return nil, "must be an http:// or https:// URL" end
  if authority:find("@", 1, true) then return nil, "must not carry credentials" end
  local host, port = authority:match("^%[([%x:]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then return nil, "has no host" end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return { scheme = scheme, host = host, port = port, path = path ~= "" and path or "/", authority = authority, url = url }
end

-- Whether a host is this machine (webhooks added through the API are
-- delivered only there).
function M.loopback(host)
  return host == "localhost" or host == "::1" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end

-- The event as Basiq delivers it (and as a message's payload shows it).
function M.payload(base, ev, webhook_id)
  return { eventId = ev.id, eventTypeId = ev.type_id,
    links = { event = base .. "/events/" .. ev.id, eventEntity = base .. ev.path,
      webhook = webhook_id and base .. "/notifications/webhooks/" .. webhook_id or nil } }
end

local function post_https(target, headers, body)
  local lines = {}
  for k, v in pairs(headers) do lines[#lines + 1] = k .. ": " .. v end
  local h = require("basiq.core").new()
  local o = h:perform({ method = "POST", url = target.url, headers = lines, body = body,
    timeout = M.TIMEOUT * 1000, connect_timeout = M.TIMEOUT * 1000 })
  h:close()
  if o.status then return o.status end
  return nil, o.message
end

-- d: { loop, store, base, scale, log }. Listens to the store's events.
function M.new(d)
  local self = { d = d }

  local function attempt(wh, msg, body)
    local target = wh.target
    local headers = { ["Content-Type"] = "application/json", ["User-Agent"] = "basiq-mock",
      ["webhook-id"] = msg.id, ["webhook-timestamp"] = tostring(os.time()) }
    headers["webhook-signature"] = require("basiq.webhook").sign(wh.secret, msg.id, headers["webhook-timestamp"], body)
    msg.attempts[#msg.attempts + 1] = Store.iso()
    if target.scheme == "https" then return post_https(target, headers, body) end
    return wire.post(d.loop, target, headers, body, M.TIMEOUT)
  end

  local function deliver(wh, msg, body)
    for i, wait in ipairs(M.SCHEDULE) do
      d.loop:sleep(wait * d.scale) -- the first after the loop's next turn: the API call is answered first
      if not d.store.webhooks[wh.id] then return end -- deleted meanwhile
      local status, err = attempt(wh, msg, body)
      local ok = status and status >= 200 and status < 300
      d.log(("webhook %s %s attempt %d: %s"):format(msg.event.type_id, msg.id, i, status and ("HTTP " .. status) or err))
      if ok then
        msg.status = "delivered"
        return
      end
    end
    msg.status = "failed"
  end

  function self.send(wh, ev)
    local msg = { id = Store.uuid(), event = ev, webhook = wh.id, attempts = {}, status = "pending" }
    wh.messages[#wh.messages + 1] = msg
    if not wh.target then return msg end -- stored, never sent (not on this machine)
    local body = json.encode(M.payload(d.base, ev, nil))
    d.loop:spawn(deliver, wh, msg, body)
    return msg
  end

  local function subscribed(wh, ev)
    if not wh.events or #wh.events == 0 then return true end
    for _, e in ipairs(wh.events) do
      if e == ev.type_id then return true end
    end
    return false
  end

  table.insert(d.store.listeners, function(ev)
    for _, wh in pairs(d.store.webhooks) do
      if wh.status == "active" and subscribed(wh, ev) then self.send(wh, ev) end
    end
  end)
  return self
end

-- A webhook record. target: where it is delivered (nil: never).
function M.record(fields, cli)
  local target = M.parse_url(fields.url)
  if target and not cli and not M.loopback(target.host) then target = nil end
  return { id = fields.id or Store.uuid(), name = fields.name, description = fields.description, url = fields.url,
    events = fields.subscribedEvents, secret = fields.secret, status = "active", target = target, messages = {} }
end

return M
