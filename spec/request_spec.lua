-- Argument placement, validation and encoding, checked on the request the
-- SDK would send (no network here; the wire is checked in client_spec).
local core = require("basiq.core")
local request = require("basiq.call.request")
local compile = require("basiq.definitions.compile")
local cjson = require("cjson")

local function op(name)
  local api = require("basiq.ops.index")[name]
  return require("basiq.ops." .. api).ops[name]
end

-- build as an operation function would be called: name(...)
local function build(name, ...)
  local a, b = ...
  return request.build(name, op(name), a, b, select("#", ...))
end

local function header(req, name)
  for _, h in ipairs(req.headers) do
    local k, v = h:match("^([^:]+): (.*)$")
    if k:lower() == name:lower() then return v end
  end
end

-- An operation of a loaded definition: an array parameter, and one whose
-- schema gives no type.
local LIST_THINGS = { method = "GET", path = "/things", security = {}, params = {
  { name = "tag", ["in"] = "query", type = "array", items = "string" }, { name = "any", ["in"] = "query" } } }

local function refused(pattern, ...)
  local req, err = build(...)
  assert.is_nil(req)
  assert.matches(pattern, err)
end

describe("core encoders", function()
  it("percent-encodes everything but RFC 3986 unreserved characters", function()
    assert.are.equal("a-b_c.d~e", core.escape("a-b_c.d~e"))
    assert.are.equal("a%2Fb%3Fc%23d%20e%26f%3Dg%2Bh%25", core.escape("a/b?c#d e&f=g+h%"))
    assert.are.equal("%C3%A9%00x", core.escape("é\0x"))
  end)

  it("form-encodes name/value pairs", function()
    assert.are.equal("scope=SERVER_ACCESS&userId=a%20b%26c", core.form({ "scope", "SERVER_ACCESS", "userId", "a b&c" }))
    assert.are.equal("", core.form({}))
    assert.has_error(function() core.form({ "odd" }) end)
  end)
end)

describe("argument placement", function()
  it("one argument is metadata when the operation takes no body", function()
    local req = assert(build("getUser", { userId = "u1" }))
    assert.are.equal("/users/u1", req.path)
    assert.is_nil(req.body)
  end)

  it("one argument is the body when the operation has no parameters", function()
    local req = assert(build("createUser", { email = "gavin@hooli.com" }))
    assert.are.same({ email = "gavin@hooli.com" }, cjson.decode(req.body))
    assert.are.equal("application/json", header(req, "content-type"))
  end)

  it("one argument whose keys all name parameters is metadata", function()
    local req = assert(build("postAuthLink", { userId = "u1" }))
    assert.are.equal("/users/u1/auth_link", req.path)
    assert.is_nil(req.body)
  end)

  it("one argument with any other key is the body", function()
    refused("basiq.updateUser: missing required parameter 'userId'", "updateUser", { email = "x@y.z" })
  end)

  it("two arguments are body then metadata, with no guessing", function()
    local req = assert(build("updateUser", { email = "in-body" }, { userId = "u1" }))
    assert.are.equal("/users/u1", req.path)
    assert.are.same({ email = "in-body" }, cjson.decode(req.body))
    req = assert(build("postAuthLink", nil, { userId = "u1" }))
    assert.is_nil(req.body)
  end)
end)

