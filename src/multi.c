/* basiq.core.multi(): many transfers at once through one CURLM, whose
 * connection cache (and HTTP/2 multiplexing, where a server offers it) is
 * shared by every batch it runs. Requests are all read from Lua first; no
 * Lua API is used while transfers run.
 *
 * Each request gets its own transfer (the pool keeps up to KEEP_IDLE of
 * them between batches); at most `concurrency` of them are in flight. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "basiq.h"

#define MAX_CONCURRENCY 1000
#define DEFAULT_CONCURRENCY 16
#define KEEP_IDLE 256 /* transfers kept for the next batch; more are freed */

typedef struct {
  CURLM *multi;
  basiq_xfer **xs; /* each allocated alone: libcurl holds pointers into them */
  size_t nxs;
} multi;

/* Where one request of a batch stands. */
enum { READY, ADDED, DONE, FAILED };
typedef struct {
  const char *err; /* FAILED: why, without sending */
  CURLcode rc;     /* DONE: libcurl's result; FAILED: the code to report */
  int state, sent; /* sent: FAILED only */
} slot;

static multi *check_multi(lua_State *L) {
  multi *m = luaL_checkudata(L, 1, BASIQ_MULTI_MT);
  if (m->multi == NULL) luaL_error(L, "basiq.core: multi handle is closed");
  return m;
}

static void drop_xfers(multi *m, size_t keep) {
  while (m->nxs > keep) {
    basiq_xfer *x = m->xs[--m->nxs];
    basiq_xfer_cleanup(x);
    free(x);
  }
  if (keep == 0) { free(m->xs); m->xs = NULL; }
}

/* Makes m->xs hold at least n initialised transfers; 0 ok, -1 out of memory. */
static int ensure_xfers(multi *m, size_t n) {
  basiq_xfer **xs;
  if (n <= m->nxs) return 0;
  if (n > (size_t)-1 / sizeof *xs) return -1;
  xs = realloc(m->xs, n * sizeof *xs);
  if (xs == NULL) return -1;
  m->xs = xs;
  while (m->nxs < n) {
    basiq_xfer *x = malloc(sizeof *x);
    if (x == NULL) return -1;
    if (basiq_xfer_init(x) != 0) { free(x); return -1; }
    m->xs[m->nxs++] = x;
  }
  return 0;
}

/* Idempotent. Between batches no transfer is in the multi handle (run
 * removes every one it added), so they can be freed in any order. */
static int l_close(lua_State *L) {
  multi *m = luaL_checkudata(L, 1, BASIQ_MULTI_MT);
  drop_xfers(m, 0);
  if (m->multi) { curl_multi_cleanup(m->multi); m->multi = NULL; }
  return 0;
}

static int l_tostring(lua_State *L) {
  multi *m = luaL_checkudata(L, 1, BASIQ_MULTI_MT);
  lua_pushfstring(L, "basiq.core.multi (%s)", m->multi ? "open" : "closed");
  return 1;
}

static int l_new(lua_State *L) {
  multi *m = lua_newuserdata(L, sizeof *m);
  memset(m, 0, sizeof *m);
  luaL_setmetatable(L, BASIQ_MULTI_MT);
  m->multi = curl_multi_init();
  if (m->multi == NULL) return luaL_error(L, "basiq.core: curl_multi_init failed");
  if (curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX) != CURLM_OK)
    return luaL_error(L, "basiq.core: CURLMOPT_PIPELINING refused");
  return 1;
}

/* The options a batch adds to prepare's: HTTP/2 where the server offers it
 * over TLS (when this libcurl has it), and there waiting for a connection
 * that may multiplex rather than opening another. Not for plain http, which
 * never multiplexes here: a waiting transfer would only start once another
 * finished. PRIVATE carries the slot index. */
static CURLcode batch_options(CURL *c, size_t i, int tls) {
  CURLcode rc = CURLE_OK;
  if (tls && (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2)) {
    rc = curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    if (rc == CURLE_OK) rc = curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
  }
  if (rc == CURLE_OK) rc = curl_easy_setopt(c, CURLOPT_PRIVATE, (void *)(uintptr_t)i);
  return rc;
}

/* Runs the READY transfers, at most conc at a time, the next added as one
 * finishes. Plain C: no Lua here. On a multi-level failure the transfers
 * still in the multi handle are removed and marked FAILED. */
