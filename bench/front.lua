-- make bench's nginx section: one nginx worker serving basiq.getUser beside
-- nginx's own proxy_pass to the same backend, loaded by Debian's wrk, in
-- interleaved rounds (ratios within a round, medians reported):
--   (a) the backend answers at once: calls/s and the worker's CPU per call,
--       with the pools the README's sizing rule gives such answers (calls in
--       flight are a handful: threads = twice the cores);
--   (b) it answers after 200 ms, 400 clients at once, with the thread and
--       VM pools of examples/openresty/nginx.conf: calls/s and latency;
--   the ladder, in (a)'s nginx: the worker's CPU per call for the SDK's call
--   in parts (bench/ladder.lua), each step one part more, to show where the
--   cost goes, and a subrequest to proxy_pass for the transport not taken.
-- (a) takes twice the rounds plus one: its ratio is the one nearest its target.
local M = {}

-- the ladder's steps: { path under /ladder/ (or the section's own), what it adds }
local LADDER = {
  { "handler", "content_by_lua answering at once (nginx's request handling and a Lua handler)" },
  { "hop", "+ a round trip to a worker thread that does nothing (ngx.run_worker_thread)" },
  { "transfer", "+ basiq.core's transfer on that thread (libcurl, blocking on the backend)" },
  { "decode", "+ cjson.decode of the answer in the worker" },
  { "sdk", "= basiq.getUser (+ the SDK's Lua layer, on both sides of the hop)" },
  { "subrequest", "for comparison: ngx.location.capture of the proxy_pass location, + cjson.decode" },
  { "proxy", "for comparison: proxy_pass alone" },
}

-- The example's pool lines: the bench measures the configuration users get.
local function example_pools(root, read)
  local conf = read(root .. "/examples/openresty/nginx.conf")
  local pool = assert(conf:match("\n(thread_pool basiq threads=%d+;)"), "no thread_pool line in the example")
  local vms = conf:match("\n%s*(lua_worker_thread_vm_pool_size %d+;)") or ""
  return pool, vms
end

local function wrk(url, conns, seconds)
  local p = assert(io.popen(string.format("wrk -t2 -c%d -d%ds --latency %s 2>&1", conns, seconds, url)))
  local out = p:read("a")
  p:close()
  local rps = tonumber(out:match("Requests/sec:%s*([%d.]+)"))
  if not rps then error("wrk gave no rate for " .. url .. ":\n" .. out, 0) end
  local bad = tonumber(out:match("Non%-2xx or 3xx responses:%s*(%d+)") or "0")
  if bad > 0 then error(bad .. " failed answers from " .. url .. ":\n" .. out, 0) end
  local function ms(p_)
    local v, unit = out:match("\n%s*" .. p_ .. "%%%s+([%d.]+)(%a+)")
    v = tonumber(v)
    return v and (unit == "s" and v * 1000 or unit == "us" and v / 1000 or v)
  end
  return { rps = rps, requests = tonumber(out:match("(%d+) requests in")), p50 = ms(50), p90 = ms(90), p99 = ms(99) }
end

