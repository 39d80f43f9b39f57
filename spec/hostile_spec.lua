-- Hostile input: each row is either refused before anything is sent, with a
-- message naming the operation and the key, or sent safely encoded (checked
-- on the wire against the suite's echo server).
local procs = require("support.procs")
local basiq = require("basiq")
local cjson = require("cjson")

local MB = ("m"):rep(1024 * 1024)
local cyclic = { email = "a@b.c" }
cyclic.self = cyclic

-- { what, call(c) -> ..., refusal message (a plain substring) }
local REFUSED = {
  { "a non-string metadata key", function(c) return c.getUser({ userId = "u", [1] = "x" }) end,
    "basiq.getUser: metadata key 1 is not a string" },
  { "a table where a scalar goes", function(c) return c.getUser({ userId = { a = 1 } }) end,
    "basiq.getUser: parameter 'userId' must be a string, number, boolean or array of them" },
  { "NaN in a parameter", function(c) return c.getUser({ userId = 0 / 0 }) end,
    "basiq.getUser: parameter 'userId' must be" },
  { "infinity in a parameter", function(c) return c.getTransactions({ userId = "u", limit = math.huge }) end,
    "basiq.getTransactions: parameter 'limit' must be" },
  { "NaN in a body", function(c) return c.createUser({ email = 0 / 0 }) end,
    "basiq.createUser: body cannot be encoded as JSON (must not be NaN or Inf)" },
  { "a boolean body key", function(c) return c.createUser({ [true] = 1 }) end,
    "basiq.createUser: body cannot be encoded as JSON" },
  { "a cyclic body", function(c) return c.createUser(cyclic) end,
    "basiq.createUser: body cannot be encoded as JSON (nested too deeply, or a table contains itself)" },
  { "invalid UTF-8 in a JSON body", function(c) return c.createUser({ email = "\xff\xfe@x" }) end,
    "basiq.createUser: body contains invalid UTF-8" },
  { "CR LF in a header value", function(c)
      return c.postToken({ scope = "SERVER_ACCESS" }, { ["basiq-version"] = "3.0\r\nX-Evil: 1" }) end,
    "basiq.postToken: parameter 'basiq-version' contains CR, LF or NUL" },
  { "NUL in a header value", function(c)
      return c.postToken({ scope = "SERVER_ACCESS" }, { ["basiq-version"] = "3.0\0" }) end,
    "basiq.postToken: parameter 'basiq-version' contains CR, LF or NUL" },
  { "a 1 MB id", function(c) return c.getUser({ userId = MB }) end,
    "basiq.getUser: parameter 'userId' is longer than 16384 bytes" },
  { "'..' as an id", function(c) return c.getUser({ userId = ".." }) end,
    "basiq.getUser: parameter 'userId' must not be empty, '.' or '..'" },
  { "an empty id", function(c) return c.getUser({ userId = "" }) end,
    "basiq.getUser: parameter 'userId' must not be empty, '.' or '..'" },
  { "a nil hole in an array parameter", function(c) return c.getTransactions({ userId = "u", limit = { 1, nil, 3 } }) end,
    "basiq.getTransactions: parameter 'limit' must be" },
  { "metadata that is a number", function(c) return c.getUser(1, 2) end,
    "basiq.getUser: metadata must be a table, got number" },
  { "a body that is a string", function(c) return c.createUser("x") end,
    "basiq.createUser: body must be a table, got string" },
  { "a body for an operation without one", function(c) return c.getUser({}, { userId = "u" }) end,
    "basiq.getUser: takes no request body" },
  { "an unknown parameter", function(c) return c.getUser({ userId = "u", nope = 1 }) end,
    "basiq.getUser: unknown parameter 'nope'" },
  { "auth() with a number", function(c) return c.auth(42) end,
    "basiq.auth: credential must be a non-empty string without CR, LF or NUL" },
  { "auth() with CR LF", function(c) return c.auth("tok\r\nX-Evil: 1") end,
    "basiq.auth: credential must be a non-empty string without CR, LF or NUL" },
  { "server() with ftp", function(c) return c.server("ftp://example.com") end,
    "basiq.server: server must be an http:// or https:// URL" },
  { "server() with a table", function(c) return c.server({}) end,
    "basiq.server: server must be an http:// or https:// URL" },
  { "config() with a string", function(c) return c.config("fast") end, "basiq.config: options must be a table" },
  { "config() with a string timeout", function(c) return c.config({ timeout = "1" }) end,
    "basiq.config: option 'timeout' must be a positive number" },
  { "config() with an unknown option", function(c) return c.config({ verify = false }) end,
    "basiq.config: unknown option 'verify'" },
  { "new() with a number", function() return basiq.new(5) end, "basiq.new: options must be a table" },
  { "call() with an unknown name", function(c) return c.call("nope") end, "basiq.call: unknown operation 'nope'" },
}

-- { what, call(c) -> res, check(echo) }: sent, and encoded so it cannot change the request
local ENCODED = {
  { "NUL, CR and LF in an id", function(c) return c.getUser({ userId = "a\0b\r\nc" }) end,
    function(e) assert.are.equal("/users/a%00b%0D%0Ac", e.target) end },
  { "path traversal in ids", function(c) return c.getAccount({ userId = "../x", accountId = "%2e%2e/a/b" }) end,
    function(e) assert.are.equal("/users/..%2Fx/accounts/%252e%252e%2Fa%2Fb", e.target) end },
  { "invalid UTF-8 in an id", function(c) return c.getUser({ userId = "\xff\xfe" }) end,
    function(e) assert.are.equal("/users/%FF%FE", e.target) end },
  { "a huge number", function(c) return c.getTransactions({ userId = "u", limit = 1e300 }) end,
    function(e) assert.are.equal("/users/u/transactions?limit=1e%2B300", e.target) end },
  { "a negative zero and a float", function(c) return c.getTransactions({ userId = "u", limit = { -0.0, 0.1 } }) end,
    function(e) assert.matches("limit=%-?0&limit=0%.1$", e.target) end },
  { "a number-keyed body field", function(c) return c.createUser({ [1.5] = 1, email = "a@b.c" }) end,
    function(e) assert.are.same({ ["1.5"] = 1, email = "a@b.c" }, cjson.decode(e.body)) end },
  { "a 1 MB body string", function(c) return c.createUser({ email = MB }) end,
    function(e) assert.are.equal(MB, cjson.decode(e.body).email) end },
  { "a 16 KB id", function(c) return c.getUser({ userId = MB:sub(1, 16384) }) end,
    function(e) assert.are.equal("/users/" .. MB:sub(1, 16384), e.target) end },
  { "quotes and braces in a body", function(c) return c.createUser({ email = '"}],{"x":' }) end,
    function(e) assert.are.equal('"}],{"x":', cjson.decode(e.body).email) end },
}

describe("hostile input", function()
  local srv, client
  setup(function()
    srv = procs.httpd()
    client = basiq.new({ server = srv.url, retries = 0 }).auth("tok")
  end)
  teardown(function() srv.stop() end)

  for _, row in ipairs(REFUSED) do
    it("refuses " .. row[1], function()
      local ok, err = pcall(row[2], client)
      assert.is_false(ok, "accepted")
      assert.is_string(err)
      assert.matches(row[3], err, 1, true)
    end)
  end

  for _, row in ipairs(ENCODED) do
    it("encodes " .. row[1] .. " safely", function()
      local res, err = row[2](client)
      assert.is_nil(err)
      row[3](res.data)
    end)
  end

  it("never shows the key or a token in a crash, its traceback or tostring", function()
    local key, tok = "Basic c2VjcmV0LWFwaS1rZXktMTIz", "eyJzZWNyZXQtdG9rZW4tNDU2"
    local root = procs.ROOT
    local p = assert(io.popen("cd " .. root .. " && LUA_PATH_5_4='lua/?.lua;lua/?/init.lua;;'"
      .. " LUA_CPATH_5_4='build/lua5.4/?.so;;' lua5.4 -e " .. procs.sh_quote(
        "local b = require('basiq'); local c = b.new({ retries = 0, server = '" .. srv.url .. "/leaky' })"
        .. "; c.auth('" .. key .. "'); print(tostring(c)); local _, e = c.getUser({ userId = 'u' }); print(tostring(e))"
        .. "; c.auth('" .. tok .. "'); _, e = c.getUser({ userId = 'u' }); print(tostring(e)); print(e.detail)"
        .. "; c.getUser({})") .. " 2>&1"))
    local out = p:read("*a")
    p:close()
    assert.matches("basiq.getUser: missing required parameter 'userId'", out, 1, true) -- it did crash
    assert.matches("stack traceback", out, 1, true)
    assert.matches("[redacted]", out, 1, true) -- the server echoed both back
    assert.is_nil(out:find(key:sub(7), 1, true), out)
    assert.is_nil(out:find(tok, 1, true), out)
  end)

  it("is still a working client after all of that", function()
    assert.are.equal("/users/u1", assert(client.getUser({ userId = "u1" })).data.target)
  end)
end)
