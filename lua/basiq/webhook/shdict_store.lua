-- basiq.deliveries.shdict: the marks basiq.webhook.receive keeps per
-- webhook-id, in an nginx lua_shared_dict that every worker sees: add is
-- atomic across workers, marks expire by themselves. The store interface
-- is memory_store.lua's. Never blocks; a full dict drops its least
-- recently used entries (the oldest marks), and this says so in the log.
local M = {}

-- the dict basiq.webhook.receive uses inside nginx unless given a store
M.DICT = "basiq_webhooks"

local Store = {}
Store.__index = Store

-- new(dict[, name]) -> a store over ngx.shared[name]
function M.new(dict, name)
  return setmetatable({ dict = dict, name = name or "(a lua_shared_dict)" }, Store)
end

local function full(self, forcible)
  if forcible then
    ngx.log(ngx.WARN, "basiq: lua_shared_dict ", self.name, " is full: older webhook delivery marks were",
      " dropped to make room, so their duplicates would run again; make it larger")
  end
end

function Store:add(key, value, ttl)
  local ok, err, forcible = self.dict:add(key, value, ttl)
  full(self, forcible)
  if ok then return true end
  if err == "exists" then return false, err end
  return nil, err
end

function Store:set(key, value, ttl)
  local ok, err, forcible = self.dict:set(key, value, ttl)
  full(self, forcible)
  if ok then return true end
  return nil, err
end

function Store:get(key)
  return (self.dict:get(key))
end

-- With value: only while the key holds it. The dict has no compare-and-
-- delete, so a mark that lapsed and was taken by another worker between
-- this get and this delete would still be freed: a window of microseconds,
-- at the very end of a lease that outlasted its handler.
function Store:delete(key, value)
  if value == nil or self.dict:get(key) == value then self.dict:delete(key) end
end

-- Inside nginx: the store over lua_shared_dict basiq_webhooks, or nil and
-- what to add to nginx.conf. Outside nginx: nil.
local shared
function M.default()
  if ngx == nil or type(ngx.get_phase) ~= "function" then return nil end
  if shared then return shared end
  local dict = ngx.shared and ngx.shared[M.DICT]
  if not dict then
    return nil, "inside nginx every worker must see the same marks: add `lua_shared_dict " .. M.DICT
      .. " 10m;` to nginx.conf's http block, or pass opts.store"
  end
  shared = M.new(dict, M.DICT)
  return shared
end

return M
