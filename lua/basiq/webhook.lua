-- basiq.webhook: Basiq signs webhooks with the Standard Webhooks scheme
-- (webhook-id, webhook-timestamp, webhook-signature). The HMAC, base64 and
-- constant-time comparison are in the C core (OpenSSL's libcrypto).
local core = require("basiq.lazy")
local errors = require("basiq.errors")

local M = {}

-- A header by case-insensitive name: its value, or nil and why not. A header
-- sent twice (OpenResty gives a list, or two spellings of the name as keys)
-- is refused rather than one of its values picked.
local function header(headers, want)
  local found, n = nil, 0
  for k, v in pairs(headers) do
    if type(k) == "string" and k:lower() == want then
      if type(v) == "table" then
        n = n + #v
        found = v[1]
      else
        n = n + 1
        found = v
      end
    end
  end
  if n > 1 then return nil, "repeated " .. want .. " header" end
  if type(found) ~= "string" or found == "" then return nil, "missing " .. want .. " header" end
  return found
end

local function check(cond, arg, what)
  if not cond then errors.raise("basiq.webhook.verify: " .. arg .. " must be " .. what) end
end

-- verify(secret, headers, rawBody [, { tolerance = seconds, now = seconds }])
-- -> true | false, reason. rawBody is the body exactly as received.
function M.verify(secret, headers, body, opts)
  check(type(secret) == "string" and secret ~= "", "secret", "a non-empty string")
  check(type(headers) == "table", "headers", "a table")
  check(type(body) == "string", "rawBody", "a string (the body exactly as received)")
  check(opts == nil or type(opts) == "table", "opts", "a table")
  opts = opts or {}
  local tolerance, now = opts.tolerance or 300, opts.now or os.time()
  check(type(tolerance) == "number" and tolerance >= 0, "opts.tolerance", "a number of seconds")
  check(type(now) == "number" and now == now, "opts.now", "a number of seconds") -- NaN would pass any window

  local id, why = header(headers, "webhook-id")
  if not id then return false, why end
  local ts, why2 = header(headers, "webhook-timestamp")
  if not ts then return false, why2 end
  if not ts:match("^%d+$") or #ts > 15 then return false, "invalid webhook-timestamp header" end
  local sigs, why3 = header(headers, "webhook-signature")
  if not sigs then return false, why3 end
  if math.abs(now - tonumber(ts)) > tolerance then
    return false, "webhook-timestamp is more than " .. tolerance .. " s from now"
  end
  return core.webhook_check(secret, id, ts, body, sigs)
end

-- The webhook-signature value for a body: for testing your own receiver.
function M.sign(secret, id, timestamp, body)
  if type(secret) ~= "string" or type(id) ~= "string" or type(body) ~= "string" then
    errors.raise("basiq.webhook.sign: secret, id and body must be strings")
  end
  local ts = tostring(math.tointeger and math.tointeger(timestamp) or timestamp)
  if not ts:match("^%d+$") then errors.raise("basiq.webhook.sign: timestamp must be whole seconds") end
  local b64 = secret:gsub("^whsec_", "")
  local key = core.b64decode(b64 .. ("="):rep(-#b64 % 4)) -- padding optional, as in verify
  if not key or key == "" then errors.raise("basiq.webhook.sign: secret must be whsec_ followed by base64") end
  return "v1," .. core.b64encode(core.hmac_sha256(key, id .. "." .. ts .. "." .. body))
end

return M
