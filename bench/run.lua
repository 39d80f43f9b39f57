-- make bench: the SDK beside raw libcurl and ReadMe's JavaScript SDK core,
-- against a local nginx, runs interleaved, medians reported.
--   lua5.4 bench/run.lua  (the Makefile builds what it needs first)
package.path = "spec/?.lua;" .. package.path
local procs = require("support.procs")
local cjson = require("cjson")

local ROOT = procs.ROOT
local WORK = ROOT .. "/bench/.work"
-- many short rounds: on a shared machine, neighbours in time see the same
-- conditions, so ratios are taken within a round and their median reported
local ROUNDS = tonumber(os.getenv("BENCH_ROUNDS") or "15")
local CALLS = tonumber(os.getenv("BENCH_CALLS") or "5000")
local JS_CALLS = math.max(200, CALLS // 10)
local USER = cjson.encode({ type = "user", id = "ea3a81", email = "gavin@hooli.com", firstName = "Gavin",
  lastName = "Belson", mobile = "+61410888666", accounts = { type = "list", count = 0, data = {} },
  connections = { type = "list", count = 0, data = {} }, links = { self = "https://au-api.basiq.io/users/ea3a81" } })

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  local ok = p:close()
  if not ok then error("failed: " .. cmd .. "\n" .. out) end
  return out
end

-- LuaJIT reads the unversioned variables (only this child sees them)
local function jit_env()
  return "LUA_PATH='" .. ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;' LUA_CPATH='"
    .. ROOT .. "/build/luajit/?.so;;' "
end

local function lua_env()
  return "LUA_PATH_5_4='" .. ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;' LUA_CPATH_5_4='"
    .. ROOT .. "/build/lua5.4/?.so;;' "
end

-- A Basiq transactions page of about 5 MB.
local function write_page(path)
  local data, i = {}, 0
  local size = 0
  while size < 5 * 1024 * 1024 do
    i = i + 1
    local t = { type = "transaction", id = string.format("tx%06d", i), status = "posted",
      description = "FLIGHT CENTRE CO BRISB QL " .. i, amount = string.format("-%d.%02d", i % 900, i % 100),
      account = "s55bf3", balance = "356.50", direction = "debit", class = "payment", institution = "AU00101",
      connection = "8fce3b", postDate = "2024-11-10T21:46:44Z", transactionDate = "2024-11-09T00:00:00Z",
      subClass = { code = "722", title = "Travel Agency and Tour Arrangement Services" },
      enrich = { merchant = { id = "m" .. i, businessName = "Flight Centre", website = "https://flightcentre.com.au" },
        category = { anzsic = { division = { code = "N", title = "Administrative and Support Services" } } } },
      links = { self = "https://au-api.basiq.io/users/ea3a81/transactions/tx" .. i,
        account = "https://au-api.basiq.io/users/ea3a81/accounts/s55bf3" } }
    data[i] = t
    size = size + #cjson.encode(t)
  end
  local f = assert(io.open(path, "w"))
  f:write(cjson.encode({ type = "list", count = #data, size = #data, data = data,
    links = { self = "https://au-api.basiq.io/users/ea3a81/transactions" } }))
  f:close()
  return #data
end

local function start_nginx()
  os.execute("rm -rf " .. WORK .. "/nginx && mkdir -p " .. WORK .. "/nginx/logs")
  local port = procs.free_port()
  local conf = procs.read_file(ROOT .. "/bench/nginx.conf")
    :gsub("@PORT@", port):gsub("@PAGE@", WORK .. "/page.json"):gsub("@USER@", function() return USER end)
  local f = assert(io.open(WORK .. "/nginx/nginx.conf", "w"))
  f:write(conf)
  f:close()
  local pid = procs.spawn({ "nginx", "-p", WORK .. "/nginx", "-c", WORK .. "/nginx/nginx.conf" }, WORK .. "/nginx/logs/out.log")
  assert(procs.wait_port(port, 10, pid), "nginx did not start:\n" .. procs.read_file(WORK .. "/nginx/logs/error.log"))
  return "http://127.0.0.1:" .. port, pid
end

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

local function cpu_model()
  for line in io.lines("/proc/cpuinfo") do
    local m = line:match("^model name%s*:%s*(.+)$")
    if m then return m end
  end
  return "unknown CPU"
end

os.execute("mkdir -p " .. WORK)
local txns = write_page(WORK .. "/page.json")
local url, nginx_pid = start_nginx()
local ok, err = pcall(function()
  local user_url = url .. "/users/ea3a81"
  local raw, sdk, jit, js, batch = {}, {}, {}, {}, {}
  io.stderr:write(string.format("bench: %d rounds of %d calls (%d for the JS SDK), interleaved\n", ROUNDS, CALLS, JS_CALLS))
  for r = 1, ROUNDS do
    raw[r] = CALLS / tonumber(sh(ROOT .. "/build/rawcurl " .. user_url .. " " .. CALLS))
    sdk[r] = CALLS / tonumber(sh(lua_env() .. "lua5.4 " .. ROOT .. "/bench/sdk.lua seq " .. url .. " " .. CALLS))
    jit[r] = CALLS / tonumber(sh(jit_env() .. "luajit " .. ROOT .. "/bench/sdk.lua seq " .. url .. " " .. CALLS))
    js[r] = JS_CALLS / tonumber(sh("node " .. ROOT .. "/bench/peer.mjs " .. procs.SPEC_DIR .. "/core.json " .. url .. " " .. JS_CALLS))
    batch[r] = tonumber(sh(lua_env() .. "lua5.4 " .. ROOT .. "/bench/sdk.lua batch " .. url .. "/slow 200 100"))
    io.stderr:write(string.format("  round %d: raw %.0f/s, sdk %.0f/s (LuaJIT %.0f/s), js %.0f/s, batch %.3f s\n",
      r, raw[r], sdk[r], jit[r], js[r], batch[r]))
  end
  local req = {}
  for r = 1, 9 do req[r] = tonumber(sh(lua_env() .. "lua5.4 " .. ROOT .. "/bench/sdk.lua require")) end
  local rss1k, rss100k = sh(lua_env() .. "lua5.4 " .. ROOT .. "/bench/sdk.lua rss " .. url):match("(%d+)%s+(%d+)")
  local call_t, fetch_t, decode_t = sh(lua_env() .. "lua5.4 " .. ROOT .. "/bench/sdk.lua page " .. url)
    :match("(%S+) (%S+) (%S+)")
  call_t, fetch_t, decode_t = tonumber(call_t), tonumber(fetch_t), tonumber(decode_t)

  local m = { raw = median(raw), sdk = median(sdk), jit = median(jit), js = median(js), batch = median(batch),
    req = median(req) }
  local sdk_raw, jit_raw, sdk_js = {}, {}, {}
  for r = 1, ROUNDS do
    sdk_raw[r], jit_raw[r], sdk_js[r] = sdk[r] / raw[r], jit[r] / raw[r], sdk[r] / js[r]
  end
  m.sdk_raw, m.jit_raw, m.sdk_js = median(sdk_raw), median(jit_raw), median(sdk_js)
  local page_ratio = (call_t - fetch_t) / decode_t
  local rows = {
    { "raw libcurl loop (C)", string.format("%.0f calls/s", m.raw), "the limit" },
    { "basiq.getUser, sequential (Lua 5.4)", string.format("%.0f calls/s", m.sdk),
      string.format("%.1f%% of raw (target >= 90%%)", 100 * m.sdk_raw), m.sdk_raw >= 0.9 },
    { "the same on LuaJIT (OpenResty's runtime)", string.format("%.0f calls/s", m.jit),
      string.format("%.1f%% of raw (for information)", 100 * m.jit_raw), nil },
    { "@readme/api-core 7 (JS)", string.format("%.0f calls/s", m.js),
      string.format("SDK is %.1fx (target >= 8x)", m.sdk_js), m.sdk_js >= 8 },
    { "basiq.batch, 200 x 50 ms", string.format("%.3f s", m.batch), "target < 0.5 s", m.batch < 0.5 },
    { "RSS after 1,000 / 100,000 calls", string.format("%d / %d KiB", rss1k, rss100k),
      string.format("+%d KiB (target <= 2048)", rss100k - rss1k), rss100k - rss1k <= 2048 },
    { 'require "basiq"', string.format("%.2f ms", m.req * 1000), "target < 5 ms", m.req < 0.005 },
    { string.format("5 MB page (%d transactions)", txns), string.format("%.1f ms decode", decode_t * 1000),
      string.format("SDK adds %.2fx cjson.decode (target <= 1.2x)", page_ratio), page_ratio <= 1.2 },
  }
  local failed = 0
  print(string.format("\n%s, %d cores, %s", cpu_model(), tonumber(sh("nproc")), sh("uname -sr"):gsub("%s+$", "")))
  print(string.format("%s; %s; nginx %s; node %s", _VERSION, require("basiq.core").curl_version or "",
    sh("nginx -v 2>&1"):match("nginx/(%S+)") or "?", sh("node --version"):gsub("%s+$", "")))
  print("\n| measurement | result | against the target |\n|---|---|---|")
  local targets = 0
  for i, row in ipairs(rows) do
    local mark = i == 1 and "" or row[4] == nil and "" or row[4] and " ✓" or " ✗"
    print(string.format("| %s | %s | %s%s |", row[1], row[2], row[3], mark))
    if i > 1 and row[4] ~= nil then
      targets = targets + 1
      if not row[4] then failed = failed + 1 end
    end
  end
  print(string.format("\nmedians of %d interleaved rounds (ratios: the median of each round's own ratio);"
    .. " %d of %d targets met", ROUNDS, targets - failed, targets))
  return failed
end)
procs.kill(nginx_pid)
if not ok then error(err, 0) end
os.exit(err == 0 and 0 or 1)
