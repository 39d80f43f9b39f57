-- Turns (operation, body, metadata) into an HTTP request: which argument is
-- which, then the path, query, headers and body, each checked and encoded.
-- Each operation's plan is built once. Nothing here sends or raises: a
-- mistake comes back as nil, message for the caller to raise.
local core = require("basiq.shared.lazy")
local cjson = require("cjson")
local values = require("basiq.shared.values")
local suggest = require("basiq.shared.suggest")

local json = cjson.new() -- private instance: the user's cjson settings stay theirs
local concat, format, type, pairs, ipairs, next = table.concat, string.format, type, pairs, ipairs, next
local unpack = table.unpack or unpack -- Lua 5.1 / LuaJIT
local scalar, sequence, shown = values.scalar, values.sequence, values.shown

local M = {}

-- No parameter is legitimately longer; libcurl would fail on the URL later
-- with a puzzling "out of memory".
local MAX_PARAM = 16384

local function fail(name, fmt, ...)
  local args = { ... }
  for i = 1, select("#", ...) do args[i] = shown(args[i]) end
  return nil, "basiq." .. name .. ": " .. format(fmt, unpack(args, 1, select("#", ...)))
end

-- A path parameter's value keeps the path as the definition has it: a
-- string of at most MAX_PARAM bytes that is not one of these (which a server
-- would read as the path itself or its parent). The fast and the general
-- path share them; the fast path inlines path_value, a call costing more
-- than the check.
local NOT_SEGMENT = { [""] = true, ["."] = true, [".."] = true }
local function path_value(v)
  return type(v) == "string" and not NOT_SEGMENT[v] and #v <= MAX_PARAM
end

-- What a parameter's schema says its value must be: a check made once per
-- parameter, called with the caller's value: nil when it fits, else the
-- end of a message saying what it must be and what it was.
local finite, mtype = values.finite, values.mtype
local WHAT = { string = "a string", integer = "an integer", number = "a number", boolean = "a boolean" }
local FORMATS = { -- string formats worth checking before sending, as patterns
  date = { "^%d%d%d%d%-%d%d%-%d%d$", "a date (YYYY-MM-DD)" },
  ["date-time"] = { "^%d%d%d%d%-%d%d%-%d%d[Tt ]%d%d:%d%d:%d%d%.?%d*[Zz]?[+-]?[%d:]*$",
    "a date and time (RFC 3339: YYYY-MM-DDThh:mm:ssZ)" },
  uuid = { "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", "a UUID" },
}
local RANGES = { -- integer formats: lowest, past the highest, as said
  int32 = { -2 ^ 31, 2 ^ 31, "from -2147483648 to 2147483647" },
  int64 = { -2 ^ 63, 2 ^ 63, "from -9223372036854775808 to 9223372036854775807" },
}

-- A caller's value as a message shows it.
local function described(v)
  local t = type(v)
  if t == "string" then return 'the string "' .. shown(v) .. '"' end
  if t == "number" then return values.number(v) or tostring(v) end
  if t == "table" then return sequence(v) and "a list" or "a table" end
  return t == "boolean" and tostring(v) or "a " .. t
end

-- The check of one value against a type (nil: any scalar), format (fmt) and enum.
local function scalar_check(ty, fmt, enum)
  local range, pattern = RANGES[fmt], FORMATS[fmt]
  local allowed, listed
  if enum then
    allowed, listed = {}, {}
    for i, e in ipairs(enum) do
      listed[i] = scalar(e)
      allowed[listed[i]] = true
    end
    listed = concat(listed, ", ")
  end
  return function(v)
    local t = type(v)
    if t == "table" then return "must be " .. (WHAT[ty] or "a string, number or boolean") .. ", not " .. described(v) end
    if ty == "string" and not (t == "string" or t == "number" and finite(v))
        or (ty == "integer" or ty == "number") and not (t == "number" and finite(v))
        or ty == "boolean" and t ~= "boolean" then
      return "must be " .. WHAT[ty] .. ", not " .. described(v)
    end
    if ty == "integer" and v % 1 ~= 0 then return "must be an integer (a whole number), not " .. described(v) end
    if range and t == "number" and not (v >= range[1] and v < range[2]) then
      return "must be an integer " .. range[3] .. " (" .. fmt .. "), not " .. described(v)
    end
    if pattern and not (t == "string" and v:find(pattern[1])) then
      return "must be " .. pattern[2] .. ", not " .. described(v)
    end
    if allowed and not allowed[scalar(v) or ""] then
      return "must be one of " .. listed .. ", not " .. described(v)
    end
  end
