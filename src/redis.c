/* basiq.core.redis(host, port, timeout_ms): one blocking Redis connection
 * over hiredis, for the stores a fleet shares (tokens, webhook deliveries)
 * outside nginx (inside nginx they use lua-resty-redis on cosockets instead). Every command is
 * bounded by the timeout; replies are turned into Lua values only after
 * hiredis has returned, so no Lua error unwinds through hiredis. */
#include <string.h>
#include <sys/time.h>
#include <hiredis/hiredis.h>
#include "basiq.h"

#define BASIQ_REDIS_MT "basiq.core.redis"
#define MAX_ARGS 64
#define MAX_DEPTH 8

typedef struct {
  redisContext *c; /* NULL once closed, or once the connection broke */
} redis_conn;

static struct timeval tv_of(lua_Integer ms) {
  struct timeval tv;
  tv.tv_sec = (time_t)(ms / 1000);
  tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
  return tv;
}

static void drop(redis_conn *r) {
  if (r->c) { redisFree(r->c); r->c = NULL; }
}

static int l_close(lua_State *L) {
  drop(luaL_checkudata(L, 1, BASIQ_REDIS_MT));
  return 0;
}

static int l_tostring(lua_State *L) {
  redis_conn *r = luaL_checkudata(L, 1, BASIQ_REDIS_MT);
  lua_pushfstring(L, "basiq.core.redis (%s)", r->c ? "open" : "closed");
  return 1;
}

/* core.redis(host, port, timeout_ms) -> connection | nil, message */
static int l_connect(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  lua_Integer port = luaL_checkinteger(L, 2), ms = luaL_checkinteger(L, 3);
  redis_conn *r;
  redisContext *c;
  luaL_argcheck(L, port > 0 && port < 65536, 2, "port must be from 1 to 65535");
  luaL_argcheck(L, ms > 0 && ms <= 86400000, 3, "timeout must be a positive number of milliseconds");
  r = lua_newuserdata(L, sizeof *r); /* first, so a raise below leaks nothing */
  r->c = NULL;
  luaL_setmetatable(L, BASIQ_REDIS_MT);
  c = redisConnectWithTimeout(host, (int)port, tv_of(ms));
  if (c == NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "out of memory");
    return 2;
  }
  if (c->err || redisSetTimeout(c, tv_of(ms)) != REDIS_OK) {
    lua_pushnil(L);
    lua_pushstring(L, c->err ? c->errstr : "cannot set the timeout");
    redisFree(c);
    return 2;
  }
  r->c = c;
  return 1;
}

/* A reply as a Lua value: strings, integers, arrays (nil elements as
 * false); errors as nil, message at the top. */
static int push_reply(lua_State *L, const redisReply *rep, int depth) {
  size_t i;
  switch (rep->type) {
  case REDIS_REPLY_STRING:
  case REDIS_REPLY_STATUS:
    lua_pushlstring(L, rep->str, rep->len);
    return 1;
  case REDIS_REPLY_INTEGER:
    lua_pushinteger(L, (lua_Integer)rep->integer);
    return 1;
  case REDIS_REPLY_ARRAY:
    if (depth >= MAX_DEPTH) { lua_pushboolean(L, 0); return 1; }
    lua_createtable(L, (int)rep->elements, 0);
    for (i = 0; i < rep->elements; i++) {
      push_reply(L, rep->element[i], depth + 1);
      lua_rawseti(L, -2, (int)(i + 1));
    }
    return 1;
  case REDIS_REPLY_ERROR:
    if (depth == 0) {
      lua_pushnil(L);
      lua_pushlstring(L, rep->str, rep->len);
      return 2;
    }
    lua_pushlstring(L, rep->str, rep->len);
    return 1;
  default: /* REDIS_REPLY_NIL */
    if (depth == 0) lua_pushnil(L); else lua_pushboolean(L, 0);
    return 1;
  }
}

/* r:command(name, arg...) -> reply | nil, message. A failed connection is
 * closed: the store makes a new one on its next command. */
static int l_command(lua_State *L) {
  redis_conn *r = luaL_checkudata(L, 1, BASIQ_REDIS_MT);
  int argc = lua_gettop(L) - 1, i, n;
  const char *argv[MAX_ARGS];
  size_t lens[MAX_ARGS];
  redisReply *rep;
  if (argc < 1 || argc > MAX_ARGS) return luaL_error(L, "basiq.core: a Redis command takes 1 to %d words", MAX_ARGS);
  for (i = 0; i < argc; i++) argv[i] = luaL_checklstring(L, i + 2, &lens[i]);
  if (r->c == NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "connection closed");
    return 2;
  }
  rep = redisCommandArgv(r->c, argc, argv, lens);
  if (rep == NULL) {
    lua_pushnil(L);
    lua_pushstring(L, r->c->err ? r->c->errstr : "no reply");
    drop(r);
    return 2;
  }
  n = push_reply(L, rep, 0);
  freeReplyObject(rep);
  return n;
}

static const luaL_Reg redis_methods[] = {
  {"command", l_command},
  {"close", l_close},
  {NULL, NULL}
};

int basiq_open_redis(lua_State *L) {
  basiq_handle_type(L, BASIQ_REDIS_MT, redis_methods, l_close, l_tostring);
  lua_pushcfunction(L, l_connect);
  return 1;
}
