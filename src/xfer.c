/* One HTTP transfer: a libcurl easy handle, its request state and reply
 * buffers. Shared by the single handle (easy.c) and batches (multi.c), so
 * both send with exactly the same options.
 *
 * basiq_xfer_prepare reads the Lua request table and may raise; it runs
 * before any transfer starts. The libcurl callbacks only fill C buffers, so
 * no Lua error can ever unwind through libcurl frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "basiq.h"

#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_BODY ((size_t)64 * 1024 * 1024)

static void release_request(basiq_xfer *x) {
  if (x->headers) { curl_slist_free_all(x->headers); x->headers = NULL; }
  if (x->mime) { curl_mime_free(x->mime); x->mime = NULL; }
}

/* Whether the n lines of the table on top equal the Lua lines at the head
 * of x->headers: then the list (already checked) is kept, saving its
 * mallocs on every call. */
static int same_headers(lua_State *L, const basiq_xfer *x, size_t n) {
  const struct curl_slist *h = x->headers;
  size_t i;
  if (h == NULL || x->nlines != n) return 0;
  for (i = 1; i <= n; i++, h = h->next) {
    const char *line;
    size_t len;
    int same;
    if (h == NULL) return 0;
    lua_rawgeti(L, -1, (int)i);
    line = lua_tolstring(L, -1, &len); /* NULL for a non-string: not the same, then raises below */
    same = line && strlen(h->data) == len && memcmp(h->data, line, len) == 0;
    lua_pop(L, 1);
    if (!same) return 0;
  }
  return 1;
}

/* The content encodings this libcurl can decode, in its own order. Sent
 * as a header line of ours and set as CURLOPT_ACCEPT_ENCODING (which makes
 * libcurl decode): libcurl then skips formatting its own line every call. */
static const char *accept_encodings(char buf[64]) {
  curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  buf[0] = '\0';
  if (v->features & CURL_VERSION_LIBZ) strcat(buf, "deflate, gzip");
#ifdef CURL_VERSION_BROTLI
  if (v->features & CURL_VERSION_BROTLI) strcat(buf, buf[0] ? ", br" : "br");
#endif
#ifdef CURL_VERSION_ZSTD
  if (v->features & CURL_VERSION_ZSTD) strcat(buf, buf[0] ? ", zstd" : "zstd");
#endif
  return buf;
}

/* Appends the lines every request sends after the Lua ones: the user agent
 * (a line of ours costs libcurl less than CURLOPT_USERAGENT) and the
 * encodings. NULL when out of memory. */
static struct curl_slist *fixed_lines(struct curl_slist *h) {
  char enc[64], line[96];
  h = curl_slist_append(h, "User-Agent: basiq-lua/" BASIQ_VERSION);
  if (h == NULL || accept_encodings(enc)[0] == '\0') return h;
  snprintf(line, sizeof line, "Accept-Encoding: %s", enc);
  return curl_slist_append(h, line);
}

int basiq_xfer_init(basiq_xfer *x) {
  memset(x, 0, sizeof *x);
  x->curl = curl_easy_init();
  return x->curl ? 0 : -1;
}

void basiq_xfer_cleanup(basiq_xfer *x) {
  release_request(x);
  if (x->curl) { curl_easy_cleanup(x->curl); x->curl = NULL; }
  basiq_buf_free(&x->body);
  basiq_buf_free(&x->head);
}

enum { TOO_BIG_BODY = 1, TOO_BIG_HEAD = 2 }; /* x->too_big: which cap stopped the transfer */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  basiq_xfer *x = ud;
  size_t len = size * n;
  if (x->body.len + len > x->max_body) { x->too_big = TOO_BIG_BODY; return 0; }
  return basiq_buf_append(&x->body, p, len) == 0 ? len : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  basiq_xfer *x = ud;
  size_t len = size * n;
  if (x->head.len + len > BASIQ_MAX_HEADER_BYTES) { x->too_big = TOO_BIG_HEAD; return 0; }
  return basiq_buf_append(&x->head, p, len) == 0 ? len : 0;
}

/* The request's field names, made Lua strings once per Lua state (a table
 * in the registry). lua_getfield makes its key string anew on every call,
 * which on LuaJIT is most of a lookup's cost; a raw lookup with these keys
 * skips that. The request table is a plain table of the Lua layer's. */
enum { F_METHOD = 1, F_URL, F_BODY, F_CAINFO, F_TIMEOUT, F_CONNECT_TIMEOUT, F_MAX_BODY, F_HEADERS, F_MIME,
       F_STATUS, F_TIME, F_N };
static const char *const FIELD_NAMES[F_N] = { NULL, "method", "url", "body", "cainfo", "timeout",
  "connect_timeout", "max_body", "headers", "mime", "status", "time" };
