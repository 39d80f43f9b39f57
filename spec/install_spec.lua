-- The rockspecs and the source rock install offline, as the README says
-- (its quick start: quickstart_spec). What they test does not depend on the
-- Lua running busted.
local procs = require("support.procs")
local elsewhere = procs.not_in_54()
if elsewhere then describe("installing", function() pending(elsewhere) end) return end

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"exit:$?\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit:(%d+)%s*$"))
  return code, out
end

describe("luarocks", function()
  it("installs the rockspec without network, and the module loads in lua5.4", function()
    local tree = os.tmpname()
    os.remove(tree)
    local code, out = run("luarocks --lua-version=5.4 make --deps-mode=none --tree=" .. tree
      .. " rockspec/basiq-scm-1.rockspec")
    assert.are.equal(0, code, out)
    -- the warning the README tells of: LuaRocks does not see Debian's packages
    assert.matches("Missing dependencies for basiq scm-1:\n   lua-cjson (not installed)", out, 1, true)
    -- and without the tree's paths (luarocks path) the installed command cannot find its modules
    code, out = run("cd / && env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 " .. tree .. "/bin/basiq ops getUser")
    assert.are_not.equal(0, code)
    assert.matches("module 'basiq.cli' not found", out, 1, true)
    -- a clean environment: only the tree's paths and the system's
    code, out = run("cd / && env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 sh -c 'eval \"$(luarocks --lua-version=5.4 --tree="
      .. tree .. " path)\" && lua5.4 -e \"local b = require [[basiq]];"
      .. " print(package.searchpath([[basiq.core]], package.cpath)); print(b.getUser ~= nil)\"'")
    assert.are.equal(0, code, out)
    assert.matches(tree .. "/lib/lua/5.4/basiq/core.so", out, 1, true)
    assert.matches("true", out)
    -- the command runs from the tree, and the editor types are shipped
    local ops_code, ops_out = run("cd / && env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 sh -c 'eval \"$(luarocks --lua-version=5.4 --tree="
      .. tree .. " path)\" && " .. tree .. "/bin/basiq ops getUser'")
    local types = procs.read_file(tree .. "/lib/luarocks/rocks-5.4/basiq/scm-1/library/basiq-core.lua")
    os.execute("rm -rf " .. tree)
    assert.are.equal(0, ops_code, ops_out)
    assert.matches("^getUser +GET +/users/{userId}", ops_out)
    assert.matches("\nfunction Client.getUser%(metadata%) end\n", types)
  end)
end)

describe("make rock", function()
  it("packs a source rock that installs offline into fresh trees for Lua 5.1 and 5.4", function()
    local v = dofile(procs.ROOT .. "/lua/basiq/version.lua")
    local code, out = run("cd " .. procs.ROOT .. " && make --no-print-directory rock")
    assert.are.equal(0, code, out)
    local rock = procs.ROOT .. "/build/rock/basiq-" .. v .. "-1.src.rock"
    for _, lua in ipairs({ "5.1", "5.4" }) do
      local tree = os.tmpname()
      os.remove(tree)
      code, out = run("cd / && luarocks --lua-version=" .. lua .. " install --deps-mode=none --tree=" .. tree .. " " .. rock)
      assert.are.equal(0, code, out)
      -- a clean environment: only the tree's paths and the system's
      code, out = run("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 sh -c 'eval \"$(luarocks"
        .. " --lua-version=" .. lua .. " --tree=" .. tree .. " path)\" && lua" .. lua .. " -e \"local b = require [[basiq]];"
        .. " print(b._VERSION, require([[basiq.core]]).version, b.getUser ~= nil)\"'")
      os.execute("rm -rf " .. tree)
      assert.are.equal(0, code, out)
      assert.matches("basiq " .. v .. "\t" .. v .. "\ttrue", out, 1, true)
    end
  end)
end)

describe("the rockspecs", function()
  it("are what tools/rockspec.lua makes of the tree: every module and C source, this version", function()
    local code, out = run("cd " .. procs.ROOT .. " && lua5.4 tools/rockspec.lua --check")
    assert.are.equal(0, code, out)
    for _, path in ipairs({ "rockspec/basiq-scm-1.rockspec", "rockspec/basiq-" .. dofile(procs.ROOT
      .. "/lua/basiq/version.lua") .. "-1.rockspec" }) do
      code, out = run("cd " .. procs.ROOT .. " && luarocks lint " .. path)
      assert.are.equal(0, code, path .. ": " .. out)
    end
    local spec = procs.read_file(procs.ROOT .. "/rockspec/basiq-scm-1.rockspec")
    local p = assert(io.popen("cd " .. procs.ROOT .. " && ls lua/basiq/*.lua lua/basiq/*/*.lua src/*.c"))
    local n = 0
    for path in p:lines() do
      n = n + 1
      assert.is_truthy(spec:find('"' .. path .. '"', 1, true), path .. " is missing from the rockspec")
    end
    p:close()
    assert.is_true(n > 10)
  end)
end)

describe("the version", function()
  it("is one: the Lua module, the C core and the versioned rockspec report the same", function()
    local v = dofile(procs.ROOT .. "/lua/basiq/version.lua")
    assert.matches("^%d+%.%d+%.%d+$", v)
    assert.are.equal("basiq " .. v, require("basiq")._VERSION)
    assert.are.equal(v, require("basiq.core").version)
    local spec = procs.read_file(procs.ROOT .. "/rockspec/basiq-" .. v .. "-1.rockspec")
    assert.matches('version = "' .. v:gsub("%.", "%%.") .. '%-1"', spec)
    assert.matches('BASIQ_VERSION=\\"' .. v:gsub("%.", "%%.") .. '\\"', spec)
    -- and the core sends it as its user agent
    local srv = procs.httpd()
    local h = require("basiq.core").new()
    local o = h:perform({ method = "GET", url = srv.url .. "/echo" })
    h:close()
    srv.stop()
    assert.are.equal("basiq-lua/" .. v, require("cjson").decode(o.body).headers["user-agent"])
  end)
end)

describe("the README", function()
  it("lists every operation in its generated table, marking the eight Basiq deprecates", function()
    local readme = procs.read_file(procs.ROOT .. "/README.md")
    local n, deprecated = 0, 0
    for name, api in pairs(require("basiq.ops.index")) do
      local op = require("basiq.ops." .. api).ops[name]
      assert.matches("| `" .. name .. "`" .. (op.deprecated and " (deprecated)" or "") .. " |", readme, 1, true)
      n = n + 1
      if op.deprecated then deprecated = deprecated + 1 end
    end
    assert.are.equal(56, n)
    assert.are.equal(8, deprecated)
  end)
end)
