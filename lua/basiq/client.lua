-- A Basiq client: configuration, credentials and a reused HTTP handle,
-- with one function per operation, called with a dot: client.getUser{...}.
local request = require("basiq.request")
local errors = require("basiq.errors")
local token = require("basiq.token")
local index = require("basiq.ops.index")
local cjson_safe = require("cjson.safe")
local core = require("basiq.lazy")

local json = cjson_safe.new()
local build = request.build
local function escape(s) return core.escape(s) end
local type, select, setmetatable, error = type, select, setmetatable, error
local min, random = math.min, math.random

local M = {}

local DEFAULT_SERVER = "https://au-api.basiq.io"
local OPTIONS = { -- config key -> check
  timeout = "ms", attemptTimeout = "ms", connectTimeout = "ms", maxBodySize = "bytes", caFile = "string",
  retries = "count", retryDelay = "ms", retryMaxDelay = "ms", allowInsecureHttp = "boolean",
  transport = "transport",
}
local RETRY_STATUS = { [429] = true, [502] = true, [503] = true, [504] = true }
local SAFE_METHOD = { GET = true, DELETE = true, HEAD = true } -- repeatable after a failure
-- failures another attempt may not meet (not a too-large body, TLS, a bad URL)
local RETRY_NET = { connect = true, resolve = true, timeout = true, send = true, recv = true, ["empty-reply"] = true }
local TOKEN_VERSION = { ["basiq-version"] = "3.0" }

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

-- The base URL a call goes to.
local function base_url(state, server)
  return state.server or server or DEFAULT_SERVER
end

-- A call's time budget ends here (transport seconds); and the clock
-- reading it was counted from.
local function deadline_of(state)
  local now = state.transport.now()
  return now + state.timeout / 1000, now
end

local SERVER_FORM = { scope = "SERVER_ACCESS" }

-- A new token store from the transport (nginx shares one across workers).
local function fresh_store(state)
  return (state.transport.store or token.memory_store)()
end

-- nil, or an error when the transport cannot run here (nginx phases).
local function phase_error(state, who)
  local unusable = state.transport.check and state.transport.check()
  if unusable then return errors.new("phase", "basiq." .. who .. ": " .. unusable) end
end

