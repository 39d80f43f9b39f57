-- Starting and stopping the servers the specs talk to, on loopback only.
local socket = require("socket")

local M = {}

-- the project root, from this file's own path (spec/support/procs.lua)
local ROOT = debug.getinfo(1, "S").source:match("^@(.-)/?spec/support/procs%.lua$") or ""
if ROOT:sub(1, 1) ~= "/" then
  ROOT = (os.getenv("PWD") or ".") .. (ROOT == "" and "" or "/" .. ROOT)
end
M.ROOT = ROOT
M.SPEC_DIR = os.getenv("BASIQ_SPEC_DIR") or (ROOT .. "/../shared/basiq-openapi")

-- A port nothing listens on, never one handed out before in this run: the
-- kernel may give a just-closed port again, and two servers told the same
-- one would leave the second's clients talking to the first.
local handed = {}
function M.free_port()
  while true do
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    port = tonumber(port)
    if not handed[port] then
      handed[port] = true
      return port
    end
  end
end

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.sh_quote = sh_quote

-- Starts argv in the background, output to logfile; returns its pid.
function M.spawn(argv, logfile)
  local parts = {}
  for i, a in ipairs(argv) do parts[i] = sh_quote(a) end
  local p = assert(io.popen("exec " .. table.concat(parts, " ") .. " > " .. sh_quote(logfile)
    .. " 2>&1 < /dev/null & echo $!"))
  local pid = tonumber(p:read("*l"))
  p:close()
  assert(pid, "could not start " .. argv[1])
  return pid
end

function M.kill(pid)
  if pid then os.execute("kill " .. pid .. " 2>/dev/null; wait " .. pid .. " 2>/dev/null") end
end

