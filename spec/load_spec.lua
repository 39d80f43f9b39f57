-- basiq.load from every kind of source `api install` takes, against the
-- suite's own server on loopback (its definitions and a registry
-- stand-in), and each way a definition is refused.
local basiq = require("basiq")
local cjson = require("cjson")
local procs = require("support.procs")
local source = require("basiq.definitions.source")
local compile = require("basiq.definitions.compile")

local srv
setup(function() srv = procs.httpd() end)
teardown(function() srv.stop() end)

-- A temporary file with that name suffix holding text -> its path.
local function temp_named(suffix, text)
  local base = os.tmpname()
  os.remove(base)
  local path = base .. suffix
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

local WIDGET_NAMES = { "getWidget", "postToken", "postWidgetsWidgetidNodes" }

-- The widgets API answers along its own server (/v9 on the suite's server).
local function check_widgets(c)
  local res = assert(c.getWidget({ widgetId = "w 1", colour = "red" }))
  assert.are.equal("/v9/widgets/w%201?colour=red", res.data.target)
  -- no operationId: named as the api generator names it; its body is a
  -- tree of nodes (a $ref to itself), and arrays still go out as []
  res = assert(c.postWidgetsWidgetidNodes({ name = "root", children = {} }, { widgetId = "w" }))
  assert.are.equal("/v9/widgets/w/nodes", res.data.target)
  assert.are.same({ name = "root", children = {} }, cjson.decode(res.data.body))
  assert.matches('"children":[]', res.data.body, 1, true)
end

describe("basiq.load", function()
  it("loads a YAML definition over http, known by its name, and says what it replaced", function()
    local c = basiq.new()
    local n, replaced = c.load(srv.url .. "/openapi/widgets.yml")
    assert.are.equal(3, n)
    assert.are.same({ "postToken" }, replaced) -- Basiq's own postToken, now the widgets API's
    check_widgets(c)
    -- loading it again replaces what the first load added
    n, replaced = c.load(srv.url .. "/openapi/widgets.yml")
    assert.are.equal(3, n)
    assert.are.same(WIDGET_NAMES, replaced)
  end)

  it("leaves every other client as it was", function()
    local a, b = basiq.new(), basiq.new()
    assert.are.equal(3, a.load(srv.url .. "/openapi/widgets.yml"))
    assert.is_function(rawget(a, "getWidget"))
    assert.is_nil(rawget(b, "getWidget"))
    assert.is_nil(rawget(basiq, "getWidget"))
    assert.has_error(function() return b.getWidget end, "basiq: no operation 'getWidget'")
    assert.are.equal("/token", require("basiq.call.operations").find({ loaded = {} }, "postToken").path)
    local res = assert(a.call("postToken")) -- the loaded one, on /v9
    assert.are.equal("/v9/token", res.data.target)
  end)

  it("knows YAML by its content when neither name nor media type says (text/plain, no extension)", function()
    local c = basiq.new()
    assert.are.equal(3, c.load(srv.url .. "/openapi/widgets"))
    check_widgets(c)
  end)

  it("loads JSON over http, and follows a redirect under the same rules", function()
    local c = basiq.new()
    assert.are.equal(1, c.load(srv.url .. "/openapi/widgets.json"))
    assert.are.equal(3, c.load(srv.url .. "/openapi/moved.yml"))
    check_widgets(c)
  end)

  it("loads local YAML files, by extension and by content, and local JSON", function()
    local core = require("basiq.core").new()
    local o = core:perform({ method = "GET", url = srv.url .. "/openapi/widgets.yml" })
    core:close()
    for _, suffix in ipairs({ ".yaml", ".yml", "" }) do
      local path = temp_named(suffix, o.body)
      local c = basiq.new()
      local n, err = c.load(path)
      os.remove(path)
      assert.are.equal(3, n, tostring(err))
      check_widgets(c)
    end
    local path = procs.temp_file({ openapi = "3.1.0", paths = { ["/ping"] = { get = { responses = {} } } } })
    local c = basiq.new({ server = srv.url })
    assert.are.equal(1, c.load(path))
    os.remove(path)
    assert.are.equal("/ping", assert(c.getPing()).data.target)
  end)

  it("loads a decoded document and a compiled module (table or local .lua file)", function()
    local c = basiq.new({ server = srv.url })
    local n, replaced = c.load({ openapi = "3.0.0", paths = { ["/users/{userId}"] = { get = {
      operationId = "getUser", parameters = { { name = "userId", ["in"] = "path", schema = { type = "string" } } },
      responses = {} } } } })
    assert.are.equal(1, n)
    assert.are.same({ "getUser" }, replaced)
    n, replaced = c.load(require("basiq.ops.enrich"))
    assert.are.same({ 1, { "enrich" } }, { n, replaced })
    -- the file `basiq install` writes: Lua data, run with nothing in reach
    local path = temp_named(".lua", "return { api = 'w', servers = { 'http://127.0.0.1:1' }, ops = { pingIt = {"
      .. " method = 'GET', path = '/ping', security = {} } } }")
    assert.are.equal(1, c.load(path))
    os.remove(path)
    assert.are.equal("/ping", assert(c.pingIt()).data.target) -- basiq.server() still wins
    path = temp_named(".lua", "os.exit(3) return {}")
    local n2, err = c.load(path)
    os.remove(path)
    assert.is_nil(n2)
    assert.matches("the module failed: .*os", err.message)
  end)

  it("never sends a credential, and a registry id goes to BASIQ_API_REGISTRY", function()
    -- os.getenv cannot be changed in this process: a child on the same runtime
    local code, out, err = procs.run(procs.LUA_ENV .. " BASIQ_API_REGISTRY=" .. srv.url .. "/api/v1/api-registry/ "
      .. procs.LUA .. " -e " .. procs.sh_quote([[
        local c = require("basiq").new({ apiKey = "s3cret-key" }).auth("tok-s3cret")
        local n, replaced = c.load("@widgets/v1.0#widgets0")
        print(n, #replaced)
        local n2, e = c.load("@widgets#nosuch")
        print(n2, e.code, e.status, e.message)]]))
    assert.are.equal(0, code, err)
    assert.matches("^1\t0\n", out)
    assert.matches("nil\thttp\t404\tbasiq.load: " .. srv.url:gsub("%p", "%%%0") .. "/api/v1/api%-registry/nosuch: HTTP 404", out)
    local seen = procs.get_json(srv.url .. "/api/v1/api-registry/seen")
    assert.are.equal(2, #seen)
    assert.are.equal("/api/v1/api-registry/widgets0", seen[1].target)
    for _, r in ipairs(seen) do
      assert.is_nil(r.headers.authorization)
      assert.is_nil(r.headers.cookie)
      assert.is_nil(cjson.encode(r.headers):find("s3cret", 1, true))
    end
  end)
end)

describe("basiq.load refuses, with nil, err", function()
  local function refused(src, code, pattern, c)
    local n, err = (c or basiq.new()).load(src)
    assert.is_nil(n)
    assert.are.equal("basiq.error", getmetatable(err).__name)
    assert.are.equal(code, err.code, err.message)
    assert.matches(pattern, err.message)
    return err
  end

  it("a source that cannot be read or fetched, with the HTTP status", function()
    refused("/nonexistent/widgets.yml", "load", "^basiq%.load: /nonexistent/widgets%.yml: .*No such file")
    local err = refused(srv.url .. "/openapi/nosuch.yml?token=t0ps3cret", "http", "HTTP 404$")
    assert.are.equal(404, err.status)
    assert.is_nil(err.message:find("t0ps3cret", 1, true)) -- a URL's query stays out of messages
    refused("http://127.0.0.1:" .. procs.free_port() .. "/x.yml", "connect", "^basiq%.load: connect error: ")
    refused("ftp://127.0.0.1/x.yml", "load", "only http:// and https:// URLs")
  end)

  it("plain http to a host other than loopback, before anything is sent", function()
    refused("http://definitions.invalid/core.yml", "insecure", "refusing plain http to a host other than loopback")
    -- and so is each redirect
    refused(srv.url .. "/openapi/away.yml", "insecure", "^basiq%.load: http://definitions%.invalid/core%.yml: refusing plain http")
  end)

  it("invalid JSON or YAML, with the position", function()
    local path = procs.temp_file('{\n  "openapi": "3.0.0",\n  "paths": nope\n}')
    refused(path, "invalid", "invalid JSON at line 3, column 12: ")
    os.remove(path)
    refused(srv.url .. "/openapi/broken.yml", "invalid", "invalid YAML at line 4, column %d+: mapping values")
  end)

  it("Swagger 2.0 and anything other than OpenAPI 3.x, naming the version", function()
    refused(srv.url .. "/openapi/swagger.json", "invalid", "Swagger 2%.0 is not supported")
    refused({ openapi = "4.0.0", paths = {} }, "invalid", "OpenAPI 4%.0%.0 is not supported")
    refused({ paths = {} }, "invalid", "no openapi version")
    refused({}, "invalid", "no openapi version")
  end)

  it("a $ref that cannot be resolved, naming it", function()
    local doc = { openapi = "3.0.0", paths = { ["/a"] = { get = { responses = { ["200"] = { description = "ok",
      content = { ["application/json"] = { schema = { ["$ref"] = "#/components/schemas/Gone" } } } } } } } } }
    refused(doc, "invalid", "%$ref '#/components/schemas/Gone' cannot be resolved")
    doc.paths["/a"].get.responses["200"].content["application/json"].schema["$ref"] = "other.yml#/Thing"
    refused(doc, "invalid", "only local %$ref is supported: other%.yml#/Thing")
  end)

  it("a compiled table that is not one, before any call could trip on it", function()
    refused({ ops = { x = { method = "FETCH", path = "/x", security = {} } } }, "invalid", "method 'FETCH'")
    refused({ ops = { x = { method = "GET", path = "@evil/x", security = {} } } }, "invalid", "does not begin with /")
  end)
end)

describe("where a source leads (pure functions, no traffic)", function()
  it("rewrites a GitHub blob URL to its raw form, as the api tool does", function()
    assert.are.equal("https://raw.githubusercontent.com/basiqio/api-ref/main/core.yml",
      source.github_raw("https://github.com/basiqio/api-ref/blob/main/core.yml"))
    assert.are.equal("https://raw.githubusercontent.com/o/r/v1.2/a/b.json",
      source.github_raw("https://github.com/o/r/blob/v1.2/a/b.json"))
    -- anything else is left alone: raw already, not a blob, not a definition's extension
    for _, url in ipairs({ "https://raw.githubusercontent.com/o/r/main/x.yml", "https://github.com/o/r/tree/main/x.yml",
      "https://github.com/o/r/blob/main/README.md", "https://example.com/o/r/blob/main/x.yml" }) do
      assert.are.equal(url, source.github_raw(url))
    end
    assert.are.equal("https://raw.githubusercontent.com/o/r/main/x.yml", source.locate("https://github.com/o/r/blob/main/x.yml").url)
  end)

  it("reads registry ids as the api tool does: @project[/version]#uuid", function()
    assert.are.same({ "basiq", "v3.0", "4rlk1xm0uio155" }, { source.registry_id("@basiq/v3.0#4rlk1xm0uio155") })
    assert.are.same({ "petstore", nil, "n6kvf10vakpemvplx" }, { source.registry_id("@petstore#n6kvf10vakpemvplx") })
    for _, s in ipairs({ "n6kvf10vakpemvplx", "../petstore.json", "https://example.com/openapi.json", "@petstore#UPPER" }) do
      assert.is_nil(source.registry_id(s))
    end
    assert.are.equal("https://dash.readme.com/api/v1/api-registry/n6kvf10vakpemvplx",
      source.registry_url("n6kvf10vakpemvplx", source.REGISTRY))
    assert.are.equal("http://127.0.0.1:9/reg/abc", source.registry_url("abc", "http://127.0.0.1:9/reg/"))
  end)

  it("names operations as the api generator does (oas getOperationId, camelCase)", function()
    for _, case in ipairs({
      { "get", "/multiple-combo-auths-duped", "getMultipleComboAuthsDuped" },
      { "post", "/ac_eq_hazard/18.0", "postAc_eq_hazard180" },
      { "get", "/get-pets", "getPets" },
      { "get", "//candidate/{candidate_id}/", "getCandidateCandidate_id" },
      { "get", "/users/{userId}/auth_link", "getUsersUseridAuth_link" },
    }) do
      assert.are.equal(case[3], compile.fallback_name(case[1], case[2]))
    end
    for _, case in ipairs({
      { "ExchangeRESTAPI_GetAccounts", "exchangeRESTAPI_GetAccounts" },
      { "find/?*!@#$%^&*()-=.,<>+[]{}\\|pets-by-status", "findPetsByStatus" },
      { "find pets by status (deprecated?*!@#$%^&*()-=.,<>+[]{})", "findPetsByStatusDeprecated" },
      { "(?*!@#$%^&*()-=.,<>+[]{}) find pets by status", "findPetsByStatus" },
      { "400oD_Browse_by_Date_Feed", "_400oD_Browse_by_Date_Feed" },
      { "Enrich", "enrich" },
    }) do
      assert.are.equal(case[2], compile.method_name(case[1]))
    end
  end)
end)