static CURLMcode run(multi *m, slot *s, size_t n, size_t conc) {
  size_t next = 0, active = 0, i;
  CURLMcode mc = CURLM_OK;
  for (;;) {
    CURLMsg *msg;
    int running = 0, left;
    for (; active < conc && next < n; next++) {
      if (s[next].state != READY) continue;
      if ((mc = curl_multi_add_handle(m->multi, m->xs[next]->curl)) != CURLM_OK) goto fail;
      s[next].state = ADDED;
      active++;
    }
    if (active == 0) return CURLM_OK; /* and next == n */
    if ((mc = curl_multi_perform(m->multi, &running)) != CURLM_OK) goto fail;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
      CURL *e = msg->easy_handle;
      char *p = NULL;
      if (msg->msg != CURLMSG_DONE) continue;
      i = curl_easy_getinfo(e, CURLINFO_PRIVATE, &p) == CURLE_OK ? (size_t)(uintptr_t)p : n;
      if (i >= n || m->xs[i]->curl != e) /* cannot happen; a search costs little */
        for (i = 0; i < n && m->xs[i]->curl != e; i++) {}
      if (i == n || s[i].state != ADDED) continue;
      s[i].rc = msg->data.result; /* msg is invalid once the handle is removed */
      s[i].state = DONE;
      active--;
      if ((mc = curl_multi_remove_handle(m->multi, e)) != CURLM_OK) goto fail;
    }
    /* wait for activity unless a finished transfer left room for another */
    if (running > 0 && (active == conc || next == n)) {
      if ((mc = curl_multi_poll(m->multi, NULL, 0, 1000, NULL)) != CURLM_OK) goto fail;
    }
  }
fail:
  for (i = 0; i < n; i++) {
    /* already failing: a second error here changes nothing we report (and
     * removing a handle that is not in the multi handle is a no-op) */
    if (s[i].state == ADDED || s[i].state == DONE) (void)curl_multi_remove_handle(m->multi, m->xs[i]->curl);
    if (s[i].state == DONE) continue;
    if (s[i].state == ADDED) s[i].sent = 1; /* it may have gone out */
    if (s[i].state != FAILED) {
      s[i].state = FAILED;
      s[i].err = curl_multi_strerror(mc);
      s[i].rc = CURLE_FAILED_INIT;
    }
  }
  return mc;
}

/* concurrency: an integer from 1 to MAX_CONCURRENCY, DEFAULT_CONCURRENCY when nil */
static size_t check_concurrency(lua_State *L, int i) {
  lua_Number c = luaL_optnumber(L, i, DEFAULT_CONCURRENCY);
  if (!(c >= 1 && c <= MAX_CONCURRENCY) || c != (lua_Number)(long)c)
    luaL_error(L, "basiq.core: concurrency must be an integer from 1 to %d", MAX_CONCURRENCY);
  return (size_t)c;
}

/* m:perform(reqs [, concurrency]) -> out, where out[i] is the outcome of
 * reqs[i], as h:perform gives it: { status, headers, body } | { message, code, sent }.
 * Raises, before anything is sent, on a malformed request table. */
static int l_perform(lua_State *L) {
  multi *m = check_multi(L);
  size_t n, i, conc;
  slot *s;
  luaL_checktype(L, 2, LUA_TTABLE);
  conc = check_concurrency(L, 3);
  lua_settop(L, 3);
  n = lua_rawlen(L, 2);
  if (n > 1000000) return luaL_error(L, "basiq.core: more than 1000000 requests in one batch");
  if (curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc) != CURLM_OK
      /* the default cache (4 per transfer in the handle) shrinks as a batch
       * drains; this keeps a full batch's connections for the next one */
      || curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)conc) != CURLM_OK)
    return luaL_error(L, "basiq.core: curl_multi_setopt refused the connection limits");

  /* the slots live in a userdata, so a raise below cannot leak them */
  s = lua_newuserdata(L, (n ? n : 1) * sizeof *s);
  memset(s, 0, (n ? n : 1) * sizeof *s);
  if (ensure_xfers(m, n) != 0) return luaL_error(L, "basiq.core: out of memory");

  /* every request is read (and may raise) before any transfer starts */
  for (i = 0; i < n; i++) {
    basiq_xfer *x = m->xs[i];
    int tls;
    lua_rawgeti(L, 2, (int)(i + 1));
    x->plain = 0; /* the batch options are not a plain GET's: full prepare */
    s[i].err = basiq_xfer_prepare(L, lua_gettop(L), x);
    lua_getfield(L, -1, "url"); /* a string: prepare checked it */
    tls = strncasecmp(lua_tostring(L, -1), "https:", 6) == 0;
    lua_pop(L, 2); /* reqs[i] stays referenced by reqs, so its strings stay alive */
    if (s[i].err) {
      s[i].state = FAILED;
      s[i].rc = x->prep_rc;
    } else if ((s[i].rc = batch_options(x->curl, i, tls)) != CURLE_OK) {
      s[i].state = FAILED;
      s[i].err = curl_easy_strerror(s[i].rc);
    }
  }

  (void)run(m, s, n, conc);

  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    if (s[i].state == FAILED) basiq_push_failure(L, s[i].err, s[i].rc, s[i].sent);
    else (void)basiq_xfer_push(L, m->xs[i], s[i].rc);
    lua_rawseti(L, -2, (int)(i + 1));
  }
  drop_xfers(m, m->nxs > KEEP_IDLE ? KEEP_IDLE : m->nxs);
  return 1;
}

static const luaL_Reg multi_methods[] = {
  {"perform", l_perform},
  {"close", l_close},
  {NULL, NULL}
};

int basiq_open_multi(lua_State *L) {
  basiq_handle_type(L, BASIQ_MULTI_MT, multi_methods, l_close, l_tostring);
  lua_pushcfunction(L, l_new);
  return 1;
}
