-- basiq.load: adds the operations of another definition to one client,
-- from whatever `api install` takes (a file, a URL, a registry id) or a
-- table (a decoded document, a compiled module). A loaded operation
-- replaces one of the same name; other clients are unaffected. Failures
-- are nil, err (a basiq error); nothing here sends a credential.
local errors = require("basiq.shared.errors")
local compile = require("basiq.definitions.compile")
local source = require("basiq.definitions.source")
local document = require("basiq.definitions.document")
local operations = require("basiq.call.operations")

local M = {}

local function fail(code, message)
  return nil, errors.new(code, "basiq.load: " .. message)
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return fail("load", err) end
  local text = f:read("*a")
  f:close()
  return text
end

-- The text source names, and a name for it in messages (a URL without
-- query or credentials): text, name, media, local? | nil, err.
local function read(state, src)
  local at, why = source.locate(src)
  if not at then return fail("load", src .. ": " .. why) end
  if at.path then
    local text, err = read_file(at.path)
    if not text then return nil, err end
    return text, at.path, nil, true
  end
  local text, media = require("basiq.definitions.fetch").get(at.url, state)
  if not text then return nil, media end
  return text, source.shown(at.url), media, false
end

-- Whether a decoded table is a compiled module rather than a document.
function M.is_compiled(t)
  return t.openapi == nil and t.swagger == nil and t.ops ~= nil
end

-- A decoded table to the compiled form (name: the source, for messages
-- and the API's name): t | nil, err.
function M.compiled(t, name)
  local ok, c = pcall(M.is_compiled(t) and compile.check or compile.compile, t, name)
  if not ok then return fail("invalid", name .. ": " .. tostring(c)) end
  return c
end

-- The decoded table a source string names (a document, or a compiled
-- module from a local .lua file), and the name messages give it | nil, err.
-- settings: the client's timeouts, size cap, caFile and allowInsecureHttp.
function M.read(settings, src)
  local text, name, media, is_local = read(settings, src)
  if not text then return nil, name end
  local doc, derr = document.decode(text, name, media, is_local)
  if not doc then return fail("invalid", name .. ": " .. derr) end
  return doc, name
end

-- The compiled table src stands for.
local function resolve(state, src)
  local doc, name = src, "table"
  if type(src) == "string" then
    doc, name = M.read(state, src)
    if not doc then return nil, name end
  elseif type(src) ~= "table" then
    errors.raise("basiq.load: source must be a string or a table")
  end
  return M.compiled(doc, name)
end

-- Adds every operation src defines to state: the number it defines and
-- the sorted list of the names it took over from earlier definitions |
-- nil, err. on_replace(name) is told of each name now served by the
-- document (so the client forgets its cached function).
function M.add(state, src, on_replace)
  local t, err = resolve(state, src)
  if not t then return nil, err end
  local n, replaced = 0, {}
  for name, op in pairs(t.ops) do
    if operations.find(state, name) then replaced[#replaced + 1] = name end
    state.loaded[name] = { op = op, server = op.servers and op.servers[1] or (t.servers or {})[1] }
    on_replace(name)
    n = n + 1
  end
  table.sort(replaced)
  state.routes = {} -- a new postToken changes where every call's tokens come from
  return n, replaced
end

return M
