-- Checks and formats shared by several modules: how a scalar goes on the
-- wire, sequences, integers, positive times, a caller's value in a
-- message. Pure functions: nothing here raises or keeps state.
local type, format, floor, huge, tonumber = type, string.format, math.floor, math.huge, tonumber

local M = {}

-- math.type for Lua 5.1 / LuaJIT, where every number is a double: whole
-- numbers within 2^53 count as integers.
M.mtype = math.type or function(v)
  if type(v) ~= "number" then return nil end
  return v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 and "integer" or "float"
end
local mtype = M.mtype

-- A finite number (not NaN, not an infinity).
local function finite(v)
  return type(v) == "number" and v == v and v ~= huge and v ~= -huge
end
M.finite = finite

-- A number as it goes on the wire: integers without ".0", others in the
-- fewest digits that read back as the same double (1.1 -> "1.1"); nil for
-- NaN and infinities.
function M.number(v)
  if not finite(v) then return nil end
  if mtype(v) == "integer" then return format("%d", v) end
  if v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return format("%.0f", v) end
  for digits = 15, 17 do
    local s = format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
end

-- A string, number or boolean as the text that goes on the wire; nil for
-- anything else.
function M.scalar(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then return M.number(v) end
  return nil
end

-- The length of v when it is a sequence (keys 1..n, nothing else), else nil.
function M.sequence(v)
  if type(v) ~= "table" then return nil end
  local n = #v
  for k in pairs(v) do
    if mtype(k) ~= "integer" or k < 1 or k > n then return nil end
  end
  return n
end

-- A whole number from lo to hi (2.0 counts: it is one on every Lua).
function M.integer(v, lo, hi)
  return finite(v) and v % 1 == 0 and v >= lo and v <= hi
end

-- A positive, finite number (a time in ms, a size in bytes).
function M.positive(v)
  return finite(v) and v > 0
end

-- A caller's key or value as it may appear in a message: control bytes
-- shown as \ddd (no forged log lines), and at most 64 bytes of it.
function M.shown(v)
  if type(v) ~= "string" then return v end
  if #v > 64 then v = v:sub(1, 61) .. "..." end
  return (v:gsub("%c", function(c) return "\\" .. c:byte() end))
end

-- Whether k is a Lua name (an identifier, not a keyword): t.k can say it.
local KEYWORDS = {}
for word in ([[and break do else elseif end false for function goto if in local nil not or repeat return
  then true until while]]):gmatch("%a+") do KEYWORDS[word] = true end
function M.lua_name(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil and not KEYWORDS[k]
end

return M
