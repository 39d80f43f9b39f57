-- basiq inside a real nginx (Debian's nginx-core + libnginx-mod-http-lua),
-- from a LuaRocks tree built for LuaJIT, with examples/openresty/'s
-- configuration, driven by the curl command line against the suite's server.
if jit or _VERSION ~= "Lua 5.4" then -- nginx embeds its own LuaJIT, and this spec drives it from outside
  describe("in nginx", function()
    pending("runs once, in the Lua 5.4 run (nginx runs the SDK on its own LuaJIT either way); this is "
      .. (jit and jit.version or _VERSION))
  end)
  return
end

local procs = require("support.procs")
local transports = require("support.transports")
local basiq = require("basiq")
local cjson = require("cjson")
local socket = require("socket")

local ROOT = procs.ROOT
local KEY = "b3BlbnJlc3R5LWtleQ=="
local SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

-- Test-only additions: http level, then locations next to the example's own.
local HTTP_EXTRA = [[
  init_worker_by_lua_block {
    local res, err = require("basiq").getUser({ userId = "w" })
    BASIQ_INIT_WORKER = tostring(err and err.code) .. " " .. tostring(err)
  }
]]
local EXTRA = [[
    location = /tokenlock {
      content_by_lua_block {
        local store = require("basiq.transport.ngx_tokens").store()
        local a = ngx.thread.spawn(function()
          local took = store.lock("spec-lock", 0.1)
          ngx.sleep(0.3) -- slow: its lock lapses, and another takes it
          store.unlock("spec-lock")
          return took
        end)
        ngx.sleep(0.2)
        local b = store.lock("spec-lock", 30)
        local _, a_took = ngx.thread.wait(a)
        local c = store.lock("spec-lock", 30) -- still b's
        store.unlock("spec-lock")
        local d = store.lock("spec-lock", 30)
        store.unlock("spec-lock")
        ngx.say(tostring(a_took), " ", tostring(b), " ", tostring(c), " ", tostring(d))
      }
    }
    server_rewrite_by_lua_block {
      if ngx.var.uri == "/phase/server_rewrite" then
        local res, err = require("basiq").getUser({ userId = "sr" })
        ngx.ctx.out = res and res.data.target or tostring(err)
      end
    }
    location = /phase/server_rewrite { content_by_lua_block { ngx.say(ngx.ctx.out) } }
    location = /tls {
      content_by_lua_block {
        local a = ngx.req.get_uri_args()
        local res, err = require("basiq").new({ server = a.server, caFile = a.ca }).auth("t").getUser({ userId = "t" })
        ngx.say(res and res.status or err.code .. " " .. tostring(err))
      }
    }
    location = /phase/init_worker { content_by_lua_block { ngx.say(BASIQ_INIT_WORKER) } }
    location = /batch {
      content_by_lua_block {
        local c = require("basiq").new({ server = ngx.var.arg_server }).auth("tok")
        local calls = {}
        for i = 1, 8 do calls[i] = { "getUser", { userId = "u" .. i } } end
        local t0 = ngx.now()
        local results, errors = c.batch(calls, { concurrency = 4 })
        ngx.update_time()
        local out = { seconds = ngx.now() - t0 }
        for i = 1, 8 do out[i] = results[i] and results[i].data.target or tostring(errors[i]) end
        ngx.say(require("cjson").encode(out))
      }
    }
    location = /events {
      content_by_lua_block {
        local events = {}
        local c = require("basiq").new({ server = ngx.var.arg_server, observe = function(ev) events[#events + 1] = ev end })
        c.auth("Bearer-secret-token")
        assert(c.getUser({ userId = "e1" }))
        assert(c.getUser({ userId = "e2" }))
        ngx.say(require("cjson").encode(events))
      }
    }
    location = /phase/header_filter {
      content_by_lua_block { ngx.say("ok") }
      header_filter_by_lua_block {
        local basiq = require("basiq")
        local _, err = basiq.getUser({ userId = "u" })
        local _, cerr = basiq.clientToken("u")
        ngx.header["X-Get"] = err.code .. " " .. tostring(err)
        ngx.header["X-Client-Token"] = cerr.code .. " " .. tostring(cerr)
      }
    }
    location ~ ^/get/(.+)$ {
      content_by_lua_block {
        local res, err = require("basiq").getUser({ userId = ngx.var[1] })
        ngx.say(res and res.data.token or ("error " .. tostring(err)), " pid=", ngx.worker.pid())
      }
    }
    location = /down {
      content_by_lua_block {
        local c = require("basiq").new({ server = "http://127.0.0.1:1", retries = 0 }).auth("tok")
        local res, err = c.getUser({ userId = "u1" })
        ngx.say(tostring(res), " ", err.code, " ", tostring(err.curlcode))
      }
    }
    location = /timer {
      content_by_lua_block {
        local out
        ngx.timer.at(0, function()
          local res, err = require("basiq").getUser({ userId = "t1" })
          out = res and "timer got " .. res.data.target or "timer error " .. tostring(err)
        end)
        for _ = 1, 100 do if out then break end ngx.sleep(0.05) end
        ngx.say(out)
      }
    }
    location = /jobs {
      content_by_lua_block {
        local a = ngx.req.get_uri_args()
        local ids = {}
        for id in a.ids:gmatch("[^,]+") do ids[#ids + 1] = id end
        local c = require("basiq").new({ server = a.server }).auth("tok")
        local results, errors = c.waitForJobs(ids, { interval = 30, timeout = tonumber(a.timeout) })
        for _, id in ipairs(ids) do ngx.say(id, " ", results[id] and "success" or errors[id].code) end
      }
    }
    location = /phase/log {
      content_by_lua_block { ngx.say("ok") }
      log_by_lua_block {
        local res, err = require("basiq").getUser({ userId = "u" })
        ngx.log(ngx.ERR, "phase-check ", tostring(err and err.code), " ", tostring(err))
      }
    }
    location = /phase/set {
      set_by_lua_block $r {
        local res, err = require("basiq").getUser({ userId = "u" })
        return err and err.code .. " " .. tostring(err) or "no error"
      }
      return 200 "$r\n";
    }
]]

-- An nginx from the example configuration: { url, stop(), log() }; edits
-- = { { from, to }, ... } changes it further.
local function nginx(tree, workers, backend, edits)
  local dir = os.tmpname()
  os.remove(dir)
  assert(procs.execute("mkdir -p " .. dir .. "/logs && cp " .. ROOT .. "/examples/openresty/*.lua " .. dir))
  local port = procs.free_port()
  local conf = procs.read_file(ROOT .. "/examples/openresty/nginx.conf")
  local function sub(from, to)
    local n
    conf, n = conf:gsub(from:gsub("%p", "%%%0"), (to:gsub("%%", "%%%%")))
    assert(n == 1, "the example configuration changed: " .. from)
  end
  sub("worker_processes auto;", "daemon off;\nworker_processes " .. workers .. ";")
  sub("listen 127.0.0.1:8080;", "listen 127.0.0.1:" .. port .. ";\n" .. EXTRA)
  sub("lua_shared_dict basiq 1m;", "lua_shared_dict basiq 1m;\n" .. HTTP_EXTRA)
  for _, e in ipairs(edits or {}) do sub(e[1], e[2]) end
  sub('"/usr/local/share/lua/5.1/?.lua;/usr/local/share/lua/5.1/?/init.lua;;"',
    '"' .. tree .. "/share/lua/5.1/?.lua;" .. tree .. '/share/lua/5.1/?/init.lua;;"')
  sub('"/usr/local/lib/lua/5.1/?.so;;"', '"' .. tree .. '/lib/lua/5.1/?.so;;"')
  local f = assert(io.open(dir .. "/nginx.conf", "w"))
  f:write(conf)
  f:close()
  local pid = procs.spawn({ "env", "-u", "LD_PRELOAD", "BASIQ_API_KEY=" .. KEY, "BASIQ_SERVER=" .. backend,
    "BASIQ_CONSENT_SERVER=" .. backend, -- basiq mock serves both, as Basiq's Consent UI at its root
    "BASIQ_WEBHOOK_SECRET=" .. SECRET, "nginx", "-p", dir, "-c", dir .. "/nginx.conf" }, dir .. "/logs/stdout.log")
  local up = procs.wait_port(port, 10, pid)
  local function log() return procs.read_file(dir .. "/logs/error.log") .. procs.read_file(dir .. "/logs/stdout.log") end
  assert(up, "nginx did not start:\n" .. log())
  return {
    url = "http://127.0.0.1:" .. port, log = log,
    stop = function() procs.kill(pid); os.execute("rm -rf " .. dir) end,
  }
end

describe("in nginx", function()
  local srv, tree, one, n = nil, nil, nil, 0

  -- a fresh token realm on the suite's server: base URL and its stats
  local function realm(prefix)
    n = n + 1
    local base = srv.url .. "/tok/60/" .. prefix .. n
    return base, function()
      return cjson.decode(sh("curl -s " .. base .. "/stats")).issued
    end
  end

  setup(function()
    srv = procs.httpd()
    tree = transports.tree()
  end)
  teardown(function()
    if one then one.stop() end
    srv.stop()
  end)

  it("creates a user through the example route, with an automatic token", function()
    local base, issued = realm("ng")
    one = nginx(tree, 1, base)
    local out = sh("curl -s -w '\\n%{http_code}' -X POST -H 'Content-Type: application/json' --data "
      .. "'{\"email\":\"gavin@hooli.com\",\"firstName\":\"Gavin\"}' " .. one.url .. "/users")
    local body, code = out:match("^(.*)\n(%d+)$")
    assert.are.equal("201", code, out .. one.log())
    local seen = cjson.decode(body) -- the backend's echo of what it received
    assert.are.equal("POST", seen.method)
    assert.matches("/users$", seen.target)
    assert.are.same({ email = "gavin@hooli.com", firstName = "Gavin" }, cjson.decode(seen.body))
    assert.are.equal(issued()[1].token, seen.token)
    assert.are.equal("Basic " .. KEY, issued()[1].key)
    one.stop()
    one = nil
  end)

  it("serves 10 calls of 0.3 s each together on one worker", function()
    local base = realm("d300-")
    one = nginx(tree, 1, base)
    local urls = {}
    for i = 1, 10 do urls[i] = one.url .. "/get/u" .. i end
    assert.matches("^d300%-%d+%-1", sh("curl -s " .. urls[1])) -- warm: the token is fetched
    local t0 = socket.gettime()
    local out = sh("curl -s --parallel --parallel-immediate --parallel-max 10 " .. table.concat(urls, " "))
    local elapsed = socket.gettime() - t0
    local answers = select(2, out:gsub("d300%-%d+%-1", ""))
    assert.are.equal(10, answers, out .. one.log())
    -- one after another would take 3 s; together they take about 0.3 s
    assert.is_true(elapsed < 1.5, "10 calls of 0.3 s took " .. elapsed .. " s on one worker")
  end)

  it("reports a network failure as nil, err", function()
    assert.are.equal("nil connect nil\n", sh("curl -s " .. one.url .. "/down"))
  end)

  it("works in a timer and in server_rewrite, and says so clearly in phases that cannot do I/O", function()
    assert.matches("^timer got /tok/60/d300%-%d+/users/t1", sh("curl -s " .. one.url .. "/timer"))
    assert.matches("^/tok/60/d300%-%d+/users/sr\n", sh("curl -s " .. one.url .. "/phase/server_rewrite"))
    local set = sh("curl -s " .. one.url .. "/phase/set")
    assert.matches("^phase basiq.getUser: cannot call the Basiq API in nginx's set phase", set)
    assert.matches("^phase basiq.getUser: cannot call the Basiq API in nginx's init_worker phase, where nginx"
      .. " cannot wait for a socket; call it from rewrite, access or content, or defer it with ngx.timer.at",
      sh("curl -s " .. one.url .. "/phase/init_worker"))
    local hf = sh("curl -s -D - -o /dev/null " .. one.url .. "/phase/header_filter")
    assert.matches("X%-Get: phase basiq.getUser: cannot call the Basiq API in nginx's header_filter phase", hf)
    assert.matches("X%-Client%-Token: phase basiq.clientToken: cannot call the Basiq API in nginx's header_filter", hf)
    sh("curl -s " .. one.url .. "/phase/log")
    local log
    for _ = 1, 20 do -- the log phase runs after the answer went out
      log = one.log()
      if log:find("phase-check", 1, true) then break end
      socket.sleep(0.05)
    end
    assert.matches("phase-check phase basiq.getUser: cannot call the Basiq API in nginx's log phase", log, 1, true)
  end)

  it("waits for jobs at once in light threads, the worker serving others meanwhile", function()
    local ids = { "ok-ng1", "mfa-ng1", "fail-ng1", "slow-ng1" }
    local t0 = socket.gettime()
    local out = sh("curl -s '" .. one.url .. "/jobs?timeout=600&server=" .. srv.url .. "/jobsim&ids=" .. table.concat(ids, ",")
      .. "' & sleep 0.2; curl -s " .. one.url .. "/phase/init_worker; wait")
    local elapsed = socket.gettime() - t0
    -- the other request, answered while the jobs were waited for, comes first
    assert.are.equal("phase basiq.getUser: cannot call the Basiq API in nginx's init_worker phase, where nginx cannot"
      .. " wait for a socket; call it from rewrite, access or content, or defer it with ngx.timer.at\n"
      .. "ok-ng1 success\nmfa-ng1 mfa-required\nfail-ng1 authorization-failed\nslow-ng1 timeout\n", out)
    assert.is_true(elapsed < 1.5, "waited " .. elapsed .. " s for one 0.6 s timeout")
    local first, second = 0, math.huge
    for _, id in ipairs(ids) do
      local t = procs.get_json(srv.url .. "/jobsim/jobs/" .. id .. "/stats").times
      first = math.max(first, t[1])
      if t[2] then second = math.min(second, t[2]) end
    end
    assert.is_true(first < second, "the jobs were polled one after another")
  end)

  it("verifies TLS on nginx's sockets, against lua_ssl_trusted_certificate", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(procs.execute("mkdir -p " .. dir .. " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=lo"
      .. " -addext subjectAltName=DNS:localhost -keyout " .. dir .. "/k.pem -out " .. dir .. "/c.pem 2>/dev/null"))
    local port = procs.free_port()
    local pid = procs.spawn({ "openssl", "s_server", "-accept", "127.0.0.1:" .. port, "-cert", dir .. "/c.pem",
      "-key", dir .. "/k.pem", "-www", "-quiet" }, dir .. "/s_server.log")
    assert(procs.wait_port(port, 10, pid), "openssl s_server did not start")
    local path = "/tls?server=https://localhost:" .. port
    -- the example trusts the system's CAs only
    local refused = sh("curl -s '" .. one.url .. path .. "'")
    local ca = sh("curl -s '" .. one.url .. path .. "&ca=" .. dir .. "/c.pem'")
    local ng = nginx(tree, 1, srv.url, { { "lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;",
      "lua_ssl_trusted_certificate " .. dir .. "/c.pem;" } })
    local trusted = sh("curl -s '" .. ng.url .. path .. "'")
    ng.stop()
    procs.kill(pid)
    os.execute("rm -rf " .. dir)
    assert.matches("^tls basiq.getUser: tls error: TLS handshake with localhost failed: .*certificate.*"
      .. "lua_ssl_trusted_certificate", refused)
    assert.matches("^tls basiq.getUser: tls error: option caFile cannot apply inside nginx", ca)
    assert.are.equal("200\n", trusted)
  end)

  it("verifies webhooks in the example route", function()
    local body = '{"eventTypeId":"connection.created","eventId":"e1"}'
    local ts = tostring(os.time())
    local function post(sig, payload)
      return sh("curl -s -o /dev/null -w '%{http_code}' -X POST -H 'webhook-id: msg_1' -H 'webhook-timestamp: " .. ts
        .. "' -H 'webhook-signature: " .. sig .. "' --data-binary " .. procs.sh_quote(payload) .. " "
        .. one.url .. "/webhooks/basiq")
    end
    local sig = basiq.webhook.sign(SECRET, "msg_1", ts, body)
    assert.are.equal("400", post(sig, (body:gsub("e1", "e2"))))
    assert.are.equal("200", post(sig, body))
    one.stop()
    one = nil
  end)

  describe("receives each webhook delivery once", function()
    local ng, base, n_id = nil, nil, 0
    local ts = tostring(os.time())
    setup(function()
      base = realm("d300-") -- every authorised answer (the entity's GET) takes 0.3 s
      ng = nginx(tree, 2, base, { { "error_log logs/error.log notice;", "error_log logs/error.log info;" } })
    end)
    teardown(function() ng.stop() end)

    -- a fresh delivery about an entity on the client's server: id, curl
    -- arguments for posting it, and the entity's flaky key
    local function delivery(fails)
      n_id = n_id + 1
      local id, key = "msg_ng" .. n_id, "ngx-entity-" .. n_id
      local body = '{"eventTypeId":"user.created","eventId":"ev' .. n_id .. '","links":{"eventEntity":"' .. base
        .. "/flaky/" .. key .. "/" .. fails .. '/500/users/u1"}}'
      local path = procs.temp_file(body)
      local args = "-s --no-progress-meter -X POST -H 'webhook-id: " .. id .. "' -H 'webhook-timestamp: " .. ts
        .. "' -H 'webhook-signature: " .. basiq.webhook.sign(SECRET, id, ts, body) .. "' --data-binary @" .. path
      return id, args, key
    end
    local function post(args, times)
      local urls = {}
      for i = 1, times or 1 do urls[i] = "-o /dev/null " .. ng.url .. "/webhooks/basiq" end
      local out = sh("curl " .. args .. " -w 'code=%{http_code}\\n' --parallel --parallel-immediate --parallel-max 50 "
        .. table.concat(urls, " "))
      local codes = {}
      for c in out:gmatch("code=(%d%d%d)") do codes[#codes + 1] = c end
      return codes, out
    end
    -- which workers answered id how ({ ["503 another"] = { [pid] = true }, ["200 processed"] = ... }),
    -- and how often it was processed
    local function seen(id)
      local log, by = ng.log(), {}
      for pid, status in log:gmatch("%[%a+%] (%d+)#%d+: [^\n]-basiq webhook " .. id .. ": (%d+ %a+)") do
        by[status] = by[status] or {}
        by[status][pid] = true
      end
      local processed = select(2, log:gsub("processed %(webhook " .. id .. "%)", ""))
      return by, processed, log
    end
    local function attempts(key) return #procs.get_json(srv.url .. "/flaky/" .. key .. "/stats").attempts end
    -- one delivery sent three times, one after another: its statuses, how
    -- often it was processed, how often its entity was fetched; the log, its id
    local function thrice(fails)
      local id, args, key = delivery(fails)
      local codes = {}
      for i = 1, 3 do codes[i] = post(args)[1] end
      local _, processed, log = seen(id)
      return codes, processed, attempts(key), log, id
    end

    it("acknowledges a duplicate once the event is processed", function()
      local codes, processed, fetched, log = thrice(0)
      assert.are.same({ "200", "200", "200" }, codes, log)
      assert.are.same({ 1, 1 }, { processed, fetched }, log)
    end)

    it("processes concurrent deliveries of one id once, across two workers", function()
      -- the kernel picks which worker accepts: rounds until the worker that did
      -- not process a delivery was told, by the other's mark, that it was in progress
      local across, log
      for _ = 1, 10 do
        local id, args, key = delivery(0)
        local codes, out = post(args, 20)
        local by, processed
        by, processed, log = seen(id)
        assert.are.equal(20, #codes, out .. log)
        local count = {}
        for _, c in ipairs(codes) do count[c] = (count[c] or 0) + 1 end
        -- one processed it (its entity takes 0.3 s); the rest were told to
        -- retry later, or came after it and were acknowledged
        assert.are.equal(1, processed, log)
        assert.are.equal(1, attempts(key))
        assert.is_true((count["503"] or 0) >= 1 and (count["503"] or 0) + (count["200"] or 0) == 20, out)
        assert.are.same({ "200" }, post(args)) -- once done, acknowledged
        assert.are.equal(1, select(2, seen(id)))
        local busy = by["503 another"] or {}
        for pid in pairs(by["200 processed"] or {}) do busy[pid] = nil end
        if next(busy) then across = true; break end
      end
      assert.is_true(across, "one worker answered every delivery in ten rounds:\n" .. log)
    end)

    it("answers a failing handler so that the delivery is retried, and a later attempt succeeds", function()
      local codes, processed, fetched, log, id = thrice(1) -- the entity's first GET fails with a 500
      assert.are.same({ "500", "200", "200" }, codes, log)
      assert.are.same({ 1, 2 }, { processed, fetched }, log)
      assert.matches("basiq webhook " .. id .. ": basiq.webhook.receive: the handler returned false: basiq.follow: HTTP 500",
        log, 1, true)
    end)

    it("reads a body that nginx spooled to a file, and refuses one over 1 MB", function()
      local function send(id, body)
        local path = procs.temp_file(body)
        local code = sh("curl -s -o /dev/null -w '%{http_code}' -X POST -H 'webhook-id: " .. id .. "' -H 'webhook-timestamp: "
          .. ts .. "' -H 'webhook-signature: " .. basiq.webhook.sign(SECRET, id, ts, body) .. "' --data-binary @" .. path
          .. " " .. ng.url .. "/webhooks/basiq")
        os.remove(path)
        return code
      end
      -- over client_body_buffer_size (16k): nginx keeps it in a temporary file
      local big = '{"eventTypeId":"user.updated","eventId":"big","pad":"' .. ("x"):rep(40000) .. '"}'
      assert.are.equal("200", send("msg_big", big))
      local _, processed, log = seen("msg_big")
      assert.are.equal(1, processed, log)
      assert.matches("a client request body is buffered to a temporary file", log, 1, true)
      assert.are.equal("413", send("msg_huge", '{"pad":"' .. ("x"):rep(1024 * 1024) .. '"}'))
    end)
  end)

  it("walks the consent journey through the example's routes, against basiq mock", function()
    local mock = procs.mock({ "--transactions", "2" })
    local app = nginx(tree, 1, mock.url)
    local c = basiq.new({ server = mock.url, apiKey = KEY })
    local uid = assert(c.createUser({ email = "gavin@hooli.com" })).data.id
    local function get(url, cookie)
      local out = sh("curl -s -D - " .. (cookie and "-H 'Cookie: " .. cookie .. "' " or "") .. procs.sh_quote(url))
      local head, body = out:match("^(.-)\r\n\r\n(.*)$")
      return tonumber(head:match("^HTTP/1.1 (%d+)")), head, body
    end
    -- start: a redirect to the Consent UI, the state in a cookie
    local status, head = get(app.url .. "/consent/start?userId=" .. uid)
    local _, body
    assert.are.equal(302, status, head .. app.log())
    local consent = head:match("\r\nLocation: (%S+)")
    local state = head:match("\r\nSet%-Cookie: basiq_state=([%w_-]+); Path=/consent; Max%-Age=3600; HttpOnly; Secure; SameSite=Lax")
    assert.matches("^" .. mock.url:gsub("%p", "%%%0") .. "/home%?token=mock%-", consent)
    assert.are.equal(43, #state)
    -- the Consent UI sends the browser back with jobIds and the state
    local back = procs.sh("curl -s -o /dev/null -w '%{redirect_url}' " .. procs.sh_quote(consent))
    local query = assert(back:match("%?(jobIds=[^&]+&state=.*)$"), back)
    -- return, without the cookie, or another visit's: refused
    status, _, body = get(app.url .. "/consent/return?" .. query)
    assert.are.equal(403, status)
    assert.matches("no state was kept for this visit", cjson.decode(body).error, 1, true)
    status, _, body = get(app.url .. "/consent/return?" .. query, "basiq_state=" .. state:reverse())
    assert.are.equal(403, status)
    assert.matches("the redirect's state is not the one kept for this visit", cjson.decode(body).error, 1, true)
    -- with it: the jobs waited for, the accounts shown
    local t0 = socket.gettime()
    status, head, body = get(app.url .. "/consent/return?" .. query, "basiq_state=" .. state)
    assert.are.equal(200, status, body .. app.log())
    local page = cjson.decode(body)
    local job = query:match("^jobIds=([%x-]+)&")
    assert.are.same({ [job] = "success" }, page.jobs)
    assert.are.equal(2, #page.accounts)
    assert.are.same({ "Everyday Account", "AU00000" }, { page.accounts[1].name, page.accounts[1].institution })
    assert.matches("basiq_state=; Path=/consent; Max%-Age=0", head)
    assert.is_true(socket.gettime() - t0 < 10)
    -- used once: the same redirect again finds no visit
    status, _, body = get(app.url .. "/consent/return?" .. query, "basiq_state=" .. state)
    assert.are.equal(403, status)
    assert.are.equal("this visit has expired; start again", cjson.decode(body).error)
    local log = app.log()
    app.stop()
    mock.stop()
    assert.is_nil(log:find(consent:match("token=([^&]+)"), 1, true), "the token reached nginx's log")
  end)

  it("shares one token among workers through lua_shared_dict basiq", function()
    local base, issued = realm("shared")
    local two = nginx(tree, 2, base)
    local urls = {}
    for i = 1, 20 do urls[i] = two.url .. "/get/u" .. i end
    -- until both workers have answered (the kernel picks who accepts)
    local pids, answers, out = {}, 0, ""
    for _ = 1, 10 do
      out = sh("curl -s --parallel --parallel-max 20 " .. table.concat(urls, " "))
      for tok, pid in out:gmatch("(%S+) pid=(%d+)") do
        pids[pid] = true
        if tok:match("^shared%d+%-1$") then answers = answers + 1 end
      end
      if next(pids, next(pids)) then break end
    end
    local log = two.log()
    two.stop()
    assert.is_truthy(next(pids, next(pids)), "only one worker answered:\n" .. out .. log)
    assert.is_true(answers >= 20, out .. log)
    assert.are.equal(1, #issued()) -- both workers used the one token
  end)

  it("frees a token renewal's lock in lua_shared_dict basiq only for its holder", function()
    local ng = nginx(tree, 1, srv.url)
    local out = sh("curl -s " .. ng.url .. "/tokenlock")
    ng.stop()
    -- a took it; it lapsed and b took it; a's unlock left b's alone; b's own freed it
    assert.are.equal("true true false true\n", out)
  end)

  it("names the resolver line when a host name needs one", function()
    local ng = nginx(tree, 1, srv.url, { { "resolver 127.0.0.53 ipv6=off;", "" } })
    local out = sh("curl -s " .. ng.url .. "/tls?server=https://api.basiq.invalid")
    ng.stop()
    assert.matches("^resolve basiq.getUser: resolve error: cannot resolve api.basiq.invalid: nginx resolves names"
      .. " only through its resolver; nginx.conf's http block needs `resolver ", out)
  end)

  it("stops at start, naming the line, when a lua_shared_dict the example needs is missing", function()
    for _, line in ipairs({ "lua_shared_dict basiq_webhooks 10m;", "lua_shared_dict basiq 1m;" }) do
      local ok, err = pcall(nginx, tree, 1, srv.url, { { line, "" } })
      assert.is_false(ok)
      assert.matches("basiq.checkNginx: nginx.conf's http block needs `" .. line .. "`", err, 1, true)
    end
  end)
  it("starts with the command in the example's own header, from a checkout", function()
    local conf = procs.read_file(ROOT .. "/examples/openresty/nginx.conf")
    local cmd = assert(conf:match("\n#   (BASIQ_API_KEY=%S+ BASIQ_WEBHOOK_SECRET=%S+ nginx %-p examples/openresty %-c nginx%.conf)\n"))
    local base, issued = realm("header")
    -- as if basiq were installed in /usr/local: LuaJIT takes the tree from LUA_PATH for the ;; of lua_package_path
    local env = "cd " .. ROOT .. " && env -u LD_PRELOAD LUA_PATH='" .. tree .. "/share/lua/5.1/?.lua;" .. tree
      .. "/share/lua/5.1/?/init.lua;;' LUA_CPATH='" .. tree .. "/lib/lua/5.1/?.so;;' BASIQ_SERVER=" .. base .. " "
    local out = sh(env .. cmd:gsub("BASIQ_API_KEY=%S+", "BASIQ_API_KEY=" .. KEY):gsub("BASIQ_WEBHOOK_SECRET=%S+",
      "BASIQ_WEBHOOK_SECRET=" .. SECRET) .. "; echo exit:$?")
    local up = out:match("exit:0") and procs.wait_port(8080, 10)
    local created = up and sh("curl -s -X POST --data '{\"email\":\"a@b.c\"}' http://127.0.0.1:8080/users") or ""
    sh("cd " .. ROOT .. " && env -u LD_PRELOAD nginx -p examples/openresty -c nginx.conf -s stop")
    local log = procs.read_file(ROOT .. "/examples/openresty/logs/error.log")
    assert.truthy(up, out .. log)
    assert.matches('"method":"POST"', created, 1, true)
    assert.are.equal(1, #issued())
  end)
  it("runs a batch at once on light threads, under its concurrency cap", function()
    local ng = nginx(tree, 1, srv.url)
    local text = sh("curl -s '" .. ng.url .. "/batch?server=" .. srv.url .. "/inflight/nb/300'")
    local log = ng.log()
    ng.stop()
    local out = cjson.decode(text)
    assert.is_table(out, text .. log)
    local stats = cjson.decode(sh("curl -s " .. srv.url .. "/inflight/nb/stats"))
    for i = 1, 8 do assert.are.equal("/inflight/nb/300/users/u" .. i, out[tostring(i)] or out[i], text) end
    assert.are.equal(8, stats.total)
    assert.are.equal(4, stats.max) -- four at once, never more
    -- two waves of 0.3 s, not eight one after another (2.4 s)
    assert.is_true(out.seconds >= 0.55 and out.seconds < 2, "8 calls of 0.3 s, 4 at a time, took " .. out.seconds .. " s")
  end)

  it("gives each attempt an event with its wait for a connection, and no credential", function()
    local ng = nginx(tree, 1, srv.url)
    local text = sh("curl -s '" .. ng.url .. "/events?server=" .. srv.url .. "'")
    ng.stop()
    local events = cjson.decode(text)
    assert.are.equal(2, #events)
    for _, ev in ipairs(events) do
      assert.are.equal("attempt", ev.kind)
      assert.are.equal(200, ev.status)
      assert.is_number(ev.waitMs)
    end
    assert.is_true(events[1].waitMs > 0) -- a new connection: its connect
    assert.are.equal(0, events[2].waitMs) -- the pooled one: no wait
    assert.is_nil(text:find("secret-token", 1, true), text)
  end)
  it("runs the README's nginx.conf lines as written", function()
    local readme = procs.read_file(ROOT .. "/README.md")
    local block = readme:match("## OpenResty and nginx.-```nginx\n(.-)```")
    assert(block, "the README's nginx block is not there")
    local mock = procs.mock() -- a local Basiq, as the block's BASIQ_SERVER line allows
    local conf = block:gsub("listen 127%.0%.0%.1:8080;", "listen 127.0.0.1:@PORT@;"):gsub("http {", "http {\n@NGINX_HTTP@", 1)
    local ng = procs.nginx("worker_processes 1;\nevents { worker_connections 64; }\n" .. conf, tree, nil,
      { "BASIQ_API_KEY=" .. KEY, "BASIQ_SERVER=" .. mock.url })
    local id = sh("curl -s " .. ng.url .. "/users"):gsub("%s+$", "")
    ng.stop()
    local user, err = basiq.new({ server = mock.url, apiKey = KEY }).getUser({ userId = id })
    mock.stop()
    assert.is_nil(err, id)
    assert.are.equal("gavin@hooli.com", user.data.email) -- the user the block created
  end)
end)
