-- The yardstick `make bench` holds basiq.getUser to on LuaJIT: what a Lua
-- user would otherwise write by hand over Debian's lua-curl (luacurl 0.3,
-- LuaJIT/5.1 only). One reused handle, the URL set per call, two request
-- headers, the body collected by a Lua write callback and table.concat,
-- then cjson.decode. No timeouts, no user agent, no gzip, no headers read,
-- no status checked: what such a loop leaves out is what the SDK adds.
--   luajit bench/luacurl.lua URL   the same worker protocol as bench/sdk.lua
--                                  ("ready", then "get N" | "show" | "quit")
local curl = require("curl")
local cjson = require("cjson")
local gettime = require("socket").gettime

local url = assert(arg[1], "usage: luacurl.lua URL")
local USER = url:match("/users/([^/]+)$")

local h = curl.easy_init()
local chunks, n
h:setopt(curl.OPT_HTTPHEADER, { "Accept: application/json", "Authorization: Bearer token" })
h:setopt(curl.OPT_WRITEFUNCTION, function(s, len)
  n = n + 1
  chunks[n] = s
  return len
end)

local function get()
  chunks, n = {}, 0
  h:setopt(curl.OPT_URL, url)
  assert(h:perform())
  return cjson.decode(table.concat(chunks))
end

local function one()
  if get().id ~= USER then error("wrong user") end
end

for _ = 1, 50 do one() end -- warm up: the connection, the traces
io.write("ready\n")
io.flush()
for line in io.lines() do
  local cmd, a = line:match("^(%S+)%s*(%d*)$")
  if cmd == "quit" then break end
  if cmd == "get" then
    local t0 = gettime()
    for _ = 1, tonumber(a) do one() end
    io.write(string.format("%.6f\n", gettime() - t0))
  elseif cmd == "show" then
    io.write(cjson.encode(get()), "\n")
  else
    error("unknown command: " .. line)
  end
  io.flush()
end
