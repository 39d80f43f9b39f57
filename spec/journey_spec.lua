-- The consent journey end to end against a local Basiq (`basiq mock`): the
-- README's blocks, examples/consent_journey.lua at a "terminal" (its stdin a
-- pipe the spec writes to as a person would type), examples/wait_for_job.lua.
-- The nginx routes run in openresty_spec. Each runs as a user runs it, in a
-- child process; a broken example fails here.
local procs = require("support.procs")
local secrets = require("support.secrets")

local not_here = procs.not_in_54()
if not_here then
  describe("the consent journey", function() pending(not_here) end)
  return
end

local ROOT = procs.ROOT
local KEY = "am91cm5leS1rZXk6c2VjcmV0"

-- GET url through the core, no redirect followed: its Location.
local function location(url)
  local h = require("basiq.core").new()
  local o = h:perform({ method = "GET", url = url })
  h:close()
  assert(o.status == 302, "GET " .. url:gsub("token=[^&]*", "token=...") .. " answered " .. tostring(o.status or o.message))
  return o.headers.location
end

-- Runs a Lua file on this runtime with env, its stdin a fifo: the spec
-- answers each prompt the program prints (prompts = { { pattern, fn(out) ->
-- line }, ... }, in order). exit code, output (stdout and stderr).
local function at_terminal(env, file, prompts, seconds)
  local dir = os.tmpname()
  os.remove(dir)
  assert(procs.execute("mkdir -p " .. dir .. " && mkfifo " .. dir .. "/in"))
  local sh = procs.LUA_ENV .. " " .. env .. " " .. procs.LUA .. " " .. file .. " < " .. dir .. "/in > "
    .. dir .. "/out 2>&1; echo $? > " .. dir .. "/rc"
  os.execute("(" .. sh .. ") &")
  local stdin = assert(io.open(dir .. "/in", "w")) -- opens once the program has its end open
  local deadline = os.time() + (seconds or 30)
  local function output() return procs.read_file(dir .. "/out") end
  for _, p in ipairs(prompts) do
    while not output():find(p[1]) do
      assert(os.time() < deadline, "no prompt matching " .. p[1] .. " in:\n" .. output())
      require("socket").sleep(0.02)
    end
    stdin:write(p[2](output()), "\n")
    stdin:flush()
  end
  stdin:close()
  while procs.read_file(dir .. "/rc") == "" do
    assert(os.time() < deadline, "the program did not finish:\n" .. output())
    require("socket").sleep(0.02)
  end
  local rc, out = tonumber(procs.read_file(dir .. "/rc")), output()
  os.execute("rm -rf " .. dir)
  return rc, out
end

