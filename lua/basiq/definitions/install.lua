-- What `make ops` and `basiq install` write for a definition: its compiled
-- table as a Lua module (data only, so it loads with no network and no
-- YAML library) and its editor types. It writes only the files it is given.
local compile = require("basiq.definitions.compile")
local types = require("basiq.definitions.types")
local values = require("basiq.shared.values")

local M = {}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  return keys
end

local function integer_key(k, n)
  return type(k) == "number" and k % 1 == 0 and k >= 1 and k <= n
end

-- A deterministic, readable Lua literal of v (strings, numbers, booleans
-- and tables of them, without cycles).
function M.serialize(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if t ~= "table" then return tostring(v) end
  local n = #v
  local parts, short = {}, true
  for i = 1, n do parts[#parts + 1] = M.serialize(v[i], indent .. "  ") end
  for _, k in ipairs(sorted_keys(v)) do
    if not integer_key(k, n) then
      local key = values.lua_name(k) and k or "[" .. M.serialize(k, "") .. "]"
      parts[#parts + 1] = key .. " = " .. M.serialize(v[k], indent .. "  ")
      if type(v[k]) == "table" then short = false end
    end
  end
  local flat = "{ " .. table.concat(parts, ", ") .. " }"
  if #parts == 0 then return "{}" end
  if short and #flat + #indent < 100 then return flat end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
end

-- The module's text: a comment line, then one table.
function M.module_text(t, header)
  return header .. "\nreturn " .. M.serialize(t) .. "\n"
end

-- A decoded document -> compiled table, module text, types text (each
-- with its header line); errors are raised as compile raises them.
function M.build(doc, api, module_header, types_header)
  local t = compile.compile(doc, api)
  return t, M.module_text(t, module_header), types.annotate(doc, t, api, types_header)
end

-- Makes the folder path and its parents, unless there: true | nil, message.
function M.folder(path)
  if path == "" or path == "." then return true end
  local p = io.popen("mkdir -p -- '" .. path:gsub("'", "'\\''") .. "' 2>&1 && echo made")
  local out = p and p:read("*a") or ""
  if p then p:close() end
  if out:find("made\n$") then return true end
  return nil, (out:gsub("^mkdir: ", ""):gsub("%s+$", ""))
end

-- Writes text to path: true | nil, message.
function M.write(path, text)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  f:close()
  if not ok then return nil, werr end
  return true
end

return M
