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
local OTHER_SIG = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=" -- well-formed, but not BODY's
local KEY = "31f290f6bf06298aab4f08d43c3f082cf648a362da2da4b0" -- SECRET's key, in hex

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

-- The Standard Webhooks reference libraries' own test cases
-- (standard-webhooks/standard-webhooks: libraries/python/tests/test_webhooks.py
-- and libraries/javascript/src/webhook.test.ts), as facts: what each one
-- gives, and what that library decides. Deliveries are timed at TS.
describe("the reference libraries' test cases", function()
  local OTHER = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
  local t = tonumber(TS)

  -- { case, secret } : a secret the libraries refuse (a mistake here: raised)
  local REFUSED_SECRETS = {
    { "python: empty secret", "" },
    { "python, javascript: whsec_ alone", "whsec_" },
    { "javascript: empty key", "" },
  }
  for _, c in ipairs(REFUSED_SECRETS) do
    it("refuses the secret of '" .. c[1] .. "'", function()
      assert.is_nil(core.webhook_key(c[2]))
      assert.has_error(function() basiq.webhook.verify(c[2], headers(), BODY, AT) end,
        "basiq.webhook.verify: the secret is not a Standard Webhooks secret"
        .. " (whsec_ and base64, as the reference libraries read it)")
    end)
  end

  it("raises for javascript's undefined and null secrets", function()
    assert.has_error(function() basiq.webhook.verify(nil, headers(), BODY, AT) end,
      "basiq.webhook.verify: secret must be a string or a non-empty list of strings")
  end)

  -- { case, secret, its key as the library derives it (hex) }: accepted, and
  -- a delivery signed with that key verifies
  local SECRETS = {
    { "python, javascript: without the prefix", SECRET:sub(7), KEY },
    { "python, javascript: with the prefix", SECRET, KEY },
    { "python: unpadded, needing no padding", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", KEY },
    -- its last character carries non-zero spare bits: "S" is 010010
    { "python: unpadded, needing one '='", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", KEY:sub(1, -3) },
    { "python: unpadded, needing two '='", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", KEY .. "06" },
    { "python: unpadded, with the prefix", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", KEY .. "06" },
  }
  for _, c in ipairs(SECRETS) do
    it("accepts the secret of '" .. c[1] .. "'", function()
      assert.are.equal(c[3], hex(core.webhook_key(c[2])))
      local sig = "v1," .. core.b64encode(core.hmac_sha256(unhex(c[3]), ID .. "." .. TS .. "." .. BODY))
      assert.is_true(basiq.webhook.verify(c[2], headers(sig), BODY, AT))
    end)
  end

  it("signs as 'python, javascript: sign function' expects", function()
    assert.are.equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", basiq.webhook.sign(SECRET, ID, t, BODY))
  end)

  local function without(name) local h = headers(); h[name] = nil; return h end
  local function with(name, v) local h = headers(); h[name] = v; return h end
  -- { case, headers, body, now, accepted? }, all with SECRET
  local DELIVERIES = {
    { "python, javascript: missing id", without("webhook-id"), BODY, t, false },
    { "python, javascript: missing timestamp", without("webhook-timestamp"), BODY, t, false },
    { "python, javascript: invalid timestamp", with("webhook-timestamp", "hello"), BODY, t, false },
    { "python, javascript: missing signature", without("webhook-signature"), BODY, t, false },
    { "python: invalid signature", headers("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="), BODY, t, false },
    { "javascript: invalid signature", headers("v1,dawfeoifkpqwoekfpqoekf"), BODY, t, false },
    { "javascript: partial signature", headers(SIG:sub(1, 8)), BODY, t, false },
    { "javascript: partial signature 'v1,'", headers("v1,"), BODY, t, false },
    { "python, javascript: valid signature", headers(), BODY, t, true },
    { "python: valid signature, without returning json", headers(), BODY, t, true },
    { "python, javascript: valid unbranded signature", headers(), BODY, t, true },
    { "python, javascript: old timestamp", headers(), BODY, t + 300 + 1, false },
    { "python, javascript: new timestamp", headers(), BODY, t - 300 - 1, false },
    { "python, javascript: multi sig payload", headers(table.concat({ OTHER, "v2," .. OTHER:sub(4), SIG, OTHER }, " ")),
      BODY, t, true },
    { "javascript: empty payload", headers(basiq.webhook.sign(SECRET, ID, TS, "")), "", t, true },
  }
  for _, c in ipairs(DELIVERIES) do
    it((c[5] and "accepts" or "refuses") .. " the delivery of '" .. c[1] .. "'", function()
      local ok, why = basiq.webhook.verify(SECRET, c[2], c[3], { now = c[4] })
      assert.are.equal(c[5], ok, why)
      if not ok then assert.is_string(why) end
    end)
  end
end)

-- Beyond their tests: the two libraries read secrets and signatures in
-- different ways (Python's base64.b64decode skips what is not base64 and
-- reads signatures in order, stopping at one it cannot read; JavaScript's
-- decoder wants the alphabet and compares signatures as text). Each row
-- records what each library decided (checked by running both); the SDK
-- accepts what both accept and refuses what either refuses.
describe("where the reference libraries differ", function()
  local C = SIG:sub(4) -- "...1OE=": E is 000100, its two spare bits zero
  -- { case, secret, signature header (nil: the secret alone), python accepts, javascript accepts [, key] }
  local ROWS = {
    { "a 33rd character (JavaScript never reads it)", SECRET .. "B", nil, false, true },
    { "a newline after the secret (Python skips it, JavaScript never reads it)", SECRET .. "\n", nil, true, true, KEY },
    { "a space inside", SECRET:sub(1, 14) .. " " .. SECRET:sub(15), nil, true, false },
    { "shorter than four characters", "whsec_YQ", nil, true, false },
    { "three '='", "whsec_YQ===", nil, true, false },
    { "two '=' where one completes it", SECRET:sub(1, -2) .. "==", nil, true, true, KEY:sub(1, -3) },
    { "a non-ASCII byte", SECRET .. "\195\169", nil, false, false },
    { "a signature with spare bits set", SECRET, "v1," .. C:sub(1, -3) .. "F=", true, false },
    { "a signature with an extra '='", SECRET, "v1," .. C .. "=", true, false },
    { "a signature without its padding", SECRET, "v1," .. C:sub(1, -2), false, false },
    { "a third part after the signature", SECRET, "v1," .. C .. ",x", false, true },
    { "an entry without a comma before the signature", SECRET, "v2 " .. SIG, false, true },
    { "an entry without a comma after the signature", SECRET, SIG .. " v2", true, true },
    { "two spaces before the signature (an empty entry)", SECRET, OTHER_SIG .. "  " .. SIG, false, true },
    { "a space after the signature", SECRET, SIG .. " ", true, true },
  }
  for _, r in ipairs(ROWS) do
    local both = r[4] and r[5]
    it((both and "accepts " or "refuses ") .. r[1], function()
      if not r[3] then
        assert.are.equal(both, core.webhook_key(r[2]) ~= nil)
        if both then assert.are.equal(r[6], hex(core.webhook_key(r[2]))) end
      else
        local ok, why = basiq.webhook.verify(r[2], headers(r[3]), BODY, AT)
        assert.are.equal(both, ok, why)
      end
    end)
  end
end)

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
    assert.is_true(basiq.webhook.verify(SECRET, headers(OTHER_SIG .. " v2,abc " .. SIG), BODY, AT))
    assert.are.same({ false, "no signature matches" }, { basiq.webhook.verify(SECRET, headers(OTHER_SIG), BODY, AT) })
    assert.are.same({ false, "no v1 signature in webhook-signature" },
      { basiq.webhook.verify(SECRET, headers("v2," .. SIG:sub(4)), BODY, AT) })
    assert.are.same({ false, "malformed webhook-signature" },
      { basiq.webhook.verify(SECRET, headers("v1,not-base64! " .. SIG), BODY, AT) })
    assert.is_false((basiq.webhook.verify(SECRET, headers(SIG:sub(1, -3)), BODY, AT)))
  end)

  it("takes a list of secrets, old and new, and accepts a delivery signed with either", function()
    local old, new = "whsec_" .. core.b64encode(("o"):rep(24)), "whsec_" .. core.b64encode(("n"):rep(32))
    for _, signer in ipairs({ old, new }) do
      local sig = basiq.webhook.sign(signer, ID, TS, BODY)
      assert.is_true(basiq.webhook.verify({ old, new }, headers(sig), BODY, AT))
      assert.is_true(basiq.webhook.verify({ new, old }, headers(sig), BODY, AT))
    end
    local third = basiq.webhook.sign("whsec_" .. core.b64encode(("t"):rep(24)), ID, TS, BODY)
    assert.are.same({ false, "no signature matches" }, { basiq.webhook.verify({ old, new }, headers(third), BODY, AT) })
    assert.has_error(function() basiq.webhook.verify({}, headers(), BODY, AT) end,
      "basiq.webhook.verify: secret must be a string or a non-empty list of strings")
    assert.has_error(function() basiq.webhook.verify({ old, 7 }, headers(), BODY, AT) end,
      "basiq.webhook.verify: secret 2 must be a string")
    -- every secret is checked, even when an earlier one matches
    assert.has_error(function() basiq.webhook.verify({ SECRET, "whsec_%%%" }, headers(), BODY, AT) end,
      "basiq.webhook.verify: secret 2 is not a Standard Webhooks secret (whsec_ and base64, as the reference"
      .. " libraries read it)")
  end)

  it("rejects a wrong secret, refuses what is not a secret, and takes one without the whsec_ prefix", function()
    local wrong = "whsec_" .. core.b64encode(("k"):rep(24))
    assert.is_false((basiq.webhook.verify(wrong, headers(), BODY, AT)))
    assert.is_true(basiq.webhook.verify(SECRET:sub(7), headers(), BODY, AT))
    for _, bad in ipairs({ "whsec_%%%", "whsec_", "whsec_A", "whsec_AB==CD", "whsec_" .. ("A"):rep(685) }) do
      assert.is_nil(core.webhook_key(bad), bad)
      assert.has_error(function() basiq.webhook.verify(bad, headers(), BODY, AT) end)
    end
  end)

  it("takes a secret with its base64 padding left out, and keys of any length", function()
    local key = ("\1\2\3"):rep(10) .. "\4\5" -- 32 bytes: 44 base64 characters ending in "="
    local padded = "whsec_" .. core.b64encode(key)
    local bare = padded:gsub("=+$", "")
    assert.are_not.equal(padded, bare)
    local sig = basiq.webhook.sign(padded, ID, TS, BODY)
    assert.are.equal(sig, basiq.webhook.sign(bare, ID, TS, BODY))
    assert.is_true(basiq.webhook.verify(bare, headers(sig), BODY, AT))
    assert.is_true(basiq.webhook.verify(padded, headers(sig), BODY, AT))
    for _, n in ipairs({ 1, 2, 3, 64, 512, 513, 4096 }) do
      local s = "whsec_" .. core.b64encode(("z"):rep(n))
      assert.are.equal(("z"):rep(n), core.webhook_key(s), n)
      assert.is_true(basiq.webhook.verify(s, headers(basiq.webhook.sign(s, ID, TS, BODY)), BODY, AT), n)
    end
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

  it("reads a webhook-timestamp a framework handed over as a number", function()
    assert.is_true(basiq.webhook.verify(SECRET, headers(nil, { ["webhook-timestamp"] = tonumber(TS) }), BODY, AT))
    assert.is_true(basiq.webhook.verify(SECRET, headers(nil, { ["webhook-timestamp"] = tonumber(TS) + 0.0 }), BODY, AT))
    assert.are.same({ false, "invalid webhook-timestamp header" },
      { basiq.webhook.verify(SECRET, headers(nil, { ["webhook-timestamp"] = tonumber(TS) + 0.5 }), BODY, AT) })
    assert.are.same({ false, "invalid webhook-timestamp header" },
      { basiq.webhook.verify(SECRET, headers(nil, { ["webhook-timestamp"] = 0 / 0 }), BODY, AT) })
  end)

  it("raises for a name basiq.webhook does not have, at the caller's line, with the nearest one", function()
    local line
    local ok, err = pcall(function()
      line = debug.getinfo(1, "l").currentline; local _ = basiq.webhook.verfy
    end)
    assert.is_false(ok)
    assert.are.equal("webhook_spec.lua:" .. line .. ": basiq.webhook: no function 'verfy' (did you mean verify?)",
      err:match("[^/]*$"))
    assert.has_error(function() return basiq.webhook.zzz end, "basiq.webhook: no function 'zzz'")
    assert.is_nil(basiq.webhook[1]) -- not a plain name: probes read nil
    assert.is_function(basiq.webhook.verify)
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
      "basiq.webhook.verify: secret must be a string or a non-empty list of strings")
    assert.has_error(function() basiq.webhook.verify(SECRET, "x", BODY) end,
      "basiq.webhook.verify: headers must be a table")
    local ok, err = pcall(basiq.webhook.verify, SECRET, headers(), { BODY })
    assert.is_false(ok)
    assert.matches("rawBody must be a string", err)
    assert.is_nil(err:find(SECRET:sub(7), 1, true))
    local bad = "whsec_" .. SECRET:sub(7, -2) .. "!"
    ok, err = pcall(basiq.webhook.verify, bad, headers(), BODY)
    assert.is_false(ok)
    assert.matches("is not a Standard Webhooks secret", err)
    assert.is_nil(err:find(SECRET:sub(7, 20), 1, true))
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
  local srv
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  -- The example as a process: { post(id, body[, secret]) -> status, body; log(); stop() }
  local function receiver(env)
    local port, root, log = procs.free_port(), procs.ROOT, os.tmpname()
    local argv = { "env", "PORT=" .. port, "LUA_PATH_5_4=" .. root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;",
      "LUA_CPATH_5_4=" .. root .. "/build/lua5.4/?.so;;" }
    for _, e in ipairs(env) do argv[#argv + 1] = e end
    argv[#argv + 1] = "lua5.4"
    argv[#argv + 1] = root .. "/examples/webhook_receiver.lua"
    local pid = procs.spawn(argv, log)
    assert.is_true(procs.wait_port(port, 10, pid), "the receiver did not start: " .. procs.read_file(log))
    local now = tostring(os.time())
    return {
      post = function(id, body, secret)
        local h = core.new()
        local o = h:perform({ method = "POST", url = "http://127.0.0.1:" .. port .. "/basiq", body = body,
          headers = { "Content-Type: application/json", "webhook-id: " .. id, "webhook-timestamp: " .. now,
            "webhook-signature: " .. basiq.webhook.sign(secret or SECRET, id, now, body) } })
        h:close()
        return o.status, o.body
      end,
      log = function() return procs.read_file(log) end,
      stop = function() procs.kill(pid); os.remove(log) end,
    }
  end
  local function count(text, s) return select(2, text:gsub(s:gsub("%p", "%%%0"), "")) end

  it("acknowledges a signed delivery, processes it once however often it comes, and refuses a forged one", function()
    local old = "whsec_" .. core.b64encode(("o"):rep(24))
    local r = receiver({ "BASIQ_WEBHOOK_SECRET=" .. SECRET .. " " .. old })
    local body = '{"eventTypeId":"connection.created","eventId":"e1"}'
    local first = { r.post("msg_1", body) }
    local again = { r.post("msg_1", body) }
    local third = { r.post("msg_1", body) }
    local rotated = r.post("msg_2", body, old)
    local forged = { r.post("msg_3", body, "whsec_" .. core.b64encode(("x"):rep(24))) }
    local log = r.log()
    r.stop()
    assert.are.same({ 200, "" }, first)
    assert.are.same({ { 200, "" }, { 200, "" } }, { again, third })
    assert.are.equal(200, rotated)
    assert.are.same({ 400, "no signature matches" }, forged)
    assert.are.equal(1, count(log, "processed\tconnection.created\te1\tmsg_1"), log)
    assert.are.equal(1, count(log, "processed\tconnection.created\te1\tmsg_2"), log)
  end)

  it("answers a failed handler with a 500, and processes Basiq's retry", function()
    local base = srv.url .. "/tok/60/example"
    local r = receiver({ "BASIQ_WEBHOOK_SECRET=" .. SECRET, "BASIQ_API_KEY=a2V5", "BASIQ_SERVER=" .. base })
    -- the entity's first GET fails with a 500: the handler returns false
    local body = '{"eventTypeId":"user.created","eventId":"e2","links":{"eventEntity":"' .. base
      .. '/flaky/example-entity/1/500/users/u1"}}'
    local statuses = { (r.post("msg_4", body)), (r.post("msg_4", body)), (r.post("msg_4", body)) }
    local log = r.log()
    r.stop()
    assert.are.same({ 500, 200, 200 }, statuses, log)
    assert.are.equal(1, count(log, "processed\tuser.created\te2\tmsg_4"), log)
    assert.matches("basiq webhook msg_4: basiq.webhook.receive: the handler returned false: basiq.follow: HTTP 500", log)
    assert.are.equal(2, #procs.get_json(srv.url .. "/flaky/example-entity/stats").attempts) -- fetched twice, no more
  end)
end)
