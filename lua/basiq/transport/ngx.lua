-- The transport inside nginx (OpenResty, or nginx with its Lua module); a
-- client picks it by itself there. Its I/O is nginx's own cosockets, so a
-- call holds no thread; the C core still does HTTP: it writes each request
-- (src/wire.c) and parses each answer (src/reply.c), and this file only
-- moves bytes between them and the socket. It never sends over a
-- connection that another pool, or other code, opened; never returns a
-- connection to the pool unless its answer was complete and keep-alive;
-- and never puts a credential in a message.
local core = require("basiq.shared.lazy")
local stats = require("basiq.transport.ngx_stats")
local tokens = require("basiq.transport.ngx_tokens")

local min, max, floor = math.min, math.max, math.floor

local M = {}

-- where cosockets can yield (timers too)
local PHASES = { server_rewrite = true, rewrite = true, access = true, content = true, timer = true }

local function unusable()
  local phase = ngx.get_phase()
  if PHASES[phase] then return nil end
  return "cannot call the Basiq API in nginx's " .. phase .. " phase, where nginx cannot wait for a socket;"
    .. " call it from rewrite, access or content, or defer it with ngx.timer.at"
end

local function failure(message, code, sent)
  return { message = message, code = code, sent = sent }
end

-- The nginx.conf line a failure's cause calls for, when it is one.
local TLS_HINTS = {
  ["20:"] = "nginx verifies certificates only against lua_ssl_trusted_certificate: nginx.conf's http block"
    .. " needs `lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;` (the system's CAs)",
  ["19:"] = "nginx verifies certificates only against lua_ssl_trusted_certificate: nginx.conf's http block"
    .. " needs `lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;` (the system's CAs)",
  ["18:"] = "nginx verifies certificates only against lua_ssl_trusted_certificate: nginx.conf's http block"
    .. " needs `lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;` (the system's CAs)",
  ["22:"] = "the certificate chain is longer than lua_ssl_verify_depth (1 unless set):"
    .. " nginx.conf's http block needs `lua_ssl_verify_depth 5;`",
}

-- A connect failure's outcome: nothing was sent.
local function connect_failure(err, host)
  if err == "timeout" then return failure("connect to " .. host .. " timed out", "timeout", false) end
  if err:find("no resolver defined", 1, true) then
    return failure("cannot resolve " .. host .. ": nginx resolves names only through its resolver;"
      .. " nginx.conf's http block needs `resolver <your DNS server's address>;`", "resolve", false)
  end
  if err:find("could not be resolved", 1, true) then return failure(err, "resolve", false) end
  return failure("connect to " .. host .. " failed: " .. err, "connect", false)
end

local function tls_failure(err, name)
  local hint = TLS_HINTS[err:sub(1, 3)]
  if err == "certificate host mismatch" then
    err = "the certificate is not for " .. name
  elseif err == "the certificate did not verify" then
    hint = "it is not for " .. name .. ", or not signed by a CA in lua_ssl_trusted_certificate (" .. TLS_HINTS["20:"] .. ")"
  end
  return failure("TLS handshake with " .. name .. " failed: " .. err .. (hint and "; " .. hint or ""), "tls", false)
end

-- Parsers, one per answer being read, kept for the next answers (up to
-- 1,024: a parser kept costs about 2 KiB; one made anew costs its
-- allocations and a finalizer, per call, under load).
local spare, nspare = {}, 0
local function take_reply(req)
  local r = spare[nspare]
  if r then
    spare[nspare] = nil
    nspare = nspare - 1
    r:reset(req.max_body, req.method == "HEAD")
    return r
  end
  return core.reply(req.max_body, req.method == "HEAD")
end
local function give_back(r)
  if nspare < 1024 then
    nspare = nspare + 1
    spare[nspare] = r
  else
    r:close() -- its buffers now, not when the collector gets to it
  end
end

local pool_opts = {}
local function opts_of(pool)
  local o = pool_opts[pool]
  if not o then
    o = { pool = pool }
    pool_opts[pool] = o
  end
  return o
end

local now = function() return core.now() end

-- nginx takes whole milliseconds below 2^31, and reads 0 as its own default
-- (lua_socket_*_timeout, 60 s): every timeout is made one of those, never 0
local MAX_MS = 2147483647
local function ms_of(n) return min(max(floor(n), 1), MAX_MS) end
-- What is left of the budget in milliseconds, or nil when nothing is.
local function left(deadline)
  local ms = floor((deadline - now()) * 1000)
  if ms >= 1 then return min(ms, MAX_MS) end
end

