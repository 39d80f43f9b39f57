-- basiq.ngx: the transport inside nginx (OpenResty, or nginx with its Lua
-- module). The client picks it by itself when it runs in nginx.
--
-- Why the C core on nginx worker threads, not an HTTP client on cosockets:
-- the libcurl core is the one HTTP implementation this SDK hardens and
-- tests (TLS verified against the system CA store, http/https only, no
-- redirects, body cap, gzip, every timeout); a second one in pure Lua would
-- be a second place for those guarantees to slip. ngx.run_worker_thread
-- runs the same C code off the event loop: the calling coroutine yields,
-- the worker keeps serving, and each thread's Lua VM (kept by nginx between
-- calls) keeps its own libcurl handle, so connections stay alive. Cost: a
-- `thread_pool basiq threads=N;` line in nginx.conf, and at most N calls in
-- flight per worker (a batch takes one thread and runs concurrently inside
-- it through curl multi).
local token = require("basiq.token")

local M = {}

local POOL = "basiq"
-- where ngx.run_worker_thread may run (rewrite, access, content; timers too)
local PHASES = { rewrite = true, access = true, content = true, timer = true }

-- Thread side: these run inside a worker thread's own Lua VM.
local handle, multi
function M.thread_perform(req)
  if not handle then handle = require("basiq.core").new() end
  return handle:perform(req)
end

function M.thread_batch(reqs, concurrency)
  if not multi then multi = require("basiq.core").multi() end
  return multi:perform(reqs, concurrency)
end

-- Worker side.
local function unusable()
  local phase = ngx.get_phase()
  if PHASES[phase] then return nil end
  return "cannot call the Basiq API in nginx's " .. phase .. " phase, where it could only block the worker;"
    .. " call it from rewrite, access or content, or defer it with ngx.timer.at"
end

local function thread_failed(msg)
  return "nginx worker thread failed (" .. tostring(msg) .. "); nginx.conf needs `thread_pool "
    .. POOL .. " threads=16;` in its main context"
end

-- Tokens in lua_shared_dict `basiq` when it is declared, so every worker
-- uses one token and one worker at a time renews it.
local function shared_store(dict)
  local store = {}
  function store.get(key)
    local v = dict:get("t:" .. key)
    if not v then return nil end
    local renew_at, expires_at, tok = v:match("^([^|]+)|([^|]+)|(.+)$")
    return tok, tonumber(renew_at), tonumber(expires_at)
  end
  function store.set(key, tok, renew_at, expires_at, now)
    dict:set("t:" .. key, string.format("%.3f|%.3f|%s", renew_at, expires_at, tok), math.max(0.001, expires_at - now))
  end
  function store.drop(key, tok)
    local cur = store.get(key)
    if cur == tok then dict:delete("t:" .. key) end
  end
  -- expires by itself, so a worker that dies while renewing cannot wedge the rest
  function store.lock(key) return (dict:add("l:" .. key, true, 30)) == true end
  function store.unlock(key) dict:delete("l:" .. key) end
  return store
end

M.transport = {
  name = "ngx",
  now = function()
    ngx.update_time()
    return ngx.now()
  end,
  sleep = function(s) ngx.sleep(s) end,
  check = unusable,
  store = function()
    local dict = ngx.shared and ngx.shared[POOL]
    return dict and shared_store(dict) or token.memory_store()
  end,
  request = function(_, req)
    local ok, status, headers, body, sent = ngx.run_worker_thread(POOL, "basiq.ngx", "thread_perform", req)
    if not ok then return nil, thread_failed(status), "thread", true end
    return status, headers, body, sent
  end,
  batch = function(_, reqs, concurrency)
    local ok, out = ngx.run_worker_thread(POOL, "basiq.ngx", "thread_batch", reqs, concurrency)
    if ok then return out end
    local msg = thread_failed(out)
    out = {}
    for i = 1, #reqs do out[i] = { err = msg, code = "thread", sent = true } end
    return out
  end,
}

return M
