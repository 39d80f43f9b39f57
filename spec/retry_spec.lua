-- Retries: which calls are repeated, on what, how long they wait, and that
-- the whole call stays inside its time budget. Against spec/support/httpd.lua
-- (/flaky/<key>/<n>/<status> fails n times, then answers).
local procs = require("support.procs")
local basiq = require("basiq")
local core = require("basiq.core")
local cjson = require("cjson")
local transports = require("support.transports")

for _, via in ipairs(transports.each()) do
describe("retries" .. via.label, function()
  if via.skip then return pending(via.skip) end
  local srv, n = nil, 0

  setup(function()
    srv = procs.httpd()
    via.start()
  end)
  teardown(function()
    via.stop()
    srv.stop()
  end)

  -- A client whose server fails `fails` times with `status`; returns the
  -- client and a function listing the attempt times the server saw.
  local function flaky(fails, status, opts, suffix)
    n = n + 1
    local key = "k" .. n
    local c = basiq.new({ server = srv.url .. "/flaky/" .. key .. "/" .. fails .. "/" .. status .. (suffix or ""),
                          transport = via.transport })
    c.auth("tok").config(opts or { retryDelay = 20 })
    local function attempts()
      local h = core.new()
      local o = h:perform({ method = "GET", url = srv.url .. "/flaky/" .. key .. "/stats" })
      local st, body = o.status, o.body
      h:close()
      assert.are.equal(200, st)
      return cjson.decode(body).attempts
    end
    return c, attempts
  end

  for _, status in ipairs({ 429, 502, 503, 504 }) do
    it("repeats a GET on " .. status .. " and succeeds", function()
      local c, attempts = flaky(2, status)
      local res, err = c.getUser({ userId = "u1" })
      assert.is_nil(err)
      assert.are.equal(3, res.data.attempt)
      assert.are.equal(3, #attempts())
    end)
  end

  it("repeats a DELETE and postToken, and gives up after `retries`", function()
    local c, attempts = flaky(5, 503)
    local res, err = c.deleteUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal(503, err.status)
    assert.are.equal(3, #attempts()) -- the first try and 2 retries (the default)
    c, attempts = flaky(1, 502)
    c.auth("Basic a2V5")
    assert(c.postToken({ scope = "SERVER_ACCESS" }, { ["basiq-version"] = "3.0" }))
    assert.are.equal(2, #attempts())
  end)

  it("never repeats another POST once it may have reached the server", function()
    local c, attempts = flaky(1, 503)
    local res, err = c.createUser({ email = "a@b.c" })
    assert.is_nil(res)
    assert.are.equal(503, err.status)
    assert.are.equal(1, #attempts())
  end)

  it("repeats a POST whose connection failed before anything was sent, not one that was reset", function()
    local calls = 0
    local c = basiq.new({ server = "http://127.0.0.1:" .. procs.free_port(), retryDelay = 1,
      transport = function(req) calls = calls + 1; return via.request(req) end }).auth("tok")
    local res, err = c.createUser({ email = "a@b.c" })
    assert.is_nil(res)
    assert.are.equal("connect", err.code)
    assert.are.equal(3, calls) -- refused: surely not sent, so retried
    calls = 0
    c.server(srv.url .. "/reset")
    res, err = c.createUser({ email = "a@b.c" })
    assert.is_nil(res)
    assert.are.equal(1, calls, tostring(err)) -- may have reached the server: never repeated
    calls = 0
    res, err = c.getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal(3, calls, tostring(err)) -- a GET is
  end)

  it("does not repeat other statuses", function()
    for _, status in ipairs({ 400, 401, 404, 500 }) do
      local c, attempts = flaky(1, status)
      local _, err = c.getUser({ userId = "u1" })
      assert.are.equal(status, err.status)
      assert.are.equal(1, #attempts())
    end
  end)

  it("follows config{ retries = n }", function()
    local c, attempts = flaky(9, 503, { retries = 0 })
    assert.is_nil((c.getUser({ userId = "u1" })))
    assert.are.equal(1, #attempts())
    c, attempts = flaky(9, 503, { retries = 4, retryDelay = 1 })
    assert.is_nil((c.getUser({ userId = "u1" })))
    assert.are.equal(5, #attempts())
  end)

  it("honours Retry-After in seconds and as an HTTP date", function()
    for _, suffix in ipairs({ "/after-1", "/date-2" }) do
      local c, attempts = flaky(1, 429, nil, suffix)
      assert(c.getUser({ userId = "u1" }))
      local t = attempts()
      assert.are.equal(2, #t)
      -- an HTTP date has whole seconds, so "2 s from now" may be just over 1 s
      assert.is_true(t[2] - t[1] >= 0.9, "waited only " .. (t[2] - t[1]) .. " s")
    end
  end)

  it("does not wait past the call's budget for a long Retry-After", function()
    local c, attempts = flaky(1, 503, { timeout = 2000 }, "/after-30")
    local t0 = core.now()
    local res, err = c.getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal(503, err.status)
    assert.are.equal(1, #attempts())
    assert.is_true(core.now() - t0 < 1.5, "waited for a retry that could not fit")
  end)

  it("backs off exponentially with full jitter, capped", function()
    local c, attempts = flaky(4, 503, { retries = 4, retryDelay = 200, retryMaxDelay = 300 })
    assert(c.getUser({ userId = "u1" }))
    local t = attempts()
    assert.are.equal(5, #t)
    for i = 2, #t do -- each wait is at most the cap (plus scheduling slack)
      assert.is_true(t[i] - t[i - 1] < 0.3 + 0.25, "wait " .. (i - 1) .. " was " .. (t[i] - t[i - 1]) .. " s")
    end
  end)

  it("repeats a timed-out GET inside one overall budget", function()
    local calls = 0
    local c = basiq.new({ server = srv.url .. "/stall", timeout = 1500, attemptTimeout = 400,
      retryDelay = 1, transport = function(req) calls = calls + 1; return via.request(req) end }).auth("tok")
    local t0 = core.now()
    local res, err = c.getUser({ userId = "u1" })
    local elapsed = core.now() - t0
    assert.is_nil(res)
    assert.are.equal("timeout", err.code)
    assert.is_true(elapsed < 4, "the budget did not bound the retries: " .. elapsed .. " s")
    assert.are.equal(3, calls) -- 0.4 s each: the first try and 2 retries fit in 1.5 s
  end)

  it("refuses bad retry options", function()
    assert.has_error(function() basiq.new({ retries = -1 }) end,
      "basiq.new: option 'retries' must be an integer from 0 to 10")
    assert.has_error(function() basiq.new().config({ retries = 1.5 }) end,
      "basiq.config: option 'retries' must be an integer from 0 to 10")
    assert.has_error(function() basiq.new().config({ retryDelay = 0 }) end,
      "basiq.config: option 'retryDelay' must be a positive number")
  end)
end)
end

describe("plain http", function()
  it("refuses to send credentials to a host other than loopback", function()
    local c = basiq.new({ server = "http://api.example.com" }).auth("tok")
    assert.has_error(function() c.getUser({ userId = "u1" }) end,
      "basiq.getUser: refusing to send credentials over plain http to a host other than loopback;"
      .. " use https, or basiq.config{ allowInsecureHttp = true }")
    -- the same guard covers paging and batches
    assert.has_error(function() c.paginate("getTransactions", { userId = "u1" }) end,
      "basiq.paginate: refusing to send credentials over plain http to a host other than loopback;"
      .. " use https, or basiq.config{ allowInsecureHttp = true }")
    assert.has_error(function() c.batch({ { "getUser", { userId = "u1" } } }) end,
      "basiq.batch: call 1: refusing to send credentials over plain http to a host other than loopback;"
      .. " use https, or basiq.config{ allowInsecureHttp = true }")
    -- opting in lifts it. 0.0.0.0 is not a loopback name, yet Linux delivers it
    -- to this machine, so the suite's traffic stays local.
    local srv = procs.httpd()
    c = basiq.new({ server = "http://0.0.0.0:" .. srv.port }).auth("tok")
    assert.has_error(function() c.getUser({ userId = "u1" }) end)
    local res, err = c.config({ allowInsecureHttp = true }).getUser({ userId = "u1" })
    srv.stop()
    assert.is_nil(err)
    assert.are.equal("Bearer tok", res.data.headers.authorization)
    -- clientToken sends the API key itself: guarded before any request
    srv = procs.httpd()
    local realm = "/tok/60/plain"
    c = basiq.new({ server = "http://0.0.0.0:" .. srv.port .. realm, apiKey = "a2V5OnNlY3JldA==" })
    assert.has_error(function() c.clientToken("u1") end,
      "basiq.clientToken: refusing to send credentials over plain http to a host other than loopback;"
      .. " use https, or basiq.config{ allowInsecureHttp = true }")
    assert.are.same({}, procs.get_json(srv.url .. realm .. "/stats").issued)
    assert.is_string(c.config({ allowInsecureHttp = true }).clientToken("u1"))
    assert.are.equal(1, #procs.get_json(srv.url .. realm .. "/stats").issued)
    srv.stop()
    -- without credentials nothing goes out either: an operation that needs one says so
    assert.has_error(function()
      basiq.new({ server = "http://0.0.0.0:" .. procs.free_port(), retries = 0 }).getUser({ userId = "u" })
    end, 'basiq.getUser: no credential: call basiq.auth("Basic " .. apiKey) first (or basiq.new{ apiKey = apiKey });'
      .. " with a token: basiq.auth(token)")
  end)

  -- A document of one operation (GetWidget, GET /w, key in X-Key) whose server is url.
  local function widget_doc(url)
    return procs.temp_file({ openapi = "3.0.0", servers = { { url = url } },
      components = { securitySchemes = { k = { type = "apiKey", name = "X-Key", ["in"] = "header" } } },
      security = { { k = {} } },
      paths = { ["/w"] = { get = { operationId = "GetWidget", responses = { ["200"] = { description = "ok" } } } } } })
  end

  it("refuses a loaded document's server that libcurl reads as plain http without saying so", function()
    -- libcurl guesses http:// for "host:port" and takes "http:/host" as http://host:
    -- both sent the key in clear to 0.0.0.0
    local srv = procs.httpd()
    for _, url in ipairs({ "0.0.0.0:" .. srv.port, "http:/0.0.0.0:" .. srv.port }) do
      local path = widget_doc(url)
      local c = basiq.new({ retries = 0 }).auth("s3cret-key")
      assert.are.equal(1, c.load(path))
      os.remove(path)
      assert.has_error(function() c.getWidget() end,
        "basiq.getWidget: refusing to send credentials over plain http to a host other than loopback;"
        .. " use https, or basiq.config{ allowInsecureHttp = true }")
    end
    srv.stop()
  end)

  it("takes only 127.x.y.z in plain decimal for loopback, not names libcurl resolves", function()
    -- libcurl does not read these as addresses: it resolves them as names
    -- (DNS, /etc/hosts), so they may lead anywhere
    local sent = {}
    local c = basiq.new({ transport = function(req)
      sent[#sent + 1] = req.url
      return { status = 200, headers = {}, body = "" }
    end }).auth("tok")
    for _, host in ipairs({ "127.0.0.256", "127.0.0.09", "127.1.2.99999999999999999999" }) do
      c.server("http://" .. host)
      assert.has_error(function() c.getUser({ userId = "u1" }) end,
        "basiq.getUser: refusing to send credentials over plain http to a host other than loopback;"
        .. " use https, or basiq.config{ allowInsecureHttp = true }")
    end
    assert.are.same({}, sent)
    for _, host in ipairs({ "127.0.0.1", "127.255.0.10", "localhost", "[::1]" }) do
      assert(c.server("http://" .. host .. ":8080").getUser({ userId = "u1" }))
    end
    assert.are.equal(4, #sent)
    -- What libcurl does with such a name, where /etc/hosts (as a DNS answer
    -- could) maps 127.0.0.256 to 0.0.0.0: in a user and mount namespace of
    -- its own, with DNS pointed at loopback so that nothing leaves the machine.
    if not procs.execute("unshare -rm true 2>/dev/null") then
      pending("unshare -rm is not permitted here")
      return
    end
    local srv = procs.httpd()
    local hosts, resolv = procs.temp_file("0.0.0.0 127.0.0.256\n"), procs.temp_file("nameserver 127.0.0.1\n")
    local script = procs.temp_file("local b = require('basiq')\n"
      .. "local c = b.new({ server = 'http://127.0.0.256:" .. srv.port .. "', retries = 0 }).auth('s3cret-key')\n"
      .. "local ok, res, err = pcall(c.getUser, { userId = 'u1' })\n"
      .. "print(ok and res and res.data.headers.authorization or tostring(ok and err or res))\n")
    local q = procs.sh_quote
    local p = assert(io.popen("cd " .. q(procs.ROOT) .. " && unshare -rm sh -c "
      .. q("mount --bind " .. q(hosts) .. " /etc/hosts && mount --bind " .. q(resolv) .. " /etc/resolv.conf"
        .. " && LUA_PATH_5_4='lua/?.lua;lua/?/init.lua;;' LUA_CPATH_5_4='build/lua5.4/?.so;;' lua5.4 " .. q(script))
      .. " 2>&1"))
    local out = p:read("*a")
    p:close()
    srv.stop()
    os.remove(hosts); os.remove(resolv); os.remove(script)
    assert.is_nil(out:find("s3cret-key", 1, true), "the credential went to 0.0.0.0 over plain http: " .. out)
    assert.matches("refusing to send credentials over plain http", out, 1, true)
  end)
end)