-- os.execute returns true on 5.2+, 0 on 5.1 and LuaJIT
local function execute(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end
M.execute = execute

function M.alive(pid)
  return execute("kill -0 " .. pid .. " 2>/dev/null")
end

function M.wait_port(port, seconds, pid)
  local deadline = socket.gettime() + seconds
  while socket.gettime() < deadline do
    local c = socket.tcp()
    c:settimeout(0.2)
    if c:connect("127.0.0.1", port) then c:close(); return true end
    c:close()
    if pid and not M.alive(pid) then return false end
    socket.sleep(0.1)
  end
  return false
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end
M.read_file = read_file

-- A new temporary file holding content (a string, or a table written as
-- JSON, such as an OpenAPI document for basiq.load) -> its path.
function M.temp_file(content)
  if type(content) == "table" then content = require("cjson").encode(content) end
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  assert(f:write(content))
  f:close()
  return path
end

-- A new empty temporary folder: its path.
function M.temp_dir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(M.execute("mkdir -p " .. sh_quote(dir)))
  return dir
end

-- An https server on loopback (openssl s_server -www) with a certificate
-- for 127.0.0.1 that no CA signed: { url, cert (its path), stop() }.
function M.tls_server()
  local dir = M.temp_dir()
  assert(M.execute("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=loopback"
    .. " -addext subjectAltName=IP:127.0.0.1 -keyout " .. dir .. "/k.pem -out " .. dir .. "/c.pem 2>/dev/null"),
    "openssl could not make a certificate")
  local port = M.free_port()
  local pid = M.spawn({ "openssl", "s_server", "-accept", "127.0.0.1:" .. port, "-cert", dir .. "/c.pem",
    "-key", dir .. "/k.pem", "-www", "-quiet" }, dir .. "/s_server.log")
  assert(M.wait_port(port, 10, pid), "openssl s_server did not start")
  return { url = "https://127.0.0.1:" .. port, cert = dir .. "/c.pem",
           stop = function() M.kill(pid); os.execute("rm -rf " .. sh_quote(dir)) end }
end

-- GET url through the core (no SDK rules in the way) -> its decoded JSON;
-- for the stats routes of the suite's server.
function M.get_json(url)
  local h = require("basiq.core").new()
  local o = h:perform({ method = "GET", url = url })
  h:close()
  assert(o.status == 200, "GET " .. url .. " answered " .. tostring(o.status or o.message))
  return require("cjson").decode(o.body)
end

-- Children that are not the suite's own Lua: never under make asan's
-- preloaded runtime (curl and nginx hang with it).
M.PLAIN = "env -u LD_PRELOAD "

-- Output (stdout and stderr) of a shell command.
function M.sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

-- For specs that drive runtimes of their own (nginx, other processes,
-- luarocks): nil in the Lua 5.4 run, else why they do not run here.
function M.not_in_54()
  if not jit and _VERSION == "Lua 5.4" then return nil end
  return "runs once, in the Lua 5.4 run (it drives its own runtimes: nginx embeds LuaJIT); this is "
    .. (jit and jit.version or _VERSION)
end

-- A LuaRocks tree with basiq built for LuaJIT, as nginx loads it: its path
-- (a fresh temporary one unless given).
function M.luajit_tree(tree)
  if tree then
    os.execute("rm -rf " .. M.sh_quote(tree))
  else
    tree = os.tmpname()
    os.remove(tree)
  end
  local out = M.sh("cd " .. ROOT .. " && luarocks --lua-version=5.1 make --deps-mode=none --tree=" .. tree
    .. " rockspec/basiq-scm-1.rockspec LUA_INCDIR=/usr/include/luajit-2.1; echo exit:$?")
  assert(out:match("exit:0%s*$"), out)
  return tree
end

-- A private nginx on loopback running conf, an nginx.conf whose @TREE@ and
-- @PORT@ are filled in (and http-level lines for the Lua module, the tree's
-- paths and the temp folders are added under NGINX_HTTP), with env (a list
-- of NAME=value) in its environment: { url, log(), stop() }.
M.NGINX_MAIN = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon off;
error_log logs/error.log;
pid logs/nginx.pid;
]]
M.NGINX_HTTP = [[
  access_log off;
  client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp; uwsgi_temp_path tmp; scgi_temp_path tmp;
  lua_package_path "@TREE@/share/lua/5.1/?.lua;@TREE@/share/lua/5.1/?/init.lua;;";
  lua_package_cpath "@TREE@/lib/lua/5.1/?.so;;";
]]
function M.nginx(conf, tree, vars, env)
  local dir = os.tmpname()
  os.remove(dir)
  assert(M.execute("mkdir -p " .. dir .. "/logs " .. dir .. "/tmp"))
  local port = M.free_port()
  vars = vars or {}
  vars.TREE, vars.PORT = tree, tostring(port)
  conf = (M.NGINX_MAIN .. conf):gsub("@NGINX_HTTP@", M.NGINX_HTTP):gsub("@(%u+)@", function(k)
    return assert(vars[k], "no value for @" .. k .. "@")
  end)
  local f = assert(io.open(dir .. "/nginx.conf", "w"))
  f:write(conf)
  f:close()
  local argv = { "env", "-u", "LD_PRELOAD" }
  for _, e in ipairs(env or {}) do argv[#argv + 1] = e end
  for _, a in ipairs({ "nginx", "-p", dir, "-c", dir .. "/nginx.conf" }) do argv[#argv + 1] = a end
  local pid = M.spawn(argv, dir .. "/logs/out.log") -- see PLAIN
  local function log() return read_file(dir .. "/logs/error.log") .. read_file(dir .. "/logs/out.log") end
  assert(M.wait_port(port, 10, pid), "nginx did not start:\n" .. log())
  return { url = "http://127.0.0.1:" .. port, pid = pid, log = log,
           stop = function() M.kill(pid); os.execute("rm -rf " .. dir) end }
end

-- A redis-server of the suite's own on loopback (port: a free one unless
-- given; password: its requirepass, if any): { port, pid, cli(args) -> output, stop() }.
function M.redis_server(port, password)
  port = port or M.free_port()
  local dir = os.tmpname()
  os.remove(dir)
  assert(M.execute("mkdir -p " .. dir))
  local argv = { "env", "-u", "LD_PRELOAD", "redis-server", "--port", tostring(port), "--bind", "127.0.0.1",
    "--save", "", "--appendonly", "no", "--dir", dir }
  if password then
    argv[#argv + 1] = "--requirepass"
    argv[#argv + 1] = password
  end
  local pid = M.spawn(argv, dir .. "/log")
  assert(M.wait_port(port, 10, pid), "redis-server did not start:\n" .. read_file(dir .. "/log"))
  local auth = password and " -a " .. sh_quote(password) .. " --no-auth-warning" or ""
  return {
    port = port, pid = pid,
    cli = function(args) return M.sh(M.PLAIN .. "redis-cli -p " .. port .. auth .. " " .. args) end,
    stop = function() -- returns once the port is closed
      M.kill(pid)
      local deadline = socket.gettime() + 10
      while socket.gettime() < deadline do
        local c = socket.tcp()
        c:settimeout(0.2)
        local up = c:connect("127.0.0.1", port)
        c:close()
        if not up then break end
        socket.sleep(0.02)
      end
      os.execute("rm -rf " .. dir)
    end,
  }
end

-- The interpreter this run is on (busted --run=<lua>), to run children
-- on the same one against its own build of the core.
M.LUA = rawget(_G, "jit") and "luajit" or "lua" .. _VERSION:match("%d+%.%d+")
M.LUA_ENV = "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_3 -u LUA_CPATH_5_3 -u LUA_PATH_5_2 -u LUA_CPATH_5_2"
  .. " LUA_PATH=" .. sh_quote(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;")
  .. " LUA_CPATH=" .. sh_quote(ROOT .. "/build/" .. M.LUA .. "/?.so;;")

-- Runs a shell command -> exit code, stdout, stderr.
function M.run(cmd)
  local out, err = os.tmpname(), os.tmpname()
  local p = assert(io.popen("(" .. cmd .. ") > " .. sh_quote(out) .. " 2> " .. sh_quote(err) .. "; echo $?"))
  local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
  p:close()
  local o, e = read_file(out), read_file(err)
  os.remove(out)
  os.remove(err)
  return code, o, e
end

-- A Prism mock of one Basiq definition: { url, pid, stop() }. With
-- upstream (a URL), Prism's proxy in front of it instead, which checks
-- every request and answer against the definition and lists what it found
-- wrong in the answer's sl-violations header (the answer passes unchanged).
function M.prism(def, upstream)
  local port = M.free_port()
  local log = os.tmpname()
  local argv = { ROOT .. "/node_modules/.bin/prism", upstream and "proxy" or "mock", "-h", "127.0.0.1",
    "-p", tostring(port), M.SPEC_DIR .. "/" .. def }
  if upstream then argv[#argv + 1] = upstream end
  local pid = M.spawn(argv, log)
  return {
    url = "http://127.0.0.1:" .. port, port = port, pid = pid, log = log,
    ready = function(_, seconds)
      if M.wait_port(port, seconds or 90, pid) then return true end
      error("Prism did not start for " .. def .. ":\n" .. read_file(log):sub(-2000))
    end,
    stop = function() M.kill(pid); os.remove(log) end,
  }
end

-- `basiq mock` (bin/basiq, on this run's runtime against its own build of
-- the core), with extra arguments (a list, e.g. { "--webhook", url,
-- "--secret", s }): { url, pid, log(), stop() } once it prints its URL.
function M.mock(args)
  local argv = { M.LUA, ROOT .. "/bin/basiq", "mock", "--port", "0" } -- bin/basiq finds lua/ and build/ itself
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  local log = os.tmpname()
  local pid = M.spawn(argv, log)
  local deadline = socket.gettime() + 10
  local url
  repeat
    url = read_file(log):match("basiq mock: listening on (http://[%d.:]+)")
    if not url then socket.sleep(0.02) end
  until url or socket.gettime() > deadline or not M.alive(pid)
  if not url then
    local text = read_file(log)
    M.kill(pid)
    os.remove(log)
    error("basiq mock did not start:\n" .. text)
  end
  return { url = url, pid = pid, log = function() return read_file(log) end,
           stop = function() M.kill(pid); os.remove(log) end }
end

-- The spec suite's own HTTP server (spec/support/httpd.lua): { url, stop() }.
function M.httpd()
  local port = M.free_port()
  local log = os.tmpname()
  local pid = M.spawn({ "lua5.4", ROOT .. "/spec/support/httpd.lua", tostring(port) }, log)
  if not M.wait_port(port, 10, pid) then error("httpd did not start:\n" .. read_file(log)) end
  return {
    url = "http://127.0.0.1:" .. port, port = port, pid = pid,
    stop = function() M.kill(pid); os.remove(log) end,
  }
end

-- spec/support/lagproxy.lua in front of a loopback port: each connection's
-- bytes held ms milliseconds before they pass.
function M.lagproxy(target_port, ms)
  local port = M.free_port()
  local log = os.tmpname()
  local pid = M.spawn({ "lua5.4", ROOT .. "/spec/support/lagproxy.lua", tostring(port), tostring(target_port),
                        tostring(ms) }, log)
  if not M.wait_port(port, 10, pid) then error("lagproxy did not start:\n" .. read_file(log)) end
  return { port = port, pid = pid, stop = function() M.kill(pid); os.remove(log) end }
end

return M
