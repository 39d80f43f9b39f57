-- Every Basiq operation through the SDK over real HTTP against Prism, which
-- validates each request against Basiq's own definition (a violation is a 4xx).
local procs = require("support.procs")
local basiq = require("basiq")
local index = require("basiq.ops.index")

local DEFS = { "affordability", "core", "data", "enrich", "identity", "reporting", "webhooks" }

local statement = os.tmpname() .. ".pdf"

-- name -> { args... } with valid values; every operation must appear here.
local U, S = "u-6dd30ce4", "snap-1"
local CASES = {
  -- core
  postToken = { { scope = "SERVER_ACCESS" }, { ["basiq-version"] = "3.0" } },
  createUser = { { email = "gavin@hooli.com", mobile = "+61410888666", firstName = "Gavin", lastName = "Belson" } },
  getUser = { { userId = U } },
  updateUser = { { email = "gavin@hooli.com", mobile = "+61410888666" }, { userId = U } },
  deleteUser = { { userId = U } },
  getConsents = { { userId = U } },
  deleteConsent = { { userId = U, consentId = "c-1" } },
  postAuthLink = { { mobile = "+61410888666" }, { userId = U } },
  getAuthLink = { { userId = U } },
  deleteAuthLink = { { userId = U } },
  getEvents = { { filter = "event.entity.eq('connection')" } },
  getTypeById = { { id = "ev-1" } },
  listEventTypes = {},
  getEventTypeById = { { id = "user.created" } },
  getUserJobs = { { userId = U, filter = "connection.id.eq('c-1')" } },
  getJobs = { { jobId = "job-1" } },
  postJobMfa = { { ["mfa-response"] = { "1234" } }, { jobId = "job-1" } },
  -- data
  getAccounts = { { userId = U, filter = "account.status.eq('available')" } },
  getAccount = { { userId = U, accountId = "acc-1" } },
  getTransactions = { { userId = U, limit = 500, filter = "transaction.postDate.bt('2024-01-01','2024-02-01')" } },
  getTransaction = { { userId = U, transactionId = "tx-1" } },
  getConnections = { { userId = U } },
  refreshConnections = { { userId = U } },
  getConnection = { { userId = U, connectionId = "conn-1" } },
  deleteConnection = { { userId = U, connectionId = "conn-1" } },
  refreshConnection = { { userId = U, connectionId = "conn-1" } },
  purgeConnectionData = { { userId = U, connectionId = "conn-1" } },
  createStatement = { { institutionId = "AU01001", statement = { path = statement } }, { userId = U } },
  getConnectors = { { filter = "connector.method.eq('web')" } },
  getConnector = { { connectorId = "AU00000", method = "web" } },
  -- identity
  getUserIdentities = { { userId = U } },
  getUserIdentity = { { userId = U, identityId = "id-1" } },
  -- reporting
  -- Basiq's oneOf for a filter's value lets a date match two branches, so
  -- only non-date values pass a strict validator; the SDK sends either as given.
  createreport = { { reportType = "CON_AFFOR_01", title = "Gavin Belson Affordability Report",
    filters = { { name = "users", value = { U } }, { name = "accounts", value = "acc-1" } } } },
  listallreports = {},
  retrieveReport = { { id = "rep-1" } },
  deleteReport = { { id = "rep-1" } },
  retrieveReportTransactions = { { reportId = "rep-1", filter = "transaction.class.eq('payment')" } },
  listReportTypes = {},
  retrieveSpecificReportType = { { reportTypeId = "CON_AFFOR_01" } },
  -- webhooks
  addWebhook = { { name = "All events", url = "https://example.com/hooks", subscribedEvents = { "user.created" } } },
  listAppWebhooks = {},
  updateWebhook = { { url = "https://example.com/hooks", subscribedEvents = {} }, { webhookId = "wh-1" } },
  deleteWebhook = { { webhookId = "wh-1" } },
  getWebhook = { { webhookId = "wh-1" } },
  listMessages = { { webhookId = "wh-1", limit = 10, filter = "message.status.eq('delivered')" } },
  getWebhookMessage = { { webhookId = "wh-1", messageId = "msg-1" } },
  testMessage = { { eventTypeId = "user.created", Text = "hello" } },
  -- enrich
  enrich = { { q = "EFTPOS WOOLWORTHS 1234 SYDNEY", institution = "AU00000", country = "AU", amount = "-12.50" } },
  -- affordability
  getAffordabilityList = { { userId = U } },
  postAffordability = { { fromMonth = "2024-01", toMonth = "2024-06", accounts = { "acc-1" } }, { userId = U } },
  getAffordability = { { userId = U, snapshotId = S } },
  getAffordabilitySnapshotTransactions = { { userId = U, snapshotId = S, limit = 10 } },
  postExpenses = { { fromMonth = "2024-01", toMonth = "2024-06" }, { userId = U } },
  getExpenses = { { userId = U, snapshotId = S } },
  postIncome = { { fromMonth = "2024-01", toMonth = "2024-06" }, { userId = U } },
  getIncome = { { userId = U, snapshotId = S } },
}

