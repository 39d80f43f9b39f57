-- The README's Quick start, run as written against a local Basiq (`basiq
-- mock`, as the README tells a newcomer to start it), and
-- examples/quickstart.lua, which is the same script word for word.
local procs = require("support.procs")
local elsewhere = procs.not_in_54()
if elsewhere then describe("the README's Quick start", function() pending(elsewhere) end) return end

local ROOT = procs.ROOT
local q = procs.sh_quote

-- The README's Quick start block: the first ```lua block under "## Quick start".
local function readme_block()
  local section = assert(procs.read_file(ROOT .. "/README.md"):match("\n## Quick start\n(.-)\n## "))
  return assert(section:match("```lua\n(.-)```"))
end

-- Runs a script's text in a fresh lua5.4 with env -> exit code, stdout, stderr.
local function run(text, env)
  local path = procs.temp_file(text)
  local code, out, err = procs.run("env -u BASIQ_SERVER -u BASIQ_API_KEY " .. env .. " " .. procs.LUA_ENV .. " lua5.4 " .. q(path))
  os.remove(path)
  return code, out, err
end

describe("the README's Quick start", function()
  local mock
  setup(function() mock = procs.mock({ "--quiet" }) end)
  teardown(function() mock.stop() end)

  it("runs as written against basiq mock: creates Gavin Belson and reads him back as sent", function()
    local code, out, err = run(readme_block(), "BASIQ_SERVER=" .. q(mock.url) .. " BASIQ_API_KEY=any")
    assert.are.equal(0, code, err)
    assert.matches("^created user [%x-]+ %(HTTP 201%)\n  email  gavin@hooli%.com\n  mobile %+61410888666\n"
      .. "  name   Gavin Belson\n$", out)
  end)

  it("is examples/quickstart.lua word for word, below the example's header comment", function()
    local example = procs.read_file(ROOT .. "/examples/quickstart.lua")
    local header = example:match("^(%-%-[^\n]*\n)") -- its comment lines, then the README's block
    while header do
      example = example:sub(#header + 1)
      header = example:match("^(%-%-[^\n]*\n)")
    end
    assert.are.equal(readme_block(), example)
    local code, out, err = procs.run("cd " .. q(ROOT) .. " && env BASIQ_SERVER=" .. q(mock.url)
      .. " BASIQ_API_KEY=any " .. procs.LUA_ENV .. " lua5.4 examples/quickstart.lua")
    assert.are.equal(0, code, err)
    assert.matches("^created user [%x-]+ %(HTTP 201%)\n  email  gavin@hooli%.com\n", out)
  end)

  it("says what to set when BASIQ_API_KEY is missing", function()
    local code, out, err = run(readme_block(), "BASIQ_SERVER=" .. q(mock.url))
    assert.are_not.equal(0, code)
    assert.are.equal("", out)
    assert.matches("set BASIQ_API_KEY (basiq mock takes any)", err, 1, true)
  end)
end)
