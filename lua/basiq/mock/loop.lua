-- The mock's one event loop: coroutines that wait for sockets or for a
-- time, over luasocket's select. Every wait yields to the loop; nothing here
-- ever blocks on one socket, so one slow peer never stalls the others.
local socket = require("socket")

local select, gettime = socket.select, socket.gettime
local create, resume, running, yield, status =
  coroutine.create, coroutine.resume, coroutine.running, coroutine.yield, coroutine.status
local pairs, ipairs = pairs, ipairs

local Loop = {}
Loop.__index = Loop

local M = {}

-- on_error(message): where a coroutine's crash is reported (it never stops the loop).
function M.new(on_error)
  return setmetatable({
    readers = {},  -- socket -> coroutine waiting to read it
    writers = {},  -- socket -> coroutine waiting to write it
    timers = {},   -- coroutine -> the time it wakes at (its deadline, when it also waits on a socket)
    on_error = on_error or function() end,
  }, Loop)
end

M.now = gettime

function Loop:wake(co, ...)
  local ok, err = resume(co, ...)
  if not ok then self.on_error(debug.traceback(co, tostring(err))) end
end

-- Runs fn(...) in a coroutine of its own, now, until its first wait.
function Loop:spawn(fn, ...)
  self:wake(create(fn), ...)
end

-- Runs fn() in a coroutine of its own after `seconds`.
function Loop:after(seconds, fn)
  self:spawn(function()
    self:sleep(seconds)
    fn()
  end)
end

function Loop:sleep(seconds)
  self.timers[running()] = gettime() + seconds
  yield()
end

-- Waits until sock can be read ("r") or written ("w"), or until the time
-- `deadline` (nil: no limit): true, or nil, "timeout".
function Loop:wait(sock, mode, deadline)
  local co = running()
  local set = mode == "r" and self.readers or self.writers
  set[sock] = co
  if deadline then self.timers[co] = deadline end
  local why = yield()
  set[sock] = nil
  self.timers[co] = nil
  if why == "timeout" then return nil, "timeout" end
  return true
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  return out
end

-- One turn: waits at most max_wait seconds for a socket or a timer, then
-- wakes whatever is due.
function Loop:step(max_wait)
  local now = gettime()
  local wait = max_wait or 1
  for _, at in pairs(self.timers) do
    if at - now < wait then wait = at - now end
  end
  if wait < 0 then wait = 0 end
  local r, w = keys(self.readers), keys(self.writers)
  local can_read, can_write
  if #r + #w > 0 then
    can_read, can_write = select(r, w, wait)
  else
    socket.sleep(wait)
    can_read, can_write = {}, {}
  end
  for _, list in ipairs({ { can_read, self.readers }, { can_write, self.writers } }) do
    for _, sock in ipairs(list[1]) do
      local co = list[2][sock]
      if co and status(co) == "suspended" then
        list[2][sock] = nil
        self.timers[co] = nil
        self:wake(co, "ready")
      end
    end
  end
  now = gettime()
  for co, at in pairs(self.timers) do
    if at <= now then
      self.timers[co] = nil
      if status(co) == "suspended" then self:wake(co, "timeout") end
    end
  end
end

function Loop:run()
  while true do self:step(1) end
end

return M
