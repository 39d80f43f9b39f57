-- make bench's nginx section: one nginx worker serving basiq calls beside
-- what an OpenResty user writes by hand (bench/hand.lua: a cosocket GET over
-- one keepalive pool, then cjson.decode) and nginx's own proxy_pass, to the
-- same backend, loaded by Debian's wrk, in interleaved rounds (ratios within
-- a round, or a pair of rounds for (a) and (c), below; medians reported):
--   (a) the backend answers getUser at once, 50 clients: calls/s and the
--       worker's CPU per call, basiq against the hand-written handler;
--   (b) it answers after 200 ms, 400 clients: basiq against proxy_pass;
--   (c) it answers a 20 KB page of transactions after 200 ms, 2,000
--       clients: calls/s and mean latency against the hand-written handler,
--       failed calls, and (in fresh nginxes of their own) how much the
--       worker grows for each call in flight;
--   the ladder, in (a)'s nginx: the worker's CPU per call in parts, each
--   step one part more, to show where the cost goes.
-- In a round of (a) or (c) proxy_pass goes first, then basiq and the
-- hand-written handler, in turns first: a run that follows a Lua handler's
-- goes slower than one that follows proxy_pass's (in (c), 11 rounds: the
-- hand-written handler made 4,538 calls/s after basiq against 5,052 after
-- proxy_pass). So (a) and (c) take twice the rounds, and their ratios are
-- taken over pairs of rounds, one of each order (the geometric mean of the
-- two), the median of the pairs reported: each order weighs the same.
-- The socket lines (pool size, error logging) are examples/openresty/nginx.conf's.
local M = {}

-- the ladder's steps: { location, what it is }
local LADDER = {
  { "ladder/handler", "content_by_lua answering at once (nginx's request handling and a Lua handler)" },
  { "ladder/socket", "+ a hand-written GET on a pooled cosocket (status line and headers read by Lua)" },
  { "hand", "+ cjson.decode: the hand-written handler" },
  { "ladder/transport", "the SDK's nginx transport instead (basiq.core writes the request and parses the answer)" },
  { "ladder/decode", "+ cjson.decode" },
  { "sdk", "= basiq.getUser (+ the SDK's Lua layer: arguments, route, engine)" },
  { "proxy", "for comparison: proxy_pass alone" },
}

-- Per pair of rounds (1 and 2, 3 and 4, ...): the geometric mean of the two.
local function paired(ratios)
  local out = {}
  for i = 2, #ratios, 2 do out[#out + 1] = math.sqrt(ratios[i - 1] * ratios[i]) end
  return out
end

