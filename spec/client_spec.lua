-- The client over real HTTP on loopback, against the suite's own server
-- (spec/support/httpd.lua): what goes on the wire, results and errors.
local procs = require("support.procs")
local basiq = require("basiq")
local core = require("basiq.core")
local socket = require("socket")

local TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2ln"
local KEY = "Basic bXktYXBpLWtleTpzZWNyZXQ="

describe("client over HTTP", function()
  local srv, client

  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)
  before_each(function() client = basiq.new({ server = srv.url }).auth("tok") end)

  it("returns { data, status, headers } with lower-case header names", function()
    local res, err = client.auth(TOKEN).getUser({ userId = "u1" })
    assert.is_nil(err)
    assert.are.equal(200, res.status)
    assert.are.equal("yes", res.headers["x-echo"])
    assert.are.equal("application/json", res.headers["content-type"])
    assert.are.equal("GET", res.data.method)
    assert.are.equal("/users/u1", res.data.target)
    assert.are.equal("application/json", res.data.headers.accept)
  end)

  it("sends path values percent-encoded, so they cannot change the path", function()
    local res = assert(client.getAccount({ userId = "../admin", accountId = "a/b?c=d#e" }))
    assert.are.equal("/users/..%2Fadmin/accounts/a%2Fb%3Fc%3Dd%23e", res.data.target)
  end)

  it("sends the query in form style", function()
    local res = assert(client.getTransactions({ userId = "u1", limit = 20, filter = "account.id.eq('a b')" }))
    assert.are.equal("/users/u1/transactions?limit=20&filter=account.id.eq%28%27a%20b%27%29", res.data.target)
  end)

  -- getTransactions takes the fast path with its id alone, the general one otherwise
  it("sends an operation with optional query parameters alike with or without them", function()
    local res = assert(client.getTransactions({ userId = "u 1" }))
    assert.are.equal("/users/u%201/transactions", res.data.target)
    assert.are.equal("application/json", res.data.headers.accept)
    assert.are.equal("Bearer tok", res.data.headers.authorization)
    res = assert(client.getTransactions({ userId = "u1", limit = 5 }))
    assert.are.equal("/users/u1/transactions?limit=5", res.data.target)
    assert.are.equal("Bearer tok", res.data.headers.authorization)
    assert.error_matches(function() client.getTransactions({ userId = "u1", limt = 5 }) end,
      "getTransactions: unknown parameter 'limt'.*limit")
    assert.error_matches(function() client.getTransactions({ user = "u1" }) end, "getTransactions.*userId")
  end)

  it("sends the API key as given on postToken and a bearer token elsewhere", function()
    client.auth(KEY)
    local res = assert(client.postToken({ scope = "SERVER_ACCESS" }, { ["basiq-version"] = "3.0" }))
    assert.are.equal(KEY, res.data.headers.authorization)
    assert.are.equal("3.0", res.data.headers["basiq-version"])
    assert.are.equal("application/x-www-form-urlencoded", res.data.headers["content-type"])
    assert.are.equal("scope=SERVER_ACCESS", res.data.body)
    client.auth(TOKEN)
    res = assert(client.getUser({ userId = "u1" }))
    assert.are.equal("Bearer " .. TOKEN, res.data.headers.authorization)
    client.auth("Bearer " .. TOKEN) -- never "Bearer Bearer"
    res = assert(client.getUser({ userId = "u1" }))
    assert.are.equal("Bearer " .. TOKEN, res.data.headers.authorization)
  end)

  it("sends a JSON body and a multipart upload", function()
    local res = assert(client.createUser({ email = "gavin@hooli.com", firstName = "Gavin" }))
    assert.are.equal("POST", res.data.method)
    assert.are.same({ email = "gavin@hooli.com", firstName = "Gavin" }, require("cjson").decode(res.data.body))
    res = assert(client.createStatement({ institutionId = "AU01001",
      statement = { data = "date,amount\n", filename = "june.csv" } }, { userId = "u1" }))
    local body = res.data.body
    assert.matches("^multipart/form%-data; boundary=", res.data.headers["content-type"])
    assert.matches('name="institutionId"\r\n\r\nAU01001\r\n', body, 1, true)
    assert.matches('name="statement"; filename="june.csv"\r\nContent%-Type: text/csv\r\n\r\ndate,amount\n', body)
  end)

  it("sends DELETE and an empty POST", function()
    local res = assert(client.deleteUser({ userId = "u1" }))
    assert.are.equal("DELETE", res.data.method)
    res = assert(client.refreshConnections({ userId = "u1" }))
    assert.are.equal("POST", res.data.method)
    assert.are.equal("0", res.data.headers["content-length"])
  end)

  it("keeps the connection alive across calls", function()
    local a = assert(client.getUser({ userId = "u1" }))
    local b = assert(client.getUser({ userId = "u2" }))
    assert.are.equal(a.data.peer, b.data.peer)
  end)

  it("gives an answer's whole numbers as integers (Lua 5.3+: as the text has them, never 500.0)", function()
    local res = assert(client.getUser({ userId = "u1" }))
    assert.are.equal("number", type(res.data.peer)) -- the echo's port
    assert.are.equal(tostring(res.data.peer), ("%d"):format(res.data.peer)) -- "41397", never "41397.0"
    if math.type then assert.are.equal("integer", math.type(res.data.peer)) end
    -- every whole number within 2^53 at any depth; fractions, larger numbers and strings as they were
    local text = '{"size":500,"count":2.0,"data":[{"n":-3,"f":1.5,"s":"7","x":[1,{"y":0}]},{"big":1e300,'
      .. '"q":"a\\\\"}],"links":{"next":null},"neg":-0.0,"e":25e1,"t":true,"edge":9007199254740992,"past":9007199254740994}'
    local v = core.integers(require("cjson").decode(text), text)
    assert.are.same({ 500, 2, -3, 1.5, "7", 1, 0, 1e300, "a\\", 250 },
      { v.size, v.count, v.data[1].n, v.data[1].f, v.data[1].s, v.data[1].x[1], v.data[1].x[2].y, v.data[2].big,
        v.data[2].q, v.e })
    if math.type then
      for _, n in ipairs({ v.size, v.count, v.data[1].n, v.data[1].x[1], v.data[1].x[2].y, v.neg, v.e, v.edge }) do
        assert.are.equal("integer", math.type(n))
      end
      for _, n in ipairs({ v.data[1].f, v.data[2].big, v.past }) do assert.are.equal("float", math.type(n)) end
      assert.are.equal("limit=500", "limit=" .. v.size)
      -- where the text's paths cannot lead (an escaped key, 40 levels deep), the whole table is walked
      text = '{"a\\"b":1,"c":[2,{"d\\\\":3.0}],"deep":' .. ("["):rep(40) .. "4" .. ("]"):rep(40) .. "}"
      v = core.integers(require("cjson").decode(text), text)
      local deep = v.deep
      for _ = 1, 40 do deep = deep[1] end
      assert.are.same({ "integer", "integer", "integer", "integer" },
        { math.type(v['a"b']), math.type(v.c[1]), math.type(v.c[2]["d\\"]), math.type(deep) })
    end
  end)

  it("gives the raw text when the answer is not JSON", function()
    local res = assert(basiq.new({ server = srv.url .. "/text", auth = "tok" }).getUser({ userId = "u1" }))
    assert.are.equal("plain words", res.data)
  end)

  it("returns nil, err for a Basiq error, with its fields", function()
    local res, err = basiq.new({ server = srv.url .. "/status/404", auth = "tok" }).getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal(404, err.status)
    assert.are.equal("resource-not-found", err.code)
    assert.are.equal("Resource not found.", err.title)
    assert.are.equal("Detail for 404.", err.detail)
    assert.are.equal("corr-404", err.correlationId)
    assert.are.equal("list", err.data.type)
    assert.are.equal("application/json", err.headers["content-type"])
    assert.are.equal("basiq.getUser: HTTP 404: resource-not-found: Resource not found.: Detail for 404. (correlationId corr-404)",
      tostring(err))
    assert.are.equal(err.message, tostring(err))
  end)

  it("returns nil, err for an HTML error page", function()
    local res, err = basiq.new({ server = srv.url .. "/html/502", auth = "tok" }).getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal(502, err.status)
    assert.matches("<html>", err.data)
    assert.are.equal("basiq.getUser: HTTP 502", tostring(err))
  end)

  it("does not follow redirects", function()
    local res, err = basiq.new({ server = srv.url .. "/redirect", auth = "tok" }).getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal(302, err.status)
    assert.are.equal("/elsewhere", err.headers.location)
  end)

  it("returns nil, err when the connection is refused", function()
    local port = procs.free_port()
    local res, err = basiq.new({ server = "http://127.0.0.1:" .. port, auth = "tok" }).getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.is_nil(err.status)
    assert.are.equal("connect", err.code)
    assert.matches("^basiq.getUser: connect error: .*Couldn't connect to server", tostring(err))
  end)

  it("returns nil, err when the server does not answer in time", function()
    local c = basiq.new({ server = srv.url .. "/stall", timeout = 300, auth = "tok" })
    local t0 = socket.gettime()
    local res, err = c.getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal("timeout", err.code)
    assert.matches("timed out", err.message)
    assert.is_true(socket.gettime() - t0 < 5, "the timeout did not bound the call")
    -- and the client still works afterwards
    assert(c.server(srv.url).getUser({ userId = "u1" }))
  end)

  it("never puts a credential in an error or in tostring", function()
    for _, secret in ipairs({ KEY, TOKEN }) do
      local c = basiq.new({ server = srv.url .. "/leaky" }).auth(secret)
      local res, err = c.getUser({ userId = "u1" })
      assert.is_nil(res)
      assert.are.equal(401, err.status)
      local bare = secret:gsub("^Basic ", "")
      local texts = { tostring(err), tostring(c) }
      local function collect(v)
        if type(v) == "string" then texts[#texts + 1] = v
        elseif type(v) == "table" then for _, x in pairs(v) do collect(x) end end
      end
      collect(err)
      for _, text in ipairs(texts) do
        assert.is_nil(text:find(bare, 1, true), "credential leaked into: " .. text)
      end
      assert.matches("[redacted]", err.detail, 1, true)
    end
  end)

  it("redacts a credential sent percent-encoded (apiKey in query or cookie) that a server echoes", function()
    local KEY64 = "a2V5OnNlY3JldA==" -- as base64 keys are: "=" goes out as %3D
    for _, where in ipairs({ "query", "cookie" }) do
      local path = procs.temp_file({ openapi = "3.0.0", servers = { { url = "https://api.example.com" } },
        components = { securitySchemes = { k = { type = "apiKey", name = "api_key", ["in"] = where } } },
        security = { { k = {} } },
        paths = { ["/w"] = { get = { operationId = "GetWidget", responses = { ["200"] = { description = "ok" } } } } } })
      -- a server that names the request it could not serve
      local c = basiq.new({ transport = function(req)
        return { status = 400, headers = { ["content-type"] = "application/json" }, body = require("cjson").encode({
          title = "Bad request", detail = "Cannot serve " .. req.url .. " with " .. table.concat(req.headers, "; ") }) }
      end })
      c.load(path)
      os.remove(path)
      local _, err = c.auth(KEY64).getWidget()
      assert.are.equal(400, err.status)
      local escaped = core.escape(KEY64)
      assert.are_not.equal(KEY64, escaped)
      for _, text in ipairs({ tostring(err), err.detail, require("cjson").encode(err.data) }) do
        assert.is_nil(text:find(escaped, 1, true), "credential leaked into: " .. text)
      end
      assert.matches("[redacted]", err.detail, 1, true)
    end
  end)

  it("keeps clients independent, and the module is the default client", function()
    local a = basiq.new({ server = srv.url .. "/status/404" }).auth("tok")
    local b = basiq.new({ server = srv.url }).auth("tok")
    assert.is_nil((a.getUser({ userId = "u1" })))
    assert.is_table((b.getUser({ userId = "u1" })))
    assert.are.equal("basiq client (https://au-api.basiq.io)", tostring(basiq))
    assert.are.equal(basiq, basiq.auth(TOKEN))
    assert.are.equal(basiq, basiq.config({ timeout = 5000 }))
  end)

  it("loads the operations of another OpenAPI document", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(require("cjson").encode({ openapi = "3.0.0", servers = { { url = srv.url .. "/v9" } },
      components = { securitySchemes = { k = { type = "apiKey", name = "api_key", ["in"] = "query" } } },
      security = { { k = {} } },
      paths = { ["/widgets/{widgetId}"] = { get = { operationId = "GetWidget", parameters = {
        { name = "widgetId", ["in"] = "path", required = true, schema = { type = "string" } } },
        responses = { ["200"] = { description = "ok" } } } } } }))
    f:close()
    local c = basiq.new()
    assert.are.equal(1, c.load(path))
    -- its scheme needs a credential: none given is a mistake, not a 401
    assert.has_error(function() c.getWidget({ widgetId = "w 1" }) end,
      'basiq.getWidget: no credential: call basiq.auth("Basic " .. apiKey) first (or basiq.new{ apiKey = apiKey });'
      .. " with a token: basiq.auth(token)")
    local res = assert(c.auth("k&y").getWidget({ widgetId = "w 1" }))
    assert.are.equal("/v9/widgets/w%201?api_key=k%26y", res.data.target)
    res = assert(c.getWidget({ widgetId = "w" }))
    assert.are.equal("/v9/widgets/w?api_key=k%26y", res.data.target)
    os.remove(path)
    local n, err = c.load("/nonexistent.json")
    assert.is_nil(n)
    assert.matches("^basiq.load: ", err)
  end)

  it("refuses a loaded document whose path would change the host the credential goes to", function()
    -- the path is appended to the server URL: "@0.0.0.0:<port>/w" after
    -- http://127.0.0.1:<port> made libcurl send the key to 0.0.0.0, past
    -- the plain-http guard (it judges the server URL alone)
    local path = procs.temp_file({ openapi = "3.0.0", servers = { { url = srv.url } },
      components = { securitySchemes = { k = { type = "apiKey", name = "X-Key", ["in"] = "header" } } },
      security = { { k = {} } },
      paths = { ["@0.0.0.0:" .. srv.port .. "/w"] = { get = { operationId = "GetWidget",
        responses = { ["200"] = { description = "ok" } } } } } })
    local c = basiq.new().auth("s3cret-key")
    local n, err = c.load(path)
    os.remove(path)
    assert.is_nil(n)
    assert.are.equal("basiq.load: " .. path .. ": path '@0.0.0.0:" .. srv.port .. "/w' does not begin with /", err.message)
    assert.has_error(function() return c.getWidget end, "basiq: no operation 'getWidget'")
  end)

  it("refuses a server that is not http or https, and bad options", function()
    assert.has_error(function() basiq.new({ server = "ftp://127.0.0.1/" }) end,
      "basiq.new: server must be an http:// or https:// URL")
    assert.has_error(function() client.config({ timeout = -1 }) end,
      "basiq.config: option 'timeout' must be a positive number")
    assert.has_error(function() client.config({ retries = 2, nosuch = 1 }) end)
  end)

  -- as undefined in JavaScript, and as in basiq.batch's lists
  it("counts a trailing nil argument as left out", function()
    local res = assert(client.getUser({ userId = "u1" }, nil))
    assert.are.equal("/users/u1", res.data.target)
    res = assert(client.call("getUser", { userId = "u2" }, nil))
    assert.are.equal("/users/u2", res.data.target)
    res = assert(client.createUser({ email = "gavin@hooli.com" }, nil))
    assert.are.equal("/users", res.data.target)
    assert.are.equal('{"email":"gavin@hooli.com"}', res.data.body)
    local page = assert(client.paginate("getTransactions", { userId = "u3" }, nil)())
    assert.are.equal("/users/u3/transactions", page.data.target)
    -- a nil body with metadata is still two arguments
    res = assert(client.getUser(nil, { userId = "u4" }))
    assert.are.equal("/users/u4", res.data.target)
  end)

  it("calls any operation by name, with the same convention", function()
    local res = assert(client.call("getUser", { userId = "u1" }))
    assert.are.equal("/users/u1", res.data.target)
    res = assert(client.call("updateUser", { email = "in-body" }, { userId = "u2" }))
    assert.are.equal("/users/u2", res.data.target)
    assert.are.equal('{"email":"in-body"}', res.data.body)
    assert.has_error(function() client.call("noSuchOperation") end, "basiq.call: unknown operation 'noSuchOperation'")
    -- a name the client does not have is a typo, said with the nearest one
    assert.has_error(function() return client.noSuchOperation end, "basiq: no operation 'noSuchOperation'")
    assert.has_error(function() return client.getUsers end, "basiq: no operation 'getUsers' (did you mean getUser?)")
    assert.is_nil(rawget(client, "noSuchOperation")) -- feature tests: rawget never raises
  end)

  it("raises programmer mistakes at the caller's line", function()
    local ok, err = pcall(function() return client.getUser({}) end)
    assert.is_false(ok)
    assert.matches("client_spec.lua:%d+: basiq.getUser: missing required parameter 'userId'", err)
  end)
end)

