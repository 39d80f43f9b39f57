-- basiq.stats() inside nginx: the nginx transport's calls in flight, calls
-- made, how many opened a connection (its connect and TLS handshake: the
-- wait for a connection; the others reused one from the pool) and the
-- longest such wait, for this worker and (through lua_shared_dict basiq)
-- for all workers. Counting never fails a call and never blocks the event
-- loop.
local M = {}

local DICT = "basiq"
local PUBLISH = 1 -- seconds between a worker's reports to the shared dict

-- this worker's counters; calls in flight are the light threads making
-- one, held weakly: a thread killed mid-call (ngx.thread.kill, ngx.exit,
-- lua_check_client_abort) never finishes its call, and drops out when
-- nginx lets it go and the collector takes it
local mine = { calls = 0, connected = 0, longestWaitMs = 0 }
local flying = setmetatable({}, { __mode = "k" })
local running = coroutine.running
-- the publishing timer's round (a newer one ends the older) and when it last ran
local round, ran = 0, nil

local function inflight()
  local n = 0
  for _ in pairs(flying) do n = n + 1 end
  return n
end

local function dict()
  return ngx.shared and ngx.shared[DICT]
end

-- This worker's numbers, as a table.
local function snapshot()
  return { pid = ngx.worker.pid(), inflight = inflight(), calls = mine.calls, connected = mine.connected,
           longestWaitMs = mine.longestWaitMs }
end

local FIELDS = { "inflight", "calls", "connected", "longestWaitMs" }

-- Every PUBLISH seconds from the first call on, this worker's numbers go to
-- the shared dict (expiring, so a worker that exits drops out).
local function publish(premature, r)
  if premature or r ~= round then return end -- exiting, or a newer round took over
  ran = ngx.now()
  local d = dict()
  local s, parts = snapshot(), {}
  for i, k in ipairs(FIELDS) do parts[i] = string.format("%.3f", s[k]) end
  d:set("s:w:" .. s.pid, table.concat(parts, " "), 3 * PUBLISH)
  ngx.timer.at(PUBLISH, publish, r) -- if nginx refuses, a call starts another round
end

-- A call starts the timer, and starts it again when it has stopped: nginx
-- drops a due timer without running it when lua_max_running_timers are
-- all busy, which would end the rounds for good.
local function start_publishing()
  if ran and ngx.now() - ran < 3 * PUBLISH or not dict() then return end
  round = round + 1
  ran = ngx.now() -- its first run is due now; calls wait 3 rounds before another try
  ngx.timer.at(0, publish, round)
end

-- A call starts; it ends having opened a connection or not, after waiting
-- `wait` seconds for one (nil: it never had one).
function M.begin()
  flying[running()] = true
  mine.calls = mine.calls + 1
  start_publishing()
end

function M.finish(opened, wait)
  flying[running()] = nil
  if opened then mine.connected = mine.connected + 1 end
  if wait and wait * 1000 > mine.longestWaitMs then mine.longestWaitMs = wait * 1000 end
end

-- { worker = {...}, all = {...} | nil }: all sums every worker's last
-- report (longestWaitMs is the longest of them); nil without the dict.
function M.read()
  local out = { worker = snapshot() }
  local d = dict()
  if not d then return out end
  local all = { workers = 1 }
  local function add(k, n)
    if k == "longestWaitMs" then all[k] = math.max(all[k] or 0, n) else all[k] = (all[k] or 0) + n end
  end
  for _, k in ipairs(FIELDS) do add(k, out.worker[k]) end -- this worker as it is now
  local own = "s:w:" .. out.worker.pid
  for _, key in ipairs(d:get_keys(0)) do
    local v = key ~= own and key:find("^s:w:%d+$") and d:get(key)
    if v then
      all.workers = all.workers + 1
      local i = 0
      for n in v:gmatch("%S+") do
        i = i + 1
        add(FIELDS[i], tonumber(n))
      end
    end
  end
  out.all = all
  return out
end

return M
