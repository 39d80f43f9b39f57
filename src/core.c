/* basiq.core: the C half of the SDK (HTTP through libcurl, encoders). */
#include <errno.h>
#include <time.h>
#include <curl/curl.h>
#include "basiq.h"

/* core.now() -> seconds on a monotonic clock: token lifetimes and retry
 * deadlines must not jump with the wall clock. */
static int l_now(lua_State *L) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return luaL_error(L, "basiq.core: clock_gettime failed");
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* core.sleep(seconds): blocking; used between retries outside nginx. */
static int l_sleep(lua_State *L) {
  lua_Number s = luaL_checknumber(L, 1);
  struct timespec ts;
  if (!(s > 0)) return 0;
  if (s > 86400) s = 86400;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  return 0;
}

/* libcurl counts init/cleanup pairs, so each Lua state that loads the
 * module takes one reference and gives it back when the state closes
 * (before Lua unloads the library). */
static int global_gc(lua_State *L) {
  (void)L;
  curl_global_cleanup();
  return 0;
}

/* The string on top of the stack, NULL for nil; anything else raises naming
 * the field. Only a real string: lua_tolstring would turn a number into one
 * in that stack slot alone, which callers pop while they keep the pointer
 * (the request table anchors a string, never a converted number). */
const char *basiq_string_field(lua_State *L, const char *name, size_t *len) {
  if (lua_isnil(L, -1)) return NULL;
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "basiq.core: %s must be a string", name);
  return lua_tolstring(L, -1, len);
}

/* The metatable of a handle type: methods, and close as __gc and __close
 * (close must be idempotent). */
void basiq_handle_type(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
                       lua_CFunction tostring) {
  if (luaL_newmetatable(L, name)) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
}

int luaopen_basiq_core(lua_State *L) {
  CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) return luaL_error(L, "basiq.core: curl_global_init: %s", curl_easy_strerror(rc));
  lua_newuserdata(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, global_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "basiq.core.global");

  lua_newtable(L);
  basiq_open_easy(L);
  lua_setfield(L, -2, "new");
  basiq_open_multi(L);
  lua_setfield(L, -2, "multi");
  basiq_open_redis(L);
  lua_setfield(L, -2, "redis");
  basiq_open_encode(L);
  basiq_open_reply(L);
  basiq_open_wire(L);
  basiq_open_crypto(L);
  basiq_open_numbers(L);
  {
    static const luaL_Reg fns[] = { {"now", l_now}, {"sleep", l_sleep}, {NULL, NULL} };
    luaL_setfuncs(L, fns, 0);
  }
  lua_pushliteral(L, BASIQ_VERSION);
  lua_setfield(L, -2, "version");
  {
    /* not curl_version(): it initialises OpenLDAP and SASL, which never free */
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    lua_pushfstring(L, "libcurl/%s %s", v->version, v->ssl_version ? v->ssl_version : "no-ssl");
    lua_setfield(L, -2, "curl_version");
  }
  return 1;
}