-- Prism lists what it found wrong in an sl-violations header (a JSON list,
-- cut short when long); the entries about the request are ours.
local function request_violations(headers)
  local out = {}
  for msg in (headers["sl-violations"] or ""):gmatch('"location":%["request"[^}]-"message":"(.-)"}') do
    out[#out + 1] = msg
  end
  return out
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

describe("conformance with Basiq's definitions (Prism)", function()
  local mocks, clients = {}, {}

  setup(function()
    local f = assert(io.open(statement, "wb"))
    f:write("%PDF-1.4\n% a tiny statement for the upload test\n")
    f:close()
    for _, def in ipairs(DEFS) do mocks[def] = procs.prism(def .. ".json") end
    for _, def in ipairs(DEFS) do
      mocks[def]:ready(120)
      clients[def] = basiq.new({ server = mocks[def].url, timeout = 20000 })
        .auth("eyJhbGciOiJIUzI1NiJ9.test-token.sig")
    end
  end)

  teardown(function()
    for _, m in pairs(mocks) do m.stop() end
    os.remove(statement)
  end)

  it("has a case for each of the 56 operations", function()
    assert.are.equal(56, count(index))
    for name in pairs(index) do assert.is_table(CASES[name], "no case for " .. name) end
    assert.are.equal(56, count(CASES))
  end)

  local names = {}
  for name in pairs(CASES) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    it(name .. " is accepted by the mock and its answer decoded", function()
      local def = index[name]
      local client = clients[def]
      if name == "postToken" then client = basiq.new({ server = mocks.core.url }).auth("Basic bG9jYWw6bW9jaw==") end
      local res, err = client[name](table.unpack(CASES[name]))
      assert.is_nil(err, tostring(err))
      assert.is_true(res.status >= 200 and res.status < 300)
      assert.are.same({}, request_violations(res.headers))
      local op = require("basiq.ops." .. def).ops[name]
      if res.status == 204 then
        assert.is_nil(res.data)
      elseif op.accept and op.accept:find("json") then
        assert.matches("json", res.headers["content-type"])
        assert.is_table(res.data, name .. " answered " .. tostring(res.data))
      end
      if name == "postToken" then assert.is_string(res.data.access_token) end
      if name == "createUser" or name == "getUser" then assert.are.equal("user", res.data.type) end
      if name == "getTransactions" then assert.are.equal("list", res.data.type) end
    end)
  end

  describe("the mock rejects what breaks the contract (so the check above can fail)", function()
    it("a number where the definition wants a string", function()
      local res, err = clients.core.createUser({ email = "gavin@hooli.com", mobile = 61410888666 })
      assert.is_nil(res)
      assert.are.equal(400, err.status)
      assert.matches("mobile must be string", table.concat(request_violations(err.headers), "\n"))
    end)

    it("a string where the definition wants an array", function()
      local res, err = clients.core.postJobMfa({ ["mfa-response"] = "1234" }, { jobId = "job-1" })
      assert.is_nil(res)
      assert.are.equal(400, err.status)
      assert.matches("mfa%-response must be array", table.concat(request_violations(err.headers), "\n"))
    end)

    it("a bearer call without credentials (which the SDK never sends: it raises)", function()
      local anon = basiq.new({ server = mocks.core.url })
      assert.has_error(function() anon.getUser({ userId = U }) end)
      local h = require("basiq.core").new()
      local o = h:perform({ method = "GET", url = mocks.core.url .. "/users/" .. U, headers = { "Accept: application/json" } })
      h:close()
      assert.are.equal(401, o.status)
    end)

    it("a body missing a required property", function()
      local res, err = clients.reporting.createreport({ title = "no type, no filters" })
      assert.is_nil(res)
      assert.is_true(err.status >= 400 and err.status < 500)
      assert.matches("must have required property 'reportType'", table.concat(request_violations(err.headers), "\n"))
    end)
  end)
end)
