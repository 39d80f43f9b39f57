-- basiq.consentUrl and basiq.consentReturn: the Consent UI's address with a
-- CLIENT_ACCESS token from the suite's /token stand-in, and the redirect
-- back, refused unless its state is the one kept for the visit.
local procs = require("support.procs")
local basiq = require("basiq")
local core = require("basiq.core")
local secrets = require("support.secrets")

local KEY = "Y29uc2VudC1rZXk6c2VjcmV0LXZhbHVl"
local CONSENT = "http://127.0.0.1:9/consent-ui"

-- name -> value of a URL's query, each value decoded (the way a browser
-- hands them to the Consent UI)
local function query(url)
  local out, names = {}, {}
  for k, v in (url:match("%?(.*)$") or ""):gmatch("([^&=]+)=([^&]*)") do
    v = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    out[k] = v
    names[#names + 1] = k
  end
  return out, names
end

describe("basiq.consentUrl", function()
  local srv, n = nil, 0
  setup(function() srv = procs.httpd() end)
  teardown(function() srv.stop() end)

  -- a client on a fresh token realm (tokens living `life` s), its events and
  -- what the realm issued
  local function client(life, opts)
    n = n + 1
    local base = srv.url .. "/tok/" .. (life or 3600) .. "/cu" .. n
    local events = {}
    opts = opts or {}
    opts.server, opts.apiKey, opts.consentServer = base, KEY, opts.consentServer or CONSENT
    opts.observe = function(ev) events[#events + 1] = ev end
    return basiq.new(opts), events, function() return procs.get_json(base .. "/stats").issued end
  end

  it("builds the Consent UI's URL for each action, every value percent-encoded", function()
    local c, events, issued = client()
    local actions = { false, "connect", "manage", "extend", "update", "reauthorise" }
    local urls = {}
    for i, action in ipairs(actions) do
      local url, state = c.consentUrl("user 1/é", { action = action or nil, state = "back to /settings?tab=1&x=ü",
        institutionId = "AU00000", connectionId = i == 6 and "conn/1" or nil })
      urls[i] = url
      assert.are.equal("back to /settings?tab=1&x=ü", state)
      assert.matches("^" .. CONSENT:gsub("%p", "%%%0") .. "/home%?token=", url)
      assert.is_nil(url:find("[^%w%-._~%%:/?&=]"), url) -- nothing left unencoded
      local q, names = query(url)
      assert.are.equal("cu" .. n .. "-1", q.token) -- one token, from the cache after the first
      assert.are.equal(action or nil, q.action)
      assert.are.equal("back to /settings?tab=1&x=ü", q.state)
      assert.are.equal("AU00000", q.institutionId)
      assert.are.equal(i == 6 and "conn/1" or nil, q.connectionId)
      assert.are.same(action and { "token", "action", "state", "institutionId" } or { "token", "state", "institutionId" },
        { names[1], names[2], names[3], action and names[4] or nil })
    end
    assert.matches("&state=back%%20to%%20%%2Fsettings%%3Ftab%%3D1%%26x%%3D%%C3%%BC&", urls[1])
    assert.matches("&connectionId=conn%%2F1$", urls[6])
    local got = issued()
    assert.are.equal(1, #got)
    assert.are.same({ "CLIENT_ACCESS", "user%201%2F%C3%A9" }, { got[1].scope, got[1].userId })
    -- the URL and its token are secrets: no event holds them
    assert.is_true(#events > 0)
    secrets.none(events, { "cu" .. n .. "-1", CONSENT }, "an event")
  end)

  it("makes a fresh state of 256 bits when asked, and none unless asked", function()
    local c = client()
    local url1, s1 = c.consentUrl("u1", { state = true })
    local url2, s2 = c.consentUrl("u1", { state = true })
    assert.matches("^[%w_-]+$", s1)
    assert.are.equal(43, #s1) -- 32 bytes, base64url without padding
    assert.are_not.equal(s1, s2)
    assert.are.equal(s1, query(url1).state)
    assert.are.equal(s2, query(url2).state)
    local url3, s3 = c.consentUrl("u1")
    assert.is_nil(s3)
    assert.is_nil(query(url3).state)
    assert.is_nil(query(url3).action)
  end)

  it("renews a token with less than minLife left before handing it out", function()
    -- the cache's clock, moved on by hand; the requests are real
    local clock = 1000
    local real = require("basiq.transport.libcurl").new()
    local transport = { request = function(_, req) return real:request(req) end,
      now = function() return clock end, sleep = function(s) clock = clock + s end }
    local c, _, issued = client(3600, { transport = transport })
    local tok = assert(c.clientToken("u1"))
    assert.are.equal("cu" .. n .. "-1", tok)
    clock = clock + 2700 -- 900 s left: clientToken would hand it out still (it renews with 60 s left)
    assert.are.equal(tok, c.clientToken("u1"))
    assert.are.equal("cu" .. n .. "-1", query(c.consentUrl("u1", { minLife = 600 })).token) -- 900 s is enough
    -- the default minLife, 30 minutes, is not: the person gets a fresh token
    local url = c.consentUrl("u1")
    assert.are.equal("cu" .. n .. "-2", query(url).token)
    assert.are.equal("cu" .. n .. "-2", c.clientToken("u1")) -- and the cache keeps it
    local got = issued()
    assert.are.equal(2, #got)
    assert.are.same({ "CLIENT_ACCESS", "u1" }, { got[2].scope, got[2].userId })
  end)

  it("refuses, as nil, err without the token, when even a fresh token would not live minLife", function()
    local c, events = client(20) -- Basiq's stand-in issues 20 s tokens
    local url, err = c.consentUrl("u1", { minLife = 30 })
    assert.is_nil(url)
    assert.are.equal("token-life", err.code)
    assert.are.equal("basiq.consentUrl: could not get a token: the token issued lives 20 s, less than the 30 s asked for",
      err.message)
    secrets.none({ err, events }, { "cu" .. n .. "-1" }, "the error or an event")
  end)

  it("keeps the key out of a failed token request's error, and the URL out of the debug log", function()
    local c = basiq.new({ server = srv.url .. "/leaky", apiKey = KEY, consentServer = CONSENT, retries = 0 })
    local url, err = c.consentUrl("u1")
    assert.is_nil(url)
    assert.are.equal(401, err.status)
    assert.matches("^basiq%.consentUrl: could not get a token: HTTP 401", err.message)
    secrets.none(err, { KEY }, "the error")
    -- BASIQ_DEBUG=1 logs every event: none holds the token or the URL
    n = n + 1
    local script = procs.temp_file(([[
      local basiq = require("basiq")
      local c = basiq.new({ server = %q, apiKey = %q, consentServer = %q })
      local url = assert(c.consentUrl("u1", { state = true }))
      print(url:match("token=([^&]+)"))
    ]]):format(srv.url .. "/tok/3600/dbg" .. n, KEY, CONSENT))
    local rc, out, log = procs.run(procs.LUA_ENV .. " BASIQ_DEBUG=1 " .. procs.LUA .. " " .. script)
    os.remove(script)
    assert.are.equal(0, rc, log)
    assert.are.equal("dbg" .. n .. "-1\n", out)
    assert.matches("basiq: token postToken POST 200", log, 1, true)
    secrets.none(log, { "dbg" .. n .. "-1", CONSENT, KEY }, "the debug log")
  end)

  it("refuses mistakes with the nearest name, before anything is sent", function()
    local c, _, issued = client()
    assert.has_error(function() c.consentUrl("u1", { actoin = "connect" }) end,
      "basiq.consentUrl: unknown option 'actoin' (did you mean action?)")
    assert.has_error(function() c.consentUrl("u1", { action = "mange" }) end, "basiq.consentUrl: unknown action"
      .. " 'mange' (did you mean manage?); the actions are connect, manage, extend, update, reauthorise, or none to"
      .. " create a consent")
    assert.has_error(function() c.consentUrl("u1", { state = 1 }) end,
      "basiq.consentUrl: option 'state' must be true (a fresh one) or a non-empty string")
    assert.has_error(function() c.consentUrl("u1", { institutionId = "" }) end,
      "basiq.consentUrl: option 'institutionId' must be a non-empty string")
    assert.has_error(function() c.consentUrl("u1", { minLife = 0 }) end,
      "basiq.consentUrl: option 'minLife' must be a positive number of seconds")
    assert.has_error(function() c.consentUrl("") end, "basiq.consentUrl: userId must be a non-empty string")
    assert.has_error(function() basiq.new({ consentServer = "ftp://x" }) end,
      "basiq.new: option 'consentServer' must be an http:// or https:// URL")
    assert.has_error(function() basiq.new({ apiKey = KEY, consentServer = "http://consent.example" }).consentUrl("u") end,
      "basiq.consentUrl: refusing to put a token in a plain-http URL to a host other than loopback;"
      .. " use https, or basiq.config{ allowInsecureHttp = true }")
    assert.has_error(function() basiq.new({ consentServer = CONSENT }).auth("manual").consentUrl("u1") end,
      "basiq.consentUrl: needs an API key: basiq.auth(\"Basic <key>\") or basiq.new{ apiKey = ... }")
    assert.are.same({}, issued())
  end)

  it("points at Basiq's Consent UI by default", function()
    local c = basiq.new({ server = srv.url .. "/tok/3600/default", apiKey = KEY })
    assert.matches("^https://consent%.basiq%.io/home%?token=default%-1$", (c.consentUrl("u1")))
  end)
end)

describe("basiq.consentReturn", function()
  local STATE = "Zm9yZ2VkLXN0YXRlLWlzLW5vdC1zZXQtaGVyZQ"

  it("gives the redirect's jobIds when its state is the one kept", function()
    for _, q in ipairs({ "jobIds=a1,b-2,c_3&state=" .. STATE, "?state=" .. STATE .. "&jobIds=a1%2Cb-2,c_3",
      "https://app.example/return?jobIds=a1,b-2&state=" .. STATE .. "&jobIds=c_3#top",
      "/return?jobIds=a1,%20b-2,,c_3,a1&state=" .. STATE }) do
      assert.are.same({ "a1", "b-2", "c_3" }, basiq.consentReturn(q, STATE), q)
    end
    -- nginx's ngx.req.get_uri_args(): a list for a name given twice
    assert.are.same({ "a1", "b-2", "c_3" }, basiq.consentReturn({ jobIds = { "a1,b-2", "c_3" }, state = STATE }, STATE))
    -- a visit that made no connection (action=manage, say) comes back without jobIds
    assert.are.same({}, basiq.consentReturn("state=" .. STATE, STATE))
    -- a reauthorisation's visit may name jobId too
    assert.are.same({ "a1", "z9" }, basiq.consentReturn("jobIds=a1&jobId=z9&jobId=a1&state=" .. STATE, STATE))
    -- state decoded before it is compared
    assert.are.same({ "j" }, basiq.consentReturn("jobIds=j&state=back%20to%2Fx", "back to/x"))
    assert.are.same({ "j" }, basiq.consentReturn("jobIds=j&state=back+to%2Fx", "back to/x"))
  end)

  it("refuses a state that does not match, a missing one, or two; with err.code state and no state in it", function()
    local cases = {
      { "jobIds=a&state=" .. STATE:sub(1, -2) .. "x", STATE, "the redirect's state is not the one kept for this visit" },
      { "jobIds=a&state=" .. STATE .. "x", STATE, "the redirect's state is not the one kept" },
      { "jobIds=a&state=", STATE, "the redirect's state is not the one kept" },
      { "jobIds=a", STATE, "the redirect carries no state" },
      { "jobIds=a&state=" .. STATE .. "&state=" .. STATE, STATE, "the redirect carries more than one state" },
      { { jobIds = "a", state = true }, STATE, "the redirect's state is not the one kept" },
      { "jobIds=a&state=" .. STATE, nil, "no state was kept for this visit" },
      { "jobIds=a&state=", "", "no state was kept for this visit" },
    }
    for _, case in ipairs(cases) do
      local ids, err = basiq.consentReturn(case[1], case[2])
      assert.is_nil(ids)
      assert.are.equal("state", err.code)
      assert.matches("^basiq%.consentReturn: " .. case[3]:gsub("%p", "%%%0"), err.message)
      assert.is_nil(err.message:find(STATE:sub(1, 12), 1, true))
    end
    -- false: the caller checks nothing (an app that never sent a state)
    assert.are.same({ "a" }, basiq.consentReturn("jobIds=a", false))
  end)

  it("compares states in constant time, in the C core", function()
    assert.is_true(core.equal(STATE, STATE))
    assert.is_false(core.equal(STATE, STATE:sub(1, -2) .. "x"))
    assert.is_false(core.equal(STATE, STATE .. "x"))
  end)

  it("refuses jobIds that are not job ids, or too many of them", function()
    local ids, err = basiq.consentReturn("jobIds=a,b%2Fc&state=s", "s")
    assert.is_nil(ids)
    assert.are.equal("jobIds", err.code)
    assert.are.equal("basiq.consentReturn: the redirect's jobIds hold 'b/c', which is not a job id", err.message)
    local many = {}
    for i = 1, 101 do many[i] = "j" .. i end
    ids, err = basiq.consentReturn("state=s&jobIds=" .. table.concat(many, ","), "s")
    assert.is_nil(ids)
    assert.are.equal("basiq.consentReturn: the redirect carries more than 100 jobIds", err.message)
    assert.has_error(function() basiq.consentReturn(nil, "s") end,
      "basiq.consentReturn: query must be the redirect's query string or a table of its arguments")
    assert.has_error(function() basiq.consentReturn("", 5) end,
      "basiq.consentReturn: expectedState must be the state consentUrl returned (a string), or false")
  end)
end)
