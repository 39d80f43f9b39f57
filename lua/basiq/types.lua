-- Editor types: LuaLS (---@meta) annotations for a definition's
-- operations, written by `make ops` into library/ and by `basiq install`
-- beside a module. Facts only (names, types, required, enums, formats,
-- method and path): never a description or an example from a definition.
local compile = require("basiq.compile")

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
-- (Lua's keywords and LuaLS's visibility words are quoted too.)
local QUOTED = {}
for word in ([[and break do else elseif end false for function goto if in local nil not or repeat return
  then true until while public protected private package]]):gmatch("%a+") do QUOTED[word] = true end
local function field_name(name)
  if name:find('[%c"\\]') then return nil end
  if name:match("^[%a_][%w_]*$") and not QUOTED[name] then return name end
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
      lit = require("basiq.values").number(v)
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
    if component then name = "basiq." .. w.api .. "." .. segment(component) end
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

-- library/basiq.lua: the module, the helpers every client has, and the
-- result and error classes (the operations are in the per-API files).
M.CLIENT = [=[
---@meta basiq
-- Generated by `make ops` (lua/basiq/types.lua). Do not edit.

---A call's result: `data` is the decoded JSON (or the raw text).
---@class basiq.Result
---@field status integer
---@field headers table<string, string>
---@field data any

---Every failure that is not a mistake: HTTP, network, load, job.
---@class basiq.Error
---@field code? string
---@field message string
---@field status? integer HTTP status (nil for a network failure)
---@field title? string
---@field detail? string
---@field correlationId? string
---@field data? any the decoded error body
---@field headers? table<string, string>
---@field curlcode? integer
---@field step? string waitForJob: the failed step's title

---A file part of a multipart body.
---@class basiq.FilePart
---@field path? string
---@field data? string
---@field filename? string
---@field content_type? string

---@class basiq.Options
---@field timeout? number ms, the whole call
---@field attemptTimeout? number ms
---@field connectTimeout? number ms
---@field retries? integer 0 to 10
---@field retryDelay? number ms
---@field retryMaxDelay? number ms
---@field maxBodySize? number bytes
---@field caFile? string
---@field allowInsecureHttp? boolean
---@field transport? "curl"|"ngx"|table|fun(req: table): table

---@class basiq.NewOptions: basiq.Options
---@field server? string
---@field auth? string
---@field apiKey? string

---@class basiq.WaitOptions
---@field interval? number ms
---@field timeout? number ms
---@field onStep? fun(step: table)

---@class basiq.BatchOptions
---@field concurrency? integer 1 to 1000

---@class basiq.WebhookOptions
---@field tolerance? number seconds
---@field now? number seconds

---@class basiq.webhook
local webhook = {}

---@param secret string
---@param headers table
---@param rawBody string
---@param opts? basiq.WebhookOptions
---@return boolean? ok
---@return string? why
function webhook.verify(secret, headers, rawBody, opts) end

---@param secret string
---@param id string
---@param timestamp integer|string
---@param body string
---@return string signature
function webhook.sign(secret, id, timestamp, body) end

---@class basiq.Client
---@field _VERSION string
---@field webhook basiq.webhook
local Client = {}

---"Basic <API key>": automatic tokens; anything else: a token used as given.
---@param value string
---@return basiq.Client
function Client.auth(value) end

---@param url string
---@return basiq.Client
function Client.server(url) end

---@param opts basiq.Options
---@return basiq.Client
function Client.config(opts) end

---@param opts? basiq.NewOptions
---@return basiq.Client
function Client.new(opts) end

---A file, a URL, a registry id (@project[/version]#uuid), a decoded document or a compiled module.
---@param source string|table
---@return integer? count
---@return string[]|basiq.Error replaced_or_err
function Client.load(source) end

---@param name string
---@param body_or_metadata? table
---@param metadata? table
---@return basiq.Result? res
---@return basiq.Error? err
function Client.call(name, body_or_metadata, metadata) end

---@param name string
---@param body_or_metadata? table
---@param metadata? table
---@return fun(): (basiq.Result|false)?, basiq.Error?
function Client.paginate(name, body_or_metadata, metadata) end

---@param calls table[] { name, body_or_metadata?, metadata? } each
---@param opts? basiq.BatchOptions
---@return table<integer, basiq.Result> results
---@return table<integer, basiq.Error> errors
function Client.batch(calls, opts) end

---@param jobId string
---@param opts? basiq.WaitOptions
---@return basiq.Result? job
---@return basiq.Error? err
function Client.waitForJob(jobId, opts) end

---@param userId string
---@return string? token
---@return basiq.Error? err
function Client.clientToken(userId) end

---@param conditions table
---@return string filter
function Client.filter(conditions) end

function Client.close() end

---@type basiq.Client
local basiq = {}
return basiq
]=]

return M
