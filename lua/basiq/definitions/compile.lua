-- definitions/: OpenAPI documents from any source to the SDK's operation
-- tables (basiq.load), their modules (basiq install) and their editor types.
--
-- Compiles an OpenAPI 3 document (already decoded from JSON) into the
-- compact operation table the SDK runs on: facts only, no prose.
local M = {}

local METHODS = { "get", "put", "post", "delete", "options", "head", "patch", "trace" }
local DEFAULT_STYLE = { query = "form", cookie = "form", path = "simple", header = "simple" }

local function unescape_pointer(s)
  return (s:gsub("~1", "/"):gsub("~0", "~"))
end

-- Resolves a local "$ref" (JSON pointer into the same document), following
-- a chain of them. A $ref that leads nowhere is an error naming it; a chain
-- that comes back to itself holds no schema at all, and is one too.
function M.resolve(doc, node)
  local seen
  while type(node) == "table" and node["$ref"] ~= nil do
    local ref = node["$ref"]
    if type(ref) ~= "string" then error("$ref is not a string", 0) end
    if ref:sub(1, 2) ~= "#/" and ref ~= "#" then error("only local $ref is supported: " .. ref, 0) end
    seen = seen or {}
    if seen[ref] then error("$ref '" .. ref .. "' refers only to itself", 0) end
    seen[ref] = true
    node = doc
    for part in ref:sub(3):gmatch("[^/]+") do
      node = type(node) == "table" and node[unescape_pointer(part)] or nil
    end
    if node == nil then error("$ref '" .. ref .. "' cannot be resolved", 0) end
  end
  return node
end
local resolve = M.resolve

-- What a body's schema says of the values it takes, for the encoder and
-- the checks of request.lua: a node per schema, t = "a" (an array: i, its
-- items' node), "o" (an object: p, a node per property; r, the required
-- names, sorted; closed, when p lists every name it takes) or the scalar
-- type's name; {} when the schema says nothing usable. An object is closed
-- unless additionalProperties allows more or a part of it is unknown. A
-- schema that contains itself ($ref cycles: a tree of nodes) is cut where it
-- comes round again (active: the schemas on the way down), so it compiles.
local SCALAR = { string = true, integer = true, number = true, boolean = true }

