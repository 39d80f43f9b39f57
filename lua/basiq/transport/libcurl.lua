-- The libcurl transport, used everywhere but inside nginx: the C core
-- (basiq.core) does the transfer; this keeps its handles per client.
local core = require("basiq.shared.lazy")

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
function M.new()
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

return M
