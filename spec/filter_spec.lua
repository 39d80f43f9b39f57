-- basiq.filter: Basiq's filter syntax built from tables, and sent intact.
local procs = require("support.procs")
local basiq = require("basiq")

describe("basiq.filter", function()
  it("builds every operator, in order from the list form", function()
    assert.are.equal("transaction.postDate.bt('2024-01-01','2024-02-01'),account.id.eq('abc')",
      basiq.filter({ { "transaction.postDate", "bt", "2024-01-01", "2024-02-01" }, { "account.id", "eq", "abc" } }))
    local ops = { eq = 1, ne = 1, gt = 1, gteq = 1, lt = 1, lteq = 1 }
    for op in pairs(ops) do
      assert.are.equal("transaction.amount." .. op .. "('10')", basiq.filter({ { "transaction.amount", op, 10 } }))
    end
    assert.are.equal("institution.id.in('AU00000','AU00001','AU00002')",
      basiq.filter({ { "institution.id", "in", "AU00000", "AU00001", "AU00002" } }))
  end)

  it("builds the map form with sorted keys: a value is eq, a list is in, a table names operators", function()
    assert.are.equal("account.id.eq('abc'),institution.id.in('AU1','AU2'),transaction.postDate.gteq('2024-01-01'),"
      .. "transaction.postDate.lt('2024-02-01'),transaction.status.eq('posted')",
      basiq.filter({ ["transaction.status"] = "posted", ["account.id"] = "abc", ["institution.id"] = { "AU1", "AU2" },
        ["transaction.postDate"] = { gteq = "2024-01-01", lt = "2024-02-01" } }))
    assert.are.equal("transaction.postDate.bt('a','b')", basiq.filter({ ["transaction.postDate"] = { bt = { "a", "b" } } }))
  end)

  it("quotes every value and escapes quotes and backslashes", function()
    assert.are.equal([[x.y.eq('it\'s'),x.y.eq('a\\b'),x.y.eq('true'),x.y.eq('1.5'),x.y.eq('-3')]],
      basiq.filter({ { "x.y", "eq", "it's" }, { "x.y", "eq", "a\\b" }, { "x.y", "eq", true }, { "x.y", "eq", 1.5 },
        { "x.y", "eq", -3 } }))
  end)

  it("writes numbers as request parameters do: the shortest digits, integers without .0", function()
    -- 1.1 was once sent as '1.1000000000000001' (%.17g): another filter than the one asked for
    local cases = { { 1.1, "1.1" }, { 0.1 + 0.2, "0.30000000000000004" }, { 10, "10" }, { 2.0, "2" }, { -3.25, "-3.25" },
      { 1e21, "1e+21" }, { 2 ^ 53, "9007199254740992" }, { 1 / 3, "0.3333333333333333" } }
    for _, case in ipairs(cases) do
      assert.are.equal("transaction.amount.gt('" .. case[2] .. "')",
        basiq.filter({ ["transaction.amount"] = { gt = case[1] } }))
      -- the same text a request parameter gets on the wire (enrich's amount: a string, given as a number)
      local req = assert(require("basiq.call.request").build("enrich", require("basiq.ops.enrich").ops.enrich,
        { q = "x", institution = "i", country = "AU", amount = case[1] }, nil, 1))
      assert.are.equal("amount=" .. case[2]:gsub("%+", "%%2B"), req.path:match("[^&]*$"))
    end
    for _, bad in ipairs({ 0 / 0, math.huge, -math.huge }) do
      assert.has_error(function() basiq.filter({ ["transaction.amount"] = { gt = bad } }) end)
    end
  end)

  local refusals = {
    { { { "account.id", "like", "a" } }, "unknown operator 'like' for 'account.id'" },
    { { { "account.id", "bt", "a" } }, "'bt' takes 2 values for 'account.id', got 1" },
    { { { "account.id", "eq" } }, "'eq' takes 1 value for 'account.id', got 0" },
    { { { "account.id", "in" } }, "'in' takes one or more values for 'account.id', got 0" },
    { { { "account", "eq", "a" } }, "field 'account' must be a dotted name" },
    { { { "account.id)", "eq", "a" } }, "field 'account.id)' must be a dotted name" },
    { { { "account..id", "eq", "a" } }, "field 'account..id' must be a dotted name" },
    { { { "account.id", "eq", "a\nb" } }, "value for 'account.id' contains NUL, CR or LF" },
    { { { "account.id", "eq", "a\0b" } }, "value for 'account.id' contains NUL, CR or LF" },
    { { { "account.id", "eq", "a\rb" } }, "value for 'account.id' contains NUL, CR or LF" },
    { { { "account.id.", "eq", "a" } }, "field 'account.id.' must be a dotted name" },
    { { { "1account.id", "eq", "a" } }, "field '1account.id' must be a dotted name" },
    { { { 42, "eq", "a" } }, "field 42 must be a dotted name" },
    { { { "account.id", "eq", math.huge } }, "value for 'account.id' must be a string, number or boolean, got inf" },
    { { ["transaction.postDate"] = { bt = { "a" } } }, "'bt' takes 2 values for 'transaction.postDate', got 1" },
    { { ["account.id"] = { like = "a" } }, "unknown operator 'like' for 'account.id'" },
    { { { "account.id", "eq", {} } }, "value for 'account.id' must be a string, number or boolean, got table" },
    { { { "account.id", "eq", 0 / 0 } }, "value for 'account.id' must be a string, number or boolean" },
    { { ["account.id"] = { eq = { x = 1 } } }, "value for 'account.id' must be a string, number or boolean, got table" },
    { { ["account.id"] = {} }, "'account.id' has no operator" },
    { { [true] = "x" }, "key true is not a field name" },
    { { "account.id" }, "entry 1 must be { field, operator, value... }" },
    { {}, "no conditions" },
  }
  for _, case in ipairs(refusals) do
    it("refuses: " .. case[2], function()
      local ok, err = pcall(basiq.filter, case[1])
      assert.is_false(ok)
      assert.matches("basiq.filter: " .. case[2], err, 1, true)
    end)
  end

  it("arrives intact through an operation's filter parameter", function()
    local srv = procs.httpd()
    local f = basiq.filter({ { "transaction.postDate", "bt", "2024-01-01", "2024-02-01" }, { "account.id", "eq", "a'b c" } })
    local res, err = basiq.new({ server = srv.url }).auth("tok").getTransactions({ userId = "u1", filter = f })
    srv.stop()
    assert.is_nil(err)
    local q = res.data.target:match("filter=(.*)$")
    assert.is_nil(q:find("[',() ]"), "not percent-encoded: " .. q)
    assert.are.equal(f, (q:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)))
  end)
end)
