-- basiq.stats() in a real nginx whose thread pool is smaller than the load:
-- calls in flight, calls waiting for a thread, the longest wait.
local procs = require("support.procs")
local elsewhere = procs.not_in_54()
if elsewhere then describe("basiq.stats in nginx", function() pending(elsewhere) end) return end
local cjson = require("cjson")
local sh = procs.sh

local CONF = [[
worker_processes 1;
thread_pool basiq threads=2;
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
    location = /stats { content_by_lua_block { ngx.say(require("cjson").encode(require("basiq").stats())) } }
  }
}
]]

describe("basiq.stats in nginx", function()
  local srv, tree, ng, url

  setup(function()
    srv = procs.httpd()
    tree = procs.luajit_tree()
    ng = procs.nginx(CONF, tree, { BACKEND = srv.url .. "/delay/600" })
    url = ng.url
  end)

  teardown(function()
    ng.stop()
    srv.stop()
    os.execute("rm -rf " .. tree)
  end)

  local function stats() return cjson.decode(sh(procs.PLAIN .. "curl -s " .. url .. "/stats")) end

  it("counts calls in flight and waiting for a thread, and the longest wait", function()
    local before = stats()
    assert.are.same({ 0, 0, 0 }, { before.worker.inflight, before.worker.running, before.worker.waitingThread })
    -- six calls of 0.6 s at once on two threads: two run, four wait their turn
    local outs = {}
    for i = 1, 6 do
      outs[i] = os.tmpname()
      os.execute(procs.PLAIN .. "curl -s " .. url .. "/call > " .. outs[i] .. " 2>&1 &")
    end
    require("socket").sleep(0.3)
    local busy = stats()
    assert.are.equal(6, busy.worker.inflight)
    assert.are.equal(2, busy.worker.running)
    assert.are.equal(4, busy.worker.waitingThread)
    assert.are.equal(6, busy.all.inflight) -- one worker: all is this one
    -- all six finish, in three turns of two
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
    assert.are.same({ 0, 0, 0 }, { after.worker.inflight, after.worker.running, after.worker.waitingThread })
    assert.are.equal(before.worker.calls + 6, after.worker.calls)
    -- the last two waited for two turns of about 0.6 s
    assert.is_true(after.worker.longestWaitMs > 900 and after.worker.longestWaitMs < 5000,
      "longest wait " .. after.worker.longestWaitMs .. " ms")
    assert.is_true(after.worker.waited >= 4)
    assert.are.equal(1, after.all.workers)
  end)

  it("is nil, err outside nginx", function()
    local res, err = require("basiq").new().stats()
    assert.is_nil(res)
    assert.are.equal("stats", err.code)
  end)
end)
