-- A small HTTP/1.1 server for the specs: one coroutine per connection over
-- luasocket, keep-alive, loopback only. The path picks the behaviour:
--   /status/<code>   answers <code> with a Basiq error body (so does /users/status-<code>)
--   /delay/<ms>/...  waits, then echoes
--   /html/<code>     answers <code> with an HTML page
--   /text            answers text/plain
--   /stall           accepts and never answers
--   /closing         echoes with Connection: close, then closes
--   /reset           reads the request, then resets the connection
--   /fault/<kind>    misbehaves: reset, empty, midbody, stallbody, badjson, truncjson, hugeheader,
--                    manyheaders, fold, badstatus, badchunk, big/<bytes>; /fault/hits counts them
--                    (/users/fault-<kind> the same, for batches)
--   /redirect        answers 302
--   /leaky           answers 401 with the Authorization header in the error
--   /tok/<life>[:<claimed>]/<realm>/...  a stand-in for Basiq's /token (below); .../flaky/... as
--                    /flaky/ once the token is checked
--   /flaky/<key>/<n>/<status>/...  answers <status> n times, then echoes
--   /pages/<n>[-away|-fail]/...  a list in n pages linked by links.next
--   /jobsim/jobs/<scenario>-<id>  a job whose steps advance on each poll
--   /inflight/<key>/<ms>/...  counts requests in flight per key, waits, echoes;
--                    /inflight/<key>/stats answers { total, max } (most at once)
--   /openapi/<name>  serves a definition (below): widgets.yml, widgets (YAML, text/plain),
--                    widgets.json, swagger.json, moved.yml (302 to widgets.yml), away.yml (302 off
--                    the machine over plain http), broken.yml
--   /api/v1/api-registry/<uuid>  a stand-in for ReadMe's API registry: widgets0 is
--                    widgets.json, anything else 404; /api/v1/api-registry/seen lists the
--                    requests it had (target and headers)
--   anything else    echoes the request as JSON
-- usage: lua5.4 httpd.lua PORT
local socket = require("socket")
local cjson = require("cjson")

local port = assert(tonumber(arg[1]), "usage: httpd.lua PORT")
local server = assert(socket.bind("127.0.0.1", port))
server:settimeout(0)

local waiting = {}  -- socket -> coroutine blocked reading it
local sleepers = {} -- coroutine -> wake time

local function receive(sock, pattern)
  local buf = ""
  while true do
    local data, err, partial = sock:receive(pattern, buf)
    if data then return data end
    if err ~= "timeout" then return nil, err end
    buf = partial -- luasocket counts the prefix in a numeric pattern
    waiting[sock] = coroutine.running()
    coroutine.yield()
  end
end

local function sleep(seconds)
  sleepers[coroutine.running()] = socket.gettime() + seconds
  coroutine.yield()
end

local function send(sock, s)
  sock:settimeout(5)
  local ok, err = sock:send(s)
  sock:settimeout(0)
  return ok, err
end

