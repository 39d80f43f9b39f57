-- basiq.webhook: the Standard Webhooks scheme Basiq signs with, checked
-- against the scheme's published test vector and every way to get it wrong.
local basiq = require("basiq")
local core = require("basiq.core")
local procs = require("support.procs")

-- The Standard Webhooks test vector (also used by its reference libraries).
local SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
local ID, TS, BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", '{"test": 2432232314}'
local SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

local function headers(sig, extra)
  local h = { ["webhook-id"] = ID, ["webhook-timestamp"] = TS, ["webhook-signature"] = sig or SIG }
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end
local AT = { now = tonumber(TS) }

describe("basiq.webhook.verify", function()
  it("accepts the published test vector", function()
    assert.are.same({ true }, { basiq.webhook.verify(SECRET, headers(), BODY, AT) })
    assert.are.equal(SIG, basiq.webhook.sign(SECRET, ID, TS, BODY))
  end)

  it("rejects a tampered body, id or timestamp", function()
    assert.are.same({ false, "no signature matches" }, { basiq.webhook.verify(SECRET, headers(), BODY .. " ", AT) })
    assert.is_false((basiq.webhook.verify(SECRET, headers(nil, { ["webhook-id"] = ID .. "x" }), BODY, AT)))
    assert.is_false((basiq.webhook.verify(SECRET, headers(nil, { ["webhook-timestamp"] = "1614265331" }), BODY,
      { now = 1614265331 })))
  end)

  it("accepts when any listed signature matches, ignoring other versions", function()
    local other = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
    assert.is_true(basiq.webhook.verify(SECRET, headers(other .. " v2,abc " .. SIG), BODY, AT))
    assert.are.same({ false, "no signature matches" }, { basiq.webhook.verify(SECRET, headers(other), BODY, AT) })
    assert.are.same({ false, "no v1 signature in webhook-signature" },
      { basiq.webhook.verify(SECRET, headers("v2," .. SIG:sub(4)), BODY, AT) })
    assert.is_false((basiq.webhook.verify(SECRET, headers("v1,not-base64!"), BODY, AT)))
    assert.is_false((basiq.webhook.verify(SECRET, headers(SIG:sub(1, -3)), BODY, AT)))
  end)

  it("rejects a wrong secret, and takes one without the whsec_ prefix", function()
    local wrong = "whsec_" .. core.b64encode(("k"):rep(24))
    assert.is_false((basiq.webhook.verify(wrong, headers(), BODY, AT)))
    assert.is_true(basiq.webhook.verify(SECRET:sub(7), headers(), BODY, AT))
    for _, bad in ipairs({ "whsec_%%%", "whsec_", "whsec_A", "whsec_AB==CD", "whsec_" .. ("A"):rep(685) }) do
      assert.are.same({ false, "the secret is not a whsec_ base64 key" },
        { basiq.webhook.verify(bad, headers(), BODY, AT) }, bad)
    end
  end)

  it("takes a secret with its base64 padding left out, and keys of 1 to 512 bytes", function()
    local key = ("\1\2\3"):rep(10) .. "\4\5" -- 32 bytes: 44 base64 characters ending in "="
    local padded = "whsec_" .. core.b64encode(key)
    local bare = padded:gsub("=+$", "")
    assert.are_not.equal(padded, bare)
    local sig = basiq.webhook.sign(padded, ID, TS, BODY)
    assert.are.equal(sig, basiq.webhook.sign(bare, ID, TS, BODY))
    assert.is_true(basiq.webhook.verify(bare, headers(sig), BODY, AT))
    assert.is_true(basiq.webhook.verify(padded, headers(sig), BODY, AT))
    for _, n in ipairs({ 1, 512 }) do
      local s = "whsec_" .. core.b64encode(("z"):rep(n))
      assert.is_true(basiq.webhook.verify(s, headers(basiq.webhook.sign(s, ID, TS, BODY)), BODY, AT), n)
    end
    local big = "whsec_" .. core.b64encode(("z"):rep(513))
    assert.are.same({ false, "the secret is not a whsec_ base64 key" }, { basiq.webhook.verify(big, headers(), BODY, AT) })
  end)

  it("reads header names case-insensitively, and lists as OpenResty gives them", function()
    local h = { ["Webhook-Id"] = ID, ["WEBHOOK-TIMESTAMP"] = TS, ["webhook-Signature"] = { SIG } }
    assert.is_true(basiq.webhook.verify(SECRET, h, BODY, AT))
    h["webhook-Signature"] = { SIG, SIG } -- a repeated header is not one signature list
    assert.are.same({ false, "repeated webhook-signature header" }, { basiq.webhook.verify(SECRET, h, BODY, AT) })
    h["webhook-Signature"] = SIG
    h["webhook-id"] = ID -- the same header under two spellings: neither is picked
    assert.are.same({ false, "repeated webhook-id header" }, { basiq.webhook.verify(SECRET, h, BODY, AT) })
  end)

  it("rejects missing headers and timestamps outside the tolerance", function()
    for _, name in ipairs({ "webhook-id", "webhook-timestamp", "webhook-signature" }) do
      local h = headers()
      h[name] = nil
      local ok, why = basiq.webhook.verify(SECRET, h, BODY, AT)
      assert.is_false(ok)
      assert.matches(name, why, 1, true)
    end
    for _, bad in ipairs({ "16142x", "-1614265330", "1614265330.0", " 1614265330", "1e9", ("9"):rep(16) }) do
      assert.are.same({ false, "invalid webhook-timestamp header" },
        { basiq.webhook.verify(SECRET, headers(nil, { ["webhook-timestamp"] = bad }), BODY, AT) }, bad)
    end
    local t = tonumber(TS)
    assert.is_true(basiq.webhook.verify(SECRET, headers(), BODY, { now = t + 300 }))
    assert.are.same({ false, "webhook-timestamp is more than 300 s from now" },
      { basiq.webhook.verify(SECRET, headers(), BODY, { now = t + 301 }) })
    assert.is_false((basiq.webhook.verify(SECRET, headers(), BODY, { now = t - 301 })))
    assert.is_true(basiq.webhook.verify(SECRET, headers(), BODY, { now = t + 3000, tolerance = 3600 }))
    assert.is_false((basiq.webhook.verify(SECRET, headers(), BODY))) -- today's clock: years later
  end)

  it("raises for arguments of the wrong type, never showing the secret", function()
    assert.has_error(function() basiq.webhook.verify(nil, headers(), BODY) end,
      "basiq.webhook.verify: secret must be a non-empty string")
    assert.has_error(function() basiq.webhook.verify(SECRET, "x", BODY) end,
      "basiq.webhook.verify: headers must be a table")
    local ok, err = pcall(basiq.webhook.verify, SECRET, headers(), { BODY })
    assert.is_false(ok)
    assert.matches("rawBody must be a string", err)
    assert.is_nil(err:find(SECRET:sub(7), 1, true))
    assert.has_error(function() basiq.webhook.verify(SECRET, headers(), BODY, { now = 0 / 0 }) end,
      "basiq.webhook.verify: opts.now must be a number of seconds")
    assert.has_error(function() basiq.webhook.verify(SECRET, headers(), BODY, { tolerance = -1 }) end,
      "basiq.webhook.verify: opts.tolerance must be a number of seconds")
  end)

  it("never puts the secret in a reason", function()
    local cases = {
      { SECRET, headers(), BODY .. "x", AT },
      { SECRET, headers("v1,x " .. SIG:sub(1, -3)), BODY, AT },
      { SECRET, headers(), BODY, { now = 0 } },
      { SECRET, {}, BODY, AT },
      { "whsec_" .. SECRET:sub(7, -2) .. "!", headers(), BODY, AT },
    }
    for _, c in ipairs(cases) do
      local ok, why = basiq.webhook.verify(c[1], c[2], c[3], c[4])
      assert.is_false(ok)
      assert.is_string(why)
      assert.is_nil(why:find(SECRET:sub(7, 20), 1, true), why)
    end
  end)
end)

