-- The mock's /token and its bearer checks: SERVER_ACCESS and CLIENT_ACCESS
-- tokens (the latter bound to a user or not), with a real expiry that may
-- come earlier than expires_in says. Tokens are random and never logged;
-- a refusal never repeats the token it refuses.
local refusals = require("basiq.mock.refusals")
local form_decode = require("basiq.mock.wire").form_decode
local now = require("basiq.mock.loop").now

local refuse = refusals.refuse

local M = {}
M.__index = M

-- Random bytes as hex, from the OS where it has them.
function M.random_hex(nbytes)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(nbytes)
  if f then f:close() end
  if not bytes or #bytes < nbytes then
    local t = {}
    for i = 1, nbytes do t[i] = string.char(math.random(0, 255)) end
    bytes = table.concat(t)
  end
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

-- opts: life (seconds expires_in says), expire_early (seconds a token
-- really lives, when shorter), api_key (only this key gets tokens).
function M.new(opts)
  return setmetatable({ life = opts.life or 3600, real = opts.expire_early, api_key = opts.api_key,
    live = {}, issued = 0 }, M)
end

-- POST /token: the answer's data, or a refusal raised. users: the user
-- store, to check a CLIENT_ACCESS token's userId.
function M:issue(req, users)
  local auth = req.headers.authorization or ""
  local key = auth:match("^[Bb]asic%s+(%S+)%s*$")
  if not key then
    refuse("invalid-credentials", "The Authorization header must be Basic <your API key>.", "Authorization")
  end
  if self.api_key and key ~= self.api_key then
    refuse("invalid-credentials", "This API key is not the one the mock was started with (--api-key).", "Authorization")
  end
  local form = form_decode(req.body)
  local scope = form.scope or "SERVER_ACCESS"
  if scope ~= "SERVER_ACCESS" and scope ~= "CLIENT_ACCESS" then
    refuse("parameter-not-valid", "scope must be SERVER_ACCESS or CLIENT_ACCESS.", "scope")
  end
  local user = form.userId
  if user == "" then user = nil end
  if user and scope ~= "CLIENT_ACCESS" then
    refuse("parameter-not-valid", "userId binds CLIENT_ACCESS tokens only.", "userId")
  end
  if user and not users[user] then refuse("parameter-not-valid", "No user with this userId.", "userId") end
  local token = "mock-" .. self.random_hex(24)
  local t = now()
  self.issued = self.issued + 1
  self.live[token] = { scope = scope, user = user, expires = t + math.min(self.life, self.real or self.life) }
  -- forget tokens long dead, so a long run stays small
  if self.issued % 256 == 0 then
    for k, v in pairs(self.live) do
      if v.expires < t - 3600 then self.live[k] = nil end
    end
  end
  return { access_token = token, token_type = "Bearer", expires_in = self.life }
end

-- The token a request carries, checked: its record, or a refusal raised.
-- need: "SERVER_ACCESS" (the default), or "CLIENT_ACCESS" where either may call.
function M:check(req, need)
  local auth = req.headers.authorization
  if not auth or auth == "" then
    refuse("unauthorized-access", "No Authorization header: send Bearer <token from /token>.")
  end
  local token = auth:match("^[Bb]earer%s+(%S+)%s*$")
  local rec = token and self.live[token]
  if not rec then refuse("invalid-authorization-token", "The token is not valid.") end
  return M.alive(rec, need)
end

-- The record of a token given as a value (the Consent UI's ?token=).
function M:lookup(token)
  return token and self.live[token]
end

-- A token's record, checked: alive, and of the scope needed; or a refusal raised.
function M.alive(rec, need)
  if rec.expires <= now() then refuse("access-denied", "Token has expired.") end
  if (need or "SERVER_ACCESS") == "SERVER_ACCESS" and rec.scope ~= "SERVER_ACCESS" then
    refuse("forbidden-access", "This operation needs a SERVER_ACCESS token; this one is " .. rec.scope .. ".", "scope")
  end
  return rec
end

return M
