-- Basiq's list filters, as the mock reads them: `field.op('value',...)`
-- terms joined by commas, all of which must hold (eq ne gt gteq lt lteq bt
-- in; values single-quoted, \' and \\ escaped, as basiq.filter writes
-- them). Each list names the fields it filters on; any other field is
-- refused, never silently ignored.
local refuse = require("basiq.mock.refusals").refuse

local M = {}

local ARITY = { eq = 1, ne = 1, gt = 1, gteq = 1, lt = 1, lteq = 1, bt = 2 }

local function bad(text, why)
  refuse("parameter-not-valid", "filter: " .. why .. " in " .. ("%q"):format(text), "filter")
end

-- text -> list of { field, op, values }.
function M.parse(text)
  local terms, i, n = {}, 1, #text
  while i <= n do
    local field, op, after = text:match("^%s*([%a_][%w_]*%.[%w_%.]*[%w_])%.(%a+)%(()", i)
    if not field then bad(text, "expected field.op(values)") end
    i = after
    local values = {}
    while true do
      local c = text:sub(i, i)
      if c == ")" and #values == 0 then i = i + 1; break end
      if c ~= "'" then bad(text, "expected a quoted value") end
      local buf = {}
      i = i + 1
      while true do
        c = text:sub(i, i)
        if c == "" then bad(text, "unterminated value") end
        if c == "\\" then
          buf[#buf + 1] = text:sub(i + 1, i + 1)
          i = i + 2
        elseif c == "'" then
          i = i + 1
          break
        else
          buf[#buf + 1] = c
          i = i + 1
        end
      end
      values[#values + 1] = table.concat(buf)
      c = text:sub(i, i)
      i = i + 1
      if c == ")" then break end
      if c ~= "," then bad(text, "expected , or ) after a value") end
    end
    if not (ARITY[op] or op == "in") then bad(text, "unknown operator '" .. op .. "'") end
    if ARITY[op] and #values ~= ARITY[op] then bad(text, op .. " takes " .. ARITY[op] .. " value(s)") end
    terms[#terms + 1] = { field = field, op = op, values = values }
    i = text:match("^%s*()", i)
    if i <= n then
      if text:sub(i, i) ~= "," then bad(text, "expected , between terms") end
      i = i + 1
    end
  end
  return terms
end

local function cmp(a, b)
  local x, y = tonumber(a), tonumber(b)
  if x and y then return x < y and -1 or x > y and 1 or 0 end
  a, b = tostring(a), tostring(b)
  return a < b and -1 or a > b and 1 or 0
end

local TEST = {
  eq = function(v, a) return cmp(v, a[1]) == 0 end,
  ne = function(v, a) return cmp(v, a[1]) ~= 0 end,
  gt = function(v, a) return cmp(v, a[1]) > 0 end,
  gteq = function(v, a) return cmp(v, a[1]) >= 0 end,
  lt = function(v, a) return cmp(v, a[1]) < 0 end,
  lteq = function(v, a) return cmp(v, a[1]) <= 0 end,
  -- dates compare by their day, so bt('2024-01-01','2024-01-31') takes the 31st
  bt = function(v, a) return cmp(v:sub(1, #a[1]), a[1]) >= 0 and cmp(v:sub(1, #a[2]), a[2]) <= 0 end,
  ["in"] = function(v, a)
    for _, x in ipairs(a) do if cmp(v, x) == 0 then return true end end
    return false
  end,
}

-- The predicate for a filter text over a list whose fields are
-- { ["account.id"] = function(item) return value end, ... }; nil text: all.
function M.compile(text, fields)
  if text == nil or text == "" then return function() return true end end
  local terms = M.parse(text)
  for _, t in ipairs(terms) do
    if not fields[t.field] then
      local names = {}
      for k in pairs(fields) do names[#names + 1] = k end
      table.sort(names)
      bad(text, "the mock filters this list on " .. table.concat(names, ", ") .. " only, not '" .. t.field .. "'")
    end
  end
  return function(item)
    for _, t in ipairs(terms) do
      local v = fields[t.field](item)
      if v == nil or not TEST[t.op](tostring(v), t.values) then return false end
    end
    return true
  end
end

return M
