/* An HTTP/1.1 answer parsed from bytes that the Lua side reads off a socket
 * it owns (nginx's cosockets): the status line and headers, Content-Length,
 * chunked and read-to-close bodies, gzip, the header and body caps, and
 * whether the connection may be kept. The parsing is Debian's http-parser
 * (libhttp-parser-dev); inflating is zlib's.
 *
 * The plain-C half (basiq_reply_*) touches no Lua state, so it is fuzzed
 * directly (fuzz/reply_fuzz.c); the Lua half only copies its result out. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "basiq.h"

#define DEFAULT_MAX_BODY ((size_t)64 * 1024 * 1024)

static void fail(basiq_reply *r, const char *kind, const char *message) {
  if (r->state == BASIQ_REPLY_FAILED) return; /* the first reason stands */
  r->state = BASIQ_REPLY_FAILED;
  r->kind = kind;
  snprintf(r->message, sizeof r->message, "%s", message);
}

static basiq_reply *of(http_parser *p) { return p->data; }

/* Header names and values are kept back to back in r->head, and where each
 * lies in r->pairs, so they are read once: for the coding here, for the
 * headers table by the Lua half. Trailers (after the body) are not kept. */
typedef struct { size_t name, name_len, value, value_len; } pair;

static pair *last_pair(basiq_reply *r) { return (pair *)(void *)(r->pairs.data + r->pairs.len) - 1; }

/* A line over libcurl's own limit fails as it does in the libcurl transport. */
static int line_cap(basiq_reply *r, size_t n) {
  char msg[64];
  r->line_len += n;
  if (r->line_len <= CURL_MAX_HTTP_HEADER) return 0;
  snprintf(msg, sizeof msg, "response header line larger than %d bytes", CURL_MAX_HTTP_HEADER);
  fail(r, "too-large", msg);
  return -1;
}

static int on_field(http_parser *p, const char *at, size_t n) {
  basiq_reply *r = of(p);
  if (r->in_body) return 0;
  if (r->in_value || r->pairs.len == 0) { /* a new line */
    pair fresh = { 0, 0, 0, 0 };
    fresh.name = r->head.len;
    if (basiq_buf_append(&r->pairs, (const char *)&fresh, sizeof fresh) != 0) goto oom;
    r->line_len = 0;
    r->in_value = 0;
  }
  if (line_cap(r, n) != 0) return -1;
  if (basiq_buf_append(&r->head, at, n) != 0) goto oom;
  last_pair(r)->name_len += n;
  return 0;
oom:
  fail(r, "network", "out of memory");
  return -1;
}

static int on_value(http_parser *p, const char *at, size_t n) {
  basiq_reply *r = of(p);
  if (r->in_body || r->pairs.len == 0) return 0;
  if (!r->in_value) {
    last_pair(r)->value = r->head.len;
    r->in_value = 1;
  }
  if (line_cap(r, n) != 0) return -1;
  if (basiq_buf_append(&r->head, at, n) != 0) goto oom;
  last_pair(r)->value_len += n;
  return 0;
oom:
  fail(r, "network", "out of memory");
  return -1;
}

/* Whether a Content-Encoding value is gzip alone (the only coding asked for). */
static int gzip_coded(const char *v, size_t n) {
  while (n && (*v == ' ' || *v == '\t')) v++, n--;
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
  return (n == 4 && strncasecmp(v, "gzip", 4) == 0) || (n == 6 && strncasecmp(v, "x-gzip", 6) == 0);
}

static int on_headers_complete(http_parser *p) {
  basiq_reply *r = of(p);
  const pair *h = (const pair *)(void *)r->pairs.data;
  size_t i, n = r->pairs.len / sizeof *h;
  r->in_value = 0;
  if (p->status_code == 101) {
    fail(r, "protocol", "malformed answer: the server switched protocols");
    return -1;
  }
  if (p->status_code / 100 == 1) return 0; /* interim: its lines are dropped when it completes */
  r->in_body = 1;
  r->gzip = 0;
  /* no body, whatever the headers say (RFC 9112 6.3): an answer to HEAD, a
   * 204 or a 304; nor any decoder for one */
  if (r->head_only || p->status_code == 204 || p->status_code == 304) return 1;
  /* room for a body of known length at once, rather than doubling up to it
   * (up to 1 MB: a length the server only claims reserves no more) */
  if (p->content_length != (uint64_t)-1 && p->content_length > 0 && p->content_length <= r->max_body &&
      p->content_length <= 1024 * 1024 && p->content_length + 1 > r->body.cap) {
    char *d = realloc(r->body.data, (size_t)p->content_length + 1);
    if (d != NULL) {
      r->body.data = d;
      r->body.cap = (size_t)p->content_length + 1;
    }
  }
  for (i = 0; i < n; i++)
    if (h[i].name_len == 16 && strncasecmp(r->head.data + h[i].name, "content-encoding", 16) == 0)
      r->gzip = gzip_coded(r->head.data + h[i].value, h[i].value_len);
  if (r->gzip) {
    memset(&r->z, 0, sizeof r->z);
    if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
      fail(r, "network", "out of memory");
      return -1;
    }
    r->z_on = 1;
  }
  return 0;
}

