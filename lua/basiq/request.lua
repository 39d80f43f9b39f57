-- Turns (operation, body, metadata) into an HTTP request: argument
-- placement, validation and encoding. Each operation's plan is built once.
local core = require("basiq.lazy")
local cjson = require("cjson")

local escape
local json = cjson.new() -- private instance: the user's cjson settings stay theirs
local concat, format, type, pairs, ipairs, next = table.concat, string.format, type, pairs, ipairs, next
local unpack = table.unpack or unpack -- Lua 5.1 / LuaJIT
local mtype = math.type or function(v) -- Lua 5.1 / LuaJIT
  if type(v) ~= "number" then return nil end
  return v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 and "integer" or "float"
end

local M = {}

-- core loads on first use; then its escape is called directly
escape = function(s)
  escape = core.escape
  return escape(s)
end

-- No parameter is legitimately longer; libcurl would fail on the URL later
-- with a puzzling "out of memory".
local MAX_PARAM = 16384

local plans = setmetatable({}, { __mode = "k" })

local function plan_of(op)
  local plan = plans[op]
  if plan then return plan end
  plan = { byname = {}, bylower = {}, required = {}, query = {}, header = {}, cookie = {}, segs = {} }
  for _, p in ipairs(op.params or {}) do
    plan.byname[p.name] = p
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
  -- the common shape (getUser, getJob, ...): no body, path parameters only
  plan.npath = (#plan.segs - 1) / 2
  plan.fast = not op.body and not plan.accept_p and plan.npath > 0 and #plan.query == 0
    and #plan.header == 0 and #plan.cookie == 0 and #op.params == plan.npath
  plan.has_params = next(plan.byname) ~= nil
  plans[op] = plan
  return plan
end

-- A scalar as the text that goes on the wire; nil for anything else.
local function scalar(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return nil end
    if mtype(v) == "integer" then return format("%d", v) end
    if v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return format("%.0f", v) end
    for digits = 15, 17 do
      local s = format("%." .. digits .. "g", v)
      if tonumber(s) == v then return s end
    end
  end
  return nil
end

-- A parameter value: a scalar or a sequence of scalars -> list of strings.
local function values_of(v)
  local s = scalar(v)
  if s then return { s } end
  if type(v) ~= "table" then return nil end
  local n, out = #v, {}
  for k in pairs(v) do
    if mtype(k) ~= "integer" or k < 1 or k > n then return nil end
  end
  for i = 1, n do
    out[i] = scalar(v[i])
    if not out[i] then return nil end
  end
  return out
end

local function joined(vs) return type(vs) == "string" and vs or concat(vs, ",") end

-- A caller's key or value as it may appear in a message: control bytes
-- shown as \ddd (no forged log lines), and at most 64 bytes of it.
local function shown(v)
  if type(v) ~= "string" then return v end
  if #v > 64 then v = v:sub(1, 61) .. "..." end
  return (v:gsub("%c", function(c) return "\\" .. c:byte() end))
end

local function fail(name, fmt, ...)
  local args = { ... }
  for i = 1, select("#", ...) do args[i] = shown(args[i]) end
  return nil, "basiq." .. name .. ": " .. format(fmt, unpack(args, 1, select("#", ...)))
end

local EMPTY = "\0basiq:empty-array\0"
local EMPTY_JSON = json.encode(EMPTY)

-- Copies v where the schema says an array is, swapping empty tables for a
-- marker that becomes [] after encoding (cjson writes {} for them).
local function mark(v, shape, seen)
  if type(v) ~= "table" or not shape or seen[v] then return v, false end
  local array = shape.t == "a"
  if array and next(v) == nil then return EMPTY, true end
  seen[v] = true -- cycles are left for cjson to refuse
  local copy, changed = {}, false
  for k, item in pairs(v) do
    local m, c = mark(item, array and shape.i or shape.p and shape.p[k], seen)
    copy[k], changed = m, changed or c
  end
  return changed and copy or v, changed
end

local function json_body(name, body, shape)
  local marked, changed = mark(body, shape, {})
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

local function form_body(name, body)
  local keys, err = sorted_keys(name, body)
  if not keys then return nil, err end
  local pairs_ = {}
  for _, k in ipairs(keys) do
    local vs = values_of(body[k])
    if not vs then return fail(name, "body field '%s' must be a string, number, boolean or array of them", k) end
    for _, v in ipairs(vs) do pairs_[#pairs_ + 1] = k; pairs_[#pairs_ + 1] = v end
  end
  return core.form(pairs_)
end

local CONTENT_TYPES = { pdf = "application/pdf", csv = "text/csv", json = "application/json", txt = "text/plain" }

local function guess_type(filename)
  local ext = filename and filename:match("%.(%w+)$")
  return ext and CONTENT_TYPES[ext:lower()] or "application/octet-stream"
end

-- multipart: binary fields take an open file, { path = }, or { data = }
-- (each with optional filename and content_type); other fields are scalars.
local function multipart_body(name, body, fields)
  local keys, err = sorted_keys(name, body)
  if not keys then return nil, err end
  local parts = {}
  for _, k in ipairs(keys) do
    local v = body[k]
    if (fields and fields[k] == "binary") or io.type(v) == "file" then
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
      parts[#parts + 1] = part
    else
      local vs = values_of(v)
      if not vs then return fail(name, "body field '%s' must be a string, number, boolean or array of them", k) end
      for _, s in ipairs(vs) do parts[#parts + 1] = { name = k, data = s } end
    end
  end
  return parts
end

-- Is every key of t a declared parameter? (decides one-argument calls)
local function all_params(plan, t)
  for k in pairs(t) do
    if type(k) ~= "string" or not (plan.byname[k] or plan.bylower[k:lower()]) then return false end
  end
  return true
end

-- Returns req = { method, path (with query), headers = {...}, body?, mime? }
-- or nil, message for a programmer mistake (the caller raises it).
-- The fast path: one metadata table holding exactly the path parameters,
-- as non-empty strings. Anything else takes the general path (and its
-- error messages).
local function build_fast(plan, op, meta)
  local segs = plan.segs
  local path
  if plan.npath == 1 then -- the commonest: one id, the only key
    local k, v = next(meta)
    if k ~= segs[2].name or next(meta, k) ~= nil or type(v) ~= "string" or v == "" or v == "." or v == ".."
        or #v > MAX_PARAM then
      return nil
    end
    path = segs[1] .. escape(v) .. segs[3]
  else
    local n = 0
    for _ in pairs(meta) do n = n + 1 end
    if n ~= plan.npath then return nil end
    local buf = {}
    for i = 1, #segs, 2 do
      buf[i] = segs[i]
      local p = segs[i + 1]
      if p then
        local v = meta[p.name]
        if type(v) ~= "string" or v == "" or v == "." or v == ".." or #v > MAX_PARAM then return nil end
        buf[i + 1] = escape(v)
      end
    end
    path = concat(buf)
  end
  return { method = op.method, path = path, headers = { plan.accept_header } }
end

function M.build(name, op, a, b, nargs)
  local plan = plans[op] or plan_of(op)
  if plan.fast and nargs == 1 and type(a) == "table" then
    local req = build_fast(plan, op, a)
    if req then return req end
  end
  local body, meta
  if nargs >= 2 then
    body, meta = a, b
  elseif a ~= nil then
    if not op.body then meta = a
    elseif not plan.has_params then body = a
    elseif type(a) == "table" and all_params(plan, a) then meta = a
    else body = a end
  end
  if meta ~= nil and type(meta) ~= "table" then
    return fail(name, "metadata must be a table, got %s", type(meta))
  end
  if body ~= nil and not op.body then return fail(name, "takes no request body") end

  local vals = {}
  if meta then
    for k, v in pairs(meta) do
      if type(k) ~= "string" then return fail(name, "metadata key %s is not a string", tostring(k)) end
      local p = plan.byname[k] or plan.bylower[k:lower()]
      if not p then return fail(name, "unknown parameter '%s'", k) end
      -- a scalar stays a string (the common case, no table); arrays are lists
      local vs = type(v) == "string" and v or scalar(v) or values_of(v)
      if not vs then
        return fail(name, "parameter '%s' must be a string, number, boolean or array of them", k)
      end
      if #joined(vs) > MAX_PARAM then
        return fail(name, "parameter '%s' is longer than %d bytes", k, MAX_PARAM)
      end
      vals[p] = vs
    end
  end
  for _, p in ipairs(plan.required) do
    local vs = vals[p]
    if not vs or vs[1] == nil and type(vs) == "table" then
      return fail(name, "missing required parameter '%s'", p.name)
    end
  end

  -- path
  local path = plan.static_path
  if not path then
    local buf, segs = {}, plan.segs
    for i = 1, #segs, 2 do
      buf[i] = segs[i]
      local p = segs[i + 1]
      if p then
        local vs = vals[p]
        if type(vs) == "string" then
          if vs == "" or vs == "." or vs == ".." then
            return fail(name, "parameter '%s' must not be empty, '.' or '..'", p.name)
          end
          buf[i + 1] = escape(vs)
        else
          if not (vs and vs[1]) then return fail(name, "missing required parameter '%s'", p.name) end
          for j = 1, #vs do
            local s = vs[j]
            if s == "" or s == "." or s == ".." then
              return fail(name, "parameter '%s' must not be empty, '.' or '..'", p.name)
            end
            vs[j] = escape(s)
          end
          buf[i + 1] = concat(vs, ",")
        end
      end
    end
    path = concat(buf)
  end

  -- query
  local q
  for _, p in ipairs(plan.query) do
    local vs = vals[p]
    if type(vs) == "string" then vs = { vs } end
    if vs and vs[1] then
      q = q or {}
      local key = escape(p.name)
      local explode = p.explode
      if explode == nil then explode = true end
      if explode or #vs == 1 then
        for _, s in ipairs(vs) do q[#q + 1] = key .. "=" .. escape(s) end
      else
        local enc = {}
        for j, s in ipairs(vs) do enc[j] = escape(s) end
        q[#q + 1] = key .. "=" .. concat(enc, ",")
      end
    end
  end
  if q then path = path .. "?" .. concat(q, "&") end

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
      if vals[p] then c[#c + 1] = p.name .. "=" .. escape(joined(vals[p])) end
    end
    if c[1] then headers[#headers + 1] = "Cookie: " .. concat(c, "; ") end
  end

  local req = { method = op.method, path = path, headers = headers }
  local spec = op.body
  if spec then
    if body == nil then
      if spec.required then return fail(name, "missing required request body") end
    else
      local media, err = spec.media, nil
      local is_json = media:find("json", 1, true)
      local is_form = media == "application/x-www-form-urlencoded"
      local is_multipart = media:find("^multipart/")
      if (is_json or is_form or is_multipart) and type(body) ~= "table" then
        return fail(name, "body must be a table, got %s", type(body))
      end
      if is_json then
        req.body, err = json_body(name, body, spec.shape)
      elseif is_form then
        req.body, err = form_body(name, body)
      elseif is_multipart then
        req.mime, err = multipart_body(name, body, spec.fields)
      elseif type(body) ~= "string" then
        return fail(name, "body must be a string for %s", media)
      else
        req.body = body
      end
      if err then return nil, err end
      if not req.mime then headers[#headers + 1] = "Content-Type: " .. media end
    end
  end
  return req
end

return M
