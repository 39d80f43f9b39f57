-- Which lock each coroutine holds, by key, for a token store's unlock: it
-- frees only the lock its caller took, never one that lapsed while its
-- holder was slow and went to another (worker, host, or coroutine of this
-- process). A coroutine that dies holding one is let go with it.
local M = {}

local running = coroutine.running

function M.new()
  local held = setmetatable({}, { __mode = "k" }) -- coroutine (or "main") -> { key -> value }
  local h = {}
  -- Remembers that the running coroutine took key's lock, marked value.
  function h.keep(key, value)
    local co = running() or "main" -- Lua 5.1's main thread has no coroutine
    local mine = held[co]
    if not mine then
      mine = {}
      held[co] = mine
    end
    mine[key] = value
  end
  -- The mark of key's lock if the running coroutine took it (forgotten
  -- now), else nil.
  function h.take(key)
    local mine = held[running() or "main"]
    local value = mine and mine[key]
    if value ~= nil then mine[key] = nil end
    return value
  end
  return h
end

return M
