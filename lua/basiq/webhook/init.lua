-- webhook/: receiving Basiq's webhooks: the public functions (this file),
-- the signature scheme, the receiver that handles each delivery once, its stores.
--
-- basiq.webhook: Basiq's webhooks, signed with the Standard Webhooks
-- scheme (signatures.lua): verify a delivery, sign one for testing, and
-- receive deliveries so that each is handled once (receiver.lua). Only
-- the public functions live here.
local core = require("basiq.shared.lazy")
local errors = require("basiq.shared.errors")
local signatures = require("basiq.webhook.signatures")
local strict = require("basiq.shared.strict")

local M = {}

-- verify(secret | { secret, ... }, headers, rawBody [, { tolerance = seconds, now = seconds }])
-- -> true | false, reason. rawBody is the body exactly as received. Pure:
-- nothing is kept between calls.
function M.verify(secret, headers, body, opts)
  if type(opts) == "table" then strict.options("basiq.webhook.verify", opts, signatures.OPTIONS) end
  return signatures.check("basiq.webhook.verify", secret, headers, body, opts)
end

-- The webhook-signature value for a body: for testing your own receiver.
function M.sign(secret, id, timestamp, body)
  if type(secret) ~= "string" or type(id) ~= "string" or type(body) ~= "string" then
    errors.raise("basiq.webhook.sign: secret, id and body must be strings")
  end
  local ts = tostring(math.tointeger and math.tointeger(timestamp) or timestamp)
  if not ts:match("^%d+$") then errors.raise("basiq.webhook.sign: timestamp must be whole seconds") end
  local key = core.webhook_key(secret)
  if not key then errors.raise("basiq.webhook.sign: the secret" .. signatures.NOT_A_SECRET) end
  return "v1," .. core.b64encode(core.hmac_sha256(key, id .. "." .. ts .. "." .. body))
end

-- receive(secrets, headers, rawBody, handler [, opts]) -> status, detail:
-- each delivery verified, then handled once (basiq/receiver.lua).
function M.receive(...)
  return require("basiq.webhook.receiver").receive(...)
end

-- The receiver's stores: in this process (bounded, expiring), in an
-- nginx lua_shared_dict that every worker sees, or in Redis that every host
-- of a fleet sees (basiq.redisStore's options; one store per process for the
-- same options, so a handler may ask for it on every delivery).
function M.memory_store(opts)
  return require("basiq.webhook.memory_store").new(opts)
end

function M.shared_store(dict, name)
  if dict == nil or type(dict.add) ~= "function" then
    errors.raise("basiq.webhook.shared_store: dict must be a lua_shared_dict (ngx.shared.<name>)")
  end
  return require("basiq.webhook.shdict_store").new(dict, name)
end

function M.redisStore(opts)
  return require("basiq.redis.delivery_store").new(opts)
end

-- basiq.webhook.verfy raises, naming verify; basiq.webhook:verify(...) says to use a dot
return strict.namespace(M, "basiq.webhook")
