/* libFuzzer: core.escape, core.form and the UTF-8 check through the Lua
 * API, as the Lua layer calls them (src/encode.c). The input is split at
 * NUL bytes into form pairs. */
#include <stdint.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_basiq_core(lua_State *L);

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size;
  int n = 0;
  if (L == NULL) {
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "basiq.core", luaopen_basiq_core, 0);
    lua_setglobal(L, "core");
  }
  lua_getglobal(L, "core");
  lua_getfield(L, -1, "escape");
  lua_pushlstring(L, p, size);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) __builtin_trap(); /* escape never fails on a string */
  lua_pop(L, 1);
  lua_getfield(L, -1, "valid_utf8");
  lua_pushlstring(L, p, size);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) __builtin_trap();
  lua_pop(L, 2);
  lua_getfield(L, -1, "form");
  lua_newtable(L);
  while (p < end && n < 64) {
    const char *z = memchr(p, '\0', (size_t)(end - p));
    size_t len = z ? (size_t)(z - p) : (size_t)(end - p);
    lua_pushlstring(L, p, len);
    lua_rawseti(L, -2, ++n);
    p += len + (z ? 1 : 0);
  }
  if (n % 2) { /* an odd count is refused with an error, never a crash */
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) __builtin_trap();
  } else if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    __builtin_trap();
  }
  lua_settop(L, 0);
  /* free this input's garbage now, so libFuzzer's leak check (which scans
   * when an input leaves more allocations than it found) stays quiet */
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