-- One exchange on one connection: its outcome. A pooled connection that
-- the server closes is no reason to send again here: nginx drops pooled
-- connections that close while idle, and whether a request that met a
-- closed connection may go again is the engine's rule (a POST may have
-- arrived), so it fails like any other.
local function exchange(req, wire, pool, host, port, name, t0, deadline)
  local sock = ngx.socket.tcp()
  local ms = ms_of(req.timeout or 60000)
  local connect_ms = min(ms_of(req.connect_timeout or 10000), ms)
  sock:settimeouts(connect_ms, ms, ms)
  local ok, err = sock:connect(host, port, opts_of(pool))
  if not ok then return connect_failure(err, host) end
  local reused, wait = sock:getreusedtimes() > 0, 0
  if not reused then
    -- connecting took time: the handshake (nginx times it by the connect
    -- timeout), the send and the reads have what is left
    ms = left(deadline)
    if not ms then
      sock:close()
      return failure("the call's time ran out before its request was sent", "timeout", false)
    end
    sock:settimeouts(min(connect_ms, ms), ms, ms)
    if name then
      -- Debian's lua-nginx-module 0.10.23 (with lua-resty-core 0.1.25) loses
      -- a verification error when a handshake completes at once, and with
      -- reused_session = false it then returns true (fixed upstream in 2026:
      -- lua-nginx-module #2506). Asking for the session (nil) makes that path
      -- look at the result, where the lost error fails an assertion: caught
      -- here as the verification failure it is.
      local done, session, herr = pcall(sock.sslhandshake, sock, nil, name, true)
      if not (done and session) then
        sock:close()
        return tls_failure(done and tostring(herr) or "the certificate did not verify", name)
      end
    end
    wait = now() - t0 -- the time it took to get a connection: its connect and handshake
    ms = left(deadline)
    if not ms then
      sock:close()
      return failure("the call's time ran out before its request was sent", "timeout", false)
    end
    sock:settimeout(ms)
  end
  -- nginx's cached clock moves only when its event loop runs: unmoved, the
  -- send did not wait, and the first read keeps the timeout just set
  local tick = ngx.now()
  ok, err = sock:send(wire)
  if not ok then
    sock:close()
    return failure("send failed: " .. err, err == "timeout" and "timeout" or "send", true), not reused
  end
  -- the parser is taken when the answer's first bytes come, not for the
  -- wait before them: a call waiting on the server holds none
  local r, want
  local waited = ngx.now() ~= tick
  while true do
    if waited then -- each read after a wait has what is left
      ms = left(deadline)
      if not ms then
        sock:close()
        if r then give_back(r) end
        return failure("the answer did not come in time", "timeout", true), not reused
      end
      sock:settimeout(ms)
    end
    waited = true
    -- a body of known length is read in one go (in pieces of at most 1 MB)
    local data, rerr, partial
    if want then data, rerr, partial = sock:receive(min(want, 1048576))
    else data, rerr = sock:receiveany(65536) end
    local status, headers, body, keep
    if data then
      r = r or take_reply(req)
      status, headers, body, keep = r:feed(data)
    elseif rerr == "closed" then
      r = r or take_reply(req)
      if partial and partial ~= "" then status, headers, body, keep = r:feed(partial) end
      if status == nil then status, headers, body, keep = r:eof() end
    else
      sock:close()
      if r then give_back(r) end
      if rerr == "timeout" then return failure("the answer did not come in time", "timeout", true), not reused end
      return failure("receive failed: " .. rerr, "recv", true), not reused
    end
    if status then
      give_back(r)
      -- setkeepalive refuses a connection with bytes waiting, among others: then it goes
      if not (keep and sock:setkeepalive()) then sock:close() end
      -- time (request() sets it) made here too, so that the table has room for it and for
      -- the engine's data without growing
      return { status = status, headers = headers, body = body, wait = wait, time = 0 }, not reused
    elseif status == false then
      sock:close()
      give_back(r)
      return failure(headers, body, true), not reused
    end
    want = headers -- nil, or the bytes still due
  end
end

local http_request
local function request(_, req)
  if req.cainfo then
    return failure("option caFile cannot apply inside nginx: cosockets verify only against"
      .. " lua_ssl_trusted_certificate; add your CA to the file that line names", "tls", false)
  end
  http_request = http_request or core.http_request
  local wire, pool, host, port, name = http_request(req)
  if not wire then return failure(pool, host, false) end
  local t0 = now()
  local deadline = t0 + (req.timeout or 60000) / 1000
  stats.begin()
  local o, opened = exchange(req, wire, pool, host, port, name, t0, deadline)
  stats.finish(opened, o.wait)
  o.time = now() - t0
  return o
end

-- Many at once on light threads, at most `concurrency` at a time.
local function batch(self, reqs, concurrency)
  local out, n, taken = {}, #reqs, 0
  local function work()
    while taken < n do
      taken = taken + 1
      local i = taken
      out[i] = request(self, reqs[i])
    end
  end
  local threads = {}
  for k = 1, min(concurrency or 16, n) - 1 do threads[k] = ngx.thread.spawn(work) end
  work()
  for k = 1, #threads do ngx.thread.wait(threads[k]) end
  for i = 1, n do
    out[i] = out[i] or failure("the batch's light thread ended early", "network", true)
  end
  return out
end

-- A client's transport inside nginx (transport/init.lua has the contract).
function M.transport()
  return { request = request, batch = batch, now = now, sleep = ngx.sleep, check = unusable,
           store = tokens.store, stats = stats.read }
end

return M
