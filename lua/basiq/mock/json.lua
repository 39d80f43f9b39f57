-- JSON for the mock's answers: cjson, except that an empty table is
-- written as [] (Basiq's answers hold many lists that may be empty, and
-- hardly any empty object); json.object(t) marks a table that must stay {}.
-- Never changes the tables it is given.
local cjson = require("cjson")

local M = {}

local OBJECT = {}
local EMPTY = "\0basiq-mock:[]\0"
local EMPTY_JSON = cjson.encode(EMPTY)

function M.object(t) return setmetatable(t or {}, OBJECT) end

local function mark(v, depth)
  if type(v) ~= "table" or depth > 64 then return v, false end
  if next(v) == nil then
    if getmetatable(v) == OBJECT then return v, false end
    return EMPTY, true
  end
  local copy, changed = {}, false
  for k, item in pairs(v) do
    local m, c = mark(item, depth + 1)
    copy[k] = m
    changed = changed or c
  end
  return changed and copy or v, changed
end

function M.encode(v)
  local marked, changed = mark(v, 0)
  local s = cjson.encode(marked)
  if changed then s = s:gsub(EMPTY_JSON:gsub("%p", "%%%0"), "[]") end
  return s
end

M.null = cjson.null

return M
