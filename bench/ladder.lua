-- make bench's nginx section, the ladder: thread-side steps that split an
-- SDK call's cost in the worker into its parts (bench/front.conf's
-- /ladder/... locations run them through ngx.run_worker_thread).
local M = {}

-- the hop alone: nothing done on the thread
function M.nothing(x) return x end

-- basiq.core's transfer alone, with the request the SDK sends for getUser
-- (its header lines come from the worker, as the SDK's do)
local handle
function M.transfer(url, lines)
  if not handle then handle = require("basiq.core").new() end
  local status, body = handle:perform_values({ method = "GET", url = url, headers = lines,
    timeout = 60000, connect_timeout = 10000 })
  return status, body
end

return M