-- level: where the error points (the user's call), as for error()
local function check_server(who, url, level)
  if type(url) ~= "string" or not url:lower():match("^https?://[^/]") or url:find("[%c%s]") then
    error("basiq." .. who .. ": server must be an http:// or https:// URL",
      level)
  end
  return (url:gsub("/+$", ""))
end

local function set_options(who, state, opts, level)
  state.routes = {}
  for k, v in pairs(opts) do
    local kind = OPTIONS[k]
    if k == "server" then
      state.server = check_server(who, v, level + 1)
    elseif k == "auth" or k == "apiKey" then -- luacheck: ignore 542
      -- handled by the caller
    elseif not kind then
      error(string.format("basiq.%s: unknown option '%s'", who, tostring(k)), level)
    elseif kind == "string" or kind == "boolean" then
      if type(v) ~= kind then error(string.format("basiq.%s: option '%s' must be a %s", who, k, kind), level) end
      state[k] = v
    elseif kind == "count" then
      if type(v) ~= "number" or v < 0 or v > 10 or v % 1 ~= 0 then
        error(string.format("basiq.%s: option '%s' must be an integer from 0 to 10", who, k), level)
      end
      state[k] = v
    elseif kind == "transport" then
      state.transport = M.transport(who, v, level + 1)
      state.store = fresh_store(state)
    else
      if type(v) ~= "number" or v <= 0 or v ~= v or v == math.huge then
        error(string.format("basiq.%s: option '%s' must be a positive number", who, k), level)
      end
      state[k] = v
    end
  end
end

-- Where requests go. A transport is { request = fn(state, req) -> status,
-- headers, body | nil, msg, curlcode, sent; now = fn() -> seconds; sleep =
-- fn(seconds); store = fn() -> token store (optional) }.
local CURL = {
  name = "curl",
  now = function() return core.now() end,
  sleep = function(s) return core.sleep(s) end,
  request = function(state, req)
    local h = state.handle
    if not h then
      h = core.new()
      state.handle = h
    end
    return h:perform(req)
  end,
  -- many at once through curl's multi interface (basiq.core.multi)
  batch = function(state, reqs, concurrency)
    local m = state.multi
    if not m then
      m = core.multi()
      state.multi = m
    end
    return m:perform(reqs, concurrency)
  end,
}

-- Inside nginx a blocking libcurl call would stall the worker: basiq.ngx
-- provides the transport there (see its header for why it works as it does).
local function default_transport()
  if ngx ~= nil and type(ngx.get_phase) == "function" then return require("basiq.ngx").transport end
  return CURL
end

-- basiq.config{ transport = "curl" | "ngx" | table | function(req) }: a
-- function is the request step alone and keeps the libcurl clock.
function M.transport(who, v, level)
  if v == "curl" then return CURL end
  if v == "ngx" then return require("basiq.ngx").transport end
  if type(v) == "function" then
    return { name = "custom", now = CURL.now, sleep = CURL.sleep, request = function(_, req) return v(req) end }
  end
  if type(v) == "table" and type(v.request) == "function" then
    return { name = v.name or "custom", now = v.now or CURL.now, sleep = v.sleep or CURL.sleep,
             request = v.request, batch = v.batch, store = v.store, check = v.check }
  end
  error("basiq." .. who .. ": option 'transport' must be \"curl\", a function or a table with request()", level or 2)
end

-- Authorization for one operation, as the `api` SDK applies auth(): an
-- apiKey scheme gets the value as given, bearer gets "Bearer <value>".
local function apply_auth(state, op, req)
  local cred = state.credential
  local scheme = op.security[1]
  if not cred or not scheme then return end
  local line = cred.lines[scheme] -- the header line, made once per credential and scheme
  if line then
    req.headers[#req.headers + 1] = line
    return
  end
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
  line = name .. ": " .. value
  cred.lines[scheme] = line
  req.headers[#req.headers + 1] = line
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

-- 127.x.y.z with each part plain decimal up to 255: libcurl resolves
-- anything else (127.0.0.256, 127.0.0.09) as a name, which may lead anywhere.
local function loopback_v4(host)
  local b, c, d = host:match("^127%.(%d+)%.(%d+)%.(%d+)$")
  if not b then return false end
  for _, part in ipairs({ b, c, d }) do
    if not (part == "0" or part:find("^[1-9]%d?%d?$") and tonumber(part) <= 255) then return false end
  end
  return true
end

-- Credentials go over plain http only to loopback, unless the user opted in.
local insecure_cache, cached = {}, 0
local function insecure(url)
  local known = insecure_cache[url]
  if known ~= nil then return known end
  if cached >= 64 then insecure_cache, cached = {}, 0 end
  cached = cached + 1
  local host = url:match("^[Hh][Tt][Tt][Pp]://([^/?#]*)")
  if host then host = host:gsub("^.*@", ""):gsub(":%d*$", ""):lower() end
  known = host ~= nil and not (host == "localhost" or host == "[::1]" or loopback_v4(host))
    -- a loaded document's server is not checked like basiq.server(): libcurl
    -- reads "host:port" and "http:/host" as plain http too
    or host == nil and not url:find("^[Hh][Tt][Tt][Pp][Ss]://")
  insecure_cache[url] = known
  return known
end

-- What calls of op take from the client's settings, worked out once per
-- operation (state.routes is emptied whenever a setting changes): the base
-- URL, automatic tokens, whether a failed attempt may be repeated, and
-- whether credentials would cross plain http to a host other than loopback.
local function route_of(state, name, op, server)
  local scheme = op.security[1]
  local base = base_url(state, server)
  local r = {
    base = base,
    auto = state.apikey ~= nil and scheme ~= nil and scheme.kind == "bearer",
    safe = SAFE_METHOD[op.method] or name == "postToken",
    plain_http = state.credential ~= nil and scheme ~= nil and not state.allowInsecureHttp and insecure(base),
  }
  if r.auto and not state.allowInsecureHttp and not r.plain_http then
    -- its tokens come from postToken with the API key, perhaps from another
    -- server (a loaded document may define postToken)
    local _, token_server = find_op(state, "postToken")
    r.plain_http = insecure(base_url(state, token_server))
  end
  state.routes[op] = r
  return r
end

-- op's route; raises when the call would carry credentials over plain http
-- (who: "getUser", "batch: call 3", ...; level: as for error()).
local function route(state, name, op, server, who, level)
  local r = state.routes[op] or route_of(state, name, op, server)
  if r.plain_http then
    error("basiq." .. who .. ": refusing to send credentials over plain http to a host other than loopback;"
      .. " use https, or basiq.config{ allowInsecureHttp = true }", level + 1)
  end
  return r
end

-- Seconds to wait from a Retry-After header (delta-seconds or an HTTP date).
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }
local function retry_after(v)
  if not v then return nil end
  local n = v:match("^%s*(%d+)%s*$")
  if n then return tonumber(n) end
  local d, mon, y, hh, mm, ss = v:match("(%d+) (%a+) (%d+) (%d+):(%d+):(%d+) GMT")
  if not (d and MONTHS[mon]) then return nil end
  local utc = { year = tonumber(y), month = MONTHS[mon], day = tonumber(d), hour = tonumber(hh), min = tonumber(mm), sec = tonumber(ss) }
  local now = os.time()
  -- os.time reads its table as local time; correct by this zone's offset
  local offset = os.time(os.date("*t", now)) - os.time(os.date("!*t", now))
  return math.max(0, os.time(utc) + offset - now)
end

-- A 403 that says the bearer token expired (Basiq's wording varies).
local function token_expired(err)
  local text = ((err.title or "") .. " " .. (err.detail or "")):lower()
  return text:find("expired", 1, true) and text:find("token", 1, true)
end

local function credential_secrets(state)
  local list = {}
  for i, v in ipairs(state.secrets) do list[i] = v end
  for _, v in ipairs(state.issued) do list[#list + 1] = v end
  return list
end

-- Tokens the client has used, so errors can redact them (a short ring).
local function note_token(state, tok)
  local issued = state.issued
  for i = 1, #issued do if issued[i] == tok then return end end
  table.insert(issued, 1, tok)
  issued[17] = nil
end

-- One call on its way (r: its route), with its retry state: run() drives
-- one, batch many.
local function start(state, name, op, r, req, deadline)
  local c = { name = name, req = req, deadline = deadline, auto = r.auto, safe = r.safe, nh = #req.headers, retried = 0 }
  if not r.auto then apply_auth(state, op, req) end -- may add to the query
  req.url = r.base .. req.path
  if state.maxBodySize or state.caFile then req.max_body, req.cainfo = state.maxBodySize, state.caFile end
  return c
end

-- Readies the next attempt: a current token, timeouts inside the budget.
-- now: the clock as the call started, on its first attempt (else nil).
local function arm(state, c, now)
  local req = c.req
  if c.auto then
    local tok, terr, waited = M.server_token(state, c.deadline, now)
    if not tok then return nil, errors.wrap(c.name, terr, "could not get a token", credential_secrets(state)) end
    if waited then now = nil end
    if tok ~= c.tok then
      c.tok = tok
      if state.line_tok ~= tok then state.line_tok, state.line = tok, "Authorization: Bearer " .. tok end
      req.headers[c.nh + 1] = state.line
    end
  end
  local left_ms = state.timeout -- the whole budget is left as the call starts
  if not now then
    local left = c.deadline - state.transport.now()
    if left <= 0 then return nil, errors.network(c.name, "the call's time budget ran out", 28, nil) end
    left_ms = math.max(1, math.floor(left * 1000))
  end
  req.timeout = min(state.attemptTimeout or state.timeout, left_ms)
  req.connect_timeout = min(state.connectTimeout, left_ms)
  return true
end

-- Judges one attempt's outcome: true, res | true, nil, err when the call is
-- over; false, seconds to wait when it should be tried again.
local function settle(state, c, status, headers, body, sent)
  local err, wait
  if status then
    local data = decode(headers, body)
    if status >= 200 and status < 300 then
      return true, { data = data, status = status, headers = headers }
    end
    err = errors.http(c.name, status, headers, data, credential_secrets(state))
    if c.auto and not c.renewed and (status == 401 or status == 403 and token_expired(err)) then
      -- a refused call did nothing, so repeating it once is safe
      c.renewed = true
      state.store.drop(state.keyid .. "SERVER_ACCESS", c.tok)
      return false, 0
    elseif not (c.safe and RETRY_STATUS[status]) then
      return true, nil, err
    end
    wait = retry_after(headers["retry-after"])
  else -- then headers and body are curl's message and result code
    err = errors.network(c.name, headers, body, credential_secrets(state))
    -- a POST is repeated only when it surely never left
    if not RETRY_NET[err.code] or not (c.safe or sent == false) then return true, nil, err end
  end
  if c.retried >= state.retries then return true, nil, err end
  c.retried = c.retried + 1
  -- exponential backoff with full jitter, unless the server said when
  wait = wait or random() * min(state.retryMaxDelay, state.retryDelay * 2 ^ (c.retried - 1)) / 1000
  if state.transport.now() + wait >= c.deadline then return true, nil, err end
  return false, wait
end

-- Sends req (built by request.build) along route r with retries, bounded
-- by deadline (transport seconds; now: the clock reading it came from, if
-- just read). Auto-token calls renew and repeat once on a refusal.
local function run(state, name, op, r, req, deadline, now)
  local t = state.transport
  if t.check then
    local perr = phase_error(state, name)
    if perr then return nil, perr end
  end
  local c = start(state, name, op, r, req, deadline)
  while true do
    local ok, err = arm(state, c, now)
    if not ok then return nil, err end
    now = nil
    local done, res, err2 = settle(state, c, t.request(state, req))
    if done then return res, err2 end
    if res > 0 then t.sleep(res) end
  end
end

local function call(state, name, op, server, a, b, nargs)
  local req, msg = build(name, op, a, b, nargs)
  if not req then error(msg, 3) end
  local r = route(state, name, op, server, name, 3)
  return run(state, name, op, r, req, deadline_of(state))
end

-- POST /token with the API key; returns token, expires_in | nil, err.
function M.fetch_token(state, form, deadline)
  local op, server = find_op(state, "postToken")
  local req = assert(build("postToken", op, form, TOKEN_VERSION, 2))
  -- unguarded here: the call that needs the token (or clientToken) checked first
  local res, err = run(state, "postToken", op, state.routes[op] or route_of(state, "postToken", op, server), req, deadline)
  if not res then return nil, err end
  local d = res.data
  if type(d) ~= "table" or type(d.access_token) ~= "string" or d.access_token == ""
      or d.access_token:find("[%c ]") or type(d.expires_in) ~= "number" or d.expires_in <= 0 then
    return nil, errors.http("postToken", res.status, res.headers, "unexpected token response", credential_secrets(state))
  end
  return d.access_token, d.expires_in
end

-- The automatic token under key: cached, renewed by one caller at a time
-- through fetch(deadline); token, nil, waited | nil, err (waited: the clock
-- moved on, a renewal was made or awaited).
local function auto_token(state, key, fetch, deadline, now)
  local tok, err, waited = token.get(state.store, state.transport, key, fetch, deadline, now)
  if tok and tok ~= state.noted then -- a new one (perhaps another worker's) joins the redaction list
    note_token(state, tok)
    state.noted = tok
  end
  return tok, err, waited
end

-- The SERVER_ACCESS token (now: a fresh clock reading, or nil).
function M.server_token(state, deadline, now)
  return auto_token(state, state.server_key, state.fetch_server, deadline, now)
end

function M.new(opts, target)
  if opts ~= nil and type(opts) ~= "table" then error("basiq.new: options must be a table", 3) end
  local state = {
    extra = {}, routes = {}, timeout = 60000, connectTimeout = 10000, secrets = {}, issued = {},
    retries = 2, retryDelay = 100, retryMaxDelay = 2000, transport = default_transport(),
  }
  state.store = fresh_store(state)
  local client = target or {}
  local helpers = {} -- the functions defined below (and _VERSION): never operations

  -- "Basic <key>" is an API key: bearer calls then get automatic tokens.
  -- Anything else is used as given (the `api` SDK's manual flow).
  local function set_credential(who, value, apikey, level)
    if type(value) ~= "string" or value == "" or value:find("[\r\n%z]") then
      error("basiq." .. who .. ": credential must be a non-empty string without CR, LF or NUL", level)
    end
    local bare = value:match("^%a+%s+(.+)$")
    if apikey and not value:match("^[Bb]asic%s") then value, bare = "Basic " .. value, value end
    -- the header value for each scheme, worked out once per credential
    state.credential = {
      raw = value,
      bearer = "Bearer " .. (value:match("^[Bb]earer%s+(.*)$") or value),
      basic = value:match("^[Bb]asic%s") and value or "Basic " .. value,
      lines = setmetatable({}, { __mode = "k" }),
    }
    state.secrets = { value, bare }
    local escaped = escape(value) -- as an apiKey in a query or cookie goes out (apply_auth)
    if escaped ~= value then state.secrets[#state.secrets + 1] = escaped end
    state.routes = {}
    local key = value:match("^[Bb]asic%s") and value or nil
    if key ~= state.apikey then -- tokens belong to the key they came from
      state.apikey = key
      -- store keys carry a digest of the API key, never the key: a store
      -- shared by nginx workers may serve several keys
      state.keyid = key and (core.b64encode(core.hmac_sha256("basiq token store", key)):sub(1, 22) .. ":") or ""
      state.store = fresh_store(state)
      state.issued, state.noted = {}, nil
      state.server_key = state.keyid .. "SERVER_ACCESS"
      state.fetch_server = function(deadline) return M.fetch_token(state, SERVER_FORM, deadline) end
    end
  end

  function client.auth(value)
    set_credential("auth", value, false, 3)
    return client
  end

  -- A CLIENT_ACCESS token bound to userId (for Basiq's Consent UI), cached
  -- per user and renewed like the server token: token | nil, err.
  function client.clientToken(userId)
    if type(userId) ~= "string" or userId == "" or userId:find("[%c]") then
      error("basiq.clientToken: userId must be a non-empty string", 2)
    end
    if not state.apikey then
      error("basiq.clientToken: needs an API key: basiq.auth(\"Basic <key>\") or basiq.new{ apiKey = ... }", 2)
    end
    local op, server = find_op(state, "postToken")
    route(state, "postToken", op, server, "clientToken", 2) -- the API key goes out: never over plain http
    -- before token.get, whose wait for another renewal could not sleep here
    local perr = phase_error(state, "clientToken")
    if perr then return nil, perr end
    local form = { scope = "CLIENT_ACCESS", userId = userId }
    local tok, err = auto_token(state, state.keyid .. "CLIENT_ACCESS:" .. userId, function(deadline)
      return M.fetch_token(state, form, deadline)
    end, deadline_of(state))
    if not tok then return nil, errors.wrap("clientToken", err, "could not get a token", credential_secrets(state)) end
    return tok
  end

  function client.server(url)
    state.server = check_server("server", url, 3)
    state.routes = {}
    return client
  end

  function client.config(o)
    if type(o) ~= "table" then error("basiq.config: options must be a table", 2) end
    if o.server ~= nil or o.auth ~= nil or o.apiKey ~= nil then
      error("basiq.config: use basiq.server() and basiq.auth()", 2)
    end
    set_options("config", state, o, 3)
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
    state.routes = {} -- a new postToken changes where every call's tokens come from
    return n
  end

  -- Any operation by name, for names that are not valid Lua identifiers.
  function client.call(name, ...)
    local op, server = find_op(state, name)
    if not op then error("basiq.call: unknown operation '" .. tostring(name) .. "'", 2) end
    local a, b = ...
    return call(state, name, op, server, a, b, select("#", ...))
  end

  -- for res, err in basiq.paginate("getTransactions", { userId = id }) do ...
  -- Follows links.next (absolute URLs with an opaque cursor) on the client's
  -- own server only. A failure ends the loop after one (false, err): Lua's
  -- generic for stops at a nil first value, so nil could not carry err.
  function client.paginate(name, ...)
    local op, server = find_op(state, name)
    if not op then error("basiq.paginate: unknown operation '" .. tostring(name) .. "'", 2) end
    if op.method ~= "GET" then error("basiq.paginate: " .. name .. " is not a list operation (GET)", 2) end
    local a, b = ...
    local req, msg = build(name, op, a, b, select("#", ...))
    if not req then error(msg, 2) end
    local r = route(state, name, op, server, "paginate", 2)
    local base = r.base
    local headers, pending = req.headers, nil -- pending: an error due on the next turn
    return function()
      if pending then
        local e = pending
        pending = nil
        return false, e
      end
      local this = req
      if not this then return nil end
      req = nil
      local h = {}
      for i = 1, #headers do h[i] = headers[i] end
      this.headers = h
      -- the route as the settings are now: auth() or server() may have changed
      -- between pages, so the plain-http check is made again too
      local now_route = route(state, name, op, server, "paginate", 2)
      local res, err = run(state, name, op, now_route, this, deadline_of(state))
      if not res then return false, err end
      local links = type(res.data) == "table" and res.data.links
      local nxt = type(links) == "table" and links.next
      if type(nxt) == "string" and nxt ~= "" then
        local rest = nxt:sub(#base + 1)
        if nxt:sub(1, #base):lower() == base:lower() and rest:find("^[/?]") and not rest:find("[%c%s]") then
          req = { method = "GET", path = rest }
        else
          pending = errors.new("pagination", "basiq." .. name
            .. ": links.next leads away from the client's server; not following it (the token stays here)")
        end
      end
      return res
    end
  end

  -- Polls getJobs until every step succeeded (res), one failed or an MFA
  -- step waits for an answer (nil, err); see basiq/jobs.lua.
  function client.waitForJob(jobId, options)
    return require("basiq.jobs").wait(client, state.transport, jobId, options)
  end

  -- results, errors = basiq.batch({ { "getUser", { userId = a } }, ... }, { concurrency = 16 })
  -- Runs the calls concurrently (curl multi in the C core); results[i] or
  -- errors[i] for each call, with the same retry and token rules as one call.
  function client.batch(calls, options)
    if type(calls) ~= "table" then error("basiq.batch: calls must be a list", 2) end
    if options ~= nil and type(options) ~= "table" then error("basiq.batch: options must be a table", 2) end
    local n = options and options.concurrency or 16
    if type(n) ~= "number" or n < 1 or n > 1000 or n % 1 ~= 0 then
      error("basiq.batch: option 'concurrency' must be an integer from 1 to 1000", 2)
    end
    local t = state.transport
    local results, errs, pending = {}, {}, {}
    local perr = phase_error(state, "batch")
    if perr then
      for i = 1, #calls do errs[i] = perr end
      return results, errs
    end
    local deadline = deadline_of(state)
    for i = 1, #calls do -- every call is checked before any is sent
      local spec = calls[i]
      if type(spec) ~= "table" or type(spec[1]) ~= "string" then
        error("basiq.batch: call " .. i .. " must be { name, body_or_metadata [, metadata] }", 2)
      end
      local name = spec[1]
      local op, server = find_op(state, name)
      if not op then error("basiq.batch: call " .. i .. ": unknown operation '" .. name .. "'", 2) end
      local nargs = spec[3] ~= nil and 2 or spec[2] ~= nil and 1 or 0
      local req, msg = build(name, op, spec[2], spec[3], nargs)
      if not req then error("basiq.batch: call " .. i .. ": " .. msg, 2) end
      local r = route(state, name, op, server, "batch: call " .. i, 2)
      pending[#pending + 1] = start(state, name, op, r, req, deadline)
      pending[#pending].index = i
    end
    while #pending > 0 do
      local reqs, armed = {}, {}
      for _, c in ipairs(pending) do
        local ok, err = arm(state, c)
        if ok then
          reqs[#reqs + 1], armed[#armed + 1] = c.req, c
        else
          errs[c.index] = err
        end
      end
      local out
      if t.batch then
        out = t.batch(state, reqs, n)
      else -- a transport without batch: one at a time
        out = {}
        for k, req in ipairs(reqs) do
          local status, h, b, sent = t.request(state, req)
          out[k] = status and { status = status, headers = h, body = b } or { err = h, code = b, sent = sent }
        end
      end
      local again, wait = {}, 0
      for k, c in ipairs(armed) do
        local o = out[k]
        local done, res, err
        if o.status then
          done, res, err = settle(state, c, o.status, o.headers, o.body)
        else
          done, res, err = settle(state, c, nil, o.err, o.code, o.sent)
        end
        if done then
          results[c.index], errs[c.index] = res, err
        else
          again[#again + 1] = c
          wait = math.max(wait, res)
        end
      end
      if #again > 0 and wait > 0 then t.sleep(wait) end
      pending = again
    end
    return results, errs
  end

  client.webhook = require("basiq.webhook")  -- basiq.webhook.verify(secret, headers, rawBody, opts)
  client.filter = require("basiq.filter").build -- basiq.filter{ ["account.id"] = id, ... }

  function client.new(o)
    local c = M.new(o) -- not a tail call, so errors point at the caller's line
    return c
  end

  -- Frees the connections now rather than at garbage collection.
  function client.close()
    if state.handle then state.handle:close(); state.handle = nil end
    if state.multi then state.multi:close(); state.multi = nil end
  end

  for k in pairs(client) do helpers[k] = true end

  if opts then
    set_options("new", state, opts, 4)
    if opts.auth ~= nil and opts.apiKey ~= nil then error("basiq.new: give auth or apiKey, not both", 3) end
    if opts.auth ~= nil then set_credential("new", opts.auth, false, 4) end
    if opts.apiKey ~= nil then set_credential("new", opts.apiKey, true, 4) end
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
      -- without any user:password@ in the URL
      return "basiq client (" .. base_url(state):gsub("//[^/]*@", "//") .. ")"
    end,
    __name = "basiq.client",
  })
end


return M
