-- What the mock works out of a user's data: reports, affordability,
-- income and expenses snapshots, and Enrich's reading of one description.
-- Figures come from the user's own mock transactions, so they agree with
-- what getTransactions shows; their wording is the mock's own, never
-- Basiq's.
local Store = require("basiq.mock.store")
local fixtures = require("basiq.mock.fixtures")
local data = require("basiq.mock.api.data")
local json = require("basiq.mock.json")
local refuse = require("basiq.mock.refusals").refuse

local iso, date, money, month = Store.iso, Store.date, Store.money, Store.month

local M = { handlers = {} }
local H = M.handlers

local DAY = 86400

local function user_of(ctx) return ctx.store.users[ctx.params.userId] end

-- Reports.
local function report_of(ctx, id)
  local r = ctx.store.reports[id]
  if not r then refuse("resource-not-found", "No report with this id.", "id") end
  return r
end

function H.createreport(ctx)
  local b = ctx.body
  local users = {}
  for _, f in ipairs(b.filters) do
    if f.name == "users" then
      for _, uid in ipairs(type(f.value) == "table" and f.value or { f.value }) do
        if not ctx.store.users[uid] then refuse("parameter-not-valid", "filters: no user " .. uid .. ".", "filters") end
        users[#users + 1] = uid
      end
    end
  end
  local r = { id = Store.uuid(), title = b.title, report_type = b.reportType, filters = b.filters, users = users,
    created = os.time() }
  ctx.store.reports[r.id] = r
  return 202, { type = "report", id = r.id, links = { self = ctx.base .. "/reports/" .. r.id } }
end

local function report_brief(ctx, r)
  return { type = "report", id = r.id, title = r.title, reportType = r.report_type, createdBy = "mock",
    createdDate = iso(r.created), expiresAt = iso(r.created + 30 * DAY),
    links = { self = ctx.base .. "/reports/" .. r.id } }
end

function H.listallreports(ctx)
  local ids = {}
  for id, r in pairs(ctx.store.reports) do ids[#ids + 1] = { id, r.created } end
  table.sort(ids, function(a, b) return a[2] > b[2] or a[2] == b[2] and a[1] < b[1] end)
  local out = {}
  for _, x in ipairs(ids) do out[#out + 1] = report_brief(ctx, ctx.store.reports[x[1]]) end
  return 200, { type = "list", count = #out, size = #out, data = out, links = { self = ctx.base .. "/reports" } }
end

-- The transactions a report covers: its users' (all when it names none).
local function report_transactions(ctx, r)
  local out = {}
  local users = r.users
  if #users == 0 then
    users = {}
    for uid in pairs(ctx.store.users) do users[#users + 1] = uid end
    table.sort(users)
  end
  for _, uid in ipairs(users) do
    local u = ctx.store.users[uid]
    for _, t in ipairs(u and u.transactions or {}) do out[#out + 1] = t end
  end
  return out
end

function H.retrieveReport(ctx)
  local r = report_of(ctx, ctx.params.id)
  local out = report_brief(ctx, r)
  out.expiresAt = nil
  out.filters = r.filters
  out.transactions = ctx.base .. "/reports/" .. r.id .. "/transactions"
  local accounts = {}
  for _, uid in ipairs(r.users) do
    local u = ctx.store.users[uid]
    for _, a in ipairs(u and data.accounts_of(ctx.store, u) or {}) do
      accounts[#accounts + 1] = { id = a.id, name = a.name, accountNo = a.number, accountHolder = table.concat(
        { u.firstName or "", u.lastName or "" }, " "), accountOwnership = "ONE_PARTY", currency = "AUD",
        balance = money(a.balance), availableFunds = money(a.limit and a.limit + a.balance or a.balance),
        creditLimit = money(a.limit or 0), class = { type = a.class, product = a.product }, connection = a.connection,
        institution = a.institution, status = "available", lastUpdated = iso(a.updated),
        transactionIntervals = { { from = date(a.created - 365 * DAY), to = date(a.updated) } },
        links = { self = ctx.base .. "/users/" .. uid .. "/accounts/" .. a.id } }
    end
  end
  local spend, count, items = 0, 0, {}
  for _, t in ipairs(report_transactions(ctx, r)) do
    if t.amount < 0 then
      spend, count = spend - t.amount, count + 1
      if #items < 20 then
        items[#items + 1] = { id = t.id, amount = money(t.amount), date = date(t.posted), description = t.merchant[1] }
      end
    end
  end
  out.data = {
    accounts = accounts,
    groups = { { id = "spending", title = "Spending", sections = { "expenses" },
      analysis = { amount = { total = money(-spend) }, summary = { transactionCount = count } },
      subgroup = { { id = "all", name = "All spending", transactions = items } } } },
    metrics = { { id = "total-spending", title = "Total spending", description = "All debits the report covers.",
      sections = { "expenses" }, result = { format = "currency", value = money(spend) } } },
  }
  return 200, out
end

function H.deleteReport(ctx)
  ctx.store.reports[report_of(ctx, ctx.params.id).id] = nil
  return 204
end

function H.retrieveReportTransactions(ctx)
  local r = report_of(ctx, ctx.params.reportId)
  local keep = require("basiq.mock.filters").compile(ctx.query.filter, data.TRANSACTION_FIELDS)
  local out = {}
  for _, t in ipairs(report_transactions(ctx, r)) do
    if keep(t) then
      local v = data.transaction_view(ctx, t)
      local e = v.enrich
      if e.category == json.null then e.category = json.object() end
      if e.location == json.null then e.location = json.object() end
      if e.merchant == json.null then
        e.merchant = { id = "", businessName = "", ABN = "", website = "", logoMaster = "", logoThumb = "" }
      end
      e.tags = json.object()
      out[#out + 1] = v
    end
  end
  return 200, { type = "list", count = #out, size = #out, data = out }
end

local function report_type_view(t)
  return { type = "report-type", id = t.id, name = t.name, description = t.description, filters = t.filters }
end

function H.listReportTypes(ctx)
  local out = {}
  for _, t in ipairs(fixtures.REPORT_TYPES) do out[#out + 1] = report_type_view(t) end
  return 200, { type = "list", count = #out, data = out, links = { self = ctx.base .. "/reports/types" } }
end

function H.retrieveSpecificReportType(ctx)
  for _, t in ipairs(fixtures.REPORT_TYPES) do
    if t.id == ctx.params.reportTypeId then return 200, report_type_view(t) end
  end
  refuse("resource-not-found", "No report type with this id.", "reportTypeId")
end

-- Snapshots: affordability, expenses and income over months of a user's data.
local function months_ago(n)
  local t = os.date("!*t")
  t.month = t.month - n
  t.day = 1
  return month(os.time(t))
end

local function snapshot_scope(ctx, u)
  local b = ctx.body or {}
  local from, to = b.fromMonth or months_ago(6), b.toMonth or month()
  for k, v in pairs({ fromMonth = from, toMonth = to }) do
    if not v:match("^%d%d%d%d%-%d%d$") then refuse("parameter-not-valid", k .. " must be YYYY-MM.", k) end
  end
  local wanted
  if b.accounts then
    wanted = {}
    for _, id in ipairs(b.accounts) do
      local a = ctx.store.accounts[id]
      if not a or a.user ~= u.id then refuse("parameter-not-valid", "accounts: no account " .. id .. " of this user.", "accounts") end
      wanted[id] = true
    end
  end
  local txs, oldest, newest = {}, nil, nil
  for _, t in ipairs(u.transactions) do
    local m = month(t.posted)
    if (not wanted or wanted[t.account]) and m >= from and m <= to then
      txs[#txs + 1] = t
      oldest = math.min(oldest or t.posted, t.posted)
      newest = math.max(newest or t.posted, t.posted)
    end
  end
  local accounts = {}
  for _, a in ipairs(data.accounts_of(ctx.store, u)) do
    if not wanted or wanted[a.id] then accounts[#accounts + 1] = a end
  end
  return { from = from, to = to, txs = txs, accounts = accounts,
    days = oldest and math.floor((newest - oldest) / DAY) + 1 or 0 }
end

local function account_links(ctx, u, accounts)
  local out = {}
  for _, a in ipairs(accounts) do out[#out + 1] = ctx.base .. "/users/" .. u.id .. "/accounts/" .. a.id end
  return out
end

local function history(txs, pick)
  local out, total = {}, 0
  for _, t in ipairs(txs) do
    if pick(t) then
      out[#out + 1] = { amount = money(t.amount), date = date(t.posted) }
      total = total + t.amount
    end
  end
  return out, total
end

local function per_month(total, scope)
  return money(total / math.max(1, scope.days / 30))
end

local function expenses_view(ctx, u, s, id)
  local scope = s.scope
  local function bucket(cls, label)
    local hist, total = history(scope.txs, function(t) return t.merchant[3] == cls end)
    return { avgMonthly = per_month(total, scope), changeHistory = hist, summary = label .. ": " .. money(-total) .. " in all" }
  end
  local divisions, order, spent = {}, {}, 0
  for _, t in ipairs(scope.txs) do
    local anz = t.merchant[8]
    if anz and t.amount < 0 then
      local d = divisions[anz[1]]
      if not d then
        d = { anz = anz, total = 0, hist = {} }
        divisions[anz[1]] = d
        order[#order + 1] = anz[1]
      end
      d.total = d.total - t.amount
      spent = spent - t.amount
      d.hist[#d.hist + 1] = { amount = money(t.amount), date = date(t.posted) }
    end
  end
  table.sort(order)
  local payments = {}
  for _, code in ipairs(order) do
    local d = divisions[code]
    payments[#payments + 1] = { division = d.anz[2], avgMonthly = per_month(-d.total, scope),
      percentageTotal = math.floor(d.total / spent * 10000 + 0.5) / 100,
      subCategory = { { category = { expenseClass = { classCode = d.anz[3], classTitle = d.anz[4], divisionCode = d.anz[1],
        divisionTitle = d.anz[2] } }, changeHistory = d.hist, summary = money(d.total) .. " in all" } } }
  end
  return { type = "expenses", id = id, fromMonth = scope.from, toMonth = scope.to, coverageDays = scope.days,
    bankFees = bucket("bank-fee", "Bank fees"), cashWithdrawals = bucket("cash-withdrawal", "Cash withdrawals"),
    externalTransfers = bucket("transfer-out", "External transfers"), loanInterests = bucket("loan-interest", "Loan interest"),
    loanRepayments = bucket("loan-repayment", "Loan repayments"), payments = payments,
    links = { self = ctx.base .. "/users/" .. u.id .. "/expenses/" .. id, accounts = account_links(ctx, u, scope.accounts) } }
end

local function income_view(ctx, u, s, id)
  local scope = s.scope
  local sources, order = {}, {}
  for _, t in ipairs(scope.txs) do
    if t.amount > 0 then
      local name = t.merchant[2]
      if not sources[name] then
        sources[name] = { hist = {}, total = 0, last = t }
        order[#order + 1] = name
      end
      local src = sources[name]
      src.hist[#src.hist + 1] = { amount = money(t.amount), date = date(t.posted), source = name }
      src.total = src.total + t.amount
      if t.posted > src.last.posted then src.last = t end
    end
  end
  table.sort(order)
  local regular, other, regular_total = {}, {}, 0
  for _, name in ipairs(order) do
    local src = sources[name]
    local avg = money(src.total / #src.hist)
    if name == "Acme Payroll" then
      regular_total = regular_total + src.total
      regular[#regular + 1] = { source = name, frequency = "weekly", ageDays = scope.days, changeHistory = src.hist,
        current = { amount = money(src.last.amount), date = date(src.last.posted), nextDate = date(src.last.posted + 7 * DAY) },
        irregularity = { gaps = {}, stability = "stable" },
        previous3Months = { amountAvg = avg, amountAvgMonthly = per_month(src.total, scope), variance = "0.00" } }
    else
      other[#other + 1] = { source = name, frequency = "irregular", ageDays = scope.days, amountAvg = avg,
        avgMonthlyOccurence = money(#src.hist / math.max(1, scope.days / 30)), noOccurrences = #src.hist,
        changeHistory = src.hist, current = { amount = money(src.last.amount), date = date(src.last.posted),
          otherCreditLabel = name } }
    end
  end
  return { type = "income", id = id, fromMonth = scope.from, toMonth = scope.to, coverageDays = scope.days,
    summary = { regularIncomeAvg = per_month(regular_total, scope), irregularIncomeAvg = "0.00",
      regularIncomeYTD = money(regular_total), regularIncomeYear = money(regular_total * 365 / math.max(1, scope.days)) },
    regular = regular, irregular = {}, otherCredit = other,
    links = { self = ctx.base .. "/users/" .. u.id .. "/income/" .. id, accounts = account_links(ctx, u, scope.accounts) } }
end

local function affordability_view(ctx, u, s, id)
  local scope = s.scope
  local assets, credit, total_assets, total_debt, limits = {}, {}, 0, 0, 0
  for _, a in ipairs(scope.accounts) do
    local acc = { product = a.product, type = a.class }
    if a.class == "credit-card" then
      credit[#credit + 1] = { account = acc, institution = a.institution, currency = "AUD", balance = money(a.balance),
        availableFunds = money(a.limit + a.balance), creditLimit = money(a.limit),
        previous6Months = { cashAdvances = "0.00" },
        previousMonth = { maxBalance = money(a.balance), minBalance = money(a.balance), totalCredits = "0.00",
          totalDebits = money(-a.balance) } }
      total_debt, limits = total_debt - a.balance, limits + a.limit
    else
      assets[#assets + 1] = { type = a.class, account = acc, institution = a.institution, currency = "AUD",
        balance = money(a.balance), availableFunds = money(a.balance),
        previous6Months = { maxBalance = money(a.balance), minBalance = money(a.balance) } }
      total_assets = total_assets + a.balance
    end
  end
  local income = income_view(ctx, u, ctx.store.snapshots[s.income], s.income)
  local spent = 0
  for _, t in ipairs(scope.txs) do
    if t.amount < 0 then spent = spent - t.amount end
  end
  local base = ctx.base .. "/users/" .. u.id
  return { type = "affordability", id = id, fromMonth = scope.from, toMonth = scope.to, coverageDays = scope.days,
    generatedDate = iso(s.created), assets = assets, external = {}, liabilities = { credit = credit, loan = {} },
    summary = { assets = money(total_assets), liabilities = money(total_debt), netPosition = money(total_assets - total_debt),
      creditLimit = money(limits), expenses = per_month(spent, scope), savings = money(total_assets),
      loanRepaymentMonthly = "0.00", potentialLiabilitiesMonthly = money(limits * 0.038),
      regularIncome = { previous3Months = { avgMonthly = income.summary.regularIncomeAvg } } },
    links = { self = base .. "/affordability/" .. id, income = base .. "/income/" .. s.income,
      expenses = base .. "/expenses/" .. s.expenses, accounts = account_links(ctx, u, scope.accounts) } }
end

local VIEWS = { affordability = affordability_view, expenses = expenses_view, income = income_view }

local function snapshot(ctx, kind, u, scope)
  local s = { id = Store.uuid(), kind = kind, user = u.id, scope = scope, created = os.time() }
  ctx.store.snapshots[s.id] = s
  return s
end

local function post(kind)
  return function(ctx)
    local u = user_of(ctx)
    local scope = snapshot_scope(ctx, u)
    local s = snapshot(ctx, kind, u, scope)
    if kind == "affordability" then
      s.income = snapshot(ctx, "income", u, scope).id
      s.expenses = snapshot(ctx, "expenses", u, scope).id
    end
    return 200, VIEWS[kind](ctx, u, s, s.id)
  end
end

local function snapshot_of(ctx, kind)
  local s = ctx.store.snapshots[ctx.params.snapshotId]
  if not s or s.kind ~= kind or s.user ~= ctx.params.userId then
    refuse("resource-not-found", "No " .. kind .. " snapshot with this id.", "snapshotId")
  end
  return s
end

local function get(kind)
  return function(ctx)
    local s = snapshot_of(ctx, kind)
    local u = user_of(ctx)
    local accept = (ctx.req.headers.accept or ""):lower()
    local v = VIEWS[kind](ctx, u, s, s.id)
    if accept:find("application/pdf", 1, true) then
      return 200, "%PDF-1.4\n% basiq mock " .. kind .. " " .. s.id .. "\n%%EOF\n", { ["Content-Type"] = "application/pdf" }
    elseif accept:find("text/csv", 1, true) then
      return 200, "type,id,fromMonth,toMonth\n" .. kind .. "," .. s.id .. "," .. v.fromMonth .. "," .. v.toMonth .. "\n",
        { ["Content-Type"] = "text/csv" }
    end
    return 200, v
  end
end

H.postAffordability, H.postExpenses, H.postIncome = post("affordability"), post("expenses"), post("income")
H.getAffordability, H.getExpenses, H.getIncome = get("affordability"), get("expenses"), get("income")

function H.getAffordabilityList(ctx)
  local u = user_of(ctx)
  local list = {}
  for _, s in pairs(ctx.store.snapshots) do
    if s.kind == "affordability" and s.user == u.id then list[#list + 1] = s end
  end
  table.sort(list, function(a, b) return a.created > b.created or a.created == b.created and a.id < b.id end)
  local base = ctx.base .. "/users/" .. u.id
  local out = {}
  for _, s in ipairs(list) do
    local institutions, seen = {}, {}
    for _, a in ipairs(s.scope.accounts) do
      if not seen[a.institution] then seen[a.institution] = true; institutions[#institutions + 1] = a.institution end
    end
    out[#out + 1] = { type = "affordability", id = s.id, fromMonth = s.scope.from, toMonth = s.scope.to,
      generatedDate = iso(s.created), coverageDays = s.scope.days, institutions = institutions,
      links = { self = base .. "/affordability/" .. s.id, income = base .. "/income/" .. s.income,
        expenses = base .. "/expenses/" .. s.expenses } }
  end
  return 200, { type = "list", data = out, links = { self = base .. "/affordability" } }
end

function H.getAffordabilitySnapshotTransactions(ctx)
  local s = snapshot_of(ctx, "affordability")
  local path = "/users/" .. s.user .. "/affordability/" .. s.id .. "/transactions"
  return 200, data.page(ctx, path, s.scope.txs, function(c, t)
    local v = data.transaction_view(c, t)
    return { type = "transaction", id = v.id, account = v.account, amount = v.amount, balance = v.balance,
      class = v.class, description = v.description, direction = v.direction, institution = v.institution,
      postDate = v.postDate, status = v.status, transactionDate = v.transactionDate,
      subClass = { Code = tonumber(v.subClass.code) or 0, title = v.subClass.title },
      links = { account = v.links.account, institution = v.links.institution } }
  end, 500)
end

-- Enrich: one description read against the mock's merchants.
function H.enrich(ctx)
  local q = (ctx.query.q or ""):upper()
  if q == "" then refuse("parameter-not-supplied", "q is required.", "q") end
  local found
  for _, m in ipairs(fixtures.MERCHANTS) do
    local words = m[2]:upper()
    if q:find(words, 1, true) or m[1]:find(q, 1, true) then found = m; break end
  end
  local amount = tonumber(ctx.query.amount or "")
  local out = { type = "enrich", direction = (amount and amount > 0) and "credit" or "debit",
    class = found and found[3] or "payment", links = { self = ctx.base .. "/enrich" }, data = { tags = {} } }
  if found then
    local anz = found[8]
    local slug = found[2]:lower():gsub("%W+", "")
    out.data.merchant = { id = "mock-" .. slug, businessName = found[2], website = "http://" .. slug .. ".example" }
    if found[6] then out.data.location = { suburb = found[6], state = found[7], country = "Australia" } end
    if anz then
      out.data.category = { matchType = "merchantFull", matchScore = "0.94",
        anzsic = { division = { code = anz[1], title = anz[2] }, class = { code = anz[3], title = anz[4] } } }
    end
    out.links["logo-master"] = ctx.base .. "/logos/master.png"
    out.links["logo-thumb"] = ctx.base .. "/logos/thumb.png"
  end
  return 200, out
end

return M
