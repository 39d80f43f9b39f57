-- make bench: the SDK beside raw libcurl and ReadMe's JavaScript SDK core,
-- against a private nginx on loopback.
--   lua5.4 bench/run.lua   (the Makefile builds what it needs first)
-- Every contender is a long-lived worker process; each round asks each in
-- turn (raw, core, sdk, LuaJIT, js; backwards every other round) for one
-- short block of calls, so neighbours in a round see the same machine.
-- Ratios are taken within a round and their median reported: on a machine
-- shared with other work, that is far steadier than comparing separate long
-- runs. The batch and the 5 MB page then take rounds of their own.
-- BENCH_ROUNDS (default 61), BENCH_CALLS (calls per block, default 2000;
-- Node gets a tenth) and BENCH_SLOW_ROUNDS (batch and page, default 15)
-- trade time for steadiness.
package.path = (arg[0]:match("^(.*)/bench/run%.lua$") or ".") .. "/spec/?.lua;" .. package.path
local procs = require("support.procs") -- also loads luasocket, which ignores SIGPIPE
local cjson = require("cjson")

local ROOT = procs.ROOT
local WORK = ROOT .. "/bench/.work"
local ROUNDS = tonumber(os.getenv("BENCH_ROUNDS") or "61")
local CALLS = tonumber(os.getenv("BENCH_CALLS") or "2000")
local SLOW_ROUNDS = tonumber(os.getenv("BENCH_SLOW_ROUNDS") or "15")
local JS_CALLS = math.max(20, CALLS // 10)
local BATCH, BATCH_CONC, BATCH_DELAY = 200, 50, 0.05
local q = procs.sh_quote

-- Basiq's getUser example (core.json), as the API sends it.
local USER = [[{"type":"user","id":"ea3a81","email":"gavin@hooli.com","mobile":"+61410888666","name":"",]]
  .. [["firstName":"Gavin","middleName":"","lastName":"Belson","accounts":{"type":"list","count":1,"data":]]
  .. [[[{"type":"account","id":"aaaf9c","links":{"self":"https://au-api.basiq.io/users/ea3a81/accounts/aaaf9c"}}]},]]
  .. [["connections":{"type":"list","count":1,"data":[{"type":"connection","id":"8fce3b",]]
  .. [["links":{"self":"https://au-api.basiq.io/users/ea3a81/connections/8fce3b"}}]},]]
  .. [["links":{"accounts":"https://au-api.basiq.io/users/ea3a81/accounts",]]
  .. [["connections":"https://au-api.basiq.io/users/ea3a81/connections","self":"https://au-api.basiq.io/users/ea3a81"}}]]

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  if not p:close() then error("failed: " .. cmd .. "\n" .. out, 0) end
  return out
end

local LUA_ENV = "env LUA_PATH_5_4=" .. q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;")
  .. " LUA_CPATH_5_4=" .. q(ROOT .. "/build/lua5.4/?.so;;") .. " "
-- LuaJIT reads the unversioned variables (only its own process sees them)
local JIT_ENV = "env LUA_PATH=" .. q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;")
  .. " LUA_CPATH=" .. q(ROOT .. "/build/luajit/?.so;;") .. " "

-- A Basiq transactions list of about 5 MB, shaped like getTransactions' example.
local function write_page(path)
  local data, size, i = {}, 0, 0
  local merchants = { { "Flight Centre", "flightcentre.com.au", "722", "Travel Agency and Tour Arrangement Services" },
    { "Woolworths", "woolworths.com.au", "411", "Supermarket and Grocery Stores" },
    { "Shell", "shell.com.au", "400", "Fuel Retailing" }, { "Uber", "uber.com", "462", "Taxi and Other Road Transport" } }
  while size < 5 * 1000 * 1000 do
    i = i + 1
    local m = merchants[i % #merchants + 1]
    local t = { type = "transaction", id = string.format("%08x-5f2e-4c1a-9b7d-%012x", i * 2654435761 % 0x100000000, i),
      status = "posted", description = string.upper(m[1]) .. " " .. i .. " SYDNEY NS AUS Card xx1234 Value Date: 10/11/2024",
      amount = string.format("-%d.%02d", i % 900, i % 100), account = "aaaf9c",
      balance = string.format("%d.%02d", 5000 - i % 4000, i % 97),
      direction = "debit", class = "payment", institution = "AU00000", connection = "8fce3b",
      postDate = string.format("2024-%02d-%02dT21:46:44Z", i % 12 + 1, i % 28 + 1),
      transactionDate = string.format("2024-%02d-%02dT00:00:00Z", i % 12 + 1, i % 28 + 1),
      subClass = { code = m[3], title = m[4] },
      enrich = { cleanDescription = m[1], merchant = { id = "m" .. i % 500, businessName = m[1], website = "https://" .. m[2] },
        category = { anzsic = { division = { code = "G", title = "Retail Trade" },
          subdivision = { code = "41", title = "Food Retailing" } } } },
      links = { self = "https://au-api.basiq.io/users/ea3a81/transactions/" .. i,
        account = "https://au-api.basiq.io/users/ea3a81/accounts/aaaf9c",
        institution = "https://au-api.basiq.io/institutions/AU00000" } }
    data[i] = t
    size = size + #cjson.encode(t) + 1
  end
  local f = assert(io.open(path, "w"))
  f:write(cjson.encode({ type = "list", count = #data, size = #data, data = data,
    links = { self = "https://au-api.basiq.io/users/ea3a81/transactions",
      next = "https://au-api.basiq.io/users/ea3a81/transactions?next=" .. #data } }))
  f:close()
  return #data
end

local function start_nginx(page)
  local dir = WORK .. "/nginx"
  procs.execute("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir .. "/logs") .. " " .. q(dir .. "/tmp"))
  local port = procs.free_port()
  local conf = procs.read_file(ROOT .. "/bench/nginx.conf")
    :gsub("@PORT@", port):gsub("@PAGE@", function() return page end):gsub("@USER@", function() return USER end)
  local f = assert(io.open(dir .. "/nginx.conf", "w"))
  f:write(conf)
  f:close()
  local pid = procs.spawn({ "nginx", "-p", dir, "-c", dir .. "/nginx.conf" }, dir .. "/logs/out.log")
  if not procs.wait_port(port, 10, pid) then
    error("nginx did not start:\n" .. procs.read_file(dir .. "/logs/out.log") .. procs.read_file(dir .. "/logs/error.log"), 0)
  end
  return "http://127.0.0.1:" .. port, pid
end

-- A worker: cmd reads commands on stdin (a FIFO) and answers each with one
-- line on stdout, after a first "ready".
local workers = {}
local function worker(name, cmd)
  local fifo, log = WORK .. "/" .. name .. ".in", WORK .. "/" .. name .. ".log"
  os.remove(fifo)
  assert(procs.execute("mkfifo " .. q(fifo)), "mkfifo failed")
  local out = assert(io.popen("exec " .. cmd .. " < " .. q(fifo) .. " 2> " .. q(log)))
  local inp = assert(io.open(fifo, "w")) -- returns once the shell above opened the other end
  local w = { name = name }
  local function answer()
    local line = out:read("l")
    if not line then error(name .. " stopped:\n" .. procs.read_file(log):sub(-2000), 0) end
    return line
  end
  function w.ask(line)
    assert(inp:write(line, "\n"))
    inp:flush()
    return answer()
  end
  function w.close()
    -- "quit", not just the end of input: workers started later hold this FIFO open too
    inp:write("quit\n")
    inp:close()
    out:close()
  end
  workers[#workers + 1] = w
  if answer() ~= "ready" then error(name .. " did not start:\n" .. procs.read_file(log):sub(-2000), 0) end
  return w
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

local function machine()
  local model
  for line in io.lines("/proc/cpuinfo") do
    model = model or line:match("^model name%s*:%s*(.+)$")
  end
  return string.format("%s, %d cores, %s", model or "unknown CPU", tonumber(sh("nproc")),
    (sh("uname -srm"):gsub("%s+$", "")))
end

local function bench(url)
  local user_url = url .. "/users/ea3a81"
  local serve = ROOT .. "/bench/sdk.lua serve " .. url
  local raw = worker("raw", q(ROOT .. "/build/rawcurl") .. " " .. q(user_url))
  local core = worker("core", LUA_ENV .. "lua5.4 " .. serve .. " core")
  local dec = worker("dec", LUA_ENV .. "lua5.4 " .. serve .. " decode")
  local sdk = worker("sdk", LUA_ENV .. "lua5.4 " .. serve .. " sdk")
  local jit = worker("jit", JIT_ENV .. "luajit " .. serve .. " sdk")
  local js = worker("js", "node " .. q(ROOT .. "/bench/peer.mjs") .. " " .. q(procs.SPEC_DIR .. "/core.json") .. " " .. url)

  local r = { raw = {}, core = {}, dec = {}, sdk = {}, jit = {}, js = {}, batch = {}, page = {}, page_sdk = {},
    page_fetch = {}, page_decode = {}, sdk_raw = {}, jit_raw = {}, core_raw = {}, dec_raw = {}, sdk_dec = {}, sdk_js = {} }
  local order = { { "raw", raw, CALLS }, { "core", core, CALLS }, { "dec", dec, CALLS }, { "sdk", sdk, CALLS },
    { "jit", jit, CALLS }, { "js", js, JS_CALLS } }
  io.stderr:write(string.format("bench: %d rounds of %d calls per block (%d for Node), after a warm-up round\n",
    ROUNDS, CALLS, JS_CALLS))
  for round = 0, ROUNDS do
    local tp = {}
    for i = 1, #order do -- every other round backwards, so no one always goes first
      local o = order[round % 2 == 0 and i or #order + 1 - i]
      tp[o[1]] = o[3] / tonumber(o[2].ask("get " .. o[3]))
    end
    if round > 0 then
      for k, v in pairs(tp) do table.insert(r[k], v) end
      table.insert(r.sdk_raw, tp.sdk / tp.raw)
      table.insert(r.jit_raw, tp.jit / tp.raw)
      table.insert(r.core_raw, tp.core / tp.raw)
      table.insert(r.dec_raw, tp.dec / tp.raw)
      table.insert(r.sdk_dec, tp.sdk / tp.dec)
      table.insert(r.sdk_js, tp.sdk / tp.js)
      io.stderr:write(string.format("  %2d: raw %6.0f/s  core %6.0f/s  +decode %6.0f/s  sdk %6.0f/s (%3.0f%% of raw)"
        .. "  luajit %6.0f/s  js %4.0f/s\n", round, tp.raw, tp.core, tp.dec, tp.sdk, 100 * tp.sdk / tp.raw, tp.jit, tp.js))
    end
  end

  local batch_na
  io.stderr:write(string.format("bench: %d rounds of a batch and the 5 MB page, after a warm-up round\n", SLOW_ROUNDS))
  for round = 0, SLOW_ROUNDS do
    local b = sdk.ask("batch " .. BATCH .. " " .. BATCH_CONC)
    local ps, pf, pd = sdk.ask("page"):match("^(%S+) (%S+) (%S+)$")
    ps, pf, pd = tonumber(ps), tonumber(pf), tonumber(pd)
    if round > 0 then -- round 0 warms up (the batch's connections, the page's buffers)
      if tonumber(b) then table.insert(r.batch, tonumber(b)) else batch_na = b end
      table.insert(r.page_sdk, ps)
      table.insert(r.page_fetch, pf)
      table.insert(r.page_decode, pd)
      table.insert(r.page, (ps - pf) / pd)
      io.stderr:write(string.format("  %2d: batch %s  page: call %.1f ms, transfer %.1f ms, cjson.decode %.1f ms (%.2fx)\n",
        round, tonumber(b) and string.format("%.3f s", b) or b, ps * 1000, pf * 1000, pd * 1000, (ps - pf) / pd))
    end
  end
  for _, w in ipairs({ raw, core, dec, sdk, jit, js }) do w.close() end
  workers = {}

  io.stderr:write("bench: RSS over 100,000 calls, require time\n")
  local req = {}
  for i = 1, 15 do req[i] = tonumber(sh(LUA_ENV .. "lua5.4 " .. ROOT .. "/bench/sdk.lua require")) end
  local rss1k, rss100k = sh(LUA_ENV .. "lua5.4 " .. ROOT .. "/bench/sdk.lua rss " .. url):match("(%d+)%s+(%d+)")
  rss1k, rss100k = tonumber(rss1k), tonumber(rss100k)

  local m = {}
  for k, v in pairs(r) do m[k] = median(v) end
  m.req = median(req)
  return m, batch_na, rss1k, rss100k
end

local function report(m, batch_na, rss1k, rss100k, txns)
  local rows, failed = {}, {}
  local function row(what, result, against, ok, name)
    rows[#rows + 1] = string.format("| %s | %s | %s%s |", what, result, against,
      ok == nil and "" or ok and " ✓" or " ✗")
    if ok == false then failed[#failed + 1] = name end
  end
  local function speed(tp) return string.format("%.0f calls/s (%.1f µs)", tp, 1e6 / tp) end
  row("raw libcurl loop (C, one handle)", speed(m.raw), "the limit")
  row("basiq.core perform loop (Lua 5.4: the C core, no Lua layer)", speed(m.core),
    string.format("%.1f%% of raw (for information)", 100 * m.core_raw))
  row("the same + cjson.decode of the body (the floor for a decoded answer)", speed(m.dec),
    string.format("%.1f%% of raw (for information)", 100 * m.dec_raw))
  row("basiq.getUser, sequential (Lua 5.4)", speed(m.sdk),
    string.format("%.1f%% of raw (target >= 90%%); %.1f%% of the floor", 100 * m.sdk_raw, 100 * m.sdk_dec),
    m.sdk_raw >= 0.9, "sequential throughput vs raw libcurl")
  row("basiq.getUser, sequential (LuaJIT)", speed(m.jit),
    string.format("%.1f%% of raw (for information)", 100 * m.jit_raw))
  row("@readme/api-core 7 getUser (Node)", speed(m.js),
    string.format("basiq is %.1fx (target >= 8x)", m.sdk_js), m.sdk_js >= 8, "throughput vs the JavaScript SDK")
  if m.batch then
    row(string.format("basiq.batch of %d, each answer %d ms late, concurrency %d", BATCH, BATCH_DELAY * 1000, BATCH_CONC),
      string.format("%.3f s", m.batch), string.format("target < 0.5 s (ideal %.2f s)", BATCH / BATCH_CONC * BATCH_DELAY),
      m.batch < 0.5, "batch of 200")
  else
    row(string.format("basiq.batch of %d", BATCH), batch_na, "target < 0.5 s", false, "batch of 200 (" .. batch_na .. ")")
  end
  row("RSS after 1,000 / 100,000 calls", string.format("%d / %d KiB", rss1k, rss100k),
    string.format("%+d KiB (target within 2048)", rss100k - rss1k), math.abs(rss100k - rss1k) <= 2048, "RSS growth")
  row('require "basiq" (fresh process)', string.format("%.2f ms", m.req * 1000), "target < 5 ms", m.req < 0.005,
    'require "basiq" time')
  row(string.format("5 MB transactions page (%d transactions): cjson.decode alone", txns),
    string.format("%.1f ms", m.page_decode * 1000), "")
  row("the same page through basiq.getTransactions, minus the transfer",
    string.format("%.1f ms (call %.1f, transfer %.1f)", (m.page_sdk - m.page_fetch) * 1000, m.page_sdk * 1000,
      m.page_fetch * 1000), string.format("%.2fx cjson.decode (target <= 1.2x)", m.page), m.page <= 1.2,
    "5 MB page vs cjson.decode")
  return rows, failed
end

os.execute("mkdir -p " .. q(WORK))
local txns = write_page(WORK .. "/page.json")
local url, nginx_pid = start_nginx(WORK .. "/page.json")
local ok, m, batch_na, rss1k, rss100k = pcall(bench, url)
for _, w in ipairs(workers) do pcall(w.close) end
procs.kill(nginx_pid)
if not ok then
  io.stderr:write("bench: ", tostring(m), "\n")
  os.exit(2)
end

local rows, failed = report(m, batch_na, rss1k, rss100k, txns)
print()
print(machine())
print(string.format("%s, LuaJIT %s; %s; nginx %s; node %s", _VERSION,
  sh("luajit -v"):match("LuaJIT (%S+)") or "?",
  (sh(LUA_ENV .. "lua5.4 -e 'print(require([[basiq.core]]).curl_version)'"):gsub("%s+$", "")),
  sh("nginx -v 2>&1"):match("nginx/(%S+)") or "?", (sh("node --version"):gsub("%s+$", ""))))
print()
print("| measurement | result | against the target |")
print("|---|---|---|")
for _, line in ipairs(rows) do print(line) end
print()
print(string.format("Medians of %d interleaved rounds of %d calls per block (%d for Node; ratios taken within"
  .. " each round), %d rounds of the batch and the page; `require` in 15 fresh processes.", ROUNDS, CALLS, JS_CALLS,
  SLOW_ROUNDS))
if #failed > 0 then
  print("FAILED: " .. table.concat(failed, "; "))
  os.exit(1)
end
print("all targets met")
