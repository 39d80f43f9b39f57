-- The Lua side of `make bench` (Lua 5.4 or LuaJIT), one process per role:
--   sdk.lua serve URL KIND       a worker: prints "ready", then answers each
--                                command line on stdin with one line, until "quit":
--     get N        seconds for N getUser calls: basiq.getUser (KIND sdk); the
--                  same request straight through basiq.core's perform (core);
--                  that and cjson.decode of the body, its whole numbers
--                  made integers on Lua 5.3+ (decode)
--     show         one call; its answer's body as one line of JSON (for the
--                  specs, which compare the requests through an echo server)
--     batch N C    seconds for one basiq.batch of N getUser calls, concurrency
--                  C, against URL/slow; or "n/a <why>"
--     page         "sdk fetch decode" seconds for the 5 MB transactions page:
--                  basiq.getTransactions; the same GET through basiq.core
--                  (transfer only); decoding that body alone (as decode)
--   sdk.lua rss URL              KiB resident after 1,000 and 100,000 calls
--   sdk.lua require              seconds for require "basiq"
local gettime = require("socket").gettime -- loaded before basiq: not part of "require"
local mode, url, kind = arg[1], arg[2], arg[3]

if mode == "require" then
  local t0 = gettime()
  require("basiq")
  print(string.format("%.6f", gettime() - t0))
  return
end

local basiq = require("basiq")
local cjson = require("cjson")
local client = basiq.new({ server = url }).auth("token")
local USER = "ea3a81"

local function check(res, err)
  if not res or res.status ~= 200 then error("unexpected answer: " .. tostring(err)) end
  return res
end

local function get_user()
  local res = check(client.getUser({ userId = USER }))
  if res.data.id ~= USER then error("wrong user") end
end

local function show_user()
  return cjson.encode(check(client.getUser({ userId = USER })).data)
end

-- the request basiq.getUser hands to the core, a fresh table each call as there
local core_handle
local function core_get(path)
  local o = core_handle:perform({ method = "GET", url = url .. path, timeout = 60000,
    connect_timeout = 10000, headers = { "Accept: application/json", "Authorization: Bearer token" } })
  if o.status ~= 200 then error("unexpected answer: " .. tostring(o.status or o.message)) end
  return o.body
end
local user_path = "/users/" .. USER
local function core_user() return core_get(user_path) end
-- cjson.decode, and on Lua 5.3+ the answer's whole numbers made integers
-- (Debian's lua-cjson decodes every number as a float): the least a client
-- must do to give what the SDK gives
local decode = cjson.decode -- and core.integers on 5.3+, once the core is loaded below
local function core_decode()
  if decode(core_get(user_path)).id ~= USER then error("wrong user") end
end

local function rss()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s+(%d+) kB")
    if kb then return tonumber(kb) end
  end
end

local slow -- kept between batches, as an application would: its connections stay open
local function batch(n, conc)
  if type(client.batch) ~= "function" then return "n/a (basiq.batch not available)" end
  slow = slow or basiq.new({ server = url .. "/slow" }).auth("token")
  local list = {}
  for i = 1, n do list[i] = { "getUser", { userId = "u" .. i } } end
  local t0 = gettime()
  local ok, results, errors = pcall(slow.batch, list, { concurrency = conc })
  local elapsed = gettime() - t0
  if not ok then return "n/a (basiq.batch not available: " .. tostring(results):gsub("%s+", " ") .. ")" end
  for i = 1, n do
    if not (results[i] and results[i].status == 200) then error("batch call " .. i .. ": " .. tostring(errors[i])) end
  end
  return string.format("%.6f", elapsed)
end

-- Each step after a full collection: the previous step's 5 MB of garbage
-- is no step's cost.
local function page()
  collectgarbage()
  local t0 = gettime()
  local res = check(client.getTransactions({ userId = USER }))
  local t_sdk = gettime() - t0
  local count = #res.data.data
  res = nil -- luacheck: ignore 311
  collectgarbage()
  t0 = gettime()
  local body = core_get("/users/" .. USER .. "/transactions")
  local t_fetch = gettime() - t0
  collectgarbage()
  t0 = gettime()
  local data = decode(body)
  local t_decode = gettime() - t0
  if #data.data ~= count then error("the SDK and cjson disagree on the page") end
  return string.format("%.6f %.6f %.6f", t_sdk, t_fetch, t_decode)
end

if mode == "serve" then
  core_handle = require("basiq.core").new()
  if math.type then
    local integers = require("basiq.core").integers
    decode = function(text) return integers(cjson.decode(text), text) end
  end
  local one = ({ sdk = get_user, core = core_user, decode = core_decode })[kind]
  local show = kind == "sdk" and show_user or core_user
  if not one then error("unknown kind " .. tostring(kind)) end
  for _ = 1, 50 do show() end -- warm up: the connection, the operation's plan
  io.write("ready\n")
  io.flush()
  for line in io.lines() do
    local cmd, a, b = line:match("^(%S+)%s*(%d*)%s*(%d*)$")
    local out
    if cmd == "quit" then
      break
    elseif cmd == "get" then
      local t0 = gettime()
      for _ = 1, tonumber(a) do one() end
      out = string.format("%.6f", gettime() - t0)
    elseif cmd == "show" then
      out = show()
    elseif cmd == "batch" then
      out = batch(tonumber(a), tonumber(b))
    elseif cmd == "page" then
      out = page()
    else
      error("unknown command: " .. line)
    end
    io.write(out, "\n")
    io.flush()
  end
elseif mode == "rss" then
  local after = {}
  for i = 1, 100000 do
    get_user()
    if i == 1000 or i == 100000 then
      collectgarbage()
      after[#after + 1] = rss()
    end
  end
  print(after[1], after[2])
else
  error("usage: sdk.lua serve URL sdk|core|decode | rss URL | require")
end
