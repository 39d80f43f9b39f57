/* A request's bytes for a socket the Lua side owns (nginx's cosockets):
 * the URL read by libcurl's own URL parser, so both transports agree on
 * where a request goes, then the request line, Host, the Lua header lines,
 * the lines every request sends, and the body (multipart built here).
 * It refuses, never sends, what libcurl would refuse: a scheme other than
 * http or https, credentials in the URL, CR, LF or NUL in a header line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/rand.h>
#include "basiq.h"

/* The lines every request sends after the Lua ones, as the libcurl
 * transport does (xfer.c), but asking for gzip only: the coding reply.c
 * decodes. */
#define FIXED_LINES "User-Agent: basiq-lua/" BASIQ_VERSION "\r\nAccept-Encoding: gzip\r\n"

/* The parts of a URL a request needs, each owned by libcurl until freed. */
typedef struct {
  CURLU *u;
  char *scheme, *host, *port, *path, *query;
} url_parts;

static void free_parts(url_parts *p) {
  curl_free(p->scheme);
  curl_free(p->host);
  curl_free(p->port);
  curl_free(p->path);
  curl_free(p->query);
  if (p->u) curl_url_cleanup(p->u);
  memset(p, 0, sizeof *p);
}

/* NULL, or why the URL cannot be sent (and its kind in *kind). */
static const char *read_url(const char *url, url_parts *p, const char **kind) {
  CURLUcode rc;
  char *user = NULL;
  *kind = "url";
  memset(p, 0, sizeof *p);
  if ((p->u = curl_url()) == NULL) return "out of memory";
  rc = curl_url_set(p->u, CURLUPART_URL, url, CURLU_PATH_AS_IS);
  if (rc != CURLUE_OK) return curl_url_strerror(rc);
  if (curl_url_get(p->u, CURLUPART_SCHEME, &p->scheme, 0) != CURLUE_OK) return "no scheme";
  if (strcmp(p->scheme, "http") != 0 && strcmp(p->scheme, "https") != 0) {
    *kind = "protocol";
    return "only http and https are allowed";
  }
  if (curl_url_get(p->u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
    curl_free(user);
    return "a URL with credentials in it is refused";
  }
  if (curl_url_get(p->u, CURLUPART_HOST, &p->host, 0) != CURLUE_OK) return "no host";
  if (curl_url_get(p->u, CURLUPART_PORT, &p->port, CURLU_DEFAULT_PORT) != CURLUE_OK) return "no port";
  if (curl_url_get(p->u, CURLUPART_PATH, &p->path, 0) != CURLUE_OK) return "no path";
  rc = curl_url_get(p->u, CURLUPART_QUERY, &p->query, 0);
  if (rc != CURLUE_OK && rc != CURLUE_NO_QUERY) return curl_url_strerror(rc);
  return NULL;
}

static int is_token(const char *s) {
  if (*s == '\0') return 0;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '-')) return 0;
  return 1;
}

/* Adds s with '"', CR and LF percent-escaped, as libcurl writes a
 * multipart name or file name. */
static void add_quoted(luaL_Buffer *b, const char *s) {
  for (; *s; s++) {
    if (*s == '"') luaL_addstring(b, "%22");
    else if (*s == '\r') luaL_addstring(b, "%0D");
    else if (*s == '\n') luaL_addstring(b, "%0A");
    else luaL_addchar(b, *s);
  }
}

static const char *field(lua_State *L, int t, const char *k, size_t *len) {
  const char *s;
  lua_getfield(L, t, k);
  s = lua_isnil(L, -1) ? NULL : luaL_checklstring(L, -1, len);
  lua_pop(L, 1); /* req.mime keeps the string alive */
  return s;
}

/* Pushes the multipart body of req.mime (at index t) and writes its
 * boundary; NULL, or why it cannot be built. */
static const char *push_multipart(lua_State *L, int t, char boundary[41]) {
  unsigned char rnd[8];
  size_t i, n = lua_rawlen(L, t);
  luaL_Buffer b;
  if (RAND_bytes(rnd, sizeof rnd) != 1) return "no random bytes for a multipart boundary";
  memcpy(boundary, "------------------------", 24);
  for (i = 0; i < sizeof rnd; i++) snprintf(boundary + 24 + 2 * i, 3, "%02x", rnd[i]);
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    size_t dlen = 0;
    const char *name, *data, *path, *fname, *type;
    lua_rawgeti(L, t, (int)i);
    luaL_checktype(L, -1, LUA_TTABLE);
    name = field(L, -1, "name", NULL);
    data = field(L, -1, "data", &dlen);
    path = field(L, -1, "path", NULL);
    fname = field(L, -1, "filename", NULL);
    type = field(L, -1, "type", NULL);
    lua_pop(L, 1);
    if (name == NULL) return "multipart part without a name";
    luaL_addstring(&b, "--");
    luaL_addstring(&b, boundary);
    luaL_addstring(&b, "\r\nContent-Disposition: form-data; name=\"");
    add_quoted(&b, name);
    luaL_addchar(&b, '"');
    if (fname) {
      luaL_addstring(&b, "; filename=\"");
      add_quoted(&b, fname);
      luaL_addchar(&b, '"');
    }
    if (type) {
      if (strpbrk(type, "\r\n")) return "a multipart type contains CR or LF";
      luaL_addstring(&b, "\r\nContent-Type: ");
      luaL_addstring(&b, type);
    }
    luaL_addstring(&b, "\r\n\r\n");
    if (path) {
      char chunk[8192];
      size_t got;
      FILE *f = fopen(path, "rb");
      if (f == NULL) return "cannot open a multipart file";
      while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) luaL_addlstring(&b, chunk, got);
      if (ferror(f)) { fclose(f); return "cannot read a multipart file"; }
      fclose(f);
    } else if (data) {
      luaL_addlstring(&b, data, dlen);
    }
    luaL_addstring(&b, "\r\n");
  }
  luaL_addstring(&b, "--");
  luaL_addstring(&b, boundary);
  luaL_addstring(&b, "--\r\n");
  luaL_pushresult(&b);
  return NULL;
}

