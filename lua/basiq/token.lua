-- Automatic tokens: one SERVER_ACCESS token per client (and one
-- CLIENT_ACCESS token per user), fetched on first need, reused, renewed a
-- margin before expiry, with one renewal in flight at a time.
--
-- A store keeps { token, renew_at, expires_at } per key and a lock per key;
-- the default lives in the client, nginx swaps in one that all workers share.
-- Times are seconds on the transport's clock (monotonic outside nginx).
local errors = require("basiq.errors")

local M = {}

local MAX_SLOTS = 1000 -- CLIENT_ACCESS tokens are per user: keep the cache bounded
local LOCK_TTL = 30    -- seconds a renewal may hold its lock

function M.memory_store()
  local slots, locks, n = {}, {}, 0
  local store = {}
  function store.get(key)
    local s = slots[key]
    if s then return s[1], s[2], s[3] end
  end
  function store.set(key, token, renew_at, expires_at, now)
    if not slots[key] then
      if n >= MAX_SLOTS then -- drop the expired ones; if none were, start afresh
        for k, s in pairs(slots) do if s[3] <= now then slots[k] = nil; n = n - 1 end end
        if n >= MAX_SLOTS then slots, n = {}, 0 end
      end
      n = n + 1
    end
    slots[key] = { token, renew_at, expires_at }
  end
  -- Forgets key's token if it is still the given one (a refused token).
  function store.drop(key, token)
    local s = slots[key]
    if s and s[1] == token then slots[key] = nil; n = n - 1 end
  end
  -- A lock expires by itself after ttl seconds: a renewal that died with
  -- its coroutine (or raised) cannot wedge the others.
  function store.lock(key, ttl, now)
    local held = locks[key]
    if held and held > now then return false end
    locks[key] = now + ttl
    return true
  end
  function store.unlock(key) locks[key] = nil end
  return store
end

-- The renewal margin: 60 s, or a tenth of the lifetime when that is shorter.
function M.margin(expires_in)
  return math.min(60, expires_in / 10)
end

-- Returns a valid token for key: token, nil, waited (waited: a renewal was
-- made or awaited, so the clock moved on) | nil, err. fetch(deadline) ->
-- token, expires_in | nil, err does the request; clock = { now = fn, sleep
-- = fn }; deadline bounds any waiting for another coroutine's (or worker's)
-- renewal; now: a clock reading just taken, if the caller has one.
function M.get(store, clock, key, fetch, deadline, now)
  local wait, waited = 0.005, false
  now = now or clock.now()
  while true do
    local token, renew_at, expires_at = store.get(key)
    if token and now < renew_at then return token, nil, waited end
    if store.lock(key, LOCK_TTL, now) then
      -- checked again under the lock: another worker may have just renewed
      token, renew_at, expires_at = store.get(key)
      if token and now < renew_at then store.unlock(key); return token, nil, waited end
      -- not under pcall, which Lua 5.1 could not yield across (a cosocket
      -- transport): a bug that raises here leaves the lock to expire
      local t, expires_in = fetch(deadline)
      store.unlock(key)
      if t then
        store.set(key, t, now + expires_in - M.margin(expires_in), now + expires_in, now)
        return t, nil, true
      end
      -- renewal failed: a token that has not expired yet still serves
      if token and clock.now() < expires_at then return token, nil, true end
      return nil, expires_in
    end
    -- someone else is renewing: the current token serves until it expires
    if token and now < expires_at then return token, nil, waited end
    if now >= deadline then return nil, errors.new("timeout", "timed out waiting for another token renewal") end
    clock.sleep(math.min(wait, deadline - now))
    wait, waited = math.min(wait * 2, 0.1), true
    now = clock.now()
  end
end

return M