describe("metadata placement", function()
  it("percent-encodes path values so they cannot change the path", function()
    local req = assert(build("getAccount", { userId = "a/../b", accountId = "x?y#z w" }))
    assert.are.equal("/users/a%2F..%2Fb/accounts/x%3Fy%23z%20w", req.path)
  end)

  it("refuses empty, '.' and '..' as a path value", function()
    for _, v in ipairs({ "", ".", ".." }) do
      refused("basiq.getUser: parameter 'userId' must not be empty, '.' or '..'", "getUser", { userId = v })
    end
    refused("basiq.getUser: parameter 'userId' must be a string, not a list", "getUser", { userId = {} })
  end)

  it("puts query parameters in form style", function()
    local req = assert(build("getTransactions", { userId = "u1", limit = 500,
      filter = "transaction.postDate.bt('2024-01-01','2024-02-01')" }))
    assert.are.equal("/users/u1/transactions?limit=500&filter=transaction.postDate.bt%28%272024-01-01%27%2C%272024-02-01%27%29", req.path)
  end)

  it("repeats the key for an array in a query", function()
    local req = assert(request.build("listThings", LIST_THINGS, { tag = { "a", "b c" } }, nil, 1))
    assert.are.equal("/things?tag=a&tag=b%20c", req.path)
  end)

  it("sends a primitive under deepObject style as name=value", function()
    local req = assert(build("listMessages", { webhookId = "w1", limit = 10, filter = "x.eq('1')" }))
    assert.are.equal("/notifications/webhooks/w1/messages?limit=10&filter=x.eq%28%271%27%29", req.path)
  end)

  it("writes numbers and booleans as JSON would", function()
    local req = assert(build("getTransactions", { userId = "u1", limit = 10.0 }))
    assert.matches("limit=10$", req.path)
    for _, case in ipairs({ { 0.1, "0.1" }, { true, "true" }, { -0.0, "%-?0" } }) do
      req = assert(request.build("listThings", LIST_THINGS, { any = case[1] }, nil, 1))
      assert.matches("^/things%?any=" .. case[2] .. "$", req.path)
    end
  end)

  it("matches header names case-insensitively", function()
    local req = assert(build("postToken", { scope = "SERVER_ACCESS" }, { ["Basiq-Version"] = "3.0" }))
    assert.are.equal("3.0", header(req, "basiq-version"))
    assert.are.equal("scope=SERVER_ACCESS", req.body)
    assert.are.equal("application/x-www-form-urlencoded", header(req, "content-type"))
  end)

  it("asks for JSON and lets the caller choose where an operation offers more", function()
    local req = assert(build("retrieveReport", { id = "r1" }))
    assert.are.equal("application/json", header(req, "accept"))
    req = assert(build("retrieveReport", { id = "r1", accept = "application/pdf" }))
    assert.are.equal("application/pdf", header(req, "accept"))
    refused("basiq.getUser: unknown parameter 'accept'", "getUser", { userId = "u1", accept = "text/csv" })
  end)
end)

