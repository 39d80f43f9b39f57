-- The `basiq` command, run as bin/basiq from the checkout on this run's
-- runtime against the suite's server on loopback: every subcommand, its
-- --help, and the exit codes (0 a 2xx, 1 HTTP/network/load failure, 2 a
-- usage mistake).
local cjson = require("cjson")
local procs = require("support.procs")

local ROOT = procs.ROOT
local q = procs.sh_quote

-- bin/basiq with argv (a list) and env (a string of NAME=value words)
-- -> exit code, stdout, stderr. No LUA_PATH: the script finds lua/ itself.
local function basiq(argv, env)
  local parts = {}
  for i, a in ipairs(argv) do parts[i] = q(a) end
  return procs.run("cd " .. q(ROOT) .. " && env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH -u LUA_CPATH"
    .. " -u BASIQ_API_KEY -u BASIQ_TOKEN -u BASIQ_SERVER " .. (env or "") .. " " .. procs.LUA .. " bin/basiq " .. table.concat(parts, " "))
end

local function temp_dir()
  local d = os.tmpname()
  os.remove(d)
  assert(procs.execute("mkdir -p " .. q(d)))
  return d
end

local srv
setup(function() srv = procs.httpd() end)
teardown(function() srv.stop() end)

describe("basiq --help", function()
  it("is there for the command and every subcommand, and exits 0", function()
    for _, argv in ipairs({ { "--help" }, { "install", "--help" }, { "ops", "--help" }, { "getUser", "--help" },
      { "postToken", "-h" } }) do
      local code, out, err = basiq(argv)
      assert.are.equal(0, code, err)
      assert.matches("^Usage: basiq", out)
    end
    local _, out = basiq({ "--help" })
    assert.matches("install", out, 1, true)
    assert.matches("Exit codes: 0 success, 1 HTTP, network or load failure, 2 usage mistake.", out, 1, true)
    _, out = basiq({ "getUser", "--help" })
    assert.matches("GET /users/{userId}", out, 1, true)
    assert.matches("Parameters (? optional): userId (path, string)", out, 1, true)
  end)
end)

describe("basiq ops", function()
  it("lists operations with method, path and parameters, filtered by a pattern", function()
    local code, out = basiq({ "ops" })
    assert.are.equal(0, code)
    local n = 0
    for _ in out:gmatch("[^\n]+") do n = n + 1 end
    assert.are.equal(56, n)
    code, out = basiq({ "ops", "TRANSACTION" })
    assert.are.equal(0, code)
    assert.matches("^getAffordabilitySnapshotTransactions +GET +/users/{userId}/affordability/{snapshotId}/transactions", out)
    assert.matches("\ngetTransactions +GET +/users/{userId}/transactions +userId %(path, string%), limit%? %(query, integer%),"
      .. " filter%? %(query, string%)\n", out)
    assert.is_nil(out:find("getUser ", 1, true))
    code, out = basiq({ "ops", "--load", srv.url .. "/openapi/widgets.yml", "widget" })
    assert.are.equal(0, code)
    assert.matches("^getWidget +GET +/widgets/{widgetId} +widgetId %(path, string%), colour%? %(query, string%)\n"
      .. "postWidgetsWidgetidNodes +POST", out)
  end)
end)

