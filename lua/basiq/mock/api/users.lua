-- The mock's users and what belongs to a user alone: create, read, update,
-- delete; auth links; consents. Answers are shaped by Basiq's definitions;
-- a user keeps exactly the fields it was sent, never a made-up one.
-- Deleting a user forgets everything hanging off it.
local Store = require("basiq.mock.store")
local fixtures = require("basiq.mock.fixtures")
local refuse = require("basiq.mock.refusals").refuse

local iso = Store.iso

local M = { handlers = {} }
local H = M.handlers

local FIELDS = { "email", "mobile", "firstName", "middleName", "lastName", "businessName", "businessIdNo",
  "businessIdNoType", "businessAddress", "verificationStatus", "verificationDate" }

-- The fault scenario an email asks for: gavin+429@... or gavin+503x3@...
-- -> { status, left } or nil.
function M.faults_of(email)
  local status, times = tostring(email or ""):match("%+(%d%d%d)x?(%d*)@")
  status = tonumber(status)
  if status ~= 429 and status ~= 503 then return nil end
  return { status = status, left = tonumber(times) or 1 }
end

local function user_path(u) return "/users/" .. u.id end

-- Basiq answers with emails in email format: the mock takes no other.
function M.check_email(email)
  if email ~= nil and email ~= "" and not email:find("^[^@%s]+@[^@%s]+%.[^@%s]+$") then
    refuse("parameter-not-valid", "email is not an email address.", "email")
  end
end

-- createUser's and updateUser's answer: the user as sent.
local function brief(ctx, u)
  local out = { type = "user", id = u.id, links = { self = ctx.base .. user_path(u) } }
  for _, k in ipairs(FIELDS) do out[k] = u[k] end
  out.mobile = u.mobile or ""
  return out
end