static const char fields_key = 0; /* its address keys the table in the registry */

/* Pushes the table of field names (index: F_*), made on first use. */
static void push_fields(lua_State *L) {
  int i;
  lua_pushlightuserdata(L, (void *)&fields_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_istable(L, -1)) return;
  lua_pop(L, 1);
  lua_createtable(L, F_N - 1, 0);
  for (i = 1; i < F_N; i++) {
    lua_pushstring(L, FIELD_NAMES[i]);
    lua_rawseti(L, -2, i);
  }
  lua_pushlightuserdata(L, (void *)&fields_key);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

/* Pushes t[field] (t and f: absolute indices; f: the table of names). */
static void get_field(lua_State *L, int t, int f, int field) {
  lua_rawgeti(L, f, field);
  lua_rawget(L, t);
}

static long opt_ms(lua_State *L, int t, int f, int k, long def) {
  lua_Number v;
  get_field(L, t, f, k);
  v = lua_isnil(L, -1) ? (lua_Number)def : luaL_checknumber(L, -1);
  lua_pop(L, 1);
  if (!(v >= 1)) luaL_error(L, "basiq.core: %s must be a positive number of milliseconds", FIELD_NAMES[k]);
  return v > 2147483647.0 ? 2147483647L : (long)v; /* no overflowing cast */
}

static const char *opt_str_field(lua_State *L, int t, int f, int k, size_t *len) {
  const char *s;
  get_field(L, t, f, k);
  s = basiq_string_field(L, FIELD_NAMES[k], len);
  lua_pop(L, 1); /* the request table keeps the string alive during the transfer */
  return s;
}

static const char *opt_str(lua_State *L, int t, const char *k, size_t *len) {
  const char *s;
  lua_getfield(L, t, k);
  s = basiq_string_field(L, k, len);
  lua_pop(L, 1); /* the request table keeps the string alive during the transfer */
  return s;
}

/* Builds x->mime from req.mime = { {name=, data=|path=, filename=, type=}, ... } */
static const char *build_mime(lua_State *L, basiq_xfer *x, int t) {
  size_t i, n = lua_rawlen(L, t);
  x->mime = curl_mime_init(x->curl);
  if (x->mime == NULL) return "curl_mime_init failed";
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
    part = curl_mime_addpart(x->mime);
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

#define SET(opt, val) do { if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK) goto fail; } while (0)

/* Reads the request table at index t into x and sets every option.
 * Raises on a malformed table; returns NULL, or a message when libcurl
 * refuses something (the caller reports it without sending). Strings from
 * the table are used in place: the table must stay alive until the
 * transfer is over. */
const char *basiq_xfer_prepare(lua_State *L, int t, basiq_xfer *x) {
  CURL *c = x->curl;
  CURLcode rc = CURLE_OK;
  const char *method, *url, *body, *cainfo, *merr = NULL;
  size_t blen = 0, ulen = 0, i, n;
  long timeout, ctimeout;
  double max_body;
  int plain, f;

  luaL_checktype(L, t, LUA_TTABLE);
  if (t < 0) t = lua_gettop(L) + 1 + t;
  push_fields(L);
  f = lua_gettop(L);
  method = opt_str_field(L, t, f, F_METHOD, NULL);
  url = opt_str_field(L, t, f, F_URL, &ulen);
  if (method == NULL || url == NULL) luaL_error(L, "basiq.core: request needs method and url");
  body = opt_str_field(L, t, f, F_BODY, &blen);
  cainfo = opt_str_field(L, t, f, F_CAINFO, NULL);
  timeout = opt_ms(L, t, f, F_TIMEOUT, DEFAULT_TIMEOUT_MS);
  ctimeout = opt_ms(L, t, f, F_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT_MS);
  get_field(L, t, f, F_MAX_BODY);
  max_body = lua_isnil(L, -1) ? (double)DEFAULT_MAX_BODY : luaL_checknumber(L, -1);
  lua_pop(L, 1);

  if (x->mime) { curl_mime_free(x->mime); x->mime = NULL; }
  get_field(L, t, f, F_HEADERS);
  if (!lua_isnil(L, -1)) luaL_checktype(L, -1, LUA_TTABLE);
  n = lua_isnil(L, -1) ? 0 : lua_rawlen(L, -1);
  if (!same_headers(L, x, n)) {
    /* libcurl still points at the old list: only a full prepare (reset,
     * then every option) may send again, whatever raises below */
    x->plain = 0;
    if (x->headers) { curl_slist_free_all(x->headers); x->headers = NULL; }
    x->nlines = (size_t)-1; /* matches nothing until the list is whole */
    for (i = 1; i <= n; i++) {
      struct curl_slist *h;
      size_t hlen;
      const char *line;
      lua_rawgeti(L, -1, (int)i);
      line = luaL_checklstring(L, -1, &hlen);
      /* libcurl copies the line as it is: CR or LF would start a header of
       * their own, NUL would cut it short (the Lua layer refuses both first) */
      if (strlen(line) != hlen || strpbrk(line, "\r\n")) merr = "a header line contains CR, LF or NUL";
      h = merr ? NULL : curl_slist_append(x->headers, line);
      lua_pop(L, 1);
      if (merr) break;
      if (h == NULL) { merr = "out of memory"; break; }
      x->headers = h;
    }
    if (merr == NULL) {
      struct curl_slist *h = fixed_lines(x->headers);
      if (h == NULL) merr = "out of memory";
      else x->headers = h;
    }
    if (merr == NULL) x->nlines = n;
  }
  lua_pop(L, 1);
  if (merr == NULL) {
    get_field(L, t, f, F_MIME);
    if (!lua_isnil(L, -1)) {
      luaL_checktype(L, -1, LUA_TTABLE);
      merr = build_mime(L, x, lua_gettop(L));
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1); /* the field names */
  x->prep_rc = CURLE_OK;
  if (merr) return merr;
  /* libcurl would stop at a NUL and go where the text before it points:
   * not the host that the Lua layer checked (its plain-http guard) */
  if (strlen(url) != ulen) { x->prep_rc = CURLE_URL_MALFORMAT; return "the URL contains a NUL byte"; }

  /* From here on nothing raises. */
  x->errbuf[0] = '\0';
  x->body.len = x->head.len = 0;
  x->too_big = 0;
  x->max_body = !(max_body > 0) ? 0 : max_body >= 4503599627370496.0 ? (size_t)1 << 52 : (size_t)max_body;
  plain = !body && !x->mime && !cainfo && strcmp(method, "GET") == 0;
  if (plain && x->plain) {
    /* the hot path: a plain GET after a plain GET on this handle, with the
     * same header lines, differs only in these; everything else is still
     * set from last time */
    SET(CURLOPT_URL, url);
    if (timeout != x->timeout_ms) SET(CURLOPT_TIMEOUT_MS, timeout);
    if (ctimeout != x->ctimeout_ms) SET(CURLOPT_CONNECTTIMEOUT_MS, ctimeout);
    x->timeout_ms = timeout;
    x->ctimeout_ms = ctimeout;
    return NULL;
  }
  x->plain = 0;
  curl_easy_reset(c); /* keeps the connection, DNS and TLS session caches */
  SET(CURLOPT_ERRORBUFFER, x->errbuf);
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
  {
    char enc[64];
    if (accept_encodings(enc)[0]) SET(CURLOPT_ACCEPT_ENCODING, enc); /* libcurl copies it */
  }
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, x);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, x);
  SET(CURLOPT_PRIVATE, x);
  SET(CURLOPT_HTTPHEADER, x->headers);
  if (x->mime) {
    SET(CURLOPT_MIMEPOST, x->mime);
  } else if (body) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    SET(CURLOPT_POSTFIELDS, body); /* anchored by req.body during the transfer */
  }
  if (strcmp(method, "GET") == 0) {
    if (!body && !x->mime) SET(CURLOPT_HTTPGET, 1L);
    else SET(CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "POST") == 0) {
    if (!body && !x->mime) { SET(CURLOPT_POSTFIELDSIZE, 0L); SET(CURLOPT_POSTFIELDS, ""); }
  } else if (strcmp(method, "HEAD") == 0 && !body && !x->mime) {
    SET(CURLOPT_NOBODY, 1L); /* a custom HEAD would wait for the body its Content-Length names */
  } else {
    SET(CURLOPT_CUSTOMREQUEST, method);
  }
  x->plain = plain;
  x->timeout_ms = timeout;
  x->ctimeout_ms = ctimeout;
  return NULL;
fail:
  x->plain = 0;
  x->prep_rc = rc;
  return curl_easy_strerror(rc);
}

