-- basiq.consentUrl and basiq.consentReturn: the two ends of Basiq's hosted
-- Consent UI. The URL carries a CLIENT_ACCESS token, so it is a secret: it
-- never goes into an error, a log line or an event. Neither does a state.
local core = require("basiq.shared.lazy")
local errors = require("basiq.shared.errors")
local values = require("basiq.shared.values")
local suggest = require("basiq.shared.suggest")
local strict = require("basiq.shared.strict")
local guard = require("basiq.call.guard")
local engine = require("basiq.call.engine")
local jobs = require("basiq.jobs")

local M = {}

M.DEFAULT_SERVER = "https://consent.basiq.io"

-- The Consent UI's flows (Basiq's "Consent Actions"); none is its default,
-- creating a consent.
local ACTIONS = { "connect", "manage", "extend", "update", "reauthorise" }
local IS_ACTION = {}
for _, a in ipairs(ACTIONS) do IS_ACTION[a] = true end

local OPTIONS = { "action", "state", "institutionId", "connectionId", "minLife" }

-- The least life the token in a URL has when it is handed out, in seconds.
-- Basiq's tokens live an hour: renewing the cached one once less than half
-- of that is left gives each person at least 30 minutes on the Consent UI
-- (a bank's login, an MFA code and a second institution fit with room to
-- spare), while a token serves every URL made in its first half hour.
M.MIN_LIFE = 1800

local STATE_BYTES = 32 -- 256 bits from OpenSSL's generator (RAND_bytes)

local function fail(msg) errors.raise("basiq.consentUrl: " .. msg) end

local function text_option(opts, k)
  local v = opts[k]
  if v ~= nil and (type(v) ~= "string" or v == "") then fail("option '" .. k .. "' must be a non-empty string") end
  return v
end

-- A fresh state no one can guess: base64url, without padding.
local function fresh_state()
  return (core.b64encode(core.random(STATE_BYTES)):gsub("[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" }))
end

-- url, state | nil, err. state is nil unless opts.state asked for one.
function M.url(state, userId, opts)
  if opts ~= nil and type(opts) ~= "table" then fail("options must be a table") end
  opts = opts or {}
  strict.options("basiq.consentUrl", opts, OPTIONS)
  local action = opts.action
  if action ~= nil and not IS_ACTION[action] then
    fail("unknown action '" .. values.shown(tostring(action)) .. "'" .. suggest.hint(tostring(action), ACTIONS)
      .. "; the actions are " .. table.concat(ACTIONS, ", ") .. ", or none to create a consent")
  end
  local st = opts.state
  if st == true then
    st = fresh_state()
  elseif st ~= nil and (type(st) ~= "string" or st == "") then
    fail("option 'state' must be true (a fresh one) or a non-empty string")
  end
  local institutionId, connectionId = text_option(opts, "institutionId"), text_option(opts, "connectionId")
  local minLife = opts.minLife
  if minLife == nil then
    minLife = M.MIN_LIFE
  elseif not values.positive(minLife) then
    fail("option 'minLife' must be a positive number of seconds")
  end
  local base = state.consentServer or M.DEFAULT_SERVER
  if not state.allowInsecureHttp and guard.insecure(base) then
    fail("refusing to put a token in a plain-http URL to a host other than loopback;"
      .. " use https, or basiq.config{ allowInsecureHttp = true }")
  end

  local tok, err = engine.client_token(state, userId, minLife, "consentUrl")
  if not tok then return nil, err end
  local e = core.escape
  local parts = { base, "/home?token=", e(tok) }
  local function add(k, v)
    if v then parts[#parts + 1] = "&" .. k .. "=" .. e(v) end
  end
  add("action", action)
  add("state", st)
  add("institutionId", institutionId)
  add("connectionId", connectionId)
  return table.concat(parts), st
end

-- The redirect back ----------------------------------------------------

-- %XX and + (a space, as forms encode it) decoded.
local function unescape(s)
  return (s:gsub("%+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- A query string ("a=1&b=2", "?a=1", or a whole URL or path with one) as
-- name -> list of values.
local function parse(query)
  query = query:gsub("#.*$", "")
  local q = query:find("?", 1, true)
  if q then query = query:sub(q + 1) end
  local out = {}
  for pair in query:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k = unescape(k)
    local list = out[k] or {}
    out[k] = list
    list[#list + 1] = unescape(v)
  end
  return out
end

-- A decoded table (nginx's ngx.req.get_uri_args(): a string, true for a
-- name without a value, or a list for a name given twice) in parse's shape.
local function lists(args)
  local out = {}
  for k, v in pairs(args) do
    if type(k) == "string" then
      local list = {}
      for _, item in ipairs(type(v) == "table" and v or { v }) do
        list[#list + 1] = type(item) == "string" and item or ""
      end
      out[k] = list
    end
  end
  return out
end

local function refuse(code, msg)
  return nil, errors.new(code, "basiq.consentReturn: " .. msg)
end

local MAX_JOBS = 100 -- more than any one visit connects: a redirect with more was made up

-- jobIds (a list, perhaps empty) | nil, err. Basiq's redirect carries
-- jobIds=a,b,c (every connection made in the visit), perhaps jobId, and
-- the state it was given. expectedState: the state consentUrl returned,
-- kept in the person's session; nil (the session holds none) is refused
-- like a mismatch; false skips the check.
function M.returned(query, expected)
  local args
  if type(query) == "string" then
    args = parse(query)
  elseif type(query) == "table" then
    args = lists(query)
  else
    errors.raise("basiq.consentReturn: query must be the redirect's query string or a table of its arguments")
  end
  if expected ~= nil and expected ~= false and type(expected) ~= "string" then
    errors.raise("basiq.consentReturn: expectedState must be the state consentUrl returned (a string), or false")
  end

  if expected ~= false then
    local got = args.state
    if expected == nil or expected == "" then
      return refuse("state", "no state was kept for this visit (the person's session holds none), so the"
        .. " redirect cannot be trusted")
    elseif not got then
      return refuse("state", "the redirect carries no state")
    elseif #got > 1 then
      return refuse("state", "the redirect carries more than one state")
    elseif not core.equal(got[1], expected) then -- in constant time
      return refuse("state", "the redirect's state is not the one kept for this visit (a forged or stale redirect)")
    end
  end

  local ids, seen = {}, {}
  local function take(list)
    for _, value in ipairs(list or {}) do
      for id in value:gmatch("[^,]+") do
        id = id:match("^%s*(.-)%s*$")
        if id ~= "" and not seen[id] then
          if not jobs.valid_id(id) then
            return refuse("jobIds", "the redirect's jobIds hold '" .. values.shown(id) .. "', which is not a job id")
          end
          seen[id] = true
          ids[#ids + 1] = id
          if #ids > MAX_JOBS then
            return refuse("jobIds", "the redirect carries more than " .. MAX_JOBS .. " jobIds")
          end
        end
      end
    end
    return true
  end
  local ok, err = take(args.jobIds)
  if ok then ok, err = take(args.jobId) end -- a visit that ends on reauthorisation may name one too
  if not ok then return nil, err end
  return ids
end

return M
