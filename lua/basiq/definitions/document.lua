-- A definition's text to the table it describes: JSON, YAML (by its name,
-- its media type or its first character), or a compiled module that
-- `basiq install` wrote (Lua data, run with nothing in reach). Decoding
-- only: no I/O, and YAML's library is loaded only for a YAML document.
local cjson_safe = require("cjson.safe")

local json = cjson_safe.new()

local M = {}

-- "at character N" (cjson) as a line and column.
local function position(text, message)
  local at = tonumber(message:match("at character (%d+)"))
  if not at then return "invalid JSON: " .. message end
  local before = text:sub(1, at - 1)
  local line = select(2, before:gsub("\n", "")) + 1
  local col = at - (before:match(".*()\n") or 0)
  return "invalid JSON at line " .. line .. ", column " .. col .. ": " .. message:gsub(" at character %d+", "")
end

-- A compiled module's text is a chunk that builds one table and returns
-- it: no environment (it can reach no function), text only (no bytecode).
local function module(text, name)
  if text:byte(1) == 27 then return nil, "a compiled module must be Lua source, not bytecode" end
  local chunk, err
  if setfenv then -- Lua 5.1, LuaJIT
    chunk, err = loadstring(text, "=" .. name)
    if chunk then setfenv(chunk, {}) end
  else
    chunk, err = load(text, "=" .. name, "t", {})
  end
  if not chunk then return nil, "invalid Lua: " .. tostring(err) end
  local ok, t = pcall(chunk)
  if not ok then return nil, "the module failed: " .. tostring(t) end
  if type(t) ~= "table" then return nil, "the module returned no table" end
  return t
end

-- Which format text is in: name (a path or URL) and media (a Content-Type)
-- first, then its content: JSON begins with { or [.
local function kind(text, name, media)
  local file = (name or ""):gsub("[?#].*$", ""):lower()
  media = (media or ""):lower()
  if file:find("%.lua$") then return "lua" end
  if file:find("%.ya?ml$") or media:find("yaml", 1, true) then return "yaml" end
  if file:find("%.json$") or media:find("json", 1, true) then return "json" end
  return text:find("^%s*[{%[]") and "json" or "yaml"
end

-- text, name, media, allow_lua -> table | nil, message. A compiled module
-- is read only when allow_lua (local files: never one a server sent).
function M.decode(text, name, media, allow_lua)
  if text:sub(1, 3) == "\239\187\191" then text = text:sub(4) end -- a UTF-8 byte order mark
  local k = kind(text, name, media)
  if k == "lua" then
    if not allow_lua then return nil, "a compiled module is loaded from a local file only" end
    return module(text, name)
  elseif k == "yaml" then
    return require("basiq.definitions.yaml").decode(text)
  end
  local doc, err = json.decode(text)
  if doc == nil then return nil, position(text, tostring(err)) end
  if type(doc) ~= "table" then return nil, "the JSON is not an object" end
  return doc
end

return M
