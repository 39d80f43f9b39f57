-- The call engine: one call from its request to { data, status, headers }
-- or nil, err. It sends the request along its route (route.lua) through the
-- client's transport, repeats it under the retry policy (retry.lua) within
-- the call's time budget, and owns automatic tokens: fetching one is an
-- ordinary call of this engine (postToken), token.lua only keeps and locks
-- them. HTTP and network failures come back as nil, err; never raised.
local cjson_safe = require("cjson.safe")
local core = require("basiq.shared.lazy")
local errors = require("basiq.shared.errors")
local request = require("basiq.call.request")
local route = require("basiq.call.route")
local retry = require("basiq.call.retry")
local token = require("basiq.call.token")
local credentials = require("basiq.call.credentials")
local operations = require("basiq.call.operations")
local observe = require("basiq.call.observe")
local strict = require("basiq.shared.strict")

local json = cjson_safe.new()
local build, fast_url = request.build, request.fast_url
local type, min, max, floor = type, math.min, math.max, math.floor

local M = {}

local TOKEN_VERSION = { ["basiq-version"] = "3.0" }
local SERVER_FORM = { scope = "SERVER_ACCESS" }

-- Whether a Content-Type is JSON, remembered per value (a few per server).
local jsonish, njsonish = {}, 0
local function learn(ct)
  if njsonish >= 64 then jsonish, njsonish = {}, 0 end
  local known = ct:find("json", 1, true) ~= nil
  jsonish[ct], njsonish = known, njsonish + 1
  return known
end

-- Decoded JSON's whole numbers as integers on Lua 5.3+, where Debian's
-- cjson makes every number a float (500.0); elsewhere numbers are doubles
-- and this is nil. The C core finds each number of the text by its path
-- (src/numbers.c), so the table is visited only on the way to them.
local whole = math.type and function(v, body)
  if type(v) == "table" then return core.integers(v, body) end
  if type(v) == "number" and v % 1 == 0 and v >= -2 ^ 53 and v <= 2 ^ 53 then return math.tointeger(v) end
  return v
end

-- An answer's body as data: decoded JSON, or the text as it came.
local function decode(headers, body)
  if body == "" then return nil end
  local ct = headers["content-type"]
  local known = ct and jsonish[ct]
  if known == nil and ct then known = learn(ct) end
  if known or not ct and body:find("^%s*[%[{]") then
    local v = json.decode(body)
    if v ~= nil then return whole and whole(v, body) or v end
  end
  return body
end

