-- Webhook deliveries across a fleet, through a real redis-server on
-- loopback: two plain-Lua processes (examples/webhook_receiver.lua) and two
-- nginx instances (examples/openresty/) stand for hosts behind a load
-- balancer; Redis stops under them and comes back; a host is killed inside
-- its handler; nothing in Redis or in an event is a secret or a body.
local procs = require("support.procs")
local transports = require("support.transports")
local elsewhere = procs.not_in_54()
if elsewhere then describe("webhooks across a fleet, through Redis", function() pending(elsewhere) end) return end
local basiq = require("basiq")
local core = require("basiq.core")
local socket = require("socket")

local SECRET = "whsec_" .. core.b64encode("fleet-webhook-secret-0123456")
local PASSWORD = "redis-pass-webhooks-4c1"
local KEY = "ZmxlZXQta2V5"
local ROOT, sh = procs.ROOT, procs.sh
local LUA_ENV = { "LUA_PATH_5_4=" .. ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;",
  "LUA_CPATH_5_4=" .. ROOT .. "/build/lua5.4/?.so;;" }

local function count(text, plain) return select(2, text:gsub(plain:gsub("%p", "%%%0"), "")) end

-- A Basiq event about an entity on base (its GET counted under key): its
-- body, its signed headers as webhook-id id, and the curl arguments that
-- deliver it; the body's file is removed by done().
local function delivery(id, base, key)
  local body = '{"eventTypeId":"user.created","eventId":"ev-' .. id .. '","links":{"eventEntity":"' .. base
    .. "/flaky/" .. key .. '/0/500/users/entity-private-' .. id .. '"}}'
  local ts = tostring(os.time())
  local path = procs.temp_file(body)
  local headers = { ["webhook-id"] = id, ["webhook-timestamp"] = ts,
    ["webhook-signature"] = basiq.webhook.sign(SECRET, id, ts, body) }
  return {
    id = id, body = body, headers = headers,
    args = "-s -X POST -H 'Content-Type: application/json' -H 'webhook-id: " .. id .. "' -H 'webhook-timestamp: " .. ts
      .. "' -H 'webhook-signature: " .. headers["webhook-signature"] .. "' --data-binary @" .. path,
    done = function() os.remove(path) end,
  }
end

