-- The yardstick `make bench` holds basiq.getUser to on LuaJIT: what a Lua
-- user would otherwise write by hand over Debian's lua-curl (luacurl 0.3,
-- LuaJIT/5.1 only), in two versions.
--   full  the same work as the SDK's call: its request, byte for byte (the
--         header lines src/xfer.c sends: Accept, Authorization, its user
--         agent, its Accept-Encoding line) with its transfer options (the
--         timeouts, gzip and the other encodings decoded, no redirects,
--         http/https only, TLS verified); every response header read into
--         a table (names in lower case, repeats joined, as the SDK's result
--         has them); the status checked; then cjson.decode.
--   bare  a ten-line loop that leaves all that out (the URL and two header
--         lines, the body, cjson.decode): for information.
-- One reused handle, the URL set per call, the body collected by a Lua
-- write callback and table.concat, as a lua-curl user writes it.
--   luajit bench/luacurl.lua URL full|bare   the same worker protocol as
--        bench/sdk.lua ("ready", then "get N" | "show" | "quit")
local curl = require("curl")
local cjson = require("cjson")
local gettime = require("socket").gettime

local url, kind = arg[1], arg[2] or "full"
assert(url and (kind == "full" or kind == "bare"), "usage: luacurl.lua URL full|bare")
local USER = url:match("/users/([^/]+)$")

local h = curl.easy_init()
local function set(opt, v) h:setopt(opt, v) end -- raises when it refuses

local chunks, n
set(curl.OPT_WRITEFUNCTION, function(s, len)
  n = n + 1
  chunks[n] = s
  return len
end)

local get
if kind == "bare" then
  set(curl.OPT_HTTPHEADER, { "Accept: application/json", "Authorization: Bearer token" })
  function get()
    chunks, n = {}, 0
    set(curl.OPT_URL, url)
    assert(h:perform() == 0)
    return cjson.decode(table.concat(chunks))
  end
else
  -- what the SDK's libcurl decodes, as the SDK sends it (its core asks
  -- libcurl; bench_spec compares the requests)
  local ENCODINGS = "deflate, gzip, br, zstd"
  set(curl.OPT_HTTPHEADER, { "Accept: application/json", "Authorization: Bearer token",
    "User-Agent: basiq-lua/" .. require("basiq.version"), "Accept-Encoding: " .. ENCODINGS })
  set(curl.OPT_ACCEPT_ENCODING, ENCODINGS) -- libcurl decodes them (and sends the line above, not its own)
  set(curl.OPT_TIMEOUT_MS, 60000)
  set(curl.OPT_CONNECTTIMEOUT_MS, 10000)
  set(curl.OPT_NOSIGNAL, 1)
  set(curl.OPT_FOLLOWLOCATION, 0)
  set(curl.OPT_SSL_VERIFYPEER, 1)
  set(curl.OPT_SSL_VERIFYHOST, 2)
  set(curl.OPT_HTTPGET, 1)
  -- lua-curl 0.3 refuses the SDK's other three (newer than it): PROTOCOLS_STR
  -- and TCP_KEEPALIVE act on a new URL scheme or connection only, and
  -- without PATH_AS_IS libcurl does a little more (it tidies the path)

  -- Every header line into a table as the SDK's result has it (names in
  -- lower case, values without the blanks around them, repeats joined),
  -- and the status from the status line. Plain finds and bytes rather than
  -- patterns: LuaJIT compiles these (with string.match the loop costs
  -- about 33k instructions more per call).
  local find, sub, lower, byte = string.find, string.sub, string.lower, string.byte
  local function blank(b) return b == 32 or b == 9 or b == 13 or b == 10 end
  local status, headers
  set(curl.OPT_HEADERFUNCTION, function(line, len)
    if sub(line, 1, 5) == "HTTP/" then -- a new response: only the last one's headers count
      local sp = find(line, " ", 6, true)
      status, headers = sp and tonumber(sub(line, sp + 1, sp + 3)), {}
      return len
    end
    local colon = find(line, ":", 1, true)
    if colon and colon > 1 and not blank(byte(line, 1)) then -- (a line starting with a blank is an obsolete fold)
      local s, e = colon + 1, len
      while s <= e and blank(byte(line, s)) do s = s + 1 end
      while e >= s and blank(byte(line, e)) do e = e - 1 end
      local name, value = lower(sub(line, 1, colon - 1)), sub(line, s, e)
      local seen = headers[name]
      headers[name] = seen and seen .. ", " .. value or value -- repeated: joined, as HTTP allows
    end
    return len
  end)

  function get()
    chunks, n, status = {}, 0, nil
    set(curl.OPT_URL, url)
    local code, msg = h:perform()
    if code ~= 0 then error("transfer failed: " .. tostring(msg)) end
    if not status or status < 200 or status > 299 then error("unexpected status " .. tostring(status)) end
    return cjson.decode(table.concat(chunks)), headers
  end
end

local function one()
  if get().id ~= USER then error("wrong user") end
end

for _ = 1, 50 do get() end -- warm up: the connection, the traces (the user is checked in "get")
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
    local data, headers = get()
    io.write(cjson.encode({ data = data, headers = headers }), "\n")
  else
    error("unknown command: " .. line)
  end
  io.flush()
end