describe("the consent journey against basiq mock", function()
  local mock
  setup(function() mock = procs.mock({ "--transactions", "3" }) end)
  teardown(function() mock.stop() end)
  local env = function() return "BASIQ_API_KEY=" .. KEY .. " BASIQ_SERVER=" .. mock.url
    .. " BASIQ_CONSENT_SERVER=" .. mock.url .. " POLL_MS=50" end

  it("runs examples/consent_journey.lua: three banks, one asking for MFA, one failing", function()
    local rc, out = at_terminal(env() .. " INSTITUTION_ID=AU00000,AU00001,AU00002",
      ROOT .. "/examples/consent_journey.lua", {
        -- the person opens the address and is sent back: what they paste is where they landed
        { "paste the address Basiq sent you back to: $", function(o)
          return location(assert(o:match("\n(http://[^\n]+/home%?token=[^\n]+)\n"))) end },
        { "One%-time code: $", function() return "123456" end },
      })
    assert.are.equal(0, rc, out)
    assert.matches("created user [%x-]+\n", out)
    assert.matches("3 connection job%(s%): [%x-]+, [%x-]+, [%x-]+\n", out)
    local _, connected = out:gsub(": connected\n", "")
    assert.are.equal(2, connected, out) -- the plain one, then the MFA one once answered
    assert.matches(": basiq.waitForJobs: job [%x-]+: step verify%-credentials failed: user%-action%-required", out)
    local _, accounts = out:gsub("\naccount ", "")
    assert.are.equal(4, accounts, out) -- two accounts each at the two banks that connected
    assert.matches("\n12 transaction%(s%)\n$", out)
  end)

  it("refuses a redirect whose state is not the visit's, in the same example", function()
    local rc, out = at_terminal(env(), ROOT .. "/examples/consent_journey.lua", {
      { "paste the address Basiq sent you back to: $", function(o)
        local back = location(assert(o:match("\n(http://[^\n]+/home%?token=[^\n]+)\n")))
        return (back:gsub("state=[^&]+", "state=forged")) end },
    })
    assert.are.equal(1, rc, out)
    assert.matches("basiq.consentReturn: the redirect's state is not the one kept for this visit", out, 1, true)
  end)

  it("runs examples/wait_for_job.lua, answering the MFA prompt", function()
    local c = require("basiq").new({ server = mock.url, consentServer = mock.url, apiKey = KEY })
    local uid = assert(c.createUser({ email = "gavin@hooli.com" })).data.id
    local url, state = assert(c.consentUrl(uid, { state = true, institutionId = "AU00001" }))
    local jobIds = assert(c.consentReturn(location(url), state))
    local rc, out = at_terminal(env() .. " JOB_ID=" .. jobIds[1], ROOT .. "/examples/wait_for_job.lua", {
      { "One%-time code: $", function() return "654321" end },
    })
    assert.are.equal(0, rc, out)
    assert.matches("mfa%-challenge\tin%-progress\n", out)
    assert.matches("retrieve%-transactions\tsuccess\n", out)
    assert.matches("\nconnected:\thttp://[%d.:]+/users/" .. uid:gsub("%p", "%%%0") .. "/connections/[%x-]+\n$", out)
  end)

  it("follows a finished step's result.url, a path on Basiq's server, to the accounts it names", function()
    local c = require("basiq").new({ server = mock.url, consentServer = mock.url, apiKey = KEY })
    local uid = assert(c.createUser({ email = "gavin@hooli.com" })).data.id
    local url, state = assert(c.consentUrl(uid, { state = true, institutionId = "AU00000,AU00005" }))
    local jobIds = assert(c.consentReturn(location(url), state))
    local results, errors = c.waitForJobs(jobIds, { interval = 10 })
    assert.are.same({}, errors)
    for _, id in ipairs(jobIds) do
      local link
      for _, step in ipairs(results[id].data.steps) do
        if step.title == "retrieve-accounts" then link = step.result.url end
      end
      assert.matches("^/users/" .. uid:gsub("%p", "%%%0") .. "/accounts%?filter=", link)
      local accounts = assert(c.follow(link))
      assert.are.equal(2, #accounts.data.data) -- this connection's, not the other's
    end
    assert.are.equal(4, #assert(c.getAccounts({ userId = uid })).data.data)
  end)

  it("runs the README's blocks as written, around an app's session, redirect and query", function()
    local readme = procs.read_file(ROOT .. "/README.md")
    local section = assert(readme:match("\n## The consent journey\n(.-)\n## "))
    local blocks = {}
    for code in section:gmatch("```lua\n(.-)```") do blocks[#blocks + 1] = code end
    assert.are.equal(2, #blocks)
    -- what an app has around them: a session, a redirect, the query it was called back with
    local harness = [[
      require("basiq").server(os.getenv("BASIQ_SERVER")).config({ consentServer = os.getenv("BASIQ_CONSENT_SERVER") })
      session = {}
      function redirect(url)
        local h = require("basiq.core").new()
        local o = h:perform({ method = "GET", url = url })
        query = assert(o.headers.location):match("%?(.*)$")
        io.stderr:write("redirected\n")
      end
    ]]
    local script = procs.temp_file(harness .. "\n" .. blocks[1] .. "\n" .. blocks[2])
    local rc, out, err = procs.run(procs.LUA_ENV .. " " .. env() .. " " .. procs.LUA .. " " .. script)
    os.remove(script)
    assert.are.equal(0, rc, out .. err)
    assert.are.equal("redirected\n", err)
    assert.matches("^[%x-]+\tconnected\n6 transactions\n$", out) -- two accounts of three, on one page
    secrets.none({ out, err }, { "token=" }, "the output")
  end)
end)