/* Copies a body left in the fed bytes (below) into r->body. */
static int keep_direct(basiq_reply *r) {
  const char *at = r->direct;
  r->direct = NULL;
  if (at && basiq_buf_append(&r->body, at, r->direct_len) != 0) {
    fail(r, "network", "out of memory");
    return -1;
  }
  return 0;
}

static int keep_body(basiq_reply *r, const char *at, size_t n) {
  if (n > r->max_body - r->body.len - (r->direct ? r->direct_len : 0)) { /* within max_body always */
    char msg[64];
    snprintf(msg, sizeof msg, "response body larger than %zu bytes", r->max_body);
    fail(r, "too-large", msg);
    return -1;
  }
  if (basiq_buf_append(&r->body, at, n) != 0) {
    fail(r, "network", "out of memory");
    return -1;
  }
  return 0;
}

/* Inflates n bytes of a gzip body into r->body, through out. */
static int inflate_slice(basiq_reply *r, const char *at, size_t n, char *out, size_t outlen) {
  r->z.next_in = (Bytef *)(uintptr_t)at;
  r->z.avail_in = (uInt)n;
  for (;;) {
    int rc;
    if (r->z_end) {
      if (r->z.avail_in == 0) return 0;
      fail(r, "network", "bytes after the end of the gzip stream");
      return -1;
    }
    r->z.next_out = (Bytef *)out;
    r->z.avail_out = (uInt)outlen;
    rc = inflate(&r->z, Z_NO_FLUSH);
    /* what was decoded before any error counts first, so that the outcome
     * does not depend on how the bytes were split */
    if (keep_body(r, out, outlen - r->z.avail_out) != 0) return -1;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      char msg[96];
      snprintf(msg, sizeof msg, "error while decoding the gzip body: %s", r->z.msg ? r->z.msg : "corrupt data");
      fail(r, "network", msg);
      return -1;
    }
    if (rc == Z_STREAM_END) r->z_end = 1;
    /* done with this input once it is all read and zlib holds no more output */
    else if (rc == Z_BUF_ERROR || (r->z.avail_in == 0 && r->z.avail_out != 0)) return 0;
  }
}

