-- basiq.webhook.receive: each webhook delivery handled once. A delivery is
-- verified, its Basiq event decoded and its webhook-id looked up in a store
-- of marks, so that a retry or a replay is acknowledged without running the
-- handler again, and a failure is answered so that Basiq retries; each one
-- gives one event (observe.lua). Never calls the handler for a delivery that
-- did not verify, or while the store cannot answer, and never marks one
-- processed unless its handler said so.
local cjson_safe = require("cjson.safe")
local core = require("basiq.shared.lazy")
local errors = require("basiq.shared.errors")
local values = require("basiq.shared.values")
local strict = require("basiq.shared.strict")
local observe = require("basiq.call.observe")
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
  -- whole numbers as integers on Lua 5.3+, as in the API's answers (engine.lua)
  if math.type then event = core.integers(event, body) end
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

-- The in-progress mark of one delivery: "processing" and a value that no
-- other delivery, worker or host holds, so that releasing it never frees
-- a mark another took after this one's lease lapsed.
local holder, holder_pid, taken = nil, nil, 0
local function in_progress_mark()
  local pid = ngx ~= nil and ngx.worker and ngx.worker.pid() -- a forked worker makes its own
  if not holder or pid ~= holder_pid then
    local f = io.open("/dev/urandom", "rb")
    local bytes = f and f:read(12)
    if f then f:close() end
    holder = bytes and #bytes == 12 and core.b64encode(bytes)
      or string.format("%s.%.6f.%d", tostring({}):match("%x+$") or "", core.now(), math.random(1, 2 ^ 30))
    holder_pid = pid
  end
  taken = taken + 1
  return PROCESSING .. " " .. holder .. " " .. taken
end

-- Stores that could not answer, until one of their answers comes back:
-- each is said once each way (observe.store), never once per delivery.
local down = setmetatable({}, { __mode = "k" })
local function store_failed(state, store, err)
  if down[store] then return end
  down[store] = true
  if state then observe.store(state, "unavailable", err, "webhook") end
end
local function store_answered(state, store)
  if not down[store] then return end
  down[store] = nil
  if state then observe.store(state, "recovered", nil, "webhook") end
end

-- The answer to a delivery, and its one event: what happened, to which
-- type of event, what was answered and how long the handler took.
local function answer(state, outcome, status, detail, err, event, ms)
  if state and state.emit then
    state.emit({ kind = "webhook", outcome = outcome, eventTypeId = event and event.eventTypeId, status = status,
      ms = ms })
  end
  return status, detail, err
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
  local state = observe.state_of(client or require("basiq")) -- its observer and debug log

  local ok, why = signatures.check(WHO, secrets, headers, body, opts)
  if not ok then return answer(state, "refused", 400, why) end
  local event, bad = decode(body)
  if not event then return answer(state, "refused", 400, bad) end
  local id = signatures.header(headers, "webhook-id")

  local mine = in_progress_mark()
  local added, serr = store:add(id, mine, lease)
  local mark
  if added == false and (serr == nil or serr == "exists") then
    mark, serr = store:get(id) -- another delivery holds it, or has processed it
  elseif not added then
    serr = serr or "no answer" -- (an ngx.shared.DICT's add says false, "no memory")
  end
  if serr ~= nil then
    -- never another store in its place: a host alone cannot tell a duplicate
    store_failed(state, store, serr)
    return answer(state, "unavailable", 503, "the delivery store could not take it; try later",
      failure("store", "the store could not answer: " .. tostring(serr), serr), event)
  end
  store_answered(state, store)
  if mark == PROCESSED then return answer(state, "duplicate", 200, "already processed", nil, event) end
  if not added then
    -- in progress elsewhere, or released a moment ago by a delivery that failed
    return answer(state, "in-progress", 503, "another delivery of this webhook-id is being processed", nil, event)
  end

  local t0 = core.now()
  local ran, done, herr = protected(handler, event, context(id, event, client))
  local ms = (core.now() - t0) * 1000
  if ran and done then
    -- whoever holds the mark now (another host, after this one's lease
    -- lapsed): the delivery was processed, and its retries are duplicates
    local kept, kerr = store:set(id, PROCESSED, keep)
    if not kept then
      store_failed(state, store, kerr)
      return answer(state, "processed", 200, event, failure("store", "processed, but the store could not keep the"
        .. " mark (a duplicate would run again): " .. tostring(kerr), kerr), event, ms)
    end
    return answer(state, "processed", 200, event, nil, event, ms)
  end
  -- released, only while this delivery still holds it: Basiq's next attempt runs the handler again
  local _, derr = store:delete(id, mine) -- (a store that cannot answer keeps it until the lease lapses)
  if derr ~= nil then store_failed(state, store, derr) end
  local err = not ran and failure("handler", "the handler raised: " .. tostring(done), done)
    or failure("handler", "the handler returned " .. tostring(done) .. (herr ~= nil and ": " .. tostring(herr) or ""),
      herr)
  return answer(state, "failed", 500, "the handler failed", err, event, ms)
end

return M
