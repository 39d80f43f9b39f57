-- A Basiq client: its state, and the functions users call on it with a
-- dot (client.getUser{...}). Each is a thin wrapper over the module that
-- does the job; this module exports only new().
local errors = require("basiq.errors")
local options = require("basiq.options")
local credentials = require("basiq.credentials")
local operations = require("basiq.operations")
local transport = require("basiq.transport")
local engine = require("basiq.engine")
local route = require("basiq.route")
local token = require("basiq.token")
local values = require("basiq.values")

local setmetatable, type = setmetatable, type

local M = {}

-- A new token store from the transport (nginx shares one across workers).
local function fresh_store(state)
  state.store = (state.transport.store or token.memory_store)()
end

local function find(state, who, name)
  local op, server = operations.find(state, name)
  if not op then errors.raise("basiq." .. who .. ": unknown operation '" .. values.shown(tostring(name)) .. "'") end
  return op, server
end

function M.new(opts, target)
  if opts ~= nil and type(opts) ~= "table" then errors.raise("basiq.new: options must be a table") end
  local state = options.defaults()
  state.loaded, state.routes, state.secrets, state.issued = {}, {}, {}, {}
  state.transport = transport.default()
  fresh_store(state)
  local client = target or {}
  local helpers = {} -- the functions defined below (and _VERSION): never operations
  local fns = {}     -- name -> the operation's function, made on first use

  -- The function for an operation name, or nil when there is none.
  local function operation(name)
    local fn = fns[name]
    if fn then return fn end
    local op, server = operations.find(state, name)
    if not op then return nil end
    fn = engine.bind(state, name, op, server)
    fns[name] = fn
    return fn
  end

  local function set_credential(who, value, apikey)
    if credentials.set(state, who, value, apikey) then fresh_store(state) end
    state.routes = {}
  end

  function client.auth(value)
    set_credential("auth", value, false)
    return client
  end

  -- A CLIENT_ACCESS token bound to userId (for Basiq's Consent UI), cached
  -- per user and renewed like the server token: token | nil, err.
  function client.clientToken(userId)
    if type(userId) ~= "string" or userId == "" or userId:find("[%c]") then
      errors.raise("basiq.clientToken: userId must be a non-empty string")
    end
    if not state.apikey then
      errors.raise("basiq.clientToken: needs an API key: basiq.auth(\"Basic <key>\") or basiq.new{ apiKey = ... }")
    end
    local op, server = operations.find(state, "postToken")
    route.check(route.of(state, "postToken", op, server), "clientToken") -- the API key goes out: never over plain http
    -- before token.get, whose wait for another renewal could not sleep here
    local perr = engine.unusable(state, "clientToken")
    if perr then return nil, perr end
    return engine.client_token(state, userId)
  end

  function client.server(url)
    state.server = options.server("server", url)
    state.routes = {}
    return client
  end

  function client.config(o)
    if type(o) ~= "table" then errors.raise("basiq.config: options must be a table") end
    if o.server ~= nil or o.auth ~= nil or o.apiKey ~= nil then
      errors.raise("basiq.config: use basiq.server() and basiq.auth()")
    end
    if options.apply("config", state, o) then fresh_store(state) end
    return client
  end

  -- Adds every operation of another definition to this client: count,
  -- replaced names | nil, err (basiq/load.lua).
  function client.load(source)
    return require("basiq.load").add(state, source, function(name)
      fns[name] = nil -- forget the function made for the name's old operation
      if not helpers[name] then rawset(client, name, nil) end
    end)
  end

  -- Any operation by name, for names that are not valid Lua identifiers.
  function client.call(name, ...)
    local fn = operation(name)
    if not fn then find(state, "call", name) end -- raises: no such operation
    return fn(...)
  end

  -- for res, err in basiq.paginate("getTransactions", { userId = id }) do ...
  function client.paginate(name, ...)
    local op, server = find(state, "paginate", name)
    local a, b = ...
    return require("basiq.paginate").pages(state, name, op, server, a, b, select("#", ...))
  end

  -- Polls getJobs until every step succeeded (res), one failed or an MFA
  -- step waits for an answer (nil, err); see basiq/jobs.lua.
  function client.waitForJob(jobId, wait_opts)
    return require("basiq.jobs").wait(client, state.transport, jobId, wait_opts)
  end

  -- results, errors = basiq.batch({ { "getUser", { userId = a } }, ... }, { concurrency = 16 })
  function client.batch(calls, batch_opts)
    return require("basiq.batch").run(state, calls, batch_opts)
  end

  client.webhook = require("basiq.webhook")  -- basiq.webhook.verify(secret, headers, rawBody, opts)
  client.filter = require("basiq.filter").build -- basiq.filter{ ["account.id"] = id, ... }
  function client.new(o) return M.new(o) end

  -- Frees the connections now rather than at garbage collection.
  function client.close()
    if state.transport.close then state.transport:close() end
  end

  for k in pairs(client) do helpers[k] = true end

  if opts then
    if options.apply("new", state, opts) then fresh_store(state) end
    if opts.auth ~= nil and opts.apiKey ~= nil then errors.raise("basiq.new: give auth or apiKey, not both") end
    if opts.auth ~= nil then set_credential("new", opts.auth, false) end
    if opts.apiKey ~= nil then set_credential("new", opts.apiKey, true) end
  end

  return setmetatable(client, {
    __index = function(t, name)
      local fn = operation(name)
      if fn then rawset(t, name, fn) end
      return fn
    end,
    __tostring = function()
      -- without any user:password@ in the URL
      return "basiq client (" .. route.base(state):gsub("//[^/]*@", "//") .. ")"
    end,
    __name = "basiq.client",
  })
end

return M
