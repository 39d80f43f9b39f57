-- make bench compares like with like: its raw libcurl loop, its core-only
-- loop and its LuaJIT yardstick (the full lua-curl loop) send exactly the
-- request basiq.getUser sends (compared through the suite's echo server),
-- the yardstick reads the same header table the SDK returns, and the
-- workers stop on a wrong answer rather than time it. (The bench itself is
-- `make bench`, not part of test.)
local procs = require("support.procs")
local basiq = require("basiq")
local cjson = require("cjson")

local ROOT = procs.ROOT
local q = procs.sh_quote
local LUA = "env LUA_PATH_5_4=" .. q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;")
  .. " LUA_CPATH_5_4=" .. q(ROOT .. "/build/lua5.4/?.so;;") .. " lua5.4 " .. q(ROOT .. "/bench/sdk.lua")
-- the lua-curl loops (Debian's lua-curl is for LuaJIT and 5.1 only)
local LUACURL = "env LUA_PATH=" .. q(ROOT .. "/lua/?.lua;;") .. " luajit " .. q(ROOT .. "/bench/luacurl.lua")
local elsewhere = procs.not_in_54()

-- output lines and exit status of cmd fed with the lines of input
local function run(input, cmd)
  local p = assert(io.popen("printf " .. q(input) .. " | " .. cmd .. " 2>&1; echo \"exit:$?\""))
  local out = p:read("*a")
  p:close()
  local lines = {}
  for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
  local code = tonumber(table.remove(lines):match("^exit:(%d+)$"))
  return lines, code, out
end

describe("make bench", function()
  local srv, rawcurl, want, want_headers
  setup(function()
    srv = procs.httpd()
    rawcurl = os.tmpname()
    local version = dofile(ROOT .. "/lua/basiq/version.lua")
    local _, code, out = run("", "cc -O2 -Wall -Wextra -Werror -DBASIQ_VERSION=" .. q('"' .. version .. '"')
      .. " -o " .. q(rawcurl) .. " " .. q(ROOT .. "/bench/rawcurl.c")
      .. " -lcurl")
    assert(code == 0, "bench/rawcurl.c does not build cleanly:\n" .. out)
    -- what basiq.getUser sends, as the echo server saw it
    local res = assert(basiq.new({ server = srv.url }).auth("token").getUser({ userId = "ea3a81" }))
    want, want_headers = res.data, res.headers
  end)
  teardown(function()
    srv.stop()
    os.remove(rawcurl)
  end)

  local function same_request(got)
    assert.are.equal(want.method, got.method)
    assert.are.equal(want.target, got.target)
    assert.are.same(want.headers, got.headers) -- user agent, accept-encoding, auth, ... (host: same server)
  end

  it("the raw libcurl loop sends basiq.getUser's request and times blocks of calls", function()
    local lines, code, out = run("show\nget 3\nquit\n", q(rawcurl) .. " " .. q(srv.url .. "/users/ea3a81"))
    assert.are.equal(0, code, out)
    assert.are.equal("ready", lines[1])
    same_request(cjson.decode(lines[2]))
    assert.is_true(tonumber(lines[3]) > 0, out)
    assert.are.equal(3, #lines)
  end)

  it("the raw libcurl loop stops at an answer other than 200", function()
    local lines, code, out = run("get 3\nquit\n", q(rawcurl) .. " " .. q(srv.url .. "/status/404"))
    assert.are_not.equal(0, code)
    assert.matches("rawcurl: request %d+ failed %(status 404%)", out)
    assert.are_not.equal("ready", lines[1])
  end)

  it("the core-only loop sends basiq.getUser's request through basiq.core", function()
    local lines, code, out = run("show\nget 2\nquit\n", LUA .. " serve " .. q(srv.url) .. " core")
    assert.are.equal(0, code, out)
    assert.are.equal("ready", lines[1])
    same_request(cjson.decode(lines[2]))
    assert.is_true(tonumber(lines[3]) > 0, out)
  end)

  it("the SDK worker times basiq.getUser and stops at a wrong answer", function()
    -- the echo is not the user the bench's nginx serves: "get" must refuse it
    local lines, code, out = run("show\nget 2\nquit\n", LUA .. " serve " .. q(srv.url) .. " sdk")
    assert.are.equal("ready", lines[1])
    same_request(cjson.decode(lines[2]))
    assert.are_not.equal(0, code)
    assert.matches("wrong user", out)
  end)

  describe("the LuaJIT yardstick (bench/luacurl.lua full)", function()
    if elsewhere then pending(elsewhere) return end

    it("sends basiq.getUser's request and reads the headers basiq.getUser returns", function()
      local lines, code, out = run("show\nget 2\nquit\n", LUACURL .. " " .. q(srv.url .. "/users/ea3a81") .. " full")
      assert.are.equal("ready", lines[1], out)
      local got = cjson.decode(lines[2])
      same_request(got.data)
      assert.are.same(want_headers, got.headers) -- names in lower case; x-echo, content-type, content-length
      -- the echo is not the user the bench's nginx serves: "get" must refuse it
      assert.are_not.equal(0, code)
      assert.matches("wrong user", out)
    end)

    it("stops at an answer other than 2xx", function()
      local lines, code, out = run("get 3\nquit\n", LUACURL .. " " .. q(srv.url .. "/status/404") .. " full")
      assert.are_not.equal(0, code)
      assert.matches("unexpected status 404", out)
      assert.are_not.equal("ready", lines[1])
    end)

    it("the bare loop sends only the URL and two header lines (for information)", function()
      local lines, code, out = run("show\nquit\n", LUACURL .. " " .. q(srv.url .. "/users/ea3a81") .. " bare")
      assert.are.equal(0, code, out)
      assert.are.equal("ready", lines[1])
      local got = cjson.decode(lines[2]).data
      assert.are.same({ accept = "application/json", authorization = "Bearer token", host = want.headers.host },
        got.headers)
    end)
  end)
end)
