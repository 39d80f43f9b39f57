-- basiq.deliveries.memory: the marks basiq.webhook.receive keeps per
-- webhook-id, in this process: bounded and expiring. Never shared with
-- another process (nginx workers use shdict_store.lua), never yields.
-- The store interface every store keeps (README, "Receiving webhooks"):
--   store:add(key, value, ttl) -> true | false (key there) | nil, err   atomic
--   store:set(key, value, ttl) -> true | nil, err
--   store:get(key) -> value | nil (| nil, err: it could not answer)
--   store:delete(key[, value]) (| nil, err)  with value: only while key holds it
-- ttl in seconds; a mark past its ttl is gone.
local core = require("basiq.shared.lazy")
local errors = require("basiq.shared.errors")
local values = require("basiq.shared.values")
local strict = require("basiq.shared.strict")

local pairs, floor, max, sort = pairs, math.floor, math.max, table.sort

local M = {}

M.MAX = 10000 -- marks held at once (about 200 bytes each, with a 30-byte webhook-id)

local Store = {}
Store.__index = Store

local function now_monotonic() return core.now() end

-- new({ max = marks, clock = fn -> seconds }) -> a store
function M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then errors.raise("basiq.webhook.memory_store: opts must be a table") end
  opts = opts or {}
  strict.options("basiq.webhook.memory_store", opts, { "clock", "max" })
  local n = opts.max or M.MAX
  if not values.integer(n, 1, 2 ^ 31) then errors.raise("basiq.webhook.memory_store: max must be a positive integer") end
  if opts.clock ~= nil and type(opts.clock) ~= "function" then
    errors.raise("basiq.webhook.memory_store: clock must be a function")
  end
  -- marks[key] = { value, expires_at, written_at }
  return setmetatable({ marks = {}, n = 0, max = n, clock = opts.clock or now_monotonic, dropped = 0 }, Store)
end

local function forget(self, key)
  self.marks[key] = nil
  self.n = self.n - 1
end

-- key's mark if it has not expired
local function live(self, key, now)
  local m = self.marks[key]
  if m and m[2] <= now then
    forget(self, key)
    return nil
  end
  return m
end

-- Room for one more: expired marks go first; if none had, the oldest
-- written tenth, as a full lua_shared_dict drops its least recently used
-- (a delivery that old is the least likely to come again).
local function make_room(self, now)
  for k, m in pairs(self.marks) do
    if m[2] <= now then forget(self, k) end
  end
  if self.n < self.max then return end
  local oldest = {}
  for k, m in pairs(self.marks) do oldest[#oldest + 1] = { m[3], k } end
  sort(oldest, function(a, b) return a[1] < b[1] end)
  local drop = max(1, floor(#oldest / 10))
  for i = 1, drop do forget(self, oldest[i][2]) end
  self.dropped = self.dropped + drop
end

local function put(self, key, value, ttl, now)
  if not self.marks[key] then
    if self.n >= self.max then make_room(self, now) end
    self.n = self.n + 1
  end
  self.marks[key] = { value, now + ttl, now }
end

function Store:add(key, value, ttl)
  local now = self.clock()
  if live(self, key, now) then return false, "exists" end
  put(self, key, value, ttl, now)
  return true
end

function Store:set(key, value, ttl)
  local now = self.clock()
  live(self, key, now)
  put(self, key, value, ttl, now)
  return true
end

function Store:get(key)
  local m = live(self, key, self.clock())
  return m and m[1]
end

function Store:delete(key, value)
  local m = self.marks[key]
  if m and (value == nil or m[1] == value) then forget(self, key) end
end

return M