local REASONS = { [200] = "OK", [201] = "Created", [302] = "Found", [204] = "No Content", [400] = "Bad Request",
  [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found", [429] = "Too Many Requests",
  [500] = "Internal Server Error", [502] = "Bad Gateway", [503] = "Service Unavailable" }

local heads = {} -- socket -> true while it answers a HEAD request

-- An answer to HEAD names its body's length and sends none.
local function respond(sock, status, headers, body)
  local lines = { string.format("HTTP/1.1 %d %s", status, REASONS[status] or "Status") }
  headers["Content-Length"] = #body
  for k, v in pairs(headers) do lines[#lines + 1] = k .. ": " .. v end
  return send(sock, table.concat(lines, "\r\n") .. "\r\n\r\n" .. (heads[sock] and "" or body))
end

local function basiq_error(status)
  return cjson.encode({ type = "list", correlationId = "corr-" .. status, data = { {
    type = "error", code = status == 404 and "resource-not-found" or "parameter-not-valid",
    title = status == 404 and "Resource not found." or "Parameter value is not valid.",
    detail = "Detail for " .. status .. ".", source = { parameter = "userId" } } } })
end

-- Attempts seen per /flaky/<key>: GET /flaky/<key>/stats lists their times.
local flaky = {}
local function flaky_route(sock, req, key, rest)
  local seen = flaky[key] or {}
  flaky[key] = seen
  if rest == "/stats" then
    return respond(sock, 200, { ["Content-Type"] = "application/json" }, cjson.encode({ attempts = seen }))
  end
  local n, status = rest:match("^/(%d+)/(%d+)")
  seen[#seen + 1] = socket.gettime()
  if n and #seen <= tonumber(n) then
    local headers = { ["Content-Type"] = "application/json" }
    -- .../after-<s>/ sends Retry-After in seconds, .../date-<s>/ as an HTTP date
    local after = rest:match("/after%-(%d+)")
    local date = rest:match("/date%-(%d+)")
    if after then headers["Retry-After"] = after end
    if date then headers["Retry-After"] = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + tonumber(date)) end
    return respond(sock, tonumber(status), headers, basiq_error(tonumber(status)))
  end
  return respond(sock, 200, { ["Content-Type"] = "application/json" },
    cjson.encode({ method = req.method, target = req.target, attempt = #seen }))
end

-- The /token stand-in. POST .../token issues "<realm>-<n>" living <life>
-- seconds (claiming <claimed> in expires_in, default the same); other paths
-- need a live bearer token: unknown -> 401, expired -> 403 "Token has
-- expired." (a realm named d<ms> answers those after <ms>). .../stats reports what was issued; .../revoke forgets every
-- token; .../forbidden/ answers a 403 that is not about tokens, .../leak/
-- the same echoing the Authorization header.
local realms = {}
local function token_route(sock, req, life, claimed, realm, rest)
  local r = realms[realm] or { issued = {}, live = {} }
  realms[realm] = r
  local json = { ["Content-Type"] = "application/json" }
  local function deny(status, code, title, detail)
    return respond(sock, status, json, cjson.encode({ type = "list", correlationId = "c-" .. realm,
      data = { { type = "error", code = code, title = title, detail = detail } } }))
  end
  if rest == "/stats" then
    return respond(sock, 200, json, cjson.encode({ issued = r.issued }))
  elseif rest == "/revoke" then
    r.live = {}
    return respond(sock, 204, {}, "")
  elseif rest == "/token" and req.method == "POST" then
    local auth = req.headers.authorization or ""
    if not auth:match("^Basic %S+$") then return deny(400, "invalid-authorization", "Invalid authorization header", "") end
    local form = {}
    for k, v in req.body:gmatch("([^&=]+)=([^&]*)") do form[k] = v end
    local tok = realm .. "-" .. (#r.issued + 1)
    r.issued[#r.issued + 1] = { token = tok, scope = form.scope, userId = form.userId,
      version = req.headers["basiq-version"], key = auth }
    r.live[tok] = socket.gettime() + life
    return respond(sock, 200, json, cjson.encode({ access_token = tok, expires_in = claimed, token_type = "Bearer" }))
  end
  local tok = (req.headers.authorization or ""):match("^Bearer (%S+)$")
  if not tok or not r.live[tok] then
    return deny(401, "unauthorized-access", "Invalid authorization token.", "The token is not valid.")
  elseif r.live[tok] < socket.gettime() then
    return deny(403, "access-denied", "Access denied", "Token has expired.")
  elseif rest:find("^/forbidden/") then
    return deny(403, "access-denied", "Access denied", "This application may not read this resource.")
  elseif rest:find("^/leak/") then -- a 403 that echoes the credential back
    return deny(403, "access-denied", "Access denied", "You sent " .. req.headers.authorization)
  end
  local ms = realm:match("^d(%d+)") -- realm d300: every authorised answer takes 0.3 s
  if ms then sleep(tonumber(ms) / 1000) end
  local fkey, frest = rest:match("^/flaky/([%w_-]+)(.*)$") -- /flaky/ behind the token (its stats outside)
  if fkey then return flaky_route(sock, req, fkey, (frest:gsub("%?.*$", ""))) end
  return respond(sock, 200, json, cjson.encode({ method = req.method, target = req.target, token = tok,
    body = req.body, peer = req.peer }))
end

-- Pages: page k has data { {id = "t<k>"} } and, before the last, links.next
-- (absolute, opaque cursor). -away links page 2 to another host; -fail
-- answers page 2 with a 500; -path gives links.next as Basiq's own links
-- are, a path under the API's base URL ("/users/u1/transactions?next=c2").
local function pages_route(sock, req, n, mode, rest)
  local path, query = rest:match("^([^?]*)%??(.*)$")
  local k = tonumber(query:match("next=c(%d+)") or "1")
  local json = { ["Content-Type"] = "application/json" }
  if k == 2 and mode == "-fail" then return respond(sock, 500, json, basiq_error(500)) end
  local links = { self = "http://" .. req.headers.host .. req.target }
  if k < n and mode == "-path" then
    links.next = path .. "?next=c" .. (k + 1)
  elseif k < n then
    local host = mode == "-away" and "elsewhere.invalid" or req.headers.host
    links.next = "http://" .. host .. "/pages/" .. n .. mode .. path .. "?next=c" .. (k + 1)
  end
  return respond(sock, 200, json, cjson.encode({ type = "list", data = { { id = "t" .. k, query = query } },
    links = links, auth = req.headers.authorization }))
end

-- Jobs: each GET is one poll; the scenario says what the steps are by then.
local jobs = {}
local function step(title, status, result) return { title = title, status = status, result = result or cjson.null } end
local SCENARIOS = {
  ok = function(j)
    if j.polls == 1 then
      return { step("verify-credentials", "in-progress"), step("retrieve-accounts", "pending"), step("retrieve-transactions", "pending") }
    elseif j.polls == 2 then
      return { step("verify-credentials", "success"), step("retrieve-accounts", "in-progress"), step("retrieve-transactions", "pending") }
    end
    return { step("verify-credentials", "success"), step("retrieve-accounts", "success"), step("retrieve-transactions", "success") }
  end,
  fail = function(j)
    if j.polls == 1 then return { step("verify-credentials", "in-progress"), step("retrieve-accounts", "pending") } end
    return { step("verify-credentials", "failed", { code = "authorization-failed", title = "Authorization failed",
      detail = "access_denied" }), step("retrieve-accounts", "pending") }
  end,
  mfa = function(j) -- the MFA step sits second: positions shift
    local challenge = { type = "mfa", method = "token", description = "A code was sent by SMS.",
      input = { "We sent a code to XXXX 178." }, expiryMs = 120000, links = { response = "/jobs/" .. j.id .. "/mfa" } }
    local verified = step("verify-credentials", "success")
    if j.polls == 1 then
      return { verified, step("mfa-challenge", "in-progress"), step("retrieve-accounts", "pending") }
    elseif not j.answer then
      return { verified, step("mfa-challenge", "in-progress", challenge), step("retrieve-accounts", "pending") }
    elseif not j.answered_at then
      j.answered_at = j.polls
      return { verified, step("mfa-challenge", "success", challenge), step("retrieve-accounts", "in-progress") }
    end
    return { verified, step("mfa-challenge", "success", challenge), step("retrieve-accounts", "success") }
  end,
  slow = function() return { step("verify-credentials", "in-progress") } end,
}
local function jobs_route(sock, req, id, rest)
  local json = { ["Content-Type"] = "application/json" }
  local j = jobs[id] or { id = id, polls = 0, times = {} }
  jobs[id] = j
  if rest == "/mfa" and req.method == "POST" then
    j.answer = cjson.decode(req.body)["mfa-response"]
    return respond(sock, 201, json, cjson.encode({ type = "job", id = id }))
  elseif rest == "/stats" then
    return respond(sock, 200, json, cjson.encode({ polls = j.polls, times = j.times, answer = j.answer }))
  end
  j.polls = j.polls + 1
  j.times[#j.times + 1] = socket.gettime()
  local scenario = SCENARIOS[id:match("^(%a+)")]
  if not scenario then return respond(sock, 404, json, basiq_error(404)) end
  return respond(sock, 200, json, cjson.encode({ type = "job", id = id, jobType = "connection", steps = scenario(j),
    links = { self = "http://" .. req.headers.host .. "/jobs/" .. id } }))
end

local fault_hits = {}

-- Misbehaving servers, for the fault specs. Each returns "closed" when it
-- has closed the connection itself.
local function fault_route(sock, kind, target)
  local function raw(s) send(sock, s) end
  if kind == "reset" then
    sock:setoption("linger", { on = true, timeout = 0 })
  elseif kind == "empty" then -- close without a word
    sock:close()
  elseif kind == "midbody" then
    raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\": \"u1\"")
  elseif kind == "stallbody" then -- headers and a little of the body, then nothing
    raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\"")
    sleep(3600)
  elseif kind == "badjson" then
    respond(sock, 200, { ["Content-Type"] = "application/json" }, "{not json")
    return
  elseif kind == "truncjson" then
    respond(sock, 200, { ["Content-Type"] = "application/json" }, '{"type": "user", "id": "u1", "email": ')
    return
  elseif kind == "hugeheader" then -- one 200 KB header line
    raw("HTTP/1.1 200 OK\r\nX-Huge: " .. ("a"):rep(200 * 1024) .. "\r\nContent-Length: 2\r\n\r\n{}")
  elseif kind == "manyheaders" then -- /fault/manyheaders/<n>: n small headers
    local lines = {}
    for i = 1, tonumber(target:match("/fault/manyheaders/(%d+)")) do lines[i] = "X-H" .. i .. ": " .. ("v"):rep(30) end
    raw("HTTP/1.1 200 OK\r\n" .. table.concat(lines, "\r\n") .. "\r\nContent-Length: 2\r\n\r\n{}")
  elseif kind == "fold" then -- an obsolete folded header line
    raw("HTTP/1.1 200 OK\r\nX-A: one\r\n two: three\r\nContent-Length: 2\r\n\r\n{}")
  elseif kind == "badstatus" then
    raw("HTTP/1.1 OK maybe\r\nContent-Length: 2\r\n\r\n{}")
  elseif kind == "badchunk" then
    raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
  elseif kind == "big" then -- /fault/big/<bytes>: a JSON string of that many bytes
    local n = tonumber(target:match("/fault/big/(%d+)"))
    raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. n .. "\r\n\r\n")
    local chunk = ("x"):rep(1024 * 1024)
    local left = n
    while left > 0 do
      local part = left >= #chunk and chunk or chunk:sub(1, left)
      if not send(sock, part) then break end
      left = left - #part
    end
    return
  end
  sock:close()
  return "closed"
end

-- Requests in flight per /inflight/<key>: what a client's concurrency really was.
local inflight = {}
local function inflight_route(sock, req, key, rest)
  local f = inflight[key] or { now = 0, max = 0, total = 0 }
  inflight[key] = f
  if rest == "/stats" then
    return respond(sock, 200, { ["Content-Type"] = "application/json" }, cjson.encode({ total = f.total, max = f.max }))
  end
  f.now, f.total = f.now + 1, f.total + 1
  f.max = math.max(f.max, f.now)
  sleep(tonumber(rest:match("^/(%d+)") or "0") / 1000)
  f.now = f.now - 1
  return respond(sock, 200, { ["Content-Type"] = "application/json" },
    cjson.encode({ method = req.method, target = req.target, body = req.body, peer = req.peer }))
end

-- Definitions for basiq.load, their servers on this server (/v9). The
-- widgets API: getWidget, one operation without an operationId (a tree of
-- nodes: a $ref to itself), and postToken (to be replaced).
local function widgets_yaml(host)
  return table.concat({
    "openapi: 3.0.3",
    "info: {title: widgets, version: '1'}",
    "servers:",
    "  - url: http://" .. host .. "/v9",
    "paths:",
    "  /widgets/{widgetId}:",
    "    get:",
    "      operationId: GetWidget",
    "      parameters:",
    "        - {name: widgetId, in: path, required: true, schema: {type: string}}",
    "        - {name: colour, in: query, schema: {type: string, enum: [red, green]}}",
    "      responses:",
    "        '200': {description: ok}",
    "  /widgets/{widgetId}/nodes:",
    "    post:",
    "      parameters:",
    "        - {name: widgetId, in: path, required: true, schema: {type: string}}",
    "      requestBody:",
    "        content:",
    "          application/json:",
    "            schema: {$ref: '#/components/schemas/Node'}",
    "      responses:",
    "        '201': {description: ok}",
    "  /token:",
    "    post:",
    "      operationId: postToken",
    "      responses:",
    "        '200': {description: ok}",
    "components:",
    "  schemas:",
    "    Node:",
    "      type: object",
    "      required: [name]",
    "      properties:",
    "        name: {type: string}",
    "        children:",
    "          type: array",
    "          items: {$ref: '#/components/schemas/Node'}",
    "" }, "\n")
end

local function widgets_json(host)
  return cjson.encode({ openapi = "3.0.3", info = { title = "widgets", version = "1" },
    servers = { { url = "http://" .. host .. "/v9" } },
    paths = { ["/widgets/{widgetId}"] = { get = { operationId = "GetWidget",
      parameters = { { name = "widgetId", ["in"] = "path", required = true, schema = { type = "string" } } },
      responses = { ["200"] = { description = "ok" } } } } } })
end

local registry_seen = {}
local function openapi_route(sock, req, name)
  local host = req.headers.host
  local yaml, json = { ["Content-Type"] = "application/yaml" }, { ["Content-Type"] = "application/json" }
  if name == "widgets.yml" then return respond(sock, 200, yaml, widgets_yaml(host)) end
  if name == "widgets" then return respond(sock, 200, { ["Content-Type"] = "text/plain" }, widgets_yaml(host)) end
  if name == "widgets.json" then return respond(sock, 200, json, widgets_json(host)) end
  if name == "swagger.json" then
    return respond(sock, 200, json, cjson.encode({ swagger = "2.0", info = { title = "old" }, paths = {} }))
  end
  if name == "moved.yml" then
    return respond(sock, 302, { Location = "/openapi/widgets.yml", ["Content-Type"] = "text/plain" }, "moved")
  end
  if name == "away.yml" then
    return respond(sock, 302, { Location = "http://definitions.invalid/core.yml", ["Content-Type"] = "text/plain" }, "moved")
  end
  if name == "broken.yml" then return respond(sock, 200, yaml, "openapi: 3.0.0\npaths:\n  /a: x\n   b: y\n") end
  return respond(sock, 404, json, basiq_error(404))
end

local function registry_route(sock, req, uuid)
  local json = { ["Content-Type"] = "application/json" }
  if uuid == "seen" then return respond(sock, 200, json, cjson.encode(registry_seen)) end
  registry_seen[#registry_seen + 1] = { target = req.target, headers = req.headers }
  if uuid == "widgets0" then return respond(sock, 200, json, widgets_json(req.headers.host)) end
  return respond(sock, 404, json, basiq_error(404))
end

local function handle(sock, req)
  local target = req.target
  local def = target:match("^/openapi/([%w._-]+)")
  if def then return openapi_route(sock, req, def) end
  local uuid = target:match("^/api/v1/api%-registry/([%w]+)$")
  if uuid then return registry_route(sock, req, uuid) end
  local ikey, irest = target:match("^/inflight/([%w_-]+)(.*)$")
  if ikey then return inflight_route(sock, req, ikey, irest) end
  local pn, pmode, prest = target:match("^/pages/(%d+)(%-?%a*)(.*)$")
  if pn then return pages_route(sock, req, tonumber(pn), pmode, prest) end
  local jid, jrest = target:match("^/jobsim/jobs/([%w-]+)(.*)$")
  if jid then return jobs_route(sock, req, jid, jrest) end
  local fkey, frest = target:match("^/flaky/([%w_-]+)(.*)$")
  if fkey then return flaky_route(sock, req, fkey, (frest:gsub("%?.*$", ""))) end
  local life, claimed, realm, rest = target:match("^/tok/([%d.]+):?([%d.]*)/([%w_-]+)(.*)$")
  if life then
    return token_route(sock, req, tonumber(life), tonumber(claimed) or tonumber(life), realm, rest)
  end
  local code = target:match("/status/(%d+)") or target:match("/users/status%-(%d+)") -- the latter for batches
  if code then
    return respond(sock, tonumber(code), { ["Content-Type"] = "application/json" }, basiq_error(tonumber(code)))
  end
  code = target:match("/html/(%d+)")
  if code then
    return respond(sock, tonumber(code), { ["Content-Type"] = "text/html" }, "<html><body>Bad gateway</body></html>")
  end
  if target:find("/text", 1, true) then
    return respond(sock, 200, { ["Content-Type"] = "text/plain" }, "plain words")
  end
  if target:find("/redirect", 1, true) then
    return respond(sock, 302, { Location = "/elsewhere", ["Content-Type"] = "text/plain" }, "moved")
  end
  if target:find("/leaky", 1, true) then -- a server that echoes credentials back in its error
    local auth = req.headers.authorization or ""
    return respond(sock, 401, { ["Content-Type"] = "application/json" }, cjson.encode({ type = "list",
      data = { { type = "error", code = "unauthorized", title = "Bad " .. auth, detail = "You sent " .. auth } } }))
  end
  local fault = target:match("/fault/([%w-]+)") or target:match("^/users/fault%-(%a+)$") -- the latter for batches
  if fault == "hits" then -- how many requests each fault has had
    return respond(sock, 200, { ["Content-Type"] = "application/json" }, cjson.encode(fault_hits))
  elseif fault then
    fault_hits[fault] = (fault_hits[fault] or 0) + 1
    return fault_route(sock, fault, target)
  end
  if target:find("/reset", 1, true) then -- read the request, then RST the connection
    sock:setoption("linger", { on = true, timeout = 0 })
    sock:close()
    return "closed"
  end
  if target:find("/closing", 1, true) then -- the echo, then the connection closes
    respond(sock, 200, { ["Content-Type"] = "application/json", Connection = "close" },
      cjson.encode({ method = req.method, target = target, peer = req.peer }))
    sock:close()
    return "closed"
  end
  if target:find("/stall", 1, true) then
    sleep(3600)
    return
  end
  local ms = target:match("/delay/(%d+)")
  if ms then sleep(tonumber(ms) / 1000) end
  return respond(sock, 200, { ["Content-Type"] = "application/json", ["X-Echo"] = "yes" },
    cjson.encode({ method = req.method, target = target, headers = req.headers, body = req.body, peer = req.peer }))
end

local function serve(sock)
  while true do
    local line = receive(sock, "*l")
    if not line then break end
    local method, target = line:match("^(%u+) (%S+) HTTP/1%.%d$")
    if not method then break end
    local headers = {}
    while true do
      local h = receive(sock, "*l")
      if not h then sock:close(); return end
      if h == "" then break end
      local k, v = h:match("^([^:]+):%s*(.-)%s*$")
      if k then
        k = k:lower()
        headers[k] = headers[k] and headers[k] .. ", " .. v or v
      end
    end
    local body = ""
    local len = tonumber(headers["content-length"] or "")
    if len and len > 0 then
      body = receive(sock, len)
      if not body then break end
    end
    local _, peer = sock:getpeername()
    heads[sock] = method == "HEAD" or nil
    if handle(sock, { method = method, target = target, headers = headers, body = body, peer = tonumber(peer) }) == "closed" then
      return
    end
    if (headers.connection or ""):lower() == "close" then break end
  end
  sock:close()
end

while true do
  local readers = { server }
  for s in pairs(waiting) do readers[#readers + 1] = s end
  local timeout = 1
  local now = socket.gettime()
  for _, at in pairs(sleepers) do timeout = math.max(0, math.min(timeout, at - now)) end
  local ready = socket.select(readers, nil, timeout)
  for _, s in ipairs(ready) do
    if s == server then
      local client = server:accept()
      if client then
        client:settimeout(0)
        local co = coroutine.create(serve)
        coroutine.resume(co, client)
      end
    else
      local co = waiting[s]
      waiting[s] = nil
      if co then coroutine.resume(co) end
    end
  end
  now = socket.gettime()
  for co, at in pairs(sleepers) do
    if at <= now then
      sleepers[co] = nil
      coroutine.resume(co)
    end
  end
end
