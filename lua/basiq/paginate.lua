-- basiq.paginate: every page of a list operation, following links.next on
-- the client's own server only (guard.within: a path, or a URL under the
-- server's; a link elsewhere would take the token with it). Each page is an ordinary call of the engine, routed and guarded as
-- the client's settings are when it is sent.
local errors = require("basiq.shared.errors")
local request = require("basiq.call.request")
local route = require("basiq.call.route")
local guard = require("basiq.call.guard")
local engine = require("basiq.call.engine")
local observe = require("basiq.call.observe")

local M = {}

-- An iterator for a generic for: res per page; a failure ends the loop
-- after one (false, err), since Lua's for stops at a nil first value.
function M.pages(state, name, op, server, a, b, nargs)
  if op.method ~= "GET" then errors.raise("basiq.paginate: " .. name .. " is not a list operation (GET)") end
  if op.deprecated then observe.deprecated(state, name) end
  local req, msg = request.build(name, op, a, b, nargs)
  if not req then errors.raise(msg) end
  local base = route.check(route.of(state, name, op, server), "paginate").base
  local headers, pending = req.headers, nil -- pending: an error due on the next turn
  return function()
    if pending then
      local e = pending
      pending = nil
      return false, e
    end
    local this = req
    if not this then return nil end
    req = nil
    local h = {}
    for i = 1, #headers do h[i] = headers[i] end
    this.headers = h
    -- the route as the settings are now: auth() or server() may have changed
    -- between pages, so the plain-http check is made again too
    local r = route.check(route.of(state, name, op, server), "paginate")
    local res, err = engine.run(state, name, r, this)
    if not res then return false, err end
    local links = type(res.data) == "table" and res.data.links
    local nxt = type(links) == "table" and links.next
    if type(nxt) == "string" and nxt ~= "" then
      local rest = guard.within(base, nxt)
      if rest then
        req = { method = "GET", path = rest }
      else
        pending = errors.new("pagination", "basiq." .. name
          .. ": not following links.next (the token stays here): " .. guard.LINK_RULE)
      end
    end
    return res
  end
end

return M