describe("core crypto", function()
  it("computes HMAC-SHA256 (RFC 4231 test case 2) and strict base64", function()
    local mac = core.hmac_sha256("Jefe", "what do ya want for nothing?")
    assert.are.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      (mac:gsub(".", function(c) return string.format("%02x", c:byte()) end)))
    for _, s in ipairs({ "", "f", "fo", "foo", "foob", "fooba", "foobar", "\0\255\1" }) do
      assert.are.equal(s, core.b64decode(core.b64encode(s)))
    end
    assert.are.equal("Zm9vYmFy", core.b64encode("foobar"))
    assert.are.same({ nil, "invalid base64" }, { core.b64decode("Zm9vYmE") })
    assert.is_nil((core.b64decode("Zm9v YmFy")))
    assert.is_nil((core.b64decode("Zm=vYmFy")))
    -- padding required, and one encoding per byte string: unused low bits must be zero
    assert.are.equal("\0", core.b64decode("AA=="))
    assert.is_nil((core.b64decode("AB==")))
    assert.is_nil((core.b64decode("AA")))
    assert.are.equal("\0\1", core.b64decode("AAE="))
    assert.is_nil((core.b64decode("AAF=")))
    assert.is_nil((core.b64decode("A===")))
    assert.is_nil((core.b64decode("Zm9v\n")))
    assert.is_nil((core.b64decode("Zm9-")))  -- the URL-safe alphabet is not base64 here
    assert.is_true(core.equal("abc", "abc"))
    assert.is_false(core.equal("abc", "abd"))
    assert.is_false(core.equal("abc", "ab"))
  end)
end)

describe("examples/webhook_receiver.lua", function()
  it("answers 204 to a signed delivery and 400 to a forged one", function()
    local port = procs.free_port()
    local root = procs.ROOT
    local pid = procs.spawn({ "env", "BASIQ_WEBHOOK_SECRET=" .. SECRET, "PORT=" .. port,
      "LUA_PATH_5_4=" .. root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;",
      "LUA_CPATH_5_4=" .. root .. "/build/lua5.4/?.so;;", "lua5.4", root .. "/examples/webhook_receiver.lua" }, "/dev/null")
    assert.is_true(procs.wait_port(port, 10, pid), "the receiver did not start")
    local now = tostring(os.time())
    local body = '{"type":"event","id":"e1","eventTypeId":"connection.created"}'
    local function post(sig)
      local h = core.new()
      local status = h:perform({ method = "POST", url = "http://127.0.0.1:" .. port .. "/basiq", body = body,
        headers = { "Content-Type: application/json", "webhook-id: msg_1", "webhook-timestamp: " .. now,
          "webhook-signature: " .. sig } }).status
      h:close()
      return status
    end
    local good = post(basiq.webhook.sign(SECRET, "msg_1", now, body))
    local forged = post(basiq.webhook.sign("whsec_" .. core.b64encode(("x"):rep(24)), "msg_1", now, body))
    procs.kill(pid)
    assert.are.equal(204, good)
    assert.are.equal(400, forged)
  end)
end)
