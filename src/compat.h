/* Lua 5.1 / LuaJIT shims: only what the core uses. */
#ifndef BASIQ_COMPAT_H
#define BASIQ_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register((L), NULL, (l)))
static inline void *basiq_testudata(lua_State *L, int i, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2)) p = NULL;
  lua_pop(L, 2);
  return p;
}
#define luaL_testudata basiq_testudata
#define luaL_setmetatable(L, t) (luaL_getmetatable(L, t), lua_setmetatable(L, -2))
#define luaL_setfuncs(L, l, n) luaL_register((L), NULL, (l))
#endif

#endif
