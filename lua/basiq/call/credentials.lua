-- call/: the path of one call, from its arguments to { data, status, headers }:
-- options, credentials, request, route, guard, engine, retry, tokens, events.
--
-- The client's credential: what basiq.auth() was given, the header each
-- security scheme sends it in, and every secret errors must redact (the
-- credential in each form it goes out in, and the tokens issued for it).
-- Never logs, never returns a secret in a message.
local core = require("basiq.shared.lazy")
local errors = require("basiq.shared.errors")

local M = {}

local MAX_ISSUED = 16 -- tokens remembered for redaction

-- Sets state's credential. "Basic <key>" (or any value when apikey is
-- true) is an API key: bearer calls then get automatic tokens. Anything
-- else is used as given (the `api` SDK's manual flow). who names the
-- public function for a mistake.
function M.set(state, who, value, apikey)
  if type(value) ~= "string" or value == "" or value:find("[\r\n%z]") then
    errors.raise("basiq." .. who .. ": credential must be a non-empty string without CR, LF or NUL")
  end
  local bare = value:match("^%a+%s+(.+)$")
  if apikey and not value:match("^[Bb]asic%s") then value, bare = "Basic " .. value, value end
  state.credential = {
    raw = value,
    bearer = "Bearer " .. (value:match("^[Bb]earer%s+(.*)$") or value),
    basic = value:match("^[Bb]asic%s") and value or "Basic " .. value,
    lines = setmetatable({}, { __mode = "k" }), -- scheme -> header line, made once
  }
  state.secrets = { value, bare }
  local escaped = core.escape(value) -- as an apiKey in a query or cookie goes out
  if escaped ~= value then state.secrets[#state.secrets + 1] = escaped end
  local key = value:match("^[Bb]asic%s") and value or nil
  if key ~= state.apikey then -- tokens belong to the key they came from
    state.apikey = key
    -- store keys carry a digest of the API key, never the key: a store
    -- shared by nginx workers may serve several keys
    state.keyid = key and (core.b64encode(core.hmac_sha256("basiq token store", key)):sub(1, 22) .. ":") or ""
    state.server_key = state.keyid .. "SERVER_ACCESS"
    state.issued, state.noted = {}, nil
    return true -- a new key: the caller starts a fresh token store
  end
end

-- The header line that carries the credential for scheme, as the `api` SDK
-- applies auth(): an apiKey scheme gets the value as given, bearer gets
-- "Bearer <value>". nil when there is nothing to send; for an apiKey in the
-- query, the query string to append instead (a loaded document's scheme).
function M.line(state, scheme)
  local cred = state.credential
  if not cred or not scheme then return nil end
  local line = cred.lines[scheme]
  if line then return line end
  local kind, value, name = scheme.kind, cred.raw, "Authorization"
  if kind == "bearer" or kind == "basic" then
    value = cred[kind]
  elseif kind == "apiKey" then
    name = scheme.name
    if scheme["in"] == "query" then
      return nil, core.escape(name) .. "=" .. core.escape(value)
    elseif scheme["in"] == "cookie" then
      name, value = "Cookie", name .. "=" .. core.escape(value)
    end
  end
  line = name .. ": " .. value
  cred.lines[scheme] = line
  return line
end

-- Remembers a token the client used, so errors can redact it (a short ring).
function M.note(state, tok)
  if tok == state.noted then return end
  state.noted = tok
  local issued = state.issued
  for i = 1, #issued do if issued[i] == tok then return end end
  table.insert(issued, 1, tok)
  issued[MAX_ISSUED + 1] = nil
end

-- Every secret an error must not show: the credential's forms and the tokens.
function M.secrets(state)
  local list = {}
  for i, v in ipairs(state.secrets) do list[i] = v end
  for _, v in ipairs(state.issued) do list[#list + 1] = v end
  return list
end

return M
