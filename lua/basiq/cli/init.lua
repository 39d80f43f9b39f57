-- cli/: the `basiq` command (bin/basiq) and its printer.
-- It calls the public API only, as a user's script would.
--
-- The `basiq` command (bin/basiq): install, ops, mock, or one call of an
-- operation (or every page of one: --all), parsed with lua-argparse. Exit
-- codes: 0 on success (a 2xx), 1 on an HTTP, network or load failure (or
-- no operation for `ops`), 2 on a usage mistake. It prints no credential:
-- its errors are the SDK's, which redacts them.
local argparse = require("argparse")
local basiq = require("basiq")
local load = require("basiq.definitions.load")
local options = require("basiq.call.options")
local source = require("basiq.definitions.source")

local M = {}

local USAGE, FAILURE = 2, 1

-- Ends the command with an exit code and a message for stderr.
local function exit_with(code, message)
  error({ exit = code, message = message }, 0)
end

-- An SDK mistake raised at our line: its own message, without the position.
local function mistake(err)
  if type(err) == "table" and err.exit then error(err, 0) end
  exit_with(USAGE, (tostring(err):gsub("^[^\n]-:%d+: (basiq)", "%1")))
end

-- The sources named by --load (read before parsing: their operations
-- become commands too).
local function loads_in(argv)
  local out = {}
  for i, a in ipairs(argv) do
    if a == "--load" and argv[i + 1] then out[#out + 1] = argv[i + 1] end
    local v = a:match("^%-%-load=(.+)$")
    if v then out[#out + 1] = v end
  end
  return out
end

-- The client: credentials from the environment, the --load sources added.
-- Returns it and every operation it knows: { name = op }.
local function client_for(sources)
  local c
  local key, token = os.getenv("BASIQ_API_KEY"), os.getenv("BASIQ_TOKEN")
  if key and key ~= "" then
    c = basiq.new({ apiKey = key })
  else
    c = basiq.new()
    if token and token ~= "" then c.auth(token) end
  end
  local server = os.getenv("BASIQ_SERVER") -- as the examples read it; --server wins
  if server and server ~= "" then
    local ok, err = pcall(c.server, server)
    if not ok then mistake(err) end
  end
  local ops = {}
  for name, api in pairs(require("basiq.ops.index")) do ops[name] = require("basiq.ops." .. api).ops[name] end
  local settings = options.defaults()
  for _, src in ipairs(sources) do
    local doc, where = load.read(settings, src)
    if not doc then exit_with(FAILURE, tostring(where)) end
    local t, err = load.compiled(doc, where)
    if not t then exit_with(FAILURE, tostring(err)) end
    c.load(t)
    for name, op in pairs(t.ops) do ops[name] = op end
  end
  return c, ops
end

local function sorted(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function params_text(op)
  local ps = {}
  for _, p in ipairs(op.params or {}) do
    ps[#ps + 1] = p.name .. (p.required and "" or "?") .. " (" .. p["in"] .. (p.type and ", " .. p.type or "") .. ")"
  end
  if op.body then ps[#ps + 1] = "body: " .. op.body.media .. (op.body.required and "" or "?") end
  return table.concat(ps, ", ")
end

-- A body node's type as --help says it: string, object, array of string.
local function node_type(node)
  if type(node) ~= "table" then return "any" end
  if node.t == "a" then return "array of " .. node_type(node.i) end
  if node.t == "o" then return "object" end
  return node.t or "any"
end

-- The body's fields: "email? (string), mfa-response (array of string)".
local function body_text(op)
  local body = op.body
  local shape = body and body.shape
  if not (shape and shape.t == "o" and next(shape.p or {})) then return nil end
  local required = {}
  for _, k in ipairs(shape.r or {}) do required[k] = true end
  local fs = {}
  for _, k in ipairs(sorted(shape.p)) do
    local t = body.fields and body.fields[k] == "binary" and "file" or node_type(shape.p[k])
    fs[#fs + 1] = k .. (required[k] and "" or "?") .. " (" .. t .. ")"
  end
  return table.concat(fs, ", ")
end

local function build_parser(ops)
  local parser = argparse("basiq", "The Basiq API from the command line.")
    :epilog("Calls: basiq <operation> [name=value ...] [--body JSON | --body @file] [--server URL] [--load SOURCE]\n"
      .. "(basiq ops lists the operations; basiq <operation> --help shows one.)\n"
      .. "Credentials: BASIQ_API_KEY (automatic tokens) or BASIQ_TOKEN.\n"
      .. "Exit codes: 0 success, 1 HTTP, network or load failure, 2 usage mistake.")
  parser:command_target("command")
  -- also before the operation's name; every --load is read before parsing
  parser:option("--load", "Add the operations of a definition first (repeatable)."):count("*")

  local install = parser:command("install", "Compile a definition into a Lua module, with its editor types beside it.")
  install:argument("source", "A file (JSON or YAML), an http(s) URL, a GitHub page or a registry id @project[/version]#uuid.")
  install:option("--name", "The module's name (default: from the source).")
  install:option("--out", "The folder to write into.", ".")

  require("basiq.mock").define(parser)

  local list = parser:command("ops", "List operations: name, method, path, parameters.")
  list:argument("pattern", "Only names containing this (any case)."):args("?")
  list:option("--load", "Add the operations of a definition first (repeatable)."):count("*")

  for _, name in ipairs(sorted(ops)) do
    local op = ops[name]
    local text, fields = params_text(op), body_text(op)
    local cmd = parser:command(name, op.method .. " " .. op.path):hidden(true)
      :epilog("Parameters (? optional): " .. (text ~= "" and text or "none")
        .. (fields and "\nBody fields (? optional): " .. fields or ""))
    cmd:argument("metadata", "Parameters as name=value (a name given twice is a list)."):args("*")
    cmd:option("--body", "The request body: JSON, or @file to read it from a file.")
    if op.method == "GET" then
      cmd:flag("--all", "Every page, following links.next: one JSON list of the pages' data items.")
    end
    cmd:option("--server", "The base URL (default: the definition's server).")
    cmd:option("--load", "Add the operations of a definition first (repeatable)."):count("*")
  end
  return parser
end

local function read_body(spec)
  if not spec then return nil end
  local text = spec
  if spec:sub(1, 1) == "@" then
    local f, err = io.open(spec:sub(2), "rb")
    if not f then exit_with(USAGE, "basiq: --body: " .. tostring(err)) end
    text = f:read("*a")
    f:close()
  end
  local body, err = require("basiq.definitions.document").decode(text, nil, "application/json")
  if not body then exit_with(USAGE, "basiq: --body: " .. err) end
  return body
end

-- name=value pairs as metadata, each value typed as its parameter says
-- (numbers, booleans, lists); names it does not have are the SDK's to refuse.
local function metadata_of(op, items)
  local meta, byname = {}, {}
  for _, p in ipairs(op.params or {}) do byname[p.name] = p end
  for _, item in ipairs(items) do
    local k, v = item:match("^([^=]+)=(.*)$")
    if not k then exit_with(USAGE, "basiq: '" .. item .. "' is not name=value") end
    local p = byname[k]
    local t = p and (p.type == "array" and p.items or p.type)
    local value = v
    if (t == "integer" or t == "number") and tonumber(v) then
      value = tonumber(v)
    elseif t == "boolean" and (v == "true" or v == "false") then
      value = v == "true"
    end
    if meta[k] == nil then
      meta[k] = (p and p.type == "array") and { value } or value
    else
      if type(meta[k]) ~= "table" then meta[k] = { meta[k] } end
      table.insert(meta[k], value)
    end
  end
  return meta
end

-- --all: every page's data items, in one list.
local function all_pages(c, args, body, meta, out, err_out)
  local ok, pages = pcall(c.paginate, args.command, body, meta)
  if not ok then mistake(pages) end
  local items, n, status = {}, 0, nil
  for page, err in pages do
    if not page then
      if err.status then err_out:write("HTTP ", tostring(err.status), "\n") end
      exit_with(FAILURE, tostring(err))
    end
    n, status = n + 1, page.status
    local list = type(page.data) == "table" and page.data.data
    if type(list) == "table" then
      for _, item in ipairs(list) do items[#items + 1] = item end
    else
      items[#items + 1] = page.data -- a page that is not a Basiq list: as it is
    end
  end
  err_out:write("HTTP ", tostring(status), " (", n, n == 1 and " page" or " pages", ")\n")
  out:write(items[1] == nil and "[]" or require("basiq.cli.pretty").encode(items), "\n")
  return 0
end

local function call(c, op, args, out, err_out)
  if args.server then
    local ok, err = pcall(c.server, args.server)
    if not ok then mistake(err) end
  end
  local body = read_body(args.body)
  if args.all then return all_pages(c, args, body, metadata_of(op, args.metadata or {}), out, err_out) end
  local ok, res, err = pcall(c.call, args.command, body, metadata_of(op, args.metadata or {}))
  if not ok then mistake(res) end
  if not res then
    if err.status then err_out:write("HTTP ", tostring(err.status), "\n") end
    exit_with(FAILURE, tostring(err))
  end
  err_out:write("HTTP ", tostring(res.status), "\n")
  if type(res.data) == "string" then
    out:write(res.data)
  else
    out:write(require("basiq.cli.pretty").encode(res.data), "\n")
  end
  return 0
end

-- A module name from a source: a registry id's project, else the file's
-- name without its extension.
local function default_name(src)
  if source.registry_id(src) then return (src:match("^@([%w_%-]+)")) end
  local base = src:gsub("[?#].*$", ""):match("([^/\\]+)$") or ""
  return (base:gsub("%.[^.]*$", ""))
end

local function install(args, out)
  local name = args.name or default_name(args.source)
  if not name:match("^[%a_][%w_%-]*$") then
    exit_with(USAGE, "basiq install: '" .. name .. "' cannot name a module: give --name (letters, digits, _ and -)")
  end
  local doc, where = load.read(options.defaults(), args.source)
  if not doc then exit_with(FAILURE, (tostring(where):gsub("^basiq%.load: ", "basiq install: "))) end
  if load.is_compiled(doc) then
    exit_with(USAGE, "basiq install: " .. where .. " is a compiled module already: install takes a definition")
  end
  local header = "-- Generated by `basiq install` from " .. source.shown(where) .. ". Do not edit."
  local writer = require("basiq.definitions.install")
  local ok, t, module_text, types_text = pcall(writer.build, doc, name, header, header)
  if not ok then
    local _, err = load.compiled(doc, where)
    exit_with(FAILURE, (tostring(err or t):gsub("^basiq%.load: ", "basiq install: ")))
  end
  local count = 0
  for _ in pairs(t.ops) do count = count + 1 end
  local dir = args.out:gsub("(.)/+$", "%1")
  local made, merr = writer.folder(dir)
  if not made then exit_with(FAILURE, "basiq install: cannot make the folder " .. dir .. ": " .. tostring(merr)) end
  for _, f in ipairs({ { dir .. "/" .. name .. ".lua", module_text, count .. " operations" },
                       { dir .. "/" .. name .. ".types.lua", types_text, "editor types" } }) do
    local wrote, werr = writer.write(f[1], f[2])
    if not wrote then exit_with(FAILURE, "basiq install: cannot write " .. tostring(werr)) end
    out:write("wrote ", f[1], " (", f[3], ")\n")
  end
  return 0
end

local function list_ops(ops, args, out)
  local pattern = args.pattern and args.pattern:lower()
  local names = sorted(ops)
  local n = 0
  for _, name in ipairs(names) do
    if not pattern or name:lower():find(pattern, 1, true) then
      local op = ops[name]
      n = n + 1
      out:write(string.format("%-38s %-6s %-58s %s\n", name, op.method, op.path, params_text(op)))
    end
  end
  if n == 0 then
    exit_with(FAILURE, "basiq ops: no operation name contains '" .. tostring(args.pattern) .. "'"
      .. require("basiq.shared.suggest").hint(args.pattern, names))
  end
  return 0
end

-- Runs the command on argv -> its exit code. out, err_out: where data and
-- messages go (default io.stdout, io.stderr).
function M.main(argv, out, err_out)
  out, err_out = out or io.stdout, err_out or io.stderr
  local ok, code = pcall(function()
    local c, ops
    if argv[1] ~= "install" and argv[1] ~= "mock" then c, ops = client_for(loads_in(argv)) else ops = {} end
    local parser = build_parser(ops)
    local parsed, args = parser:pparse(argv)
    if not parsed then exit_with(USAGE, parser:get_usage() .. "\n\nError: " .. tostring(args)) end
    if args.command == "install" then return install(args, out) end
    if args.command == "ops" then return list_ops(ops, args, out) end
    if args.command == "mock" then return require("basiq.mock").main(args, out, err_out) end
    return call(c, ops[args.command], args, out, err_out)
  end)
  if ok then return code end
  if type(code) == "table" and code.exit then
    err_out:write(code.message, "\n")
    return code.exit
  end
  err_out:write("basiq: ", tostring(code), "\n")
  return FAILURE
end

return M
