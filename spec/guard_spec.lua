-- basiq.guard: where credentials may go, as pure functions.
local guard = require("basiq.call.guard")

describe("guard.loopback", function()
  it("takes localhost, [::1] and 127.x.y.z in plain decimal", function()
    for _, host in ipairs({ "localhost", "[::1]", "127.0.0.1", "127.255.255.255", "127.1.0.9" }) do
      assert.is_true(guard.loopback(host), host)
    end
  end)

  it("refuses what libcurl would resolve as a name, and everything else", function()
    for _, host in ipairs({ "127.0.0.256", "127.0.0.09", "127.1", "0177.0.0.1", "127.0.0.1.nip.io", "0.0.0.0",
      "10.0.0.1", "localhost.example", "[::2]", "" }) do
      assert.is_false(guard.loopback(host), host)
    end
  end)
end)

describe("guard.insecure", function()
  it("is false for https anywhere and plain http to loopback", function()
    for _, url in ipairs({ "https://au-api.basiq.io", "HTTPS://x.example/p", "http://127.0.0.1:8080/x",
      "http://localhost", "http://user:pw@127.0.0.1/", "http://[::1]:9/" }) do
      assert.is_false(guard.insecure(url), url)
    end
  end)

  it("is true for plain http elsewhere, and for anything that is not http(s)", function()
    for _, url in ipairs({ "http://api.example.com", "http://127.0.0.1.evil/", "http://127.0.0.1@evil.example/",
      "http://0.0.0.0:9", "127.0.0.1:9/x", "http:/127.0.0.1/", "ftp://127.0.0.1/", "" }) do
      assert.is_true(guard.insecure(url), url)
    end
  end)
end)

describe("guard.within", function()
  local base = "https://au-api.basiq.io"
  it("gives the path of a link on the same server, whatever the case of scheme and host", function()
    assert.are.equal("/users/u/transactions?next=c2", guard.within(base, base .. "/users/u/transactions?next=c2"))
    assert.are.equal("/x", guard.within(base, "HTTPS://AU-API.BASIQ.IO/x"))
    assert.are.equal("?a=1", guard.within(base, base .. "?a=1"))
  end)

  it("refuses a link elsewhere, a longer host, a port, or one with spaces or control bytes", function()
    for _, url in ipairs({ "https://evil.example/users", base .. ".evil.example/x", base .. ":444/x",
      "http://au-api.basiq.io/x", base .. "/a b", base .. "/a\r\nX: y", base, 42 }) do
      assert.is_nil(guard.within(base, url), tostring(url))
    end
  end)
end)

describe("guard.base_url", function()
  it("takes http(s) URLs, without trailing slashes", function()
    assert.are.equal("https://x.example", guard.base_url("https://x.example///"))
    assert.are.equal("http://127.0.0.1:9/api", guard.base_url("http://127.0.0.1:9/api/"))
  end)

  it("refuses other schemes, no host, spaces and control characters", function()
    for _, url in ipairs({ "ftp://x", "https://", "https:///x", "https://x y", "https://x\0@y", "x.example", 5 }) do
      assert.is_nil(guard.base_url(url), tostring(url))
    end
  end)
end)
