/* basiq.core.new(): one libcurl easy handle, reused so connections are kept
 * alive between calls. The transfer itself is xfer.c's. */
#include <string.h>
#include "basiq.h"

static basiq_xfer *check_easy(lua_State *L) {
  basiq_xfer *x = luaL_checkudata(L, 1, BASIQ_EASY_MT);
  if (x->curl == NULL) luaL_error(L, "basiq.core: handle is closed");
  return x;
}

static int l_new(lua_State *L) {
  basiq_xfer *x = lua_newuserdata(L, sizeof *x);
  memset(x, 0, sizeof *x);
  luaL_setmetatable(L, BASIQ_EASY_MT);
  if (basiq_xfer_init(x) != 0) return luaL_error(L, "basiq.core: curl_easy_init failed");
  return 1;
}

static int l_close(lua_State *L) {
  basiq_xfer_cleanup(luaL_checkudata(L, 1, BASIQ_EASY_MT));
  return 0;
}

static int l_tostring(lua_State *L) {
  basiq_xfer *x = luaL_checkudata(L, 1, BASIQ_EASY_MT);
  lua_pushfstring(L, "basiq.core.easy (%s)", x->curl ? "open" : "closed");
  return 1;
}

/* h:perform(req) -> outcome: { status, headers, body } | { message, code, sent }
 * req = { method, url, headers = {"Name: value", ...}, body, mime,
 *         timeout, connect_timeout (ms), max_body (bytes), cainfo };
 * code: libcurl's result code; sent: whether any byte of the request may
 * have reached the server (lua/basiq/transport.lua has the contract). */
static int l_perform(lua_State *L) {
  basiq_xfer *x = check_easy(L);
  const char *err;
  lua_settop(L, 2);
  err = basiq_xfer_prepare(L, 2, x);
  if (!err) return basiq_xfer_push(L, x, curl_easy_perform(x->curl));
  basiq_push_failure(L, err, x->prep_rc, 0);
  return 1;
}

/* core.request(t, req) -> outcome: the libcurl transport's request step
 * (lua/basiq/transport.lua), t.handle made on first use. In C so that a
 * call costs one function call here, not a Lua wrapper as well. */
static int l_request(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  lua_getfield(L, 1, "handle");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    l_new(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "handle");
  }
  lua_replace(L, 1); /* perform(handle, req) */
  return l_perform(L);
}

static const luaL_Reg easy_methods[] = {
  {"perform", l_perform},
  {"close", l_close},
  {NULL, NULL}
};

int basiq_open_easy(lua_State *L) {
  basiq_handle_type(L, BASIQ_EASY_MT, easy_methods, l_close, l_tostring);
  lua_pushcfunction(L, l_request);
  lua_setfield(L, -2, "request");
  lua_pushcfunction(L, l_new);
  return 1;
}
