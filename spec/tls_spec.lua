-- TLS is verified, always: a local openssl s_server with certificates made
-- for the test (one for 127.0.0.1, one for another name).
local procs = require("support.procs")
local basiq = require("basiq")

local function make_cert(dir, name, san)
  local ok = procs.execute(string.format(
    "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=%s -addext subjectAltName=%s "
    .. "-keyout %s/%s.key -out %s/%s.pem 2>/dev/null", name, san, dir, name, dir, name))
  assert(ok, "openssl could not make a certificate")
  return dir .. "/" .. name .. ".pem", dir .. "/" .. name .. ".key"
end

local function s_server(cert, key)
  local port = procs.free_port()
  local pid = procs.spawn({ "openssl", "s_server", "-accept", "127.0.0.1:" .. port, "-cert", cert,
    "-key", key, "-www", "-quiet" }, os.tmpname())
  assert(procs.wait_port(port, 10, pid), "openssl s_server did not start")
  return "https://127.0.0.1:" .. port, pid
end

describe("TLS verification", function()
  local dir, good, good_pid, wrong, wrong_pid, good_cert, wrong_cert

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(procs.execute("mkdir -p " .. dir))
    local key
    good_cert, key = make_cert(dir, "loopback", "IP:127.0.0.1")
    good, good_pid = s_server(good_cert, key)
    wrong_cert, key = make_cert(dir, "other", "DNS:other.invalid")
    wrong, wrong_pid = s_server(wrong_cert, key)
  end)

  teardown(function()
    procs.kill(good_pid)
    procs.kill(wrong_pid)
    os.execute("rm -rf " .. dir)
  end)

  it("refuses a certificate no trusted CA signed", function()
    local res, err = basiq.new({ server = good }).auth("t").getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal("tls", err.code)
    assert.matches("certificate", err.message)
  end)

  it("accepts it with caFile, and then checks the host name", function()
    local res, err = basiq.new({ server = good, caFile = good_cert }).auth("t").getUser({ userId = "u1" })
    assert.is_nil(err)
    assert.are.equal(200, res.status)
    res, err = basiq.new({ server = wrong, caFile = wrong_cert }).auth("t").getUser({ userId = "u1" })
    assert.is_nil(res)
    assert.are.equal("tls", err.code)
    assert.matches("127.0.0.1", err.message)
  end)
end)

