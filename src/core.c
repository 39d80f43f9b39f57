/* basiq.core: the C half of the SDK (HTTP through libcurl, encoders). */
#include <curl/curl.h>
#include "basiq.h"

static int global_ready = 0;

int luaopen_basiq_core(lua_State *L) {
  if (!global_ready) {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) return luaL_error(L, "basiq.core: curl_global_init: %s", curl_easy_strerror(rc));
    global_ready = 1;
  }
  lua_newtable(L);
  basiq_open_easy(L);
  lua_setfield(L, -2, "new");
  basiq_open_encode(L);
  lua_pushliteral(L, BASIQ_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, curl_version());
  lua_setfield(L, -2, "curl_version");
  return 1;
}