/* Adds the Lua header lines of req.headers (at index t); NULL, or why not. */
static const char *add_lines(lua_State *L, luaL_Buffer *b, int t, int *has_accept) {
  size_t i, n = lua_rawlen(L, t);
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *line;
    lua_rawgeti(L, t, (int)i);
    line = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    /* CR or LF would start a header of their own, NUL would cut it short */
    if (line == NULL || strlen(line) != len || strpbrk(line, "\r\n")) {
      lua_pop(L, 1);
      return line ? "a header line contains CR, LF or NUL" : "a header line is not a string";
    }
    if (len >= 7 && strncasecmp(line, "accept:", 7) == 0) *has_accept = 1;
    luaL_addvalue(b);
    luaL_addstring(b, "\r\n");
  }
  return NULL;
}

/* core.http_request(req) -> bytes, pool, host, port, server_name
 *                          | nil, message, kind
 * req as the transfer contract has it (lua/basiq/transport/init.lua).
 * pool: the name of the connection pool this request may use, which
 * carries every parameter a connection is made with (scheme, the address,
 * the TLS name, verification); host and port: where to connect (localhost
 * is 127.0.0.1, as libcurl has it, so it needs no resolver); server_name:
 * the name TLS must verify, nil over http. */
static int l_http_request(lua_State *L) {
  const char *method, *url, *body, *err, *kind = "url";
  size_t blen = 0, ulen = 0;
  url_parts p;
  int has_accept = 0, https, default_port, loopback_name, top;
  char boundary[41] = {0};
  luaL_Buffer b;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  method = field(L, 1, "method", NULL);
  url = field(L, 1, "url", &ulen);
  if (method == NULL || url == NULL) return luaL_error(L, "basiq.core: request needs method and url");
  if (!is_token(method)) return luaL_error(L, "basiq.core: method must be a token");
  body = field(L, 1, "body", &blen);
  lua_getfield(L, 1, "headers"); /* 2 */
  if (!lua_isnil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 1, "mime"); /* 3 */
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    err = push_multipart(L, 3, boundary); /* 4: the body */
    if (err) {
      lua_pushnil(L);
      lua_pushfstring(L, "basiq.core: %s", err);
      lua_pushstring(L, "file");
      return 3;
    }
    body = lua_tolstring(L, 4, &blen);
  }
  /* libcurl would stop at a NUL and go where the text before it points */
  if (strlen(url) != ulen) {
    lua_pushnil(L);
    lua_pushliteral(L, "basiq.core: the URL contains a NUL byte");
    lua_pushstring(L, kind);
    return 3;
  }
  err = read_url(url, &p, &kind);
  if (err) {
    free_parts(&p);
    lua_pushnil(L);
    lua_pushfstring(L, "basiq.core: %s", err);
    lua_pushstring(L, kind);
    return 3;
  }
  https = strcmp(p.scheme, "https") == 0;
  default_port = strcmp(p.port, https ? "443" : "80") == 0;
  loopback_name = strcasecmp(p.host, "localhost") == 0;
  top = lua_gettop(L);

  luaL_buffinit(L, &b);
  luaL_addstring(&b, method);
  luaL_addchar(&b, ' ');
  luaL_addstring(&b, p.path);
  if (p.query) {
    luaL_addchar(&b, '?');
    luaL_addstring(&b, p.query);
  }
  luaL_addstring(&b, " HTTP/1.1\r\nHost: ");
  luaL_addstring(&b, p.host);
  if (!default_port) {
    luaL_addchar(&b, ':');
    luaL_addstring(&b, p.port);
  }
  luaL_addstring(&b, "\r\n");
  err = lua_isnil(L, 2) ? NULL : add_lines(L, &b, 2, &has_accept);
  if (err) {
    free_parts(&p);
    lua_settop(L, top); /* drops the buffer's pieces */
    lua_pushnil(L);
    lua_pushfstring(L, "basiq.core: %s", err);
    lua_pushliteral(L, "url");
    return 3;
  }
  if (!has_accept) luaL_addstring(&b, "Accept: */*\r\n"); /* as libcurl sends */
  luaL_addstring(&b, FIXED_LINES);
  if (boundary[0]) {
    luaL_addstring(&b, "Content-Type: multipart/form-data; boundary=");
    luaL_addstring(&b, boundary);
    luaL_addstring(&b, "\r\n");
  }
  if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
    char cl[40];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", body ? blen : (size_t)0);
    luaL_addstring(&b, cl);
  }
  luaL_addstring(&b, "\r\n");
  if (body) luaL_addlstring(&b, body, blen);
  luaL_pushresult(&b);

  lua_pushfstring(L, "basiq %s %s %s %s", p.scheme, loopback_name ? "127.0.0.1" : p.host, p.port,
                  https ? p.host : "-");
  if (loopback_name) lua_pushliteral(L, "127.0.0.1");
  else lua_pushstring(L, p.host);
  lua_pushinteger(L, (lua_Integer)atoi(p.port));
  if (https) lua_pushstring(L, p.host);
  else lua_pushnil(L);
  free_parts(&p);
  return 5;
}

void basiq_open_wire(lua_State *L) {
  lua_pushcfunction(L, l_http_request);
  lua_setfield(L, -2, "http_request");
}
