#ifndef BASIQ_H
#define BASIQ_H

#include <stddef.h>
#include <curl/curl.h>
#include <http_parser.h>
#include <zlib.h>
#include "compat.h"

#define BASIQ_EASY_MT "basiq.core.easy"
#define BASIQ_MULTI_MT "basiq.core.multi"
#ifndef BASIQ_VERSION /* from lua/basiq/version.lua: the Makefile and the rockspecs pass it */
#error "build with -DBASIQ_VERSION=\"x.y.z\""
#endif

/* A growable byte buffer that never touches the Lua state, so libcurl
 * callbacks can fill it without any risk of a Lua error (longjmp). */
typedef struct {
  char *data;
  size_t len, cap;
} basiq_buf;

int basiq_buf_append(basiq_buf *b, const char *p, size_t n); /* 0 ok, -1 OOM */
void basiq_buf_free(basiq_buf *b);

/* The cap on a response's headers, in both transports: below libcurl's own
 * 300 KB, so that too many headers end as our clear "larger than" (libcurl's
 * says RECV_ERROR). */
#define BASIQ_MAX_HEADER_BYTES (256u * 1024u)

/* Calls fn for each "Name: value" line of the last header block in raw;
 * name and value are trimmed, the status line and blank lines skipped. */
typedef void (*basiq_header_fn)(void *ud, const char *name, size_t nlen,
                                const char *value, size_t vlen);
void basiq_parse_headers(const char *raw, size_t len, basiq_header_fn fn, void *ud);

/* One transfer (xfer.c): an easy handle with its request and reply state. */
typedef struct {
  CURL *curl;
  struct curl_slist *headers; /* owned until the next prepare or cleanup: the Lua lines, then ours */
  size_t nlines;              /* how many of them came from Lua */
  curl_mime *mime;
  basiq_buf body, head;
  size_t max_body;
  int too_big;
  CURLcode prep_rc; /* why prepare failed, when libcurl refused an option */
  int plain;        /* the options set are a plain GET's (see prepare) */
  long timeout_ms, ctimeout_ms; /* as last set, while plain */
  char errbuf[CURL_ERROR_SIZE];
} basiq_xfer;

/* One answer read off a socket the Lua side owns (reply.c). */
enum { BASIQ_REPLY_MORE, BASIQ_REPLY_DONE, BASIQ_REPLY_FAILED };
typedef struct {
  http_parser p;
  z_stream z;
  int z_on, z_end, gzip;  /* inflating a gzip body; its stream ended */
  basiq_buf head, body;   /* header names and values back to back; the (decoded) body */
  basiq_buf pairs;        /* where each header's name and value lie in head (reply.c) */
  size_t max_body, seen;  /* the body cap; bytes fed so far */
  size_t line_len;        /* the header line being read, so far */
  const char *direct;     /* the body, when it is one piece of the feed that completed the answer */
  size_t direct_len;
  int head_only;          /* an answer to HEAD: no body */
  int in_value, in_body;  /* header callbacks' state; past the headers (trailers are dropped) */
  int state, keepalive, closed;
  unsigned status;
  const char *kind;       /* a failure's kind (errors.lua's codes) */
  char message[160];
} basiq_reply;

void basiq_reply_init(basiq_reply *r, size_t max_body, int head_only); /* r zeroed or used before */
int basiq_reply_feed(basiq_reply *r, const char *data, size_t len);     /* BASIQ_REPLY_* */
int basiq_reply_eof(basiq_reply *r);                                    /* the connection closed */
const char *basiq_reply_body(const basiq_reply *r, size_t *len); /* once DONE, until the fed bytes go */
size_t basiq_reply_remaining(const basiq_reply *r); /* a Content-Length body's bytes still due, or 0 */
void basiq_reply_release(basiq_reply *r); /* zlib's state; buffers kept */
void basiq_reply_free(basiq_reply *r);    /* everything; idempotent */

int basiq_xfer_init(basiq_xfer *x);     /* 0 ok, -1 when curl_easy_init fails */
void basiq_xfer_cleanup(basiq_xfer *x); /* idempotent */
const char *basiq_xfer_prepare(lua_State *L, int t, basiq_xfer *x); /* NULL ok; may raise */
int basiq_xfer_push(lua_State *L, basiq_xfer *x, CURLcode rc); /* the outcome table: 1 value */
void basiq_push_headers(lua_State *L, const char *raw, size_t len);             /* a raw block as a table */
void basiq_push_header(lua_State *L, const char *name, size_t nlen, const char *value,
                       size_t vlen); /* into the table on top: lower-case name, repeats joined */
void basiq_push_failure(lua_State *L, const char *message, CURLcode rc, int sent); /* one never sent */

void basiq_handle_type(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
                       lua_CFunction tostring); /* core.c */
const char *basiq_string_field(lua_State *L, const char *name, size_t *len); /* core.c: the top, a string or nil */
int basiq_open_easy(lua_State *L);   /* registers the easy metatable, pushes new() */
void basiq_open_encode(lua_State *L);   /* adds escape/form to the table on top */
int basiq_open_multi(lua_State *L);  /* registers the multi metatable, pushes multi() */
int basiq_open_redis(lua_State *L);  /* registers the Redis metatable, pushes redis() */
void basiq_open_reply(lua_State *L); /* adds reply() */
void basiq_open_wire(lua_State *L);  /* adds http_request() */
void basiq_open_crypto(lua_State *L); /* adds hmac_sha256, b64encode, b64decode, equal, webhook_key, webhook_check */
void basiq_open_numbers(lua_State *L); /* adds integers */

/* encode.c: the length of s's valid UTF-8 prefix (n when all is valid) */
size_t basiq_utf8_valid(const unsigned char *s, size_t n);

/* numbers.c, plain C (fuzzed directly): calls fn for each number word of
 * JSON text outside its strings, with the path to it, one step per
 * container: an object's key (offset and length in the text, escapes and
 * all) or an array's 1-based index. Numbers deeper than
 * BASIQ_JSON_DEPTH are only counted: it returns how many. */
#define BASIQ_JSON_DEPTH 32
typedef struct {
  size_t key, len, index;
  int array;
} basiq_json_step;
typedef void (*basiq_json_number_fn)(void *ud, const basiq_json_step *path, int depth, const char *word, size_t len);
size_t basiq_json_numbers(const char *s, size_t n, basiq_json_number_fn fn, void *ud);

/* crypto.c, plain C (fuzzed directly) */
long basiq_b64decode(const char *in, size_t len, unsigned char *out); /* strict; -1 if invalid */
long basiq_webhook_key(const char *secret, size_t len, unsigned char *key); /* key holds len bytes; -1 if refused */
const char *basiq_webhook_check(const unsigned char *key, size_t key_len, const char *id, size_t id_len,
                                const char *ts, size_t ts_len, const char *body, size_t body_len,
                                const char *sigs, size_t sigs_len); /* NULL: a signature matches */

#endif
