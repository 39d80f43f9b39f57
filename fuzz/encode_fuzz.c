/* libFuzzer: core.escape, core.form and core.valid_utf8 (src/encode.c)
 * through the Lua API, as the Lua layer calls them, each checked against
 * what it promises: escape gives only unreserved bytes and %XX and decodes
 * back to its input; form gives n/2 "k=v" joined by '&'; valid_utf8 agrees
 * with Lua 5.4's own strict utf8.len. The input is split at NUL bytes into
 * form items. */
#include <stdint.h>
#include <string.h>
#include <curl/curl.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_basiq_core(lua_State *L);

static lua_State *L;

static int unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

static int hexdigit(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

static void check_escaped(const char *in, size_t inlen, const char *e, size_t elen) {
  size_t i;
  int n = 0;
  char *back;
  for (i = 0; i < elen; i++) {
    unsigned char c = (unsigned char)e[i];
    if (c == '%') {
      if (i + 2 >= elen) __builtin_trap(); /* a cut-short %XX */
      if (!hexdigit((unsigned char)e[i + 1]) || !hexdigit((unsigned char)e[i + 2])) __builtin_trap();
      i += 2;
    } else if (!unreserved(c)) {
      __builtin_trap();
    }
  }
  back = curl_easy_unescape(NULL, e, (int)elen, &n);
  if (back == NULL) return; /* out of memory: nothing to compare */
  if ((size_t)n != inlen || memcmp(back, in, inlen) != 0) __builtin_trap();
  curl_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size, *e;
  size_t elen, i;
  int n = 0, amps = 0, eqs = 0;
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
  e = lua_tolstring(L, -1, &elen);
  check_escaped(p, size, e, elen);
  lua_pop(L, 1);

  lua_getfield(L, -1, "valid_utf8");
  lua_pushlstring(L, p, size);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) __builtin_trap();
  lua_getglobal(L, "utf8");
  lua_getfield(L, -1, "len");
  lua_remove(L, -2);
  lua_pushlstring(L, p, size);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) __builtin_trap();
  /* stack: ok, badpos, len-or-nil, pos */
  if (lua_toboolean(L, -4) != !lua_isnil(L, -2)) __builtin_trap();
  if (!lua_toboolean(L, -4) && lua_tointeger(L, -3) != lua_tointeger(L, -1)) __builtin_trap();
  lua_pop(L, 4);

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
  } else {
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) __builtin_trap();
    e = lua_tolstring(L, -1, &elen);
    for (i = 0; i < elen; i++) {
      amps += e[i] == '&';
      eqs += e[i] == '=';
    }
    if (eqs != n / 2 || amps != (n ? n / 2 - 1 : 0)) __builtin_trap();
  }
  lua_settop(L, 0);
  /* free this input's garbage now, so libFuzzer's leak check (which scans
   * when an input leaves more allocations than it found) stays quiet */
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
