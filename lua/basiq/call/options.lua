-- The client's settings: basiq.config{...} and basiq.new{...} options,
-- each checked, and the server URL. A mistake raises naming the function
-- and the option; nothing here sends anything.
local errors = require("basiq.shared.errors")
local guard = require("basiq.call.guard")
local values = require("basiq.shared.values")
local transport = require("basiq.transport")
local observe = require("basiq.call.observe")
local strict = require("basiq.shared.strict")

local M = {}

local OPTIONS = { -- option -> kind of value
  timeout = "ms", attemptTimeout = "ms", connectTimeout = "ms", maxBodySize = "bytes", caFile = "string",
  retries = "count", retryDelay = "ms", retryMaxDelay = "ms", allowInsecureHttp = "boolean",
  transport = "transport", observe = "function", debug = "boolean", tokenStore = "store",
  consentServer = "url", -- the Consent UI's base URL (consent.lua has the default)
}

-- Timeouts of a call's first attempt, which has the whole budget, and
-- whether requests carry a body cap or a CA file: worked out once per
-- setting, not per call.
local function first_attempt(state)
  state.first_timeout = math.min(state.attemptTimeout or state.timeout, state.timeout)
  state.first_connect = math.min(state.connectTimeout, state.timeout)
  state.caps = state.maxBodySize ~= nil or state.caFile ~= nil -- a request carries them
end

local NAMES = { "apiKey", "auth", "server" } -- every option's name, for the nearest to a typo
for name in pairs(OPTIONS) do NAMES[#NAMES + 1] = name end

-- The defaults: a client's first settings, and what an option given false
-- takes back (those not here: none, so observe = false removes the observer).
local DEFAULTS = { timeout = 60000, connectTimeout = 10000, retries = 2, retryDelay = 100, retryMaxDelay = 2000 }

-- Settings a new client starts with.
function M.defaults()
  local state = {}
  for k, v in pairs(DEFAULTS) do state[k] = v end
  first_attempt(state)
  observe.configure(state) -- BASIQ_DEBUG=1 logs every client's events
  return state
end

local function fail(who, fmt, ...)
  errors.raise(string.format("basiq.%s: " .. fmt, who, ...))
end

-- A base URL for basiq.server() or the server option, without trailing slashes.
function M.server(who, url)
  return guard.base_url(url) or fail(who, "server must be an http:// or https:// URL")
end

-- Applies opts to state (server, auth and apiKey are the caller's). Returns
-- true when the transport or the token store changed (the caller starts a
-- fresh token store).
function M.apply(who, state, opts)
  local new_transport = false
  strict.options("basiq." .. who, opts, NAMES)
  for k, v in pairs(opts) do
    local kind = OPTIONS[k]
    if k == "server" then
      state.server = M.server(who, v)
    elseif k == "auth" or k == "apiKey" then -- luacheck: ignore 542
      -- the caller's
    elseif v == false and kind ~= "boolean" then -- the option's default again (observe = false: none)
      state[k] = kind == "transport" and transport.default() or DEFAULTS[k]
      new_transport = new_transport or kind == "transport" or kind == "store"
    elseif kind == "string" or kind == "boolean" or kind == "function" then
      if type(v) ~= kind then fail(who, "option '%s' must be a %s", k, kind) end
      state[k] = v
    elseif kind == "url" then
      state[k] = guard.base_url(v) or fail(who, "option '%s' must be an http:// or https:// URL", k)
    elseif kind == "count" then
      if not values.integer(v, 0, 10) then fail(who, "option '%s' must be an integer from 0 to 10", k) end
      state[k] = v
    elseif kind == "transport" then
      state.transport = transport.resolve(who, v)
      new_transport = true
    elseif kind == "store" then
      for _, m in ipairs({ "get", "set", "drop", "lock", "unlock" }) do
        if type(v) ~= "table" or type(v[m]) ~= "function" then
          fail(who, "option 'tokenStore' must be a table with get, set, drop, lock and unlock")
        end
      end
      state.tokenStore = v
      new_transport = true -- a fresh store, behind this one
    else
      if not values.positive(v) then fail(who, "option '%s' must be a positive number", k) end
      -- a timeout under 1 ms would become none at all in libcurl and nginx
      if kind == "ms" and v < 1 then fail(who, "option '%s' is in milliseconds: at least 1", k) end
      state[k] = v
    end
  end
  state.routes = {}
  first_attempt(state)
  observe.configure(state)
  return new_transport
end

return M
