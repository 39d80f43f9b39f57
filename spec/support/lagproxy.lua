-- A TCP relay for the specs that holds each new connection's bytes, both
-- ways, for a while before passing them on: a slow network, so a slow TLS
-- handshake. Loopback only.
-- usage: lua5.4 lagproxy.lua PORT TARGET_PORT DELAY_MS
local socket = require("socket")

local port, target, delay = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3])
assert(port and target and delay, "usage: lagproxy.lua PORT TARGET_PORT DELAY_MS")
delay = delay / 1000
local server = assert(socket.bind("127.0.0.1", port))
server:settimeout(0)

local other, since = {}, {} -- socket -> the pair's other end; socket -> when the pair opened

local function drop(s)
  local o = other[s]
  other[s], since[s] = nil, nil
  s:close()
  if o then
    other[o], since[o] = nil, nil
    o:close()
  end
end

while true do
  local readers, now = { server }, socket.gettime()
  for s in pairs(other) do
    if now - since[s] >= delay then readers[#readers + 1] = s end
  end
  local ready = socket.select(readers, nil, 0.01)
  for _, s in ipairs(ready) do
    if s == server then
      local c = server:accept()
      if c then
        local u = socket.tcp()
        if u:connect("127.0.0.1", target) then
          c:settimeout(0)
          u:settimeout(0)
          other[c], other[u], since[c], since[u] = u, c, now, now
        else
          c:close()
        end
      end
    elseif other[s] then
      local data, err, partial = s:receive(65536)
      data = data or partial
      if data and #data > 0 then
        local o = other[s]
        o:settimeout(5)
        o:send(data)
        o:settimeout(0)
      end
      if err == "closed" then drop(s) end
    end
  end
end
