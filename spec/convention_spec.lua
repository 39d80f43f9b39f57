-- The one error convention: a mistake raises "basiq.<function>: ..." at the
-- caller's line, whichever public function found it and however deep; every
-- other failure is nil, err with a basiq error object.
local basiq = require("basiq")
local procs = require("support.procs")

local MISTAKES = {
  { "getUser({})", function(c) return c.getUser({}) end, "basiq.getUser: missing required parameter 'userId'" },
  { "new(5)", function(c) return c.new(5) end, "basiq.new: options must be a table" },
  { "new{ nosuch }", function(c) return c.new({ nosuch = 1 }) end, "basiq.new: unknown option 'nosuch'" },
  { "new{ transport = 5 }", function(c) return c.new({ transport = 5 }) end, "basiq.new: option 'transport' must be" },
  { "config(5)", function(c) return c.config(5) end, "basiq.config: options must be a table" },
  { "config{ retries = 11 }", function(c) return c.config({ retries = 11 }) end,
    "basiq.config: option 'retries' must be an integer from 0 to 10" },
  { "server(ftp)", function(c) return c.server("ftp://x") end, "basiq.server: server must be an http:// or https:// URL" },
  { "auth('')", function(c) return c.auth("") end, "basiq.auth: credential must be a non-empty string" },
  { "call(nope)", function(c) return c.call("nope") end, "basiq.call: unknown operation 'nope'" },
  { "paginate(POST)", function(c) return c.paginate("createUser", {}) end,
    "basiq.paginate: createUser is not a list operation (GET)" },
  { "batch('x')", function(c) return c.batch("x") end, "basiq.batch: calls must be a list" },
  { "batch: a bad call", function(c) return c.batch({ { "getUser", {} } }) end,
    "basiq.batch: call 1: basiq.getUser: missing required parameter 'userId'" },
  { "waitForJob('')", function(c) return c.waitForJob("") end, "basiq.waitForJob: jobId must be a non-empty string" },
  { "clientToken('')", function(c) return c.clientToken("") end, "basiq.clientToken: userId must be a non-empty string" },
  { "filter({})", function(c) return c.filter({}) end, "basiq.filter: no conditions" },
  { "webhook.verify(5)", function(c) return c.webhook.verify(5, {}, "") end,
    "basiq.webhook.verify: secret must be" },
  { "webhook.receive(no handler)", function(c) return c.webhook.receive("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", {}, "") end,
    "basiq.webhook.receive: handler must be a function" },
  { "webhook.receive(bad secret)", function(c) return c.webhook.receive("whsec_", {}, "", print) end,
    "basiq.webhook.receive: the secret is not a Standard Webhooks secret" },
  { "follow(5)", function(c) return c.follow(5) end, "basiq.follow: link must be a string" },
  { "webhook.sign(5)", function(c) return c.webhook.sign(5) end, "basiq.webhook.sign: secret, id and body must be strings" },
  { "load(5)", function(c) return c.load(5) end, "basiq.load: source must be a string or a table" },
  { "plain http", function(c) return c.new({ server = "http://api.example.com" }).auth("t").getUser({ userId = "u" }) end,
    "basiq.getUser: refusing to send credentials over plain http" },
  -- a newcomer's first hour: each mistake says how to fix it
  { "c:getUser{} (a colon)", function(c) return c:getUser({ userId = "x" }) end,
    "basiq.getUser: call it with a dot, basiq.getUser(...), not a colon (which passes basiq as the first argument)" },
  { "c:listEventTypes()", function(c) return c:listEventTypes() end, "basiq.listEventTypes: call it with a dot" },
  { "c:config{}", function(c) return c:config({ timeout = 5 }) end, "basiq.config: call it with a dot" },
  { "c:paginate()", function(c) return c:paginate("getUser") end, "basiq.paginate: call it with a dot" },
  { "c.webhook:verify()", function(c) return c.webhook:verify({}, "") end,
    "basiq.webhook.verify: call it with a dot, basiq.webhook.verify(...), not a colon (which passes basiq.webhook" },
  { "limit = 'abc'", function(c) return c.getTransactions({ userId = "u", limit = "abc" }) end,
    "basiq.getTransactions: parameter 'limit' must be an integer, not the string \"abc\"" },
  { "limit = 1.5", function(c) return c.getTransactions({ userId = "u", limit = 1.5 }) end,
    "basiq.getTransactions: parameter 'limit' must be an integer (a whole number), not 1.5" },
  { "limit = true", function(c) return c.getTransactions({ userId = "u", limit = true }) end,
    "basiq.getTransactions: parameter 'limit' must be an integer, not true" },
  { "filter = { a list }", function(c) return c.getTransactions({ userId = "u", filter = { "account.id", "eq", "x" } }) end,
    "basiq.getTransactions: parameter 'filter' must be a string, not a list (basiq.filter{ ... } makes one" },
  { "createUser{ emial }", function(c) return c.createUser({ emial = "gavin@hooli.com" }) end,
    "basiq.createUser: unknown body field 'emial' (did you mean email?); a field the definition does not list yet"
    .. " goes in a body of JSON text" },
  { "a call before any auth", function(c) return c.new().getUser({ userId = "u" }) end,
    'basiq.getUser: no credential: call basiq.auth("Basic " .. apiKey) first (or basiq.new{ apiKey = apiKey });'
    .. " with a token: basiq.auth(token)" },
  { "paginate before any auth", function(c) return c.new().paginate("getTransactions", { userId = "u" }) end,
    "basiq.paginate: no credential: " },
  { "batch: getUsr", function(c) return c.batch({ { "getUsr", { userId = "u" } } }) end,
    "basiq.batch: call 1: unknown operation 'getUsr' (did you mean getUser?)" },
  { "call(getUsr)", function(c) return c.call("getUsr", { userId = "u" }) end,
    "basiq.call: unknown operation 'getUsr' (did you mean getUser?)" },
  { "config{ retry = 5 }", function(c) return c.config({ retry = 5 }) end,
    "basiq.config: unknown option 'retry' (did you mean retries?)" },
  { "batch{ concurency }", function(c) return c.batch({}, { concurency = 4 }) end,
    "basiq.batch: unknown option 'concurency' (did you mean concurrency?)" },
  { "waitForJob{ intervall }", function(c) return c.waitForJob("j", { intervall = 5 }) end,
    "basiq.waitForJob: unknown option 'intervall' (did you mean interval?)" },
  { "webhook.verify{ tolerence }", function(c)
      return c.webhook.verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", {}, "", { tolerence = 5 }) end,
    "basiq.webhook.verify: unknown option 'tolerence' (did you mean tolerance?)" },
  { "webhook.receive{ keap }", function(c)
      return c.webhook.receive("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", {}, "", print, { keap = 5 }) end,
    "basiq.webhook.receive: unknown option 'keap' (did you mean keep?)" },
  { "webhook.memory_store{ Max }", function(c) return c.webhook.memory_store({ Max = 5 }) end,
    "basiq.webhook.memory_store: unknown option 'Max' (did you mean max?)" },
  { "redisStore{ hots }", function(c) return c.redisStore({ hots = "h" }) end,
    "basiq.redisStore: unknown option 'hots' (did you mean host?)" },
}

