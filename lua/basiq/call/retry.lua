-- The retry policy: which failed attempts may be repeated, and after how
-- long. Pure functions; the engine keeps the count and the budget.
local min, random = math.min, math.random

local M = {}

local STATUS = { [429] = true, [502] = true, [503] = true, [504] = true }
-- failures another attempt may meet differently (not a too-large body, TLS, a bad URL)
local NETWORK = { connect = true, resolve = true, timeout = true, send = true, recv = true, ["empty-reply"] = true }

-- Whether an answer with this status is worth repeating (safe: the
-- operation may be repeated, see route.lua).
function M.status(status, safe)
  return safe and STATUS[status] or false
end

-- Whether a network failure is worth repeating: a POST only when the
-- request surely never left (sent == false).
function M.network(code, safe, sent)
  return NETWORK[code] and (safe or sent == false) or false
end

-- Seconds to wait from a Retry-After header (delta-seconds or an HTTP date).
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }
function M.after(v)
  if not v then return nil end
  local n = v:match("^%s*(%d+)%s*$")
  if n then return tonumber(n) end
  local d, mon, y, hh, mm, ss = v:match("(%d+) (%a+) (%d+) (%d+):(%d+):(%d+) GMT")
  if not (d and MONTHS[mon]) then return nil end
  local utc = { year = tonumber(y), month = MONTHS[mon], day = tonumber(d), hour = tonumber(hh), min = tonumber(mm), sec = tonumber(ss) }
  local now = os.time()
  -- os.time reads its table as local time; correct by this zone's offset
  local offset = os.time(os.date("*t", now)) - os.time(os.date("!*t", now))
  return math.max(0, os.time(utc) + offset - now)
end

-- Exponential backoff with full jitter before retry n (1, 2, ...): a random
-- wait up to base * 2^(n-1) ms, capped at cap ms; in seconds.
function M.backoff(n, base, cap)
  return random() * min(cap, base * 2 ^ (n - 1)) / 1000
end

return M