describe("basiq <operation>", function()
  it("calls with name=value metadata and a JSON body: data on stdout, HTTP <status> on stderr, exit 0", function()
    local code, out, err = basiq({ "getTransactions", "userId=u 1", "limit=5", "--server", srv.url }, "BASIQ_TOKEN=tok-s3cret")
    assert.are.equal(0, code, err)
    assert.are.equal("HTTP 200\n", err)
    local data = cjson.decode(out)
    assert.are.equal("/users/u%201/transactions?limit=5", data.target)
    assert.are.equal("Bearer tok-s3cret", data.headers.authorization)
    assert.matches('^{\n  "', out) -- indented
    assert.matches('"target": "/users/u%201/transactions?limit=5"', out, 1, true)
    -- the body, given inline and from a file
    local path = procs.temp_file({ email = "gavin@hooli.com" })
    for _, body in ipairs({ '{"email": "gavin@hooli.com"}', "@" .. path }) do
      code, out, err = basiq({ "createUser", "--body", body, "--server", srv.url }, "BASIQ_TOKEN=tok")
      assert.are.equal(0, code, err)
      assert.are.same({ email = "gavin@hooli.com" }, cjson.decode(cjson.decode(out).body))
    end
    os.remove(path)
  end)

  it("gets automatic tokens with BASIQ_API_KEY", function()
    local code, out, err = basiq({ "getUser", "userId=u1", "--server", srv.url .. "/tok/60/cli" }, "BASIQ_API_KEY=a2V5OnNlY3JldA==")
    assert.are.equal(0, code, err)
    assert.are.equal("cli-1", cjson.decode(out).token)
  end)

  it("calls an operation of a loaded definition", function()
    local code, out, err = basiq({ "--load", srv.url .. "/openapi/widgets.yml", "getWidget", "widgetId=w", "colour=red" })
    assert.are.equal(0, code, err)
    assert.are.equal("/v9/widgets/w?colour=red", cjson.decode(out).target)
  end)

  it("exits 1 on an HTTP or network failure, with the error on stderr and never the credential", function()
    local code, out, err = basiq({ "getUser", "userId=u1", "--server", srv.url .. "/status/404" }, "BASIQ_TOKEN=tok-s3cret")
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal("HTTP 404\nbasiq.getUser: HTTP 404: resource-not-found: Resource not found.: Detail for 404."
      .. " (correlationId corr-404)\n", err)
    -- a server that echoes the credential back in its error
    code, out, err = basiq({ "getUser", "userId=u1", "--server", srv.url .. "/leaky" }, "BASIQ_TOKEN=tok-s3cret")
    assert.are.equal(1, code)
    assert.matches("^HTTP 401\nbasiq.getUser: HTTP 401", err)
    assert.matches("[redacted]", err, 1, true)
    assert.is_nil((out .. err):find("tok-s3cret", 1, true))
    code, out, err = basiq({ "getUser", "userId=u1", "--server", "http://127.0.0.1:" .. procs.free_port() }, "BASIQ_TOKEN=t")
    assert.are.equal(1, code)
    assert.matches("^basiq.getUser: connect error: ", err)
    assert.are.equal("", out)
    -- a definition that cannot be loaded is a failure too
    code, out, err = basiq({ "--load", srv.url .. "/openapi/nosuch.yml", "getUser", "userId=u1" })
    assert.are.equal(1, code)
    assert.matches("^basiq.load: .*HTTP 404\n$", err)
    assert.are.equal("", out)
  end)

  it("exits 2 on a usage mistake, with the SDK's own message", function()
    for _, case in ipairs({
      { { "getUser", "--server", srv.url }, "^basiq.getUser: missing required parameter 'userId'\n$" },
      { { "getUser", "userId=u", "nope=1", "--server", srv.url }, "^basiq.getUser: unknown parameter 'nope' %(getUser takes userId%)\n$" },
      { { "getUser", "userId=u", "--server", "ftp://127.0.0.1/" }, "^basiq.server: server must be an http:// or https:// URL\n$" },
      { { "getUser", "userId" }, "'userId' is not name=value" },
      { { "createUser", "--body", "{nope" }, "^basiq: %-%-body: invalid JSON at line 1, column 2: " },
      { { "nosuchOperation" }, "Error: unknown command 'nosuchOperation'" },
      { { "getUser", "--bogus" }, "Error: unknown option '%-%-bogus'" },
      { { "install" }, "Error: missing argument 'source'" },
    }) do
      local code, out, err = basiq(case[1])
      assert.are.equal(2, code, err)
      assert.are.equal("", out)
      assert.matches(case[2], err)
    end
  end)
end)

