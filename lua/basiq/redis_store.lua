-- basiq.redisStore{...}: a token store (token.lua's interface) in Redis,
-- so every host of a fleet shares one SERVER_ACCESS token and one
-- CLIENT_ACCESS token per user. Inside nginx it speaks through
-- lua-resty-redis on cosockets (Debian's lua-nginx-redis), elsewhere through
-- the C core's hiredis connection. Every command is bounded by the timeout;
-- a failure is returned, never raised (the client's own store stands in).
-- Keys carry the digest of the API key that token.lua gives, never the key.
local core = require("basiq.lazy")
local errors = require("basiq.errors")
local token = require("basiq.token")
local values = require("basiq.values")

local M = {}

-- one round trip each; the lock is released only by its holder
local GET = "return { redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]) }"
local DROP = "local v = redis.call('GET', KEYS[1]) if v and string.match(v, '^[^|]*|[^|]*|(.*)$') == ARGV[1] then"
  .. " return redis.call('DEL', KEYS[1]) end return 0"
local UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

local function in_nginx()
  return ngx ~= nil and type(ngx.get_phase) == "function" and ngx.get_phase() ~= "init"
end

local function check(opts)
  local function fail(what) errors.raise("basiq.redisStore: " .. what) end
  if type(opts) ~= "table" then fail("options must be a table") end
  local known = { host = true, port = true, password = true, db = true, prefix = true, timeout = true, tls = true }
  for k in pairs(opts) do
    if not known[k] then fail("unknown option '" .. values.shown(tostring(k)) .. "'") end
  end
  local o = { host = opts.host or "127.0.0.1", port = opts.port or 6379, password = opts.password, db = opts.db or 0,
              prefix = opts.prefix or "basiq:", timeout = opts.timeout or 200 }
  if type(o.host) ~= "string" or o.host == "" or o.host:find("[%c%s]") then fail("option 'host' must be a host name") end
  if not values.integer(o.port, 1, 65535) then fail("option 'port' must be an integer from 1 to 65535") end
  if o.password ~= nil and (type(o.password) ~= "string" or o.password == "") then
    fail("option 'password' must be a non-empty string")
  end
  if not values.integer(o.db, 0, 1000000) then fail("option 'db' must be an integer from 0") end
  if type(o.prefix) ~= "string" then fail("option 'prefix' must be a string") end
  if not values.positive(o.timeout) then fail("option 'timeout' must be a positive number of milliseconds") end
  if opts.tls then
    -- neither Debian's hiredis (0.14) nor lua-resty-redis (0.27) speaks TLS
    fail("option 'tls': the Redis clients this SDK uses (hiredis 0.14, lua-resty-redis 0.27) have no TLS;"
      .. " reach Redis over loopback or a private network, or a TLS tunnel (stunnel, spiped)")
  end
  return o
end

-- The errors a store returns: where, and what went wrong (never the password).
local function failure(o, what)
  local text = tostring(what)
  if o.password then text = errors.redact(text, { o.password }) end
  return errors.new("store", "basiq.redisStore: redis " .. o.host .. ":" .. o.port .. ": " .. text)
end

-- Outside nginx: one connection, made again after it breaks.
local function plain_client(o)
  local conn
  local function connect()
    local c, err = core.redis(o.host, o.port, math.ceil(o.timeout))
    if not c then return nil, err end
    for _, words in ipairs({ o.password and { "AUTH", o.password }, o.db ~= 0 and { "SELECT", tostring(o.db) } }) do
      if words then
        local ok, werr = c:command(words[1], words[2])
        if not ok then c:close(); return nil, werr end
      end
    end
    return c
  end
  return function(...)
    for try = 1, 2 do -- a connection that broke (Redis restarted) is made again once
      local err
      if not conn then conn, err = connect() end
      if not conn then return nil, failure(o, err) end
      local reply
      reply, err = conn:command(...)
      if reply ~= nil or not err then return reply end
      -- an error reply ("ERR ...", "NOAUTH ...") leaves the connection as it is
      if err:find("^[A-Z]+ ") then return nil, failure(o, err) end
      conn:close()
      conn = nil
      if try == 2 then return nil, failure(o, err) end
    end
  end
end

-- Inside nginx: cosockets from the worker's keepalive pool.
local function nginx_client(o)
  local redis = require("nginx.redis")
  return function(cmd, ...)
    local red = redis:new()
    red:set_timeout(o.timeout)
    local ok, err = red:connect(o.host, o.port)
    if not ok then return nil, failure(o, err) end
    if red:get_reused_times() == 0 then
      if o.password then
        ok, err = red:auth(o.password)
        if not ok then red:close(); return nil, failure(o, err) end
      end
      if o.db ~= 0 then
        ok, err = red:select(o.db)
        if not ok then red:close(); return nil, failure(o, err) end
      end
    end
    local reply
    reply, err = red[cmd:lower()](red, ...)
    if reply == nil and err then
      red:close()
      return nil, failure(o, err)
    end
    red:set_keepalive(60000, 32)
    if reply == ngx.null then return nil end
    return reply
  end
end

function M.new(opts)
  local o = check(opts)
  local plain, in_ngx
  local function cmd(...)
    if in_nginx() then
      in_ngx = in_ngx or nginx_client(o)
      return in_ngx(...)
    end
    plain = plain or plain_client(o)
    return plain(...)
  end
  local function now()
    if ngx ~= nil and type(ngx.now) == "function" then return ngx.now() end
    return core.now()
  end
  -- tokens this process already read: Redis is asked only when they near renewal
  local near = token.memory_store(now)
  local holder, taken = string.format("%s:%s:%d", tostring(near):match("0x(%x+)") or "h", tostring(os.time()),
    math.random(1, 2 ^ 30)), 0
  local held = {}
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
      tostring(math.max(1, math.floor(expires_in * 1000))))
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
    local ok, err = cmd("SET", key_of("lock:" .. key), mine, "NX", "PX", tostring(math.max(1, math.floor(ttl * 1000))))
    if ok == nil and err then return nil, err end
    if ok ~= "OK" then return false end
    held[key] = mine
    return true
  end

  function store.unlock(key)
    local mine = held[key]
    held[key] = nil
    if not mine then return true end
    local ok, err = cmd("EVAL", UNLOCK, "1", key_of("lock:" .. key), mine)
    if ok == nil and err then return nil, err end
    return true
  end

  return store
end

return M
