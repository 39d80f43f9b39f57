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

/* h:perform(req) -> status, headers, body | nil, message, curlcode, sent
 * req = { method, url, headers = {"Name: value", ...}, body, mime,
 *         timeout, connect_timeout (ms), max_body (bytes), cainfo };
 * sent: whether any byte of the request may have reached the server. */
static int l_perform(lua_State *L) {
  basiq_xfer *x = check_easy(L);
  const char *err;
  lua_settop(L, 2);
  err = basiq_xfer_prepare(L, 2, x);
  if (err) {
    lua_pushnil(L);
    lua_pushfstring(L, "basiq.core: %s", err);
    lua_pushinteger(L, (lua_Integer)x->prep_rc);
    lua_pushboolean(L, 0);
    return 4;
  }
  return basiq_xfer_push(L, x, curl_easy_perform(x->curl));
}

static const luaL_Reg easy_methods[] = {
  {"perform", l_perform},
  {"close", l_close},
  {NULL, NULL}
};

int basiq_open_easy(lua_State *L) {
  basiq_handle_type(L, BASIQ_EASY_MT, easy_methods, l_close, l_tostring);
  lua_pushcfunction(L, l_new);
  return 1;
}
