-- make lint: luacheck over the Lua sources, specs, tools, examples and bench.
std = "lua54+luajit"
max_line_length = 140
exclude_files = { "node_modules/**", "bench/node_modules/**", "bench/.work/**", ".rocks/**" }
files["spec/"] = { std = "+busted" }
-- the nginx transport and the OpenResty examples run inside nginx
files["lua/basiq/transport/"] = { read_globals = { "ngx" } } -- nginx's transport; init.lua detects nginx
files["lua/basiq/webhook/shdict_store.lua"] = { read_globals = { "ngx" } }
files["lua/basiq/webhook/receiver.lua"] = { read_globals = { "ngx" } } -- a worker's pid, for its marks
files["lua/basiq/call/observe.lua"] = { read_globals = { "ngx" } } -- logs through nginx there
files["lua/basiq/jobs.lua"] = { read_globals = { "ngx" } } -- light threads there
files["lua/basiq/redis/"] = { read_globals = { "ngx" } } -- cosockets there
files["examples/openresty/"] = { globals = { "ngx" } } -- handlers set ngx.status
files["bench/hand.lua"] = { read_globals = { "ngx" } } -- the nginx section's hand-written handler
-- the command, a Lua script without the .lua suffix
files["bin/basiq"] = {}
-- LuaLS declarations: empty functions whose arguments only name the types
files["library/"] = { unused_args = false, unused = false, max_line_length = false } -- enums make long unions
