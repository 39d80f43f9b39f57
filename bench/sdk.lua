-- The SDK's side of `make bench`, one measurement per process:
--   lua5.4 bench/sdk.lua seq     URL CALLS        seconds for CALLS getUser calls
--   lua5.4 bench/sdk.lua batch   URL CALLS CONC   seconds for one basiq.batch of CALLS
--   lua5.4 bench/sdk.lua rss     URL              KiB resident after 1,000 and 100,000 calls
--   lua5.4 bench/sdk.lua require                  seconds for require "basiq"
--   lua5.4 bench/sdk.lua page    URL              seconds: SDK call, raw fetch, cjson.decode alone
local gettime = require("socket").gettime -- loaded before basiq, so not counted in "require"
local mode, url, calls, conc = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])

if mode == "require" then
  local t0 = gettime()
  require("basiq")
  print(string.format("%.6f", gettime() - t0))
  return
end

local basiq = require("basiq")
local client = basiq.new({ server = url }).auth("token")

local function check(res, err)
  if not res or res.status ~= 200 then error("unexpected answer: " .. tostring(err)) end
  return res
end

local function rss()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s+(%d+) kB")
    if kb then return tonumber(kb) end
  end
end

if mode == "seq" then
  for _ = 1, 50 do check(client.getUser({ userId = "ea3a81" })) end -- warm up: the connection
  local t0 = gettime()
  for _ = 1, calls do
    local res = check(client.getUser({ userId = "ea3a81" }))
    if res.data.id ~= "ea3a81" then error("wrong user") end
  end
  print(string.format("%.6f", gettime() - t0))
elseif mode == "batch" then
  local list = {}
  for i = 1, calls do list[i] = { "getUser", { userId = "u" .. i } } end
  check(client.getUser({ userId = "warm" }))
  local t0 = gettime()
  local results, errors = client.batch(list, { concurrency = conc })
  local elapsed = gettime() - t0
  for i = 1, calls do
    if not results[i] then error("call " .. i .. ": " .. tostring(errors[i])) end
  end
  print(string.format("%.6f", elapsed))
elseif mode == "rss" then
  local after = {}
  for i = 1, 100000 do
    check(client.getUser({ userId = "ea3a81" }))
    if i == 1000 or i == 100000 then
      collectgarbage()
      after[#after + 1] = rss()
    end
  end
  print(after[1], after[2])
elseif mode == "page" then
  local cjson = require("cjson")
  local core = require("basiq.core")
  local h = core.new()
  local req = { method = "GET", url = url .. "/users/ea3a81/transactions", headers = { "Accept: application/json" } }
  local best = { math.huge, math.huge, math.huge }
  for _ = 1, 5 do -- the best of five for each, so a GC pause or a noisy neighbour does not decide
    local t0, t1, t2, t3
    do
      t0 = gettime()
      local res = check(client.getTransactions({ userId = "ea3a81" }))
      t1 = gettime()
      local status, _, body = h:perform(req)
      t2 = gettime()
      local data = cjson.decode(body)
      t3 = gettime()
      assert(status == 200 and #res.data.data == #data.data)
    end
    collectgarbage() -- the pages above are garbage now, not the next round's cost
    best = { math.min(best[1], t1 - t0), math.min(best[2], t2 - t1), math.min(best[3], t3 - t2) }
  end
  print(string.format("%.6f %.6f %.6f", best[1], best[2], best[3]))
else
  error("unknown mode " .. tostring(mode))
end
