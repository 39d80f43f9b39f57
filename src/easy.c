/* basiq.core.easy: one libcurl easy handle, reused so connections are kept
 * alive. Everything read from Lua is read before curl_easy_perform; the
 * libcurl callbacks only touch C buffers, so no Lua error can longjmp
 * through libcurl frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <curl/curl.h>
#include "basiq.h"

typedef struct {
  CURL *curl;
  struct curl_slist *headers; /* owned between perform calls, freed on reuse */
  curl_mime *mime;
  basiq_buf body, head;
  size_t max_body;
  int too_big;
  char errbuf[CURL_ERROR_SIZE];
} easy;

#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_BODY ((size_t)64 * 1024 * 1024)

static void easy_release_request(easy *e) {
  if (e->headers) { curl_slist_free_all(e->headers); e->headers = NULL; }
  if (e->mime) { curl_mime_free(e->mime); e->mime = NULL; }
}

static void easy_cleanup(easy *e) {
  easy_release_request(e);
  if (e->curl) { curl_easy_cleanup(e->curl); e->curl = NULL; }
  basiq_buf_free(&e->body);
  basiq_buf_free(&e->head);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  easy *e = ud;
  size_t len = size * n;
  if (e->body.len + len > e->max_body) { e->too_big = 1; return 0; }
  return basiq_buf_append(&e->body, p, len) == 0 ? len : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  easy *e = ud;
  size_t len = size * n;
  if (e->head.len + len > 1024 * 1024) return 0; /* curl caps too; belt and braces */
  return basiq_buf_append(&e->head, p, len) == 0 ? len : 0;
}

static easy *check_easy(lua_State *L) {
  easy *e = luaL_checkudata(L, 1, BASIQ_EASY_MT);
  if (e->curl == NULL) luaL_error(L, "basiq.core: handle is closed");
  return e;
}

static int l_new(lua_State *L) {
  easy *e = lua_newuserdata(L, sizeof *e);
  memset(e, 0, sizeof *e);
  luaL_setmetatable(L, BASIQ_EASY_MT);
  e->curl = curl_easy_init();
  if (e->curl == NULL) return luaL_error(L, "basiq.core: curl_easy_init failed");
  return 1;
}

static int l_close(lua_State *L) {
  easy_cleanup(luaL_checkudata(L, 1, BASIQ_EASY_MT));
  return 0;
}

static int l_tostring(lua_State *L) {
  easy *e = luaL_checkudata(L, 1, BASIQ_EASY_MT);
  lua_pushfstring(L, "basiq.core.easy (%s)", e->curl ? "open" : "closed");
  return 1;
}

static long opt_ms(lua_State *L, int t, const char *k, long def) {
  lua_Number v;
  lua_getfield(L, t, k);
  v = lua_isnil(L, -1) ? (lua_Number)def : luaL_checknumber(L, -1);
  lua_pop(L, 1);
  if (!(v >= 1)) luaL_error(L, "basiq.core: %s must be a positive number of milliseconds", k);
  return v > 2147483647.0 ? 2147483647L : (long)v; /* no overflowing cast */
}

static const char *opt_str(lua_State *L, int t, const char *k, size_t *len) {
  const char *s;
  lua_getfield(L, t, k);
  s = lua_isnil(L, -1) ? NULL : luaL_checklstring(L, -1, len);
  lua_pop(L, 1); /* the request table keeps the string alive during perform */
  return s;
}

/* Builds e->mime from req.mime = { {name=, data=|path=, filename=, type=}, ... } */
static const char *build_mime(lua_State *L, easy *e, int t) {
  size_t i, n = lua_rawlen(L, t);
  e->mime = curl_mime_init(e->curl);
  if (e->mime == NULL) return "curl_mime_init failed";
  for (i = 1; i <= n; i++) {
    curl_mimepart *part;
    const char *name, *path, *fname, *type, *data;
    size_t dlen = 0;
    lua_rawgeti(L, t, (int)i);
    luaL_checktype(L, -1, LUA_TTABLE);
    name = opt_str(L, -1, "name", NULL);
    data = opt_str(L, -1, "data", &dlen);
    path = opt_str(L, -1, "path", NULL);
    fname = opt_str(L, -1, "filename", NULL);
    type = opt_str(L, -1, "type", NULL);
    /* the part table stays referenced by req.mime, so its strings stay alive */
    lua_pop(L, 1);
    if (name == NULL) return "multipart part without a name";
    part = curl_mime_addpart(e->mime);
    if (part == NULL) return "curl_mime_addpart failed";
    if (curl_mime_name(part, name) != CURLE_OK) return "curl_mime_name failed";
    if (path) {
      CURLcode rc = curl_mime_filedata(part, path);
      if (rc != CURLE_OK) return curl_easy_strerror(rc);
    } else if (data) {
      if (curl_mime_data(part, data, dlen) != CURLE_OK) return "curl_mime_data failed";
    }
    if (fname && curl_mime_filename(part, fname) != CURLE_OK) return "curl_mime_filename failed";
    if (type && curl_mime_type(part, type) != CURLE_OK) return "curl_mime_type failed";
  }
  return NULL;
}

static void push_header(void *ud, const char *name, size_t nlen, const char *value, size_t vlen) {
  lua_State *L = ud;
  char lower[256];
  size_t i;
  if (nlen >= sizeof lower) return; /* no legitimate header name is that long */
  for (i = 0; i < nlen; i++) lower[i] = (char)tolower((unsigned char)name[i]);
  lua_pushlstring(L, lower, nlen);
  lua_pushvalue(L, -1);
  lua_rawget(L, -3);
  if (lua_isstring(L, -1)) { /* repeated header: join as HTTP allows */
    lua_pushliteral(L, ", ");
    lua_pushlstring(L, value, vlen);
    lua_concat(L, 3);
  } else {
    lua_pop(L, 1);
    lua_pushlstring(L, value, vlen);
  }
  lua_rawset(L, -3);
}

