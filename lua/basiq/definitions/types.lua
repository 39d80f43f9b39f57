-- Editor types: LuaLS (---@meta) annotations for a definition's
-- operations, written by `make ops` into library/ and by `basiq install`
-- beside a module. Facts only (names, types, required, enums, formats,
-- method and path): never a description or an example from a definition.
local compile = require("basiq.definitions.compile")
local values = require("basiq.shared.values")

local M = {}

local resolve = compile.resolve
local concat, sort = table.concat, table.sort

local SCALARS = { string = "string", integer = "integer", number = "number", boolean = "boolean" }
local MULTIPART_FILE = "basiq.FilePart|file*|string"

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do if type(k) == "string" then keys[#keys + 1] = k end end
  sort(keys)
  return keys
end

-- A name as a field: bare when it is a Lua name, else ["quoted"]; nil
-- when no annotation can hold it.
-- (LuaLS's visibility words are quoted too, as Lua's keywords are.)
local VISIBILITY = { public = true, protected = true, private = true, package = true }
local function field_name(name)
  if name:find('[%c"\\]') then return nil end
  if values.lua_name(name) and not VISIBILITY[name] then return name end
  return '["' .. name .. '"]'
end

-- A part of a class name made from a property, component or code.
local function segment(s)
  return (tostring(s):gsub("[^%w_]", "_"))
end

-- An enum as a union of literals, or nil when one cannot be written.
local function literals(enum)
  local out, seen = {}, {}
  for _, v in ipairs(enum) do
    local lit
    if type(v) == "string" then
      if v:find('[%c"\\]') then return nil end
      lit = '"' .. v .. '"'
    elseif type(v) == "boolean" then
      lit = tostring(v)
    elseif type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge then
      lit = values.number(v)
    end
    if lit and not seen[lit] then
      seen[lit] = true
      out[#out + 1] = lit
    end
  end
  return out[1] and concat(out, "|") or nil
end

-- The writer of one file: the classes it has emitted, in order.
local function new_writer(doc, api)
  return { doc = doc, api = api, blocks = {}, classes = {}, refs = {}, active = {} }
end

local type_of

-- A class for an object schema (properties, allOf parts merged): its fields.
local function object_class(w, schema, name)
  if w.classes[name] then return name end
  w.classes[name] = true
  local props, required = {}, {}
  local function gather(s, depth)
    s = resolve(w.doc, s)
    if type(s) ~= "table" or depth > 16 then return end
    for _, part in ipairs(type(s.allOf) == "table" and s.allOf or {}) do gather(part, depth + 1) end
    for k, v in pairs(type(s.properties) == "table" and s.properties or {}) do
      if type(k) == "string" then props[k] = v end
    end
    for _, k in ipairs(type(s.required) == "table" and s.required or {}) do required[k] = true end
  end
  gather(schema, 0)
  local lines = { "---@class " .. name }
  local block = { lines = lines }
  w.blocks[#w.blocks + 1] = block -- in place now: nested classes follow it
  for _, k in ipairs(sorted_keys(props)) do
    local fname = field_name(k)
    if fname then
      local sub = resolve(w.doc, props[k])
      local t = type_of(w, props[k], name .. "." .. segment(k))
      local fmt = type(sub) == "table" and type(sub.format) == "string" and not sub.format:find("%c")
        and " " .. sub.format or ""
      lines[#lines + 1] = "---@field " .. fname .. (required[k] and "" or "?") .. " " .. t .. fmt
    end
  end
  local extra = resolve(w.doc, schema).additionalProperties
  if type(extra) == "table" then
    lines[#lines + 1] = "---@field [string] " .. type_of(w, extra, name .. "._")
  end
  return name
end

-- The Lua type of a schema; objects become classes named by name ($ref'd
-- ones by their component, once).
type_of = function(w, schema, name)
  if type(schema) ~= "table" then return "any" end
  local ref = schema["$ref"]
  if type(ref) == "string" then
    local target = resolve(w.doc, schema)
    local component = ref:match("^#/components/schemas/([^/]+)$")
    -- components under "schemas": never the name of an operation's own class
    if component then name = "basiq." .. w.api .. ".schemas." .. segment(component) end
    if w.refs[ref] then return w.refs[ref] end
    if w.classes[name] then return name end -- an object that contains itself: its class
    if w.active[ref] then return "any" end -- a non-object schema that contains itself
    w.active[ref] = true
    local t = type_of(w, target, name)
    w.active[ref] = nil
    if t == name then w.refs[ref] = t end
    return t
  end
  if type(schema.enum) == "table" then
    local lit = literals(schema.enum)
    if lit then return lit end
  end
  local t = schema.type
  if type(t) == "table" then -- OpenAPI 3.1: a list of types
    local parts = {}
    for _, one in ipairs(t) do
      if one ~= "null" then
        local copy = setmetatable({ type = one }, { __index = schema })
        parts[#parts + 1] = type_of(w, copy, name)
      end
    end
    return parts[1] and concat(parts, "|") or "any"
  end
  if SCALARS[t] then
    if t == "string" and (schema.format == "binary") then return MULTIPART_FILE end
    return SCALARS[t]
  end
  if t == "array" then
    local item = type_of(w, schema.items, name)
    if item:find("|", 1, true) then item = "(" .. item .. ")" end
    return item .. "[]"
  end
  for _, key in ipairs({ "oneOf", "anyOf" }) do
    if type(schema[key]) == "table" and schema[key][1] then
      local parts = {}
      for i, sub in ipairs(schema[key]) do parts[#parts + 1] = type_of(w, sub, name .. "." .. i) end
      return concat(parts, "|")
    end
  end
  if t == "object" or type(schema.properties) == "table" or type(schema.allOf) == "table" then
    if type(schema.properties) ~= "table" and type(schema.allOf) ~= "table" then
      local extra = schema.additionalProperties
      return "table<string, " .. (type(extra) == "table" and type_of(w, extra, name) or "any") .. ">"
    end
    return object_class(w, schema, name)
  end
  return "any"
end

-- The JSON schema of a media map (nil when none), and whether it has any
-- other media type (answered as text).
local function json_schema(content)
  local schema, other
  for _, m in ipairs(sorted_keys(type(content) == "table" and content or {})) do
    if m:find("json", 1, true) then
      if not schema and type(content[m]) == "table" then schema = content[m].schema end
    else
      other = true
    end
  end
  return schema, other
end

local function metadata_class(w, name, op, params)
  local lines = { "---@class basiq." .. name .. ".metadata" }
  w.blocks[#w.blocks + 1] = { lines = lines }
  local cls = "basiq." .. name .. ".metadata"
  for _, p in ipairs(params) do
    local fname = field_name(p.name)
    if fname then
      local required = p.required == true or p["in"] == "path"
      local sub = resolve(w.doc, p.schema)
      local fmt = type(sub) == "table" and type(sub.format) == "string" and not sub.format:find("%c")
        and " " .. sub.format or ""
      lines[#lines + 1] = "---@field " .. fname .. (required and "" or "?") .. " "
        .. type_of(w, p.schema, cls .. "." .. segment(p.name)) .. fmt .. " (" .. p["in"] .. ")"
    end
  end
  if op.accepts then
    local lit = literals(op.accepts)
    if lit then lines[#lines + 1] = "---@field accept? " .. lit .. " (header)" end
  end
end

local function body_type(w, name, op, spec)
  local rb = resolve(w.doc, op.requestBody)
  local content = type(rb) == "table" and type(rb.content) == "table" and rb.content[spec.media]
  local schema = type(content) == "table" and content.schema
  local cls = "basiq." .. name .. ".body"
  if not schema then return spec.media:find("json", 1, true) and "table" or "string" end
  return type_of(w, schema, cls)
end

local function response_type(w, name, op)
  local codes = {}
  for code in pairs(type(op.responses) == "table" and op.responses or {}) do
    if tostring(code):match("^2") then codes[#codes + 1] = tostring(code) end
  end
  sort(codes)
  local parts, seen = {}, {}
  local function add(t)
    if not seen[t] then seen[t] = true; parts[#parts + 1] = t end
  end
  for i, code in ipairs(codes) do
    local r = resolve(w.doc, op.responses[code] or op.responses[tonumber(code)])
    local schema, other = json_schema(type(r) == "table" and r.content)
    if schema then add(type_of(w, schema, "basiq." .. name .. ".data" .. (i > 1 and segment(code) or ""))) end
    if other then add("string") end -- a PDF, a CSV: the raw text
  end
  return parts[1] and concat(parts, "|") or "any"
end

-- The annotations of one operation: its classes, then its function.
local function operation(w, name, method, path, op, params, compiled)
  local has_params = params[1] ~= nil or compiled.accepts ~= nil
  if has_params then metadata_class(w, name, compiled, params) end
  local body
  if compiled.body then
    local t = body_type(w, name, op, compiled.body)
    if t ~= "basiq." .. name .. ".body" then
      w.blocks[#w.blocks + 1] = { lines = { "---@alias basiq." .. name .. ".body " .. t } }
    end
    body = "basiq." .. name .. ".body"
  end
  local data = response_type(w, name, op)
  w.blocks[#w.blocks + 1] = { lines = { "---@class basiq." .. name .. ".response: basiq.Result",
    "---@field data " .. data } }

  local meta = has_params and "basiq." .. name .. ".metadata" or nil
  local meta_required = false
  for _, p in ipairs(compiled.params or {}) do if p.required then meta_required = true end end
  local body_required = compiled.body and compiled.body.required
  local res = "basiq." .. name .. ".response?, basiq.Error?"
  local lines = { "---" .. method:upper() .. " " .. path }
  if compiled.deprecated then lines[#lines + 1] = "---@deprecated" end
  local args = {}
  if body then
    lines[#lines + 1] = "---@param body" .. (body_required and "" or "?") .. " " .. body
    args[#args + 1] = "body"
  end
  if meta then
    lines[#lines + 1] = "---@param metadata" .. (meta_required and "" or "?") .. " " .. meta
    args[#args + 1] = "metadata"
  end
  lines[#lines + 1] = "---@return basiq." .. name .. ".response? res"
  lines[#lines + 1] = "---@return basiq.Error? err"
  if body and meta then -- the one-argument forms
    lines[#lines + 1] = "---@overload fun(metadata: " .. meta .. "): " .. res
    lines[#lines + 1] = "---@overload fun(body: " .. body .. "): " .. res
  end
  -- compile's names are Lua names ([%w_], never a leading digit)
  lines[#lines + 1] = "function Client." .. name .. "(" .. concat(args, ", ") .. ") end"
  w.blocks[#w.blocks + 1] = { lines = lines }
end

-- The ---@meta file for a checked document and its compiled table t
-- (compile.compile(doc, api)): header is its first comment line.
function M.annotate(doc, t, api, header)
  local w = new_writer(doc, segment(api))
  local ops = {}
  compile.each_operation(doc, function(name, method, path, op, params)
    ops[#ops + 1] = { name, method, path, op, params }
  end)
  sort(ops, function(a, b) return a[1] < b[1] end)
  for _, o in ipairs(ops) do operation(w, o[1], o[2], o[3], o[4], o[5], t.ops[o[1]]) end
  local out = { "---@meta _", header, "", "---@class basiq.Client", "local Client = {}" }
  for _, b in ipairs(w.blocks) do
    out[#out + 1] = ""
    out[#out + 1] = concat(b.lines, "\n")
  end
  return concat(out, "\n") .. "\n"
end

return M
