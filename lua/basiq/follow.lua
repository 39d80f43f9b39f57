-- basiq.follow: GET a link the API handed back (a webhook event's
-- links.eventEntity, a job step's result.url "/users/...") with the
-- client's credentials. Only on the client's own server (guard.within), as
-- paginate follows links.next: a link anywhere else would take the token
-- with it, so it is refused, never sent.
local errors = require("basiq.shared.errors")
local guard = require("basiq.call.guard")
local route = require("basiq.call.route")
local engine = require("basiq.call.engine")
local operations = require("basiq.call.operations")

local M = {}

-- Links name Basiq's resources: they go as its resource reads go
-- (getUser's route: a bearer token, the client's server).
local ROUTE_OF = "getUser"

-- res | nil, err (err.code "refused" for a link off the client's server).
function M.get(state, link)
  if type(link) ~= "string" then
    errors.raise("basiq.follow: link must be a string (a path or URL the API handed back)")
  end
  local op, server = operations.find(state, ROUTE_OF)
  local r = route.of(state, ROUTE_OF, op, server)
  local rest = guard.within(r.base, link)
  if not rest then
    return nil, errors.new("refused", "basiq.follow: not following this link (the token stays here): "
      .. guard.LINK_RULE, { link = link })
  end
  route.check(r, "follow")
  return engine.run(state, "follow", r, { method = "GET", path = rest, headers = { "Accept: application/json" } })
end

return M
