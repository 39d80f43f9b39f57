-- mock/: `basiq mock`, a local Basiq for users' own tests: its event loop,
-- HTTP, routes, tokens, state, Consent UI and webhooks; api/ answers the operations.
--
-- The mock's request body checks, against each operation's schema in
-- Basiq's definitions (schemas.lua, generated: facts only): types,
-- required fields, enums and date formats, refused as Basiq refuses
-- (parameter-not-supplied, parameter-not-valid) naming the field. Keys the
-- schema does not list are let through, as Basiq lets them through.
local refuse = require("basiq.mock.refusals").refuse
local SCHEMAS = require("basiq.mock.schemas")

local null = require("cjson").null

local M = {}

local function is_array(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  for i = 1, n do
    if v[i] == nil then return false end
  end
  return true
end

local TYPES = {
  string = function(v) return type(v) == "string" end,
  number = function(v) return type(v) == "number" end,
  integer = function(v) return type(v) == "number" and v == math.floor(v) end,
  boolean = function(v) return type(v) == "boolean" end,
  array = is_array,
  object = function(v) return type(v) == "table" and (next(v) == nil or not is_array(v)) end,
}
local A = { integer = "an integer", array = "an array", object = "an object", string = "a string", number = "a number",
  boolean = "a boolean" }

local FORMATS = {
  date = "^%d%d%d%d%-%d%d%-%d%d$",
  ["date-time"] = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d",
}

-- The first thing wrong with v under schema s at `path`: kind, message; or nil.
local function problem(s, v, path)
  if v == null then
    if s.nullable then return nil end
    return "parameter-not-valid", path .. " must not be null"
  end
  if s.oneOf then -- read as anyOf: Basiq's own oneOf lets one value match two branches
    for _, sub in ipairs(s.oneOf) do
      if not problem(sub, v, path) then return nil end
    end
    return "parameter-not-valid", path .. " does not match any of its allowed forms"
  end
  if s.type and TYPES[s.type] and not TYPES[s.type](v) then
    return "parameter-not-valid", path .. " must be " .. A[s.type]
  end
  if s.enum then
    local ok = false
    for _, e in ipairs(s.enum) do
      if e == v then ok = true end
    end
    if not ok then return "parameter-not-valid", path .. " must be one of " .. table.concat(s.enum, ", ") end
  end
  if type(v) == "string" and s.format and FORMATS[s.format] and not v:find(FORMATS[s.format]) then
    return "parameter-not-valid", path .. " must be a " .. s.format
  end
  if type(v) == "table" and s.properties then
    for _, k in ipairs(s.required or {}) do
      if v[k] == nil then return "parameter-not-supplied", path .. "." .. k .. " is required" end
    end
    local names = {}
    for k in pairs(s.properties) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      if v[k] ~= nil then
        local kind, msg = problem(s.properties[k], v[k], path .. "." .. k)
        if kind then return kind, msg end
      end
    end
  end
  if type(v) == "table" and s.items and is_array(v) then
    for i, item in ipairs(v) do
      local kind, msg = problem(s.items, item, path .. "[" .. i .. "]")
      if kind then return kind, msg end
    end
  end
  return nil
end

-- Refuses body (decoded) unless it fits operation `name`'s schema.
function M.check(name, body)
  local s = SCHEMAS[name]
  if not s then return end
  local kind, msg = problem(s.schema, body, "body")
  if kind then
    local field = msg:match("^body%.([^%s%[]+)") or "body"
    refuse(kind, msg:gsub("^body%.", "") .. ".", field)
  end
end

-- A multipart/form-data body's fields: { name = value }, its required
-- fields checked; a file field's value is its bytes.
function M.multipart(name, req)
  local ctype = req.headers["content-type"] or ""
  local boundary = ctype:match("boundary=\"([^\"]+)\"") or ctype:match("boundary=([^;%s]+)")
  if not ctype:lower():find("multipart/form-data", 1, true) or not boundary then
    refuse("invalid-content", "The body must be multipart/form-data.", "Content-Type")
  end
  local fields, body, delim = {}, req.body, "--" .. boundary
  local pos = body:find(delim, 1, true)
  while pos do
    local head_start = pos + #delim
    if body:sub(head_start, head_start + 1) == "--" then break end
    local head_end = body:find("\r\n\r\n", head_start, true)
    if not head_end then break end
    local nxt = body:find("\r\n" .. delim, head_end, true)
    if not nxt then break end
    local field = body:sub(head_start, head_end):match('name="([^"]*)"')
    if field then fields[field] = body:sub(head_end + 4, nxt - 1) end
    pos = nxt + 2
  end
  for _, k in ipairs(SCHEMAS[name].schema.required or {}) do
    if fields[k] == nil or fields[k] == "" then refuse("parameter-not-supplied", k .. " is required.", k) end
  end
  return fields
end

return M
