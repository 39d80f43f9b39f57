-- transport/: what moves a request's bytes: the contract (this file), the
-- libcurl transport, and nginx's with its counts for basiq.stats().
--
-- Transports move requests; the engine decides everything else (retries,
-- tokens, results). This is the one contract every transport keeps: the
-- libcurl one (libcurl.lua), nginx's (ngx.lua) and a user's own.
--
--   t:request(req) -> outcome        one transfer
--   t:batch(reqs, concurrency)       optional: { outcome, ... } in order
--   t.now() -> seconds               a clock that does not jump
--   t.sleep(seconds)
--   t.store() -> token store         optional (token.lua: memory_store)
--   t.check() -> nil | why not here  optional: calls cannot run now
--   t:close()                        optional: free connections now
--
-- req = { method, url, headers = { "Name: value", ... }, body?, mime?,
--         timeout, connect_timeout (ms), max_body? (bytes), cainfo? }
--   (read-only: its tables may be shared between calls)
-- outcome, a fresh table (a success becomes the caller's result):
--   { status = 200, headers = { ["lower-case-name"] = value }, body = "...", time }
--   { message = "...", code = <curl code or a kind name>, sent = <bool>, time }
--   where sent says whether any byte of the request may have left, and
--   time (optional) the seconds the attempt took: a failed first attempt's
--   call budget counts back from it (without it, from the attempt's end).
local curl = require("basiq.transport.libcurl")
local errors = require("basiq.shared.errors")

local M = {}

-- Inside nginx a blocking libcurl call would stall the worker: ngx.lua
-- provides the transport there (see its header for why it works as it does).
function M.default()
  if ngx ~= nil and type(ngx.get_phase) == "function" then return require("basiq.transport.ngx").transport() end
  return curl.new()
end

-- basiq.config{ transport = "curl" | "ngx" | table | function(req) }. A
-- function is the request step alone and keeps the libcurl clock; a table
-- is called as a method (its own self) and may leave out what it does not
-- change. who names the public function for a mistake.
function M.resolve(who, v)
  if v == "curl" then return curl.new() end
  if v == "ngx" then return require("basiq.transport.ngx").transport() end
  local t = curl.new()
  if type(v) == "function" then
    t.request, t.batch = function(_, req) return v(req) end, nil
    return t
  end
  if type(v) == "table" and type(v.request) == "function" then
    t.request = function(_, req) return v:request(req) end
    t.batch = type(v.batch) == "function" and function(_, reqs, n) return v:batch(reqs, n) end or nil
    t.now, t.sleep, t.store, t.check = v.now or t.now, v.sleep or t.sleep, v.store, v.check
    t.close = type(v.close) == "function" and function() return v:close() end or nil
    return t
  end
  errors.raise("basiq." .. who .. ": option 'transport' must be \"curl\", a function or a table with request()")
end

return M