-- resident KiB of a process
local function rss(pid, read)
  return tonumber(read("/proc/" .. pid .. "/status"):match("VmRSS:%s*(%d+) kB"))
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
  local dir = work .. "/front"
  procs.execute("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir .. "/logs") .. " " .. q(dir .. "/tmp"))
  local pool, vms = example_pools(root, procs.read_file)
  local p_ = assert(io.popen("nproc"))
  local a_pool = "thread_pool basiq threads=" .. 2 * tonumber(p_:read("l")) .. ";"
  p_:close()
  local function start(prefix, thread_pool)
    local port = procs.free_port()
    local conf = procs.read_file(root .. "/bench/front.conf"):gsub("@%u[%u_]*@", {
      ["@THREAD_POOL@"] = thread_pool, ["@VM_POOL@"] = vms, ["@ROOT@"] = root, ["@PORT@"] = tostring(port),
      ["@BACKEND@"] = backend .. prefix, ["@BACKEND_HOST@"] = backend:match("^http://([^/]+)"), ["@PREFIX@"] = prefix })
    local f = assert(io.open(dir .. "/nginx.conf", "w"))
    f:write(conf)
    f:close()
    local pid = procs.spawn({ "nginx", "-p", dir, "-c", dir .. "/nginx.conf" }, dir .. "/logs/out.log")
    if not procs.wait_port(port, 10, pid) then
      error("the front nginx did not start:\n" .. procs.read_file(dir .. "/logs/error.log"), 0)
    end
    local p = assert(io.popen("pgrep -P " .. pid))
    local worker = tonumber(p:read("l"))
    p:close()
    return "http://127.0.0.1:" .. port, pid, assert(worker, "no nginx worker")
  end

  local r = { a_ratio = {}, a_sdk = {}, a_proxy = {}, a_cpu_sdk = {}, a_cpu_proxy = {}, ladder = {},
              b_ratio = {}, b_sdk = {}, b_proxy = {}, b_p50 = {}, b_p99 = {}, b_proxy_p50 = {}, b_proxy_p99 = {} }
  local url, pid, worker = start("", a_pool)
  local function run(path, seconds)
    local c0 = cpu(worker, procs.read_file)
    local w = wrk(url .. "/" .. path, 50, seconds)
    w.cpu = (cpu(worker, procs.read_file) - c0) / w.requests
    return w
  end
  local a_rounds = 2 * rounds + 1
  io.stderr:write(string.format("bench (nginx a): %d rounds, 3 s each way, 50 clients, the backend answers at once;"
    .. " the ladder in the first %d, 2 s a step\n", a_rounds, rounds))
  for _, path in ipairs({ "sdk", "proxy", "ladder/transfer", "ladder/subrequest" }) do
    wrk(url .. "/" .. path, 50, 1) -- warm up: connections, traces, thread-side VMs
  end
  r.ladder_rps = {}
  for _, step in ipairs(LADDER) do r.ladder[step[1]], r.ladder_rps[step[1]] = {}, {} end
  for round = 1, a_rounds do
    local got = {}
    for _, path in ipairs(round % 2 == 1 and { "sdk", "proxy" } or { "proxy", "sdk" }) do got[path] = run(path, 3) end
    if round <= rounds then
      for _, step in ipairs(LADDER) do
        local w = got[step[1]] or run("ladder/" .. step[1], 2)
        table.insert(r.ladder[step[1]], w.cpu)
        table.insert(r.ladder_rps[step[1]], w.rps)
      end
    end
    table.insert(r.a_sdk, got.sdk.rps)
    table.insert(r.a_proxy, got.proxy.rps)
    table.insert(r.a_ratio, got.sdk.rps / got.proxy.rps)
    table.insert(r.a_cpu_sdk, got.sdk.cpu)
    table.insert(r.a_cpu_proxy, got.proxy.cpu)
    io.stderr:write(string.format("  %2d: sdk %6.0f/s (%.1f µs CPU)  proxy_pass %6.0f/s (%.1f µs CPU): %3.0f%%\n", round,
      got.sdk.rps, got.sdk.cpu * 1e6, got.proxy.rps, got.proxy.cpu * 1e6, 100 * got.sdk.rps / got.proxy.rps))
  end
  procs.kill(pid)

  url, pid, worker = start("/basiq-latency", pool)
  local rss0 = rss(worker, procs.read_file)
  io.stderr:write(string.format("bench (nginx b): %d rounds, 6 s each way, 400 clients, answers after 200 ms (%s %s)\n",
    rounds, pool, vms))
  wrk(url .. "/sdk", 400, 2)
  wrk(url .. "/proxy", 400, 2)
  for round = 1, rounds do
    local got = {}
    for _, path in ipairs(round % 2 == 1 and { "sdk", "proxy" } or { "proxy", "sdk" }) do got[path] = wrk(url .. "/" .. path, 400, 6) end
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
  -- every call in flight held a thread and its VM: what each one costs
  local rss1 = rss(worker, procs.read_file)
  procs.kill(pid)
  local m = { pool = pool, a_pool = a_pool, vms = vms, rss0 = rss0, rss1 = rss1, per_thread = (rss1 - rss0) / 400 }
  for k, v in pairs(r) do if k ~= "ladder" and k ~= "ladder_rps" then m[k] = median(v) end end
  m.ladder, m.ladder_rps = {}, {}
  for _, step in ipairs(LADDER) do
    m.ladder[step[1]], m.ladder_rps[step[1]] = median(r.ladder[step[1]]), median(r.ladder_rps[step[1]])
  end
  return m
end

-- The section's table lines and the targets it missed.
function M.report(m, line, mark, miss)
  line("")
  line("| nginx, one worker, load from wrk | basiq.getUser | proxy_pass | ratio | target |")
  line("|---|---|---|---|---|")
  line("| (a) answers at once, 50 clients, `%s` | %.0f calls/s, %.1f µs CPU a call | %.0f calls/s, %.1f µs CPU a call |"
    .. " **%.1f%%**%s | ≥ 35%% |", m.a_pool, m.a_sdk, m.a_cpu_sdk * 1e6, m.a_proxy, m.a_cpu_proxy * 1e6, 100 * m.a_ratio,
    mark(m.a_ratio >= 0.35))
  line("| (b) answers after 200 ms, 400 clients, `%s %s` | %.0f calls/s, p50 %.0f ms, p99 %.0f ms |"
    .. " %.0f calls/s, p50 %.0f ms, p99 %.0f ms | **%.1f%%**%s | ≥ 90%% |", m.pool, m.vms, m.b_sdk, m.b_p50, m.b_p99,
    m.b_proxy, m.b_proxy_p50, m.b_proxy_p99, 100 * m.b_ratio, mark(m.b_ratio >= 0.9))
  line("| worker memory, idle / after (b) | %.1f / %.1f MiB: about %.0f KiB for each call in flight (a thread and its VM) | | | |",
    m.rss0 / 1024, m.rss1 / 1024, m.per_thread)
  line("")
  line("| where a call's CPU goes in the worker, (a) | µs CPU a call | step | calls/s | of proxy_pass's |")
  line("|---|---|---|---|---|")
  local prev
  for i, step in ipairs(LADDER) do
    local v, rps = m.ladder[step[1]] * 1e6, m.ladder_rps[step[1]]
    local delta = i > 1 and i <= 5 and string.format("+%.1f", v - prev) or ""
    line("| %s | %.1f | %s | %.0f | %.0f%% |", step[2], v, delta, rps, 100 * rps / m.ladder_rps.proxy)
    prev = v
  end
  if m.a_ratio < 0.35 then miss("nginx (a): immediate answers vs proxy_pass") end
  if m.b_ratio < 0.9 then miss("nginx (b): 200 ms answers, 400 clients vs proxy_pass") end
end

return M
