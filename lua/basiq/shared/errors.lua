-- shared/: what every group uses and no group owns: errors, value checks,
-- the lazily loaded C core, nearest-name suggestions. Pure or stateless.
--
-- The SDK's one error convention. HTTP, network and every other failure
-- is an error object returned as `nil, err`; a programmer's mistake is
-- raised, once, at the caller's line (raise). Nothing in an error carries a
-- credential, even when a server echoes one back.
local M = {}

-- Every module of the SDK lives in the folder above this one (basiq/):
-- frames whose source begins there are the SDK's own.
local HERE = debug.getinfo(1, "S").source:match("^(@.*[/\\])shared[/\\]errors%.lua$") or "@basiq/"

-- Raises message at the first Lua function outside the SDK: the user's
-- line, however deep inside the SDK the mistake was found (no levels to
-- count). C frames between (pcall, metamethods) and Lua 5.1's tail-call
-- marks have no line to show.
local LINELESS = { C = true, tail = true }
function M.raise(message)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or not LINELESS[info.what] and info.source:sub(1, #HERE) ~= HERE then break end
    level = level + 1
  end
  error(message, level)
end

local Error = { __name = "basiq.error", __tostring = function(e) return e.message end }

-- curl result codes worth a name of their own; anything else is "network".
local CURL_KINDS = {
  [5] = "resolve", [6] = "resolve", [7] = "connect", [28] = "timeout",
  [35] = "tls", [51] = "tls", [58] = "tls", [60] = "tls", [77] = "tls", [83] = "tls",
  [52] = "empty-reply", [55] = "send", [56] = "recv", [18] = "recv",
  [8] = "protocol", [1] = "protocol", [100] = "too-large", -- CURLE_TOO_LARGE (libcurl 8.6+)
}
-- A write error or out-of-memory is one of the core's size caps when its
-- message says so (src/xfer.c: "... larger than N bytes"), else "network".
local CAPPED = { [23] = true, [27] = true }

-- Replaces every known secret in s; secrets is a list of strings (may be nil).
function M.redact(s, secrets)
  if type(s) ~= "string" or not secrets then return s end
  for _, secret in ipairs(secrets) do
    if #secret >= 4 then
      local i = s:find(secret, 1, true)
      while i do
        s = s:sub(1, i - 1) .. "[redacted]" .. s:sub(i + #secret)
        i = s:find(secret, i + 10, true)
      end
    end
  end
  return s
end
local redact = M.redact

-- The same through a decoded body or header table (ours, fresh: changed in place).
local function redact_deep(v, secrets, depth)
  if type(v) == "string" then return redact(v, secrets) end
  if type(v) ~= "table" or depth > 32 then return v end
  for k, item in pairs(v) do v[k] = redact_deep(item, secrets, depth + 1) end
  return v
end

function M.network(opname, msg, curlcode, secrets)
  -- a transport may name the kind itself (nginx's: "thread")
  local code = CURL_KINDS[curlcode] or type(curlcode) == "string" and curlcode or "network"
  if CAPPED[curlcode] and tostring(msg):find("larger than", 1, true) then code = "too-large" end
  msg = redact(tostring(msg), secrets)
  return setmetatable({
    code = code,
    curlcode = type(curlcode) == "number" and curlcode or nil,
    message = string.format("basiq.%s: %s error: %s", opname, code, msg),
  }, Error)
end

local function text(v)
  return type(v) == "string" and v ~= "" and v or nil
end

-- Basiq errors: { type = "list", correlationId, data = { { code, title, detail }, ... } };
-- RFC 7807 problem details (Prism, proxies) carry title/detail at the top.
function M.http(opname, status, headers, data, secrets)
  if secrets and secrets[1] then
    data, headers = redact_deep(data, secrets, 0), redact_deep(headers, secrets, 0)
  end
  local e = setmetatable({ status = status, headers = headers, data = data }, Error)
  if type(data) == "table" then
    local first = type(data.data) == "table" and data.data[1]
    first = type(first) == "table" and first or data
    e.code = text(first.code)
    e.title = redact(text(first.title), secrets)
    e.detail = redact(text(first.detail), secrets)
    e.correlationId = text(data.correlationId)
  end
  local parts = { string.format("basiq.%s: HTTP %d", opname, status) }
  if e.code then parts[#parts + 1] = e.code end
  if e.title then parts[#parts + 1] = e.title end
  if e.detail and e.detail ~= e.title then parts[#parts + 1] = e.detail end
  local msg = table.concat(parts, ": ")
  if e.correlationId then msg = msg .. " (correlationId " .. e.correlationId .. ")" end
  e.message = redact(msg, secrets)
  return e
end

-- An error of the SDK's own making (not HTTP, not the network).
function M.new(code, message, fields)
  local e = setmetatable(fields or {}, Error)
  e.code, e.message = code, message
  return e
end

-- An error from a step this call depended on (its token request), told as
-- this call's own: same fields, this operation's name first in the message.
function M.wrap(opname, err, what, secrets)
  local e = setmetatable({}, Error)
  if type(err) == "table" then
    for k, v in pairs(err) do e[k] = v end
  else
    e.code = "timeout"
  end
  local inner = tostring(type(err) == "table" and err.message or err):gsub("^basiq%.[%w_]+: ", "")
  e.message = redact(string.format("basiq.%s: %s: %s", opname, what, inner), secrets)
  return e
end

return M
