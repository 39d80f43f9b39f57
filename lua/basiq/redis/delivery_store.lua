-- basiq.webhook.redisStore{...}: the marks basiq.webhook.receive keeps per
-- webhook-id (memory_store.lua's interface), in Redis over connection.lua,
-- so that a fleet processes each delivery once whichever host it reaches.
-- A failure is returned, never raised, and nothing stands in for Redis (the
-- receiver answers 503). Keys carry the webhook-id; values are only marks.
local connection = require("basiq.redis.connection")

local concat, tostring = table.concat, tostring

local M = {}

local Store = {}
Store.__index = Store

-- One store per process (per nginx worker) for the same options, so that a
-- handler may ask for it on every request and the receiver still says once
-- that it is unavailable.
local made = {}

function M.new(opts)
  local cmd, o = connection.new("basiq.webhook.redisStore", opts)
  local same = concat({ o.host, o.port, o.db, o.prefix, o.timeout, o.password or "" }, "\0")
  if not made[same] then
    made[same] = setmetatable({ cmd = cmd, prefix = o.prefix .. "webhook:" }, Store)
  end
  return made[same]
end

-- SET NX PX: one delivery takes the mark, on whichever host
function Store:add(key, value, ttl)
  local ok, err = self.cmd("SET", self.prefix .. key, value, "NX", "PX", connection.px(ttl))
  if ok == "OK" then return true end
  if err then return nil, err end
  return false, "exists"
end

function Store:set(key, value, ttl)
  local ok, err = self.cmd("SET", self.prefix .. key, value, "PX", connection.px(ttl))
  if not ok then return nil, err end
  return true
end

-- the mark, nil when there is none, or nil, err
function Store:get(key)
  return self.cmd("GET", self.prefix .. key)
end

-- With value: only while the key still holds it (the holder's release).
function Store:delete(key, value)
  local ok, err
  if value == nil then
    ok, err = self.cmd("DEL", self.prefix .. key)
  else
    ok, err = self.cmd("EVAL", connection.DELETE_IF_HELD, "1", self.prefix .. key, tostring(value))
  end
  if ok == nil and err then return nil, err end
  return true
end

return M
