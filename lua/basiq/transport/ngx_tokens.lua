-- The token store of the nginx transport: lua_shared_dict `basiq` when
-- nginx.conf declares it, so every worker uses one token and one worker at
-- a time renews it; else this worker's memory (call/token.lua has the
-- store interface). The entries keep this host's clock, ngx.now().
local token = require("basiq.call.token")

local M = {}

local DICT = "basiq"

local function shared_store(dict)
  local store = {}
  local holders, taken = require("basiq.shared.holders").new(), 0
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
    if not ok then ngx.log(ngx.WARN, "basiq: lua_shared_dict ", DICT, " could not keep a token: ", err) end
    return true
  end
  function store.drop(key, tok)
    local cur = store.get(key)
    if cur == tok then dict:delete("t:" .. key) end
    return true
  end
  -- expires by itself, so a worker that dies while renewing cannot wedge the
  -- rest; marked with its holder, so that only the holder frees it (get and
  -- delete do not yield: nothing in this worker runs between them)
  function store.lock(key, ttl)
    taken = taken + 1
    local mine = ngx.worker.pid() .. ":" .. taken
    if dict:add("l:" .. key, mine, ttl) ~= true then return false end
    holders.keep(key, mine)
    return true
  end
  function store.unlock(key)
    local mine = holders.take(key)
    if mine and dict:get("l:" .. key) == mine then dict:delete("l:" .. key) end
    return true
  end
  return store
end

local function now()
  ngx.update_time()
  return ngx.now()
end

function M.store()
  local dict = ngx.shared and ngx.shared[DICT]
  return dict and shared_store(dict) or token.memory_store(now)
end

return M
