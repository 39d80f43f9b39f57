-- basiq.webhook: Basiq signs webhooks with the Standard Webhooks scheme
-- (webhook-id, webhook-timestamp, webhook-signature). The HMAC, base64 and
-- constant-time comparison are in the C core (OpenSSL's libcrypto).
local core = require("basiq.lazy")

local M = {}

-- A header by case-insensitive name; OpenResty gives repeated headers as a
-- list, and then only a single value is acceptable.
local function header(headers, want)
  for k, v in pairs(headers) do
    if type(k) == "string" and k:lower() == want then
      if type(v) == "table" then return #v == 1 and v[1] or nil end
      return type(v) == "string" and v or nil
    end
  end
end

local function check(cond, arg, what)
  if not cond then error("basiq.webhook.verify: " .. arg .. " must be " .. what, 3) end
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
  check(type(now) == "number", "opts.now", "a number of seconds")

  local id, ts, sigs = header(headers, "webhook-id"), header(headers, "webhook-timestamp"), header(headers, "webhook-signature")
  if not id or id == "" then return false, "missing webhook-id header" end
  if not ts or not ts:match("^%d+$") or #ts > 15 then return false, "missing or invalid webhook-timestamp header" end
  if not sigs or sigs == "" then return false, "missing webhook-signature header" end
  if math.abs(now - tonumber(ts)) > tolerance then
    return false, "webhook-timestamp is more than " .. tolerance .. " s from now"
  end
  return core.webhook_check(secret, id, ts, body, sigs)
end

-- The webhook-signature value for a body: for testing your own receiver.
function M.sign(secret, id, timestamp, body)
  if type(secret) ~= "string" or type(id) ~= "string" or type(body) ~= "string" then
    error("basiq.webhook.sign: secret, id and body must be strings", 2)
  end
  local ts = tostring(math.tointeger and math.tointeger(timestamp) or timestamp)
  if not ts:match("^%d+$") then error("basiq.webhook.sign: timestamp must be whole seconds", 2) end
  local key = core.b64decode((secret:gsub("^whsec_", "")))
  if not key or key == "" then error("basiq.webhook.sign: secret must be whsec_ followed by base64", 2) end
  return "v1," .. core.b64encode(core.hmac_sha256(key, id .. "." .. ts .. "." .. body))
end

return M
