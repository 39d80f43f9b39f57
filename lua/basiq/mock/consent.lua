-- The mock's Consent UI: GET /home?token=...&action=...&state=...
-- &institutionId=...&connectionId=... at the mock's root, as Basiq's is
-- at consent.basiq.io. It checks the token (a live CLIENT_ACCESS token
-- bound to a user), plays the person's part at once, and answers 302 to
-- the app's redirect URL with jobIds and the state as given. Its pages
-- never show the token.
local data = require("basiq.mock.api.data")
local jobs = require("basiq.mock.api.jobs")
local users = require("basiq.mock.api.users")
local fixtures = require("basiq.mock.fixtures")
local refusals = require("basiq.mock.refusals")
local core = require("basiq.shared.lazy")

local M = {}

-- The actions Basiq's Consent UI documents ("null": none, as its docs write it).
M.ACTIONS = { connect = true, manage = true, update = true, null = true }

local function html_escape(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

local function page(status, title, lines, headers)
  local h = headers or {}
  h["Content-Type"] = "text/html; charset=utf-8"
  h["Cache-Control"] = "no-store"
  local body = { "<!doctype html><html><head><title>", html_escape(title), "</title></head><body><h1>",
    html_escape(title), "</h1>" }
  for _, l in ipairs(lines) do body[#body + 1] = "<p>" .. html_escape(l) .. "</p>" end
  body[#body + 1] = "</body></html>\n"
  return { status = status, headers = h, body = table.concat(body) }
end

-- The user behind the Consent UI's token, or a page saying why not.
local function user_of(ctx)
  local tokens, q = ctx.tokens, ctx.query
  local rec = tokens:lookup(q.token)
  if not q.token or q.token == "" then return nil, page(401, "No token", { "The Consent UI needs ?token=<CLIENT_ACCESS token>." }) end
  if not rec then return nil, page(401, "Invalid token", { "This token is not one the mock issued, or it was forgotten." }) end
  local ok, err = pcall(tokens.alive, rec, "CLIENT_ACCESS")
  if not ok then
    if refusals.is_refusal(err) then return nil, page(403, "Token refused", { err.detail }) end
    error(err, 0)
  end
  if rec.scope ~= "CLIENT_ACCESS" then
    return nil, page(403, "Wrong token", { "The Consent UI takes a CLIENT_ACCESS token, not a SERVER_ACCESS one." })
  end
  if not rec.user then
    return nil, page(403, "Token not bound", { "The Consent UI takes a CLIENT_ACCESS token bound to a user (userId)." })
  end
  local u = ctx.store.users[rec.user]
  if not u then return nil, page(404, "No such user", { "The token's user was deleted." }) end
  return u
end

local function home(ctx)
  local q, store = ctx.query, ctx.store
  local u, refused = user_of(ctx)
  if not u then return refused end
  local action = q.action
  if action == "" then action = nil end
  if action and not M.ACTIONS[action] then
    return page(400, "Unknown action", { "action must be one of connect, manage, update (or none); not " .. action .. "." })
  end
  local job_ids = {}
  if q.connectionId and q.connectionId ~= "" then
    local conn = store.connections[q.connectionId]
    if not conn or conn.user ~= u.id then return page(404, "No such connection", { "connectionId is not this user's." }) end
    users.consent_for(store, u)
    job_ids[1] = jobs.start(store, u, conn, data.work).id
  elseif action == "update" then
    local c = users.consent_for(store, u)
    c.expires, c.updated = os.time() + fixtures.CONSENT.days * 86400, os.time()
  elseif action ~= "manage" then -- manage: the person reviews their consent, nothing to connect
    local wanted = {}
    for id in (q.institutionId and q.institutionId ~= "" and q.institutionId or fixtures.DEFAULT_INSTITUTION):gmatch("[^,%s]+") do
      if not fixtures.BY_ID[id] then
        return page(400, "Unknown institution", { id .. " is not one of the mock's institutions (see the README)." })
      end
      wanted[#wanted + 1] = id
    end
    users.consent_for(store, u)
    for _, id in ipairs(wanted) do job_ids[#job_ids + 1] = data.connect_and_start(store, u, id).id end
  end
  local target = ctx.env.redirect or (ctx.env.base .. "/consent/done")
  local params = {}
  if #job_ids > 0 then params[#params + 1] = "jobIds=" .. table.concat(job_ids, ",") end
  if q.state then params[#params + 1] = "state=" .. core.escape(q.state) end
  local url = target
  if #params > 0 then url = url .. (url:find("?", 1, true) and "&" or "?") .. table.concat(params, "&") end
  return page(302, "Redirecting", { "Back to the app." }, { Location = url })
end

-- The redirect's default landing page: what the app would have been given.
local function done(ctx)
  local lines = { "The Consent UI sent the person back with:" }
  for _, k in ipairs({ "jobIds", "state" }) do
    if ctx.query[k] then lines[#lines + 1] = k .. " = " .. ctx.query[k] end
  end
  return page(200, "Consent done", lines)
end

local function auth_link(ctx, id)
  for _, u in pairs(ctx.store.users) do
    if u.auth_link and u.auth_link.id == id then
      return page(200, "Auth link", { "An auth link of the mock, for a user's mobile: open the Consent UI with a client token." })
    end
  end
  return page(404, "No such auth link", { "This auth link does not exist, or was deleted." })
end

-- The page for a request, or nil when it is an API call.
function M.page(ctx)
  local req = ctx.req
  if req.method ~= "GET" then return nil end
  if req.path == "/home" then return home(ctx) end
  if req.path == "/consent/done" then return done(ctx) end
  local id = req.path:match("^/auth_link/([%w%-]+)$")
  if id then return auth_link(ctx, id) end
  return nil
end

return M
