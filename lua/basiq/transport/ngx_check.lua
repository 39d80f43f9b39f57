-- basiq.checkNginx{ ... }: the nginx.conf lines that features of the SDK
-- need and that only show their absence at request time, checked when
-- nginx starts (init_by_lua), so a missing one stops nginx with its name
-- rather than failing calls or deliveries later. Reads nothing but nginx's
-- own tables; raises, as a mistake in the configuration is the user's.
local errors = require("basiq.shared.errors")
local suggest = require("basiq.shared.suggest")
local values = require("basiq.shared.values")

local M = {}

-- feature -> the shared dict it needs, its line, and what it is for
local NEEDS = {
  tokens = { "basiq", "lua_shared_dict basiq 1m;", "one Basiq token for all workers" },
  stats = { "basiq", "lua_shared_dict basiq 1m;", "basiq.stats() of all workers" },
  webhooks = { "basiq_webhooks", "lua_shared_dict basiq_webhooks 10m;",
               "webhook deliveries' marks, seen by every worker (or a Redis store)" },
}
local NAMES = { "stats", "tokens", "webhooks" }

local function fail(what) errors.raise("basiq.checkNginx: " .. what) end

function M.check(features)
  if not (ngx ~= nil and type(ngx.get_phase) == "function") then fail("runs only inside nginx (in init_by_lua)") end
  features = features or NAMES
  if type(features) ~= "table" then fail("features must be a list of " .. table.concat(NAMES, ", ")) end
  for _, f in ipairs(features) do
    local need = NEEDS[f]
    if not need then
      fail("unknown feature '" .. values.shown(tostring(f)) .. "'" .. suggest.hint(tostring(f), NAMES)
        .. " (it knows " .. table.concat(NAMES, ", ") .. ")")
    end
    if not (ngx.shared and ngx.shared[need[1]]) then
      fail("nginx.conf's http block needs `" .. need[2] .. "` (" .. need[3] .. ")")
    end
  end
  return true
end

return M
