-- JSON text for the command's output: two-space indentation and every
-- object's keys in sorted order, so that two runs' outputs can be diffed.
-- Strings and numbers are written as the encoder writes them ("\/" shown
-- as "/"), so nothing about the values changes.
local cjson = require("cjson")
local values = require("basiq.shared.values")

local json = cjson.new()
local concat, sort, type, tostring = table.concat, table.sort, type, tostring

local M = {}

local function scalar(v)
  local ok, text = pcall(json.encode, v)
  if not ok then return tostring(v) end -- NaN or an infinity: no JSON for it
  return (text:gsub("\\/", "/"))
end

local function write(v, indent, out)
  if type(v) ~= "table" then
    out[#out + 1] = scalar(v)
    return
  end
  local n = values.sequence(v)
  if next(v) == nil then
    out[#out + 1] = "{}" -- as the encoder writes an empty table
    return
  end
  local inner = "\n" .. indent .. "  "
  if n then
    out[#out + 1] = "["
    for i = 1, n do
      out[#out + 1] = (i > 1 and "," or "") .. inner
      write(v[i], indent .. "  ", out)
    end
    out[#out + 1] = "\n" .. indent .. "]"
    return
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  local byname = {}
  for k, item in pairs(v) do byname[tostring(k)] = item end
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    out[#out + 1] = (i > 1 and "," or "") .. inner .. scalar(k) .. ": "
    write(byname[k], indent .. "  ", out)
  end
  out[#out + 1] = "\n" .. indent .. "}"
end

function M.encode(v)
  local out = {}
  write(v, "", out)
  return concat(out)
end

return M