-- The same inside nginx: cosockets verify against lua_ssl_trusted_certificate
-- alone, and check the name the URL gives (nginx checks DNS names, so the
-- certificates here are for localhost, which the transport connects to as
-- 127.0.0.1 without a resolver, as libcurl does).
local transports = require("support.transports")
local via = transports.each()[2]
describe("TLS verification (nginx cosockets)", function()
  if not via or via.skip then
    pending(transports.no_nginx())
    return
  end
  local dir, good, good_pid, wrong, wrong_pid, good_cert, untrusted, bare

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(procs.execute("mkdir -p " .. dir))
    local key
    good_cert, key = make_cert(dir, "localhost", "DNS:localhost")
    good, good_pid = s_server(good_cert, key)
    good = good:gsub("127%.0%.0%.1", "localhost")
    local wrong_cert
    wrong_cert, key = make_cert(dir, "other", "DNS:other.invalid")
    wrong, wrong_pid = s_server(wrong_cert, key)
    wrong = wrong:gsub("127%.0%.0%.1", "localhost")
    assert(procs.execute("cat " .. good_cert .. " " .. wrong_cert .. " > " .. dir .. "/trusted.pem"))
    via.start("lua_ssl_trusted_certificate " .. dir .. "/trusted.pem; lua_ssl_verify_depth 2;")
    untrusted = transports.each()[2]
    untrusted.start("lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;")
    bare = transports.each()[2]
    bare.start()
  end)

  teardown(function()
    via.stop()
    untrusted.stop()
    bare.stop()
    procs.kill(good_pid)
    procs.kill(wrong_pid)
    os.execute("rm -rf " .. dir)
  end)

  local function get(t, server, opts)
    opts = opts or {}
    opts.server, opts.transport, opts.retries = server, t.transport, 0
    return basiq.new(opts).auth("tok").getUser({ userId = "u1" })
  end

  it("accepts a certificate lua_ssl_trusted_certificate trusts, for the URL's host", function()
    local res, err = get(via, good)
    assert.is_nil(err)
    assert.are.equal(200, res.status)
  end)

  it("refuses a certificate for another name, on every connection", function()
    for _ = 1, 3 do
      local res, err = get(via, wrong)
      assert.is_nil(res)
      assert.are.equal("tls", err.code)
      assert.matches("not for localhost", err.message, 1, true)
      assert.is_nil(err.message:find("tok", 1, true))
    end
  end)

  -- every time: lua-nginx-module 0.10.23 forgets a failed verification
  -- when a later handshake completes at once (see transport/ngx.lua)
  it("refuses a certificate no trusted CA signed, on every connection", function()
    for _ = 1, 3 do
      local res, err = get(untrusted, good)
      assert.is_nil(res)
      assert.are.equal("tls", err.code, tostring(err))
      assert.matches("certificate", err.message)
      assert.matches("lua_ssl_trusted_certificate", err.message, 1, true)
    end
  end)

  it("names the nginx.conf line to add when lua_ssl_trusted_certificate is missing", function()
    local res, err = get(bare, good)
    assert.is_nil(res)
    assert.are.equal("tls", err.code, tostring(err))
    assert.matches("`lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;`", err.message, 1, true)
  end)

  it("refuses caFile with the reason, sending nothing", function()
    local res, err = get(via, good, { caFile = good_cert })
    assert.is_nil(res)
    assert.are.equal("tls", err.code)
    assert.matches("caFile cannot apply inside nginx", err.message, 1, true)
  end)

  -- a TLS server that serves many connections at once (s_server takes one at a time)
  local function tls_nginx(cert, key)
    return procs.nginx([[
worker_processes 1;
events { worker_connections 64; }
http {
@NGINX_HTTP@
  server {
    listen 127.0.0.1:@PORT@ ssl;
    ssl_certificate @CERT@;
    ssl_certificate_key @KEY@;
    location / { default_type application/json; return 200 '{"tls":true}'; }
    location /late/ { default_type application/json; content_by_lua_block { ngx.sleep(0.7) ngx.print('{"tls":true}') } }
  }
}
]], transports.tree(), { CERT = cert, KEY = key })
  end

  it("never takes a connection that other code pooled to the same address, unverified", function()
    local backend = tls_nginx(good_cert, good_cert:gsub("%.pem$", ".key"))
    local port = backend.url:match(":(%d+)$")
    local out = procs.sh(procs.PLAIN .. "curl -s '" .. untrusted.url() .. "/other-code?port=" .. port .. "&name=localhost'")
    assert.are.equal("pooled\n", out)
    local res, err = get(untrusted, "https://localhost:" .. port)
    backend.stop()
    assert.is_nil(res)
    assert.are.equal("tls", err.code)
    assert.matches("lua_ssl_trusted_certificate", err.message, 1, true) -- verified, and refused
  end)

  -- a handshake 0.7 s slow (the relay holds the first bytes), then an answer
  -- 0.7 s late: each within the timeout of 1 s, not both
  it("bounds the whole exchange by the timeout, a slow handshake included", function()
    local backend = tls_nginx(good_cert, good_cert:gsub("%.pem$", ".key"))
    local lag = procs.lagproxy(backend.url:match(":(%d+)$"), 700)
    local server = "https://localhost:" .. lag.port .. "/late"
    local res, err = get(via, server, { timeout = 1000 })
    local res2, err2 = get(via, server, { timeout = 5000 }) -- the same with time enough
    lag.stop()
    backend.stop()
    assert.is_nil(res, "the call outlived its timeout")
    assert.are.equal("timeout", err.code, tostring(err))
    assert.is_nil(err2)
    assert.are.equal(200, res2.status)
  end)

  it("never serves an https call on a pooled http connection to the same address", function()
    local srv = procs.httpd()
    local plain = basiq.new({ server = srv.url, transport = via.transport, retries = 0 }).auth("tok")
    assert.are.equal(200, assert(plain.getUser({ userId = "u1" })).status) -- now pooled
    local res, err = get(via, "https://localhost:" .. srv.port)
    srv.stop()
    assert.is_nil(res)
    assert.are.equal("tls", err.code, tostring(err))
  end)
end)
