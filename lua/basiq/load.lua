-- basiq.load: adds the operations of another OpenAPI 3 document to one
-- client. A loaded operation replaces a built-in one of the same name;
-- other clients are unaffected. Failures are nil, err (a basiq error).
local cjson_safe = require("cjson.safe")
local errors = require("basiq.errors")
local compile = require("basiq.compile")

local json = cjson_safe.new()

local M = {}

local function fail(code, message)
  return nil, errors.new(code, "basiq.load: " .. message)
end

local function read(path)
  local f, err = io.open(path, "rb")
  if not f then return fail("load", err) end
  local text = f:read("*a")
  f:close()
  return text
end

-- Adds every operation of the document at path to state: the number it
-- defines | nil, err. on_replace(name) is told of each name now served by
-- the document (so the client forgets its cached function).
function M.add(state, path, on_replace)
  if type(path) ~= "string" then errors.raise("basiq.load: path must be a string") end
  local text, err = read(path)
  if not text then return nil, err end
  local doc, jerr = json.decode(text)
  if type(doc) ~= "table" then return fail("invalid", path .. ": invalid JSON: " .. tostring(jerr)) end
  local ok, t = pcall(compile.compile, doc, path)
  if not ok then return fail("invalid", path .. ": " .. tostring(t)) end
  local n = 0
  for name, op in pairs(t.ops) do
    state.loaded[name] = { op = op, server = op.servers and op.servers[1] or t.servers[1] }
    on_replace(name)
    n = n + 1
  end
  state.routes = {} -- a new postToken changes where every call's tokens come from
  return n
end

return M