/* Whether any byte of the request may have reached the server (a failed
 * POST is retried only when not). libcurl counts the request's header bytes
 * as it writes them, and the body's as it sends them, from zero for each
 * transfer: nothing counted means nothing written, whatever failed (a
 * resolve, a connect, a TLS handshake, a timeout before the request). When
 * libcurl cannot tell, the answer is yes. */
static int maybe_sent(basiq_xfer *x) {
  long req_size = 0;
  curl_off_t up = 0;
  if (curl_easy_getinfo(x->curl, CURLINFO_REQUEST_SIZE, &req_size) != CURLE_OK) return 1;
  if (curl_easy_getinfo(x->curl, CURLINFO_SIZE_UPLOAD_T, &up) != CURLE_OK) return 1;
  return req_size != 0 || up != 0;
}

void basiq_push_header(lua_State *L, const char *name, size_t nlen, const char *value, size_t vlen) {
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

static void push_line(void *ud, const char *name, size_t nlen, const char *value, size_t vlen) {
  basiq_push_header(ud, name, nlen, value, vlen);
}

/* Whether the last header block has ended (a blank line). */
static int headers_done(const basiq_xfer *x) {
  const char *h = x->head.data;
  size_t n = x->head.len;
  return (n >= 2 && h[n - 1] == '\n' && h[n - 2] == '\n') ||
         (n >= 4 && memcmp(h + n - 4, "\r\n\r\n", 4) == 0);
}

/* Pushes the outcome table of a request that failed before it was sent. */
void basiq_push_failure(lua_State *L, const char *message, CURLcode rc, int sent) {
  lua_createtable(L, 0, 3);
  lua_pushfstring(L, "basiq.core: %s", message);
  lua_setfield(L, -2, "message");
  lua_pushinteger(L, (lua_Integer)rc);
  lua_setfield(L, -2, "code");
  lua_pushboolean(L, sent);
  lua_setfield(L, -2, "sent");
}

/* The transfer's own duration in seconds: the engine counts a call's
 * budget back from it instead of reading the clock before every call.
 * 0 when libcurl cannot tell. */
static lua_Number time_of(basiq_xfer *x) {
  curl_off_t us = 0;
  if (curl_easy_getinfo(x->curl, CURLINFO_TOTAL_TIME_T, &us) != CURLE_OK || us < 0) us = 0;
  return (lua_Number)us / 1e6;
}

/* Pushes why a transfer failed. */
static void push_message(lua_State *L, basiq_xfer *x, CURLcode rc) {
  if (x->too_big) {
    char msg[64];
    if (x->too_big == TOO_BIG_BODY)
      snprintf(msg, sizeof msg, "response body larger than %zu bytes", x->max_body);
    else
      snprintf(msg, sizeof msg, "response headers larger than %zu bytes", (size_t)BASIQ_MAX_HEADER_BYTES);
    lua_pushstring(L, msg);
  } else if (rc == CURLE_OUT_OF_MEMORY && !headers_done(x)) {
    /* libcurl 7.x reports a header line over its 100 KB limit as "Out of
     * memory" (8.x: CURLE_TOO_LARGE); mid-headers that is by far the likely cause */
    lua_pushfstring(L, "response header line larger than %d bytes (or out of memory)", CURL_MAX_HTTP_HEADER);
  } else {
    lua_pushstring(L, x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
  }
}

/* Pushes raw's headers as a table, names in lower case (repeats joined). */
void basiq_push_headers(lua_State *L, const char *raw, size_t len) {
  const char *p = raw, *end = p ? p + len : NULL; /* no arithmetic on NULL */
  int lines = 0;
  while (p && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) { lines++; p++; }
  lua_createtable(L, 0, lines); /* one slot a line (the status line's spare): no rehash as it fills */
  basiq_parse_headers(raw, len, push_line, L);
}

/* Pushes a finished transfer's outcome table: { status, headers, body,
 * time } for an answer (with room for the data field the engine adds), or
 * { message, code, sent, time }. */
int basiq_xfer_push(lua_State *L, basiq_xfer *x, CURLcode rc) {
  long status = 0;
  lua_Number t;
  if (rc == CURLE_OK) rc = curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
  t = time_of(x);
  if (rc == CURLE_OK) { /* each key pushed from the field names, then its value */
    int f;
    push_fields(L);
    f = lua_gettop(L);
    lua_createtable(L, 0, 5);
    lua_rawgeti(L, f, F_STATUS);
    lua_pushinteger(L, status);
    lua_rawset(L, -3);
    lua_rawgeti(L, f, F_TIME);
    lua_pushnumber(L, t);
    lua_rawset(L, -3);
    lua_rawgeti(L, f, F_HEADERS);
    basiq_push_headers(L, x->head.data, x->head.len);
    lua_rawset(L, -3);
    lua_rawgeti(L, f, F_BODY);
    lua_pushlstring(L, x->body.len ? x->body.data : "", x->body.len);
    lua_rawset(L, -3);
    lua_remove(L, f);
  } else {
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, t);
    lua_setfield(L, -2, "time");
    push_message(L, x, rc);
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, (lua_Integer)rc);
    lua_setfield(L, -2, "code");
    lua_pushboolean(L, maybe_sent(x));
    lua_setfield(L, -2, "sent");
  }
  if (x->body.cap > 1024 * 1024) basiq_buf_free(&x->body); /* don't pin a huge page */
  return 1;
}
