-- basiq.webhook.receive: each webhook delivery handled once. A delivery is
-- verified, its Basiq event decoded and its webhook-id looked up in a store
-- of marks, so that a retry or a replay is acknowledged without running the
-- handler again, and a failure is answered so that Basiq retries. Never
-- calls the handler for a delivery that did not verify, and never marks one
-- processed unless its handler said so.
local cjson_safe = require("cjson.safe")
local errors = require("basiq.shared.errors")
local values = require("basiq.shared.values")
local strict = require("basiq.shared.strict")
local signatures = require("basiq.webhook.signatures")
local memory = require("basiq.webhook.memory_store")
local shdict = require("basiq.webhook.shdict_store")

local json = cjson_safe.new()
local type, tostring, pcall, select, ipairs = type, tostring, pcall, select, ipairs

local M = {}

local WHO = "basiq.webhook.receive"
local OPTIONS = { "client", "keep", "lease", "store" } -- and verify's
for _, k in ipairs(signatures.OPTIONS) do OPTIONS[#OPTIONS + 1] = k end
local PROCESSING, PROCESSED = "processing", "processed"
-- A processed mark outlives Basiq's whole retry schedule (immediately, 5 s,
-- 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 28 h); an in-progress one
-- frees the delivery by itself if its worker died with the handler running.
M.KEEP, M.LEASE = 48 * 3600, 60

-- pcall through which the handler may yield (cosockets, a scheduler's
-- coroutines). Lua 5.1's own cannot be yielded across: there the handler
-- runs in a coroutine of its own, whose yields are passed on outward.
local protected = pcall
if _VERSION == "Lua 5.1" and not jit then
  local create, resume, status, yield, running = coroutine.create, coroutine.resume, coroutine.status,
    coroutine.yield, coroutine.running
  local unpack = unpack
  local function pack(...) return { n = select("#", ...), ... } end
  protected = function(f, ...)
    local co = create(f)
    local r = pack(resume(co, ...))
    while status(co) == "suspended" do
      if not running() then return false, "attempt to yield from outside a coroutine" end
      r = pack(resume(co, yield(unpack(r, 2, r.n))))
    end
    return unpack(r, 1, r.n)
  end
end

local function mistake(what) errors.raise(WHO .. ": " .. what) end

local STORE_METHODS = { "add", "set", "get", "delete" }
local fallback -- this process's memory store, made on first use

local function store_of(opts)
  local store = opts.store
  if store == nil then
    local why
    store, why = shdict.default()
    if why then mistake(why) end
    if not store then
      fallback = fallback or memory.new()
      store = fallback
    end
  elseif type(store) ~= "table" and type(store) ~= "userdata" then
    mistake("opts.store must be a store (add, set, get, delete)")
  else
    for _, name in ipairs(STORE_METHODS) do
      if type(store[name]) ~= "function" then mistake("opts.store has no " .. name .. "()") end
    end
  end
  return store
end

-- The Basiq event in a verified body: { eventTypeId, eventId, links =
-- { event, eventEntity } }, or nil and why not.
local function decode(body)
  local event = body:find("^%s*{") and json.decode(body)
  if type(event) ~= "table" then return nil, "not a Basiq event: the body is not a JSON object" end
  for _, k in ipairs({ "eventTypeId", "eventId" }) do
    if event[k] ~= nil and type(event[k]) ~= "string" then return nil, "not a Basiq event: " .. k .. " is not a string" end
  end
  local links = event.links
  if links ~= nil and type(links) ~= "table" then return nil, "not a Basiq event: links is not an object" end
  for _, k in ipairs({ "event", "eventEntity" }) do
    if links and links[k] ~= nil and type(links[k]) ~= "string" then
      return nil, "not a Basiq event: links." .. k .. " is not a string"
    end
  end
  return event
end

local function failure(code, message, cause)
  return errors.new(code, WHO .. ": " .. message, { cause = cause })
end

-- What the handler gets beside the event.
local function context(id, event, client)
  local ctx = { id = id }
  -- the event's entity, through the client, only on the client's own server
  function ctx.fetch()
    local link = type(event.links) == "table" and event.links.eventEntity
    if type(link) ~= "string" or link == "" then
      return nil, failure("no-entity", "the event has no links.eventEntity")
    end
    return (client or require("basiq")).follow(link)
  end
  return ctx
end

-- receive(secrets, headers, rawBody, handler[, opts]) -> status, detail[, err]
-- status: the HTTP status to answer with; detail: the event when it was
-- processed now, else a short reason; err: an error object worth logging
-- (a handler's failure, a store's), never meant for the sender.
function M.receive(secrets, headers, body, handler, opts)
  if type(handler) ~= "function" then mistake("handler must be a function (event, ctx) -> true when done") end
  if opts ~= nil and type(opts) ~= "table" then mistake("opts must be a table") end
  opts = opts or {}
  strict.options(WHO, opts, OPTIONS)
  local keep, lease = opts.keep or M.KEEP, opts.lease or M.LEASE
  if not values.positive(keep) then mistake("opts.keep must be a number of seconds") end
  if not values.positive(lease) then mistake("opts.lease must be a number of seconds") end
  local client = opts.client
  if client ~= nil and (type(client) ~= "table" or type(client.follow) ~= "function") then
    mistake("opts.client must be a basiq client")
  end
  local store = store_of(opts)

  local ok, why = signatures.check(WHO, secrets, headers, body, opts)
  if not ok then return 400, why end
  local event, bad = decode(body)
  if not event then return 400, bad end
  local id = signatures.header(headers, "webhook-id")

  local added, aerr = store:add(id, PROCESSING, lease)
  if not added then
    local mark = store:get(id)
    if mark == PROCESSED then return 200, "already processed" end
    if mark == PROCESSING then return 503, "another delivery of this webhook-id is being processed" end
    -- the store failed, or the other delivery failed a moment ago: either way, later
    return 503, "the delivery store could not take it; try later",
      aerr and aerr ~= "exists" and failure("store", "the store refused the mark: " .. tostring(aerr), aerr) or nil
  end

  local ran, done, herr = protected(handler, event, context(id, event, client))
  if ran and done then
    local set, serr = store:set(id, PROCESSED, keep)
    if not set then
      return 200, event, failure("store", "processed, but the store could not keep the mark (a duplicate"
        .. " would run again): " .. tostring(serr), serr)
    end
    return 200, event
  end
  store:delete(id) -- released: the next delivery runs the handler again
  if not ran then return 500, "the handler failed", failure("handler", "the handler raised: " .. tostring(done), done) end
  return 500, "the handler failed", failure("handler", "the handler returned " .. tostring(done)
    .. (herr ~= nil and ": " .. tostring(herr) or ""), herr)
end

return M
