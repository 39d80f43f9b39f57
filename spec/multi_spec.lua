-- core.multi (many transfers through one curl multi handle) and the `sent`
-- flag of failed transfers, over real HTTP on loopback. The suite's server
-- counts requests in flight (/inflight/<key>/...), so concurrency is shown
-- by what the server saw, not by timing alone.
local procs = require("support.procs")
local core = require("basiq.core")
local cjson = require("cjson")

local get_json = procs.get_json

describe("core.multi", function()
  local srv, m
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)
  before_each(function() m = core.multi() end)
  after_each(function() m:close() end)

  local function get(path, extra)
    local req = { method = "GET", url = srv.url .. path }
    for k, v in pairs(extra or {}) do req[k] = v end
    return req
  end
  local function inflight(key) return get_json(srv.url .. "/inflight/" .. key .. "/stats") end

  -- a number made a string only in a stack slot: libcurl would send freed memory
  it("refuses a body that is not a string, in a batch and alone", function()
    assert.has_error(function() m:perform({ get("/r", { method = "POST", body = 1234567890123 }) }, 1) end,
      "basiq.core: body must be a string")
    local h = core.new()
    assert.has_error(function() h:perform(get("/r", { method = "POST", body = 1234567890123 })) end,
      "basiq.core: body must be a string")
    h:close()
  end)

  it("returns each outcome at its request's index, whatever order they finish in", function()
    local reqs = {}
    for i = 1, 8 do reqs[i] = get("/delay/" .. (9 - i) * 40 .. "/r" .. i) end -- the last answers first
    local out = m:perform(reqs, 8)
    assert.are.equal(8, #out)
    for i = 1, 8 do
      assert.are.equal(200, out[i].status)
      assert.are.equal("yes", out[i].headers["x-echo"])
      assert.are.equal("application/json", out[i].headers["content-type"])
      assert.are.equal("/delay/" .. (9 - i) * 40 .. "/r" .. i, cjson.decode(out[i].body).target)
    end
  end)

  it("runs 20 slow requests together with concurrency 20", function()
    local reqs = {}
    for i = 1, 20 do reqs[i] = get("/inflight/c20/300/" .. i) end
    local t0 = core.now()
    local out = m:perform(reqs, 20)
    local elapsed = core.now() - t0
    for i = 1, 20 do assert.are.equal("/inflight/c20/300/" .. i, cjson.decode(out[i].body).target) end
    local seen = inflight("c20")
    assert.are.equal(20, seen.total)
    assert.is_true(seen.max > 1 and seen.max <= 20, "the server saw " .. seen.max .. " at once")
    -- one at a time would take 6 s; generous bound for a loaded machine
    assert.is_true(elapsed < 3, "20 requests of 0.3 s took " .. elapsed .. " s")
  end)

  it("never has more than `concurrency` requests in flight", function()
    local reqs = {}
    for i = 1, 6 do reqs[i] = get("/inflight/c1/30/" .. i) end
    local out = m:perform(reqs, 1)
    for i = 1, 6 do assert.are.equal(200, out[i].status) end
    assert.are.same({ total = 6, max = 1 }, inflight("c1"))
    for i = 1, 12 do reqs[i] = get("/inflight/c4/100/" .. i) end
    out = m:perform(reqs, 4)
    for i = 1, 12 do assert.are.equal(200, out[i].status) end
    local seen = inflight("c4")
    assert.are.equal(12, seen.total)
    assert.is_true(seen.max >= 2 and seen.max <= 4, "the server saw " .. seen.max .. " at once")
  end)

  it("reports HTTP errors, a refused connection, a reset and a timeout at their indexes", function()
    local dead = "http://127.0.0.1:" .. procs.free_port()
    local out = m:perform({
      get("/ok"),
      get("/status/404"),
      { method = "POST", url = dead .. "/x", body = "{}" },
      { method = "POST", url = srv.url .. "/stall", body = "{}", timeout = 300 },
      { method = "POST", url = srv.url .. "/reset", body = "{}" },
      get("/status/500"),
    }, 6)
    assert.are.equal(200, out[1].status)
    assert.are.equal(404, out[2].status)
    assert.are.equal("resource-not-found", cjson.decode(out[2].body).data[1].code)
    assert.is_nil(out[3].status)
    assert.are.equal(7, out[3].code, out[3].message)
    assert.is_false(out[3].sent) -- nothing reached a server: safe to retry even a POST
    assert.are.equal(28, out[4].code, out[4].message)
    assert.is_true(out[4].sent) -- the server read it and never answered
    assert.is_true(out[5].code == 52 or out[5].code == 55 or out[5].code == 56, out[5].message)
    assert.is_true(out[5].sent)
    assert.are.equal(500, out[6].status)
    for _, i in ipairs({ 3, 4, 5 }) do
      assert.are.same({ "code", "message", "sent", "time" }, (function()
        local keys = {}
        for k in pairs(out[i]) do keys[#keys + 1] = k end
        table.sort(keys)
        return keys
      end)())
      assert.is_string(out[i].message)
    end
  end)

  it("keeps connections for the next batch", function()
    local function ports()
      local reqs, set, n = {}, {}, 0
      -- six at once over HTTP/1.1: six connections
      for i = 1, 6 do reqs[i] = get("/inflight/reuse/150/" .. i) end
      for _, o in ipairs(m:perform(reqs, 6)) do
        local p = cjson.decode(o.body).peer
        if not set[p] then set[p], n = true, n + 1 end
      end
      return set, n
    end
    local first, n1 = ports()
    local second, n2 = ports()
    assert.are.equal(6, n1)
    assert.are.equal(6, n2)
    for p in pairs(second) do assert.is_true(first[p], "port " .. p .. " is a new connection") end
  end)

  it("sends bodies and multipart forms", function()
    local file = os.tmpname()
    local f = assert(io.open(file, "wb"))
    f:write("file bytes\n")
    f:close()
    local out = m:perform({
      get("/p", { method = "POST", body = '{"a":1}', headers = { "Content-Type: application/json" } }),
      get("/q", { method = "PUT", body = "put body" }),
      get("/m", { method = "POST", mime = { { name = "field", data = "value" },
        { name = "upload", path = file, filename = "f.txt", type = "text/plain" } } }),
      get("/d", { method = "DELETE" }),
      get("/e", { method = "POST" }),
    }, 5)
    os.remove(file)
    local e = {}
    for i = 1, 5 do e[i] = cjson.decode(out[i].body) end
    assert.are.equal("POST", e[1].method)
    assert.are.equal('{"a":1}', e[1].body)
    assert.are.equal("application/json", e[1].headers["content-type"])
    assert.are.equal("PUT", e[2].method)
    assert.are.equal("put body", e[2].body)
    assert.matches("^multipart/form%-data; boundary=", e[3].headers["content-type"])
    assert.matches('name="field"\r\n\r\nvalue\r\n', e[3].body, 1, true)
    assert.matches('name="upload"; filename="f.txt"\r\nContent%-Type: text/plain\r\n\r\nfile bytes\n\r\n', e[3].body)
    assert.are.equal("DELETE", e[4].method)
    assert.are.equal("POST", e[5].method)
    assert.are.equal("", e[5].body)
  end)

  it("refuses bad input before sending anything", function()
    local ok = get("/inflight/bad/0/1")
    assert.has_error(function() m:perform({ ok, { method = "GET" } }, 2) end, "basiq.core: request needs method and url")
    assert.has_error(function() m:perform({ ok, "x" }, 2) end)
    assert.has_error(function() m:perform({ ok, get("/x", { headers = { {} } }) }, 2) end)
    assert.has_error(function() m:perform({ ok, get("/x", { timeout = 0 }) }, 2) end,
      "basiq.core: timeout must be a positive number of milliseconds")
    assert.has_error(function() m:perform("x", 1) end)
    for _, c in ipairs({ 0, 1001, 2.5, -1, 0 / 0 }) do
      assert.has_error(function() m:perform({ ok }, c) end, "basiq.core: concurrency must be an integer from 1 to 1000")
    end
    assert.has_error(function() m:perform({ ok }, "many") end)
    assert.are.same({ total = 0, max = 0 }, inflight("bad"))
    -- and the handle still works: nil means the default concurrency
    assert.are.equal(200, m:perform({ ok })[1].status)
    assert.are.same({}, m:perform({}, 4))
  end)

  it("runs batches larger than the pool it keeps, again and again", function()
    for _ = 1, 2 do
      local reqs = {}
      for i = 1, 300 do reqs[i] = get("/n" .. i) end
      local out = m:perform(reqs, 50)
      for i = 1, 300 do assert.are.equal("/n" .. i, cjson.decode(out[i].body).target) end
    end
  end)

  it("closes idempotently, by close, __close and __gc", function()
    m:close()
    m:close()
    assert.are.equal("basiq.core.multi (closed)", tostring(m))
    assert.has_error(function() m:perform({}, 1) end, "basiq.core: multi handle is closed")
    local m2 = core.multi()
    assert.are.equal("basiq.core.multi (open)", tostring(m2))
    if _VERSION == "Lua 5.4" then -- to-be-closed variables: the syntax exists on 5.4 only
      assert(load("local m <close> = ...; return m", "=close", "t"))(m2)
    else
      getmetatable(m2).__close(m2)
    end
    assert.are.equal("basiq.core.multi (closed)", tostring(m2))
    m2:close()
    local m3 = core.multi()
    assert.are.equal(200, m3:perform({ get("/gc") })[1].status)
    m3 = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
  end)
end)

describe("the sent flag of a single handle", function()
  local srv
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  it("is false when the connection is refused, true when the server read the request", function()
    local h = core.new()
    local function perform(req)
      local o = h:perform(req)
      return o.status, o.message, o.code, o.sent
    end
    local st, msg, code, sent = perform({ method = "POST", url = "http://127.0.0.1:" .. procs.free_port() .. "/x", body = "{}" })
    assert.is_nil(st)
    assert.are.equal(7, code, msg)
    assert.is_false(sent)
    st, msg, code, sent = perform({ method = "POST", url = srv.url .. "/reset", body = "{}" })
    assert.is_nil(st)
    assert.is_true(code == 52 or code == 55 or code == 56, msg) -- empty reply, send or recv failure
    assert.is_true(sent, msg)
    st, msg, code, sent = perform({ method = "POST", url = srv.url .. "/stall", body = "{}", timeout = 300 })
    assert.is_nil(st)
    assert.are.equal(28, code, msg)
    assert.is_true(sent, msg)
    -- a refusal after a success on the same handle: the counts start again
    assert.are.equal(200, (perform({ method = "GET", url = srv.url .. "/ok" })))
    st, msg, code, sent = perform({ method = "GET", url = "http://127.0.0.1:" .. procs.free_port() .. "/x" })
    assert.is_nil(st)
    assert.are.equal(7, code, msg)
    assert.is_false(sent)
    h:close()
  end)
end)

-- HTTP/2 needs a TLS server that offers h2: Node's http2 module (Node is
-- already here for Prism) with a certificate made for the test.
describe("core.multi over HTTP/2", function()
  local dir, cert, url, pid
  local node = procs.execute("command -v node >/dev/null 2>&1")

  setup(function()
    if not node then return end
    dir = os.tmpname()
    os.remove(dir)
    assert(procs.execute("mkdir -p " .. dir))
    cert = dir .. "/h2.pem"
    assert(procs.execute("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      .. "-addext subjectAltName=IP:127.0.0.1 -keyout " .. dir .. "/h2.key -out " .. cert .. " 2>/dev/null"))
    local port = procs.free_port()
    pid = procs.spawn({ "node", procs.ROOT .. "/spec/support/h2d.js", tostring(port), cert, dir .. "/h2.key" },
      dir .. "/log")
    assert(procs.wait_port(port, 20, pid), "the HTTP/2 server did not start: " .. procs.read_file(dir .. "/log"))
    url = "https://127.0.0.1:" .. port
  end)

  teardown(function()
    procs.kill(pid)
    if dir then os.execute("rm -rf " .. dir) end
  end)

  local function needs_node()
    if not node then pending("node is not installed: the HTTP/2 server cannot run") end
    return node
  end

  it("multiplexes a batch over one TLS connection", function()
    if not needs_node() then return end
    local m = core.multi()
    local reqs = {}
    for i = 1, 10 do reqs[i] = { method = "GET", url = url .. "/delay/300/" .. i, cainfo = cert } end
    local out = m:perform(reqs, 10)
    local e, most = {}, 0
    for i = 1, 10 do
      assert.are.equal(200, out[i].status, out[i].message)
      e[i] = cjson.decode(out[i].body)
      assert.are.equal("2.0", e[i].http)
      assert.are.equal("/delay/300/" .. i, e[i].target)
      assert.are.equal(e[1].session, e[i].session) -- one connection carried them all
      most = math.max(most, e[i].maxOpen)
    end
    assert.is_true(most >= 5, "the server had at most " .. most .. " streams open at once")
    -- a second batch goes over the same connection
    out = m:perform({ reqs[1], reqs[2] }, 2)
    assert.are.equal(e[1].session, cjson.decode(out[1].body).session)
    assert.are.equal(e[1].session, cjson.decode(out[2].body).session)
    m:close()
  end)

  it("says a failed TLS handshake sent nothing", function()
    if not needs_node() then return end
    local m = core.multi()
    local out = m:perform({ { method = "POST", url = url .. "/x", body = "{}" } }, 1) -- no cainfo: not trusted
    m:close()
    assert.are.equal(60, out[1].code, out[1].message)
    assert.is_false(out[1].sent)
    local h = core.new()
    local o = h:perform({ method = "POST", url = url .. "/x", body = "{}" })
    h:close()
    local st, msg, code, sent = o.status, o.message, o.code, o.sent
    assert.is_nil(st)
    assert.are.equal(60, code, msg)
    assert.is_false(sent)
  end)
end)
