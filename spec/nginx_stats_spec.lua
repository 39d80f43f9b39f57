-- basiq.stats() in a real nginx: calls in flight, calls made, calls that
-- opened a connection rather than reuse one from the pool, the longest wait
-- for a connection.
local procs = require("support.procs")
local transports = require("support.transports")
local elsewhere = procs.not_in_54()
if elsewhere then describe("basiq.stats in nginx", function() pending(elsewhere) end) return end
local cjson = require("cjson")
local sh = procs.sh

local CONF = [[
worker_processes 1;
events { worker_connections 256; }
http {
@NGINX_HTTP@
  lua_shared_dict basiq 1m;
  init_by_lua_block { require("basiq").server("@BACKEND@").auth("tok") }
  server {
    listen 127.0.0.1:@PORT@;
    location = /call {
      content_by_lua_block {
        local res, err = require("basiq").getUser({ userId = "slow" })
        ngx.say(res and res.status or tostring(err))
      }
    }
    location = /killed {
      content_by_lua_block {
        local basiq = require("basiq")
        local t = ngx.thread.spawn(function() return basiq.getUser({ userId = "slow" }) end)
        ngx.sleep(0.2)
        local during = basiq.stats().worker.inflight
        ngx.thread.kill(t)
        t = nil
        collectgarbage()
        collectgarbage()
        ngx.say(during, " ", basiq.stats().worker.inflight)
      }
    }
    location = /stats { content_by_lua_block { ngx.say(require("cjson").encode(require("basiq").stats())) } }
  }
}
]]

describe("basiq.stats in nginx", function()
  local srv, tree, ng, url

  setup(function()
    srv = procs.httpd()
    tree = transports.tree()
    ng = procs.nginx(CONF, tree, { BACKEND = srv.url .. "/delay/600" })
    url = ng.url
  end)

  teardown(function()
    ng.stop()
    srv.stop()
  end)

  local function stats() return cjson.decode(sh(procs.PLAIN .. "curl -s " .. url .. "/stats")) end

  it("counts calls in flight, the connections they opened, and the longest wait for one", function()
    local before = stats()
    assert.are.same({ 0, 0, 0 }, { before.worker.inflight, before.worker.calls, before.worker.connected })
    -- six calls of 0.6 s at once: each opens a connection of its own
    local outs = {}
    for i = 1, 6 do
      outs[i] = os.tmpname()
      os.execute(procs.PLAIN .. "curl -s " .. url .. "/call > " .. outs[i] .. " 2>&1 &")
    end
    require("socket").sleep(0.3)
    local busy = stats()
    assert.are.equal(6, busy.worker.inflight)
    assert.are.equal(6, busy.all.inflight) -- one worker: all is this one
    local t0 = require("socket").gettime()
    local done = 0
    while done < 6 and require("socket").gettime() - t0 < 10 do
      done = 0
      for i = 1, 6 do if procs.read_file(outs[i]):match("^200") then done = done + 1 end end
      require("socket").sleep(0.1)
    end
    for i = 1, 6 do os.remove(outs[i]) end
    assert.are.equal(6, done)
    local after = stats()
    assert.are.equal(0, after.worker.inflight)
    assert.are.equal(6, after.worker.calls)
    assert.are.equal(6, after.worker.connected)
    assert.is_true(after.worker.longestWaitMs > 0 and after.worker.longestWaitMs < 1000,
      "longest wait " .. after.worker.longestWaitMs .. " ms")
    -- three more, one after another: each reuses a pooled connection
    for _ = 1, 3 do assert.matches("^200", sh(procs.PLAIN .. "curl -s " .. url .. "/call")) end
    local later = stats()
    assert.are.equal(9, later.worker.calls)
    assert.are.equal(6, later.worker.connected)
    assert.are.equal(1, later.all.workers)
  end)

  it("does not count a call whose light thread was killed", function()
    -- the thread never finishes its call: it drops out once the collector takes it
    assert.are.equal("1 0", sh(procs.PLAIN .. "curl -s " .. url .. "/killed"):match("^(.-)%s*$"))
    assert.are.equal(0, stats().worker.inflight)
  end)

  -- nginx drops a due timer it has no room to run (lua_max_running_timers)
  it("publishes again after nginx dropped its timer", function()
    local conf = CONF:gsub("lua_shared_dict basiq 1m;", "lua_shared_dict basiq 1m;\n  lua_max_running_timers 1;")
      :gsub("    location = /stats", [[
    location = /hog { content_by_lua_block { ngx.timer.at(0, function() ngx.sleep(1.5) end) ngx.say("ok") } }
    location = /published { content_by_lua_block {
      ngx.say(ngx.shared.basiq:get("s:w:" .. ngx.worker.pid()) ~= nil) } }
    location = /stats]])
    local quick = procs.nginx(conf, tree, { BACKEND = srv.url })
    local function get(path) return sh(procs.PLAIN .. "curl -s " .. quick.url .. path) end
    get("/hog")
    require("socket").sleep(0.1)
    local first = get("/call")     -- its publishing timer comes due while /hog's runs: dropped
    require("socket").sleep(3.5)   -- /hog's is over, and three rounds went unpublished
    local second = get("/call")
    require("socket").sleep(0.5)
    local published = get("/published")
    local log = quick.log()
    quick.stop()
    assert.are.same({ "200\n", "200\n" }, { first, second })
    assert.matches("lua_max_running_timers are not enough", log, 1, true) -- it was dropped
    assert.are.equal("true\n", published, log)
  end)

  it("is nil, err outside nginx", function()
    local res, err = require("basiq").new().stats()
    assert.is_nil(res)
    assert.are.equal("stats", err.code)
  end)
end)
