-- basiq.redisStore{...}: a token store (token.lua's interface) in Redis,
-- so every host of a fleet shares one SERVER_ACCESS token and one
-- CLIENT_ACCESS token per user, over connection.lua. A failure is
-- returned, never raised (the client's own store stands in). Keys carry
-- the digest of the API key that token.lua gives, never the key.
local connection = require("basiq.redis.connection")
local core = require("basiq.shared.lazy")
local token = require("basiq.call.token")

local M = {}

-- one round trip each; the lock is released only by its holder
local GET = "return { redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]) }"
local DROP = "local v = redis.call('GET', KEYS[1]) if v and string.match(v, '^[^|]*|[^|]*|(.*)$') == ARGV[1] then"
  .. " return redis.call('DEL', KEYS[1]) end return 0"

function M.new(opts)
  local cmd, o = connection.new("basiq.redisStore", opts)
  local function now()
    if ngx ~= nil and type(ngx.now) == "function" then return ngx.now() end
    return core.now()
  end
  -- tokens this process already read: Redis is asked only when they near renewal
  local near = token.memory_store(now)
  local holder, taken = string.format("%s:%s:%d", tostring(near):match("0x(%x+)") or "h", tostring(os.time()),
    math.random(1, 2 ^ 30)), 0
  local holders = require("basiq.shared.holders").new()
  local store = {}
  local function key_of(key) return o.prefix .. key end

  function store.get(key)
    local tok, renew_in, expires_in = near.get(key)
    if tok and renew_in > 0 then return tok, renew_in, expires_in end
    local reply, err = cmd("EVAL", GET, "1", key_of(key))
    if not reply then return false, err end
    local v, pttl = reply[1], tonumber(reply[2])
    if type(v) ~= "string" or not pttl or pttl <= 0 then return tok, renew_in, expires_in end -- what this host has
    local life, renew, t = v:match("^([^|]*)|([^|]*)|(.*)$")
    life, renew = tonumber(life), tonumber(renew)
    if not (life and renew and t ~= "") then return tok, renew_in, expires_in end
    expires_in = pttl / 1000
    renew_in = renew - (life - expires_in)
    near.set(key, t, renew_in, expires_in)
    return t, renew_in, expires_in
  end

  function store.set(key, tok, renew_in, expires_in)
    near.set(key, tok, renew_in, expires_in)
    local ok, err = cmd("SET", key_of(key), string.format("%.3f|%.3f|%s", expires_in, renew_in, tok), "PX",
      connection.px(expires_in))
    if not ok then return nil, err end
    return true
  end

  function store.drop(key, tok)
    near.drop(key, tok)
    local ok, err = cmd("EVAL", DROP, "1", key_of(key), tok)
    if ok == nil and err then return nil, err end
    return true
  end

  -- SET NX PX: one holder at a time across every host
  function store.lock(key, ttl)
    taken = taken + 1
    local mine = holder .. ":" .. taken
    local ok, err = cmd("SET", key_of("lock:" .. key), mine, "NX", "PX", connection.px(ttl))
    if ok == nil and err then return nil, err end
    if ok ~= "OK" then return false end
    holders.keep(key, mine)
    return true
  end

  function store.unlock(key)
    local mine = holders.take(key)
    if not mine then return true end
    local ok, err = cmd("EVAL", connection.DELETE_IF_HELD, "1", key_of("lock:" .. key), mine)
    if ok == nil and err then return nil, err end
    return true
  end

  return store
end

return M
