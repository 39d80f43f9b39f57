-- The editor types in library/: for every operation they agree with the
-- compiled table; a few blocks compare exactly; every file loads as Lua.
local procs = require("support.procs")
local index = require("basiq.ops.index")

local ROOT = procs.ROOT

-- The lines of the block that starts with first (up to a blank line).
local function block(text, first)
  local s = text:find(first .. "\n", 1, true)
  if not s then return nil end
  local e = text:find("\n\n", s, true) or #text
  return text:sub(s, e)
end

-- A metadata class's fields: name -> { optional, type }.
local function fields(text, name)
  local b = block(text, "---@class basiq." .. name .. ".metadata")
  if not b then return nil end
  local out = {}
  for line in b:gmatch("[^\n]+") do
    local fname, opt, t = line:match('^%-%-%-@field %[?"?([^%s"%]?]+)"?%]?(%??) (%S+)')
    if fname then out[fname] = { optional = opt == "?", type = t } end
  end
  return out
end

-- Whether an annotation type fits a compiled parameter's type.
local LITERAL = { string = '^"[^"]*"$', integer = "^%-?%d+$", number = "^%-?[%d.e+-]+$", boolean = "^[tf][ra][ul]s?e$" }
local function fits(annotation, ptype, items)
  if ptype == "array" then
    local inner = annotation:match("^%(?(.-)%)?%[%]$")
    return inner ~= nil and (items == nil or fits(inner, items))
  end
  if annotation == ptype then return true end
  for part in annotation:gmatch("[^|]+") do
    if not (LITERAL[ptype] and part:find(LITERAL[ptype])) then return false end
  end
  return LITERAL[ptype] ~= nil
end