-- The example's socket lines: the bench measures the configuration users get.
local function example_lines(root, read)
  local conf = read(root .. "/examples/openresty/nginx.conf")
  local lines = {}
  for line in conf:gmatch("\n%s*(lua_socket_[%w_]+ [^;\n]+;)") do lines[#lines + 1] = line end
  assert(#lines > 0, "no lua_socket_ lines in the example")
  return table.concat(lines, " ")
end

local function wrk(url, conns, seconds)
  local p = assert(io.popen(string.format("wrk -t2 -c%d -d%ds --timeout 20s --latency %s 2>&1", conns, seconds, url)))
  local out = p:read("a")
  p:close()
  local rps = tonumber(out:match("Requests/sec:%s*([%d.]+)"))
  if not rps then error("wrk gave no rate for " .. url .. ":\n" .. out, 0) end
  local function ms(v, unit)
    v = tonumber(v)
    return v and (unit == "s" and v * 1000 or unit == "us" and v / 1000 or v)
  end
  local function pct(p_) return ms(out:match("\n%s*" .. p_ .. "%%%s+([%d.]+)(%a+)")) end
  local failed = tonumber(out:match("Non%-2xx or 3xx responses:%s*(%d+)") or "0")
  for n in (out:match("Socket errors:([^\n]*)") or ""):gmatch("%d+") do failed = failed + tonumber(n) end
  return { rps = rps, requests = tonumber(out:match("(%d+) requests in")), mean = ms(out:match("Latency%s+([%d.]+)(%a+)")),
           p50 = pct(50), p99 = pct(99), failed = failed, out = out }
end

local function status_field(read, pid, field)
  return tonumber(read("/proc/" .. pid .. "/status"):match(field .. ":%s*(%d+) kB"))
end

-- utime + stime of a process, in seconds
local function cpu(pid, read)
  local stat = read("/proc/" .. pid .. "/stat")
  local after = stat:match("%) (.*)$")
  local f, i = {}, 2
  for v in after:gmatch("%S+") do f[i + 1] = v; i = i + 1 end -- f[n] is the stat's field n
  return (tonumber(f[14]) + tonumber(f[15])) / 100
end

-- procs: spec/support/procs; work: a scratch folder; backend: the bench's
-- nginx URL; median: run.lua's. Returns the medians.
function M.measure(procs, root, work, backend, rounds, median)
  local q = procs.sh_quote
  local read = procs.read_file
  local dir = work .. "/front"
  local lines = example_lines(root, read)
  local addr, port_ = backend:match("^http://([^:/]+):(%d+)")
  local function start(prefix)
    procs.execute("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir .. "/logs") .. " " .. q(dir .. "/tmp"))
    local port = procs.free_port()
    local conf = read(root .. "/bench/front.conf"):gsub("@%u[%u_]*@", {
      ["@SOCKET_LINES@"] = lines, ["@ROOT@"] = root, ["@PORT@"] = tostring(port), ["@BACKEND@"] = backend .. prefix,
      ["@BACKEND_ADDR@"] = addr, ["@BACKEND_PORT@"] = port_, ["@PREFIX@"] = prefix })
    local f = assert(io.open(dir .. "/nginx.conf", "w"))
    f:write(conf)
    f:close()
    local pid = procs.spawn({ "nginx", "-p", dir, "-c", dir .. "/nginx.conf" }, dir .. "/logs/out.log")
    if not procs.wait_port(port, 10, pid) then
      error("the front nginx did not start:\n" .. read(dir .. "/logs/error.log"), 0)
    end
    local p = assert(io.popen("pgrep -P " .. pid))
    local worker = tonumber(p:read("l"))
    p:close()
    return "http://127.0.0.1:" .. port, pid, assert(worker, "no nginx worker")
  end
  local function must(w, what)
    if w.failed > 0 then error(what .. ": " .. w.failed .. " failed calls\n" .. w.out, 0) end
    return w
  end

  local r = { a_ratio = {}, a_proxy_share = {}, a_sdk = {}, a_hand = {}, a_proxy = {}, a_cpu_sdk = {}, a_cpu_hand = {},
              a_cpu_proxy = {}, b_ratio = {}, b_sdk = {}, b_proxy = {}, b_p50 = {}, b_p99 = {}, b_proxy_p50 = {},
              b_proxy_p99 = {}, c_ratio = {}, c_latency = {}, c_sdk = {}, c_hand = {}, c_proxy = {}, c_mean_sdk = {},
              c_mean_hand = {}, c_mean_proxy = {}, c_failed = {} }
  local ladder, ladder_rps = {}, {}
  for _, step in ipairs(LADDER) do ladder[step[1]], ladder_rps[step[1]] = {}, {} end

  -- (a) and the ladder
  local url, pid, worker = start("")
  local function run(path, seconds)
    local c0 = cpu(worker, read)
    local w = must(wrk(url .. "/" .. path, 50, seconds), "nginx (a) " .. path)
    w.cpu = (cpu(worker, read) - c0) / w.requests
    return w
  end
  local a_rounds = 2 * rounds
  io.stderr:write(string.format("bench (nginx a): %d rounds, 3 s each, 50 clients, the backend answers at once;"
    .. " the ladder in the first %d, 2 s a step\n", a_rounds, rounds))
  for _, step in ipairs(LADDER) do wrk(url .. "/" .. step[1], 50, 1) end -- warm up: connections, traces
  for round = 1, a_rounds do
    local got = {}
    for _, path in ipairs(round % 2 == 1 and { "proxy", "sdk", "hand" } or { "proxy", "hand", "sdk" }) do
      got[path] = run(path, 3)
    end
    if round <= rounds then
      for _, step in ipairs(LADDER) do
        local w = got[step[1]] or run(step[1], 2)
        table.insert(ladder[step[1]], w.cpu)
        table.insert(ladder_rps[step[1]], w.rps)
      end
    end
    table.insert(r.a_sdk, got.sdk.rps)
    table.insert(r.a_hand, got.hand.rps)
    table.insert(r.a_proxy, got.proxy.rps)
    table.insert(r.a_ratio, got.sdk.rps / got.hand.rps)
    table.insert(r.a_proxy_share, got.sdk.rps / got.proxy.rps)
    table.insert(r.a_cpu_sdk, got.sdk.cpu)
    table.insert(r.a_cpu_hand, got.hand.cpu)
    table.insert(r.a_cpu_proxy, got.proxy.cpu)
    io.stderr:write(string.format("  %2d: sdk %6.0f/s (%.1f µs CPU)  hand %6.0f/s (%.1f µs CPU)  proxy_pass %6.0f/s:"
      .. " %3.0f%% of hand\n", round, got.sdk.rps, got.sdk.cpu * 1e6, got.hand.rps, got.hand.cpu * 1e6, got.proxy.rps,
      100 * got.sdk.rps / got.hand.rps))
  end
  procs.kill(pid)

  -- (b) and (c): the backend answers after 200 ms
  url, pid, worker = start("/basiq-latency")
  io.stderr:write(string.format("bench (nginx b): %d rounds, 6 s each, 400 clients, getUser after 200 ms\n", rounds))
  wrk(url .. "/sdk", 400, 2)
  wrk(url .. "/proxy", 400, 2)
  for round = 1, rounds do
    local got = {}
    for _, path in ipairs(round % 2 == 1 and { "sdk", "proxy" } or { "proxy", "sdk" }) do
      got[path] = must(wrk(url .. "/" .. path, 400, 6), "nginx (b) " .. path)
    end
    table.insert(r.b_sdk, got.sdk.rps)
    table.insert(r.b_proxy, got.proxy.rps)
    table.insert(r.b_ratio, got.sdk.rps / got.proxy.rps)
    table.insert(r.b_p50, got.sdk.p50)
    table.insert(r.b_p99, got.sdk.p99)
    table.insert(r.b_proxy_p50, got.proxy.p50)
    table.insert(r.b_proxy_p99, got.proxy.p99)
    io.stderr:write(string.format("  %2d: sdk %6.0f/s (p50 %.0f ms, p99 %.0f ms)  proxy_pass %6.0f/s (p50 %.0f ms, p99 %.0f ms)\n",
      round, got.sdk.rps, got.sdk.p50, got.sdk.p99, got.proxy.rps, got.proxy.p50, got.proxy.p99))
  end
  local c_rounds = 2 * rounds
  io.stderr:write(string.format("bench (nginx c): %d rounds, 6 s each, 2000 clients, a 20 KB page after 200 ms\n",
    c_rounds))
  for _, path in ipairs({ "sdk-tx", "hand-tx", "proxy-tx" }) do wrk(url .. "/" .. path, 2000, 2) end
  for round = 1, c_rounds do
    local got = {}
    for _, path in ipairs(round % 2 == 1 and { "proxy-tx", "sdk-tx", "hand-tx" } or { "proxy-tx", "hand-tx", "sdk-tx" }) do
      got[path] = wrk(url .. "/" .. path, 2000, 6)
    end
    local sdk, hand, proxy = got["sdk-tx"], got["hand-tx"], got["proxy-tx"]
    must(hand, "nginx (c) hand-tx")
    must(proxy, "nginx (c) proxy-tx")
    table.insert(r.c_sdk, sdk.rps)
    table.insert(r.c_hand, hand.rps)
    table.insert(r.c_proxy, proxy.rps)
    table.insert(r.c_ratio, sdk.rps / hand.rps)
    table.insert(r.c_latency, sdk.mean / hand.mean)
    table.insert(r.c_mean_sdk, sdk.mean)
    table.insert(r.c_mean_hand, hand.mean)
    table.insert(r.c_mean_proxy, proxy.mean)
    table.insert(r.c_failed, sdk.failed)
    io.stderr:write(string.format("  %2d: sdk %6.0f/s (mean %.0f ms, %d failed)  hand %6.0f/s (mean %.0f ms)"
      .. "  proxy_pass %6.0f/s (mean %.0f ms)\n", round, sdk.rps, sdk.mean, sdk.failed, hand.rps, hand.mean, proxy.rps,
      proxy.mean))
  end
  procs.kill(pid)

  -- (c)'s memory: a fresh nginx for each, warmed with a few clients, then
  -- the peak resident size under 2,000 calls in flight
  local mem = {}
  for _, path in ipairs({ "sdk-tx", "hand-tx" }) do
    url, pid, worker = start("/basiq-latency")
    wrk(url .. "/" .. path, 20, 2)
    local rss0 = status_field(read, worker, "VmRSS")
    procs.execute("echo 5 > /proc/" .. worker .. "/clear_refs") -- the peak (VmHWM) starts again from here
    must(wrk(url .. "/" .. path, 2000, 6), "nginx (c) memory " .. path)
    mem[path] = { rss0 = rss0, peak = status_field(read, worker, "VmHWM") }
    procs.kill(pid)
  end

  local m = { lines = lines, mem = mem, c_failed_total = 0 }
  for _, n in ipairs(r.c_failed) do m.c_failed_total = m.c_failed_total + n end
  r.a_ratio, r.c_ratio, r.c_latency = paired(r.a_ratio), paired(r.c_ratio), paired(r.c_latency)
  for k, v in pairs(r) do m[k] = median(v) end
  m.ladder, m.ladder_rps = {}, {}
  for _, step in ipairs(LADDER) do
    m.ladder[step[1]], m.ladder_rps[step[1]] = median(ladder[step[1]]), median(ladder_rps[step[1]])
  end
  return m
end

-- The section's table lines and the targets it missed.
function M.report(m, line, mark, miss)
  local per = {}
  for k, v in pairs(m.mem) do per[k] = (v.peak - v.rss0) / 2000 end
  local a_ok, b_ok = m.a_ratio >= 0.9, m.b_ratio >= 0.95
  local c_ok = m.c_ratio >= 0.95 and m.c_latency <= 1.1 and m.c_failed_total == 0 and per["sdk-tx"] <= 32
  line("")
  line("nginx, one worker, `%s` (the example's), load from wrk:", m.lines)
  line("")
  line("| | basiq | hand-written cosocket GET + decode | proxy_pass | basiq's share | target |")
  line("|---|---|---|---|---|---|")
  line("| (a) getUser answered at once, 50 clients | %.0f calls/s, %.1f µs CPU a call | %.0f calls/s, %.1f µs |"
    .. " %.0f calls/s, %.1f µs | **%.1f%%** of hand-written%s (%.0f%% of proxy_pass) | ≥ 90%% |", m.a_sdk,
    m.a_cpu_sdk * 1e6, m.a_hand, m.a_cpu_hand * 1e6, m.a_proxy, m.a_cpu_proxy * 1e6, 100 * m.a_ratio, mark(a_ok),
    100 * m.a_proxy_share)
  line("| (b) getUser after 200 ms, 400 clients | %.0f calls/s, p50 %.0f ms, p99 %.0f ms | | %.0f calls/s, p50 %.0f ms,"
    .. " p99 %.0f ms | **%.1f%%** of proxy_pass%s | ≥ 95%% |", m.b_sdk, m.b_p50, m.b_p99, m.b_proxy, m.b_proxy_p50,
    m.b_proxy_p99, 100 * m.b_ratio, mark(b_ok))
  line("| (c) a 20 KB page after 200 ms, 2,000 clients | %.0f calls/s, mean %.0f ms, %d failed | %.0f calls/s,"
    .. " mean %.0f ms | %.0f calls/s, mean %.0f ms | **%.1f%%** of hand-written, **%.2f×** its latency%s |"
    .. " ≥ 95%%, ≤ 1.1×, none failed |", m.c_sdk, m.c_mean_sdk, m.c_failed_total, m.c_hand, m.c_mean_hand, m.c_proxy,
    m.c_mean_proxy, 100 * m.c_ratio, m.c_latency, mark(m.c_ratio >= 0.95 and m.c_latency <= 1.1 and m.c_failed_total == 0))
  line("| (c) the worker's growth for each call in flight (2,000) | **%.1f KiB**%s | %.1f KiB | | | ≤ 32 KiB |",
    per["sdk-tx"], mark(per["sdk-tx"] <= 32), per["hand-tx"])
  line("")
  line("| where a call's CPU goes in the worker, (a) | µs CPU a call | step | calls/s |")
  line("|---|---|---|---|")
  local prev
  for i, step in ipairs(LADDER) do
    local v, rps = m.ladder[step[1]] * 1e6, m.ladder_rps[step[1]]
    local base = (i == 4 and m.ladder["ladder/handler"] * 1e6) or prev
    local delta = (i > 1 and i < #LADDER) and string.format("%+.1f", v - base) or ""
    line("| %s | %.1f | %s | %.0f |", step[2], v, delta, rps)
    prev = v
  end
  if not a_ok then miss("nginx (a): getUser answered at once vs the hand-written handler") end
  if not b_ok then miss("nginx (b): 200 ms answers, 400 clients vs proxy_pass") end
  if not c_ok then miss("nginx (c): a 20 KB page after 200 ms, 2,000 clients vs the hand-written handler") end
end

return M