local function shape(doc, schema, active, depth)
  schema = resolve(doc, schema)
  if type(schema) ~= "table" or active[schema] or depth > 32 then return {} end
  active[schema] = true
  local out
  if schema.type == "array" then
    out = { t = "a", i = shape(doc, schema.items, active, depth + 1) }
  elseif type(schema.type) == "string" and SCALAR[schema.type] then
    out = { t = schema.type }
  else
    local props, required, closed, parts = nil, {}, true, false
    local function merge(s)
      for k, v in pairs(s.p) do props[k] = props[k] or v end
      for _, k in ipairs(s.r or {}) do required[k] = true end
      closed = closed and s.closed == true
    end
    for _, key in ipairs({ "allOf", "oneOf", "anyOf" }) do
      for _, sub in ipairs(type(schema[key]) == "table" and schema[key] or {}) do
        parts = true
        local s = shape(doc, sub, active, depth + 1)
        if s.t == "a" then out = s; break end -- an array among the choices: where [] matters
        if s.t == "o" then
          props = props or {}
          merge(s)
        else
          closed = false -- a part that is not a described object
        end
      end
      if out then break end
    end
    if not out and type(schema.properties) == "table" then
      props = props or {}
      for name, sub in pairs(schema.properties) do
        if type(name) == "string" then props[name] = shape(doc, sub, active, depth + 1) end
      end
    end
    if not out and props then
      for _, k in ipairs(type(schema.required) == "table" and schema.required or {}) do
        if type(k) == "string" then required[k] = true end
      end
      local extra = schema.additionalProperties
      if extra == true or type(extra) == "table" then closed = false end
      local r = {}
      for k in pairs(required) do r[#r + 1] = k end
      table.sort(r)
      out = { t = "o", p = props, r = r[1] and r or nil, closed = closed or nil }
    elseif not out and parts == false and schema.type == "object" then
      out = { t = "o", p = {} } -- open: no properties described
    end
  end
  active[schema] = nil
  return out or {}
end

-- The facts of a parameter's schema the call checks: its type, format and
-- enum (an array's: its items' type, format and enum).
local function enum_of(schema)
  local list = type(schema.enum) == "table" and schema.enum or nil
  if not list then return nil end
  local out = {}
  for _, v in ipairs(list) do
    local t = type(v)
    if t == "string" or t == "boolean" or t == "number" and v == v and v ~= math.huge and v ~= -math.huge then
      out[#out + 1] = v
    end
  end
  return out[1] and out or nil
end

local function schema_facts(doc, schema)
  schema = resolve(doc, schema) or {}
  local t, items = schema.type, nil
  if t == "array" then
    schema = resolve(doc, schema.items) or {}
    items = schema.type
  end
  local format = type(schema.format) == "string" and schema.format or nil
  return t, items, format, enum_of(schema)
end

local function compile_param(doc, p)
  local loc = p["in"]
  local out = { name = p.name, ["in"] = loc, required = p.required == true or loc == "path" or nil }
  out.type, out.items, out.format, out.enum = schema_facts(doc, p.schema)
  local style = p.style or DEFAULT_STYLE[loc]
  if style ~= DEFAULT_STYLE[loc] then out.style = style end
  local explode = p.explode
  if explode == nil then explode = (style == "form") end
  if explode ~= (style == "form") then out.explode = explode end
  return out
end

local function compile_body(doc, rb)
  rb = resolve(doc, rb)
  if type(rb) ~= "table" or type(rb.content) ~= "table" then return nil end
  local media, content
  for m, c in pairs(rb.content) do
    -- prefer JSON, then the first in a stable order
    if not media or (m:find("json", 1, true) and not media:find("json", 1, true))
      or (not media:find("json", 1, true) and not m:find("json", 1, true) and m < media) then
      media, content = m, c
    end
  end
  local body = { media = media, required = rb.required == true or nil }
  local schema = resolve(doc, type(content) == "table" and content.schema or nil)
  body.shape = shape(doc, schema, {}, 0)
  if next(body.shape) == nil then body.shape = nil end
  if not media:find("json", 1, true) and type(schema) == "table" and type(schema.properties) == "table" then
    local fields = {}
    for name, sub in pairs(schema.properties) do
      sub = resolve(doc, sub) or {}
      if sub.format == "binary" or sub.format == "base64" then
        fields[name] = "binary"
      elseif sub.type == "array" then
        fields[name] = "array"
      end
    end
    if next(fields) then body.fields = fields end
  end
  return body
end

local function compile_security(doc, reqs)
  if type(reqs) ~= "table" then return nil end
  local schemes = (doc.components or {}).securitySchemes or {}
  local out = {}
  for _, req in ipairs(reqs) do
    local name = type(req) == "table" and next(req)
    local s = name and resolve(doc, schemes[name])
    if type(req) == "table" and name == nil then out.optional = true end -- {}: none is needed
    if s then
      if s.type == "apiKey" then
        out[#out + 1] = { kind = "apiKey", name = s.name, ["in"] = s["in"] }
      elseif s.type == "http" then
        out[#out + 1] = { kind = (s.scheme or ""):lower() }
      elseif s.type == "oauth2" or s.type == "openIdConnect" then
        out[#out + 1] = { kind = "bearer" }
      end
    end
  end
  return out
end

local function response_media(doc, responses)
  local seen, list = {}, {}
  for code, r in pairs(type(responses) == "table" and responses or {}) do
    r = resolve(doc, r)
    if tostring(code):match("^2") and type(r) == "table" then
      for m in pairs(r.content or {}) do
        if not seen[m] then seen[m] = true; list[#list + 1] = m end
      end
    end
  end
  table.sort(list, function(a, b)
    local ja, jb = a:find("json", 1, true) ~= nil, b:find("json", 1, true) ~= nil
    if ja ~= jb then return ja end
    return a < b
  end)
  return list
end

-- The method names the `api` generator gives (oas's getOperationId with
-- camelCase): an operationId loses the characters a JavaScript name cannot
-- hold, each run of them upper-casing the character after it; one without
-- an operationId is named from its method and path, "get /users/{userId}"
-- becoming getUsersUserid. Never a leading digit, always a lower-case first
-- letter.
local function sanitize(s)
  return (s:gsub("[^%w_]", "-"):gsub("%-%-+", "-"):gsub("^%-", ""):gsub("%-$", ""))
end

local function camel(s)
  s = s:gsub("[^%w_]+(.)", function(c) return c:upper() end)
  return s
end

local function first_lower(s)
  return s:sub(1, 1):lower() .. s:sub(2)
end

function M.method_name(op_id)
  return first_lower((sanitize(camel(op_id)):gsub("^%d", "_%0")))
end

function M.fallback_name(method, path)
  local id = first_lower((camel(sanitize(path):lower()):gsub("^%d", "_%0")))
  method = method:lower()
  -- a path that already begins with the method is not prefixed again
  if id:sub(1, #method) == method then return id end
  return method .. id:sub(1, 1):upper() .. id:sub(2)
end

-- The OpenAPI version a document declares, or an error naming what it is.
local function check_version(doc)
  if doc.swagger ~= nil then
    error("Swagger " .. tostring(doc.swagger) .. " is not supported: only OpenAPI 3.x", 0)
  end
  local v = doc.openapi
  if type(v) ~= "string" or not v:match("^3%.%d") then
    error(v == nil and "not an OpenAPI document (no openapi version)"
      or "OpenAPI " .. tostring(v) .. " is not supported: only OpenAPI 3.x", 0)
  end
end

-- Every $ref in the document resolves (an error names the first that does
-- not), wherever it is: the types read schemas the operations do not.
local function check_refs(doc, node, seen)
  if type(node) ~= "table" or seen[node] then return end
  seen[node] = true
  if node["$ref"] ~= nil then resolve(doc, node) end
  for _, v in pairs(node) do check_refs(doc, v, seen) end
end

-- A document compile and the types can read, or an error saying why not.
function M.check_document(doc)
  if type(doc) ~= "table" then error("not an OpenAPI document", 0) end
  check_version(doc)
  if type(doc.paths) ~= "table" then error("not an OpenAPI 3 document (no paths)", 0) end
  check_refs(doc, doc, {})
end

-- doc: decoded OpenAPI document; api: a short name for it.
-- Returns { api = ..., servers = {...}, ops = { name = op, ... } }.
-- The operations of a checked document, one call each in a stable order
-- (paths sorted, then methods): fn(name, method, path, op, params), where
-- params are the operation's parameter objects, resolved, the path's own
-- first and the operation's replacing any of the same name and location.
function M.each_operation(doc, fn)
  local paths = {}
  for path in pairs(doc.paths) do
    -- appended to the server URL: anything else could change its host or port
    if type(path) ~= "string" or path:sub(1, 1) ~= "/" then error("path '" .. tostring(path) .. "' does not begin with /", 0) end
    paths[#paths + 1] = path
  end
  table.sort(paths)
  local seen = {}
  for _, path in ipairs(paths) do
    local item = resolve(doc, doc.paths[path]) or {}
    for _, method in ipairs(METHODS) do
      local op = item[method]
      if type(op) == "table" then
        local params, index = {}, {}
        for _, list in ipairs({ item.parameters or {}, op.parameters or {} }) do
          for _, p in ipairs(list) do
            p = resolve(doc, p)
            if type(p) ~= "table" or type(p.name) ~= "string" or type(p["in"]) ~= "string" then
              error("a parameter without a name or an 'in'", 0)
            end
            local key = p["in"] .. ":" .. p.name
            if index[key] then params[index[key]] = p
            else params[#params + 1] = p; index[key] = #params end
          end
        end
        local id = type(op.operationId) == "string" and op.operationId or ""
        local name = id ~= "" and M.method_name(id) or ""
        if name == "" then name = M.fallback_name(method, path) end -- none, or nothing but symbols
        if seen[name] then error("duplicate operation name " .. name, 0) end
        seen[name] = true
        fn(name, method, path, op, params)
      end
    end
  end
end

-- doc: decoded OpenAPI document; api: a short name for it.
-- Returns { api = ..., servers = {...}, ops = { name = op, ... } }.
function M.compile(doc, api)
  M.check_document(doc)
  local servers = {}
  for _, s in ipairs(doc.servers or {}) do servers[#servers + 1] = s.url end
  local ops = {}
  M.each_operation(doc, function(name, method, path, op, list)
    local params = {}
    for i, p in ipairs(list) do params[i] = compile_param(doc, p) end
    local id = op.operationId
    local media = response_media(doc, op.responses)
    ops[name] = {
      id = type(id) == "string" and id ~= name and id or nil,
      method = method:upper(),
      path = path,
      params = params[1] and params or nil,
      body = compile_body(doc, op.requestBody),
      security = compile_security(doc, op.security or doc.security) or {},
      accept = media[1],
      accepts = media[2] and media or nil,
      servers = op.servers and op.servers[1] and { op.servers[1].url } or nil,
      deprecated = op.deprecated == true or nil, -- said once on its first call (call/observe.lua)
    }
  end)
  return { api = api, servers = servers, ops = ops }
end

-- A compiled table (`basiq install`'s module, lua/basiq/ops/*.lua) checked
-- before use, so that a wrong one fails here rather than inside a call:
-- t, or an error naming what is wrong.
local UPPER = {}
for _, m in ipairs(METHODS) do UPPER[m:upper()] = true end
local LOCATIONS = { path = true, query = true, header = true, cookie = true }

local function strings(list)
  if list == nil then return true end
  if type(list) ~= "table" then return false end
  for _, v in ipairs(list) do if type(v) ~= "string" then return false end end
  return true
end

function M.check(t)
  if type(t.ops) ~= "table" or not strings(t.servers) then error("not a compiled module (ops, servers)", 0) end
  for name, op in pairs(t.ops) do
    local what = "operation '" .. tostring(name) .. "'"
    if type(name) ~= "string" or type(op) ~= "table" then error(what .. " is not a table named by a string", 0) end
    if not UPPER[op.method] then error(what .. ": method '" .. tostring(op.method) .. "'", 0) end
    if type(op.path) ~= "string" or op.path:sub(1, 1) ~= "/" then error(what .. ": path does not begin with /", 0) end
    for _, p in ipairs(type(op.params) == "table" and op.params or {}) do
      if type(p) ~= "table" or type(p.name) ~= "string" or not LOCATIONS[p["in"]] then
        error(what .. ": a parameter without a name or a location", 0)
      end
      if p.format ~= nil and type(p.format) ~= "string" or p.enum ~= nil and type(p.enum) ~= "table" then
        error(what .. ": parameter '" .. p.name .. "': format or enum of the wrong type", 0)
      end
    end
    if op.params ~= nil and type(op.params) ~= "table" or type(op.security) ~= "table"
      or op.body ~= nil and (type(op.body) ~= "table" or type(op.body.media) ~= "string"
        or op.body.shape ~= nil and type(op.body.shape) ~= "table")
      or not strings(op.servers) or op.accept ~= nil and type(op.accept) ~= "string" or not strings(op.accepts)
      or op.deprecated ~= nil and type(op.deprecated) ~= "boolean" then
      error(what .. ": params, body, security, servers, accept or deprecated of the wrong type", 0)
    end
  end
  return t
end

return M
