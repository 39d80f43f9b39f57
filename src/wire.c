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
#define ADD(b, lit) luaL_addlstring((b), (lit), sizeof(lit) - 1)

/* The parts of a URL a request needs: pointers into the URL itself (the
 * common, plain shape) or into strings libcurl's parser made (any other). */
typedef struct {
  CURLU *u;
  char *owned[5];         /* libcurl's strings, freed with the parts */
  const char *scheme, *host, *port, *path, *query; /* NUL-terminated, or with the lengths below */
  size_t scheme_len, host_len, port_len, path_len, query_len;
  long port_number;
} url_parts;

static void free_parts(url_parts *p) {
  int i;
  for (i = 0; i < 5; i++) curl_free(p->owned[i]);
  if (p->u) curl_url_cleanup(p->u);
  memset(p, 0, sizeof *p);
}

static int host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* The plain shape every call's URL has (http[s]://host[:port]/path?query,
 * the host a name or an IPv4 address, nothing in the rest but printable
 * ASCII and no fragment), read in place: 0. Anything else -1, and
 * libcurl's own parser decides, so both transports read a URL alike. */
static int plain_url(const char *url, size_t len, url_parts *p) {
  const char *s = url, *end = url + len, *h;
  unsigned long port = 0;
  if (len > 8 && memcmp(s, "https://", 8) == 0) { p->scheme_len = 5; s += 8; }
  else if (len > 7 && memcmp(s, "http://", 7) == 0) { p->scheme_len = 4; s += 7; }
  else return -1;
  p->scheme = url;
  for (h = s; s < end && host_char(*s); s++) {}
  if (s == h) return -1;
  p->host = h;
  p->host_len = (size_t)(s - h);
  if (s < end && *s == ':') {
    const char *d = ++s;
    while (s < end && *s >= '0' && *s <= '9' && s - d < 5) port = port * 10 + (unsigned long)(*s++ - '0');
    if (s == d || port == 0 || port > 65535) return -1;
    p->port = d;
    p->port_len = (size_t)(s - d);
  } else {
    port = p->scheme_len == 5 ? 443 : 80;
    p->port = p->scheme_len == 5 ? "443" : "80";
    p->port_len = p->scheme_len == 5 ? 3 : 2;
  }
  p->port_number = (long)port;
  if (s < end && *s != '/' && *s != '?') return -1;
  p->path = s;
  for (; s < end; s++) {
    if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '#') return -1;
    if (*s == '?' && !p->query) {
      p->path_len = (size_t)(s - p->path);
      p->query = s + 1;
    }
  }
  if (p->query) p->query_len = (size_t)(end - p->query);
  else p->path_len = (size_t)(end - p->path);
  if (p->path_len == 0) { p->path = "/"; p->path_len = 1; }
  return 0;
}

/* NULL, or why the URL cannot be sent (and its kind in *kind). */
static const char *read_url(const char *url, size_t len, url_parts *p, const char **kind) {
  CURLUcode rc;
  char *user = NULL;
  int i;
  *kind = "url";
  memset(p, 0, sizeof *p);
  if (plain_url(url, len, p) == 0) return NULL;
  memset(p, 0, sizeof *p);
  if ((p->u = curl_url()) == NULL) return "out of memory";
  rc = curl_url_set(p->u, CURLUPART_URL, url, CURLU_PATH_AS_IS);
  if (rc != CURLUE_OK) return curl_url_strerror(rc);
  if (curl_url_get(p->u, CURLUPART_SCHEME, &p->owned[0], 0) != CURLUE_OK) return "no scheme";
  if (strcmp(p->owned[0], "http") != 0 && strcmp(p->owned[0], "https") != 0) {
    *kind = "protocol";
    return "only http and https are allowed";
  }
  if (curl_url_get(p->u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
    curl_free(user);
    return "a URL with credentials in it is refused";
  }
  if (curl_url_get(p->u, CURLUPART_HOST, &p->owned[1], 0) != CURLUE_OK) return "no host";
  if (curl_url_get(p->u, CURLUPART_PORT, &p->owned[2], CURLU_DEFAULT_PORT) != CURLUE_OK) return "no port";
  if (curl_url_get(p->u, CURLUPART_PATH, &p->owned[3], 0) != CURLUE_OK) return "no path";
  rc = curl_url_get(p->u, CURLUPART_QUERY, &p->owned[4], 0);
  if (rc != CURLUE_OK && rc != CURLUE_NO_QUERY) return curl_url_strerror(rc);
  p->scheme = p->owned[0];
  p->host = p->owned[1];
  p->port = p->owned[2];
  p->port_number = strtol(p->port, NULL, 10);
  p->path = p->owned[3];
  p->query = p->owned[4];
  for (i = 0; i < 5; i++) {
    size_t n = p->owned[i] ? strlen(p->owned[i]) : 0;
    if (i == 0) p->scheme_len = n;
    else if (i == 1) p->host_len = n;
    else if (i == 2) p->port_len = n;
    else if (i == 3) p->path_len = n;
    else p->query_len = n;
  }
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
    if (*s == '"') ADD(b, "%22");
    else if (*s == '\r') ADD(b, "%0D");
    else if (*s == '\n') ADD(b, "%0A");
    else luaL_addchar(b, *s);
  }
}

