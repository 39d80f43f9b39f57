-- basiq.webhook.receive: each delivery verified, then handled once, with
-- the marks of basiq.webhook.memory_store or a store of the user's own.
local basiq = require("basiq")
local procs = require("support.procs")

local SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
local T = 1614265330
local EVENT = '{"eventTypeId":"connection.created","eventId":"ev1",'
  .. '"links":{"event":"https://au-api.basiq.io/events/ev1","eventEntity":"https://au-api.basiq.io/users/u1"}}'

-- A delivery of body (default EVENT) under webhook-id id, signed at T.
local function delivery(id, body, secret)
  body = body or EVENT
  return { ["webhook-id"] = id, ["webhook-timestamp"] = tostring(T),
    ["webhook-signature"] = basiq.webhook.sign(secret or SECRET, id, T, body) }, body
end

-- A handler that counts its runs and answers from a list (the last answer repeats).
local function counting(...)
  local answers, h = { ... }, { runs = 0, events = {} }
  function h.fn(event, ctx)
    h.runs = h.runs + 1
    h.events[h.runs], h.ctx = event, ctx
    local a = answers[math.min(h.runs, #answers)]
    if type(a) == "function" then return a(event, ctx) end
    return a
  end
  return h
end

local function receive(id, handler, opts, body)
  local headers, raw = delivery(id, body)
  opts = opts or {}
  opts.now = opts.now or T
  return basiq.webhook.receive(SECRET, headers, raw, handler, opts)
end

describe("basiq.webhook.receive", function()
  it("runs the handler once for the same delivery three times, acknowledging each", function()
    local store, h = basiq.webhook.memory_store(), counting(true)
    local s1, d1 = receive("msg_a", h.fn, { store = store })
    local s2, d2 = receive("msg_a", h.fn, { store = store })
    local s3, d3 = receive("msg_a", h.fn, { store = store })
    assert.are.same({ 200, 200, 200 }, { s1, s2, s3 })
    assert.are.equal(1, h.runs)
    assert.are.equal("connection.created", d1.eventTypeId)
    assert.are.equal("https://au-api.basiq.io/users/u1", d1.links.eventEntity)
    assert.are.same({ "already processed", "already processed" }, { d2, d3 })
    assert.are.equal("msg_a", h.ctx.id)
    assert.are.equal("processed", store:get("msg_a"))
  end)

  it("answers a failed handler so that Basiq retries, and processes the retry exactly once", function()
    local store, done = basiq.webhook.memory_store(), 0
    local h = counting(false, function() error("database down") end, function() done = done + 1; return true end)
    local s1, d1, e1 = receive("msg_b", h.fn, { store = store })
    assert.are.same({ 500, "the handler failed" }, { s1, d1 })
    assert.are.equal("handler", e1.code)
    assert.matches("the handler returned false", tostring(e1))
    assert.is_nil(store:get("msg_b")) -- released: nothing lost
    local s2, _, e2 = receive("msg_b", h.fn, { store = store })
    assert.are.equal(500, s2)
    assert.matches("^basiq.webhook.receive: the handler raised: .*database down", tostring(e2))
    assert.are.equal(200, (receive("msg_b", h.fn, { store = store })))
    assert.are.same({ 200, "already processed" }, { receive("msg_b", h.fn, { store = store }) })
    assert.are.equal(3, h.runs)
    assert.are.equal(1, done)
  end)

  it("gives the event's whole numbers as integers on Lua 5.3+, as the API's answers are", function()
    local h = counting(true)
    local body = '{"eventTypeId":"transactions.updated","eventId":"ev9","data":{"count":500,"amount":12.5}}'
    assert.are.equal(200, (receive("msg_n", h.fn, { store = basiq.webhook.memory_store() }, body)))
    local data = h.events[1].data
    assert.are.equal(500, data.count)
    assert.are.equal(12.5, data.amount)
    if math.type then
      assert.are.equal("integer", math.type(data.count))
      assert.are.equal("float", math.type(data.amount))
    end
  end)

  it("passes on what a failing handler returns beside false, and counts any true value as done", function()
    local store = basiq.webhook.memory_store()
    local _, _, err = receive("msg_c", function() return nil, "no such account" end, { store = store })
    assert.matches("the handler returned nil: no such account", tostring(err))
    assert.are.equal("no such account", err.cause)
    assert.are.equal(200, (receive("msg_c", function() return { saved = true } end, { store = store })))
    assert.are.equal("processed", store:get("msg_c"))
  end)

  it("acknowledges a replay within the tolerance without processing it, and refuses it after", function()
    local store, h = basiq.webhook.memory_store(), counting(true)
    assert.are.equal(200, (receive("msg_d", h.fn, { store = store })))
    -- the same captured request, sent again 4 minutes later
    assert.are.same({ 200, "already processed" }, { receive("msg_d", h.fn, { store = store, now = T + 240 }) })
    local status, why = receive("msg_d", h.fn, { store = store, now = T + 301 })
    assert.are.same({ 400, "webhook-timestamp is more than 300 s from now" }, { status, why })
    assert.are.equal(1, h.runs)
  end)

  it("refuses a forged or undecodable delivery with a 4xx, without calling the handler or keeping a mark", function()
    local store, h = basiq.webhook.memory_store(), counting(true)
    local headers, body = delivery("msg_e", nil, "whsec_" .. require("basiq.core").b64encode(("x"):rep(24)))
    assert.are.same({ 400, "no signature matches" },
      { basiq.webhook.receive(SECRET, headers, body, h.fn, { store = store, now = T }) })
    for _, bad in ipairs({ "[1]", "not json", '{"eventTypeId":5}', '{"links":"x"}', '{"links":{"eventEntity":1}}' }) do
      local status, why = receive("msg_e", h.fn, { store = store }, bad)
      assert.are.equal(400, status, bad)
      assert.matches("^not a Basiq event", why)
    end
    assert.are.equal(0, h.runs)
    assert.is_nil(store:get("msg_e"))
    assert.are.equal(200, (receive("msg_e", h.fn, { store = store }))) -- the genuine one still runs
  end)

  it("takes old and new secrets while one is rotated", function()
    local old, new = "whsec_" .. require("basiq.core").b64encode(("o"):rep(24)), SECRET
    local store, h = basiq.webhook.memory_store(), counting(true)
    for i, signer in ipairs({ old, new }) do
      local headers, body = delivery("msg_rot" .. i, nil, signer)
      assert.are.equal(200, (basiq.webhook.receive({ old, new }, headers, body, h.fn, { store = store, now = T })))
    end
    assert.are.equal(2, h.runs)
  end)

  it("keeps a processed mark 48 h by default, or opts.keep, and an in-progress one opts.lease", function()
    local now = 0
    local store = basiq.webhook.memory_store({ clock = function() return now end })
    local h = counting(true)
    receive("msg_f", h.fn, { store = store })
    now = 48 * 3600 - 1
    assert.are.same({ 200, "already processed" }, { receive("msg_f", h.fn, { store = store }) })
    now = 48 * 3600
    assert.are.equal(200, (receive("msg_f", h.fn, { store = store })))
    assert.are.equal(2, h.runs) -- after 48 h the mark was gone
    receive("msg_g", h.fn, { store = store, keep = 10 })
    now = now + 10
    assert.is_nil(store:get("msg_g"))
    -- a handler that never comes back (its coroutine abandoned, its worker gone)
    local stuck = coroutine.create(function() receive("msg_h", function() coroutine.yield() end, { store = store }) end)
    assert.is_true(coroutine.resume(stuck))
    assert.are.equal(503, (receive("msg_h", h.fn, { store = store })))
    now = now + 60
    assert.are.equal(200, (receive("msg_h", h.fn, { store = store, lease = 5 })))
  end)

  it("processes concurrent deliveries of one id once, with a store and a handler that yield", function()
    -- a store on the network would yield in each call (a cosocket): this one does
    local inner = basiq.webhook.memory_store()
    local store, calls = {}, 0
    for _, name in ipairs({ "add", "set", "get", "delete" }) do
      store[name] = function(_, ...)
        calls = calls + 1
        coroutine.yield()
        return inner[name](inner, ...)
      end
    end
    local h = counting(function()
      for _ = 1, 5 do coroutine.yield() end -- the handler's own I/O
      return true
    end)
    local results, cos = {}, {}
    for i = 1, 6 do
      cos[i] = coroutine.create(function() results[i] = { receive("msg_i", h.fn, { store = store }) } end)
    end
    -- round robin until all are done
    local live = #cos
    while live > 0 do
      live = 0
      for _, co in ipairs(cos) do
        if coroutine.status(co) == "suspended" then
          local ok, err = coroutine.resume(co)
          assert(ok, err)
          live = live + 1
        end
      end
    end
    assert.are.equal(1, h.runs)
    local statuses = {}
    for i = 1, #results do statuses[results[i][1]] = (statuses[results[i][1]] or 0) + 1 end
    assert.are.same({ [200] = 1, [503] = 5 }, statuses)
    for i = 1, #results do
      if results[i][1] == 503 then
        assert.are.equal("another delivery of this webhook-id is being processed", results[i][2])
      end
    end
    assert.are.equal(6 + 5 + 1, calls) -- every add, the five gets, the one set: each yielded
    assert.are.same({ 200, "already processed" }, { receive("msg_i", h.fn, { store = inner }) })
  end)

  it("answers 503 when the store fails, without running the handler", function()
    local h = counting(true)
    local broken = { add = function() return nil, "connection refused" end, get = function() end,
      set = function() return true end, delete = function() end }
    local status, why, err = receive("msg_j", h.fn, { store = broken })
    assert.are.same({ 503, "the delivery store could not take it; try later" }, { status, why })
    assert.are.equal("store", err.code)
    assert.matches("connection refused", tostring(err))
    assert.are.equal(0, h.runs)
    -- processed, but the mark could not be kept: still a 2xx (a non-2xx would bring it back)
    local forgetful = { add = function() return true end, get = function() end,
      set = function() return nil, "no memory" end, delete = function() end }
    status, why, err = receive("msg_j", h.fn, { store = forgetful })
    assert.are.equal(200, status)
    assert.are.equal("ev1", why.eventId)
    assert.matches("processed, but the store could not keep the mark", tostring(err))
  end)

  it("uses one memory store per process by default", function()
    local h = counting(true)
    local id = "msg_default_" .. tostring(h):gsub("%W", "")
    assert.are.equal(200, (receive(id, h.fn)))
    assert.are.same({ 200, "already processed" }, { receive(id, h.fn) })
    assert.are.equal(1, h.runs)
  end)

  it("raises for mistakes, at the caller's line, never showing a secret", function()
    local headers, body = delivery("msg_k")
    local function mistake(f, msg)
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.matches("receiver_spec%.lua:%d+: basiq%.webhook%.receive: " .. msg, err)
      assert.is_nil(err:find(SECRET:sub(7, 20), 1, true))
    end
    mistake(function() basiq.webhook.receive(SECRET, headers, body, nil) end, "handler must be a function")
    mistake(function() basiq.webhook.receive(SECRET, headers, body, print, { keep = 0 }) end, "opts.keep must be")
    mistake(function() basiq.webhook.receive(SECRET, headers, body, print, { lease = -1 }) end, "opts.lease must be")
    mistake(function() basiq.webhook.receive(SECRET, headers, body, print, { store = {} }) end, "opts.store has no add")
    mistake(function() basiq.webhook.receive(SECRET, headers, body, print, { client = {} }) end, "opts.client must be")
    mistake(function() basiq.webhook.receive(SECRET:sub(1, -2) .. "!", headers, body, print) end,
      "the secret is not a Standard Webhooks secret")
    mistake(function() basiq.webhook.receive({ SECRET, 5 }, headers, body, print) end, "secret 2 must be a string")
  end)
end)

describe("basiq.webhook.receive's events", function()
  -- A client whose observer keeps every event, with its debug log kept
  -- (stderr while f runs) -> events, log lines, and what f returned.
  local function observed(f)
    local events, lines = {}, {}
    local client = basiq.new({ observe = function(ev) events[#events + 1] = ev end, debug = true })
    local stderr = io.stderr
    io.stderr = { write = function(_, ...) lines[#lines + 1] = table.concat({ ... }) end } -- luacheck: ignore 122
    local ok, err = pcall(f, client)
    io.stderr = stderr -- luacheck: ignore 122
    assert(ok, err)
    return events, table.concat(lines)
  end

  it("gives one event and one debug line per delivery, for every outcome, with no secret, signature or body", function()
    local store = basiq.webhook.memory_store()
    local broken = { add = function() return nil, "connection refused" end, get = function() end,
      set = function() return true end, delete = function() end }
    local body = '{"eventTypeId":"user.created","eventId":"ev-private-77",'
      .. '"links":{"eventEntity":"https://au-api.basiq.io/users/entity-private-88"}}'
    local sent = {}
    local events, log = observed(function(client)
      local function send(id, handler, opts, secret)
        local headers, raw = delivery(id, body, secret)
        sent[#sent + 1] = headers["webhook-signature"]
        opts.now, opts.client = T, client
        return basiq.webhook.receive(SECRET, headers, raw, handler, opts)
      end
      assert.are.equal(200, (send("msg_ev1", function() return true end, { store = store })))           -- processed
      assert.are.equal(200, (send("msg_ev1", function() return true end, { store = store })))           -- duplicate
      local held = coroutine.create(function()
        send("msg_ev2", function() coroutine.yield(); return true end, { store = store })
      end)
      assert(coroutine.resume(held))
      assert.are.equal(503, (send("msg_ev2", function() return true end, { store = store })))           -- in-progress
      local other = "whsec_" .. require("basiq.core").b64encode(("x"):rep(24))
      assert.are.equal(400, (send("msg_ev3", function() return true end, { store = store }, other)))    -- refused
      assert.are.equal(500, (send("msg_ev4", function() error("db " .. SECRET) end, { store = store }))) -- failed
      assert.are.equal(503, (send("msg_ev5", function() return true end, { store = broken })))          -- unavailable
    end)
    local outcomes = {}
    for _, ev in ipairs(events) do outcomes[#outcomes + 1] = ev.kind .. " " .. (ev.outcome or ev.code) end
    assert.are.same({ "webhook processed", "webhook duplicate", "webhook in-progress", "webhook refused",
      "webhook failed", "store unavailable", "webhook unavailable" }, outcomes)
    local expect = { { 200, true }, { 200 }, { 503 }, { 400 }, { 500, true }, nil, { 503 } }
    for i, ev in ipairs(events) do
      if ev.kind == "webhook" then
        assert.are.equal(expect[i][1], ev.status, i)
        assert.are.equal(i ~= 4 and "user.created" or nil, ev.eventTypeId, i) -- a forged body is never read
        assert.are.equal(expect[i][2] and "number" or "nil", type(ev.ms), i)   -- the handler's time, when it ran
      end
    end
    -- a line per event: the store's is its own warning, said once (not again as a debug line)
    assert.are.equal(6, select(2, log:gsub("basiq: webhook ", "")), log)
    assert.are.equal(1, select(2, log:gsub("basiq: the webhook delivery store is unavailable", "")), log)
    assert.matches("basiq: webhook processed user.created 200 %d+%.%d ms\n", log)
    assert.matches("basiq: webhook refused %- 400\n", log)
    assert.matches("basiq: the webhook delivery store is unavailable (connection refused); deliveries are answered 503",
      log, 1, true)
    local everything = { log }
    for _, ev in ipairs(events) do
      for k, v in pairs(ev) do everything[#everything + 1] = k .. "=" .. tostring(v) end
    end
    everything = table.concat(everything, "\n")
    for _, s in ipairs({ SECRET, SECRET:sub(7), body, "ev-private-77", "entity-private-88", "msg_ev", sent[1]:sub(4),
      sent[4]:sub(4) }) do
      assert.is_nil(everything:find(s, 1, true), s .. " is in:\n" .. everything)
    end
  end)

  it("answers 503 while the store cannot answer, says so once, and once more when it is back", function()
    local inner, up, h = basiq.webhook.memory_store(), false, counting(true)
    local flaky = {}
    for _, name in ipairs({ "add", "set", "get", "delete" }) do
      flaky[name] = function(_, ...)
        if not up then return nil, "redis 127.0.0.1:6379: connection refused" end
        return inner[name](inner, ...)
      end
    end
    local statuses = {}
    local events, log = observed(function(client)
      for i = 1, 3 do statuses[i] = receive("msg_down" .. i, h.fn, { store = flaky, client = client }) end
      up = true
      statuses[4] = receive("msg_down1", h.fn, { store = flaky, client = client })
      statuses[5] = receive("msg_down1", h.fn, { store = flaky, client = client })
    end)
    assert.are.same({ 503, 503, 503, 200, 200 }, statuses)
    assert.are.equal(1, h.runs)
    local stores = {}
    for _, ev in ipairs(events) do
      if ev.kind == "store" then stores[#stores + 1] = ev.store .. " " .. ev.code end
    end
    assert.are.same({ "webhook unavailable", "webhook recovered" }, stores)
    assert.are.equal(1, select(2, log:gsub("the webhook delivery store is unavailable", "")), log)
    assert.are.equal(1, select(2, log:gsub("the webhook delivery store is back", "")), log)
  end)

  it("frees only the mark its delivery holds: one whose lease lapsed never frees the next holder's", function()
    local now = 0
    local store = basiq.webhook.memory_store({ clock = function() return now end })
    local first = coroutine.create(function()
      return receive("msg_lapse", function() coroutine.yield(); return false end, { store = store, lease = 5 })
    end)
    assert(coroutine.resume(first)) -- its handler runs, and runs past its lease
    now = 6
    local second = coroutine.create(function()
      return receive("msg_lapse", function() coroutine.yield(); return true end, { store = store, lease = 5 })
    end)
    assert(coroutine.resume(second)) -- took the lapsed mark
    local held = store:get("msg_lapse")
    assert.matches("^processing ", held)
    local resumed, status = coroutine.resume(first) -- fails: frees its own mark only, which it no longer holds
    assert.are.same({ true, 500 }, { resumed, status })
    assert.are.equal(held, store:get("msg_lapse"))
    assert.are.same({ 503, "another delivery of this webhook-id is being processed" }, { receive("msg_lapse", print,
      { store = store }) })
    resumed, status = coroutine.resume(second)
    assert.are.same({ true, 200 }, { resumed, status })
    assert.are.equal("processed", store:get("msg_lapse"))
  end)
end)

describe("ctx.fetch", function()
  local srv
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  local function event_about(link)
    return '{"eventTypeId":"user.created","eventId":"ev2","links":{"eventEntity":"' .. link .. '"}}'
  end

  it("gets the event's entity through the client, on the client's own server", function()
    local base = srv.url .. "/tok/60/fetch"
    local client = basiq.new({ server = base, apiKey = "a2V5" })
    local got
    local status = receive("msg_l", function(_, ctx) got = { ctx.fetch() }; return true end,
      { store = basiq.webhook.memory_store(), client = client }, event_about(base .. "/users/u1"))
    assert.are.equal(200, status)
    assert.is_table(got[1], tostring(got[2]))
    assert.are.equal(200, got[1].status)
    assert.are.equal("GET", got[1].data.method)
    assert.are.equal("/tok/60/fetch/users/u1", got[1].data.target)
    assert.are.equal("fetch-1", got[1].data.token) -- with the client's automatic token
  end)

  it("refuses an eventEntity on another host (or another base path), sending nothing", function()
    local base = srv.url .. "/tok/60/away"
    local client = basiq.new({ server = base, apiKey = "a2V5" })
    local links = { srv.url .. "/inflight/away/0/users/u1", "http://127.0.0.2:" .. srv.port .. "/tok/60/away/users/u1",
      base .. ".evil.example/users/u1", "https://elsewhere.invalid/users/u1" }
    for _, link in ipairs(links) do
      local got
      receive("msg_m" .. link, function(_, ctx) got = { ctx.fetch() }; return true end,
        { store = basiq.webhook.memory_store(), client = client }, event_about(link))
      assert.is_nil(got[1], link)
      assert.are.equal("refused", got[2].code, link)
      assert.matches("not following this link (the token stays here): links are followed only on the client's own server",
        tostring(got[2]), 1, true)
    end
    assert.are.equal(0, procs.get_json(srv.url .. "/inflight/away/stats").total)
    assert.are.same({}, procs.get_json(base .. "/stats").issued) -- not even a token was asked for
  end)

  it("uses the module's client by default, and says when the event names no entity", function()
    local got, none
    receive("msg_n", function(_, ctx) got = { ctx.fetch() }; return true end,
      { store = basiq.webhook.memory_store() }, event_about("https://elsewhere.invalid/users/u1"))
    assert.are.equal("refused", got[2].code) -- the default client's server is Basiq's
    receive("msg_o", function(_, ctx) none = { ctx.fetch() }; return true end,
      { store = basiq.webhook.memory_store() }, '{"eventTypeId":"user.created","eventId":"ev3"}')
    assert.are.equal("no-entity", none[2].code)
    assert.are.equal("basiq.webhook.receive: the event has no links.eventEntity", tostring(none[2]))
  end)
end)

describe("basiq.webhook.memory_store", function()
  it("expires marks, and when full drops expired ones first, then the oldest written", function()
    local now = 0
    local s = basiq.webhook.memory_store({ max = 10, clock = function() return now end })
    assert.is_true(s:add("a", "x", 5))
    assert.are.same({ false, "exists" }, { s:add("a", "y", 5) })
    now = 5
    assert.is_nil(s:get("a"))
    assert.is_true(s:add("a", "y", 5))
    for i = 1, 9 do now = now + 1; assert.is_true(s:set("k" .. i, "v", 100)) end
    assert.are.equal(10, s.n)
    now = 11 -- "a" has expired: it makes the room
    assert.is_true(s:add("k10", "v", 100))
    assert.are.same({ 10, 0 }, { s.n, s.dropped })
    assert.is_true(s:add("k11", "v", 100)) -- nothing expired: the oldest tenth (k1) goes
    assert.are.same({ 10, 1 }, { s.n, s.dropped })
    assert.is_nil(s:get("k1"))
    assert.are.equal("v", s:get("k2"))
    s:delete("k2")
    assert.are.equal(9, s.n)
  end)

  it("raises for options it cannot take", function()
    assert.has_error(function() basiq.webhook.memory_store({ max = 0 }) end,
      "basiq.webhook.memory_store: max must be a positive integer")
    assert.has_error(function() basiq.webhook.shared_store({}) end,
      "basiq.webhook.shared_store: dict must be a lua_shared_dict (ngx.shared.<name>)")
  end)
end)
