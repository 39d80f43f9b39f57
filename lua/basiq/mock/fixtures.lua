-- The mock's own made-up world, written by hand: its institutions (whose
-- ids pick a job's scenario), account kinds, merchants, consent wording,
-- event and report types. Pure data; never taken from Basiq's definitions
-- (their examples are not ours to copy), only shaped to fit them.
local M = {}

-- Institutions. scenario: what a connection job does there (see jobs.lua).
M.INSTITUTIONS = {
  { id = "AU00000", name = "Mock Bank", short = "Mock", scenario = "ok" },
  { id = "AU00001", name = "Mock Bank (MFA)", short = "Mock MFA", scenario = "mfa" },
  { id = "AU00002", name = "Mock Bank (wrong password)", short = "Mock Fail V", scenario = "fail:verify-credentials" },
  { id = "AU00003", name = "Mock Bank (accounts fail)", short = "Mock Fail A", scenario = "fail:retrieve-accounts" },
  { id = "AU00004", name = "Mock Bank (transactions fail)", short = "Mock Fail T", scenario = "fail:retrieve-transactions" },
  { id = "AU00005", name = "Mock Credit Union", short = "Mock CU", scenario = "ok" },
}
M.BY_ID = {}
for _, inst in ipairs(M.INSTITUTIONS) do M.BY_ID[inst.id] = inst end
M.DEFAULT_INSTITUTION = "AU00000"

-- What a failed step says: code (from the definitions' list), title, detail.
M.FAILURES = {
  ["verify-credentials"] = { "user-action-required", "Cannot log in with these credentials",
    "The institution refused the login (mock scenario)." },
  ["retrieve-accounts"] = { "connector-error", "Could not retrieve accounts",
    "The institution's service failed while listing accounts (mock scenario)." },
  ["retrieve-transactions"] = { "system-unavailable", "Could not retrieve transactions",
    "The institution is not answering (mock scenario)." },
}

-- Each connection holds these accounts.
M.ACCOUNTS = {
  { name = "Everyday Account", product = "Everyday Account", type = "transaction", balance = 2450.35, limit = nil,
    number = "12345678" },
  { name = "Rewards Card", product = "Rewards Visa", type = "credit-card", balance = -612.80, limit = 8000,
    number = "4650000012349876" },
}

-- Merchants the transactions cycle through: description, clean name,
-- class, sign, amount, and where (nil: a transfer with no place or merchant).
M.MERCHANTS = {
  { "EFTPOS HARBOUR GROCER 0412 SYDNEY NS", "Harbour Grocer", "payment", -1, 84.20, "Sydney", "NSW",
    { "G", "Retail Trade", "411", "Supermarket and Grocery Stores" } },
  { "CARD PURCHASE BONDI FUEL 22 BONDI", "Bondi Fuel", "payment", -1, 71.05, "Bondi", "NSW",
    { "G", "Retail Trade", "400", "Fuel Retailing" } },
  { "DIRECT DEBIT SOUTHERN CROSS ENERGY", "Southern Cross Energy", "payment", -1, 132.40, "Melbourne", "VIC",
    { "D", "Electricity, Gas, Water and Waste Services", "261", "Electricity Generation" } },
  { "TRANSFER FROM ACME PTY LTD PAYROLL", "Acme Payroll", "transfer", 1, 3120.00, nil, nil, nil },
  { "CORNER CAFE NEWTOWN", "Corner Cafe", "payment", -1, 9.50, "Newtown", "NSW",
    { "H", "Accommodation and Food Services", "451", "Cafes, Restaurants and Takeaway Food Services" } },
  { "METRO TRANSIT TOPUP", "Metro Transit", "payment", -1, 40.00, "Sydney", "NSW",
    { "I", "Transport, Postal and Warehousing", "462", "Urban Bus Transport" } },
  { "ATM WITHDRAWAL 0031 GEORGE ST", "ATM George St", "cash-withdrawal", -1, 100.00, "Sydney", "NSW", nil },
  { "MONTHLY ACCOUNT FEE", "Account fee", "bank-fee", -1, 5.00, nil, nil, nil },
  { "INTEREST CREDIT", "Interest", "interest", 1, 1.27, nil, nil, nil },
  { "REFUND HARBOUR GROCER", "Harbour Grocer", "refund", 1, 12.99, "Sydney", "NSW",
    { "G", "Retail Trade", "411", "Supermarket and Grocery Stores" } },
}

-- What the mock's consent asks for.
M.CONSENT = {
  purpose = { title = "Budgeting", description = "To show you where your money goes (mock consent)." },
  permissions = {
    { scope = "ACCOUNT_DETAIL", entity = "account", name = "Account details",
      description = "Your account names, numbers and balances.", attributes = { "name", "number", "balance" } },
    { scope = "TRANSACTION_DETAIL", entity = "transaction", name = "Transaction details",
      description = "Your transactions: amounts, dates and descriptions.", attributes = { "amount", "date", "description" } },
  },
  days = 365,
}

-- Event types the mock knows and sends.
M.EVENT_TYPES = {
  { "user.created", "A user was created" },
  { "user.updated", "A user was updated" },
  { "user.deleted", "A user was deleted" },
  { "consent.created", "A user gave consent" },
  { "consent.revoked", "A user's consent was revoked" },
  { "connection.created", "A connection was made" },
  { "connection.deleted", "A connection was deleted" },
  { "connection.invalidated", "A connection stopped working" },
  { "account.updated", "An account's data was refreshed" },
  { "transactions.updated", "New transactions were retrieved" },
}

M.REPORT_TYPES = {
  { id = "MOCK_SUMMARY_01", name = "Mock account summary", description = "Accounts and their balances (mock).",
    filters = { { name = "users", type = "array", required = true }, { name = "accounts", type = "array", required = false } } },
  { id = "MOCK_SPENDING_01", name = "Mock spending report", description = "Spending grouped by merchant (mock).",
    filters = { { name = "users", type = "array", required = true }, { name = "fromDate", type = "date", required = false } } },
}

return M
