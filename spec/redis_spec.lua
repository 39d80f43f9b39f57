-- A fleet sharing its tokens through a real redis-server on loopback: two
-- plain-Lua processes and two nginx instances stand for hosts; Redis
-- restarts and stops under them; nothing in Redis is the API key.
local procs = require("support.procs")
local transports = require("support.transports")
local elsewhere = procs.not_in_54()
if elsewhere then describe("a fleet sharing tokens through Redis", function() pending(elsewhere) end) return end
local cjson = require("cjson")
local socket = require("socket")

local KEY = "ZmxlZXQta2V5OmZsZWV0LXNlY3JldC12YWx1ZQ=="
local PASSWORD = "redis-pass-7f3a"
local sh = procs.sh

local function redis_server(port) return procs.redis_server(port, PASSWORD) end

-- A plain-Lua host: runs body (Lua source) with `basiq`, `c` (a client on
-- the shared store) and arg[1] = the token stand-in's base URL.
local function host_script(port, body)
  return procs.temp_file([[
    local basiq = require("basiq")
    local c = basiq.new({ server = arg[1], apiKey = "]] .. KEY .. [[",
      tokenStore = basiq.redisStore({ port = ]] .. port .. [[, password = "]] .. PASSWORD .. [[", timeout = 300 }) })
    ]] .. body)
end

local ROOT = procs.ROOT
local LUA = "env -u LD_PRELOAD LUA_PATH_5_4='" .. ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;' LUA_CPATH_5_4='"
  .. ROOT .. "/build/lua5.4/?.so;;' lua5.4 "

