-- The transports a spec runs its cases over: libcurl's (the client's own),
-- and, in the Lua 5.4 run, nginx's cosocket transport inside a real nginx.
-- The nginx one is reached through a relay: this process's engine (retries,
-- tokens, results) hands each transfer to an nginx location that performs
-- it with require("basiq.transport.ngx") and sends the outcome back, so the
-- specs' own cases and servers test nginx's sockets, TLS and parsing.
--
--   for _, via in ipairs(transports.each()) do
--     describe("faults" .. via.label, function()
--       if via.skip then return pending(via.skip) end
--       setup(function() via.start() end)       -- extra nginx http lines: via.start(lines)
--       teardown(function() via.stop() end)
--       ... basiq.new({ transport = via.transport, ... }) ...
--       if via.ngx then ... end                   -- nginx's own wording
--       via.request(req) -> outcome               -- one transfer, for counting transports
local procs = require("support.procs")
local cjson = require("cjson")

local M = {}

local CONF = [[
worker_processes 1;
events { worker_connections 1024; }
http {
@NGINX_HTTP@
  lua_socket_log_errors off;
  client_body_buffer_size 100m;
  client_max_body_size 100m;
@EXTRA@
  server {
    listen 127.0.0.1:@PORT@;
    location = /relay {
      content_by_lua_block {
        local cjson = require("cjson")
        ngx.req.read_body()
        local req = cjson.decode(ngx.req.get_body_data())
        local t = require("basiq.transport.ngx").transport()
        local o
        if req.batch then o = t:batch(req.batch, req.concurrency) else o = t:request(req) end
        ngx.print(cjson.encode(o))
      }
    }
    # other code of the worker, pooling an unverified TLS connection under
    # nginx's default pool name for the address (host:port)
    location = /other-code {
      content_by_lua_block {
        local sock = ngx.socket.tcp()
        sock:settimeout(2000)
        assert(sock:connect("127.0.0.1", tonumber(ngx.var.arg_port)))
        assert(sock:sslhandshake(nil, ngx.var.arg_name, false))
        assert(sock:setkeepalive())
        ngx.say("pooled")
      }
    }
  }
}
]]

-- One LuaJIT tree with basiq for every nginx this run starts, under build/
-- (made again by each run, never removed by a spec).
local tree
function M.tree()
  tree = tree or procs.luajit_tree(procs.ROOT .. "/build/nginx-tree")
  return tree
end

local function relay()
  local via = { label = " (nginx cosockets)", ngx = true }
  local ng, handle
  local function call(payload, timeout)
    handle = handle or require("basiq.core").new()
    local o = handle:perform({ method = "POST", url = ng.url .. "/relay", headers = { "Content-Type: application/json" },
                               body = cjson.encode(payload), timeout = timeout + 10000 })
    assert(o.status == 200, "the relay failed: " .. tostring(o.status or o.message) .. "\n" .. ng.log())
    return cjson.decode(o.body)
  end
  via.transport = {
    request = function(_, req) return call(req, req.timeout or 60000) end,
    batch = function(_, reqs, concurrency)
      local longest = 0
      for _, r in ipairs(reqs) do longest = math.max(longest, r.timeout or 60000) end
      return call({ batch = reqs, concurrency = concurrency }, longest)
    end,
  }
  function via.start(lines)
    ng = procs.nginx(CONF, M.tree(), { EXTRA = lines or "" })
  end
  function via.stop()
    if handle then handle:close() end
    handle = nil
    if ng then ng.stop() end
    ng = nil
  end
  function via.log() return ng and ng.log() or "" end
  function via.url() return ng.url end
  function via.request(req) return via.transport:request(req) end
  return via
end

-- Why the nginx halves do not run here (nil: they do).
function M.no_nginx()
  if os.getenv("BASIQ_SPEC_NGINX") == "0" then
    return "the nginx transport's half runs in make test; make memcheck and make asan trace the suite's own"
      .. " process, not nginx's"
  end
  return procs.not_in_54()
end

-- { libcurl's } and, in the 5.4 run, { nginx's } as well: that one with
-- `skip` (the reason) where it cannot run, for the spec to say so.
function M.each()
  local handle
  local curl = { label = "", start = function() end, log = function() return "" end }
  function curl.request(req)
    handle = handle or require("basiq.core").new()
    return handle:perform(req)
  end
  function curl.stop()
    if handle then handle:close() end
    handle = nil
  end
  local list = { curl }
  local why = M.no_nginx()
  if not why then list[2] = relay()
  elseif not procs.not_in_54() then list[2] = { label = " (nginx cosockets)", skip = why } end
  return list
end

return M
