-- Transports move requests; the engine decides everything else (retries,
-- tokens, results). This is the one contract every transport keeps: the
-- libcurl one below, nginx's (basiq/ngx.lua) and a user's own.
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
local core = require("basiq.lazy")
local errors = require("basiq.errors")

local M = {}

local function sleep(s) return core.sleep(s) end


-- many at once through curl's multi interface (basiq.core.multi)
local function curl_batch(t, reqs, concurrency)
  local m = t.multi
  if not m then
    m = core.multi()
    t.multi = m
  end
  return m:perform(reqs, concurrency)
end

local function curl_close(t)
  if t.handle then t.handle:close(); t.handle = nil end
  if t.multi then t.multi:close(); t.multi = nil end
end

-- A client's own libcurl transport: one reused handle for single calls,
-- one multi handle for batches, each made on first use.
function M.curl()
  local t = { batch = curl_batch, close = curl_close, sleep = sleep }
  -- The C core loads on first use; from then on its request step (which
  -- keeps the handle in t.handle) and its clock are called directly.
  function t.request(self, req)
    t.request = core.request
    return t.request(self, req)
  end
  function t.now()
    t.now = core.now
    return t.now()
  end
  return t
end

-- Inside nginx a blocking libcurl call would stall the worker: basiq.ngx
-- provides the transport there (see its header for why it works as it does).
function M.default()
  if ngx ~= nil and type(ngx.get_phase) == "function" then return require("basiq.ngx").transport() end
  return M.curl()
end

-- basiq.config{ transport = "curl" | "ngx" | table | function(req) }. A
-- function is the request step alone and keeps the libcurl clock; a table
-- is called as a method (its own self) and may leave out what it does not
-- change. who names the public function for a mistake.
function M.resolve(who, v)
  if v == "curl" then return M.curl() end
  if v == "ngx" then return require("basiq.ngx").transport() end
  local t = M.curl()
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