describe("a fleet sharing tokens through Redis", function()
  local srv, n = nil, 0
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  -- a fresh realm on the token stand-in: its base URL and what it issued
  local function realm()
    n = n + 1
    local base = srv.url .. "/tok/60/fleet" .. n
    return base, function() return procs.get_json(base .. "/stats").issued end
  end

  local function count(issued, scope, user)
    local k = 0
    for _, t in ipairs(issued) do
      if t.scope == scope and (not user or t.userId == user) then k = k + 1 end
    end
    return k
  end

  it("has two plain-Lua hosts fetch one SERVER_ACCESS token and one CLIENT_ACCESS token per user", function()
    local redis = redis_server()
    local base, issued = realm()
    local script = host_script(redis.port, [[
      for i = 1, 5 do assert(c.getUser({ userId = "u" .. i })) end
      assert(c.clientToken("user-a")); assert(c.clientToken("user-b"))
      print("host ok")
    ]])
    local outs = { os.tmpname(), os.tmpname() }
    for i = 1, 2 do os.execute(LUA .. script .. " " .. base .. " > " .. outs[i] .. " 2>&1 &") end
    local t0 = socket.gettime()
    while socket.gettime() - t0 < 20 do
      if procs.read_file(outs[1]):find("host ok") and procs.read_file(outs[2]):find("host ok") then break end
      socket.sleep(0.1)
    end
    local o1, o2 = procs.read_file(outs[1]), procs.read_file(outs[2])
    os.remove(outs[1]); os.remove(outs[2]); os.remove(script)
    local list = issued()
    local keys = redis.cli("--scan")
    redis.stop()
    assert.matches("host ok", o1, 1, true)
    assert.matches("host ok", o2, 1, true)
    assert.are.equal(1, count(list, "SERVER_ACCESS"), cjson.encode(list))
    assert.are.equal(1, count(list, "CLIENT_ACCESS", "user-a"), cjson.encode(list))
    assert.are.equal(1, count(list, "CLIENT_ACCESS", "user-b"), cjson.encode(list))
    assert.are.equal(3, #list)
    assert.matches("basiq:", keys, 1, true) -- the tokens were in Redis
  end)

  it("keeps working while Redis restarts, and uses it again once it is back", function()
    local redis = redis_server()
    local base, issued = realm()
    local script = host_script(redis.port, [[
      local t0 = require("basiq.core").now()
      local calls = 0
      while require("basiq.core").now() - t0 < 3 do
        assert(c.getUser({ userId = "u" }))
        assert(c.clientToken("user-" .. calls)) -- a new user each time: the store is asked every time
        calls = calls + 1
        require("basiq.core").sleep(0.02)
      end
      print("calls " .. calls)
    ]])
    local out = os.tmpname()
    os.execute(LUA .. script .. " " .. base .. " > " .. out .. " 2>&1 &")
    socket.sleep(1)
    local port = redis.port
    redis.stop()
    socket.sleep(0.5)
    redis = redis_server(port)
    local t0 = socket.gettime()
    while socket.gettime() - t0 < 15 and not procs.read_file(out):find("calls %d+") do socket.sleep(0.1) end
    local o = procs.read_file(out)
    os.remove(out)
    os.remove(script)
    assert.matches("calls %d+", o)
    assert.is_true(tonumber(o:match("calls (%d+)")) > 20, o)
    assert.matches("the token store is unavailable", o, 1, true)
    assert.matches("the token store is back", o, 1, true)
    local before = count(issued(), "SERVER_ACCESS")
    -- Redis came back empty: the next host fetches once, and the one after finds it there
    local once = host_script(redis.port, [[ assert(c.getUser({ userId = "x" })); print("ok") ]])
    assert.matches("ok", sh(LUA .. once .. " " .. base), 1, true)
    assert.matches("ok", sh(LUA .. once .. " " .. base), 1, true)
    os.remove(once)
    redis.stop()
    assert.are.equal(before + 1, count(issued(), "SERVER_ACCESS"))
  end)

  it("falls back when Redis is down, says so once in the log and in an event, and calls keep working", function()
    local base = realm()
    local script = host_script(procs.free_port(), [[
      local events = {}
      c.config({ observe = function(ev) if ev.kind == "store" then events[#events + 1] = ev.code end end })
      for i = 1, 5 do assert(c.getUser({ userId = "u" .. i })) end
      print("events " .. table.concat(events, ","))
    ]])
    local t0 = socket.gettime()
    local out = sh(LUA .. script .. " " .. base)
    local elapsed = socket.gettime() - t0
    os.remove(script)
    assert.matches("events unavailable\n", out, 1, true)
    local _, logged = out:gsub("the token store is unavailable", "")
    assert.are.equal(1, logged, out)
    assert.is_true(elapsed < 10, "five calls took " .. elapsed .. " s")
  end)

  -- Redis up but answering errors: out of memory, with nothing to evict
  it("falls back inside nginx when Redis answers a command with an error, and says so", function()
    local redis = redis_server()
    redis.cli("CONFIG SET maxmemory-policy noeviction")
    redis.cli("CONFIG SET maxmemory 1")
    local base, issued = realm()
    local host = procs.nginx([[
worker_processes 1;
events { worker_connections 64; }
http {
@NGINX_HTTP@
  error_log logs/error.log warn;
  init_by_lua_block {
    local basiq = require("basiq")
    basiq.server("@BASE@").auth("Basic @KEY@")
    basiq.config({ timeout = 3000, tokenStore = basiq.redisStore({ port = @REDIS@, password = "@PASSWORD@" }) })
  }
  server {
    listen 127.0.0.1:@PORT@;
    location = /call {
      content_by_lua_block {
        local res, err = require("basiq").getUser({ userId = "oom" })
        ngx.say(res and res.status or tostring(err))
      }
    }
  }
}
]], transports.tree(), { BASE = base, KEY = KEY, REDIS = tostring(redis.port), PASSWORD = PASSWORD })
    local out = sh(procs.PLAIN .. "curl -s " .. host.url .. "/call")
    local log = host.log()
    host.stop()
    redis.stop()
    assert.are.equal("200\n", out, log)
    assert.are.equal(1, #issued())
    assert.matches("the token store is unavailable.-OOM", log)
    assert.is_nil(log:find(PASSWORD, 1, true), "the Redis password is in the log")
  end)

  it("has two nginx hosts share one token, and never puts the API key in Redis", function()
    local redis = redis_server()
    local base, issued = realm()
    local tree = transports.tree()
    local hosts = {}
    for i = 1, 2 do
      hosts[i] = procs.nginx([[
worker_processes 2;
events { worker_connections 256; }
http {
@NGINX_HTTP@
  lua_shared_dict basiq 1m;
  init_by_lua_block {
    local basiq = require("basiq")
    basiq.server("@BASE@").auth("Basic @KEY@")
    basiq.config({ tokenStore = basiq.redisStore({ port = @REDIS@, password = "@PASSWORD@" }) })
  }
  server {
    listen 127.0.0.1:@PORT@;
    location = /call {
      content_by_lua_block {
        local basiq = require("basiq")
        local res, err = basiq.getUser({ userId = "n" })
        local tok, terr = basiq.clientToken("user-" .. ngx.var.arg_u)
        ngx.say(res and res.status or tostring(err), " ", tok and "token" or tostring(terr))
      }
    }
  }
}
]], tree, { BASE = base, KEY = KEY, REDIS = tostring(redis.port), PASSWORD = PASSWORD })
    end
    local urls = {}
    for round = 1, 6 do
      for i = 1, 2 do urls[#urls + 1] = hosts[i].url .. "/call?u=" .. (round % 2 == 0 and "a" or "b") end
    end
    local out = sh(procs.PLAIN .. "curl -s --parallel --parallel-immediate --parallel-max 12 " .. table.concat(urls, " "))
    local list = issued()
    local scan = {}
    for key in redis.cli("--scan"):gmatch("%S+") do
      scan[#scan + 1] = key .. " = " .. redis.cli("GET " .. key)
    end
    local log = hosts[1].log()
    for _, h in ipairs(hosts) do h.stop() end
    redis.stop()
    local _, good = out:gsub("200 token", "")
    assert.are.equal(12, good, out .. log)
    assert.are.equal(1, count(list, "SERVER_ACCESS"), cjson.encode(list))
    assert.are.equal(1, count(list, "CLIENT_ACCESS", "user-a"), cjson.encode(list))
    assert.are.equal(1, count(list, "CLIENT_ACCESS", "user-b"), cjson.encode(list))
    -- every key and value in Redis: digests and tokens, never the key
    assert.is_true(#scan >= 3, table.concat(scan, "\n"))
    local everything = table.concat(scan, "\n")
    for _, secret in ipairs({ KEY, "Basic " .. KEY, KEY:sub(1, 20) }) do
      assert.is_nil(everything:find(secret, 1, true), "the API key is in Redis:\n" .. everything)
    end
  end)
end)
