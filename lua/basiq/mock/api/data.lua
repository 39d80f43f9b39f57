-- mock/api/: the mock's answers to Basiq's operations, by what they are about
-- (users, bank data, jobs, events, insights); routes.lua dispatches to them.
--
-- The mock's bank data: connections (made through the Consent UI or a
-- statement upload), their accounts and transactions (made by the jobs'
-- steps, from fixtures.lua), connectors and identities. Lists filter as
-- Basiq's do; transactions come in pages whose links.next point at the
-- mock itself, so basiq.paginate follows them, never elsewhere.
local Store = require("basiq.mock.store")
local fixtures = require("basiq.mock.fixtures")
local filters = require("basiq.mock.filters")
local jobs = require("basiq.mock.api.jobs")
local bodies = require("basiq.mock.bodies")
local refuse = require("basiq.mock.refusals").refuse
local null = require("basiq.mock.json").null
local core = require("basiq.shared.lazy")

local iso, money = Store.iso, Store.money

local M = { handlers = {} }
local H = M.handlers

local DAY = 86400

local function upath(uid) return "/users/" .. uid end

-- What a job's steps make (jobs.lua calls these).
M.work = {}

function M.work.accounts(store, conn)
  if #conn.accounts > 0 then
    for _, aid in ipairs(conn.accounts) do store.accounts[aid].updated = os.time() end
    return
  end
  for i, kind in ipairs(fixtures.ACCOUNTS) do
    local a = { id = Store.uuid(), user = conn.user, connection = conn.id, institution = conn.institution,
      name = kind.name, product = kind.product, class = kind.type, balance = kind.balance, limit = kind.limit,
      number = kind.number, bsb = kind.type == "transaction" and ("06" .. i .. "-0" .. (10 + i)) or nil,
      created = os.time(), updated = os.time() }
    store.accounts[a.id] = a
    conn.accounts[#conn.accounts + 1] = a.id
  end
end

function M.work.transactions(store, conn)
  if conn.has_transactions then return end
  conn.has_transactions = true
  local user = store.users[conn.user]
  local n = store.opts.transactions or 30
  local today = os.time() - os.time() % DAY
  for ai, aid in ipairs(conn.accounts) do
    local a = store.accounts[aid]
    local balance = a.balance
    for k = 1, n do
      local m = fixtures.MERCHANTS[(k + ai * 3) % #fixtures.MERCHANTS + 1]
      local amount = m[4] * m[5] * (1 + ((k * 7) % 5) / 10)
      local t = { id = Store.uuid(), user = conn.user, account = aid, connection = conn.id, institution = conn.institution,
        merchant = m, amount = amount, balance = balance, posted = today - (k - 1) * DAY - ai * 3600,
        status = k == 1 and "pending" or "posted" }
      balance = balance - amount
      user.transactions[#user.transactions + 1] = t
    end
  end
  table.sort(user.transactions, function(x, y)
    if x.posted ~= y.posted then return x.posted > y.posted end
    return x.id < y.id
  end)
end

-- A new connection of a user to an institution: the connection record.
function M.connect(store, user, institution, method)
  local t = os.time()
  local conn = { id = Store.uuid(), user = user.id, institution = institution, status = "pending", created = t,
    expires = t + fixtures.CONSENT.days * DAY, method = method or "openbanking", accounts = {}, identity = Store.uuid() }
  store.connections[conn.id] = conn
  user.connections[#user.connections + 1] = conn.id
  return conn
end

-- A connection and its first job.
function M.connect_and_start(store, user, institution, method)
  local conn = M.connect(store, user, institution, method)
  return jobs.start(store, user, conn, M.work), conn
end

local function institution_ref(ctx, id)
  return { type = "institution", id = id, links = { self = ctx.base .. "/institutions/" .. id } }
end

local function conn_of(ctx)
  local c = ctx.store.connections[ctx.params.connectionId]
  if not c or c.user ~= ctx.params.userId then refuse("resource-not-found", "No connection with this id.", "connectionId") end
  return c
end

local function conn_links(ctx, c)
  local base = ctx.base .. upath(c.user)
  local by = "?filter=connection.id.eq('" .. c.id .. "')"
  return { self = base .. "/connections/" .. c.id, accounts = base .. "/accounts" .. by,
    transactions = base .. "/transactions" .. by, institution = ctx.base .. "/institutions/" .. c.institution,
    user = base }
end

local function conn_view(ctx, c)
  local out = { type = "connection", id = c.id, status = c.status, method = c.method, createdDate = iso(c.created),
    expiryDate = iso(c.expires), institution = institution_ref(ctx, c.institution), links = conn_links(ctx, c) }
  if c.last_used then out.lastUsed = iso(c.last_used) end
  return out
end

local CONN_FIELDS = {
  ["connection.id"] = function(c) return c.id end,
  ["connection.status"] = function(c) return c.status end,
  ["institution.id"] = function(c) return c.institution end,
}

function H.getConnections(ctx)
  local u = ctx.store.users[ctx.params.userId]
  local keep = filters.compile(ctx.query.filter, CONN_FIELDS)
  local data = {}
  for _, id in ipairs(u.connections) do
    local c = ctx.store.connections[id]
    if keep(c) then
      local v = conn_view(ctx, c)
      v.links.user = nil
      data[#data + 1] = v
    end
  end
  return 200, { type = "list", data = data, links = { self = ctx.base .. upath(u.id) .. "/connections" } }
end

local function money_or_null(x) return x and money(x) or null end

function H.getConnection(ctx)
  local c = conn_of(ctx)
  local v = conn_view(ctx, c)
  local accounts = {}
  for _, aid in ipairs(c.accounts) do
    local a = ctx.store.accounts[aid]
    accounts[#accounts + 1] = { type = "account", id = a.id, name = a.name, accountNo = a.number, currency = "AUD",
      balance = money(a.balance), availableFunds = money_or_null(a.limit and a.limit + a.balance or a.balance),
      class = { type = a.class, product = a.product }, status = "available", lastUpdated = iso(a.updated),
      links = { self = ctx.base .. upath(c.user) .. "/accounts/" .. a.id,
        transactions = ctx.base .. upath(c.user) .. "/transactions?filter=account.id.eq('" .. a.id .. "')" } }
  end
  v.accounts = { type = "list", data = accounts }
  return 200, v
end

local function drop_data(store, c)
  local u = store.users[c.user]
  local gone = {}
  for _, aid in ipairs(c.accounts) do
    gone[aid] = true
    store.accounts[aid] = nil
  end
  c.accounts, c.has_transactions = {}, nil
  local kept = {}
  for _, t in ipairs(u.transactions) do
    if not gone[t.account] then kept[#kept + 1] = t end
  end
  u.transactions = kept
end

function H.deleteConnection(ctx)
  local c = conn_of(ctx)
  local u = ctx.store.users[c.user]
  drop_data(ctx.store, c)
  ctx.store.connections[c.id] = nil
  for i, id in ipairs(u.connections) do
    if id == c.id then table.remove(u.connections, i); break end
  end
  ctx.store:emit("connection.deleted", u.id, upath(u.id) .. "/connections/" .. c.id)
  return 204
end

function H.purgeConnectionData(ctx)
  drop_data(ctx.store, conn_of(ctx))
  return 204
end

local function job_ref(ctx, job)
  return { type = "job", id = job.id, links = { self = ctx.base .. "/jobs/" .. job.id } }
end

function H.refreshConnection(ctx)
  local c = conn_of(ctx)
  local job = jobs.start(ctx.store, ctx.store.users[c.user], c, M.work)
  return 202, job_ref(ctx, job)
end

function H.refreshConnections(ctx)
  local u = ctx.store.users[ctx.params.userId]
  local data = {}
  for _, id in ipairs(u.connections) do
    local job = jobs.start(ctx.store, u, ctx.store.connections[id], M.work)
    data[#data + 1] = job_ref(ctx, job)
  end
  return 202, { type = "list", data = data }
end

function H.createStatement(ctx)
  local u = ctx.store.users[ctx.params.userId]
  local fields = bodies.multipart("createStatement", ctx.req)
  local job = M.connect_and_start(ctx.store, u, fields.institutionId, "pdf")
  return 202, job_ref(ctx, job)
end

-- Accounts.
local function account_view(ctx, a)
  local user = ctx.store.users[a.user]
  local holder = table.concat({ user.firstName or "", user.lastName or "" }, " "):match("^%s*(.-)%s*$")
  local base = ctx.base .. upath(a.user)
  local from = iso(ctx.store.connections[a.connection].created - 365 * DAY)
  return { type = "account", id = a.id, name = a.name, accountNo = a.number, bsb = a.bsb,
    maskedNumber = ("x"):rep(#a.number - 4) .. a.number:sub(-4), accountHolder = holder ~= "" and holder or nil,
    accountOwnership = "ONE_PARTY", isOwned = true, currency = "AUD", balance = money(a.balance),
    availableFunds = money(a.limit and a.limit + a.balance or a.balance), creditLimit = money_or_null(a.limit),
    class = { type = a.class, product = a.product }, connection = a.connection, institution = a.institution,
    status = "available", lastUpdated = iso(a.updated), creationDate = iso(a.created),
    transactionIntervals = { { from = from, to = iso(a.updated) } },
    links = { self = base .. "/accounts/" .. a.id, transactions = base .. "/transactions?filter=account.id.eq('" .. a.id .. "')",
      institution = ctx.base .. "/institutions/" .. a.institution, connection = base .. "/connections/" .. a.connection } }
end

local ACCOUNT_FIELDS = {
  ["account.id"] = function(a) return a.id end,
  ["account.status"] = function() return "available" end,
  ["account.type"] = function(a) return a.class end,
  ["connection.id"] = function(a) return a.connection end,
  ["institution.id"] = function(a) return a.institution end,
}

local function accounts_of(store, u)
  local out = {}
  for _, cid in ipairs(u.connections) do
    for _, aid in ipairs(store.connections[cid].accounts) do out[#out + 1] = store.accounts[aid] end
  end
  return out
end

function H.getAccounts(ctx)
  local u = ctx.store.users[ctx.params.userId]
  local keep = filters.compile(ctx.query.filter, ACCOUNT_FIELDS)
  local data = {}
  for _, a in ipairs(accounts_of(ctx.store, u)) do
    if keep(a) then
      local v = account_view(ctx, a)
      if v.accountHolder == nil then v.accountHolder = null end
      data[#data + 1] = v
    end
  end
  return 200, { type = "list", data = data, links = { self = ctx.base .. upath(u.id) .. "/accounts" } }
end

function H.getAccount(ctx)
  local a = ctx.store.accounts[ctx.params.accountId]
  if not a or a.user ~= ctx.params.userId then refuse("resource-not-found", "No account with this id.", "accountId") end
  local v = account_view(ctx, a)
  if v.accountHolder == nil then v.accountHolder = null end
  return 200, v
end

-- Transactions.
local CLASS_TITLES = { payment = "Payment", transfer = "Transfer", ["cash-withdrawal"] = "Cash withdrawal",
  ["bank-fee"] = "Bank fee", interest = "Interest", refund = "Refund" }

function M.transaction_view(ctx, t)
  local m = t.merchant
  local base = ctx.base .. upath(t.user)
  local anz = m[8]
  local category, merchant, location = null, null,
    null
  if anz then
    category = { matchType = "merchantFull", matchScore = "0.94",
      anzsic = { division = { code = anz[1], title = anz[2] }, class = { code = anz[3], title = anz[4] } } }
    merchant = { id = "mock-" .. m[2]:lower():gsub("%W+", "-"), businessName = m[2], ABN = "00 000 000 000",
      website = "http://" .. m[2]:lower():gsub("%W+", "") .. ".example", logoMaster = ctx.base .. "/logos/master.png",
      logoThumb = ctx.base .. "/logos/thumb.png" }
  end
  if m[6] then
    location = { suburb = m[6], state = m[7], country = "Australia", formattedAddress = m[6] .. " " .. m[7] .. ", Australia" }
  end
  return { type = "transaction", id = t.id, status = t.status, description = m[1], amount = money(t.amount),
    balance = money(t.balance), account = t.account, connection = t.connection, institution = t.institution,
    class = m[3], direction = t.amount < 0 and "debit" or "credit", currency = "AUD", reference = "",
    postDate = t.status == "posted" and iso(t.posted) or "", transactionDate = iso(t.posted),
    subClass = { code = anz and anz[3] or "", title = anz and anz[4] or CLASS_TITLES[m[3]] },
    enrich = { cleanDescription = m[2], tags = {}, category = category, merchant = merchant, location = location },
    links = { self = base .. "/transactions/" .. t.id, account = base .. "/accounts/" .. t.account,
      connection = base .. "/connections/" .. t.connection, institution = ctx.base .. "/institutions/" .. t.institution } }
end

M.TRANSACTION_FIELDS = {
  ["transaction.id"] = function(t) return t.id end,
  ["transaction.postDate"] = function(t) return Store.iso(t.posted) end,
  ["transaction.status"] = function(t) return t.status end,
  ["transaction.direction"] = function(t) return t.amount < 0 and "debit" or "credit" end,
  ["transaction.class"] = function(t) return t.merchant[3] end,
  ["transaction.amount"] = function(t) return money(t.amount) end,
  ["account.id"] = function(t) return t.account end,
  ["connection.id"] = function(t) return t.connection end,
  ["institution.id"] = function(t) return t.institution end,
}

-- One page of a list: the items from offset `next` (a query value), and
-- links whose next carries the same limit and filter on the mock's own URL.
function M.page(ctx, path, items, view, default_limit)
  local limit = ctx.limit or default_limit
  local offset = tonumber(ctx.query.next or "0") or 0
  local data = {}
  for i = offset + 1, math.min(offset + limit, #items) do data[#data + 1] = view(ctx, items[i]) end
  local function url(at)
    local q = { "limit=" .. limit }
    if ctx.query.filter then q[#q + 1] = "filter=" .. core.escape(ctx.query.filter) end
    if at > 0 then q[#q + 1] = "next=" .. at end
    return ctx.base .. path .. "?" .. table.concat(q, "&")
  end
  local links = { self = url(offset) }
  if offset + limit < #items then links.next = url(offset + limit) end
  return { type = "list", count = #items, size = #data, data = data, links = links }
end

function H.getTransactions(ctx)
  local u = ctx.store.users[ctx.params.userId]
  local keep = filters.compile(ctx.query.filter, M.TRANSACTION_FIELDS)
  local items = {}
  for _, t in ipairs(u.transactions) do
    if keep(t) then items[#items + 1] = t end
  end
  return 200, M.page(ctx, upath(u.id) .. "/transactions", items, M.transaction_view, 500)
end

function H.getTransaction(ctx)
  local u = ctx.store.users[ctx.params.userId]
  for _, t in ipairs(u.transactions) do
    if t.id == ctx.params.transactionId then return 200, M.transaction_view(ctx, t) end
  end
  refuse("resource-not-found", "No transaction with this id.", "transactionId")
end

-- Connectors: each institution, by open banking and by web login.
local METHODS = { "openbanking", "web" }

local function connector_view(ctx, inst, method)
  return { type = "connector", id = inst.id, method = method, status = "operational", stage = "live",
    authorization = { type = method == "web" and "user" or "other" }, scopes = { "ACCOUNTS", "TRANSACTIONS" },
    institution = { name = inst.name, shortName = inst.short, country = "Australia", tier = "1", type = "Test Bank",
      logo = { type = "image", links = { full = ctx.base .. "/logos/" .. inst.id .. ".png",
        square = ctx.base .. "/logos/" .. inst.id .. "-square.png" } } },
    stats = { averageDurationMs = { verifyCredentials = 1200, retrieveAccounts = 800, retrieveTransactions = 2500,
      retrieveMeta = 300, total = 4800 } },
    links = { self = ctx.base .. "/connectors/" .. inst.id .. "/" .. method } }
end

local CONNECTOR_FIELDS = {
  ["connector.id"] = function(c) return c[1].id end,
  ["connector.method"] = function(c) return c[2] end,
  ["connector.stage"] = function() return "live" end,
  ["institution.id"] = function(c) return c[1].id end,
}

function H.getConnectors(ctx)
  local keep = filters.compile(ctx.query.filter, CONNECTOR_FIELDS)
  local data = {}
  for _, inst in ipairs(fixtures.INSTITUTIONS) do
    for _, method in ipairs(METHODS) do
      if keep({ inst, method }) then data[#data + 1] = connector_view(ctx, inst, method) end
    end
  end
  return 200, { type = "list", totalCount = #data, data = data, links = { self = ctx.base .. "/connectors" } }
end

function H.getConnector(ctx)
  local inst = fixtures.BY_ID[ctx.params.connectorId]
  local method = ctx.params.method
  if not inst or (method ~= "openbanking" and method ~= "web") then
    refuse("resource-not-found", "No connector with this id and method.", "connectorId")
  end
  return 200, connector_view(ctx, inst, method)
end

-- Identities: what each active connection says about its account holder.
local function identity_view(ctx, u, c)
  local first, last = u.firstName or "", u.lastName or ""
  local job
  for _, jid in ipairs(u.jobs) do
    local j = ctx.store.jobs[jid]
    if j and j.connection == c.id then job = j.id end
  end
  return { type = "identity", id = c.identity, created = iso(c.created), updated = iso(c.last_used or c.created),
    firstName = first, lastName = last, fullName = (first .. " " .. last):match("^%s*(.-)%s*$"),
    emailAddresses = { u.email }, phoneNumbers = { u.mobile }, source = c.method, institutionID = c.institution,
    connectionID = c.id,
    physicalAddresses = { { type = "RESIDENTIAL", addressLine1 = "1 Mock Street", city = "Sydney", state = "NSW",
      postcode = "2000", country = "Australia", countryCode = "AU", formattedAddress = "1 Mock Street, Sydney NSW 2000" } },
    links = { self = ctx.base .. upath(u.id) .. "/identities/" .. c.identity,
      job = ctx.base .. "/jobs/" .. (job or "") } }
end

function H.getUserIdentities(ctx)
  local u = ctx.store.users[ctx.params.userId]
  local data = {}
  for _, cid in ipairs(u.connections) do
    local c = ctx.store.connections[cid]
    if c.status == "active" then data[#data + 1] = identity_view(ctx, u, c) end
  end
  return 200, { type = "list", count = #data, data = data }
end

function H.getUserIdentity(ctx)
  local u = ctx.store.users[ctx.params.userId]
  for _, cid in ipairs(u.connections) do
    local c = ctx.store.connections[cid]
    if c.identity == ctx.params.identityId and c.status == "active" then return 200, identity_view(ctx, u, c) end
  end
  refuse("resource-not-found", "No identity with this id.", "identityId")
end

M.accounts_of = accounts_of
M.account_view = account_view

return M
