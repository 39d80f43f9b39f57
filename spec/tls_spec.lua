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
