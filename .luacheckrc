-- make lint: luacheck over the Lua sources, specs, tools, examples and bench.
std = "lua54+luajit"
max_line_length = 140
exclude_files = { "node_modules/**", "bench/node_modules/**", "bench/.work/**", ".rocks/**" }
files["spec/"] = { std = "+busted" }
-- the nginx transport and the OpenResty examples run inside nginx
files["lua/basiq/ngx.lua"] = { read_globals = { "ngx" } }
files["lua/basiq/ngx_stats.lua"] = { read_globals = { "ngx" } }
files["lua/basiq/transport.lua"] = { read_globals = { "ngx" } } -- detects nginx
files["lua/basiq/deliveries/shdict.lua"] = { read_globals = { "ngx" } }
files["lua/basiq/observe.lua"] = { read_globals = { "ngx" } } -- logs through nginx there
files["lua/basiq/redis_store.lua"] = { read_globals = { "ngx" } } -- cosockets there
files["examples/openresty/"] = { globals = { "ngx" } } -- handlers set ngx.status
-- the command, a Lua script without the .lua suffix
files["bin/basiq"] = {}
-- LuaLS declarations: empty functions whose arguments only name the types
files["library/"] = { unused_args = false, unused = false, max_line_length = false } -- enums make long unions