static int on_body(http_parser *p, const char *at, size_t n) {
  basiq_reply *r = of(p);
  char out[16384];
  if (!r->z_on) {
    /* a body that is one piece of one feed stays where it is, and is copied
     * only once, into the Lua string (or into r->body when the feed ends
     * without the answer) */
    if (r->body.len == 0 && r->direct == NULL && n <= r->max_body) {
      r->direct = at;
      r->direct_len = n;
      return 0;
    }
    if (keep_direct(r) != 0) return -1;
    return keep_body(r, at, n);
  }
  while (n > 0) { /* in slices zlib's counters can hold */
    size_t slice = n > 1u << 30 ? 1u << 30 : n;
    if (inflate_slice(r, at, slice, out, sizeof out) != 0) return -1;
    at += slice;
    n -= slice;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  basiq_reply *r = of(p);
  if (p->status_code / 100 == 1) {
    r->head.len = r->pairs.len = 0; /* an interim answer (100 Continue...): the real one follows */
    return 0;
  }
  if (r->z_on && !r->z_end) {
    fail(r, "network", "the gzip body ended early");
    return -1;
  }
  r->state = BASIQ_REPLY_DONE;
  r->status = p->status_code;
  r->keepalive = http_should_keep_alive(p);
  http_parser_pause(p, 1); /* stop here: what follows is not this answer's */
  return 0;
}

static const http_parser_settings SETTINGS = {
  NULL, NULL, NULL, on_field, on_value, on_headers_complete, on_body, on_message_complete, NULL, NULL,
};

const char *basiq_reply_body(const basiq_reply *r, size_t *len) {
  if (r->direct) {
    *len = r->direct_len;
    return r->direct;
  }
  *len = r->body.len;
  return r->body.len ? r->body.data : "";
}

size_t basiq_reply_remaining(const basiq_reply *r) {
  if (r->state != BASIQ_REPLY_MORE || !r->in_body || r->z_on || (r->p.flags & F_CHUNKED) ||
      r->p.content_length == (uint64_t)-1)
    return 0;
  return (size_t)r->p.content_length;
}

void basiq_reply_init(basiq_reply *r, size_t max_body, int head_only) {
  basiq_buf head = r->head, body = r->body, pairs = r->pairs; /* buffers are kept for the next answer */
  basiq_reply_release(r);
  memset(r, 0, sizeof *r);
  r->head = head;
  r->body = body;
  r->pairs = pairs;
  r->head.len = r->body.len = r->pairs.len = 0;
  r->max_body = max_body;
  r->head_only = head_only;
  http_parser_init(&r->p, HTTP_RESPONSE);
  r->p.data = r;
}

void basiq_reply_release(basiq_reply *r) {
  if (r->z_on) { inflateEnd(&r->z); r->z_on = 0; }
}

void basiq_reply_free(basiq_reply *r) {
  basiq_reply_release(r);
  basiq_buf_free(&r->pairs);
  basiq_buf_free(&r->head);
  basiq_buf_free(&r->body);
}

/* What went wrong, from http-parser's code, as the libcurl transport would
 * name it (errors.lua turns kinds into err.code). */
static void parse_failure(basiq_reply *r) {
  enum http_errno e = HTTP_PARSER_ERRNO(&r->p);
  char msg[160];
  if (r->state == BASIQ_REPLY_FAILED) return; /* a callback said why */
  if (e == HPE_HEADER_OVERFLOW) {
    snprintf(msg, sizeof msg, "response headers larger than %u bytes", (unsigned)BASIQ_MAX_HEADER_BYTES);
    fail(r, "too-large", msg);
    return;
  }
  snprintf(msg, sizeof msg, "%s%s", e == HPE_INVALID_CHUNK_SIZE ? "invalid chunked-encoding: " : "malformed answer: ",
           http_errno_description(e));
  fail(r, e == HPE_INVALID_CHUNK_SIZE ? "recv" : "protocol", msg);
}

int basiq_reply_feed(basiq_reply *r, const char *data, size_t len) {
  size_t used;
  if (r->state != BASIQ_REPLY_MORE) {
    if (len && r->state == BASIQ_REPLY_DONE) r->keepalive = 0; /* bytes after the answer */
    return r->state;
  }
  if (len == 0) return r->state;
  r->seen += len;
  used = http_parser_execute(&r->p, &SETTINGS, data, len);
  if (r->state == BASIQ_REPLY_DONE) {
    if (used < len) r->keepalive = 0; /* the server sent more than this answer: never reuse */
    return r->state;
  }
  if (HTTP_PARSER_ERRNO(&r->p) != HPE_OK || used != len) parse_failure(r);
  keep_direct(r); /* the fed bytes are the caller's only until this returns */
  return r->state;
}

int basiq_reply_eof(basiq_reply *r) {
  char msg[96];
  if (r->state != BASIQ_REPLY_MORE) return r->state;
  if (r->seen == 0) {
    fail(r, "empty-reply", "empty reply from server");
    return r->state;
  }
  if (r->in_body) {
    /* a body that runs until the connection closes ends here */
    http_parser_execute(&r->p, &SETTINGS, NULL, 0);
    if (r->state == BASIQ_REPLY_DONE) {
      r->keepalive = 0;
      return r->state;
    }
    if (r->state == BASIQ_REPLY_FAILED) return r->state;
    if (r->p.content_length > 0 && r->p.content_length != (uint64_t)-1) {
      snprintf(msg, sizeof msg, "connection closed with %llu bytes of the body remaining",
               (unsigned long long)r->p.content_length);
      fail(r, "recv", msg);
      return r->state;
    }
  }
  fail(r, "recv", r->in_body ? "connection closed before the body ended" : "connection closed in the answer's headers");
  return r->state;
}

/* ---- Lua ---- */

#define REPLY_MT "basiq.core.reply"

static basiq_reply *check_reply(lua_State *L) {
  basiq_reply *r = luaL_checkudata(L, 1, REPLY_MT);
  if (r->closed) luaL_error(L, "basiq.core: reply is closed");
  return r;
}

static size_t opt_max_body(lua_State *L, int i) {
  lua_Number v = luaL_optnumber(L, i, (lua_Number)DEFAULT_MAX_BODY);
  if (!(v > 0)) return 0;
  return v >= 4503599627370496.0 ? (size_t)1 << 52 : (size_t)v;
}

/* core.reply([max_body[, head_only]]) -> a parser for one answer at a time */
static int l_reply(lua_State *L) {
  size_t max_body = opt_max_body(L, 1);
  int head_only = lua_toboolean(L, 2);
  basiq_reply *r = lua_newuserdata(L, sizeof *r);
  memset(r, 0, sizeof *r);
  luaL_setmetatable(L, REPLY_MT);
  basiq_reply_init(r, max_body, head_only);
  return 1;
}

/* r:reset([max_body[, head_only]]): ready for the next answer, buffers kept */
static int l_reset(lua_State *L) {
  basiq_reply *r = check_reply(L);
  basiq_reply_init(r, opt_max_body(L, 2), lua_toboolean(L, 3));
  return 0;
}

/* Pushes the outcome of a finished or failed answer. */
static int push_state(lua_State *L, basiq_reply *r) {
  if (r->state == BASIQ_REPLY_MORE) return 0;
  if (r->state == BASIQ_REPLY_FAILED) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, r->message);
    lua_pushstring(L, r->kind);
    return 3;
  }
  lua_pushinteger(L, (lua_Integer)r->status);
  {
    const pair *h = (const pair *)(void *)r->pairs.data;
    size_t i, n = r->pairs.len / sizeof *h;
    lua_createtable(L, 0, (int)n);
    for (i = 0; i < n; i++) {
      const char *v = r->head.data + h[i].value;
      size_t vlen = h[i].value_len;
      while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--; /* http-parser keeps trailing blanks */
      if (h[i].name_len) basiq_push_header(L, r->head.data + h[i].name, h[i].name_len, v, vlen);
    }
  }
  {
    size_t len;
    const char *body = basiq_reply_body(r, &len);
    lua_pushlstring(L, body, len);
    r->direct = NULL; /* the fed bytes it pointed into are about to go */
  }
  lua_pushboolean(L, r->keepalive);
  /* the body lives on in the Lua string: many answers in flight at once
   * should not each hold a copy until the parser is collected or reused */
  if (r->body.cap > 4096) basiq_buf_free(&r->body);
  basiq_reply_release(r);
  return 4;
}

