-- The transport inside nginx (OpenResty, or nginx with its Lua
-- module). The client picks it by itself when it runs in nginx.
--
-- Why the C core on nginx worker threads, not an HTTP client on cosockets:
-- the libcurl core is the one HTTP implementation this SDK hardens and
-- tests (TLS verified against the system CA store, http/https only, no
-- redirects, body cap, gzip, every timeout); a second one in pure Lua would
-- be a second place for those guarantees to slip. ngx.run_worker_thread
-- runs the same C code off the event loop: the calling coroutine yields,
-- the worker keeps serving, and the thread-side Lua VMs (kept by nginx
-- between calls) keep their libcurl handles, so connections stay alive.
-- Cost: a `thread_pool basiq threads=N;` line in nginx.conf, at most N
-- transfers at once per worker (a batch takes one thread and runs
-- concurrently inside it through curl multi), and at most
-- lua_worker_thread_vm_pool_size (default 100) calls handed to threads at
-- once: beyond that nginx refuses at once, so calls wait here for a VM.
local token = require("basiq.call.token")
local stats = require("basiq.transport.ngx_stats")
local core = require("basiq.shared.lazy")

local M = {}

local POOL = "basiq"
-- where ngx.run_worker_thread can yield and be resumed (timers too)
local PHASES = { server_rewrite = true, rewrite = true, access = true, content = true, timer = true }
local NO_VM = "no available Lua vm"

-- Thread side: these run inside a worker thread's own Lua VM, and say
-- when the thread took the call (core.now(): one clock for every thread).
-- A single call comes back as plain values, which cross to the worker's
-- Lua state for less than a table of tables would.
local handle, multi
function M.thread_perform(req)
  local started = stats.thread_start()
  if not handle then handle = require("basiq.core").new() end
  local a, b, c, d, e = handle:perform_values(req)
  stats.thread_end()
  return started, a, b, c, d, e
end

function M.thread_batch(reqs, concurrency)
  local started = stats.thread_start()
  if not multi then multi = require("basiq.core").multi() end
  local out = multi:perform(reqs, concurrency)
  stats.thread_end()
  return started, out
end

-- Worker side.
local function unusable()
  local phase = ngx.get_phase()
  if PHASES[phase] then return nil end
  return "cannot call the Basiq API in nginx's " .. phase .. " phase, where it could only block the worker;"
    .. " call it from rewrite, access or content, or defer it with ngx.timer.at"
end

-- Woken each time a call gives its VM back while others wait for one.
local vm_freed
-- A failed hand-over's outcome (the shape in transport/init.lua).
local function failure(message, code, sent)
  return { message = message, code = code, sent = sent }
end

-- Runs M[fn](a, b) on the pool: true, the seconds the call waited for a VM
-- and a thread, and its results | false, failure outcome. Waits up to
-- `budget` seconds for a thread-side VM when all are busy. t0: the call's
-- start (core.now(), the clock the threads use too).
local function hand_over(fn, budget, a, b, t0)
  if not vm_freed then vm_freed = require("ngx.semaphore").new() end
  local deadline = t0 + budget
  local queued = vm_freed:count() < 0 -- others already wait: take a turn behind them
  if queued then stats.waiting_vm(1) end
  local handed = t0
  while true do
    if not queued then
      local ok, r1, v1, v2, v3, v4, v5 = ngx.run_worker_thread(POOL, "basiq.transport.ngx", fn, a, b)
      if ok or r1 ~= NO_VM then
        if vm_freed:count() < 0 then vm_freed:post(1) end
        -- r1: when a thread took the call
        if ok then return true, (handed - t0) + math.max(0, r1 - handed), v1, v2, v3, v4, v5 end
        r1 = tostring(r1)
        if r1:find("^thread[ _]pool") and r1:find("not found", 1, true) then
          return false, failure("nginx.conf needs `thread_pool " .. POOL .. " threads=16;` in its main context:"
            .. " the SDK does its HTTP on those threads (nginx: " .. r1 .. ")", "thread", false)
        end
        -- unless it was never queued, it failed in the thread or on the way back: it may have gone
        return false, failure("nginx worker thread failed: " .. r1, "thread", r1 ~= "ngx_thread_task_post failed")
      end
    end
    if not queued then stats.waiting_vm(1) end
    queued = false
    local left = deadline - core.now()
    if left <= 0 then
      stats.waiting_vm(-1)
      return false, failure("every nginx worker-thread Lua VM stayed busy for " .. budget .. " s"
        .. " (raise lua_worker_thread_vm_pool_size, or the threads of thread_pool " .. POOL .. ")", 28, false)
    end
    -- woken when a VM comes back; the slice covers a wake-up lost to an aborted request
    vm_freed:wait(math.min(left, 0.1))
    stats.waiting_vm(-1)
    handed = core.now()
  end
