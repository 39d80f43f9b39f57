-- What calls of one operation take from the client's settings, worked out
-- once per operation and setting (state.routes is emptied whenever
-- server, auth, config or load changes): the base URL, automatic tokens,
-- whether a failed attempt may be repeated, the credential's header, and
-- whether credentials would cross plain http to a host other than loopback.
local guard = require("basiq.call.guard")
local errors = require("basiq.shared.errors")
local credentials = require("basiq.call.credentials")
local operations = require("basiq.call.operations")
local request = require("basiq.call.request")

local M = {}

M.DEFAULT_SERVER = "https://au-api.basiq.io"
local SAFE_METHOD = { GET = true, DELETE = true, HEAD = true } -- repeatable after a failure

-- The base URL a call of an operation defined on server goes to.
function M.base(state, server)
  return state.server or server or M.DEFAULT_SERVER
end

function M.of(state, name, op, server)
  local r = state.routes[op]
  if r then return r end
  local scheme = op.security[1]
  local base = M.base(state, server)
  local plan = request.plan(op)
  r = {
    plan = plan,
    fast = plan.fast,
    base = base,
    prefix = base .. plan.segs[1], -- a fast-path URL's head
    auto = state.apikey ~= nil and scheme ~= nil and scheme.kind == "bearer",
    safe = SAFE_METHOD[op.method] or name == "postToken",
    insecure = state.credential ~= nil and scheme ~= nil and not state.allowInsecureHttp and guard.insecure(base),
    -- it needs a credential and auth() has given none: Basiq would only say 401
    uncredentialed = state.credential == nil and scheme ~= nil and not op.security.optional or nil,
  }
  if r.auto then
    -- its tokens come from postToken with the API key, perhaps from another
    -- server (a loaded document may define postToken)
    local _, token_server = operations.find(state, "postToken")
    r.insecure = r.insecure or not state.allowInsecureHttp and guard.insecure(M.base(state, token_server))
    r.fast = false -- its header list changes with the token: the general path
  else
    r.line, r.query = credentials.line(state, scheme)
    -- a fast-path call's whole header list, shared by every such call
    r.lines = { plan.accept_header }
    r.lines[#r.lines + 1] = r.line
    r.fast = r.fast and not r.query
  end
  r.refuse = r.insecure or r.uncredentialed -- what check() raises for: the call path tests only this
  state.routes[op] = r
  return r
end

-- Raises when a call along r would carry credentials over plain http, or
-- needs one and has none (who: "getUser", "batch: call 3", ...).
function M.check(r, who)
  if r.uncredentialed then
    errors.raise("basiq." .. who .. ": no credential: call basiq.auth(\"Basic \" .. apiKey) first"
      .. " (or basiq.new{ apiKey = apiKey }); with a token: basiq.auth(token)")
  end
  if r.insecure then
    errors.raise("basiq." .. who .. ": refusing to send credentials over plain http to a host other than loopback;"
      .. " use https, or basiq.config{ allowInsecureHttp = true }")
  end
  return r
end

return M
