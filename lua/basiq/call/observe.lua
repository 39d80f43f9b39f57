-- Call events: one table per HTTP attempt (kind "attempt") and per
-- attempt of an automatic token's fetch (kind "token"), one per webhook
-- delivery received ("webhook"), a shared store's failures ("store") and a
-- deprecated operation's first call ("deprecated"), handed to the user's
-- observer and to the debug log. An event never holds a credential, a
-- token, a URL, a webhook secret or body; an observer that raises never
-- breaks a call.
local errors = require("basiq.shared.errors")
local credentials = require("basiq.call.credentials")
local values = require("basiq.shared.values")

local M = {}

-- Each client's state, for what reports through it outside a call
-- (basiq.webhook.receive's events): weak, so a client still goes away.
local states = setmetatable({}, { __mode = "k" })
function M.attach(client, state) states[client] = state end
function M.state_of(client) return states[client] end

local function in_nginx()
  return ngx ~= nil and type(ngx.log) == "function"
end

-- Once per client: what went wrong with its observer.
local function report(state, why)
  if state.observe_failed then return end
  state.observe_failed = true
  local msg = "basiq: the observe function raised (reported once): "
    .. errors.redact(tostring(why), credentials.secrets(state))
  if in_nginx() then ngx.log(ngx.ERR, msg) else io.stderr:write(msg, "\n") end
end

-- One line of the debug log for an event: an attempt's figures, or what
-- any other event says.
local function line(ev)
  local parts
  if ev.kind == "webhook" then
    parts = { "basiq: webhook", ev.outcome, values.shown(ev.eventTypeId or "-"), tostring(ev.status) }
  elseif not ev.attempt then
    return ev.message -- a deprecated operation's notice says it all
  else
    parts = { "basiq:", ev.kind, ev.operation, ev.method, ev.status and tostring(ev.status) or ev.code,
      string.format("attempt %d", ev.attempt) }
  end
  if ev.ms then parts[#parts + 1] = string.format("%.1f ms", ev.ms) end
  if ev.waitMs then parts[#parts + 1] = string.format("waited %.1f ms", ev.waitMs) end
  if ev.bytes then parts[#parts + 1] = ev.bytes .. " bytes" end
  if ev.retryIn then parts[#parts + 1] = string.format("retry in %.0f ms", ev.retryIn) end
  if ev.correlationId then parts[#parts + 1] = "correlationId " .. ev.correlationId end
  return table.concat(parts, " ")
end

local function log(state, ev)
  local text = errors.redact(line(ev), credentials.secrets(state))
  if in_nginx() then ngx.log(ngx.INFO, text) else io.stderr:write(text, "\n") end
end

-- Sets state.emit from its observe and debug settings: nil when neither is
-- on, so a call pays one field test for events it does not make.
function M.configure(state)
  local observer, debug = state.observe, state.debug
  if debug == nil then debug = os.getenv("BASIQ_DEBUG") == "1" end
  if not observer and not debug then
    state.emit = nil
    return
  end
  state.emit = function(ev)
    if debug and ev.kind ~= "store" then log(state, ev) end -- M.store logs its own, debug or not
    if observer then
      local ok, why = pcall(observer, ev)
      if not ok then report(state, why) end
    end
  end
end

-- What each shared store does while it is away.
local MEANWHILE = {
  token = "the client's own store stands in",
  webhook = "deliveries are answered 503, never processed by one host alone, until it is back",
}

-- A shared store failed ("unavailable") or is back ("recovered"): which is
-- "token" (the client's own store stands in) or "webhook" (the delivery
-- store: nothing stands in). Said once each way by the caller, here in the
-- log (whatever the debug setting) and as an event of kind "store".
function M.store(state, what, err, which)
  which = which or "token"
  local name = which == "token" and "the token store" or "the webhook delivery store"
  local why = err and errors.redact(tostring(type(err) == "table" and err.message or err), credentials.secrets(state))
  local text = what == "unavailable"
    and "basiq: " .. name .. " is unavailable (" .. tostring(why) .. "); " .. MEANWHILE[which]
    or "basiq: " .. name .. " is back"
  if in_nginx() then ngx.log(ngx.WARN, text) else io.stderr:write(text, "\n") end
  if state.emit then state.emit({ kind = "store", store = which, code = what, message = text }) end
end

-- Operations whose deprecation this process has told (once each, to the
-- first client that observes or logs when it calls one).
local told = {}

-- A call of an operation Basiq's definition marks deprecated: one event
-- and one debug line, on the first such call in the process that anyone
-- observes.
function M.deprecated(state, name)
  if told[name] or not state.emit then return end
  told[name] = true
  state.emit({ kind = "deprecated", operation = name,
    message = "basiq: " .. name .. " is deprecated in Basiq's definition: it may stop working; said once per process" })
end

-- The event of attempt n: o its outcome, err the error it ended the call
-- with (or nil), wait the seconds until the next attempt (or nil), bytes
-- the answer's body size, elapsed the attempt's seconds by the clock (for
-- a transport whose outcome does not say).
function M.attempt(state, kind, name, method, n, o, err, wait, bytes, elapsed)
  local ev = { kind = kind, operation = name, method = method, attempt = n, bytes = bytes }
  ev.status = o.status
  if not o.status then ev.code = err and err.code or o.code end
  local time = o.time or elapsed
  ev.ms = time and time * 1000
  ev.waitMs = o.wait and o.wait * 1000
  ev.retryIn = wait and wait * 1000
  local headers = o.headers
  ev.correlationId = err and err.correlationId
    or headers and (headers["x-correlation-id"] or headers["correlation-id"]) or nil
  state.emit(ev)
end

return M
