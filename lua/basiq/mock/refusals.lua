-- How the mock refuses, as Basiq does: an error list
-- { type = "list", correlationId, data = { { type = "error", code, title,
-- detail, source } } } with the status and code the definitions give for
-- each kind. Never echoes a credential back.
local cjson = require("cjson")

local M = {}

-- kind -> status, code, title (codes from the definitions' error schemas)
local KINDS = {
  ["parameter-not-supplied"] = { 400, "parameter-not-supplied", "Required parameter not supplied" },
  ["parameter-not-valid"] = { 400, "parameter-not-valid", "Parameter value is not valid" },
  ["invalid-content"] = { 400, "invalid-content", "Invalid content" },
  ["invalid-credentials"] = { 400, "invalid-credentials", "Invalid credentials" },
  ["unauthorized-access"] = { 401, "unauthorized-access", "Unauthorized Access" },
  ["invalid-authorization-token"] = { 401, "invalid-authorization-token", "Invalid authorization token" },
  ["access-denied"] = { 403, "access-denied", "Access denied" },
  ["forbidden-access"] = { 403, "forbidden-access", "Forbidden Access" },
  ["resource-not-found"] = { 404, "resource-not-found", "Resource not found" },
  ["resource-no-longer-available"] = { 410, "resource-no-longer-available", "Resource no longer available" },
  ["too-many-requests"] = { 429, "too-many-requests", "Too many requests" },
  ["internal-server-error"] = { 500, "internal-server-error", "Internal server error" },
  ["service-unavailable"] = { 503, "service-unavailable", "Service unavailable" },
}

local counter = 0

-- A fresh correlation id: unique within the mock's life.
local function correlation_id()
  counter = counter + 1
  return ("mock-%08x-%04x"):format(math.floor(require("basiq.mock.loop").now() * 1000) % 0x100000000, counter % 0x10000)
end

-- status, headers, body of a refusal. source: the parameter it is about
-- (always sent: some of Basiq's 403 schemas require it).
function M.answer(kind, detail, parameter, headers)
  local k = assert(KINDS[kind], kind)
  local entry = { type = "error", code = k[2], title = k[3], detail = detail }
  if parameter or k[1] == 403 or k[1] == 400 then entry.source = { parameter = parameter or "Authorization" } end
  local h = headers or {}
  h["Content-Type"] = "application/json"
  return k[1], h, cjson.encode({ type = "list", correlationId = correlation_id(), data = { entry } })
end

-- A refusal travels up from a handler as an error value, so that a check
-- deep in a handler ends the request: refuse(...) raises it, and the router
-- turns it into the answer.
local Refusal = {}
function M.refuse(kind, detail, parameter, headers)
  error(setmetatable({ kind = kind, detail = detail, parameter = parameter, headers = headers }, Refusal), 0)
end

function M.is_refusal(e) return getmetatable(e) == Refusal end

function M.of(e) return M.answer(e.kind, e.detail, e.parameter, e.headers) end

return M
