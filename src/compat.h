/* Lua 5.1 / LuaJIT shims: only what the core uses. LuaJIT 2.1 already has
 * the 5.2 auxiliary functions (it defines luaL_newlib); PUC 5.1 does not. */
#ifndef BASIQ_COMPAT_H
#define BASIQ_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen((L), (i))
#ifndef luaL_newlib
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register((L), NULL, (l)))
#define luaL_setmetatable(L, t) (luaL_getmetatable(L, t), lua_setmetatable(L, -2))
#define luaL_setfuncs(L, l, n) luaL_register((L), NULL, (l)) /* the core never uses upvalues */
#endif
#endif

#endif
