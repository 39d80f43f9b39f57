-- redis/: everything that talks to Redis, for what a fleet shares: this
-- connection, and the stores on it (tokens, webhook deliveries).
--
-- One place that talks to Redis, for every store a fleet shares (tokens,
-- webhook deliveries): its options checked, and commands sent through
-- lua-resty-redis on cosockets inside nginx (Debian's lua-nginx-redis),
-- elsewhere through the C core's hiredis connection. Every command is
-- bounded by the timeout; a failure is returned, never raised, and never
-- carries the password.
local core = require("basiq.shared.lazy")
local errors = require("basiq.shared.errors")
local values = require("basiq.shared.values")
local strict = require("basiq.shared.strict")

local M = {}

local function in_nginx()
  return ngx ~= nil and type(ngx.get_phase) == "function" and ngx.get_phase() ~= "init"
end

local function check(who, opts)
  local function fail(what) errors.raise(who .. ": " .. what) end
  if type(opts) ~= "table" then fail("options must be a table") end
  strict.options(who, opts, { "db", "host", "password", "port", "prefix", "timeout", "tls" })
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
  o.who = who
  return o
end

-- The errors a store returns: where, and what went wrong (never the password).
local function failure(o, what)
  local text = tostring(what)
  if o.password then text = errors.redact(text, { o.password }) end
  return errors.new("store", o.who .. ": redis " .. o.host .. ":" .. o.port .. ": " .. text)
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
    -- an error reply ("OOM ...", "READONLY ..."): false, its text; the
    -- connection is as good as before
    if reply == false then return nil, failure(o, err) end
    if reply == ngx.null then return nil end
    return reply
  end
end

-- A script that deletes KEYS[1] only while it holds ARGV[1]: a lock or a
-- mark released by its holder alone, never one that lapsed and was taken.
M.DELETE_IF_HELD = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

-- seconds -> the milliseconds of a PX argument (at least 1)
function M.px(seconds)
  return tostring(math.max(1, math.floor(seconds * 1000)))
end

-- A command function for these options, cmd("SET", key, ...) -> reply |
-- nil (a nil reply) | nil, err, and the options checked (defaults filled
-- in). who names the public function for a mistake and in errors.
function M.new(who, opts)
  local o = check(who, opts)
  local plain, in_ngx
  return function(...)
    if in_nginx() then
      in_ngx = in_ngx or nginx_client(o)
      return in_ngx(...)
    end
    plain = plain or plain_client(o)
    return plain(...)
  end, o
end

return M