static const char *field(lua_State *L, int t, const char *k, size_t *len) {
  const char *s;
  lua_getfield(L, t, k);
  s = basiq_string_field(L, k, len);
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
    ADD(&b, "--");
    luaL_addstring(&b, boundary);
    ADD(&b, "\r\nContent-Disposition: form-data; name=\"");
    add_quoted(&b, name);
    luaL_addchar(&b, '"');
    if (fname) {
      ADD(&b, "; filename=\"");
      add_quoted(&b, fname);
      luaL_addchar(&b, '"');
    }
    if (type) {
      if (strpbrk(type, "\r\n")) return "a multipart type contains CR or LF";
      ADD(&b, "\r\nContent-Type: ");
      luaL_addstring(&b, type);
    }
    ADD(&b, "\r\n\r\n");
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
    ADD(&b, "\r\n");
  }
  ADD(&b, "--");
  luaL_addstring(&b, boundary);
  ADD(&b, "--\r\n");
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
    ADD(b, "\r\n");
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
  err = read_url(url, ulen, &p, &kind);
  if (err) {
    free_parts(&p);
    lua_pushnil(L);
    lua_pushfstring(L, "basiq.core: %s", err);
    lua_pushstring(L, kind);
    return 3;
  }
  https = p.scheme_len == 5;
  default_port = p.port_number == (https ? 443 : 80) && p.port_len == (https ? 3u : 2u);
  loopback_name = p.host_len == 9 && strncasecmp(p.host, "localhost", 9) == 0;
  top = lua_gettop(L);

  luaL_buffinit(L, &b);
  luaL_addstring(&b, method);
  luaL_addchar(&b, ' ');
  luaL_addlstring(&b, p.path, p.path_len);
  if (p.query) {
    luaL_addchar(&b, '?');
    luaL_addlstring(&b, p.query, p.query_len);
  }
  ADD(&b, " HTTP/1.1\r\nHost: ");
  luaL_addlstring(&b, p.host, p.host_len);
  if (!default_port) {
    luaL_addchar(&b, ':');
    luaL_addlstring(&b, p.port, p.port_len);
  }
  ADD(&b, "\r\n");
  err = lua_isnil(L, 2) ? NULL : add_lines(L, &b, 2, &has_accept);
  if (err) {
    free_parts(&p);
    lua_settop(L, top); /* drops the buffer's pieces */
    lua_pushnil(L);
    lua_pushfstring(L, "basiq.core: %s", err);
    lua_pushliteral(L, "url");
    return 3;
  }
  if (!has_accept) ADD(&b, "Accept: */*\r\n"); /* as libcurl sends */
  ADD(&b, FIXED_LINES);
  if (boundary[0]) {
    ADD(&b, "Content-Type: multipart/form-data; boundary=");
    luaL_addstring(&b, boundary);
    ADD(&b, "\r\n");
  }
  if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
    char digits[24], *d = digits + sizeof digits;
    size_t n = body ? blen : 0;
    do { *--d = (char)('0' + n % 10); n /= 10; } while (n);
    ADD(&b, "Content-Length: ");
    luaL_addlstring(&b, d, (size_t)(digits + sizeof digits - d));
    ADD(&b, "\r\n");
  }
  ADD(&b, "\r\n");
  if (body) luaL_addlstring(&b, body, blen);
  luaL_pushresult(&b);

  {
    /* the pool: scheme, the address connected to, the port, the TLS name */
    luaL_Buffer pb;
    luaL_buffinit(L, &pb);
    ADD(&pb, "basiq ");
    luaL_addlstring(&pb, p.scheme, p.scheme_len);
    luaL_addchar(&pb, ' ');
    if (loopback_name) ADD(&pb, "127.0.0.1");
    else luaL_addlstring(&pb, p.host, p.host_len);
    luaL_addchar(&pb, ' ');
    luaL_addlstring(&pb, p.port, p.port_len);
    luaL_addchar(&pb, ' ');
    if (https) luaL_addlstring(&pb, p.host, p.host_len);
    else luaL_addchar(&pb, '-');
    luaL_pushresult(&pb);
  }
  if (loopback_name) lua_pushliteral(L, "127.0.0.1");
  else lua_pushlstring(L, p.host, p.host_len);
  lua_pushinteger(L, (lua_Integer)p.port_number);
  if (https) lua_pushlstring(L, p.host, p.host_len);
  else lua_pushnil(L);
  free_parts(&p);
  return 5;
}

void basiq_open_wire(lua_State *L) {
  lua_pushcfunction(L, l_http_request);
  lua_setfield(L, -2, "http_request");
}
