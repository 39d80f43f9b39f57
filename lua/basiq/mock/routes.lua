-- The mock's router: every one of Basiq's operations, matched by the SDK's
-- own operation tables (method and path template), checked (bearer token,
-- scope, path ids, body against the definition, the user's fault scenario)
-- and handed to its handler; plus the Consent UI's pages. A handler
-- returns status, data (a table is sent as JSON) [, headers]; a refusal it
-- raises becomes Basiq's error list. Never answers with a stack trace.
local json = require("basiq.mock.json")
local cjson_safe = require("cjson.safe")
local refusals = require("basiq.mock.refusals")
local bodies = require("basiq.mock.bodies")
local wire = require("basiq.mock.wire")

local refuse = refusals.refuse

local M = {}

-- Operations a CLIENT_ACCESS token may call too (on its own user's jobs).
local CLIENT_OK = { getJobs = true, postJobMfa = true }

local HANDLERS = {}
for _, group in ipairs({ "users", "data", "jobs", "events", "insights" }) do
  for name, fn in pairs(require("basiq.mock.api." .. group).handlers) do
    assert(not HANDLERS[name], name)
    HANDLERS[name] = fn
  end
end

-- Routes from the operation tables: { method, segments, op name, op },
-- those with more literal segments first (/events/types before /events/{id}).
local function build_routes()
  local routes = {}
  for name, api in pairs(require("basiq.ops.index")) do
    local op = require("basiq.ops." .. api).ops[name]
    local segs, literal = {}, 0
    for seg in op.path:gmatch("[^/]+") do
      local param = seg:match("^{(.+)}$")
      segs[#segs + 1] = param and { param = param } or seg
      if not param then literal = literal + 1 end
    end
    routes[#routes + 1] = { method = op.method, segs = segs, name = name, op = op, literal = literal }
  end
  table.sort(routes, function(a, b)
    if a.literal ~= b.literal then return a.literal > b.literal end
    return a.name < b.name
  end)
  return routes
end
local ROUTES = build_routes()

-- The route for a request: route, path params; or nil (no such path) and
-- whether the path exists under another method.
local function match(method, path)
  local parts = {}
  for seg in path:gmatch("[^/]+") do parts[#parts + 1] = seg end
  local other
  for _, r in ipairs(ROUTES) do
    if #r.segs == #parts then
      local params, ok = {}, true
      for i, s in ipairs(r.segs) do
        if type(s) == "table" then
          params[s.param] = wire.unescape(parts[i])
        elseif s ~= parts[i] then
          ok = false
          break
        end
      end
      if ok then
        if r.method == method then return r, params end
        other = true
      end
    end
  end
  return nil, other
end
M.match = match

M.HANDLERS = HANDLERS

local function json_answer(status, data, headers)
  headers = headers or {}
  if data == nil then return status, headers, "" end
  if type(data) == "string" then
    headers["Content-Type"] = headers["Content-Type"] or "text/plain"
    return status, headers, data
  end
  headers["Content-Type"] = "application/json"
  return status, headers, json.encode(data)
end

-- The user's fault scenario (an email with +429 or +503): the next calls
-- about that user answer with it, then as usual.
local function fault(store, params)
  local user = params.userId and store.users[params.userId]
  local f = user and user.faults
  if f and f.left > 0 then
    f.left = f.left - 1
    refuse(f.status == 429 and "too-many-requests" or "service-unavailable",
      "Mock scenario: this user's email asks for " .. f.status .. " answers (" .. f.left .. " more).")
  end
end

-- The checks and the call of one operation.
local function call(ctx, r)
  local name, op = r.name, r.op
  if name == "postToken" then
    return 200, ctx.tokens:issue(ctx.req, ctx.store.users)
  end
  ctx.token = ctx.tokens:check(ctx.req, CLIENT_OK[name] and "CLIENT_ACCESS" or "SERVER_ACCESS")
  for k, v in pairs(ctx.params) do
    if v == "" then refuse("parameter-not-valid", k .. " must not be empty.", k) end
  end
  fault(ctx.store, ctx.params)
  if ctx.params.userId and not ctx.store.users[ctx.params.userId] then
    refuse("resource-not-found", "No user with this id.", "userId")
  end
  if op.body and op.body.media == "application/json" then
    local text = ctx.req.body
    if text == "" then
      if op.body.required then refuse("parameter-not-supplied", "This operation needs a JSON body.", "body") end
    else
      local ctype = (ctx.req.headers["content-type"] or ""):lower()
      if not ctype:find("json", 1, true) then
        refuse("invalid-content", "The body must be application/json.", "Content-Type")
      end
      local body = cjson_safe.decode(text)
      if type(body) ~= "table" then refuse("invalid-content", "The body is not a JSON object.", "body") end
      ctx.body = body
    end
    bodies.check(name, ctx.body or {})
  end
  local limit = ctx.query.limit
  if limit ~= nil then
    local n = tonumber(limit)
    if not n or n ~= math.floor(n) or n < 1 or n > 500 then
      refuse("parameter-not-valid", "limit must be a whole number from 1 to 500.", "limit")
    end
    ctx.limit = n
  end
  local handler = HANDLERS[name]
  if not handler then refuse("resource-not-found", "The mock does not serve " .. name .. ".") end
  return handler(ctx)
end

-- handle(req) -> status, headers, body, for the server. env: { store,
-- tokens, consent (the Consent UI's pages), base (the mock's own URL) }.
function M.handler(env)
  return function(req)
    local query = wire.form_decode(req.query)
    local host = req.headers.host
    local base = host and host:match("^[%w%.%-%[%]:]+$") and ("http://" .. host) or env.base
    local ctx = { req = req, query = query, store = env.store, tokens = env.tokens, base = base, env = env }
    local ok, status, data, headers = pcall(function()
      local page = env.consent.page(ctx)
      if page then return page end
      local r, params = match(req.method, req.path)
      if not r then
        refuse("resource-not-found", params and "The mock has no " .. req.method .. " on this path."
          or "No such path on the mock (it serves Basiq's API v3 operations).")
      end
      ctx.params, ctx.name = params, r.name
      return call(ctx, r)
    end)
    if ok then
      if type(status) == "table" then return status.status, status.headers, status.body end -- a page
      return json_answer(status, data, headers)
    end
    if refusals.is_refusal(status) then return refusals.of(status) end
    error(status, 0)
  end
end

return M