describe("refused before anything is sent, naming the operation and the key", function()
  it("a missing required parameter", function()
    refused("^basiq.getConnection: missing required parameter 'connectionId'$", "getConnection", { userId = "u1" })
    refused("^basiq.enrich: missing required parameter 'q'$", "enrich", { institution = "AU00000", country = "AU" })
  end)

  it("an unknown metadata key", function()
    refused("^basiq.getUser: unknown parameter 'userid' %(did you mean userId%? getUser takes userId%)$", "getUser",
      { userid = "u1" })
    refused("^basiq.getUser: metadata key 1 is not a string$", "getUser", { "u1" })
  end)

  it("a body for an operation that takes none", function()
    refused("^basiq.getUser: takes no request body$", "getUser", { x = 1 }, { userId = "u1" })
  end)

  it("a value that is not a string, number, boolean or array of them (a parameter of no type)", function()
    local bad = { { key = "v" }, { a = 1 }, { { "nested" } }, print, 0 / 0, math.huge, { 1, nil, 3 } }
    for _, v in ipairs(bad) do
      local req, err = request.build("listThings", LIST_THINGS, { any = v }, nil, 1)
      assert.is_nil(req)
      assert.are.equal("basiq.listThings: parameter 'any' must be a string, number, boolean or array of them", err)
    end
  end)

  it("a value that does not fit its schema's type, format or enum, saying what it must be", function()
    for _, case in ipairs({
      { { limit = "abc" }, "'limit' must be an integer, not the string \"abc\"" },
      { { limit = 1.5 }, "'limit' must be an integer (a whole number), not 1.5" },
      { { limit = true }, "'limit' must be an integer, not true" },
      { { limit = 2 ^ 63 }, "'limit' must be an integer from -9223372036854775808 to 9223372036854775807 (int64),"
        .. " not 9.223372036854776e+18" },
      { { filter = { "account.id", "eq", "x" } },
        "'filter' must be a string, not a list (basiq.filter{ ... } makes one of several conditions)" },
      { { filter = true }, "'filter' must be a string, not true" },
    }) do
      case[1].userId = "u1"
      local req, err = build("getTransactions", case[1])
      assert.is_nil(req)
      assert.are.equal("basiq.getTransactions: parameter " .. case[2], err)
    end
    assert(build("getTransactions", { userId = 123, limit = 2.0 })) -- a number where a string goes; 2.0 is whole
    local e_op = { method = "GET", path = "/e", security = {}, params = {
      { name = "colour", ["in"] = "query", type = "string", enum = { "red", "green" } },
      { name = "n", ["in"] = "query", type = "integer", format = "int32" },
      { name = "day", ["in"] = "query", type = "string", format = "date" },
      { name = "at", ["in"] = "query", type = "string", format = "date-time" },
      { name = "id", ["in"] = "query", type = "string", format = "uuid" },
      { name = "ok", ["in"] = "query", type = "boolean" },
      { name = "ns", ["in"] = "query", type = "array", items = "integer" } } }
    for _, case in ipairs({
      { { colour = "blue" }, "'colour' must be one of red, green, not the string \"blue\"" },
      { { n = 2 ^ 31 }, "'n' must be an integer from -2147483648 to 2147483647 (int32), not 2147483648" },
      { { day = "1/2/2024" }, "'day' must be a date (YYYY-MM-DD), not the string \"1/2/2024\"" },
      { { at = "2024-01-02" }, "'at' must be a date and time (RFC 3339: YYYY-MM-DDThh:mm:ssZ), not the string \"2024-01-02\"" },
      { { id = "42" }, "'id' must be a UUID, not the string \"42\"" },
      { { ok = "yes" }, "'ok' must be a boolean, not the string \"yes\"" },
      { { ns = { 1, "2" } }, "'ns' item 2 must be an integer, not the string \"2\"" },
    }) do
      local req, err = request.build("getE", e_op, case[1], nil, 1)
      assert.is_nil(req)
      assert.are.equal("basiq.getE: parameter " .. case[2], err)
    end
    local req = assert(request.build("getE", e_op, { colour = "green", n = -2 ^ 31, day = "2024-02-29",
      at = "2024-02-29T10:00:00.5+10:00", id = "0b3cbd3e-8b6a-4d4b-9d64-2f1c7a3b1e2a", ok = false, ns = { 1, 2 } }, nil, 1))
    assert.are.equal("/e?colour=green&n=-2147483648&day=2024-02-29&at=2024-02-29T10%3A00%3A00.5%2B10%3A00"
      .. "&id=0b3cbd3e-8b6a-4d4b-9d64-2f1c7a3b1e2a&ok=false&ns=1&ns=2", req.path)
  end)

  it("a body field the schema does not list, with the nearest name, at any depth", function()
    refused("^basiq.createUser: unknown body field 'emial' %(did you mean email%?%); a field the definition does not"
      .. " list yet goes in a body of JSON text$", "createUser", { emial = "gavin@hooli.com" })
    refused("^basiq.createUser: unknown body field 'businessAddress.postcod' %(did you mean postcode%?%)", "createUser",
      { email = "e", businessAddress = { postcod = "2000" } })
    refused("^basiq.createreport: unknown body field 'filters%[2%].nmae' %(did you mean name%?%)", "createreport",
      { reportType = "t", title = "t", filters = { { name = "a", value = "b" }, { nmae = "c", value = "d" } } })
    refused("^basiq.postToken: unknown body field 'scop' %(did you mean scope%?%)", "postToken",
      { scop = "SERVER_ACCESS" }, { ["basiq-version"] = "3.0" })
    refused("^basiq.postAuthLink: unknown body field 'zzz' %(it takes mobile%)", "postAuthLink", { zzz = 1 }, { userId = "u" })
    -- a field the definition does not list yet: JSON text is sent as it is
    local req = assert(build("createUser", '{"email":"e","newField":1}'))
    assert.are.equal('{"email":"e","newField":1}', req.body)
    assert.are.equal("application/json", header(req, "content-type"))
  end)

  it("CR or LF in a header value", function()
    refused("^basiq.postToken: parameter 'basiq%-version' contains CR, LF or NUL$", "postToken",
      { scope = "SERVER_ACCESS" }, { ["basiq-version"] = "3.0\r\nX-Evil: 1" })
  end)

  it("a missing required body, and a body of the wrong type", function()
    refused("^basiq.postJobMfa: missing required request body$", "postJobMfa", nil, { jobId = "j1" })
    refused("^basiq.createUser: body must be a table or JSON text, got number$", "createUser", 5)
  end)

  it("metadata that is not a table", function()
    refused("^basiq.getUser: metadata must be a table, got string$", "getUser", "u1")
  end)

  it("a body that JSON cannot encode", function()
    local cyclic = {}
    cyclic.self = cyclic
    refused("^basiq.createUser: body cannot be encoded as JSON", "createUser", { mobile = cyclic })
    refused("^basiq.createUser: body cannot be encoded as JSON", "createUser", { email = print })
  end)
end)

