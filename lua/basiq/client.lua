-- A Basiq client: configuration, credentials and a reused HTTP handle,
-- with one function per operation, called with a dot: client.getUser{...}.
local request = require("basiq.request")
local errors = require("basiq.errors")
local index = require("basiq.ops.index")
local cjson_safe = require("cjson.safe")

local json = cjson_safe.new()
local build = request.build
local escape = require("basiq.core").escape
local type, select, setmetatable, error = type, select, setmetatable, error

local M = {}

local DEFAULT_SERVER = "https://au-api.basiq.io"
local OPTIONS = { -- config key -> check
  timeout = "ms", connectTimeout = "ms", maxBodySize = "bytes", caFile = "string",
}

-- Each API's table is required the first time one of its operations is used.
local function find_op(state, name)
  local extra = state.extra[name]
  if extra then return extra.op, extra.server end
  local api = index[name]
  if not api then return nil end
  local t = require("basiq.ops." .. api)
  local op = t.ops[name]
  return op, op.servers and op.servers[1] or t.servers[1]
end

local function check_server(who, url)
  if type(url) ~= "string" or not url:lower():match("^https?://[^/]") then
    error("basiq." .. who .. ": server must be an http:// or https:// URL", 3)
  end
  return (url:gsub("/+$", ""))
end

local function set_options(who, state, opts)
  for k, v in pairs(opts) do
    local kind = OPTIONS[k]
    if k == "server" then
      state.server = check_server(who, v)
    elseif k == "auth" then
      -- handled by the caller
    elseif not kind then
      error(string.format("basiq.%s: unknown option '%s'", who, tostring(k)), 3)
    elseif kind == "string" then
      if type(v) ~= "string" then error(string.format("basiq.%s: option '%s' must be a string", who, k), 3) end
      state[k] = v
    else
      if type(v) ~= "number" or v <= 0 or v ~= v or v == math.huge then
        error(string.format("basiq.%s: option '%s' must be a positive number", who, k), 3)
      end
      state[k] = v
    end
  end
end

-- Authorization for one operation, as the `api` SDK applies auth(): an
-- apiKey scheme gets the value as given, bearer gets "Bearer <value>".
local function apply_auth(state, op, req)
  local cred = state.credential
  local scheme = op.security[1]
  if not cred or not scheme then return end
  local kind, value, name = scheme.kind, cred.raw, "Authorization"
  if kind == "bearer" or kind == "basic" then
    value = cred[kind]
  elseif kind == "apiKey" then
    name = scheme.name
    if scheme["in"] == "query" then -- not in Basiq's APIs; documents loaded with basiq.load
      req.path = req.path .. (req.path:find("?", 1, true) and "&" or "?") .. escape(name) .. "=" .. escape(value)
      return
    elseif scheme["in"] == "cookie" then
      name, value = "Cookie", name .. "=" .. escape(value)
    end
  end
  req.headers[#req.headers + 1] = name .. ": " .. value
end

local function decode(headers, body)
  if body == "" then return nil end
  local ct = headers["content-type"]
  if ct and ct:find("json", 1, true) or (not ct and body:find("^%s*[%[{]")) then
    local v = json.decode(body)
    if v ~= nil then return v end
  end
  return body
end

local function curl_transport(state, req)
  local h = state.handle
  if not h then
    h = require("basiq.core").new()
    state.handle = h
  end
  return h:perform(req)
end

-- The one place every operation goes through.
local function call(state, name, op, server, a, b, nargs)
  local req, msg = build(name, op, a, b, nargs)
  if not req then error(msg, 3) end
  apply_auth(state, op, req)
  req.url = (state.server or server or DEFAULT_SERVER) .. req.path
  req.timeout, req.connect_timeout = state.timeout, state.connectTimeout
  req.max_body, req.cainfo = state.maxBodySize, state.caFile
  local status, headers, body = curl_transport(state, req)
  if not status then -- then headers and body are curl's message and result code
    return nil, errors.network(name, headers, body, state.secrets)
  end
  local data = decode(headers, body)
  if status >= 200 and status < 300 then
    return { data = data, status = status, headers = headers }
  end
  return nil, errors.http(name, status, headers, data, state.secrets)
end

function M.new(opts, target)
  if opts ~= nil and type(opts) ~= "table" then error("basiq.new: options must be a table", 2) end
  local state = { extra = {}, timeout = 60000, connectTimeout = 10000, secrets = {} }
  local client = target or {}
  local helpers = {} -- the functions defined below (and _VERSION): never operations

  function client.auth(value)
    if type(value) ~= "string" or value == "" or value:find("[\r\n%z]") then
      error("basiq.auth: credential must be a non-empty string without CR, LF or NUL", 2)
    end
    -- the header value for each scheme, worked out once per credential
    state.credential = {
      raw = value,
      bearer = "Bearer " .. (value:match("^[Bb]earer%s+(.*)$") or value),
      basic = value:match("^[Bb]asic%s") and value or "Basic " .. value,
    }
    state.secrets = { value, value:match("^%a+%s+(.+)$") }
    return client
  end

  function client.server(url)
    state.server = check_server("server", url)
    return client
  end

  function client.config(o)
    if type(o) ~= "table" then error("basiq.config: options must be a table", 2) end
    if o.server ~= nil or o.auth ~= nil then error("basiq.config: use basiq.server() and basiq.auth()", 2) end
    set_options("config", state, o)
    return client
  end

  -- Adds every operation of another OpenAPI JSON document to this client.
  function client.load(path)
    if type(path) ~= "string" then error("basiq.load: path must be a string", 2) end
    local f, err = io.open(path, "rb")
    if not f then return nil, "basiq.load: " .. err end
    local text = f:read("*a")
    f:close()
    local doc, jerr = json.decode(text)
    if type(doc) ~= "table" then return nil, "basiq.load: " .. path .. ": invalid JSON: " .. tostring(jerr) end
    local ok, t = pcall(require("basiq.compile").compile, doc, path)
    if not ok then return nil, "basiq.load: " .. path .. ": " .. tostring(t) end
    local n = 0
    for name, op in pairs(t.ops) do
      state.extra[name] = { op = op, server = op.servers and op.servers[1] or t.servers[1] }
      if not helpers[name] then rawset(client, name, nil) end -- drop a cached function
      n = n + 1
    end
    return n
  end

  -- Any operation by name, for names that are not valid Lua identifiers.
  function client.call(name, ...)
    local op, server = find_op(state, name)
    if not op then error("basiq.call: unknown operation '" .. tostring(name) .. "'", 2) end
    local a, b = ...
    return call(state, name, op, server, a, b, select("#", ...))
  end

  function client.new(o) return M.new(o) end

  -- Frees the connection now rather than at garbage collection.
  function client.close()
    if state.handle then state.handle:close(); state.handle = nil end
  end

  for k in pairs(client) do helpers[k] = true end

  if opts then
    set_options("new", state, opts)
    if opts.auth ~= nil then client.auth(opts.auth) end
  end

  return setmetatable(client, {
    __index = function(t, name)
      local op, server = find_op(state, name)
      if not op then return nil end
      local fn = function(...)
        local a, b = ...
        return call(state, name, op, server, a, b, select("#", ...))
      end
      rawset(t, name, fn)
      return fn
    end,
    __tostring = function()
      return "basiq client (" .. (state.server or DEFAULT_SERVER) .. ")"
    end,
    __name = "basiq.client",
  })
end


return M
