-- basiq.filter: Basiq's filter syntax from a Lua table, so nobody writes
--   transaction.postDate.bt('2024-01-01','2024-02-01'),account.id.eq('abc')
-- by hand. Values are single-quoted; a quote or backslash inside one is
-- escaped with a backslash.
local errors = require("basiq.shared.errors")
local values = require("basiq.shared.values")
local scalar, sequence = values.scalar, values.sequence

local M = {}

local ARITY = { eq = 1, ne = 1, gt = 1, gteq = 1, lt = 1, lteq = 1, bt = 2, ["in"] = -1 } -- -1: one or more

local function fail(fmt, ...)
  errors.raise("basiq.filter: " .. string.format(fmt, ...))
end

-- A value as request parameters write it (1.1 -> '1.1'), quoted.
local function quote(field, v)
  local s = scalar(v)
  if not s then
    local t = type(v)
    fail("value for '%s' must be a string, number or boolean, got %s", field, t == "number" and tostring(v) or t)
  end
  if s:find("[%z\r\n]") then fail("value for '%s' contains NUL, CR or LF", field) end
  return "'" .. s:gsub("[\\']", "\\%0") .. "'"
end

local function clause(field, op, list)
  if type(field) ~= "string" or not field:match("^[%a_][%w_]*%.[%a_][%w_.]*$")
      or field:find("%.%.") or field:find("%.$") then
    fail("field %s must be a dotted name such as 'transaction.postDate'",
      type(field) == "string" and "'" .. field .. "'" or tostring(field))
  end
  local arity = ARITY[op]
  if not arity then fail("unknown operator '%s' for '%s' (eq, ne, gt, gteq, lt, lteq, bt, in)", tostring(op), field) end
  local n = #list
  if arity > 0 and n ~= arity or n == 0 then
    local want = arity > 0 and arity .. " value" .. (arity > 1 and "s" or "") or "one or more values"
    fail("'%s' takes %s for '%s', got %d", op, want, field, n)
  end
  local q = {}
  for i = 1, n do q[i] = quote(field, list[i]) end
  return field .. "." .. op .. "(" .. table.concat(q, ",") .. ")"
end

-- A non-empty sequence (for in/bt), or nil.
local function list_of(v)
  local n = sequence(v)
  return n and n > 0 and v or nil
end

-- build{ {"account.id", "eq", "abc"}, ... }  (in order), and/or
-- build{ ["account.id"] = "abc", ["transaction.postDate"] = { bt = { a, b } },
--        ["institution.id"] = { "AU00000", "AU00001" } }  (keys sorted; a list means in)
function M.build(spec)
  if type(spec) ~= "table" then fail("expects a table") end
  local out, keys = {}, {}
  local n = #spec
  for i = 1, n do
    local c = spec[i]
    if type(c) ~= "table" then fail("entry %d must be { field, operator, value... }", i) end
    local list = {}
    for j = 3, #c do list[j - 2] = c[j] end
    out[#out + 1] = clause(c[1], c[2], list)
  end
  for k in pairs(spec) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then
      if type(k) ~= "string" then fail("key %s is not a field name", tostring(k)) end
      keys[#keys + 1] = k
    end
  end
  table.sort(keys)
  for _, field in ipairs(keys) do
    local v = spec[field]
    local seq = list_of(v)
    if type(v) ~= "table" then
      out[#out + 1] = clause(field, "eq", { v })
    elseif seq then
      out[#out + 1] = clause(field, "in", seq)
    else
      local ops = {}
      for op in pairs(v) do ops[#ops + 1] = tostring(op) end
      table.sort(ops)
      if not ops[1] then fail("'%s' has no operator", field) end
      for _, op in ipairs(ops) do
        local vals = v[op]
        out[#out + 1] = clause(field, op, list_of(vals) or { vals })
      end
    end
  end
  if not out[1] then fail("no conditions") end
  return table.concat(out, ",")
end

return M
