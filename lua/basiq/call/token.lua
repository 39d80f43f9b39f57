-- Automatic tokens: one SERVER_ACCESS token per API key (and one
-- CLIENT_ACCESS token per user), fetched on first need, reused, renewed a
-- margin before expiry, with one renewal in flight at a time, wherever the
-- store that holds them is shared (a client, nginx's workers, a fleet).
--
-- The token store interface (basiq.new{ tokenStore = store }): times are
-- seconds from now; any method may yield (a cosocket); keys carry a digest
-- of the API key, never the key.
--   store.get(key)        -> token, renew_in, expires_in | nil (none) | false, err
--   store.set(key, token, renew_in, expires_in) -> true | nil, err
--                            (the entry expires with the token)
--   store.drop(key, token) -> true | nil, err   (only while key still holds token)
--   store.lock(key, ttl)  -> true | false (another holds it) | nil, err
--                            (the lock lapses by itself after ttl seconds)
--   store.unlock(key)     -> true | nil, err    (only a lock this store took)
-- A store that fails is stood in for by the client's own (resilient below).
local M = {}

local MAX_SLOTS = 1000 -- CLIENT_ACCESS tokens are per user: keep the cache bounded
local LOCK_TTL = 30    -- seconds a renewal may hold its lock
local RETRY_AFTER = 1  -- seconds before a failed store is tried again

-- The in-process store; now() is the clock it keeps its times on.
function M.memory_store(now)
  local slots, locks, n, taken = {}, {}, 0, 0
  local holders = require("basiq.shared.holders").new()
  local store = {}
  function store.get(key)
    local s = slots[key]
    if not s then return nil end
    local t = now()
    if t >= s[3] then return nil end
    return s[1], s[2] - t, s[3] - t
  end
  function store.set(key, token, renew_in, expires_in)
    local t = now()
    if not slots[key] then
      if n >= MAX_SLOTS then -- drop the expired ones; if none were, start afresh
        for k, s in pairs(slots) do if s[3] <= t then slots[k] = nil; n = n - 1 end end
        if n >= MAX_SLOTS then slots, n = {}, 0 end
      end
      n = n + 1
    end
    slots[key] = { token, t + renew_in, t + expires_in }
    return true
  end
  function store.drop(key, token)
    local s = slots[key]
    if s and s[1] == token then slots[key] = nil; n = n - 1 end
    return true
  end
  function store.lock(key, ttl)
    local t, held = now(), locks[key]
    if held and held[1] > t then return false end
    taken = taken + 1
    locks[key] = { t + ttl, taken }
    holders.keep(key, taken)
    return true
  end
  function store.unlock(key)
    local mine, held = holders.take(key), locks[key]
    if mine and held and held[2] == mine then locks[key] = nil end
    return true
  end
  return store
end

-- store, stood in for by fallback while it fails: a method that returns
-- an error or raises sends this and the next calls to fallback, and the
-- store is tried again RETRY_AFTER seconds later. report(what, err) is told
-- once when the store fails ("unavailable") and once when it is back.
function M.resilient(store, fallback, now, report)
  local down_until -- while set, fallback serves
  local out = {}
  local function call(method, ...)
    if down_until then
      if now() < down_until then return fallback[method](...) end
    end
    local ok, a, b, c = pcall(store[method], ...)
    -- get answers nil for "none" and lock false for "held": both are answers
    local failed = not ok or method == "get" and a == false or method ~= "get" and a == nil
    if failed then
      if not down_until then report("unavailable", ok and b or a) end
      down_until = now() + RETRY_AFTER
      return fallback[method](...)
    end
    if down_until then
      down_until = nil
      report("recovered")
    end
    return a, b, c
  end
  for _, method in ipairs({ "get", "set", "drop", "lock", "unlock" }) do
    out[method] = function(...) return call(method, ...) end
  end
  return out
end

-- The renewal margin: 60 s, or a tenth of the lifetime when that is shorter.
function M.margin(expires_in)
  return math.min(60, expires_in / 10)
end

-- Returns a valid token for key: token, nil, waited, expires_in (waited: a
-- renewal was made or awaited, so the clock moved on; expires_in: its
-- seconds left) | nil, err. fetch(deadline) -> token, expires_in | nil,
-- err does the request; clock = { now = fn, sleep = fn }; deadline bounds
-- any waiting for another coroutine's (or worker's, or host's) renewal.
-- min_life (seconds, optional): a token with less life left is renewed
-- first, and never handed out (the Consent UI's token must outlive the
-- person's visit); a fresh one with less is an error.
function M.get(store, clock, key, fetch, deadline, min_life)
  local wait, waited = 0.005, false
  local need = min_life or 0
  while true do
    local token, renew_in, expires_in = store.get(key)
    if token and renew_in > 0 and expires_in >= need then return token, nil, waited, expires_in end
    if store.lock(key, LOCK_TTL) then
      -- checked again under the lock: another worker may have just renewed
      token, renew_in, expires_in = store.get(key)
      if token and renew_in > 0 and expires_in >= need then store.unlock(key); return token, nil, waited, expires_in end
      local before = clock.now()
      -- not under pcall, which Lua 5.1 could not yield across (a cosocket
      -- transport): a bug that raises here leaves the lock to expire
      local t, life = fetch(deadline)
      if t then store.set(key, t, life - M.margin(life), life) end
      store.unlock(key) -- after set: whoever waited finds the new token
      if t then
        if life < need then
          return nil, require("basiq.shared.errors").new("token-life", string.format(
            "the token issued lives %g s, less than the %g s asked for", life, need))
        end
        return t, nil, true, life
      end
      -- renewal failed: a token that has not expired yet still serves
      local left = token and expires_in - (clock.now() - before)
      if left and left > 0 and left >= need then return token, nil, true, left end
      return nil, life
    end
    -- someone else is renewing: the current token serves until it expires
    if token and expires_in > 0 and expires_in >= need then return token, nil, waited, expires_in end
    local now = clock.now()
    if now >= deadline then
      return nil, require("basiq.shared.errors").new("timeout", "timed out waiting for another token renewal")
    end
    clock.sleep(math.min(wait, deadline - now))
    wait, waited = math.min(wait * 2, 0.1), true
  end
end

return M
