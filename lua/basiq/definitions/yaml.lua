-- Reads a YAML document into the tables a JSON decoder would give (null as
-- cjson.null), through Debian's lua-yaml (lyaml). lyaml is required here,
-- on the first YAML document only: nothing else may load it.
local cjson = require("cjson")

local M = {}

-- lyaml's null sentinel to cjson.null; shared tables (YAML aliases) are
-- converted once, so the result is the same tree the anchors describe.
local function plain(v, null, done)
  if v == null then return cjson.null end
  if type(v) ~= "table" then return v end
  if done[v] then return done[v] end
  local out = {}
  done[v] = out
  for k, item in pairs(v) do out[plain(k, null, done)] = plain(item, null, done) end
  return out
end

-- The first document in text -> table | nil, message (with line:column).
function M.decode(text)
  local ok, lyaml = pcall(require, "lyaml")
  if not ok then return nil, "YAML needs lyaml (Debian: lua-yaml; LuaRocks: lyaml)" end
  local okd, doc = pcall(lyaml.load, text)
  if not okd then
    local msg = tostring(doc)
    -- lyaml: "line:column: what", the line counted from 0 and the column from 1
    local line, col, why = msg:match("(%d+):(%d+): (.*)$")
    if line then return nil, "invalid YAML at line " .. (tonumber(line) + 1) .. ", column " .. col .. ": " .. why end
    return nil, "invalid YAML: " .. msg
  end
  return plain(doc, lyaml.null, {})
end

return M
