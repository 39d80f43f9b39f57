/* basiq.core.multi(): many transfers at once through one CURLM, whose
 * connection cache (and HTTP/2 multiplexing, where a server offers it) is
 * shared by every batch it runs. Requests are all read from Lua first; no
 * Lua API is used while transfers run. */
#include <stdlib.h>
#include <string.h>
#include "basiq.h"

#define MAX_CONCURRENCY 1000
#define KEEP_IDLE 256 /* transfers kept for the next batch; more are freed */
#define UNFINISHED ((CURLcode)-1) /* no libcurl result is negative */

typedef struct {
  CURLM *multi;
  basiq_xfer *xs; /* one per request of the current (or last) batch */
  size_t nxs;     /* initialised entries of xs */
} multi;

static void drop_xfers(multi *m, size_t keep) {
  while (m->nxs > keep) basiq_xfer_cleanup(&m->xs[--m->nxs]);
  if (keep == 0) { free(m->xs); m->xs = NULL; }
}

static int l_close(lua_State *L) {
  multi *m = luaL_checkudata(L, 1, BASIQ_MULTI_MT);
  if (m->multi) {
    size_t i;
    for (i = 0; i < m->nxs; i++) /* no-op for handles not added */
      if (m->xs[i].curl) curl_multi_remove_handle(m->multi, m->xs[i].curl);
  }
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

/* Makes m->xs hold n initialised transfers. */
static int ensure_xfers(multi *m, size_t n) {
  if (n > m->nxs) {
    /* moving the structs is fine: prepare sets every pointer option again */
    basiq_xfer *xs = realloc(m->xs, n * sizeof *xs);
    if (xs == NULL) return -1;
    m->xs = xs;
    while (m->nxs < n) {
      if (basiq_xfer_init(&m->xs[m->nxs]) != 0) return -1;
      m->nxs++;
    }
  }
  return 0;
}

/* m:perform(reqs, concurrency) -> out, where out[i] is
 * { status = n, headers = {...}, body = s } or { err = s, code = n, sent = b } */
static int l_perform(lua_State *L) {
  multi *m = luaL_checkudata(L, 1, BASIQ_MULTI_MT);
  lua_Integer conc = luaL_optinteger(L, 3, 16);
  size_t n, i, next = 0, active = 0;
  const char **prep_err;
  CURLcode *rcs;
  CURLMcode mc = CURLM_OK;
  int still = 0;

  if (m->multi == NULL) return luaL_error(L, "basiq.core: multi handle is closed");
  luaL_checktype(L, 2, LUA_TTABLE);
  if (conc < 1 || conc > MAX_CONCURRENCY) return luaL_error(L, "basiq.core: concurrency must be 1 to %d", MAX_CONCURRENCY);
  lua_settop(L, 3);
  n = lua_rawlen(L, 2);
  if (curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc) != CURLM_OK)
    return luaL_error(L, "basiq.core: CURLMOPT_MAX_HOST_CONNECTIONS refused");

  /* scratch arrays live in a userdata, so a raise below cannot leak them */
  prep_err = lua_newuserdata(L, (n ? n : 1) * (sizeof *prep_err + sizeof *rcs));
  rcs = (CURLcode *)(prep_err + (n ? n : 1)); /* pointers first: both stay aligned */
  if (ensure_xfers(m, n) != 0) return luaL_error(L, "basiq.core: out of memory");

  /* every request is read (and may raise) before any transfer starts */
  for (i = 0; i < n; i++) {
    basiq_xfer *x = &m->xs[i];
    lua_rawgeti(L, 2, (int)(i + 1));
    prep_err[i] = basiq_xfer_prepare(L, lua_gettop(L), x);
    lua_pop(L, 1); /* reqs[i] stays referenced by reqs, so its strings stay alive */
    rcs[i] = prep_err[i] ? x->prep_rc : UNFINISHED;
    if (!prep_err[i] && (curl_easy_setopt(x->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS) != CURLE_OK
                         || curl_easy_setopt(x->curl, CURLOPT_PIPEWAIT, 1L) != CURLE_OK)) {
      prep_err[i] = "HTTP/2 options refused";
    }
    x->plain = 0; /* the HTTP/2 options are not a plain GET's: reset next time */
  }

  /* the transfers: at most conc in flight, the next added as one finishes */
  for (;;) {
    CURLMsg *msg;
    int left;
    while (active < (size_t)conc && next < n) {
      if (!prep_err[next]) {
        mc = curl_multi_add_handle(m->multi, m->xs[next].curl);
        if (mc != CURLM_OK) break;
        active++;
      }
      next++;
    }
    if (mc != CURLM_OK) break;
    if (active == 0 && next >= n) break;
    mc = curl_multi_perform(m->multi, &still);
    if (mc != CURLM_OK) break;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
      basiq_xfer *x = NULL;
      if (msg->msg != CURLMSG_DONE) continue;
      if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK || x == NULL) continue;
      rcs[x - m->xs] = msg->data.result;
      curl_multi_remove_handle(m->multi, msg->easy_handle);
      active--;
    }
    if (active > 0 && still > 0) {
      mc = curl_multi_poll(m->multi, NULL, 0, 1000, NULL);
      if (mc != CURLM_OK) break;
    }
  }
  if (mc != CURLM_OK) { /* a multi-level failure ends the batch: what ran is unknown */
    for (i = 0; i < n; i++) {
      curl_multi_remove_handle(m->multi, m->xs[i].curl);
      if (!prep_err[i] && rcs[i] == UNFINISHED) {
        prep_err[i] = curl_multi_strerror(mc);
        rcs[i] = CURLE_FAILED_INIT;
      }
    }
  }

  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    int k;
    lua_createtable(L, 0, 3);
    if (prep_err[i]) {
      lua_pushfstring(L, "basiq.core: %s", prep_err[i]);
      lua_setfield(L, -2, "err");
      lua_pushinteger(L, (lua_Integer)rcs[i]);
      lua_setfield(L, -2, "code");
      /* a multi failure after adding the handle may have sent it */
      lua_pushboolean(L, mc != CURLM_OK && i < next);
      lua_setfield(L, -2, "sent");
    } else if ((k = basiq_xfer_push(L, &m->xs[i], rcs[i])) == 3) {
      lua_setfield(L, -4, "body");
      lua_setfield(L, -3, "headers");
      lua_setfield(L, -2, "status");
    } else {
      lua_setfield(L, -5, "sent");
      lua_setfield(L, -4, "code");
      lua_setfield(L, -3, "err");
      lua_pop(L, 1); /* the nil */
    }
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
