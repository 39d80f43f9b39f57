-- The C core's HTTP for sockets it does not own (nginx's cosockets): the
-- request's bytes (core.http_request) and the answer parsed from bytes as
-- they come (core.reply), fed whole and one byte at a time.
local core = require("basiq.core")

-- Feeds chunks; then the connection's end if eof. -> what the parser said.
local function parse(chunks, eof, max_body, head)
  local r = core.reply(max_body, head)
  for _, c in ipairs(chunks) do
    local a, b, c2, d = r:feed(c)
    if a ~= nil then return a, b, c2, d end
  end
  if eof then return r:eof() end
  return "more"
end

-- The same answer whole, and byte by byte: both must agree.
local function both(text, eof, max_body, head)
  local bytes = {}
  for i = 1, #text do bytes[i] = text:sub(i, i) end
  local a1, b1, c1, d1 = parse({ text }, eof, max_body, head)
  local a2, b2, c2, d2 = parse(bytes, eof, max_body, head)
  assert.are.same({ a1, b1, c1, d1 }, { a2, b2, c2, d2 })
  return a1, b1, c1, d1
end

local function gzip(s)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  local p = assert(io.popen("gzip -c < " .. path))
  local z = p:read("*a")
  p:close()
  os.remove(path)
  return z
end

describe("core.http_request", function()
  it("refuses a body or a part's data that is not a string", function()
    assert.has_error(function()
      core.http_request({ method = "POST", url = "http://127.0.0.1:9/x", body = 1234567890123, headers = {} })
    end, "basiq.core: body must be a string")
    assert.has_error(function()
      core.http_request({ method = "POST", url = "http://127.0.0.1:9/x", headers = {},
                          mime = { { name = "file", data = 42, filename = "a.csv" } } })
    end, "basiq.core: data must be a string")
  end)
end)

