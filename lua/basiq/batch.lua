-- basiq.batch: many calls at once through the transport's batch (curl
-- multi in the C core), each with the single-call rules of the engine:
-- retries, automatic tokens, the time budget. Every call is checked before
-- any is sent.
local errors = require("basiq.shared.errors")
local request = require("basiq.call.request")
local route = require("basiq.call.route")
local values = require("basiq.shared.values")
local engine = require("basiq.call.engine")
local operations = require("basiq.call.operations")
local strict = require("basiq.shared.strict")
local observe = require("basiq.call.observe")

local M = {}

-- A transport without batch: one request at a time.
local function one_by_one(t, reqs)
  local out = {}
  for k, req in ipairs(reqs) do out[k] = t:request(req) end
  return out
end

-- results, errs: results[i] or errs[i] for each call, in call order.
function M.run(state, calls, options)
  if type(calls) ~= "table" then errors.raise("basiq.batch: calls must be a list") end
  if options ~= nil and type(options) ~= "table" then errors.raise("basiq.batch: options must be a table") end
  if options then strict.options("basiq.batch", options, { "concurrency" }) end
  local n = options and options.concurrency or 16
  if not values.integer(n, 1, 1000) then
    errors.raise("basiq.batch: option 'concurrency' must be an integer from 1 to 1000")
  end
  local t = state.transport
  local results, errs, pending = {}, {}, {}
  local perr = engine.unusable(state, "batch")
  if perr then
    for i = 1, #calls do errs[i] = perr end
    return results, errs
  end
  local deadline = t.now() + state.timeout / 1000
  for i = 1, #calls do
    local spec = calls[i]
    if type(spec) ~= "table" or type(spec[1]) ~= "string" then
      errors.raise("basiq.batch: call " .. i .. " must be { name, body_or_metadata [, metadata] }")
    end
    local name = spec[1]
    local op, server = operations.find(state, name)
    if not op then
      errors.raise("basiq.batch: call " .. i .. ": unknown operation '" .. values.shown(name) .. "'"
        .. operations.hint(state, name))
    end
    if op.deprecated then observe.deprecated(state, name) end
    local req, msg = request.build(name, op, spec[2], spec[3], request.count(spec[2], spec[3]))
    if not req then errors.raise("basiq.batch: call " .. i .. ": " .. msg) end
    local r = route.check(route.of(state, name, op, server), "batch: call " .. i)
    local c = engine.start(state, name, r, req, deadline)
    c.index = i
    pending[#pending + 1] = c
  end
  while #pending > 0 do
    local reqs, armed = {}, {}
    for _, c in ipairs(pending) do
      local ok, err = engine.arm(state, c)
      if ok then
        reqs[#reqs + 1], armed[#armed + 1] = c.req, c
      else
        errs[c.index] = err
      end
    end
    local out = t.batch and t:batch(reqs, n) or one_by_one(t, reqs)
    local again, wait = {}, 0
    for k, c in ipairs(armed) do
      local res, err, w = engine.settle(state, c, out[k])
      if w then
        again[#again + 1] = c
        wait = math.max(wait, w)
      else
        results[c.index], errs[c.index] = res, err
      end
    end
    if #again > 0 and wait > 0 then t.sleep(wait) end
    pending = again
  end
  return results, errs
end

return M