-- d posted to every url at once -> the statuses answered, sorted
local function post(d, urls)
  local targets = {}
  for i, url in ipairs(urls) do targets[i] = "-o /dev/null " .. url end
  local out = sh(procs.PLAIN .. "curl " .. d.args .. " -w 'code=%{http_code}\\n' --parallel --parallel-immediate"
    .. " --parallel-max 50 " .. table.concat(targets, " "))
  local codes = {}
  for c in out:gmatch("code=(%d%d%d)") do codes[#codes + 1] = tonumber(c) end
  table.sort(codes)
  assert(#codes == #urls, out)
  return codes
end

local function tally(codes)
  local n = {}
  for _, c in ipairs(codes) do n[c] = (n[c] or 0) + 1 end
  return n
end

-- Every key and value in Redis, one "key = value" a line.
local function contents(redis)
  local lines = {}
  for key in redis.cli("--scan"):gmatch("%S+") do lines[#lines + 1] = key .. " = " .. redis.cli("GET " .. key) end
  return table.concat(lines, "\n")
end

-- text holds none of the secret, the signature's key, the body or the entity
local function assert_clean(text, d)
  for _, s in ipairs({ SECRET, SECRET:sub(7), d.body, "entity-private-", PASSWORD }) do
    assert.is_nil(text:find(s, 1, true), "'" .. s .. "' is in:\n" .. text)
  end
end

describe("webhooks across a fleet, through Redis", function()
  local srv, redis, n = nil, nil, 0
  setup(function()
    srv = procs.httpd()
    redis = procs.redis_server(nil, PASSWORD)
  end)
  teardown(function()
    redis.stop()
    srv.stop()
  end)

  -- a fresh realm whose every authorised answer takes 0.3 s: a handler
  -- that fetches its entity there runs that long
  local function realm()
    n = n + 1
    return srv.url .. "/tok/60/d300-fleet" .. n
  end
  local function fetched(key) return #procs.get_json(srv.url .. "/flaky/" .. key .. "/stats").attempts end
  local function logs(hosts) return hosts[1].log() .. hosts[2].log() end

  -- Two hosts ({ url, log() }, whose handler fetches its entity from base)
  -- given one delivery `times` times at once, then once each later: the
  -- handler ran once in all; ran(log, id) counts its runs. -> their logs
  local function at_once_and_later(hosts, base, id, times, ran)
    local key = "entity-" .. id
    local d = delivery(id, base, key)
    local urls = {}
    for i = 1, times do urls[i] = hosts[i % 2 + 1].url end
    -- one host runs the handler (0.3 s); the other is told it is in
    -- progress, and both acknowledge it once it is done
    local at_once = post(d, urls)
    local later = post(d, { hosts[1].url, hosts[2].url })
    d.done()
    local log = logs(hosts)
    local t = tally(at_once)
    assert.are.equal(times, (t[200] or 0) + (t[503] or 0), log)
    assert.is_true((t[503] or 0) >= 1, "no attempt was told it is in progress:\n" .. log)
    assert.are.same({ 200, 200 }, later)
    assert.are.equal(1, ran(log, id), log)
    assert.are.equal(1, fetched(key))
    local stored = contents(redis)
    assert.matches("basiq:webhook:" .. id .. " = processed\n", stored .. "\n", 1, true)
    assert_clean(stored, d)
    assert_clean(log, d)
    return log
  end

  -- Redis stopped under two hosts: a delivery answered 503 on both, the
  -- handler not run, said once per host; Redis back: processed once.
  local function stopped_and_back(hosts, base, id, ran)
    local port, key = redis.port, "entity-" .. id
    redis.stop()
    local d = delivery(id, base, key)
    local down = post(d, { hosts[1].url, hosts[2].url, hosts[1].url, hosts[2].url })
    assert.are.same({ 503, 503, 503, 503 }, down, logs(hosts))
    assert.are.equal(0, ran(logs(hosts), id))
    for _, h in ipairs(hosts) do -- once each, not once a delivery
      assert.are.equal(1, count(h.log(), "the webhook delivery store is unavailable"), h.log())
    end
    redis = procs.redis_server(port, PASSWORD)
    local back = post(d, { hosts[1].url, hosts[2].url })
    local again = post(d, { hosts[1].url, hosts[2].url })
    d.done()
    local log = logs(hosts)
    assert.are.equal(1, tally(back)[200], log) -- one processed it; the other was told it is in progress
    assert.are.same({ 200, 200 }, again)
    assert.are.equal(1, ran(log, id), log)
    assert.are.equal(1, fetched(key))
    for _, h in ipairs(hosts) do assert.are.equal(1, count(h.log(), "the webhook delivery store is back"), h.log()) end
    assert_clean(log, d)
    return log
  end

  describe("two plain-Lua hosts running examples/webhook_receiver.lua", function()
    local hosts, base = {}, nil
    setup(function()
      base = realm()
      for i = 1, 2 do
        local port, log = procs.free_port(), os.tmpname()
        local pid = procs.spawn({ "env", "-u", "LD_PRELOAD", "PORT=" .. port, "BASIQ_WEBHOOK_SECRET=" .. SECRET,
          "BASIQ_API_KEY=" .. KEY, "BASIQ_SERVER=" .. base, "REDIS_HOST=127.0.0.1", "REDIS_PORT=" .. redis.port,
          "REDIS_PASSWORD=" .. PASSWORD, "BASIQ_DEBUG=1", LUA_ENV[1], LUA_ENV[2], "lua5.4",
          ROOT .. "/examples/webhook_receiver.lua" }, log)
        assert(procs.wait_port(port, 10, pid), "the receiver did not start: " .. procs.read_file(log))
        hosts[i] = { url = "http://127.0.0.1:" .. port .. "/basiq", pid = pid,
          log = function() return procs.read_file(log) end,
          stop = function() procs.kill(pid); os.remove(log) end }
      end
    end)
    teardown(function() for _, h in ipairs(hosts) do h.stop() end end)
    local function ran(log, id) return count(log, "processed\tuser.created\tev-" .. id .. "\t" .. id) end

    it("process a delivery that reaches both at once, and again later, once in all", function()
      local log = at_once_and_later(hosts, base, "msg_plain_1", 6, ran)
      -- BASIQ_DEBUG=1: a line per delivery answered
      assert.are.equal(1, count(log, "basiq: webhook processed user.created 200"), log)
      assert.are.equal(8, count(log, "basiq: webhook "), log)
    end)

    it("answer 503 without running the handler while Redis is stopped, and process the next delivery once it is back",
      function()
      local log = stopped_and_back(hosts, base, "msg_plain_2", ran)
      assert.are.equal(4, count(log, "basiq: webhook unavailable user.created 503"), log)
    end)
  end)

  it("lets another host process a delivery once the lease of a host killed inside its handler lapses", function()
    local d = delivery("msg_killed", realm(), "unused")
    local headers = d.headers
    local script = procs.temp_file([[
      local basiq = require("basiq")
      local store = basiq.webhook.redisStore({ port = ]] .. redis.port .. [[, password = "]] .. PASSWORD .. [[" })
      basiq.webhook.receive("]] .. SECRET .. [[", { ["webhook-id"] = arg[1], ["webhook-timestamp"] = arg[2],
        ["webhook-signature"] = arg[3] }, arg[4], function()
          print("in the handler")
          io.stdout:flush()
          require("basiq.core").sleep(60)
          return true
        end, { store = store, lease = 3 })
    ]])
    local out = os.tmpname()
    local pid = procs.spawn({ "env", "-u", "LD_PRELOAD", LUA_ENV[1], LUA_ENV[2], "lua5.4", script, d.id,
      headers["webhook-timestamp"], headers["webhook-signature"], d.body }, out)
    local t0 = socket.gettime()
    while not procs.read_file(out):find("in the handler", 1, true) and socket.gettime() - t0 < 10 do socket.sleep(0.05) end
    assert.matches("in the handler", procs.read_file(out), 1, true)
    assert(procs.execute("kill -9 " .. pid))
    -- this process is the other host
    local store = basiq.webhook.redisStore({ port = redis.port, password = PASSWORD })
    local runs = 0
    local function retry()
      return basiq.webhook.receive(SECRET, headers, d.body, function() runs = runs + 1; return true end,
        { store = store, lease = 3 })
    end
    local statuses = { retry() }
    assert.are.same({ 503, "another delivery of this webhook-id is being processed" }, statuses)
    local status
    t0 = socket.gettime()
    repeat
      socket.sleep(0.1)
      status = retry()
    until status ~= 503 or socket.gettime() - t0 > 10
    os.remove(script)
    os.remove(out)
    d.done()
    assert.are.equal(200, status)
    assert.are.equal(1, runs)
    assert.are.same({ 200, "already processed" }, { retry() })
    assert.are.equal(1, runs)
  end)

  it("frees only the mark its delivery holds: a host whose lease lapsed never frees the next holder's", function()
    local d = delivery("msg_lapsed", realm(), "unused")
    local headers = d.headers
    local store = basiq.webhook.redisStore({ port = redis.port, password = PASSWORD })
    local function host(answer, lease) -- a delivery whose handler waits to be resumed, then answers
      local co = coroutine.create(function()
        return basiq.webhook.receive(SECRET, headers, d.body, function() coroutine.yield(); return answer end,
          { store = store, lease = lease })
      end)
      assert(coroutine.resume(co))
      return co
    end
    local slow = host(false, 0.3)
    socket.sleep(0.4) -- its lease lapses while its handler runs
    local next_holder = host(true, 60)
    local held = redis.cli("GET basiq:webhook:msg_lapsed")
    assert.matches("^processing ", held)
    local ok, status = coroutine.resume(slow) -- fails, and frees its own mark: no longer there
    assert.are.same({ true, 500 }, { ok, status })
    assert.are.equal(held, redis.cli("GET basiq:webhook:msg_lapsed"))
    ok, status = coroutine.resume(next_holder)
    d.done()
    assert.are.same({ true, 200 }, { ok, status })
    assert.are.equal("processed\n", redis.cli("GET basiq:webhook:msg_lapsed"))
  end)

  it("gives events for every outcome, with Redis as the store, none holding the secret or the body", function()
    local d = delivery("msg_events", realm(), "unused")
    local headers = d.headers
    local events = {}
    local client = basiq.new({ observe = function(ev) events[#events + 1] = ev end })
    local store = basiq.webhook.redisStore({ port = redis.port, password = PASSWORD, prefix = "events:" })
    local away = basiq.webhook.redisStore({ port = procs.free_port(), password = PASSWORD })
    local function receive(s, handler, h)
      return (basiq.webhook.receive(SECRET, h or headers, d.body, handler, { store = s, client = client }))
    end
    local statuses = {}
    local held = coroutine.create(function()
      statuses[1] = receive(store, function() coroutine.yield(); return false end) -- failed, once resumed
    end)
    assert(coroutine.resume(held))
    statuses[2] = receive(store, function() return true end)                      -- in-progress
    assert(coroutine.resume(held))
    statuses[3] = receive(store, function() return true end)                      -- processed
    statuses[4] = receive(store, function() return true end)                      -- duplicate
    local forged = {}
    for k, v in pairs(headers) do forged[k] = v end
    forged["webhook-signature"] = basiq.webhook.sign("whsec_" .. core.b64encode(("x"):rep(24)), d.id,
      headers["webhook-timestamp"], d.body)
    statuses[5] = receive(store, function() return true end, forged)             -- refused
    local stderr = io.stderr
    io.stderr = { write = function() end } -- luacheck: ignore 122
    statuses[6] = receive(away, function() return true end)                       -- unavailable
    io.stderr = stderr -- luacheck: ignore 122
    d.done()
    assert.are.same({ 500, 503, 200, 200, 400, 503 }, statuses)
    local seen, text = {}, {}
    for _, ev in ipairs(events) do
      seen[#seen + 1] = ev.kind .. " " .. (ev.outcome or ev.code)
      for k, v in pairs(ev) do text[#text + 1] = k .. "=" .. tostring(v) end
    end
    assert.are.same({ "webhook in-progress", "webhook failed", "webhook processed", "webhook duplicate",
      "webhook refused", "store unavailable", "webhook unavailable" }, seen)
    assert_clean(table.concat(text, "\n"), d)
    assert.is_nil(table.concat(text, "\n"):find(headers["webhook-signature"]:sub(4), 1, true))
    assert.are.equal("processed", redis.cli("GET events:webhook:msg_events"):match("%S+"))
  end)

  it("runs the README's fleet example", function()
    local readme = procs.read_file(ROOT .. "/README.md")
    local block = readme:match("```lua\n(local store = basiq%.webhook%.redisStore.-)```")
    assert(block, "the README's fleet example is not there")
    local code, subs = block:gsub('host = "10%.0%.0%.5"', 'host = "127.0.0.1", port = ' .. redis.port)
    assert.are.equal(1, subs)
    local d = delivery("msg_readme", realm(), "unused")
    local headers = d.headers
    local runs = 0
    local env = setmetatable({ basiq = basiq, secrets = { SECRET }, headers = headers, rawBody = d.body,
      handler = function() runs = runs + 1; return true end,
      os = { getenv = function(name) return name == "REDIS_PASSWORD" and PASSWORD or nil end } }, { __index = _G })
    local run = assert(load(code .. "\nreturn status, detail", "README", "t", env))
    local first = { run() }
    local second = { run() }
    d.done()
    assert.are.equal(200, first[1])
    assert.are.equal("user.created", first[2].eventTypeId)
    assert.are.same({ 200, "already processed" }, second)
    assert.are.equal(1, runs)
  end)

  describe("two nginx hosts running examples/openresty/", function()
    local tree, hosts, base = nil, {}, nil

    -- nginx from the example configuration, with the Redis store switched on
    local function host()
      local dir = os.tmpname()
      os.remove(dir)
      assert(procs.execute("mkdir -p " .. dir .. "/logs && cp " .. ROOT .. "/examples/openresty/*.lua " .. dir))
      local port = procs.free_port()
      local conf = procs.read_file(ROOT .. "/examples/openresty/nginx.conf")
      for _, e in ipairs({
        { "worker_processes auto;", "daemon off;\nworker_processes 1;" },
        { "error_log logs/error.log notice;", "error_log logs/error.log info;" },
        { "listen 127.0.0.1:8080;", "listen 127.0.0.1:" .. port .. ";" },
        { "/usr/local/share/lua/5.1/", tree .. "/share/lua/5.1/" },
        { "/usr/local/lib/lua/5.1/", tree .. "/lib/lua/5.1/" },
      }) do
        local subs
        conf, subs = conf:gsub(e[1]:gsub("%p", "%%%0"), (e[2]:gsub("%%", "%%%%")))
        assert(subs >= 1, "the example configuration changed: " .. e[1])
      end
      local f = assert(io.open(dir .. "/nginx.conf", "w"))
      f:write(conf)
      f:close()
      local pid = procs.spawn({ "env", "-u", "LD_PRELOAD", "BASIQ_API_KEY=" .. KEY, "BASIQ_SERVER=" .. base,
        "BASIQ_WEBHOOK_SECRET=" .. SECRET, "REDIS_HOST=127.0.0.1", "REDIS_PORT=" .. redis.port,
        "REDIS_PASSWORD=" .. PASSWORD, "nginx", "-p", dir, "-c", dir .. "/nginx.conf" }, dir .. "/logs/stdout.log")
      local function log() return procs.read_file(dir .. "/logs/error.log") .. procs.read_file(dir .. "/logs/stdout.log") end
      assert(procs.wait_port(port, 10, pid), "nginx did not start:\n" .. log())
      return { url = "http://127.0.0.1:" .. port .. "/webhooks/basiq", log = log,
        stop = function() procs.kill(pid); os.execute("rm -rf " .. dir) end }
    end

    setup(function()
      tree = transports.tree()
      base = realm()
      hosts = { host(), host() }
    end)
    teardown(function()
      for _, h in ipairs(hosts) do h.stop() end
    end)
    local function ran(log, id) return count(log, "processed (webhook " .. id .. ")") end

    it("process a delivery that reaches both at once, and again later, once in all", function()
      local log = at_once_and_later(hosts, base, "msg_ngx_1", 16, ran)
      for i = 1, 2 do -- both hosts answered it
        assert.matches("basiq webhook msg_ngx_1: %d+", hosts[i].log(), nil, false, log)
      end
    end)

    it("answer 503 without running the handler while Redis is stopped, and process the next delivery once it is back",
      function()
      stopped_and_back(hosts, base, "msg_ngx_2", ran)
    end)
  end)
end)