end

-- The check of a parameter's value, or nil when its schema says nothing
-- to check (no type, format or enum); and the kind of value that needs no
-- check at all ("string" for a plain string parameter, "integer" for an
-- integer or int64 one, as math.type says), which keeps the commonest
-- calls from calling it.
local function param_check(p)
  local ty, items = p.type, p.items
  local known = WHAT[ty] or ty == "array"
  local plain = not p.enum and not FORMATS[p.format] and not RANGES[p.format]
  if not known and plain then return nil end
  local one = scalar_check(ty == "array" and WHAT[items] and items or WHAT[ty] and ty or nil, p.format, p.enum)
  local hint = p.name == "filter" and " (basiq.filter{ ... } makes one of several conditions)" or ""
  if ty ~= "array" then
    local unchecked = plain and (ty == "string" or ty == "boolean" or ty == "integer") and ty
      or ty == "integer" and p.format == "int64" and not p.enum and "integer" -- any Lua integer is one
      or nil
    return function(v)
      local why = one(v)
      return why and why .. (type(v) == "table" and hint or "")
    end, unchecked
  end
  return function(v) -- an array: one value or a list of them
    if type(v) ~= "table" then return one(v) end
    for i = 1, #v do
      local why = one(v[i])
      if why then return "item " .. i .. " " .. why end
    end
  end
end

local plans = setmetatable({}, { __mode = "k" })

