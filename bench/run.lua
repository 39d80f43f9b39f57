-- make bench: the SDK beside what a user would otherwise write (on LuaJIT
-- a hand-written lua-curl loop doing the same work as the SDK's call, and
-- a bare one for information; on Lua 5.4 the C core plus cjson.decode and
-- the whole numbers made integers),
-- raw libcurl and ReadMe's JavaScript SDK core, against a private nginx on
-- loopback.
--   lua5.4 bench/run.lua   (the Makefile builds what it needs first)
-- Every contender is a long-lived worker process; each round asks each in
-- turn (raw, core, decode, sdk, LuaJIT, the lua-curl loops, js; backwards every other
-- round) for one short block of calls, so neighbours in a round see the
-- same machine. Ratios are taken within a round and their median reported: on a
-- machine shared with other work, that is far steadier than comparing
-- separate long runs.
-- The sequential rounds run in two layouts, because on a virtual machine
-- the round trip itself depends on where the processes sit: "spread" leaves
-- nginx and the client to the scheduler (on separate vCPUs every wakeup
-- goes through the hypervisor), "one core" pins nginx and every contender
-- to CPU 0 (a round trip is then mostly the two programs' own work).
-- Then the batch and the 5 MB page take rounds of their own, and callgrind
-- counts each contender's instructions per call (exact, whatever the load;
-- with time() fixed, so each Lua's string hashes repeat from run to run).
-- BENCH_ROUNDS (per layout, default 31), BENCH_CALLS (calls per block,
-- default 2000; Node gets a tenth), BENCH_SLOW_ROUNDS (batch and page,
-- default 15), BENCH_LAYOUTS (default "spread,one-core") and BENCH_COUNT=0
-- (no callgrind) trade time for steadiness.
package.path = (arg[0]:match("^(.*)/bench/run%.lua$") or ".") .. "/spec/?.lua;" .. package.path
local procs = require("support.procs") -- also loads luasocket, which ignores SIGPIPE
local cjson = require("cjson")

local ROOT = procs.ROOT
local WORK = ROOT .. "/bench/.work"
local ROUNDS = tonumber(os.getenv("BENCH_ROUNDS") or "31")
local CALLS = tonumber(os.getenv("BENCH_CALLS") or "2000")
local SLOW_ROUNDS = tonumber(os.getenv("BENCH_SLOW_ROUNDS") or "15")
local COUNT = os.getenv("BENCH_COUNT") ~= "0"
local JS_CALLS = math.max(20, CALLS // 10)
local NGINX_ROUNDS = tonumber(os.getenv("BENCH_NGINX_ROUNDS") or "5") -- 0: no nginx section
local BATCH, BATCH_CONC, BATCH_DELAY = 200, 50, 0.05
local q = procs.sh_quote
local front = dofile(ROOT .. "/bench/front.lua")

local LAYOUTS = {}
for name in (os.getenv("BENCH_LAYOUTS") or "spread,one-core"):gmatch("[^,%s]+") do
  local layout = ({ spread = { name = "spread", label = "spread: nginx and the client where the scheduler puts them" },
    ["one-core"] = { name = "one-core", label = "one core: nginx and every contender pinned to CPU 0", cpu = "0" } })[name]
  LAYOUTS[#LAYOUTS + 1] = assert(layout, "BENCH_LAYOUTS: unknown layout " .. name)
end
-- a command run on the layout's CPU (taskset, from util-linux, is always there)
local function pinned(layout, cmd) return layout.cpu and "taskset -c " .. layout.cpu .. " " .. cmd or cmd end

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

-- A Basiq transactions list of about `bytes` bytes, shaped like getTransactions' example.
local function write_page(path, bytes)
  local data, size, i = {}, 0, 0
  local merchants = { { "Flight Centre", "flightcentre.com.au", "722", "Travel Agency and Tour Arrangement Services" },
    { "Woolworths", "woolworths.com.au", "411", "Supermarket and Grocery Stores" },
    { "Shell", "shell.com.au", "400", "Fuel Retailing" }, { "Uber", "uber.com", "462", "Taxi and Other Road Transport" } }
  while size < bytes do
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

local function start_nginx(page, page20, layout)
  local dir = WORK .. "/nginx"
  procs.execute("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir .. "/logs") .. " " .. q(dir .. "/tmp"))
  local port = procs.free_port()
  local conf = procs.read_file(ROOT .. "/bench/nginx.conf")
    :gsub("@PORT@", port):gsub("@PAGE@", function() return page end):gsub("@USER@", function() return USER end)
    :gsub("@PAGE20@", function() return page20 end)
  local f = assert(io.open(dir .. "/nginx.conf", "w"))
  f:write(conf)
  f:close()
  local argv = { "nginx", "-p", dir, "-c", dir .. "/nginx.conf" }
  if layout.cpu then table.insert(argv, 1, "taskset"); table.insert(argv, 2, "-c"); table.insert(argv, 3, layout.cpu) end
  local pid = procs.spawn(argv, dir .. "/logs/out.log")
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

local SERVE = ROOT .. "/bench/sdk.lua serve "
local function contenders(url)
  return {
    { "raw", q(ROOT .. "/build/rawcurl") .. " " .. q(url .. "/users/ea3a81"), CALLS },
    { "core", LUA_ENV .. "lua5.4 " .. SERVE .. url .. " core", CALLS },
    { "dec", LUA_ENV .. "lua5.4 " .. SERVE .. url .. " decode", CALLS },
    { "sdk", LUA_ENV .. "lua5.4 " .. SERVE .. url .. " sdk", CALLS },
    { "jit", JIT_ENV .. "luajit " .. SERVE .. url .. " sdk", CALLS },
    { "lc", JIT_ENV .. "luajit " .. q(ROOT .. "/bench/luacurl.lua") .. " " .. q(url .. "/users/ea3a81") .. " full", CALLS },
    { "lcb", JIT_ENV .. "luajit " .. q(ROOT .. "/bench/luacurl.lua") .. " " .. q(url .. "/users/ea3a81") .. " bare", CALLS },
    { "js", "node " .. q(ROOT .. "/bench/peer.mjs") .. " " .. q(procs.SPEC_DIR .. "/core.json") .. " " .. url, JS_CALLS },
  }
end

-- Interleaved rounds of sequential getUser calls in one layout: the median
-- throughput of each contender and of each ratio.
local function sequential(url, layout)
  local order, r = {}, { sdk_raw = {}, jit_raw = {}, core_raw = {}, dec_raw = {}, sdk_dec = {}, sdk_js = {}, jit_lc = {},
    jit_lcb = {} }
  for i, c in ipairs(contenders(url)) do
    order[i] = { c[1], worker(c[1], pinned(layout, c[2])), c[3] }
    r[c[1]] = {}
  end
  io.stderr:write(string.format("bench (%s): %d rounds of %d calls per block (%d for Node), after a warm-up round\n",
    layout.name, ROUNDS, CALLS, JS_CALLS))
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
      table.insert(r.jit_lc, tp.jit / tp.lc)
      table.insert(r.jit_lcb, tp.jit / tp.lcb)
      io.stderr:write(string.format("  %2d: raw %6.0f/s  core %6.0f/s  +decode %6.0f/s  sdk %6.0f/s (%3.0f%% of the floor)"
        .. "  luajit %6.0f/s (%3.0f%% of lua-curl %6.0f/s; bare %6.0f/s)  js %4.0f/s\n", round, tp.raw, tp.core, tp.dec,
        tp.sdk, 100 * tp.sdk / tp.dec, tp.jit, 100 * tp.jit / tp.lc, tp.lc, tp.lcb, tp.js))
    end
  end
  for _, o in ipairs(order) do o[2].close() end
  workers = {}
  local m = {}
  for k, v in pairs(r) do m[k] = median(v) end
  return m
end

-- The batch and the 5 MB page (spread layout), RSS and require time.
local function others(url)
  local m, r = {}, { batch = {}, page = {}, page_sdk = {}, page_fetch = {}, page_decode = {} }
  local sdk = worker("sdk", LUA_ENV .. "lua5.4 " .. SERVE .. url .. " sdk")
  io.stderr:write(string.format("bench: %d rounds of a batch and the 5 MB page, after a warm-up round\n", SLOW_ROUNDS))
  for round = 0, SLOW_ROUNDS do
    local b = sdk.ask("batch " .. BATCH .. " " .. BATCH_CONC)
    local ps, pf, pd = sdk.ask("page"):match("^(%S+) (%S+) (%S+)$")
    ps, pf, pd = tonumber(ps), tonumber(pf), tonumber(pd)
    if round > 0 then -- round 0 warms up (the batch's connections, the page's buffers)
      if tonumber(b) then table.insert(r.batch, tonumber(b)) else m.batch_na = b end
      table.insert(r.page_sdk, ps)
      table.insert(r.page_fetch, pf)
      table.insert(r.page_decode, pd)
      table.insert(r.page, (ps - pf) / pd)
      io.stderr:write(string.format("  %2d: batch %s  page: call %.1f ms, transfer %.1f ms, cjson.decode %.1f ms (%.2fx)\n",
        round, tonumber(b) and string.format("%.3f s", b) or b, ps * 1000, pf * 1000, pd * 1000, (ps - pf) / pd))
    end
  end
  sdk.close()
  workers = {}
  for k, v in pairs(r) do m[k] = median(v) end

  io.stderr:write("bench: RSS over 100,000 calls, require time\n")
  local req = {}
  for i = 1, 15 do req[i] = tonumber(sh(LUA_ENV .. "lua5.4 " .. ROOT .. "/bench/sdk.lua require")) end
  m.req = median(req)
  local rss1k, rss100k = sh(LUA_ENV .. "lua5.4 " .. ROOT .. "/bench/sdk.lua rss " .. url):match("(%d+)%s+(%d+)")
  m.rss1k, m.rss100k = tonumber(rss1k), tonumber(rss100k)
  return m
end

-- Instructions per call under callgrind: the count for 3,000 calls less the
-- count for 1,000 (start-up and warm-up cancel out), over 2,000. Load does
-- not change it (hash seeds and memory layout move it by about 1% between
-- runs); the client's own work only (not nginx, not the kernel).
local function counts(url)
  io.stderr:write("bench: instructions per call (callgrind)\n")
  local per = {}
  for _, c in ipairs(contenders(url)) do
    if c[1] ~= "js" then -- V8's JIT under valgrind is neither quick nor meaningful
      local n = {}
      for i, calls in ipairs({ 1000, 3000 }) do
        local out = sh("printf " .. q("get " .. calls .. "\nquit\n") .. " | valgrind --tool=callgrind --trace-children=yes"
          .. " --callgrind-out-file=/dev/null env LD_PRELOAD=" .. q(ROOT .. "/build/fixtime.so") .. " "
          .. c[2] .. " 2>&1 >/dev/null")
        n[i] = tonumber(out:match("Collected : (%d+)")) or error("callgrind gave no count for " .. c[1] .. ":\n" .. out, 0)
      end
      per[c[1]] = (n[2] - n[1]) / 2000
    end
  end
  return per
end

local function speed(tp) return string.format("%.0f calls/s (%.1f µs)", tp, 1e6 / tp) end
local function mark(ok) return ok and " ✓" or " ✗" end

-- The tables (lines), and the targets missed (none: every target holds).
local function report(seq, m, per, txns)
  local out, missed = {}, {}
  local function line(...) out[#out + 1] = string.format(...) end
  local function miss(what) missed[#missed + 1] = what end
  if not m.batch then miss("batch of 200 (" .. m.batch_na .. ")")
  elseif m.batch >= 0.5 then miss("batch of 200") end
  if math.abs(m.rss100k - m.rss1k) > 2048 then miss("RSS growth") end
  if m.req >= 0.005 then miss('require "basiq" time') end
  if m.page > 1.2 then miss("5 MB page vs decoding alone") end

  local head, rule = {}, {}
  for i, layout in ipairs(LAYOUTS) do head[i], rule[i] = layout.name, "---" end
  line("| sequential getUser | %s | target |", table.concat(head, " | "))
  line("|---|%s|---|", table.concat(rule, "|"))
  local function row(what, target, cell)
    local cells = {}
    for i, layout in ipairs(LAYOUTS) do cells[i] = cell(seq[layout.name], layout) end
    line("| %s | %s | %s |", what, table.concat(cells, " | "), target)
  end
  row("raw libcurl loop (C, one reused handle)", "the limit", function(r) return speed(r.raw) end)
  row("basiq.core perform loop (Lua 5.4, no Lua layer)", "for information",
    function(r) return string.format("%.1f%% of raw", 100 * r.core_raw) end)
  row("the floor: the same + cjson.decode and whole numbers as integers (Lua 5.4)", "for information",
    function(r) return string.format("%s: %.1f%% of raw", speed(r.dec), 100 * r.dec_raw) end)
  row("**basiq.getUser (Lua 5.4)**", "≥ 95% of the floor", function(r, layout)
    if r.sdk_dec < 0.95 then miss("Lua 5.4 throughput vs the floor (" .. layout.name .. ")") end
    return string.format("%s: **%.1f%% of the floor**%s", speed(r.sdk), 100 * r.sdk_dec, mark(r.sdk_dec >= 0.95))
  end)
  row("bare lua-curl loop (LuaJIT: the URL, two header lines, cjson.decode)", "for information",
    function(r) return speed(r.lcb) end)
  row("the yardstick: a lua-curl loop doing the SDK's work (LuaJIT)", "for information", function(r) return speed(r.lc) end)
  row("**basiq.getUser (LuaJIT)**", "≥ 95% of the yardstick", function(r, layout)
    if r.jit_lc < 0.95 then miss("LuaJIT throughput vs the lua-curl yardstick (" .. layout.name .. ")") end
    return string.format("%s: **%.1f%% of the yardstick**%s (%.1f%% of the bare loop)", speed(r.jit), 100 * r.jit_lc,
      mark(r.jit_lc >= 0.95), 100 * r.jit_lcb)
  end)
  row("**@readme/api-core 7 getUser (Node)**", "basiq ≥ 8× (one-core)", function(r, layout)
    local judged = layout.name == "one-core"
    if judged and r.sdk_js < 8 then miss("throughput vs the JavaScript SDK (one-core)") end
    return string.format("%s: **basiq is %.1f×**%s", speed(r.js), r.sdk_js, judged and mark(r.sdk_js >= 8) or "")
  end)

  line("")
  line("| measured once (%s) | result | target |", LAYOUTS[1].name)
  line("|---|---|---|")
  if m.batch then
    line("| basiq.batch of %d, each answer %d ms late, concurrency %d | %.3f s%s | < 0.5 s (ideal %.2f s) |", BATCH,
      BATCH_DELAY * 1000, BATCH_CONC, m.batch, mark(m.batch < 0.5), BATCH / BATCH_CONC * BATCH_DELAY)
  else
    line("| basiq.batch of %d | %s ✗ | < 0.5 s |", BATCH, m.batch_na)
  end
  line("| RSS after 1,000 / 100,000 calls | %d / %d KiB: %+d KiB%s | within 2048 KiB |", m.rss1k, m.rss100k,
    m.rss100k - m.rss1k, mark(math.abs(m.rss100k - m.rss1k) <= 2048))
  line('| require "basiq" (fresh process) | %.2f ms%s | < 5 ms |', m.req * 1000, mark(m.req < 0.005))
  line("| 5 MB transactions page (%d transactions): decoding alone (cjson.decode, integers) | %.1f ms | |", txns, m.page_decode * 1000)
  line("| the same page through basiq.getTransactions, minus the transfer | %.1f ms (call %.1f, transfer %.1f):"
    .. " %.2f× decoding alone%s | ≤ 1.2× |", (m.page_sdk - m.page_fetch) * 1000, m.page_sdk * 1000,
    m.page_fetch * 1000, m.page, mark(m.page <= 1.2))

  if m.nginx then front.report(m.nginx, line, mark, miss) end

  if per then
    local function k(n) return string.format("%.1fk", n / 1000) end
    local sdk_ok, jit_ok = per.sdk <= 1.05 * per.dec, per.jit <= per.lc
    if not sdk_ok then miss("Lua 5.4 instructions vs the floor") end
    if not jit_ok then miss("LuaJIT instructions vs the lua-curl yardstick") end
    line("")
    line("| instructions per getUser (callgrind, the client process only) | count | against | target |")
    line("|---|---|---|---|")
    line("| raw libcurl loop | %s | | |", k(per.raw))
    line("| basiq.core perform loop (Lua 5.4) | %s | +%s over raw: the binding, request and outcome tables | |",
      k(per.core), k(per.core - per.raw))
    line("| the floor: the same + cjson.decode and integers (Lua 5.4) | %s | +%s: decoding the 636-byte user | |", k(per.dec),
      k(per.dec - per.core))
    line("| **basiq.getUser (Lua 5.4)** | %s | **%.3f× the floor** (+%s: the SDK's Lua layer)%s | ≤ 1.05× |", k(per.sdk),
      per.sdk / per.dec, k(per.sdk - per.dec), mark(sdk_ok))
    line("| bare lua-curl loop (LuaJIT) | %s | | |", k(per.lcb))
    line("| the yardstick: a lua-curl loop doing the SDK's work (LuaJIT) | %s | +%s over the bare loop | |", k(per.lc),
      k(per.lc - per.lcb))
    line("| **basiq.getUser (LuaJIT)** | %s | **%.3f× the yardstick**%s | ≤ 1× |", k(per.jit), per.jit / per.lc,
      mark(jit_ok))
  end
  return out, missed
end

local function measure()
  local seq, m, per = {}, nil, nil
  for i, layout in ipairs(LAYOUTS) do
    local url, pid = start_nginx(WORK .. "/page.json", WORK .. "/page20.json", layout)
    local ok, err = pcall(function()
      seq[layout.name] = sequential(url, layout)
      if i == 1 then -- the rest once, in the first layout
        m = others(url)
        if NGINX_ROUNDS > 0 then m.nginx = front.measure(procs, ROOT, WORK, url, NGINX_ROUNDS, median) end
        per = COUNT and counts(url) or nil
      end
    end)
    for _, w in ipairs(workers) do pcall(w.close) end
    workers = {}
    procs.kill(pid)
    if not ok then error(err, 0) end
  end
  return seq, m, per
end

os.execute("mkdir -p " .. q(WORK))
local txns = write_page(WORK .. "/page.json", 5 * 1000 * 1000)
write_page(WORK .. "/page20.json", 20 * 1000) -- the nginx section's (c)
local ok, seq, m, per = pcall(measure)
if not ok then
  io.stderr:write("bench: ", tostring(seq), "\n")
  os.exit(2)
end

local rows, missed = report(seq, m, per, txns)
print()
print(machine())
print(string.format("%s, LuaJIT %s; %s; nginx %s; node %s", _VERSION,
  sh("luajit -v"):match("LuaJIT (%S+)") or "?",
  (sh(LUA_ENV .. "lua5.4 -e 'print(require([[basiq.core]]).curl_version)'"):gsub("%s+$", "")),
  sh("nginx -v 2>&1"):match("nginx/(%S+)") or "?", (sh("node --version"):gsub("%s+$", ""))))
print()
for _, line in ipairs(rows) do print(line) end
print()
print(string.format("Medians of %d interleaved rounds of %d calls per block per layout (%d for Node; ratios taken"
  .. " within each round), %d rounds of the batch and the page; `require` in 15 fresh processes.", ROUNDS, CALLS,
  JS_CALLS, SLOW_ROUNDS))
if #missed > 0 then
  print("FAILED: missed " .. table.concat(missed, "; "))
  os.exit(1)
end
print("every target met")