#define SET(opt, val) do { if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK) goto fail; } while (0)

/* h:perform(req) -> status, headers, body | nil, message, curlcode
 * req = { method, url, headers = {"Name: value", ...}, body, mime,
 *         timeout, connect_timeout (ms), max_body (bytes), cainfo } */
static int l_perform(lua_State *L) {
  easy *e = check_easy(L);
  CURL *c = e->curl;
  CURLcode rc = CURLE_OK;
  const char *method, *url, *body, *cainfo, *merr = NULL;
  size_t blen = 0, i, n;
  long timeout, ctimeout, status = 0;
  double max_body;

  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  method = opt_str(L, 2, "method", NULL);
  url = opt_str(L, 2, "url", NULL);
  if (method == NULL || url == NULL) return luaL_error(L, "basiq.core: request needs method and url");
  body = opt_str(L, 2, "body", &blen);
  cainfo = opt_str(L, 2, "cainfo", NULL);
  timeout = opt_ms(L, 2, "timeout", DEFAULT_TIMEOUT_MS);
  ctimeout = opt_ms(L, 2, "connect_timeout", DEFAULT_CONNECT_TIMEOUT_MS);
  lua_getfield(L, 2, "max_body");
  max_body = lua_isnil(L, -1) ? (double)DEFAULT_MAX_BODY : luaL_checknumber(L, -1);
  lua_pop(L, 1);

  easy_release_request(e);
  lua_getfield(L, 2, "headers");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    n = lua_rawlen(L, -1);
    for (i = 1; i <= n; i++) {
      struct curl_slist *h;
      lua_rawgeti(L, -1, (int)i);
      h = curl_slist_append(e->headers, luaL_checkstring(L, -1));
      lua_pop(L, 1);
      if (h == NULL) { merr = "out of memory"; break; }
      e->headers = h;
    }
  }
  lua_pop(L, 1);
  if (merr == NULL) {
    lua_getfield(L, 2, "mime");
    if (!lua_isnil(L, -1)) {
      luaL_checktype(L, -1, LUA_TTABLE);
      merr = build_mime(L, e, lua_gettop(L));
    }
    lua_pop(L, 1);
  }
  if (merr) {
    lua_pushnil(L);
    lua_pushfstring(L, "basiq.core: %s", merr);
    return 2;
  }

  /* From here on nothing may raise until curl_easy_perform has returned. */
  curl_easy_reset(c); /* keeps the connection, DNS and TLS session caches */
  e->errbuf[0] = '\0';
  e->body.len = e->head.len = 0;
  e->too_big = 0;
  e->max_body = !(max_body > 0) ? 0 : max_body >= 4503599627370496.0 ? (size_t)1 << 52 : (size_t)max_body;
  SET(CURLOPT_ERRORBUFFER, e->errbuf);
  SET(CURLOPT_URL, url);
  SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  if (cainfo) SET(CURLOPT_CAINFO, cainfo);
  SET(CURLOPT_PATH_AS_IS, 1L); /* the Lua layer built the path; curl must not rewrite it */
  SET(CURLOPT_TIMEOUT_MS, timeout);
  SET(CURLOPT_CONNECTTIMEOUT_MS, ctimeout);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_USERAGENT, "basiq-lua/" BASIQ_VERSION);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, e);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, e);
  if (e->headers) SET(CURLOPT_HTTPHEADER, e->headers);
  if (e->mime) {
    SET(CURLOPT_MIMEPOST, e->mime);
  } else if (body) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    SET(CURLOPT_POSTFIELDS, body); /* anchored by req.body during perform */
  }
  if (strcmp(method, "GET") == 0) {
    if (!body && !e->mime) SET(CURLOPT_HTTPGET, 1L);
    else SET(CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "POST") == 0) {
    if (!body && !e->mime) { SET(CURLOPT_POSTFIELDSIZE, 0L); SET(CURLOPT_POSTFIELDS, ""); }
  } else {
    SET(CURLOPT_CUSTOMREQUEST, method);
  }

  rc = curl_easy_perform(c);
  if (rc == CURLE_OK) rc = curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) goto fail;

  lua_pushinteger(L, status);
  lua_newtable(L);
  basiq_parse_headers(e->head.data, e->head.len, push_header, L);
  lua_pushlstring(L, e->body.len ? e->body.data : "", e->body.len);
  if (e->body.cap > 1024 * 1024) basiq_buf_free(&e->body); /* don't pin a huge page */
  return 3;

fail:
  lua_pushnil(L);
  if (e->too_big) {
    char msg[64];
    snprintf(msg, sizeof msg, "response body larger than %zu bytes", e->max_body);
    lua_pushstring(L, msg);
  } else
    lua_pushstring(L, e->errbuf[0] ? e->errbuf : curl_easy_strerror(rc));
  lua_pushinteger(L, (lua_Integer)rc);
  return 3;
}

static const luaL_Reg easy_methods[] = {
  {"perform", l_perform},
  {"close", l_close},
  {NULL, NULL}
};

int basiq_open_easy(lua_State *L) {
  if (luaL_newmetatable(L, BASIQ_EASY_MT)) {
    luaL_newlib(L, easy_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "basiq.core.easy");
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_new);
  return 1;
}
