-- Automatic tokens against a local stand-in for Basiq's /token whose tokens
-- live about a second (spec/support/httpd.lua, /tok/...): fetched on first
-- need, reused, renewed before expiry, renewed once on a refusal.
local procs = require("support.procs")
local basiq = require("basiq")
local core = require("basiq.core")
local cjson = require("cjson")

local KEY = "bXktYXBpLWtleTpzZWNyZXQtdmFsdWU="

describe("automatic tokens", function()
  local srv, n = nil, 0

  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  -- A fresh realm on the stand-in for each test: base URL and its stats.
  local function realm(life)
    n = n + 1
    local base = srv.url .. "/tok/" .. life .. "/r" .. n
    local probe = basiq.new({ server = base })
    local function issued()
      local h = core.new()
      local o = h:perform({ method = "GET", url = base .. "/stats" })
      local status, body = o.status, o.body
      h:close()
      assert.are.equal(200, status)
      return cjson.decode(body).issued
    end
    return base, issued, probe
  end

  it("frees a renewal's lock in the in-process store only for its holder", function()
    local t = 0
    local store = require("basiq.call.token").memory_store(function() return t end)
    local slow = coroutine.wrap(function()
      assert.is_true(store.lock("k", 1))
      coroutine.yield()
      store.unlock("k")
    end)
    slow()   -- takes the lock, and is slow:
    t = 2    -- its lock lapses,
    assert.is_true(store.lock("k", 30)) -- and another caller takes it
    slow()   -- the slow one's unlock leaves that lock alone
    assert.is_false(store.lock("k", 30))
    store.unlock("k") -- the holder's own frees it
    assert.is_true(store.lock("k", 30))
    store.unlock("k")
  end)

  it("fetches one SERVER_ACCESS token on first need and reuses it", function()
    local base, issued = realm(60)
    local c = basiq.new({ server = base }).auth("Basic " .. KEY)
    for i = 1, 5 do
      local res, err = c.getUser({ userId = "u" .. i })
      assert.is_nil(err)
      assert.are.equal("/users/u" .. i, res.data.target:match("/users/.*$"))
    end
    local list = issued()
    assert.are.equal(1, #list)
    assert.are.equal("SERVER_ACCESS", list[1].scope)
    assert.are.equal("3.0", list[1].version)
    assert.are.equal("Basic " .. KEY, list[1].key)
  end)

  it("takes the key with or without 'Basic ' through new{ apiKey = ... }", function()
    for _, key in ipairs({ KEY, "Basic " .. KEY }) do
      local base, issued = realm(60)
      local c = basiq.new({ server = base, apiKey = key })
      local res = assert(c.getUser({ userId = "u1" }))
      assert.are.equal(issued()[1].token, res.data.token)
      assert.are.equal("Basic " .. KEY, issued()[1].key)
    end
  end)

  it("renews across expiry with one token request per lifetime and no error", function()
    local base, issued = realm(1) -- lives 1 s; renewed when less than 0.1 s is left
    local c = basiq.new({ server = base, apiKey = KEY })
    local seen, order = {}, {}
    local t0 = core.now()
    while core.now() - t0 < 3.5 do
      local res, err = c.getUser({ userId = "u1" })
      assert.is_nil(err) -- the user never sees the expiry
      if not seen[res.data.token] then
        seen[res.data.token] = true
        order[#order + 1] = res.data.token
      end
      core.sleep(0.05)
    end
    local elapsed = core.now() - t0
    local list = issued()
    -- exactly the tokens used, each one used before the next was asked for
    assert.are.equal(#order, #list)
    for i, t in ipairs(list) do assert.are.equal(t.token, order[i]) end
    -- and only as many as the lifetime needs: one per 0.9 s, not one per call
    assert.is_true(#list >= math.floor(elapsed / 1.0), "too few tokens for " .. elapsed .. " s: " .. #list)
    assert.is_true(#list <= math.ceil(elapsed / 0.9) + 1, "too many tokens for " .. elapsed .. " s: " .. #list)
  end)

  it("renews once and repeats the call on a 403 'Token has expired'", function()
    local base, issued = realm("0.3:3600") -- claims an hour, dies after 0.3 s
    local c = basiq.new({ server = base, apiKey = KEY })
    assert(c.getUser({ userId = "u1" }))
    core.sleep(0.4)
    local res, err = c.getUser({ userId = "u1" })
    assert.is_nil(err)
    assert.are.equal(2, #issued())
    assert.are.equal(issued()[2].token, res.data.token)
  end)

  it("renews once and repeats the call on a 401", function()
    local base, issued = realm(60)
    local c = basiq.new({ server = base, apiKey = KEY })
    assert(c.getUser({ userId = "u1" }))
    local h = core.new()
    assert.are.equal(204, h:perform({ method = "POST", url = base .. "/revoke" }).status)
    h:close()
    local res, err = c.deleteUser({ userId = "u1" })
    assert.is_nil(err)
    assert.are.equal("DELETE", res.data.method)
    assert.are.equal(2, #issued())
  end)

  it("returns any other 403, and a second refusal, as nil, err", function()
    local base, issued = realm(60)
    local c = basiq.new({ server = base, apiKey = KEY })
    local res, err = c.call("getUser", { userId = "x" }) -- warm
    assert.is_table(res, tostring(err))
    -- a 403 that is not about the token: no renewal
    c.server(base .. "/forbidden")
    res, err = c.getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal(403, err.status)
    assert.are.equal("access-denied", err.code)
    assert.are.equal(1, #issued())
  end)

  it("gives up after one renewal when the fresh token is refused too", function()
    local base, issued = realm("0:3600") -- every token is already dead
    local c = basiq.new({ server = base, apiKey = KEY })
    local res, err = c.getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal(403, err.status)
    assert.matches("^basiq%.getUser: HTTP 403", err.message)
    assert.are.equal(2, #issued())
  end)

  it("reports a failed token request as the call's error, without the key", function()
    local c = basiq.new({ server = srv.url .. "/leaky", apiKey = KEY })
    local res, err = c.getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal(401, err.status)
    assert.matches("^basiq%.getUser: could not get a token: HTTP 401", err.message)
    local texts = { tostring(err), tostring(c), err.detail, err.title, cjson.encode(err.data) }
    for _, text in ipairs(texts) do
      assert.is_nil(text:find(KEY, 1, true), "key leaked into: " .. text)
    end
  end)

  it("redacts automatic tokens that a server echoes back", function()
    local base, issued = realm(60)
    local c = basiq.new({ server = base, apiKey = KEY })
    assert(c.getUser({ userId = "u1" }))
    local tok = issued()[1].token
    local _, err = c.server(base .. "/leak").getUser({ userId = "u1" })
    assert.are.equal(403, err.status)
    assert.matches("You sent Bearer [redacted]", err.detail, 1, true)
    for _, text in ipairs({ tostring(err), err.detail, cjson.encode(err.data) }) do
      assert.is_nil(text:find(tok, 1, true), "token leaked into: " .. text)
    end
  end)

  it("keeps the manual flow: a token is used as given, nothing is fetched", function()
    local base, issued = realm(60)
    local c = basiq.new({ server = base }).auth("r-manual")
    local res, err = c.getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal(401, err.status) -- no renewal for a token the user gave
    assert.are.equal(0, #issued())
    -- postToken by hand, then auth(token): the seed's flow
    c.auth("Basic " .. KEY)
    local tok = assert(c.postToken({ scope = "SERVER_ACCESS" }, { ["basiq-version"] = "3.0" }))
    c.auth(tok.data.access_token)
    res = assert(c.getUser({ userId = "u1" }))
    assert.are.equal(tok.data.access_token, res.data.token)
    assert.are.equal(1, #issued())
  end)

  it("caches a CLIENT_ACCESS token per user and renews it after expiry", function()
    local base, issued = realm(1)
    local c = basiq.new({ server = base, apiKey = KEY })
    local a1 = assert(c.clientToken("user-a"))
    assert.are.equal(a1, c.clientToken("user-a"))
    local b1 = assert(c.clientToken("user-b"))
    assert.are_not.equal(a1, b1)
    local list = issued()
    assert.are.equal(2, #list)
    assert.are.same({ "CLIENT_ACCESS", "user-a" }, { list[1].scope, list[1].userId })
    assert.are.same({ "CLIENT_ACCESS", "user-b" }, { list[2].scope, list[2].userId })
    core.sleep(1)
    local a2 = assert(c.clientToken("user-a"))
    assert.are_not.equal(a1, a2)
    assert.are.equal(3, #issued())
  end)

  it("refuses clientToken without an API key or without a user", function()
    assert.has_error(function() basiq.new().auth("tok").clientToken("u") end,
      "basiq.clientToken: needs an API key: basiq.auth(\"Basic <key>\") or basiq.new{ apiKey = ... }")
    assert.has_error(function() basiq.new({ apiKey = KEY }).clientToken("") end,
      "basiq.clientToken: userId must be a non-empty string")
  end)

  it("has one renewal in flight while many coroutines share a client", function()
    local base, issued = realm(60)
    local h = core.new()
    -- a transport that yields before each request, as a cosocket would
    local c = basiq.new({ server = base, apiKey = KEY, transport = {
      request = function(_, req) coroutine.yield(); return h:perform(req) end,
      sleep = function() coroutine.yield() end,
    } })
    local cos, results = {}, {}
    for i = 1, 10 do
      cos[i] = coroutine.create(function() results[i] = { c.getUser({ userId = "u" .. i }) } end)
    end
    local alive = #cos
    while alive > 0 do -- round-robin until every coroutine has finished
      alive = 0
      for _, co in ipairs(cos) do
        if coroutine.status(co) ~= "dead" then
          assert(coroutine.resume(co))
          alive = alive + 1
        end
      end
    end
    h:close()
    for i = 1, 10 do
      assert.is_table(results[i][1], tostring(results[i][2]))
    end
    assert.are.equal(1, #issued())
  end)

  it("never fetches a token over plain http when the call itself may go", function()
    -- A loaded document may define postToken (it replaces the built-in one).
    -- Its server, not the call's, gets the API key: the call's own guard
    -- did not cover it. No network here: a transport stands in.
    local sent, refuse = {}, false
    local transport = function(req)
      sent[#sent + 1] = req.url
      if refuse then -- once: the token is refused, so a new one is fetched
        refuse = false
        return { status = 401, headers = { ["content-type"] = "application/json" }, body = "{}" }
      elseif req.url:find("/token$") then
        return { status = 200, headers = { ["content-type"] = "application/json" },
                 body = cjson.encode({ access_token = "t" .. #sent, expires_in = 3600 }) }
      end
      return { status = 200, headers = { ["content-type"] = "application/json" }, body = "{}" }
    end
    local function doc(paths)
      return procs.temp_file({ openapi = "3.0.0", servers = { { url = "http://127.0.0.1:9/api" } },
        components = { securitySchemes = { b = { type = "http", scheme = "bearer" },
          k = { type = "apiKey", name = "Authorization", ["in"] = "header" } } },
        paths = paths })
    end
    local widget = { ["/w"] = { get = { operationId = "GetWidget", security = { { b = {} } },
      responses = { ["200"] = { description = "ok" } } } } }
    local tokens = { ["/token"] = { post = { operationId = "PostToken", security = { { k = {} } },
      servers = { { url = "http://0.0.0.0:9/api" } },
      parameters = { { name = "basiq-version", ["in"] = "header", required = true, schema = { type = "string" } } },
      requestBody = { content = { ["application/x-www-form-urlencoded"] = { schema = { type = "object" } } } },
      responses = { ["200"] = { description = "ok" } } } } }
    local refusal = "basiq.getWidget: refusing to send credentials over plain http to a host other than loopback;"
      .. " use https, or basiq.config{ allowInsecureHttp = true }"
    local both = doc({ ["/w"] = widget["/w"], ["/token"] = tokens["/token"] })
    local c = basiq.new({ apiKey = KEY, transport = transport })
    assert.are.equal(2, c.load(both))
    assert.has_error(function() c.getWidget() end, refusal)
    assert.are.same({}, sent)
    -- the same when postToken arrives after the call was first made
    local w, t = doc(widget), doc(tokens)
    c = basiq.new({ apiKey = KEY, transport = transport })
    c.load(w)
    assert(c.getWidget())
    assert.are.same({ "https://au-api.basiq.io/token", "http://127.0.0.1:9/api/w" }, sent)
    c.load(t)
    refuse = true
    assert.has_error(function() c.getWidget() end, refusal)
    assert.are.equal(2, #sent)
    -- opting in lifts it
    assert(c.config({ allowInsecureHttp = true }).getWidget())
    assert.are.same({ "http://127.0.0.1:9/api/w", "http://0.0.0.0:9/api/token", "http://127.0.0.1:9/api/w" },
      { sent[3], sent[4], sent[5] })
    for _, p in ipairs({ both, w, t }) do os.remove(p) end
  end)
end)
