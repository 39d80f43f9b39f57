-- The mock's events and the Webhooks API over them: the events its state
-- changes sent, their types, webhooks (the --webhook one and any added
-- through the API) and the messages each was sent. Delivery itself is
-- webhooks.lua's; a webhook added here is delivered to only if its URL is
-- on this machine.
local Store = require("basiq.mock.store")
local fixtures = require("basiq.mock.fixtures")
local filters = require("basiq.mock.filters")
local webhooks = require("basiq.mock.webhooks")
local data = require("basiq.mock.api.data")
local refuse = require("basiq.mock.refusals").refuse

local iso = Store.iso

local M = { handlers = {} }
local H = M.handlers

local function event_of(ctx, id)
  local ev = ctx.store.events.by_id and ctx.store.events.by_id[id]
  if not ev then refuse("resource-not-found", "No event with this id.", "id") end
  return ev
end

local EVENT_FIELDS = {
  ["event.entity"] = function(e) return e.entity end,
  ["event.type"] = function(e) return e.verb end,
  ["event.id"] = function(e) return e.id end,
  ["user.id"] = function(e) return e.user end,
}

-- getEvents lists the consent and connection events (its definition's entities).
local LISTED = { consent = true, connection = true }

function H.getEvents(ctx)
  local keep = filters.compile(ctx.query.filter, EVENT_FIELDS)
  local out = {}
  for i = #ctx.store.events, 1, -1 do
    local e = ctx.store.events[i]
    if LISTED[e.entity] and not e.test and keep(e) then
      out[#out + 1] = { type = "event", id = e.id, entity = e.entity, eventType = e.verb, userId = e.user,
        createdDate = iso(e.created), dataRef = ctx.base .. e.path, data = ctx.base .. e.path,
        links = { self = ctx.base .. "/events/" .. e.id } }
    end
  end
  return 200, { type = "list", data = out, links = { self = ctx.base .. "/events" } }
end

function H.getTypeById(ctx)
  local e = event_of(ctx, ctx.params.id)
  local entity_id = e.path:match("/([^/?]+)$") or e.path:match("/([^/]+)%?") or e.user
  return 200, { type = "event", id = e.id, entity = e.entity, eventType = e.verb, userId = e.user,
    createdDate = iso(e.created), dataRef = ctx.base .. e.path,
    data = { type = e.entity, id = entity_id, links = { self = ctx.base .. e.path } },
    links = { self = ctx.base .. "/events/" .. e.id } }
end

local function event_type_view(ctx, t)
  return { type = "event-type", id = t[1], description = t[2], links = { self = ctx.base .. "/events/types/" .. t[1] } }
end

function H.listEventTypes(ctx)
  local out = {}
  for _, t in ipairs(fixtures.EVENT_TYPES) do out[#out + 1] = event_type_view(ctx, t) end
  return 200, { type = "list", count = #out, size = #out, data = out, links = { self = ctx.base .. "/events/types" } }
end

function H.getEventTypeById(ctx)
  for _, t in ipairs(fixtures.EVENT_TYPES) do
    if t[1] == ctx.params.id then return 200, event_type_view(ctx, t) end
  end
  refuse("resource-not-found", "No event type with this id.", "id")
end

-- Webhooks.
local function webhook_view(ctx, wh)
  return { type = "webhook", id = wh.id, name = wh.name, description = wh.description, url = wh.url,
    status = wh.status, secret = wh.secret, subscribedEvents = wh.events or {},
    links = { self = ctx.base .. "/notifications/webhooks/" .. wh.id } }
end

local function webhook_of(ctx)
  local wh = ctx.store.webhooks[ctx.params.webhookId]
  if not wh then refuse("resource-not-found", "No webhook with this id.", "webhookId") end
  return wh
end

local function check_url(url)
  local target, why = webhooks.parse_url(url)
  if not target then refuse("parameter-not-valid", "url " .. why .. ".", "url") end
end

function H.addWebhook(ctx)
  local b = ctx.body
  check_url(b.url)
  local wh = webhooks.record({ url = b.url, name = b.name, description = b.description,
    subscribedEvents = b.subscribedEvents, secret = "whsec_" .. require("basiq.core").b64encode(
      require("basiq.mock.tokens").random_hex(24)) }, false)
  ctx.store.webhooks[wh.id] = wh
  return 201, webhook_view(ctx, wh)
end

function H.listAppWebhooks(ctx)
  local out, ids = {}, {}
  for id in pairs(ctx.store.webhooks) do ids[#ids + 1] = id end
  table.sort(ids)
  for _, id in ipairs(ids) do out[#out + 1] = webhook_view(ctx, ctx.store.webhooks[id]) end
  return 200, { type = "list", count = #out, size = #out, data = out, links = { self = ctx.base .. "/notifications/webhooks" } }
end

function H.getWebhook(ctx)
  return 200, webhook_view(ctx, webhook_of(ctx))
end

function H.updateWebhook(ctx)
  local wh, b = webhook_of(ctx), ctx.body
  check_url(b.url)
  local fresh = webhooks.record({ id = wh.id, url = b.url, name = b.name or wh.name,
    description = b.description or wh.description, subscribedEvents = b.subscribedEvents or wh.events,
    secret = wh.secret }, wh.cli)
  fresh.messages, fresh.cli = wh.messages, wh.cli
  if wh.cli then fresh.target = wh.target end -- the --webhook target stays as started
  ctx.store.webhooks[wh.id] = fresh
  return 200, webhook_view(ctx, fresh)
end

function H.deleteWebhook(ctx)
  ctx.store.webhooks[webhook_of(ctx).id] = nil
  return 204
end

local function message_view(ctx, wh, msg)
  local payload = webhooks.payload(ctx.base, msg.event, wh.id)
  local self = ctx.base .. "/notifications/webhooks/" .. wh.id .. "/messages/" .. msg.id
  return { id = msg.id, webhookId = wh.id, eventId = msg.event.id, eventTypeId = msg.event.type_id,
    event = payload.links.event, attempts = msg.attempts, status = msg.status, payload = payload,
    links = { self = self, webhook = payload.links.webhook, event = payload.links.event } }
end

local MESSAGE_FIELDS = {
  ["message.status"] = function(m) return m.status end,
  ["message.id"] = function(m) return m.id end,
  ["event.type"] = function(m) return m.event.type_id end,
}

function H.listMessages(ctx)
  local wh = webhook_of(ctx)
  local keep = filters.compile(ctx.query.filter, MESSAGE_FIELDS)
  local items = {}
  for i = #wh.messages, 1, -1 do
    if keep(wh.messages[i]) then items[#items + 1] = wh.messages[i] end
  end
  local page = data.page(ctx, "/notifications/webhooks/" .. wh.id .. "/messages", items,
    function(c, m) return message_view(c, wh, m) end, 100)
  return 200, page
end

function H.getWebhookMessage(ctx)
  local wh = webhook_of(ctx)
  for _, m in ipairs(wh.messages) do
    if m.id == ctx.params.messageId then return 200, message_view(ctx, wh, m) end
  end
  refuse("resource-not-found", "No message with this id.", "messageId")
end

-- A test event of the given type, sent to every webhook subscribed to it.
function H.testMessage(ctx)
  local b = ctx.body
  local known
  for _, t in ipairs(fixtures.EVENT_TYPES) do
    if t[1] == b.eventTypeId then known = true end
  end
  if not known then refuse("parameter-not-valid", "No event type with this id.", "eventTypeId") end
  ctx.store:emit(b.eventTypeId, "", "/events/types/" .. b.eventTypeId).test = true
  return 201
end

return M