local function plan_of(op)
  local plan = plans[op]
  if plan then return plan end
  plan = { params = op.params or {}, byname = {}, bylower = {}, required = {}, query = {}, header = {}, cookie = {},
           segs = {}, checks = {}, unchecked = {} }
  for _, p in ipairs(plan.params) do
    plan.byname[p.name] = p
    plan.checks[p], plan.unchecked[p] = param_check(p)
    if p["in"] == "header" then plan.bylower[p.name:lower()] = p end
    if p.required then plan.required[#plan.required + 1] = p end
    local list = plan[p["in"]]
    if list then list[#list + 1] = p end
  end
  -- operations with several response media types take an "accept" override
  if op.accepts and not plan.bylower.accept then
    plan.accept_p = { name = "accept", ["in"] = "header" }
    plan.bylower.accept = plan.accept_p
  end
  -- path template: literal strings and parameter names, alternating
  local pos, path = 1, op.path
  while true do
    local s, e, name = path:find("{([^}]+)}", pos)
    if not s then break end
    plan.segs[#plan.segs + 1] = path:sub(pos, s - 1)
    plan.segs[#plan.segs + 1] = plan.byname[name] or { name = name, ["in"] = "path", required = true }
    pos = e + 1
  end
  plan.segs[#plan.segs + 1] = path:sub(pos)
  plan.static_path = #plan.segs == 1 and plan.segs[1] or nil
  plan.accept_header = op.accept and "Accept: " .. op.accept
  -- the common shape (getUser, getJob, getTransactions, ...): no body, path
  -- parameters and perhaps query ones that are optional. A call that gives
  -- any query parameter takes the general path: fast_url wants the path's
  -- ids alone.
  plan.npath = (#plan.segs - 1) / 2
  local optional = true
  for _, p in ipairs(plan.query) do optional = optional and not p.required end
  plan.fast = not op.body and not plan.accept_p and plan.npath > 0 and optional
    and #plan.header == 0 and #plan.cookie == 0 and #plan.params == plan.npath + #plan.query
  plan.has_params = next(plan.byname) ~= nil
  plans[op] = plan
  return plan
end
M.plan = function(op) return plans[op] or plan_of(op) end

-- What an unknown parameter's message adds: "getUser takes userId", with
-- the nearest name first when the key looks like a typo of one.
function M.takes(name, plan, key)
  local names = {}
  for _, p in ipairs(plan.params) do names[#names + 1] = p.name end
  if plan.accept_p then names[#names + 1] = "accept" end
  if not names[1] then return name .. " takes no parameters" end
  local near = key and suggest.nearest(key, names)
  return (near and "did you mean " .. near .. "? " or "") .. name .. " takes " .. table.concat(names, ", ")
end

-- A parameter value: a scalar or a sequence of scalars -> list of strings.
local function values_of(v)
  local s = scalar(v)
  if s then return { s } end
  local n = sequence(v)
  if not n then return nil end
  local out = {}
  for i = 1, n do
    out[i] = scalar(v[i])
    if not out[i] then return nil end
  end
  return out
end

local function joined(vs) return type(vs) == "string" and vs or concat(vs, ",") end

-- The fast path: one metadata table holding exactly the path parameters,
-- as strings that pass path_value. The URL, base .. path, or nil (then
-- the general path runs, with its error messages). prefix: base .. the
-- path's first literal part, which the caller keeps.
function M.fast_url(plan, meta, base, prefix)
  local segs = plan.segs
  if plan.npath == 1 then -- the commonest: one id, the only key
    local k, v = next(meta)
    if k ~= segs[2].name or next(meta, k) ~= nil or type(v) ~= "string" or NOT_SEGMENT[v] or #v > MAX_PARAM then
      return nil
    end
    return prefix .. core.escape(v) .. segs[3]
  end
  local n = 0
  for _ in pairs(meta) do n = n + 1 end
  if n ~= plan.npath then return nil end
  local buf = { base }
  for i = 1, #segs, 2 do
    buf[i + 1] = segs[i]
    local p = segs[i + 1]
    if p then
      local v = meta[p.name]
      if not path_value(v) then return nil end
      buf[i + 2] = core.escape(v)
    end
  end
  return concat(buf)
end

-- Is every key of t a declared parameter? (decides one-argument calls)
local function all_params(plan, t)
  for k in pairs(t) do
    if type(k) ~= "string" or not (plan.byname[k] or plan.bylower[k:lower()]) then return false end
  end
  return true
end

-- How many of an operation's two arguments were given: a trailing nil
-- counts as left out, as undefined does in JavaScript.
function M.count(a, b) return b ~= nil and 2 or a ~= nil and 1 or 0 end

-- Which argument is the body and which the metadata.
local function place(plan, op, a, b, nargs)
  if nargs >= 2 then return a, b end
  if a == nil then return nil, nil end
  if not op.body then return nil, a end
  if not plan.has_params then return a, nil end
  if type(a) == "table" and all_params(plan, a) then return nil, a end
  return a, nil
end

-- The metadata checked: parameter -> string (a scalar) or list of strings.
local function params(name, plan, meta)
  local vals = {}
  for k, v in pairs(meta or vals) do
    if type(k) ~= "string" then return fail(name, "metadata key %s is not a string", tostring(k)) end
    local p = plan.byname[k] or plan.bylower[k:lower()]
    if not p then return fail(name, "unknown parameter '%s' (%s)", k, M.takes(name, plan, k)) end
    local check, unchecked = plan.checks[p], plan.unchecked[p]
    if check and type(v) ~= unchecked and (unchecked ~= "integer" or mtype(v) ~= "integer") then
      local why = check(v)
      if why then return nil, "basiq." .. name .. ": parameter '" .. shown(k) .. "' " .. why end
    end
    local vs = scalar(v) or values_of(v)
    if not vs then
      return fail(name, "parameter '%s' must be a string, number, boolean or array of them", k)
    end
    if #joined(vs) > MAX_PARAM then
      return fail(name, "parameter '%s' is longer than %d bytes", k, MAX_PARAM)
    end
    vals[p] = vs
  end
  for _, p in ipairs(plan.required) do
    local vs = vals[p]
    if not vs or type(vs) == "table" and vs[1] == nil then
      return fail(name, "missing required parameter '%s'", p.name)
    end
  end
  return vals
end

local function path_of(name, plan, vals)
  if plan.static_path then return plan.static_path end
  local buf, segs = {}, plan.segs
  for i = 1, #segs, 2 do
    buf[i] = segs[i]
    local p = segs[i + 1]
    if p then
      local vs = vals[p]
      if type(vs) == "string" then vs = { vs } end
      if not (vs and vs[1]) then return fail(name, "missing required parameter '%s'", p.name) end
      local enc = {}
      for j = 1, #vs do
        if not path_value(vs[j]) then return fail(name, "parameter '%s' must not be empty, '.' or '..'", p.name) end
        enc[j] = core.escape(vs[j])
      end
      buf[i + 1] = concat(enc, ",")
    end
  end
  return concat(buf)
end

local function query_of(plan, vals)
  local q
  for _, p in ipairs(plan.query) do
    local vs = vals[p]
    if type(vs) == "string" then vs = { vs } end
    if vs and vs[1] then
      q = q or {}
      local key = core.escape(p.name)
      local explode = p.explode
      if explode == nil then explode = true end
      if explode or #vs == 1 then
        for _, s in ipairs(vs) do q[#q + 1] = key .. "=" .. core.escape(s) end
      else
        local enc = {}
        for j, s in ipairs(vs) do enc[j] = core.escape(s) end
        q[#q + 1] = key .. "=" .. concat(enc, ",")
      end
    end
  end
  return q and "?" .. concat(q, "&") or ""
end

local function headers_of(name, plan, vals)
  local headers, from = {}, 1
  local accept = plan.accept_p and vals[plan.accept_p]
  if accept then
    headers[1] = "Accept: " .. joined(accept)
  elseif plan.accept_header then -- the definition's own: nothing to check
    headers[1], from = plan.accept_header, 2
  end
  for _, p in ipairs(plan.header) do
    if vals[p] then headers[#headers + 1] = p.name .. ": " .. joined(vals[p]) end
  end
  for i = from, #headers do
    if headers[i]:find("[\r\n%z]") then
      return fail(name, "parameter '%s' contains CR, LF or NUL", headers[i]:match("^[^:]+"):lower())
    end
  end
  if plan.cookie[1] then
    local c = {}
    for _, p in ipairs(plan.cookie) do
      if vals[p] then c[#c + 1] = p.name .. "=" .. core.escape(joined(vals[p])) end
    end
    if c[1] then headers[#headers + 1] = "Cookie: " .. concat(c, "; ") end
  end
  return headers
end

local EMPTY = "\0basiq:empty-array\0"
local EMPTY_JSON = json.encode(EMPTY)

-- Walks a body along its schema's node (compile.lua's shape): copies v
-- where an array is, swapping empty tables for a marker that becomes []
-- after encoding (cjson writes {} for them), and finds the first key an
-- object of the schema does not take. value, changed | nil, path, node
-- (path: the keys down to the unknown one; node: the object it is not in).
local function walk(v, node, seen)
  if type(v) ~= "table" or type(node) ~= "table" or seen[v] then return v, false end
  local t = node.t
  local array = t == "a"
  if not array and t ~= "o" then return v, false end
  if array and next(v) == nil then return EMPTY, true end
  seen[v] = true -- cycles are left for cjson to refuse
  local props, closed = node.p, node.closed
  local copy, changed = {}, false
  for k, item in pairs(v) do
    local sub
    if array then
      sub = node.i
    else
      sub = props and type(k) == "string" and props[k]
      if not sub and closed then return nil, { k }, node end
    end
    local m, c, bad = walk(item, sub, seen)
    if m == nil and bad then
      table.insert(c, 1, k)
      return nil, c, bad
    end
    copy[k], changed = m, changed or c
  end
  return changed and copy or v, changed
end

-- The message for a body key its schema does not list.
local function unknown_field(name, path, node, json_text)
  local shown_path = ""
  for i, k in ipairs(path) do
    if type(k) == "number" then
      shown_path = shown_path .. "[" .. (values.number(k) or tostring(k)) .. "]"
    else
      shown_path = shown_path .. (i > 1 and "." or "") .. shown(tostring(k))
    end
  end
  local names = {}
  for k in pairs(node.p or {}) do names[#names + 1] = k end
  table.sort(names)
  local key = path[#path]
  local near = type(key) == "string" and suggest.nearest(key, names)
  local why = near and "did you mean " .. near .. "?" or "it takes " .. (names[1] and concat(names, ", ") or "no fields")
  return "basiq." .. name .. ": unknown body field '" .. shown_path .. "' (" .. why .. "); a field the definition"
    .. (json_text and " does not list yet goes in a body of JSON text" or " does not list yet needs its newer one (basiq.load)")
end

-- The body walked along its node: value, changed | nil, message. json_text:
-- whether the caller could send JSON text instead (what the message says).
local function checked(name, body, node, json_text)
  if not node then return body, false end
  local v, changed, bad = walk(body, node, {})
  if v == nil and bad then return nil, unknown_field(name, changed, bad, json_text) end
  return v, changed
end

local function json_body(name, body, shape)
  local marked, changed = checked(name, body, shape, true)
  if marked == nil then return nil, changed end
  local ok, s = pcall(json.encode, marked)
  if not ok then
    local why = tostring(s):gsub("^.-: ", "")
    if why:find("excessive nesting", 1, true) then why = "nested too deeply, or a table contains itself" end
    return fail(name, "body cannot be encoded as JSON (%s)", why)
  end
  -- JSON is UTF-8: invalid bytes would reach the server as they are
  local valid, at = core.valid_utf8(s)
  if not valid then return fail(name, "body contains invalid UTF-8 (byte %d of the encoded JSON)", at) end
  if changed then s = s:gsub(EMPTY_JSON:gsub("%p", "%%%0"), "[]") end
  return s
end

local function sorted_keys(name, t)
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then return fail(name, "body key %s is not a string", tostring(k)) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

local function form_body(name, body, shape)
  local ok, cerr = checked(name, body, shape)
  if ok == nil then return nil, cerr end
  local keys, err = sorted_keys(name, body)
  if not keys then return nil, err end
  local list = {}
  for _, k in ipairs(keys) do
    local vs = values_of(body[k])
    if not vs then return fail(name, "body field '%s' must be a string, number, boolean or array of them", k) end
    for _, v in ipairs(vs) do list[#list + 1] = k; list[#list + 1] = v end
  end
  return core.form(list)
end

local CONTENT_TYPES = { pdf = "application/pdf", csv = "text/csv", json = "application/json", txt = "text/plain" }

local function guess_type(filename)
  local ext = filename and filename:match("%.(%w+)$")
  return ext and CONTENT_TYPES[ext:lower()] or "application/octet-stream"
end

-- One file part: an open file, { path = } or { data = } (each with optional
-- filename and content_type), or a string.
local function file_part(name, k, v)
  local part = { name = k }
  if io.type(v) == "file" then
    part.data = v:read("*a")
    if not part.data then return fail(name, "body field '%s': the file cannot be read", k) end
    part.filename = k
  elseif type(v) == "table" and (type(v.path) == "string" or type(v.data) == "string") then
    local fname = v.filename or (v.path and v.path:match("([^/\\]+)$")) or k
    if v.path then
      local f = io.open(v.path, "rb")
      if not f then return fail(name, "body field '%s': cannot open file", k) end
      f:close()
    end
    part.path, part.data, part.filename = v.path, v.data, fname
    part.type = v.content_type or guess_type(fname)
  elseif type(v) == "string" then
    part.data, part.filename = v, k
  else
    return fail(name, "body field '%s' must be an open file, { path = ... } or { data = ... }", k)
  end
  part.type = part.type or "application/octet-stream"
  for _, h in ipairs({ part.filename, part.type }) do
    if type(h) ~= "string" or h:find("[%c\"]") then
      return fail(name, "body field '%s': filename and content_type must be plain text", k)
    end
  end
  return part
end

-- multipart: binary fields are file parts; other fields are scalars.
local function multipart_body(name, body, fields, shape)
  local ok, cerr = checked(name, body, shape)
  if ok == nil then return nil, cerr end
  local keys, err = sorted_keys(name, body)
  if not keys then return nil, err end
  local parts = {}
  for _, k in ipairs(keys) do
    local v = body[k]
    if (fields and fields[k] == "binary") or io.type(v) == "file" then
      local part, perr = file_part(name, k, v)
      if not part then return nil, perr end
      parts[#parts + 1] = part
    else
      local vs = values_of(v)
      if not vs then return fail(name, "body field '%s' must be a string, number, boolean or array of them", k) end
      for _, s in ipairs(vs) do parts[#parts + 1] = { name = k, data = s } end
    end
  end
  return parts
end

-- Adds the encoded body (and its Content-Type) to req; nil, message on a mistake.
local function add_body(name, op, req, body)
  local spec = op.body
  if body == nil then
    if spec and spec.required then return fail(name, "missing required request body") end
    return true
  end
  local media, err = spec.media, nil
  local is_json = media:find("json", 1, true)
  local is_form = media == "application/x-www-form-urlencoded"
  local is_multipart = media:find("^multipart/")
  if is_json and type(body) == "string" then
    -- JSON text the caller encoded: sent as it is, unchecked (a field the
    -- definition does not list yet), but never as invalid UTF-8
    local valid, at = core.valid_utf8(body)
    if not valid then return fail(name, "body contains invalid UTF-8 (byte %d)", at) end
    req.body = body
  elseif (is_json or is_form or is_multipart) and type(body) ~= "table" then
    return fail(name, "body must be a table%s, got %s", is_json and " or JSON text" or "", type(body))
  elseif is_json then
    req.body, err = json_body(name, body, spec.shape)
  elseif is_form then
    req.body, err = form_body(name, body, spec.shape)
  elseif is_multipart then
    req.mime, err = multipart_body(name, body, spec.fields, spec.shape)
  elseif type(body) ~= "string" then
    return fail(name, "body must be a string for %s", media)
  else
    req.body = body
  end
  if err then return nil, err end
  if not req.mime then req.headers[#req.headers + 1] = "Content-Type: " .. media end
  return true
end

-- req = { method, path (with query), headers = {...}, body?, mime? }, or
-- nil, message for a programmer mistake.
function M.build(name, op, a, b, nargs)
  local plan = plans[op] or plan_of(op)
  local body, meta = place(plan, op, a, b, nargs)
  if meta ~= nil and type(meta) ~= "table" then return fail(name, "metadata must be a table, got %s", type(meta)) end
  if body ~= nil and not op.body then return fail(name, "takes no request body") end
  local vals, err = params(name, plan, meta)
  if not vals then return nil, err end
  local path, perr = path_of(name, plan, vals)
  if not path then return nil, perr end
  local headers, herr = headers_of(name, plan, vals)
  if not headers then return nil, herr end
  local req = { method = op.method, path = path .. query_of(plan, vals), headers = headers }
  local ok, berr = add_body(name, op, req, body)
  if not ok then return nil, berr end
  return req
end

return M