/* r:feed(bytes) -> nil[, n] while the answer is incomplete (n: the bytes
 * of a Content-Length body still to come, when that is known: the caller
 * may read them in one go); status, headers, body, keepalive once it is;
 * false, message, kind if it cannot be. keepalive: the connection may
 * carry another request. */
static int l_feed(lua_State *L) {
  basiq_reply *r = check_reply(L);
  size_t len, left;
  const char *data = luaL_checklstring(L, 2, &len);
  if (r->state != BASIQ_REPLY_MORE) return luaL_error(L, "basiq.core: reply already ended; reset it first");
  basiq_reply_feed(r, data, len);
  if (r->state == BASIQ_REPLY_MORE && (left = basiq_reply_remaining(r)) > 0) {
    lua_pushnil(L);
    lua_pushnumber(L, (lua_Number)left);
    return 2;
  }
  return push_state(L, r);
}

/* r:eof() -> as feed, when the connection closed: a body that runs to the
 * close ends; anything else unfinished fails. */
static int l_eof(lua_State *L) {
  basiq_reply *r = check_reply(L);
  if (r->state != BASIQ_REPLY_MORE) return luaL_error(L, "basiq.core: reply already ended; reset it first");
  basiq_reply_eof(r);
  return push_state(L, r);
}

static int l_close(lua_State *L) {
  basiq_reply *r = luaL_checkudata(L, 1, REPLY_MT);
  if (!r->closed) {
    basiq_reply_free(r);
    r->closed = 1;
  }
  return 0;
}

static int l_tostring(lua_State *L) {
  basiq_reply *r = luaL_checkudata(L, 1, REPLY_MT);
  lua_pushfstring(L, "basiq.core.reply (%s)", r->closed ? "closed" : "open");
  return 1;
}

void basiq_open_reply(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"feed", l_feed}, {"eof", l_eof}, {"reset", l_reset}, {"close", l_close}, {NULL, NULL}
  };
  /* one limit for every parser in the process, set before any parses: the
   * libcurl transport's own cap on a response's headers */
  http_parser_set_max_header_size(BASIQ_MAX_HEADER_BYTES);
  basiq_handle_type(L, REPLY_MT, methods, l_close, l_tostring);
  lua_pushcfunction(L, l_reply);
  lua_setfield(L, -2, "reply");
}
