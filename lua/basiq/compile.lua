-- Compiles an OpenAPI 3 document (already decoded from JSON) into the
-- compact operation table the SDK runs on: facts only, no prose.
local M = {}

local METHODS = { "get", "put", "post", "delete", "options", "head", "patch", "trace" }
local DEFAULT_STYLE = { query = "form", cookie = "form", path = "simple", header = "simple" }

local function unescape_pointer(s)
  return (s:gsub("~1", "/"):gsub("~0", "~"))
end

-- Resolves a local "$ref" (JSON pointer into the same document).
local function resolve(doc, node, seen)
  seen = seen or {}
  while type(node) == "table" and type(node["$ref"]) == "string" do
    local ref = node["$ref"]
    if seen[ref] then return nil end
    seen[ref] = true
    if ref:sub(1, 2) ~= "#/" then error("only local $ref is supported: " .. ref, 0) end
    node = doc
    for part in ref:sub(3):gmatch("[^/]+") do
      if type(node) ~= "table" then return nil end
      node = node[unescape_pointer(part)]
    end
  end
  return node
end

-- The part of a schema the JSON encoder needs: where arrays are, so that an
-- empty Lua table is sent as [] there. nil when the schema holds no array.
local function shape(doc, schema, depth)
  schema = resolve(doc, schema)
  if type(schema) ~= "table" or depth > 32 then return nil end
  if schema.type == "array" then
    return { t = "a", i = shape(doc, schema.items, depth + 1) }
  end
  local props
  for _, key in ipairs({ "allOf", "oneOf", "anyOf" }) do
    for _, sub in ipairs(schema[key] or {}) do
      local s = shape(doc, sub, depth + 1)
      if s and s.t == "a" then return s end
      if s then
        props = props or {}
        for k, v in pairs(s.p) do props[k] = props[k] or v end
      end
    end
  end
  for name, sub in pairs(type(schema.properties) == "table" and schema.properties or {}) do
    local s = shape(doc, sub, depth + 1)
    if s then
      props = props or {}
      props[name] = s
    end
  end
  return props and { t = "o", p = props } or nil
end

local function schema_type(doc, schema)
  schema = resolve(doc, schema) or {}
  local t = schema.type
  if t == "array" then
    local items = resolve(doc, schema.items) or {}
    return "array", items.type
  end
  return t
end

local function compile_param(doc, p)
  p = resolve(doc, p)
  local loc = p["in"]
  local out = { name = p.name, ["in"] = loc, required = p.required == true or loc == "path" or nil }
  local t, items = schema_type(doc, p.schema)
  out.type, out.items = t, items
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
  local schema = resolve(doc, content.schema)
  if media:find("json", 1, true) then
    body.shape = shape(doc, schema, 0)
  elseif type(schema) == "table" and type(schema.properties) == "table" then
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
    local name = next(req)
    local s = name and resolve(doc, schemes[name])
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

-- The method name the `api` generator gives: operationId, first letter lower-cased.
function M.method_name(op_id)
  return op_id:sub(1, 1):lower() .. op_id:sub(2)
end

local function fallback_id(method, path)
  local s = method .. path:gsub("[{}]", ""):gsub("[^%w]+(%w?)", function(c) return c:upper() end)
  return s
end

-- doc: decoded OpenAPI document; api: a short name for it.
-- Returns { api = ..., servers = {...}, ops = { name = op, ... } }.
function M.compile(doc, api)
  if type(doc) ~= "table" or type(doc.paths) ~= "table" then
    error("not an OpenAPI 3 document (no paths)", 0)
  end
  local servers = {}
  for _, s in ipairs(doc.servers or {}) do servers[#servers + 1] = s.url end
  local ops = {}
  for path, item in pairs(doc.paths) do
    -- appended to the server URL: anything else could change its host or port
    if type(path) ~= "string" or path:sub(1, 1) ~= "/" then error("path '" .. tostring(path) .. "' does not begin with /", 0) end
    item = resolve(doc, item) or {}
    for _, method in ipairs(METHODS) do
      local op = item[method]
      if type(op) == "table" then
        local params, index = {}, {}
        for _, list in ipairs({ item.parameters or {}, op.parameters or {} }) do
          for _, p in ipairs(list) do
            local cp = compile_param(doc, p)
            local key = cp["in"] .. ":" .. cp.name
            if index[key] then params[index[key]] = cp
            else params[#params + 1] = cp; index[key] = #params end
          end
        end
        local id = op.operationId or fallback_id(method, path)
        local media = response_media(doc, op.responses)
        local name = M.method_name(id)
        if ops[name] then error("duplicate operation name " .. name, 0) end
        ops[name] = {
          id = id ~= name and id or nil,
          method = method:upper(),
          path = path,
          params = params[1] and params or nil,
          body = compile_body(doc, op.requestBody),
          security = compile_security(doc, op.security or doc.security) or {},
          accept = media[1],
          accepts = media[2] and media or nil,
          servers = op.servers and op.servers[1] and { op.servers[1].url } or nil,
        }
      end
    end
  end
  return { api = api, servers = servers, ops = ops }
end

return M
