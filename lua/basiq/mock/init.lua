-- mock/: `basiq mock`, a local Basiq for users' own tests and CI: an HTTP
-- server on luasocket serving all of Basiq's operations with state, its
-- Consent UI, job scenarios and signed webhooks. It listens on loopback by
-- default and sends nothing anywhere but to the --webhook URL it is given
-- (and to webhooks added through its API on this machine).
--
-- This file: the command's options, and the mock put together from its
-- parts (loop, server, routes, store, tokens, webhooks).
local Loop = require("basiq.mock.loop")
local server = require("basiq.mock.server")
local routes = require("basiq.mock.routes")
local Store = require("basiq.mock.store")
local Tokens = require("basiq.mock.tokens")
local webhooks = require("basiq.mock.webhooks")

local M = {}

-- The `mock` command of the basiq command line (an argparse parser).
function M.define(parser)
  local cmd = parser:command("mock", "Run a local Basiq for your own tests (README: Testing your integration).")
  cmd:option("--port", "The port to listen on (0: any free port; the URL is printed).", "4010")
  cmd:option("--host", "The address to listen on (loopback unless you say otherwise).", "127.0.0.1")
  cmd:option("--webhook", "Deliver every event to this URL, signed (needs --secret).")
  cmd:option("--secret", "The webhook secret (whsec_...) deliveries are signed with.")
  cmd:option("--retry-scale", "Scale Basiq's webhook retry delays (0.001: 5 ms, 300 ms, 1.8 s, ...).", "1")
  cmd:option("--redirect", "Where the Consent UI sends the person back (default: the mock's /consent/done).")
  cmd:option("--token-life", "The expires_in of tokens, in seconds.", "3600")
  cmd:option("--expire-early", "Tokens stop working after this many seconds, whatever expires_in says.")
  cmd:option("--api-key", "Give tokens only for this API key (default: any key).")
  cmd:option("--transactions", "Transactions per account a connection job retrieves.", "30")
  cmd:flag("--quiet", "No line per request on stderr.")
  return cmd
end

local function number(v, name, min)
  local n = tonumber(v)
  if not n or n < (min or 0) then error({ usage = "basiq mock: " .. name .. " must be a number of at least " .. (min or 0) }, 0) end
  return n
end

-- Options from the parsed command line (or a table of the same names in
-- Lua form: retry_scale, token_life, ...) -> a checked table.
function M.options(a)
  local o = {
    host = a.host or "127.0.0.1",
    port = number(a.port or 4010, "--port"),
    webhook = a.webhook,
    secret = a.secret,
    retry_scale = number(a.retry_scale or 1, "--retry-scale"),
    redirect = a.redirect,
    token_life = number(a.token_life or 3600, "--token-life", 1),
    expire_early = a.expire_early and number(a.expire_early, "--expire-early"),
    api_key = a.api_key,
    transactions = math.floor(number(a.transactions or 30, "--transactions")),
    quiet = a.quiet,
  }
  if o.port ~= math.floor(o.port) or o.port > 65535 then error({ usage = "basiq mock: --port must be 0 to 65535" }, 0) end
  if (o.webhook == nil) ~= (o.secret == nil) then
    error({ usage = "basiq mock: --webhook and --secret go together" }, 0)
  end
  if o.webhook then
    local target, why = webhooks.parse_url(o.webhook)
    if not target then error({ usage = "basiq mock: --webhook " .. why }, 0) end
    local ok = pcall(require("basiq.webhook").sign, o.secret, "probe", 0, "")
    if not ok then error({ usage = "basiq mock: --secret is not a Standard Webhooks secret (whsec_ and base64)" }, 0) end
  end
  if o.redirect and not webhooks.parse_url(o.redirect) then
    error({ usage = "basiq mock: --redirect must be an http:// or https:// URL" }, 0)
  end
  return o
end

-- A mock listening, not yet running: { url, port, run(), close() }, or
-- nil and why not. log(line): where its request lines go.
function M.new(opts, log)
  log = log or function() end
  local loop = Loop.new(function(e) log("error: " .. e) end)
  local store = Store.new(opts)
  local tokens = Tokens.new({ life = opts.token_life, expire_early = opts.expire_early, api_key = opts.api_key })
  local env = { store = store, tokens = tokens, consent = require("basiq.mock.consent"), redirect = opts.redirect }
  local srv, err = server.listen(loop, opts.host, opts.port, routes.handler(env), opts.quiet and function() end or log)
  if not srv then return nil, err end
  local host = opts.host:find(":", 1, true) and "[" .. opts.host .. "]" or opts.host
  if host == "0.0.0.0" then host = "127.0.0.1" end
  env.base = "http://" .. host .. ":" .. srv.port
  webhooks.new({ loop = loop, store = store, base = env.base, scale = opts.retry_scale, log = log })
  if opts.webhook then
    local wh = webhooks.record({ url = opts.webhook, name = "basiq mock --webhook", secret = opts.secret }, true)
    wh.cli = true
    store.webhooks[wh.id] = wh
  end
  return { url = env.base, port = srv.port, run = function() loop:run() end, close = srv.close }
end

-- The command: starts the mock, prints its URL, serves until killed.
-- Returns an exit code only when it cannot start.
function M.main(args, out, err_out)
  local ok, opts = pcall(M.options, args)
  if not ok then
    if type(opts) == "table" and opts.usage then err_out:write(opts.usage, "\n"); return 2 end
    error(opts, 0)
  end
  local function log(line) err_out:write("basiq mock: ", line, "\n") end
  local mock, err = M.new(opts, log)
  if not mock then
    err_out:write("basiq mock: cannot listen on ", opts.host, ":", tostring(opts.port), ": ", tostring(err), "\n")
    return 1
  end
  if not (opts.host == "127.0.0.1" or opts.host == "::1" or opts.host == "localhost") then
    log("listening on " .. opts.host .. ", not loopback only: anyone who can reach it can use it")
  end
  out:write("basiq mock: listening on ", mock.url, "\n")
  if out.flush then out:flush() end
  if opts.webhook then log("delivering events to the --webhook URL, signed") end
  mock.run()
end

return M