describe("a mistake", function()
  for _, case in ipairs(MISTAKES) do
    it("raises at the caller's line: " .. case[1], function()
      local c = basiq.new({ apiKey = "k" })
      local line
      local ok, err = pcall(function()
        line = debug.getinfo(1, "l").currentline; case[2](c)
      end)
      assert.is_false(ok)
      assert.is_string(err)
      local file, at, msg = err:match("^(.-):(%d+): (.*)$")
      assert.matches("convention_spec%.lua$", file or "", nil, nil, err)
      assert.are.equal(line, tonumber(at), err)
      assert.are.equal(1, msg:find(case[3], 1, true), err)
    end)
  end
end)

describe("every other failure", function()
  it("is nil, err with an error object: load of a missing file, of invalid JSON", function()
    local n, err = basiq.new().load("/nonexistent/basiq.json")
    assert.is_nil(n)
    assert.are.equal("basiq.error", getmetatable(err).__name)
    assert.are.equal("load", err.code)
    assert.matches("^basiq.load: .*No such file", tostring(err))
    local path = procs.temp_file("{ not json")
    n, err = basiq.new().load(path)
    os.remove(path)
    assert.is_nil(n)
    assert.are.equal("invalid", err.code)
    assert.matches("^basiq.load: .*invalid JSON", err.message)
  end)

  it("is nil, err from the token store when another renewal outlasts the call", function()
    local token = require("basiq.call.token")
    local t = 0
    local clock = { now = function() return t end, sleep = function(s) t = t + s end }
    local store = token.memory_store(clock.now)
    assert.is_true(store.lock("k", 1000)) -- someone else is renewing, and does not finish in time
    local tok, err = token.get(store, clock, "k", function() error("not called") end, 1)
    assert.is_nil(tok)
    assert.are.equal("basiq.error", getmetatable(err).__name)
    assert.are.equal("timeout", err.code)
    assert.matches("timed out waiting for another token renewal", tostring(err))
  end)
end)

-- The layout's promise: `require "basiq"` loads the call path and nothing a
-- call may never need (the C core, definitions, the command, Redis, nginx's
-- transport, the receiver and its stores load on first use).
describe("require 'basiq'", function()
  it("loads the call path only", function()
    local script = [[local before = {} for k in pairs(package.loaded) do before[k] = true end
      require("basiq")
      local l = {} for k in pairs(package.loaded) do if not before[k] then l[#l + 1] = k end end
      table.sort(l) print(table.concat(l, " "))]]
    local code, out, err = procs.run(procs.LUA_ENV .. " " .. procs.LUA .. " -e " .. procs.sh_quote(script))
    assert.are.equal(0, code, err)
    local loaded = {}
    for name in out:gmatch("%S+") do loaded[name] = true end
    assert.is_true(loaded["basiq.call.engine"] and loaded["basiq.transport"] and true)
    for name in pairs(loaded) do
      local group = name:match("^basiq%.(%w+)[%.]?") or name
      local lazy = { core = true, definitions = true, cli = true, redis = true, lyaml = true, argparse = true }
      assert.is_nil(lazy[group] or name:match("^basiq%.transport%.ngx") or name:match("^basiq%.webhook%.receiver")
        or name:match("_store$"), name)
    end
  end)
end)