describe("core.reply", function()
  it("reads a Content-Length answer, its headers in lower case (repeats joined), and keeps the connection", function()
    local status, headers, body, keep = both("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nx-a: 2\r\n\r\nok")
    assert.are.equal(200, status)
    assert.are.same({ ["content-length"] = "2", ["x-a"] = "1, 2" }, headers)
    assert.are.equal("ok", body)
    assert.is_true(keep)
  end)

  it("reads a chunked answer and drops its trailers", function()
    local status, headers, body, keep = both("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
    assert.are.equal(201, status)
    assert.are.equal("abcde", body)
    assert.is_nil(headers["x-trailer"])
    assert.is_true(keep)
  end)

  it("decodes gzip, fed in any pieces, and caps what it decodes", function()
    local text = ("hello gzip "):rep(1000)
    local z = gzip(text)
    local status, headers, body = both("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " .. #z
      .. "\r\n\r\n" .. z)
    assert.are.equal(200, status)
    assert.are.equal("gzip", headers["content-encoding"])
    assert.are.equal(text, body)
    local bomb = gzip(("\0"):rep(3000000))
    local ok, msg, kind = parse({ "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " .. #bomb
      .. "\r\n\r\n" .. bomb }, false, 1000000)
    assert.is_false(ok)
    assert.are.equal("too-large", kind)
    assert.are.equal("response body larger than 1000000 bytes", msg)
    ok, msg, kind = parse({ "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot gzip!!" })
    assert.is_false(ok)
    assert.are.equal("network", kind)
    assert.matches("gzip", msg)
  end)

  it("tells how many bytes of a Content-Length body are still due, to read them in one go", function()
    local r = core.reply()
    assert.are.same({ nil, 10 }, { r:feed("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nab") })
    assert.are.same({ nil, 4 }, { r:feed("cdefgh") })
    local status, _, body = r:feed("ijkl")
    assert.are.same({ 200, "abcdefghijkl" }, { status, body })
    r:reset()
    -- not for chunked bodies, nor before the headers end
    assert.are.same({}, { r:feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab") })
    r:reset()
    assert.are.same({}, { r:feed("HTTP/1.1 200 OK\r\nContent-Len") })
  end)

  it("skips interim answers", function()
    local status, _, body = both("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    assert.are.equal(204, status)
    assert.are.equal("", body)
  end)

  it("reads a body that runs to the connection's end, and keeps no such connection", function()
    local status, _, body, keep = both("HTTP/1.0 200 OK\r\n\r\nall of it", true)
    assert.are.equal(200, status)
    assert.are.equal("all of it", body)
    assert.is_false(keep)
  end)

  it("keeps no connection after Connection: close, HTTP/1.0, or bytes after the answer", function()
    assert.is_false(select(4, both("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")))
    assert.is_false(select(4, both("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")))
    assert.is_false(select(4, parse({ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n" })))
  end)

  it("reads no body in an answer to HEAD, gzip or not", function()
    local status, _, body, keep = both("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", false, nil, true)
    assert.are.equal(200, status)
    assert.are.equal("", body)
    assert.is_true(keep)
    status, _, body = both("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 30\r\n\r\n", false, nil, true)
    assert.are.same({ 200, "" }, { status, body })
  end)

  it("reads no body in a 204 or a 304, whatever its Content-Length says", function()
    for _, text in ipairs({ "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\nContent-Encoding: gzip\r\n\r\n",
                            "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n" }) do
      local status, _, body, keep = both(text)
      assert.are.equal(tonumber(text:match(" (%d+) ")), status)
      assert.are.equal("", body)
      assert.is_true(keep)
    end
  end)

  -- { answer, eof, kind, message }
  local FAILS = {
    { "", true, "empty-reply", "empty reply from server" },
    { "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", true, "recv",
      "connection closed with 97 bytes of the body remaining" },
    { "HTTP/1.1 200 OK\r\nContent-", true, "recv", "connection closed in the answer's headers" },
    { "HTTP/1.1 OK maybe\r\n\r\n", false, "protocol", "malformed answer: invalid HTTP status code" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, "recv", "invalid chunked-encoding" },
    { "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", false, "protocol",
      "malformed answer" },
    { "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, "protocol", "malformed answer" },
    { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", false, "protocol", "switched protocols" },
    { "HTTP/1.1 200 OK\r\nX-Huge: " .. ("a"):rep(200 * 1024) .. "\r\n\r\n", false, "too-large",
      "response header line larger than 102400 bytes" },
    { "HTTP/1.1 200 OK\r\n" .. ("X-H: " .. ("v"):rep(60) .. "\r\n"):rep(5000) .. "\r\n", false, "too-large",
      "response headers larger than 262144 bytes" },
    { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false, "too-large", "response body larger than 5 bytes",
      5 },
  }
  for _, case in ipairs(FAILS) do
    it("refuses " .. case[4], function()
      local ok, msg, kind = both(case[1], case[2], case[5])
      assert.is_false(ok)
      assert.are.equal(case[3], kind)
      assert.matches(case[4], msg, 1, true)
    end)
  end

  it("is used again after reset, and refuses a feed after the end until then", function()
    local r = core.reply()
    assert.are.equal(200, (r:feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")))
    assert.has_error(function() r:feed("x") end, "basiq.core: reply already ended; reset it first")
    r:reset(nil, false)
    local status, _, body = r:feed("HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno")
    assert.are.same({ 404, "no" }, { status, body })
    r:close()
    r:close() -- twice is fine
    assert.has_error(function() r:feed("x") end, "basiq.core: reply is closed")
  end)
end)

describe("core.http_request", function()
  local function request(req)
    req.method = req.method or "GET"
    return core.http_request(req)
  end

  it("writes the request line, Host, the caller's lines and the SDK's own", function()
    local wire, pool, host, port, name = request({ url = "https://api.example.com/users/u1?a=b",
      headers = { "Authorization: Bearer t", "Accept: application/json" } })
    assert.are.equal("GET /users/u1?a=b HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer t\r\n"
      .. "Accept: application/json\r\nUser-Agent: basiq-lua/" .. core.version .. "\r\nAccept-Encoding: gzip\r\n\r\n", wire)
    assert.are.same({ "basiq https api.example.com 443 api.example.com", "api.example.com", 443, "api.example.com" },
      { pool, host, port, name })
  end)

  it("names a pool for every parameter a connection is made with", function()
    local _, http = request({ url = "http://127.0.0.1:8080/x" })
    local _, https = request({ url = "https://127.0.0.1:8080/x" })
    local _, other = request({ url = "https://localhost:8080/x" })
    assert.are_not.equal(http, https)
    assert.are_not.equal(https, other)
    -- localhost is loopback without a resolver, and its TLS name stays localhost
    local wire, _, host, port, name = request({ url = "https://localhost:8080/x" })
    assert.are.same({ "127.0.0.1", 8080, "localhost" }, { host, port, name })
    assert.matches("\r\nHost: localhost:8080\r\n", wire, 1, true)
    assert.is_nil(select(5, request({ url = "http://127.0.0.1/x" }))) -- no TLS name over http
  end)

  it("sends a body with its length, and an empty POST with a zero length", function()
    local wire = request({ method = "POST", url = "http://127.0.0.1/u", body = "{}", headers = { "Content-Type: application/json" } })
    local function ends(s, tail) return s:sub(-#tail) == tail end
    assert.is_true(ends(wire, "\r\nContent-Length: 2\r\n\r\n{}"), wire)
    assert.is_true(ends(request({ method = "POST", url = "http://127.0.0.1/u" }), "\r\nContent-Length: 0\r\n\r\n"))
    assert.is_nil(request({ method = "DELETE", url = "http://127.0.0.1/u" }):find("Content-Length", 1, true))
  end)

  it("writes a multipart body with its boundary, names escaped", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("file bytes")
    f:close()
    local wire = request({ method = "POST", url = "http://127.0.0.1/s", mime = {
      { name = "a\"b", data = "one" }, { name = "f", path = path, filename = "s.pdf", type = "application/pdf" } } })
    os.remove(path)
    local boundary = wire:match("Content%-Type: multipart/form%-data; boundary=(%S+)\r\n")
    assert.truthy(boundary)
    local body = wire:match("\r\n\r\n(.*)$")
    assert.are.equal("--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"a%22b\"\r\n\r\none\r\n"
      .. "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"s.pdf\"\r\n"
      .. "Content-Type: application/pdf\r\n\r\nfile bytes\r\n--" .. boundary .. "--\r\n", body)
    assert.matches("\r\nContent-Length: " .. #body .. "\r\n", wire, 1, true)
  end)

  -- { url or headers, kind, message }
  local REFUSED = {
    { { url = "ftp://127.0.0.1/x" }, "protocol", "only http and https are allowed" },
    { { url = "https://user:pw@127.0.0.1/x" }, "url", "a URL with credentials in it is refused" },
    { { url = "http://a b/x" }, "url", "" },
    { { url = "http://127.0.0.1\0.evil/x" }, "url", "the URL contains a NUL byte" },
    { { url = "http://127.0.0.1/x", headers = { "X-A: 1\r\nX-B: 2" } }, "url", "a header line contains CR, LF or NUL" },
    { { url = "http://127.0.0.1/x", headers = { "X-A: 1\0" } }, "url", "a header line contains CR, LF or NUL" },
  }
  for _, case in ipairs(REFUSED) do
    it("refuses " .. case[1].url:gsub("%c", "?") .. (case[1].headers and " with a bad header line" or ""), function()
      local wire, msg, kind = request(case[1])
      assert.is_nil(wire)
      assert.are.equal(case[2], kind)
      assert.matches("^basiq%.core: ", msg)
      assert.matches(case[3], msg, 1, true)
      assert.is_nil(msg:find("pw", 1, true))
    end)
  end

  it("raises for a request that is not one (a programmer's mistake)", function()
    assert.has_error(function() core.http_request({ url = "http://x/" }) end, "basiq.core: request needs method and url")
    assert.has_error(function() core.http_request({ method = "GE T", url = "http://x/" }) end,
      "basiq.core: method must be a token")
  end)
end)