local function list_of(ctx, ids, kind, path)
  local data = {}
  for _, id in ipairs(ids) do
    data[#data + 1] = { type = kind, id = id, links = { self = ctx.base .. path .. id } }
  end
  return { type = "list", count = #data, data = data }
end

-- getUser's answer, with the lists of the user's accounts and connections.
function M.view(ctx, u)
  local out = brief(ctx, u)
  local base = ctx.base .. user_path(u)
  local accounts = {}
  for _, cid in ipairs(u.connections) do
    for _, aid in ipairs(ctx.store.connections[cid].accounts) do accounts[#accounts + 1] = aid end
  end
  out.accounts = list_of(ctx, accounts, "account", user_path(u) .. "/accounts/")
  out.connections = list_of(ctx, u.connections, "connection", user_path(u) .. "/connections/")
  out.email = u.email or ""
  out.firstName, out.middleName, out.lastName = u.firstName or "", u.middleName or "", u.lastName or ""
  local parts = {}
  for _, k in ipairs({ "firstName", "middleName", "lastName" }) do
    if u[k] and u[k] ~= "" then parts[#parts + 1] = u[k] end
  end
  out.name = table.concat(parts, " ")
  out.links = { self = base, accounts = base .. "/accounts", connections = base .. "/connections",
    transactions = base .. "/transactions", auth_link = base .. "/auth_link" }
  return out
end

function H.createUser(ctx)
  local b = ctx.body
  if (b.email == nil or b.email == "") and (b.mobile == nil or b.mobile == "") then
    refuse("parameter-not-supplied", "A user needs an email or a mobile.", "email")
  end
  M.check_email(b.email)
  local u = { id = Store.uuid(), created = os.time(), connections = {}, transactions = {}, consents = {}, jobs = {},
    faults = M.faults_of(b.email) }
  for _, k in ipairs(FIELDS) do u[k] = b[k] end
  ctx.store.users[u.id] = u
  ctx.store:emit("user.created", u.id, user_path(u))
  return 201, brief(ctx, u)
end

function H.getUser(ctx)
  return 200, M.view(ctx, ctx.store.users[ctx.params.userId])
end

function H.updateUser(ctx)
  local u = ctx.store.users[ctx.params.userId]
  M.check_email(ctx.body.email)
  for _, k in ipairs(FIELDS) do
    if ctx.body[k] ~= nil then u[k] = ctx.body[k] end
  end
  if ctx.body.email ~= nil then u.faults = M.faults_of(u.email) end
  ctx.store:emit("user.updated", u.id, user_path(u))
  return 200, brief(ctx, u)
end

function H.deleteUser(ctx)
  local store, u = ctx.store, ctx.store.users[ctx.params.userId]
  for _, cid in ipairs(u.connections) do
    for _, aid in ipairs(store.connections[cid].accounts) do store.accounts[aid] = nil end
    store.connections[cid] = nil
  end
  for _, jid in ipairs(u.jobs) do store.jobs[jid] = nil end
  for id, s in pairs(store.snapshots) do
    if s.user == u.id then store.snapshots[id] = nil end
  end
  store.users[u.id] = nil
  store:emit("user.deleted", u.id, user_path(u))
  return 204
end

-- Auth links: one per user at a time, living an hour.
local function auth_link_view(ctx, u, with_id)
  local l = u.auth_link
  local out = { type = "auth_link", userId = u.id, mobile = l.mobile, expiresAt = iso(l.expires),
    links = { public = ctx.base .. "/auth_link/" .. l.id, self = ctx.base .. user_path(u) .. "/auth_link" } }
  if with_id then out.id = l.id end
  return out
end

function H.postAuthLink(ctx)
  local u = ctx.store.users[ctx.params.userId]
  local mobile = ctx.body and ctx.body.mobile or u.mobile
  if not mobile or mobile == "" then
    refuse("parameter-not-supplied", "An auth link needs the user's mobile (in the body or on the user).", "mobile")
  end
  u.auth_link = { id = Store.uuid(), mobile = mobile, expires = os.time() + 3600 }
  return 201, auth_link_view(ctx, u, false)
end

function H.getAuthLink(ctx)
  local u = ctx.store.users[ctx.params.userId]
  if not u.auth_link then refuse("resource-not-found", "This user has no auth link.") end
  if u.auth_link.expires <= os.time() then refuse("resource-no-longer-available", "This auth link has expired.") end
  return 200, auth_link_view(ctx, u, true)
end

function H.deleteAuthLink(ctx)
  local u = ctx.store.users[ctx.params.userId]
  if not u.auth_link then refuse("resource-not-found", "This user has no auth link.") end
  u.auth_link = nil
  return 204
end

-- Consents: given through the Consent UI (consent.lua), revoked here.
function M.consent_for(store, u)
  for _, c in ipairs(u.consents) do
    if c.status == "active" then return c end
  end
  local t = os.time()
  local c = { id = Store.uuid(), created = t, updated = t, expires = t + fixtures.CONSENT.days * 86400, status = "active" }
  table.insert(u.consents, c)
  store:emit("consent.created", u.id, user_path(u) .. "/consents/" .. c.id)
  return c
end

local function consent_view(ctx, u, c)
  local perms = {}
  for _, p in ipairs(fixtures.CONSENT.permissions) do
    perms[#perms + 1] = { scope = p.scope, entity = p.entity, required = true, consented = true,
      information = { name = p.name, description = p.description, attributeList = p.attributes },
      purpose = { title = fixtures.CONSENT.purpose.title, description = fixtures.CONSENT.purpose.description } }
  end
  local self = ctx.base .. user_path(u) .. "/consents/" .. c.id
  local out = { type = "consent", id = c.id, created = iso(c.created), updated = iso(c.updated),
    expiryDate = iso(c.expires), status = c.status, origin = "mock",
    purpose = { primary = { title = fixtures.CONSENT.purpose.title, description = fixtures.CONSENT.purpose.description } },
    data = { retainData = false, initialRetrievalDays = 365, permissions = perms },
    links = { self = self, consentPolicy = ctx.base .. "/consent/policy", latestConsentPolicy = ctx.base .. "/consent/policy" } }
  if c.revoked then out.revoked = iso(c.revoked) end
  return out
end

function H.getConsents(ctx)
  local u = ctx.store.users[ctx.params.userId]
  local data = {}
  for _, c in ipairs(u.consents) do data[#data + 1] = consent_view(ctx, u, c) end
  return 200, { type = "list", size = #data, data = data, links = { self = ctx.base .. user_path(u) .. "/consents" } }
end

function H.deleteConsent(ctx)
  local u = ctx.store.users[ctx.params.userId]
  for _, c in ipairs(u.consents) do
    if c.id == ctx.params.consentId and c.status == "active" then
      c.status, c.revoked, c.updated = "revoked", os.time(), os.time()
      ctx.store:emit("consent.revoked", u.id, user_path(u) .. "/consents/" .. c.id)
      return 204
    end
  end
  refuse("resource-not-found", "This user has no active consent with this id.", "consentId")
end

return M
