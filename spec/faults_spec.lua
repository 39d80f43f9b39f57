-- Faults become errors, never crashes or hangs: each misbehaving server in
-- spec/support/httpd.lua (/fault/...) has a defined result, and the same
-- client works right after it.
local procs = require("support.procs")
local basiq = require("basiq")
local core = require("basiq.core")
local cjson = require("cjson")
local transports = require("support.transports")

for _, via in ipairs(transports.each()) do
describe("faults" .. via.label, function()
  if via.skip then return pending(via.skip) end
  local srv, client
  setup(function()
    srv = procs.httpd()
    via.start()
  end)
  teardown(function()
    via.stop()
    srv.stop()
  end)
  before_each(function()
    client = basiq.new({ server = srv.url, timeout = 3000, connectTimeout = 2000, retries = 0,
                         transport = via.transport }).auth("tok")
  end)

  -- the fault's result, then a good call on the same client
  local function through(path, opts)
    local c = client.server(srv.url .. path)
    if opts then c.config(opts) end
    local res, err = c.getUser({ userId = "u1" })
    local after, aerr = c.server(srv.url).getUser({ userId = "after" })
    assert.is_table(after, "the client broke after " .. path .. ": " .. tostring(aerr))
    assert.are.equal("/users/after", after.data.target)
    return res, err
  end

  -- { path, what, err.code, a plain substring of libcurl's message, of nginx's }
  local cases = {
    { "/fault/reset", "a reset connection", "recv", "Connection reset by peer", "connection reset by peer" },
    { "/fault/empty", "a connection closed without an answer", "empty-reply", "Empty reply from server",
      "empty reply from server" },
    { "/fault/midbody", "a body cut short", "recv", "transfer closed with 89 bytes remaining",
      "connection closed with 89 bytes of the body remaining" },
    { "/fault/badstatus", "a malformed status line", "protocol", "Unsupported HTTP version",
      "malformed answer: invalid HTTP status code" },
    { "/fault/badchunk", "a bad chunk size", "recv", "chunked-encoding", "chunked-encoding" },
    { "/fault/hugeheader", "a 200 KB header line", "too-large", "response header line larger than 102400 bytes",
      "response header line larger than 102400 bytes" },
  }
  for _, case in ipairs(cases) do
    it("turns " .. case[2] .. " into nil, err", function()
      local res, err = through(case[1])
      assert.is_nil(res)
      assert.are.equal(case[3], err.code, tostring(err))
      -- libcurl's result code; nginx's transport has none of its own
      if not via.ngx then assert.is_number(err.curlcode) end
      assert.matches("^basiq%.getUser: " .. err.code:gsub("%p", "%%%0") .. " error: .+", err.message)
      assert.matches(via.ngx and case[5] or case[4], err.message, 1, true)
      assert.are.equal(err.message, tostring(err))
    end)
  end

  local function hits(kind)
    local h = core.new()
    local o = h:perform({ method = "GET", url = srv.url .. "/fault/hits" })
    local st, body = o.status, o.body
    h:close()
    assert.are.equal(200, st)
    return cjson.decode(body)[kind] or 0
  end

  it("repeats a GET on a reset, then reports the last attempt's error", function()
    client.config({ retries = 2, retryDelay = 1 })
    local before = hits("reset")
    local res, err = through("/fault/reset")
    assert.is_nil(res)
    assert.are.equal("recv", err.code)
    assert.are.equal(3, hits("reset") - before) -- the first try and 2 retries
  end)

  it("does not repeat a GET whose failure another attempt would meet again", function()
    client.config({ retries = 2, retryDelay = 1, maxBodySize = 1000 })
    for _, kind in ipairs({ "big", "badstatus" }) do
      local before = hits(kind)
      local res, err = through(kind == "big" and "/fault/big/5000" or "/fault/badstatus")
      assert.is_nil(res)
      assert.are.equal(kind == "big" and "too-large" or "protocol", err.code)
      assert.are.equal(1, hits(kind) - before, kind .. " was retried")
    end
  end)

  it("never repeats a POST that was reset (it may have reached the server)", function()
    client.config({ retries = 2, retryDelay = 1 })
    local before = hits("reset")
    local res, err = client.server(srv.url .. "/fault/reset").createUser({ email = "a@b.c" })
    assert.is_nil(res)
    assert.are.equal("recv", err.code)
    assert.are.equal(1, hits("reset") - before)
    assert(client.server(srv.url).getUser({ userId = "after" }))
  end)

  it("bounds a stalled server by the timeout, before or during the body", function()
    for _, path in ipairs({ "/stall", "/fault/stallbody" }) do
      local t0 = core.now()
      local res, err = through(path, { timeout = 500 })
      assert.is_nil(res)
      assert.are.equal("timeout", err.code, tostring(err))
      assert.matches("^basiq%.getUser: timeout error: ", err.message)
      assert.is_true(core.now() - t0 < 3, path .. " took " .. (core.now() - t0) .. " s")
    end
  end)

  -- the server names the body's length, and sends none, as HEAD has it
  it("reads an answer to HEAD without waiting for its body", function()
    local o = via.request({ method = "HEAD", url = srv.url .. "/users/u1", timeout = 3000, connect_timeout = 2000,
                            headers = { "Accept: application/json" } })
    assert.are.equal(200, o.status, tostring(o.message))
    assert.are.equal("", o.body)
    assert.is_truthy(tonumber(o.headers["content-length"]) > 0)
  end)

  it("takes a timeout of any length nginx or libcurl can count", function()
    client.config({ timeout = 3e9, connectTimeout = 3e9 })
    local res, err = client.getUser({ userId = "long" })
    assert.is_nil(err)
    assert.are.equal("/users/long", res.data.target)
  end)

  it("keeps a stalled GET inside the timeout, retries included", function()
    client.config({ timeout = 800, retries = 2, retryDelay = 1 })
    local t0 = core.now()
    local res, err = through("/stall")
    assert.is_nil(res)
    assert.are.equal("timeout", err.code)
    assert.is_true(core.now() - t0 < 4, "the retries outlived the timeout: " .. (core.now() - t0) .. " s")
  end)

  it("returns invalid or truncated JSON as raw text, not an error", function()
    for path, text in pairs({ ["/fault/badjson"] = "{not json",
                              ["/fault/truncjson"] = '{"type": "user", "id": "u1", "email": ' }) do
      local res, err = through(path)
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      assert.are.equal(text, res.data)
    end
  end)

  it("reports an HTML 502 with its status and page, after the retries", function()
    client.config({ retries = 2, retryDelay = 1 })
    local res, err = through("/html/502")
    assert.is_nil(res)
    assert.are.equal(502, err.status)
    assert.matches("<html>", err.data, 1, true)
    assert.are.equal("basiq.getUser: HTTP 502", err.message)
  end)

  it("takes many headers, and refuses more than 256 KB of them", function()
    local res, err = through("/fault/manyheaders/5000") -- about 200 KB
    assert.is_nil(err)
    assert.are.equal(string.rep("v", 30), res.headers["x-h5000"])
    res, err = through("/fault/manyheaders/50000") -- about 2 MB
    assert.is_nil(res)
    assert.are.equal("too-large", err.code)
    assert.matches("response headers larger than 262144 bytes", err.message, 1, true)
  end)

  it("never reads a folded header line as a header of its own", function()
    local res = assert(through("/fault/fold"))
    -- libcurl's transport drops the continuation; http-parser joins it with a space (RFC 7230 3.2.4)
    assert.are.equal(via.ngx and "one two: three" or "one", res.headers["x-a"])
    for k in pairs(res.headers) do assert.matches("^[%w-]+$", k) end
  end)

  it("refuses a body over maxBodySize, and over the 64 MB default", function()
    local res, err = through("/fault/big/5000", { maxBodySize = 1000 })
    assert.is_nil(res)
    assert.are.equal("too-large", err.code)
    assert.matches("larger than 1000 bytes", err.message, 1, true)
    client = basiq.new({ server = srv.url, retries = 0, timeout = 20000 }).auth("tok")
    res, err = through("/fault/big/" .. (64 * 1024 * 1024 + 1))
    assert.is_nil(res)
    assert.are.equal("too-large", err.code)
    assert.matches("larger than 67108864 bytes", err.message, 1, true)
    res, err = through("/fault/big/" .. (1024 * 1024)) -- under the cap: fine
    assert.is_nil(err)
    assert.are.equal(1024 * 1024, #res.data)
  end)

  it("gives each fault in a batch its own error, and the next batch works", function()
    client.config({ timeout = 1000 })
    local codes = { reset = "recv", empty = "empty-reply", midbody = "recv", badstatus = "protocol",
                    badchunk = "recv", hugeheader = "too-large", stallbody = "timeout" }
    local calls, want = {}, {}
    for kind, code in pairs(codes) do
      calls[#calls + 1] = { "getUser", { userId = "fault-" .. kind } }
      want[#want + 1] = code
    end
    calls[#calls + 1] = { "getUser", { userId = "fine" } }
    local results, errs = client.batch(calls)
    for i, code in ipairs(want) do
      assert.is_nil(results[i])
      assert.are.equal(code, errs[i].code, calls[i][2].userId .. ": " .. tostring(errs[i]))
    end
    assert.are.equal("/users/fine", results[#calls].data.target)
    results = client.batch({ { "getUser", { userId = "after" } } })
    assert.are.equal("/users/after", results[1].data.target)
  end)

  it("reports a refused connection as connect", function()
    local c = basiq.new({ server = "http://127.0.0.1:" .. procs.free_port(), retries = 0, transport = via.transport })
      .auth("tok")
    local res, err = c.getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal("connect", err.code)
  end)

  it("keeps a connection for the next call only after a complete keep-alive answer", function()
    local function peer() return assert(client.server(srv.url).getUser({ userId = "p" })).data.peer end
    local first = peer()
    assert.are.equal(first, peer()) -- kept, and taken again
    for _, case in ipairs({ { "/closing" }, { "/fault/big/5000", { maxBodySize = 1000 } }, { "/stall", { timeout = 300 } },
                            { "/fault/midbody" }, { "/fault/badchunk" } }) do
      local before = peer()
      client.server(srv.url .. case[1]).config(case[2] or {}).getUser({ userId = "x" })
      client.config({ maxBodySize = 64 * 1024 * 1024, timeout = 3000 })
      assert.are_not.equal(before, peer(), case[1] .. ": its connection was kept")
    end
  end)
end)
end