describe("core handle", function()
  it("refuses protocols other than http and https", function()
    local h = core.new()
    local o = h:perform({ method = "GET", url = "file:///etc/passwd" })
    local ok, msg, code = o.status, o.message, o.code
    assert.is_nil(ok)
    assert.matches("not supported", msg)
    assert.are.equal(1, code) -- CURLE_UNSUPPORTED_PROTOCOL
  end)

  it("can be closed twice", function()
    local h = core.new()
    h:close()
    h:close()
    assert.are.equal("basiq.core.easy (closed)", tostring(h))
    assert.has_error(function() h:perform({ method = "GET", url = "http://127.0.0.1:1/" }) end,
      "basiq.core: handle is closed")
    collectgarbage()
  end)

  it("is closed by a to-be-closed variable", function()
    if _VERSION ~= "Lua 5.4" then
      pending("to-be-closed variables need Lua 5.4; this is " .. (jit and jit.version or _VERSION))
      return
    end
    -- compiled at run time: `<close>` is a syntax error for Lua 5.1 and LuaJIT
    local outer = assert(load([[
      local core = ...
      local outer
      do
        local h <close> = core.new()
        outer = h
      end
      return outer
    ]]))(core)
    assert.are.equal("basiq.core.easy (closed)", tostring(outer))
  end)

  it("caps the size of a response body", function()
    local srv = procs.httpd()
    local h = core.new()
    local o = h:perform({ method = "GET", url = srv.url .. "/x", max_body = 10 })
    local ok, msg = o.status, o.message
    srv.stop()
    assert.is_nil(ok)
    assert.matches("larger than 10 bytes", msg)
  end)
end)
