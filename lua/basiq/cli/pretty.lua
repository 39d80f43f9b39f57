-- JSON text with two-space indentation, for the command's output: the
-- encoder's own text re-indented (and "\/" shown as "/"), so nothing
-- about the values changes.
local cjson = require("cjson")

local json = cjson.new()

local M = {}

local OPEN, CLOSE = { ["{"] = true, ["["] = true }, { ["}"] = true, ["]"] = true }

function M.encode(v)
  local text = json.encode(v)
  local out, depth, i, n = {}, 0, 1, #text
  local function newline() out[#out + 1] = "\n" .. ("  "):rep(depth) end
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' then -- a string, escapes and all, as it is
      local j = i + 1
      while true do
        local q = text:find('["\\]', j)
        if text:sub(q, q) == "\\" then j = q + 2 else j = q; break end
      end
      out[#out + 1] = (text:sub(i, j):gsub("\\(.)", function(e) return e == "/" and "/" or "\\" .. e end))
      i = j
    elseif OPEN[c] and CLOSE[text:sub(i + 1, i + 1)] then -- {} and [] stay whole
      out[#out + 1] = c .. text:sub(i + 1, i + 1)
      i = i + 1
    elseif OPEN[c] then
      depth = depth + 1
      out[#out + 1] = c
      newline()
    elseif CLOSE[c] then
      depth = depth - 1
      newline()
      out[#out + 1] = c
    elseif c == "," then
      out[#out + 1] = c
      newline()
    elseif c == ":" then
      out[#out + 1] = ": "
    else
      out[#out + 1] = c
    end
    i = i + 1
  end
  return table.concat(out)
end

return M