-- A 403 that says the bearer token expired (Basiq's wording varies).
local function token_expired(err)
  local text = ((err.title or "") .. " " .. (err.detail or "")):lower()
  return text:find("expired", 1, true) and text:find("token", 1, true)
end

-- nil, or an error when the transport cannot run here (nginx phases).
function M.unusable(state, who)
  local t = state.transport
  local why = t.check and t.check()
  if why then return errors.new("phase", "basiq." .. who .. ": " .. why) end
end

-- The server token for state's API key: token, nil, waited | nil, err.
local server_token

-- Readies one attempt: the current automatic token, and timeouts inside
-- the call's budget. now: the clock as the call started, on its first
-- attempt (else nil). true | nil, err.
local function arm(state, c, now)
  local req = c.req
  if c.auto then
    local tok, terr, waited = server_token(state, c.deadline)
    if not tok then return nil, errors.wrap(c.name, terr, "could not get a token", credentials.secrets(state)) end
    if waited then now = nil end
    if tok ~= c.tok then
      c.tok = tok
      local line = state.token_line
      if not line or line.tok ~= tok then
        line = { tok = tok, text = "Authorization: Bearer " .. tok }
        state.token_line = line
      end
      req.headers[c.nh + 1] = line.text
    end
  end
  local left_ms = state.timeout -- the whole budget is left as the call starts
  if not now then
    local left = c.deadline - state.transport.now()
    if left <= 0 then return nil, errors.network(c.name, "the call's time budget ran out", 28, nil) end
    left_ms = max(1, floor(left * 1000))
  end
  req.timeout = min(state.attemptTimeout or state.timeout, left_ms)
  req.connect_timeout = min(state.connectTimeout, left_ms)
  return true
end

-- Judges one attempt's outcome: res (the call succeeded) | nil, err (it
-- failed for good) | nil, err, seconds to wait before the next attempt
-- (err: this attempt's, for its event).
local function settle(state, c, o)
  local status, err, wait = o.status, nil, nil -- luacheck: ignore 311 (err is set on every path)
  if status then
    local data = decode(o.headers, o.body)
    if status >= 200 and status < 300 then
      o.data, o.body = data, nil
      return o
    end
    err = errors.http(c.name, status, o.headers, data, credentials.secrets(state))
    if c.auto and not c.renewed and (status == 401 or status == 403 and token_expired(err)) then
      -- a refused call did nothing, so repeating it once is safe
      c.renewed = true
      state.store.drop(state.server_key, c.tok)
      return nil, err, 0
    elseif not retry.status(status, c.safe) then
      return nil, err
    end
    wait = retry.after(o.headers["retry-after"])
  else
    err = errors.network(c.name, o.message, o.code, credentials.secrets(state))
    if not retry.network(err.code, c.safe, o.sent) then return nil, err end
  end
  if c.retried >= state.retries then return nil, err end
  c.retried = c.retried + 1
  -- the server's Retry-After, else backoff with full jitter
  wait = wait or retry.backoff(c.retried, state.retryDelay, state.retryMaxDelay)
  if state.transport.now() + wait >= c.deadline then return nil, err end
  return nil, err, wait
end

-- Gives a built request its route's credential, its URL and the
-- client's caps (the fast path builds its own with all of them).
local function complete(state, r, req)
  if r.line then
    req.headers[#req.headers + 1] = r.line
  elseif r.query then -- an apiKey in the query (documents loaded with basiq.load)
    req.path = req.path .. (req.path:find("?", 1, true) and "&" or "?") .. r.query
  end
  req.url = r.base .. req.path
  if state.caps then req.max_body, req.cainfo = state.maxBodySize, state.caFile end
end

-- A call's retry state, from its first attempt on or once that failed.
-- kind: "attempt", or "token" for an automatic token's fetch (its events).
local function call_state(name, r, req, deadline, kind)
  return { name = name, req = req, deadline = deadline, auto = r.auto, safe = r.safe, retried = 0,
           nh = #req.headers, n = 0, kind = kind or "attempt" }
end

-- One call on its way along route r: batch.lua drives many.
function M.start(state, name, r, req, deadline)
  complete(state, r, req)
  return call_state(name, r, req, deadline)
end
M.arm = arm

-- settle() for the attempt just made, and its event when anyone observes:
-- res | nil, err | nil, nil, wait. elapsed: the attempt's seconds by the
-- clock, for a transport that does not say (observing only).
local function judge(state, c, o, elapsed)
  c.n = c.n + 1
  if not state.emit then return settle(state, c, o) end
  local bytes = type(o.body) == "string" and #o.body or nil
  local res, err, wait = settle(state, c, o)
  observe.attempt(state, c.kind, c.name, c.req.method, c.n, o, err, wait, bytes, elapsed)
  return res, err, wait
end
M.settle = judge

-- Drives call c until it is over: res | nil, err. now: the clock reading
-- the call started at, when it has just been taken.
local function drive(state, c, now)
  local t = state.transport
  while true do
    local ok, err = arm(state, c, now)
    if not ok then return nil, err end
    now = nil
    local t0 = state.emit and t.now()
    local o = t:request(c.req)
    local res, err2, wait = judge(state, c, o, t0 and t.now() - t0)
    if not wait then return res, err2 end
    if wait > 0 then t.sleep(wait) end
  end
end

-- Sends a complete request along r within the client's timeout. The first
-- attempt of a call without an automatic token has the whole budget and
-- nothing to arm: no clock is read and no call state made unless it fails
-- (then the budget counts back from the attempt's own time).
local function send(state, name, r, req)
  local t = state.transport
  if t.check then
    local perr = M.unusable(state, name)
    if perr then return nil, perr end
  end
  if r.auto then
    local now = t.now()
    return drive(state, call_state(name, r, req, now + state.timeout / 1000), now)
  end
  if not req.timeout then req.timeout, req.connect_timeout = state.first_timeout, state.first_connect end
  local t0 = state.emit and t.now()
  local o = t:request(req)
  local status = o.status
  if status and status >= 200 and status < 300 then
    -- the commonest answer, decoded here rather than by a call to decode()
    local body = o.body
    local ct = o.headers["content-type"]
    local v = ct and jsonish[ct] and body ~= "" and json.decode(body)
    if v then
      if whole then -- whole() inlined for the commonest case, a table
        if type(v) == "table" then v = core.integers(v, body) else v = whole(v, body) end
      end
      o.data, o.body = v, nil
    else
      o.data, o.body = decode(o.headers, body), nil
    end
    if state.emit then observe.attempt(state, "attempt", name, req.method, 1, o, nil, nil, #body, t0 and t.now() - t0) end
    return o
  end
  local c = call_state(name, r, req, t.now() - (o.time or 0) + state.timeout / 1000)
  local res, err, wait = judge(state, c, o, t0 and t.now() - t0)
  if not wait then return res, err end
  if wait > 0 then t.sleep(wait) end
  return drive(state, c, nil)
end

-- Sends req (built by request.build) along route r, with retries, inside
-- deadline (transport seconds; nil: the client's timeout from now). kind:
-- its events' kind (see call_state).
function M.run(state, name, r, req, deadline, kind)
  complete(state, r, req)
  if not deadline then return send(state, name, r, req) end
  local perr = M.unusable(state, name)
  if perr then return nil, perr end
  return drive(state, call_state(name, r, req, deadline, kind), nil)
end
local run = M.run

-- A call by the general path: builds the request, checks its route, sends
-- it. A mistake raises at the caller's line.
local function call(state, name, op, r, a, b, nargs)
  if rawequal(a, state.client) then strict.colon("basiq." .. name) end
  local req, msg = build(name, op, a, b, nargs)
  if not req then errors.raise(msg) end
  if r.refuse then route.check(r, name) end
  complete(state, r, req)
  return send(state, name, r, req)
end

-- The function a client exposes for one operation, basiq.<name>(body,
-- metadata). A trailing nil counts as left out, as undefined does in
-- JavaScript and as in basiq.batch's lists, so the function has fixed
-- arity: no vararg frame on Lua 5.4, and LuaJIT compiles the return of a
-- fast call into it. It holds the fast path (one metadata table of path
-- ids, no automatic token: getUser, getJob, ...), so that the commonest
-- call spends no Lua call on dispatch; everything else takes call(). The
-- operation's table is looked up on the first call (each API's loads on
-- first use).
function M.bind(state, name)
  local op, server
  return function(a, b)
    if not op then
      op, server = operations.find(state, name)
      if op.deprecated then observe.deprecated(state, name) end
    end
    local r = state.routes[op] or route.of(state, name, op, server)
    if r.fast and b == nil and type(a) == "table" then
      local url = fast_url(r.plan, a, r.base, r.prefix)
      if url then
        if r.refuse then route.check(r, name) end
        local req = { method = op.method, url = url, headers = r.lines,
                      timeout = state.first_timeout, connect_timeout = state.first_connect }
        if state.caps then req.max_body, req.cainfo = state.maxBodySize, state.caFile end
        return send(state, name, r, req)
      end
    end
    return call(state, name, op, r, a, b, request.count(a, b))
  end
end

-- POST /token with the API key: token, expires_in | nil, err.
local function fetch_token(state, form, deadline)
  local op, server = operations.find(state, "postToken")
  local req = assert(build("postToken", op, form, TOKEN_VERSION, 2))
  -- unguarded here: the call that needs the token (or clientToken) checked first
  local res, err = run(state, "postToken", route.of(state, "postToken", op, server), req, deadline, "token")
  if not res then return nil, err end
  local d = res.data
  if type(d) ~= "table" or type(d.access_token) ~= "string" or d.access_token == ""
      or d.access_token:find("[%c ]") or type(d.expires_in) ~= "number" or d.expires_in <= 0 then
    return nil, errors.http("postToken", res.status, res.headers, "unexpected token response", credentials.secrets(state))
  end
  return d.access_token, d.expires_in
end

-- The automatic token under key, fetched with form: cached, renewed by one
-- caller at a time; token, nil, waited, expires_in | nil, err (waited: the
-- clock moved on, a renewal was made or awaited; min_life: token.get's).
local function auto_token(state, key, fetch, deadline, min_life)
  local tok, err, waited, life = token.get(state.store, state.transport, key, fetch, deadline, min_life)
  if tok then credentials.note(state, tok) end -- a new one (perhaps another worker's) joins the redaction list
  return tok, err, waited, life
end

function server_token(state, deadline)
  local fetch = state.fetch_server
  if not fetch then
    fetch = function(dl) return fetch_token(state, SERVER_FORM, dl) end
    state.fetch_server = fetch
  end
  return auto_token(state, state.server_key, fetch, deadline)
end

-- A CLIENT_ACCESS token bound to userId (for Basiq's Consent UI), with at
-- least min_life seconds left when given (else the cache's renewal
-- margin): token, expires_in | nil, err. who names the public function
-- for a mistake and for its errors ("clientToken", "consentUrl").
function M.client_token(state, userId, min_life, who)
  if type(userId) ~= "string" or userId == "" or userId:find("[%c]") then
    errors.raise("basiq." .. who .. ": userId must be a non-empty string")
  end
  if not state.apikey then
    errors.raise("basiq." .. who .. ": needs an API key: basiq.auth(\"Basic <key>\") or basiq.new{ apiKey = ... }")
  end
  local op, server = operations.find(state, "postToken")
  route.check(route.of(state, "postToken", op, server), who) -- the API key goes out: never over plain http
  -- before token.get, whose wait for another renewal could not sleep here
  local perr = M.unusable(state, who)
  if perr then return nil, perr end
  local form = { scope = "CLIENT_ACCESS", userId = userId }
  local tok, err, _, life = auto_token(state, state.keyid .. "CLIENT_ACCESS:" .. userId, function(deadline)
    return fetch_token(state, form, deadline)
  end, state.transport.now() + state.timeout / 1000, min_life)
  if not tok then return nil, errors.wrap(who, err, "could not get a token", credentials.secrets(state)) end
  return tok, life
end

return M