end

-- hand_over(), counted for basiq.stats().
local function on_thread(fn, budget, a, b, t0)
  stats.begin()
  local ok, wait, v1, v2, v3, v4, v5 = hand_over(fn, budget, a, b, t0 or core.now())
  stats.finish(ok and wait or nil)
  return ok, wait, v1, v2, v3, v4, v5
end

-- Tokens in lua_shared_dict `basiq` when it is declared, so every worker
-- uses one token and one worker at a time renews it (token.lua has the
-- store interface; the entries keep this host's clock, ngx.now()).
local function shared_store(dict)
  local store = {}
  function store.get(key)
    local v = dict:get("t:" .. key)
    if not v then return nil end
    local renew_at, expires_at, tok = v:match("^([^|]+)|([^|]+)|(.+)$")
    local t = ngx.now()
    return tok, tonumber(renew_at) - t, tonumber(expires_at) - t
  end
  function store.set(key, tok, renew_in, expires_in)
    local t = ngx.now()
    local ok, err = dict:set("t:" .. key, string.format("%.3f|%.3f|%s", t + renew_in, t + expires_in, tok),
      math.max(0.001, expires_in))
    if not ok then ngx.log(ngx.WARN, "basiq: lua_shared_dict ", POOL, " could not keep a token: ", err) end
    return true
  end
  function store.drop(key, tok)
    local cur = store.get(key)
    if cur == tok then dict:delete("t:" .. key) end
    return true
  end
  -- expires by itself, so a worker that dies while renewing cannot wedge the rest
  function store.lock(key, ttl) return (dict:add("l:" .. key, true, ttl)) == true end
  function store.unlock(key)
    dict:delete("l:" .. key)
    return true
  end
  return store
end

local function now()
  ngx.update_time()
  return ngx.now()
end

local function store()
  local dict = ngx.shared and ngx.shared[POOL]
  return dict and shared_store(dict) or token.memory_store(now)
end

local function request(_, req)
  local t0 = core.now()
  -- perform_values: status, body, raw headers | nil, message, code, sent
  local ok, wait, v1, v2, v3, v4 = on_thread("thread_perform", (req.timeout or 60000) / 1000, req, nil, t0)
  local o
  if not ok then
    o = wait -- the failed hand-over's outcome
  elseif v1 then
    o = { status = v1, body = v2, headers = core.headers(v3), wait = wait }
  else
    o = { message = v2, code = v3, sent = v4, wait = wait }
  end
  o.time = core.now() - t0 -- the hop, and any wait for a thread-side VM, count against the call's budget
  return o
end

local function batch(_, reqs, concurrency)
  local budget = 0
  for i = 1, #reqs do budget = math.max(budget, reqs[i].timeout or 60000) end
  local ok, wait, out = on_thread("thread_batch", budget / 1000, reqs, concurrency)
  if ok then return out end
  out = wait -- the failed hand-over's outcome
  local list = {}
  for i = 1, #reqs do list[i] = failure(out.message, out.code, out.sent) end
  return list
end

-- A client's transport inside nginx (transport/init.lua has the contract).
function M.transport()
  return { request = request, batch = batch, now = now, sleep = ngx.sleep, check = unusable, store = store,
           stats = stats.read }
end

return M
