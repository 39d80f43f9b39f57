-- A Basiq client: its state, and the functions users call on it with a
-- dot (client.getUser{...}). Each is a thin wrapper over the module that
-- does the job; this module exports only new().
local errors = require("basiq.shared.errors")
local options = require("basiq.call.options")
local credentials = require("basiq.call.credentials")
local operations = require("basiq.call.operations")
local transport = require("basiq.transport")
local engine = require("basiq.call.engine")
local route = require("basiq.call.route")
local request = require("basiq.call.request")
local token = require("basiq.call.token")
local observe = require("basiq.call.observe")
local values = require("basiq.shared.values")
local suggest = require("basiq.shared.suggest")
local strict = require("basiq.shared.strict")
local index = require("basiq.ops.index")

local setmetatable, type = setmetatable, type

local M = {}

-- A fresh token store: the transport's own (nginx shares one across
-- workers), behind the user's tokenStore when there is one (basiq.redisStore
-- shares one across hosts), which it stands in for while that one fails.
local function fresh_store(state)
  local t = state.transport
  local function now() return t.now() end
  local own = t.store and t.store() or token.memory_store(now)
  state.store = state.tokenStore and token.resilient(state.tokenStore, own, now, function(what, err)
    observe.store(state, what, err, "token")
  end) or own
end

local function find(state, who, name)
  local op, server = operations.find(state, name)
  if not op then
    errors.raise("basiq." .. who .. ": unknown operation '" .. values.shown(tostring(name)) .. "'"
      .. operations.hint(state, tostring(name)))
  end
  return op, server
end