describe("the command as a newcomer meets it", function()
  it("honours BASIQ_SERVER, as the examples do; --server wins", function()
    local code, out, err = basiq({ "getUser", "userId=u1" }, "BASIQ_TOKEN=t BASIQ_SERVER=" .. q(srv.url .. "/env"))
    assert.are.equal(0, code, err)
    assert.are.equal("/env/users/u1", cjson.decode(out).target)
    code, out, err = basiq({ "getUser", "userId=u1", "--server", srv.url }, "BASIQ_TOKEN=t BASIQ_SERVER=" .. q(srv.url .. "/env"))
    assert.are.equal(0, code, err)
    assert.are.equal("/users/u1", cjson.decode(out).target)
    code, out, err = basiq({ "getUser", "userId=u1" }, "BASIQ_TOKEN=t BASIQ_SERVER=ftp://x")
    assert.are.equal("", out)
    assert.are.equal(2, code)
    assert.are.equal("basiq.server: server must be an http:// or https:// URL\n", err)
  end)

  it("prints JSON with every object's keys sorted, the same from run to run", function()
    local first
    for _ = 1, 3 do
      local code, out, err = basiq({ "getUser", "userId=u1", "--server", srv.url }, "BASIQ_TOKEN=t")
      assert.are.equal(0, code, err)
      out = out:gsub('"peer": %d+', '"peer": 0') -- each run's own port
      first = first or out
      assert.are.equal(first, out)
      local keys = {}
      for k in out:gmatch('\n  "([^"]+)":') do keys[#keys + 1] = k end -- the top level's
      assert.are.same({ "body", "headers", "method", "peer", "target" }, keys)
      local hkeys = {}
      for k in out:gmatch('\n    "([^"]+)":') do hkeys[#hkeys + 1] = k end
      local sorted = {}
      for i, k in ipairs(hkeys) do sorted[i] = k end
      table.sort(sorted)
      assert.are.same(sorted, hkeys)
      assert.is_true(#hkeys >= 3)
    end
  end)

  it("says when ops matches nothing, and exits 1", function()
    local code, out, err, _ = basiq({ "ops", "nomatch" })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal("basiq ops: no operation name contains 'nomatch'\n", err)
    code, _, err = basiq({ "ops", "getUsr" })
    assert.are.equal(1, code)
    assert.are.equal("basiq ops: no operation name contains 'getUsr' (did you mean getUser?)\n", err)
  end)

  it("lists an operation's body fields in its --help: name, type, required", function()
    local code, out, _ = basiq({ "createUser", "--help" })
    assert.are.equal(0, code)
    assert.matches("Body fields (? optional): businessAddress? (object), businessIdNo? (string), businessIdNoType? (string),"
      .. " businessName? (string), email? (string), firstName? (string), lastName? (string), middleName? (string),"
      .. " mobile? (string), verificationDate? (string), verificationStatus? (boolean)\n", out, 1, true)
    _, out = basiq({ "postJobMfa", "--help" })
    assert.matches("Body fields (? optional): mfa-response (array of string)\n", out, 1, true)
    _, out = basiq({ "createStatement", "--help" })
    assert.matches("Body fields (? optional): institutionId (string), statement (file)\n", out, 1, true)
    _, out = basiq({ "getUser", "--help" })
    assert.is_nil(out:find("Body fields", 1, true))
  end)

  it("follows every page with --all: one list of the pages' items", function()
    local code, out, err = basiq({ "getTransactions", "userId=u1", "--all", "--server", srv.url .. "/pages/3" },
      "BASIQ_TOKEN=t")
    assert.are.equal(0, code, err)
    assert.are.equal("HTTP 200 (3 pages)\n", err)
    local items = cjson.decode(out)
    assert.are.equal(3, #items)
    for i = 1, 3 do assert.are.equal("t" .. i, items[i].id) end
    -- a page that fails ends it with exit 1, and nothing on stdout
    code, out, err = basiq({ "getTransactions", "userId=u1", "--all", "--server", srv.url .. "/pages/3-fail" }, "BASIQ_TOKEN=t")
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^HTTP 500\nbasiq.getTransactions: HTTP 500", err)
    -- only list operations have it
    code, out, err = basiq({ "createUser", "--all" })
    assert.are.equal("", out)
    assert.are.equal(2, code)
    assert.matches("unknown option '%-%-all'", err)
  end)

  it("refuses a value that does not fit its parameter, and a body field the operation does not take, exit 2", function()
    local code, out, err = basiq({ "getTransactions", "userId=u1", "limit=abc", "--server", srv.url }, "BASIQ_TOKEN=t")
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.are.equal("basiq.getTransactions: parameter 'limit' must be an integer, not the string \"abc\"\n", err)
    code, out, err = basiq({ "createUser", "--body", '{"emial": "x"}', "--server", srv.url }, "BASIQ_TOKEN=t")
    assert.are.equal("", out)
    assert.are.equal(2, code)
    assert.matches("^basiq.createUser: unknown body field 'emial' %(did you mean email%?%)", err)
    -- no credential for an operation that needs one
    code, out, err = basiq({ "getUser", "userId=u1", "--server", srv.url })
    assert.are.equal("", out)
    assert.are.equal(2, code)
    assert.matches("^basiq.getUser: no credential: ", err)
  end)

  it("creates install's --out folder, parents and all", function()
    local dir = temp_dir()
    local code, out, err = basiq({ "install", srv.url .. "/openapi/widgets.yml", "--out", dir .. "/vendor/apis" })
    assert.are.equal(0, code, err)
    assert.matches("^wrote " .. dir:gsub("%p", "%%%0") .. "/vendor/apis/widgets%.lua", out)
    assert.matches("^%-%- Generated by `basiq install`", procs.read_file(dir .. "/vendor/apis/widgets.lua"))
    os.execute("rm -rf " .. q(dir))
  end)
end)

describe("basiq install", function()
  it("writes a module that loads with no network and no YAML library, and its types beside it", function()
    local dir = temp_dir()
    local code, out, err = basiq({ "install", srv.url .. "/openapi/widgets.yml", "--out", dir })
    assert.are.equal(0, code, err)
    assert.are.equal("wrote " .. dir .. "/widgets.lua (3 operations)\nwrote " .. dir .. "/widgets.types.lua (editor types)\n", out)
    assert.matches("^%-%-%-@meta _\n", procs.read_file(dir .. "/widgets.types.lua"))
    assert.matches("---@field colour? \"red\"|\"green\" (query)", procs.read_file(dir .. "/widgets.types.lua"), 1, true)
    -- in a process where lyaml cannot load and the core never sends
    local script = [[
      package.preload.lyaml = function() error("lyaml was loaded") end
      local t = dofile(]] .. string.format("%q", dir .. "/widgets.lua") .. [[)
      local c = require("basiq").new({ transport = function() error("sent something") end })
      local n, replaced = c.load(t)
      print(n, table.concat(replaced, ","), package.loaded["basiq.core"] == nil, package.loaded.lyaml == nil)]]
    code, out, err = procs.run(procs.LUA_ENV .. " " .. procs.LUA .. " -e " .. q(script))
    assert.are.equal(0, code, err)
    assert.are.equal("3\tpostToken\ttrue\ttrue\n", out)
    -- and as a source of its own for the command
    code, out, err = basiq({ "--load", dir .. "/widgets.lua", "getWidget", "widgetId=w" })
    assert.are.equal(0, code, err)
    assert.are.equal("/v9/widgets/w", cjson.decode(out).target)
    os.execute("rm -rf " .. q(dir))
  end)

  it("installs a registry id through BASIQ_API_REGISTRY, named for its project", function()
    local dir = temp_dir()
    local code, out, err = basiq({ "install", "@widgets/v1.0#widgets0", "--out", dir },
      "BASIQ_API_REGISTRY=" .. q(srv.url .. "/api/v1/api-registry"))
    assert.are.equal(0, code, err)
    assert.matches("^wrote " .. dir:gsub("%p", "%%%0") .. "/widgets%.lua %(1 operations%)\n", out)
    assert.matches("from " .. srv.url:gsub("%p", "%%%0") .. "/api/v1/api%-registry/widgets0%.",
      procs.read_file(dir .. "/widgets.lua"))
    os.execute("rm -rf " .. q(dir))
  end)

  it("gives Basiq's seven definitions exactly the tables and types make ops writes", function()
    local dir = temp_dir()
    local p = assert(io.popen("ls " .. q(procs.SPEC_DIR)))
    local n = 0
    for file in p:lines() do
      local api = file:match("^(.-)%.json$")
      if api then
        n = n + 1
        local code, _, err = basiq({ "install", procs.SPEC_DIR .. "/" .. file, "--out", dir })
        assert.are.equal(0, code, err)
        local function body(path, skip)
          return (procs.read_file(path):gsub("^" .. ("[^\n]*\n"):rep(skip), ""))
        end
        assert.are.equal(body(ROOT .. "/lua/basiq/ops/" .. api .. ".lua", 1), body(dir .. "/" .. api .. ".lua", 1), api)
        assert.are.same(require("basiq.ops." .. api), dofile(dir .. "/" .. api .. ".lua"))
        assert.are.equal(body(ROOT .. "/library/basiq-" .. api .. ".lua", 2), body(dir .. "/" .. api .. ".types.lua", 2), api)
      end
    end
    p:close()
    assert.are.equal(7, n)
    os.execute("rm -rf " .. q(dir))
  end)

  it("exits 1 when the source cannot be had, 2 on a name no module can have", function()
    local code, _, err = basiq({ "install", srv.url .. "/openapi/swagger.json", "--out", "/tmp" })
    assert.are.equal(1, code)
    assert.matches("Swagger 2%.0 is not supported", err)
    local file = os.tmpname() -- a folder cannot be made inside a file
    code, _, err = basiq({ "install", srv.url .. "/openapi/widgets.yml", "--out", file .. "/dir" })
    os.remove(file)
    assert.are.equal(1, code)
    assert.matches("^basiq install: cannot make the folder " .. file:gsub("%p", "%%%0") .. "/dir: .*Not a directory\n$", err)
    -- a source that cannot be fetched: said as install's own
    code, _, err = basiq({ "install", srv.url .. "/openapi/nosuch.yml" })
    assert.are.equal(1, code)
    assert.matches("^basiq install: .*HTTP 404\n$", err)
    code, _, err = basiq({ "install", srv.url .. "/openapi/widgets.yml", "--name", "../evil", "--out", "/tmp" })
    assert.are.equal(2, code)
    assert.matches("cannot name a module", err)
  end)
end)