describe("bodies", function()
  it("sends an empty table as [] where the schema says array, {} elsewhere", function()
    local req = assert(build("updateWebhook", { url = "https://h", subscribedEvents = {} }, { webhookId = "w" }))
    assert.matches('"subscribedEvents":%[%]', req.body)
    req = assert(build("createreport", { reportType = "T", title = "t",
      filters = { { name = "includeMetrics", value = {} } } }))
    assert.matches('"value":%[%]', req.body)
    req = assert(build("createUser", { email = "a@b.c", businessAddress = {} }))
    assert.matches('"businessAddress":{}', req.body)
  end)

  it("does not change the caller's table", function()
    local body = { url = "https://h", subscribedEvents = {} }
    assert(build("updateWebhook", body, { webhookId = "w" }))
    assert.are.same({ url = "https://h", subscribedEvents = {} }, body)
  end)

  it("builds multipart parts from a path, a table with data, or an open file", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("%PDF-1.4 test")
    f:close()
    local req = assert(build("createStatement", { institutionId = "AU01001",
      statement = { path = path, filename = "june.pdf" } }, { userId = "u1" }))
    assert.are.same({ { name = "institutionId", data = "AU01001" },
      { name = "statement", path = path, filename = "june.pdf", type = "application/pdf" } }, req.mime)
    req = assert(build("createStatement", { institutionId = "AU01001",
      statement = { data = "a,b\n", filename = "june.csv" } }, { userId = "u1" }))
    assert.are.equal("text/csv", req.mime[2].type)
    f = assert(io.open(path, "rb"))
    req = assert(build("createStatement", { institutionId = "AU01001", statement = f }, { userId = "u1" }))
    f:close()
    assert.are.equal("%PDF-1.4 test", req.mime[2].data)
    os.remove(path)
    refused("^basiq.createStatement: body field 'statement': cannot open file$", "createStatement",
      { institutionId = "AU01001", statement = { path = "/nonexistent/x.pdf" } }, { userId = "u1" })
  end)
end)

describe("the compiler", function()
  local doc = {
    openapi = "3.0.0",
    servers = { { url = "http://127.0.0.1:1/v1" } },
    components = {
      parameters = { Id = { name = "id", ["in"] = "path", required = true, schema = { type = "string" } } },
      schemas = { Tags = { type = "array", items = { type = "string" } } },
      requestBodies = { Thing = { required = true, content = { ["application/json"] = {
        schema = { type = "object", properties = { tags = { ["$ref"] = "#/components/schemas/Tags" } } } } } } },
      securitySchemes = { key = { type = "apiKey", name = "X-Key", ["in"] = "header" } },
    },
    security = { { key = {} } },
    paths = {
      ["/things/{id}"] = {
        parameters = { { ["$ref"] = "#/components/parameters/Id" } },
        put = { operationId = "PutThing", requestBody = { ["$ref"] = "#/components/requestBodies/Thing" },
          parameters = { { name = "ids", ["in"] = "query", explode = false,
            schema = { type = "array", items = { type = "integer" } } } },
          responses = { ["200"] = { content = { ["application/json"] = {} } } } },
        get = { responses = { ["204"] = { description = "none" } } },
      },
    },
  }

  it("resolves $ref, merges path-level parameters and names operations as the api tool does", function()
    local t = compile.compile(doc, "things")
    assert.are.same({ "http://127.0.0.1:1/v1" }, t.servers)
    local put = t.ops.putThing
    assert.are.equal("PutThing", put.id)
    assert.are.same({ name = "id", ["in"] = "path", required = true, type = "string" }, put.params[1])
    assert.are.same({ name = "ids", ["in"] = "query", type = "array", items = "integer", explode = false }, put.params[2])
    assert.are.same({ media = "application/json", required = true,
      shape = { t = "o", closed = true, p = { tags = { t = "a", i = { t = "string" } } } } }, put.body)
    assert.are.same({ { kind = "apiKey", name = "X-Key", ["in"] = "header" } }, put.security)
    assert.is_table(t.ops.getThingsId)
  end)

  it("joins a non-exploded query array with commas", function()
    local t = compile.compile(doc, "things")
    local req = assert(request.build("putThing", t.ops.putThing, { tags = {} }, { id = "7", ids = { 1, 2 } }, 2))
    assert.are.equal("/things/7?ids=1,2", req.path)
    assert.are.equal('{"tags":[]}', req.body)
  end)

  it("produces the committed operation tables from Basiq's definitions", function()
    local spec_dir = require("support.procs").SPEC_DIR
    for _, api in ipairs({ "affordability", "core", "data", "enrich", "identity", "reporting", "webhooks" }) do
      local f = assert(io.open(spec_dir .. "/" .. api .. ".json", "rb"))
      local t = compile.compile(cjson.decode(f:read("*a")), api)
      f:close()
      assert.are.same(require("basiq.ops." .. api), t)
    end
  end)
end)