function M.new(opts, target)
  if opts ~= nil and type(opts) ~= "table" then errors.raise("basiq.new: options must be a table") end
  local state = options.defaults()
  state.loaded, state.routes, state.secrets, state.issued = {}, {}, {}, {}
  state.transport = transport.default()
  fresh_store(state)
  local client = target or {}
  state.client = client -- a call given it first was written with a colon (basiq:getUser{})
  observe.attach(client, state) -- events from outside its calls (basiq.webhook.receive's)
  local helpers = {} -- the functions defined below (and _VERSION): never operations
  local fns = {}     -- name -> the operation's function, made on first use

  -- The function for an operation name, or nil when there is none (each
  -- API's table is only read on the operation's first call).
  local function operation(name)
    local fn = fns[name]
    if fn then return fn end
    if not (state.loaded[name] or index[name]) then return nil end
    fn = engine.bind(state, name)
    fns[name] = fn
    return fn
  end

  -- A read of a name the client does not have: a typo, said with the
  -- nearest name the client does have.
  local function no_such(name)
    local names = {}
    for k in pairs(client) do if type(k) == "string" then names[#names + 1] = k end end
    for k in pairs(state.loaded) do names[#names + 1] = k end -- those only call() reaches
    errors.raise("basiq: no operation '" .. values.shown(name) .. "'" .. suggest.hint(name, names))
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
    local tok, err = engine.client_token(state, userId, nil, "clientToken")
    if not tok then return nil, err end
    return tok
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
    return require("basiq.definitions.load").add(state, source, function(name)
      fns[name] = nil -- forget the function made for the name's old operation
      if not helpers[name] then rawset(client, name, operation(name)) end
    end)
  end

  -- Any operation by name, for names that are not valid Lua identifiers.
  function client.call(name, ...)
    local fn = operation(name)
    if not fn then find(state, "call", name) end -- raises: no such operation
    return fn(...)
  end

  -- for res, err in basiq.paginate("getTransactions", { userId = id }) do ...
  function client.paginate(name, a, b)
    local op, server = find(state, "paginate", name)
    return require("basiq.paginate").pages(state, name, op, server, a, b, request.count(a, b))
  end

  -- GET a link from an answer or an event (links.eventEntity): res | nil,
  -- err; refused unless it is on the client's own server.
  function client.follow(link)
    return require("basiq.follow").get(state, link)
  end

  -- Polls getJobs until every step succeeded (res), one failed or an MFA
  -- step waits for an answer (nil, err); see basiq/jobs.lua.
  function client.waitForJob(jobId, wait_opts)
    return require("basiq.jobs").wait(client, state.transport, jobId, wait_opts)
  end

  -- results, errors by job id: many jobs (a Consent UI redirect's) at once.
  function client.waitForJobs(jobIds, wait_opts)
    return require("basiq.jobs").wait_all(client, state, jobIds, wait_opts)
  end

  -- The Consent UI's address for userId, with a CLIENT_ACCESS token in it:
  -- url, state | nil, err (basiq/consent.lua).
  function client.consentUrl(userId, consent_opts)
    return require("basiq.consent").url(state, userId, consent_opts)
  end

  -- The redirect back from the Consent UI: jobIds | nil, err (err.code
  -- "state" when its state is not the one kept for the visit).
  function client.consentReturn(query, expectedState)
    return require("basiq.consent").returned(query, expectedState)
  end

  -- results, errors = basiq.batch({ { "getUser", { userId = a } }, ... }, { concurrency = 16 })
  function client.batch(calls, batch_opts)
    return require("basiq.batch").run(state, calls, batch_opts)
  end

  -- Inside nginx: calls in flight, calls that waited for a connection, and
  -- the longest wait; for this worker and all of them.
  function client.stats()
    local t = state.transport
    if not t.stats then
      return nil, errors.new("stats", "basiq.stats: only the nginx transport counts calls (this client's is not it)")
    end
    return t.stats()
  end

  -- In init_by_lua: raises, naming the nginx.conf line, when one that the
  -- features need is missing (basiq.checkNginx{ "tokens", "webhooks" }).
  function client.checkNginx(features) return require("basiq.transport.ngx_check").check(features) end

  -- A token store in Redis that a fleet shares: basiq.new{ tokenStore = basiq.redisStore{ ... } }.
  function client.redisStore(store_opts) return require("basiq.redis.token_store").new(store_opts) end

  client.webhook = require("basiq.webhook")  -- basiq.webhook.verify(secret, headers, rawBody, opts)
  client.filter = require("basiq.filter").build -- basiq.filter{ ["account.id"] = id, ... }
  function client.new(o) return M.new(o) end

  -- Frees the connections now rather than at garbage collection.
  function client.close()
    if state.transport.close then state.transport:close() end
  end

  -- basiq:config{...} would pass the client as the options: said as it is
  for k, f in pairs(client) do
    if type(f) == "function" then client[k] = strict.dotted("basiq." .. k, f, client) end
  end
  for k in pairs(client) do helpers[k] = true end
  -- every operation is a field from the start, so rawget(basiq, "getUser")
  -- is a feature test and pairs() lists them
  for name in pairs(index) do
    if not helpers[name] then client[name] = operation(name) end
  end

  if opts then
    if options.apply("new", state, opts) then fresh_store(state) end
    if opts.auth ~= nil and opts.apiKey ~= nil then errors.raise("basiq.new: give auth or apiKey, not both") end
    if opts.auth ~= nil then set_credential("new", opts.auth, false) end
    if opts.apiKey ~= nil then set_credential("new", opts.apiKey, true) end
  end

  return setmetatable(client, {
    -- Any other name is a typo: reading it raises, at the caller's line.
    -- Keys that are not plain names (numbers, "_x", "__x") read as nil, so
    -- tools that probe tables keep working.
    __index = function(_, name)
      if type(name) == "string" and name:find("^%a[%w_]*$") then no_such(name) end
      return nil
    end,
    __tostring = function()
      -- without any user:password@ in the URL
      return "basiq client (" .. route.base(state):gsub("//[^/]*@", "//") .. ")"
    end,
    __name = "basiq.client",
  })
end

return M
