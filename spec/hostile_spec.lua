-- Hostile input: each row is either refused before anything is sent, with a
-- message naming the operation and the key, or sent safely encoded (checked
-- on the wire against the suite's echo server).
local procs = require("support.procs")
local transports = require("support.transports")
local basiq = require("basiq")
local cjson = require("cjson")

local MB = ("m"):rep(1024 * 1024)
local DEEP = {}
do
  local t = DEEP
  for _ = 1, 2000 do t.x = {}; t = t.x end
end
-- form values whose '&' and '=' land all along core.form's growing buffer
local MANY, MANY_WIRE = {}, {}
for i = 1, 300 do
  MANY[i] = ("v"):rep(i - 1) .. " "
  MANY_WIRE[i] = "scope=" .. ("v"):rep(i - 1) .. "%20"
end
MANY_WIRE = table.concat(MANY_WIRE, "&")
local cyclic = { email = "a@b.c" } -- under a string field: the schema's checks stop there, cjson's go on
cyclic.self = cyclic

-- { what, call(c) -> ..., refusal message (a plain substring) }
local REFUSED = {
  { "a non-string metadata key", function(c) return c.getUser({ userId = "u", [1] = "x" }) end,
    "basiq.getUser: metadata key 1 is not a string" },
  { "a table where a scalar goes", function(c) return c.getUser({ userId = { a = 1 } }) end,
    "basiq.getUser: parameter 'userId' must be a string, not a table" },
  { "NaN in a parameter", function(c) return c.getUser({ userId = 0 / 0 }) end,
    "basiq.getUser: parameter 'userId' must be" },
  { "infinity in a parameter", function(c) return c.getTransactions({ userId = "u", limit = math.huge }) end,
    "basiq.getTransactions: parameter 'limit' must be" },
  { "NaN in a body", function(c) return c.createUser({ email = 0 / 0 }) end,
    "basiq.createUser: body cannot be encoded as JSON (must not be NaN or Inf)" },
  { "a boolean body key", function(c) return c.createUser({ [true] = 1 }) end,
    "basiq.createUser: unknown body field 'true'" },
  { "a number-keyed body field", function(c) return c.createUser({ [1.5] = 1, email = "a@b.c" }) end,
    "basiq.createUser: unknown body field '[1.5]'" },
  { "a cyclic body", function(c) return c.createUser({ mobile = cyclic }) end,
    "basiq.createUser: body cannot be encoded as JSON (nested too deeply, or a table contains itself)" },
  { "invalid UTF-8 in a JSON body", function(c) return c.createUser({ email = "\255\254@x" }) end, -- \ddd: Lua 5.1 has no \x
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
  { "a body of JSON text that is not UTF-8", function(c) return c.createUser('{"email":"\255"}') end,
    "basiq.createUser: body contains invalid UTF-8 (byte 11)" },
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
  { "a function in a body", function(c) return c.createUser({ email = print }) end,
    "basiq.createUser: body cannot be encoded as JSON (type not supported)" },
  { "an open file in a JSON body", function(c) return c.createUser({ email = io.stdout }) end,
    "basiq.createUser: body cannot be encoded as JSON (type not supported)" },
  { "an excessively sparse array in a body", function(c) return c.createUser({ mobile = { [100000] = 1 } }) end,
    "basiq.createUser: body cannot be encoded as JSON (excessively sparse array)" },
  { "a body nested 2000 deep", function(c) return c.createUser({ mobile = DEEP }) end,
    "basiq.createUser: body cannot be encoded as JSON (nested too deeply, or a table contains itself)" },
  { "a boolean body", function(c) return c.createUser(false) end,
    "basiq.createUser: body must be a table or JSON text, got boolean" },
  { "a function as a parameter", function(c) return c.getUser({ userId = print }) end,
    "basiq.getUser: parameter 'userId' must be a string, not a function" },
  { "CR LF in a metadata key (shown escaped)", function(c) return c.getUser({ ["user\r\nId"] = "x" }) end,
    "basiq.getUser: unknown parameter 'user\\13\\10Id'" },
  { "a 1 MB metadata key (shown cut short)", function(c) return c.getUser({ [MB] = "x" }) end,
    "basiq.getUser: unknown parameter '" .. MB:sub(1, 61) .. "...'" },
  { "NaN in a form body", function(c) return c.postToken({ scope = 0 / 0 }, { ["basiq-version"] = "3.0" }) end,
    "basiq.postToken: body field 'scope' must be a string, number, boolean or array of them" },
  { "a number key in a form body", function(c) return c.postToken({ [5] = "x" }, { ["basiq-version"] = "3.0" }) end,
    "basiq.postToken: unknown body field '[5]' (it takes scope, userId)" },
  { "a table as a header value", function(c) return c.postToken({ scope = "x" }, { ["basiq-version"] = { a = 1 } }) end,
    "basiq.postToken: parameter 'basiq-version' must be a string, not a table" },
  { "a list as a header value", function(c)
      return c.postToken({ scope = "x" }, { ["basiq-version"] = { "3.0", "x\r\nX-Evil: 1" } }) end,
    "basiq.postToken: parameter 'basiq-version' must be a string, not a list" },
  { "a number as a multipart file", function(c) return c.createStatement({ statement = 5 }, { userId = "u" }) end,
    "basiq.createStatement: body field 'statement' must be an open file, { path = ... } or { data = ... }" },
  { "CR LF in a multipart filename", function(c)
      return c.createStatement({ statement = { data = "x", filename = "a\r\nX-Evil: 1" } }, { userId = "u" }) end,
    "basiq.createStatement: body field 'statement': filename and content_type must be plain text" },
  { "a quote in a multipart content type", function(c)
      return c.createStatement({ statement = { data = "x", content_type = 'text/csv"' } }, { userId = "u" }) end,
    "basiq.createStatement: body field 'statement': filename and content_type must be plain text" },
  { "auth() with nil", function(c) return c.auth(nil) end,
    "basiq.auth: credential must be a non-empty string without CR, LF or NUL" },
  { "auth() with NUL", function(c) return c.auth("tok\0") end,
    "basiq.auth: credential must be a non-empty string without CR, LF or NUL" },
  { "config() with nil", function(c) return c.config(nil) end, "basiq.config: options must be a table" },
  { "config() with a NaN timeout", function(c) return c.config({ timeout = 0 / 0 }) end,
    "basiq.config: option 'timeout' must be a positive number" },
  { "config() with an infinite timeout", function(c) return c.config({ timeout = math.huge }) end,
    "basiq.config: option 'timeout' must be a positive number" },
  { "config() with a timeout under a millisecond", function(c) return c.config({ timeout = 0.5 }) end,
    "basiq.config: option 'timeout' is in milliseconds: at least 1" },
  { "new() with a connectTimeout under a millisecond", function() return require("basiq").new({ connectTimeout = 0.25 }) end,
    "basiq.new: option 'connectTimeout' is in milliseconds: at least 1" },
  { "config() with a negative maxBodySize", function(c) return c.config({ maxBodySize = -1 }) end,
    "basiq.config: option 'maxBodySize' must be a positive number" },
  { "config() with 1e9 retries", function(c) return c.config({ retries = 1e9 }) end,
    "basiq.config: option 'retries' must be an integer from 0 to 10" },
  { "config() with a number transport", function(c) return c.config({ transport = 5 }) end,
    "basiq.config: option 'transport' must be \"curl\", a function or a table with request()" },
  { "new() with a number", function() return basiq.new(5) end, "basiq.new: options must be a table" },
  { "new() with a number server", function() return basiq.new({ server = 5 }) end,
    "basiq.new: server must be an http:// or https:// URL" },
  { "clientToken() with a number", function(c) return c.clientToken(5) end,
    "basiq.clientToken: userId must be a non-empty string" },
  { "load() with a function", function(c) return c.load(print) end, "basiq.load: source must be a string or a table" },
  { "call() with an unknown name", function(c) return c.call("nope") end, "basiq.call: unknown operation 'nope'" },
}

-- { what, call(c) -> res, check(echo) }: sent, and encoded so it cannot change the request
local ENCODED = {
  { "NUL, CR and LF in an id", function(c) return c.getUser({ userId = "a\0b\r\nc" }) end,
    function(e) assert.are.equal("/users/a%00b%0D%0Ac", e.target) end },
  { "path traversal in ids", function(c) return c.getAccount({ userId = "../x", accountId = "%2e%2e/a/b" }) end,
    function(e) assert.are.equal("/users/..%2Fx/accounts/%252e%252e%2Fa%2Fb", e.target) end },
  { "invalid UTF-8 in an id", function(c) return c.getUser({ userId = "\255\254" }) end,
    function(e) assert.are.equal("/users/%FF%FE", e.target) end },
  { "a huge number", function(c) return c.enrich({ q = "x", institution = "i", country = "AU", amount = 1e300 }) end,
    function(e) assert.are.equal("amount=1e%2B300", e.target:match("[^&]*$")) end },
  { "a negative zero and a float", function(c)
      return c.enrich({ q = -0.0, institution = "i", country = "AU", amount = 0.1 }) end,
    function(e) assert.matches("^/enrich%?q=%-?0&.*&amount=0%.1$", e.target) end },
  { "a 1 MB body string", function(c) return c.createUser({ email = MB }) end,
    function(e) assert.are.equal(MB, cjson.decode(e.body).email) end },
  { "a 16 KB id", function(c) return c.getUser({ userId = MB:sub(1, 16384) }) end,
    function(e) assert.are.equal("/users/" .. MB:sub(1, 16384), e.target) end },
  { "NUL, CR and LF in a query value", function(c) return c.getTransactions({ userId = "u", filter = "a\r\nb\0c" }) end,
    function(e) assert.are.equal("/users/u/transactions?filter=a%0D%0Ab%00c", e.target) end },
  { "CR, LF, & and = in a form body", function(c)
      return c.postToken({ scope = "a\r\nb&c=d" }, { ["basiq-version"] = "3.0" }) end,
    function(e) assert.are.equal("scope=a%0D%0Ab%26c%3Dd", e.body) end },
  { "a form body of 300 values, 1 to 300 bytes long", function(c)
      return c.postToken({ scope = MANY }, { ["basiq-version"] = "3.0" }) end,
    function(e) assert.are.equal(MANY_WIRE, e.body) end },
  { "a nil hole in a body array (as null)", function(c) return c.createUser({ email = "a@b.c", mobile = { 1, nil, 3 } }) end,
    function(e) assert.matches('"mobile":[1,null,3]', e.body, 1, true) end },
  { "a slash and '..' inside a longer id", function(c) return c.getUser({ userId = "a/../b" }) end,
    function(e) assert.are.equal("/users/a%2F..%2Fb", e.target) end },
  { "quotes and braces in a body", function(c) return c.createUser({ email = '"}],{"x":' }) end,
    function(e) assert.are.equal('"}],{"x":', cjson.decode(e.body).email) end },
}

for _, via in ipairs(transports.each()) do
describe("hostile input" .. via.label, function()
  if via.skip then return pending(via.skip) end
  local srv, client
  setup(function()
    srv = procs.httpd()
    via.start()
    client = basiq.new({ server = srv.url, retries = 0, transport = via.transport }).auth("tok")
  end)
  teardown(function()
    via.stop()
    srv.stop()
  end)

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

  it("never sends to a server URL with a NUL in it (libcurl would stop there: a host the guard never saw)", function()
    local c = basiq.new({ retries = 0 }).auth("tok")
    -- basiq.server() refuses it first
    local ok, err = pcall(c.server, "http://evil.invalid\0@127.0.0.1")
    assert.is_false(ok)
    assert.matches("basiq.server: server must be an http:// or https:// URL", err, 1, true)
    -- and the core refuses it too, before libcurl (or nginx's socket) sees it
    local o = via.request({ method = "GET", url = "http://evil.invalid\0@127.0.0.1/" })
    local st, msg = o.status, o.message
    assert.is_nil(st)
    assert.matches("the URL contains a NUL byte", msg, 1, true)
  end)

  it("has the core refuse header lines with CR, LF or NUL, whoever built them", function()
    for _, line in ipairs({ "X-A: 1\r\nX-Evil: 1", "X-A: 1\nX-Evil: 1", "X-A: 1\0X-Evil: 1" }) do
      local o = via.request({ method = "GET", url = srv.url .. "/echo", headers = { "Accept: */*", line } })
      local st, msg = o.status, o.message
      assert.is_nil(st)
      assert.are.equal("basiq.core: a header line contains CR, LF or NUL", msg)
      assert.is_false(o.sent)
    end
    local o = via.request({ method = "GET", url = srv.url .. "/echo", headers = { "X-A: 1" } })
    local st, body = o.status, o.body
    assert.are.equal(200, st)
    assert.are.equal("1", cjson.decode(body).headers["x-a"])
  end)

  it("never puts the key or a token that a server echoes in an error", function()
    for _, secret in ipairs({ "Basic c2VjcmV0LWFwaS1rZXktMTIz", "eyJzZWNyZXQtdG9rZW4tNDU2" }) do
      local c = basiq.new({ server = srv.url .. "/leaky", retries = 0, transport = via.transport }).auth(secret)
      local res, err = c.getUser({ userId = "u1" })
      assert.is_nil(res)
      assert.are.equal(401, err.status)
      local text = tostring(err) .. tostring(c) .. cjson.encode(err.data) .. cjson.encode(err.headers)
      assert.is_nil(text:find(secret:gsub("^Basic ", ""), 1, true), text)
      assert.matches("[redacted]", err.detail, 1, true)
    end
  end)

  it("never shows the key or a token in a crash, its traceback or tostring", function()
    if via.ngx then return end -- a child process of its own: the transport plays no part
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

  it("refuses a server URL with spaces or control characters, and hides a password in it", function()
    for _, url in ipairs({ "http://a b", "http://a\r\nb", "http://a\tb" }) do
      assert.has_error(function() basiq.new().server(url) end, "basiq.server: server must be an http:// or https:// URL")
    end
    local c = basiq.new({ server = "https://user:s3cret-pw@api.example" })
    assert.are.equal("basiq client (https://api.example)", tostring(c))
  end)

  it("is still a working client after all of that", function()
    assert.are.equal("/users/u1", assert(client.getUser({ userId = "u1" })).data.target)
  end)
end)
end