describe("library/", function()
  it("annotates every operation: each parameter, its type and whether it is required, as compiled", function()
    local n = 0
    for name, api in pairs(index) do
      n = n + 1
      local text = procs.read_file(ROOT .. "/library/basiq-" .. api .. ".lua")
      local op = require("basiq.ops." .. api).ops[name]
      assert.is_truthy(text:find("\nfunction Client." .. name .. "(", 1, true), name .. " has no function")
      assert.is_truthy(text:find("\n---@class basiq." .. name .. ".response: basiq.Result\n---@field data ", 1, true), name)
      local f = fields(text, name)
      if op.params or op.accepts then
        assert.is_table(f, name .. " has no metadata class")
        local count = 0
        for _, p in ipairs(op.params or {}) do
          count = count + 1
          local got = f[p.name]
          assert.is_table(got, name .. "." .. p.name .. " is not annotated")
          assert.are.equal(not p.required, got.optional, name .. "." .. p.name .. ": required")
          assert.is_true(fits(got.type, p.type, p.items), name .. "." .. p.name .. ": " .. got.type .. " for " .. tostring(p.type))
        end
        if op.accepts then count = count + 1; assert.is_true(f.accept.optional) end
        local annotated = 0
        for _ in pairs(f) do annotated = annotated + 1 end
        assert.are.equal(count, annotated, name .. ": fields that are not parameters")
      else
        assert.is_nil(f, name .. " takes no parameters")
      end
      -- the body, when there is one, and the function's arguments
      if op.body then
        assert.is_truthy(text:find("---@class basiq." .. name .. ".body\n", 1, true)
          or text:find("---@alias basiq." .. name .. ".body ", 1, true), name .. " has no body type")
        assert.is_truthy(text:find("---@param body" .. (op.body.required and "" or "?") .. " basiq." .. name .. ".body\n", 1, true), name)
      end
    end
    assert.are.equal(56, n)
  end)

  it("marks exactly the operations Basiq's definitions deprecate ---@deprecated", function()
    local marked = 0
    for name, api in pairs(index) do
      local text = procs.read_file(ROOT .. "/library/basiq-" .. api .. ".lua")
      local op = require("basiq.ops." .. api).ops[name]
      local head = "\n---" .. op.method .. " " .. op.path .. "\n"
      local s = assert(text:find(head .. "---@deprecated\n", 1, true) or text:find(head, 1, true), name)
      local annotated = text:sub(s, s + #head + 14) == head .. "---@deprecated\n"
      assert.are.equal(op.deprecated == true, annotated, name)
      if annotated then marked = marked + 1 end
    end
    assert.are.equal(8, marked)
  end)

  it("annotates every helper a client has, and the result and error classes", function()
    local text = procs.read_file(ROOT .. "/library/basiq.lua")
    local n = 0
    local ops = require("basiq.ops.index")
    for name, v in pairs(require("basiq").new()) do
      if type(v) == "function" and not ops[name] then -- operations are annotated in their API's file
        n = n + 1
        assert.is_truthy(text:find("\nfunction Client." .. name .. "(", 1, true), name .. " is not annotated")
      end
    end
    assert.is_true(n >= 12, n .. " helpers")
    for name in pairs(require("basiq.webhook")) do
      assert.is_truthy(text:find("\nfunction webhook." .. name .. "(", 1, true), "webhook." .. name .. " is not annotated")
    end
    for _, class in ipairs({ "basiq.Result", "basiq.Error", "basiq.Client", "basiq.FilePart" }) do
      assert.is_truthy(text:find("\n---@class " .. class .. "\n", 1, true), class)
    end
  end)

  it("holds these blocks exactly", function()
    local core = procs.read_file(ROOT .. "/library/basiq-core.lua")
    assert.are.equal([[
---@class basiq.getUser.metadata
---@field userId string (path)
]], block(core, "---@class basiq.getUser.metadata"))
    assert.are.equal([[
---GET /users/{userId}
---@param metadata basiq.getUser.metadata
---@return basiq.getUser.response? res
---@return basiq.Error? err
function Client.getUser(metadata) end
]], block(core, "---GET /users/{userId}"))
    assert.are.equal([[
---@class basiq.postToken.metadata
---@field ["basiq-version"] string (header)
]], block(core, "---@class basiq.postToken.metadata"))
    assert.are.equal([[
---POST /token
---@param body? basiq.postToken.body
---@param metadata basiq.postToken.metadata
---@return basiq.postToken.response? res
---@return basiq.Error? err
---@overload fun(metadata: basiq.postToken.metadata): basiq.postToken.response?, basiq.Error?
---@overload fun(body: basiq.postToken.body): basiq.postToken.response?, basiq.Error?
function Client.postToken(body, metadata) end
]], block(core, "---POST /token"))
    assert.are.equal([[
---@class basiq.postToken.data
---@field access_token string
---@field expires_in integer int64
---@field token_type string
]], block(core, "---@class basiq.postToken.data"))
    local data = procs.read_file(ROOT .. "/library/basiq-data.lua")
    assert.are.equal([[
---@class basiq.createStatement.body
---@field institutionId string
---@field statement basiq.FilePart|file*|string binary
]], block(data, "---@class basiq.createStatement.body"))
    local enrich = procs.read_file(ROOT .. "/library/basiq-enrich.lua")
    assert.matches('\n%-%-%-@field matchType%? "merchantFull"|"merchantPartial"|"mcc"|"ml"\n', enrich)
  end)

  it("types $ref'd schemas as classes of their own, cycles included, and copies no description", function()
    local compile, types = require("basiq.definitions.compile"), require("basiq.definitions.types")
    local doc = { openapi = "3.0.0", paths = { ["/nodes"] = { post = {
      requestBody = { required = true, content = { ["application/json"] = { schema = { ["$ref"] = "#/components/schemas/Node" } } } },
      responses = { ["201"] = { description = "Created, says the prose", content = { ["application/json"] = {
        schema = { type = "array", items = { ["$ref"] = "#/components/schemas/Node" } } } } } } } } },
      components = { schemas = { Node = { type = "object", description = "A node of the tree, says the prose", required = { "name" },
        properties = { name = { type = "string", description = "prose" }, kind = { type = "string", enum = { "leaf", "branch" } },
          children = { type = "array", items = { ["$ref"] = "#/components/schemas/Node" } } } } } } }
    local text = types.annotate(doc, compile.compile(doc, "tree"), "tree", "-- test")
    assert.are.equal([[
---@class basiq.tree.schemas.Node
---@field children? basiq.tree.schemas.Node[]
---@field kind? "leaf"|"branch"
---@field name string
]], block(text, "---@class basiq.tree.schemas.Node"))
    assert.matches("---@alias basiq.postNodes.body basiq.tree.schemas.Node\n", text, 1, true)
    assert.matches("---@field data basiq.tree.schemas.Node[]\n", text, 1, true)
    assert.matches("---@param body basiq.postNodes.body\n", text, 1, true)
    assert.is_nil(text:find("prose", 1, true))
  end)

  it("is Lua: every file loads on this runtime", function()
    local p = assert(io.popen("ls " .. procs.sh_quote(ROOT .. "/library")))
    local n = 0
    for file in p:lines() do
      n = n + 1
      assert(loadfile(ROOT .. "/library/" .. file))
      assert.matches("^%-%-%-@meta ", procs.read_file(ROOT .. "/library/" .. file))
    end
    p:close()
    assert.are.equal(8, n)
  end)

  it("passes lua-language-server --check, where it can be installed", function()
    if not procs.execute("command -v lua-language-server >/dev/null 2>&1") then
      -- Debian bookworm has no lua-language-server package: nothing to run
      pending("lua-language-server is not installed (Debian bookworm's sources do not have it); the check did not run")
      return
    end
    local code, out, err = procs.run("lua-language-server --check " .. procs.sh_quote(ROOT .. "/library")
      .. " --checklevel=Warning")
    assert.are.equal(0, code, out .. err)
  end)
end)
