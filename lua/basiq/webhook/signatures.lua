-- The Standard Webhooks scheme Basiq signs with: a delivery's headers
-- (webhook-id, webhook-timestamp, webhook-signature), its secrets' HMAC
-- keys and the check, for basiq.webhook.verify and receive. Pure: keeps
-- nothing between calls, and never puts a secret in a reason or an error.
-- The HMAC, base64 and constant-time comparison are in the C core
-- (src/crypto.c, over OpenSSL's libcrypto).
local core = require("basiq.shared.lazy")
local errors = require("basiq.shared.errors")
local values = require("basiq.shared.values")

local M = {}

-- A header by case-insensitive name: its value, or nil and why not. A header
-- sent twice (OpenResty gives a list, or two spellings of the name as keys)
-- is refused rather than one of its values picked.
function M.header(headers, want)
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
  -- a framework may hand over a number (webhook-timestamp): its text
  if type(found) == "number" then found = values.number(found) or tostring(found) end
  if type(found) ~= "string" or found == "" then return nil, "missing " .. want .. " header" end
  return found
end

local function check(who, cond, arg, what)
  if not cond then errors.raise(who .. ": " .. arg .. " must be " .. what) end
end

M.OPTIONS = { "now", "tolerance" } -- verify's options

M.NOT_A_SECRET = " is not a Standard Webhooks secret (whsec_ and base64, as the reference libraries read it)"

-- The HMAC keys of a secret or a list of them (while a secret is rotated,
-- old and new). A secret that either reference library would refuse is a
-- mistake, raised without showing it.
local function keys_of(who, secret)
  local list = type(secret) == "string" and { secret } or secret
  local n = type(list) == "table" and values.sequence(list)
  if not n or n == 0 then errors.raise(who .. ": secret must be a string or a non-empty list of strings") end
  local keys = {}
  for i = 1, n do
    local s = list[i]
    if type(s) ~= "string" then errors.raise(who .. ": secret " .. i .. " must be a string") end
    keys[i] = core.webhook_key(s)
    if not keys[i] then errors.raise(who .. ": " .. (list == secret and "secret " .. i or "the secret") .. M.NOT_A_SECRET) end
  end
  return keys
end

-- verify, as the public function `who` does it: true | false, reason.
function M.check(who, secret, headers, body, opts)
  local keys = keys_of(who, secret)
  check(who, type(headers) == "table", "headers", "a table")
  check(who, type(body) == "string", "rawBody", "a string (the body exactly as received)")
  check(who, opts == nil or type(opts) == "table", "opts", "a table")
  opts = opts or {}
  local tolerance, now = opts.tolerance or 300, opts.now or os.time()
  check(who, type(tolerance) == "number" and tolerance >= 0, "opts.tolerance", "a number of seconds")
  check(who, type(now) == "number" and now == now, "opts.now", "a number of seconds") -- NaN would pass any window

  local id, why = M.header(headers, "webhook-id")
  if not id then return false, why end
  local ts, why2 = M.header(headers, "webhook-timestamp")
  if not ts then return false, why2 end
  if not ts:match("^%d+$") or #ts > 15 then return false, "invalid webhook-timestamp header" end
  local sigs, why3 = M.header(headers, "webhook-signature")
  if not sigs then return false, why3 end
  if math.abs(now - tonumber(ts)) > tolerance then
    return false, "webhook-timestamp is more than " .. tolerance .. " s from now"
  end
  local reason
  for i = 1, #keys do
    local ok, why4 = core.webhook_check(keys[i], id, ts, body, sigs)
    if ok then return true end
    reason = reason or why4
  end
  return false, reason
end

return M
