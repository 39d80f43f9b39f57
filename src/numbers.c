/* Whole numbers of a decoded JSON answer as Lua integers (Lua 5.3 and 5.4,
 * where Debian's lua-cjson makes every JSON number a float: 500 would read
 * as 500.0 and print as "500.0"). Never changes anything but a whole float
 * within 2^53, which a double holds exactly. The text says where its numbers
 * are, so the decoded table is only visited along the way to each of them. */
#include <string.h>
#include "basiq.h"

/* Bytes that end a bare JSON word (a number, true, false or null). */
static const unsigned char ENDS_WORD[256] = {
  ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1, [','] = 1, [':'] = 1, ['"'] = 1,
  [' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1,
};

static int keyword(const char *w, size_t n) {
  return (n == 4 && (memcmp(w, "true", 4) == 0 || memcmp(w, "null", 4) == 0)) ||
         (n == 5 && memcmp(w, "false", 5) == 0);
}

/* The end of the string whose opening quote is at i: its closing quote
 * (the next one after an even run of backslashes), or n. */
static size_t string_end(const char *s, size_t n, size_t i) {
  size_t from = i + 1;
  for (;;) {
    const char *q = from < n ? memchr(s + from, '"', n - from) : NULL;
    size_t end, run = 0;
    if (q == NULL) return n;
    end = (size_t)(q - s);
    while (end - run > i + 1 && s[end - run - 1] == '\\') run++;
    if (run % 2 == 0) return end;
    from = end + 1;
  }
}

/* The number words of JSON text, each with the path to it: plain C, fed any
 * bytes (a decoder refuses what is not JSON), fuzzed directly. */
size_t basiq_json_numbers(const char *s, size_t n, basiq_json_number_fn fn, void *ud) {
  basiq_json_step path[BASIQ_JSON_DEPTH];
  basiq_json_step *in = NULL; /* the innermost container, while it is within the path */
  int depth = 0, key_next = 0;
  size_t i = 0, deep = 0, lost = 0; /* deep: levels below the path's; lost: numbers there */
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') {
      size_t end = string_end(s, n, i);
      if (end == n) break;
      if (key_next && in) {
        in->key = i + 1;
        in->len = end - i - 1;
      } else if (in && in->array) {
        in->index++;
      }
      key_next = 0;
      i = end + 1;
    } else if (!ENDS_WORD[c]) {
      size_t j = i + 1;
      while (j < n && !ENDS_WORD[(unsigned char)s[j]]) j++;
      if (in && in->array) in->index++;
      if (!keyword(s + i, j - i)) {
        if (deep) lost++;
        else fn(ud, path, depth, s + i, j - i);
      }
      key_next = 0;
      i = j;
    } else {
      if (c == '{' || c == '[') {
        if (in && in->array) in->index++;
        if (deep || depth == BASIQ_JSON_DEPTH) {
          deep++;
          in = NULL;
        } else {
          in = &path[depth++];
          in->array = c == '[';
          in->index = in->key = in->len = 0;
        }
        key_next = c == '{';
      } else if (c == '}' || c == ']') {
        if (deep) deep--;
        else if (depth > 0) depth--;
        in = !deep && depth > 0 ? &path[depth - 1] : NULL;
        key_next = 0;
      } else if (c == ',') {
        key_next = in && !in->array;
      } else if (c == ':') {
        key_next = 0;
      }
      i++;
    }
  }
  return lost;
}

#if LUA_VERSION_NUM >= 503
#define EXACT 9007199254740992.0 /* 2^53 */
#define MAX_DEPTH 1000           /* cjson's own limit on nesting */

/* The value on top, its key below it and its table below that: the value
 * made an integer when it is a whole float within 2^53. */
static void integer(lua_State *L) {
  if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
    lua_Number x = lua_tonumber(L, -1);
    if (x >= -EXACT && x <= EXACT && (lua_Number)(lua_Integer)x == x) {
      lua_pushvalue(L, -2);
      lua_pushinteger(L, (lua_Integer)x);
      lua_rawset(L, -5); /* an existing key: allowed while lua_next walks */
    }
  }
}

/* The table on top, and every table in it: each number made an integer.
 * Only for what the text's paths cannot reach (escaped keys, depth). */
static void whole(lua_State *L, int depth) {
  if (depth > MAX_DEPTH || !lua_checkstack(L, 4)) return;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -1) == LUA_TTABLE) whole(L, depth + 1);
    else integer(L);
    lua_pop(L, 1);
  }
}

typedef struct {
  lua_State *L;
  const char *text;
  int walk; /* a path the text cannot name: walk the whole table instead */
} numbers_ctx;

/* One step of a path on top of the stack: its index, or its key. */
static int push_step(numbers_ctx *c, const basiq_json_step *st) {
  if (st->array) {
    lua_pushinteger(c->L, (lua_Integer)st->index);
  } else {
    if (memchr(c->text + st->key, '\\', st->len)) { /* the decoded key differs from its text */
      c->walk = 1;
      return 0;
    }
    lua_pushlstring(c->L, c->text + st->key, st->len);
  }
  return 1;
}

/* A number of the text: found in the table by its path (the data is the
 * first argument) and made an integer there. */
static void on_number(void *ud, const basiq_json_step *path, int depth, const char *word, size_t len) {
  numbers_ctx *c = ud;
  lua_State *L = c->L;
  int i, top = lua_gettop(L);
  (void)word, (void)len;
  if (depth == 0 || c->walk) return;
  lua_pushvalue(L, 1);
  for (i = 0; i < depth && lua_type(L, -1) == LUA_TTABLE; i++) {
    if (!push_step(c, &path[i])) break;
    if (i == depth - 1) { /* table, key: the number's own place */
      lua_pushvalue(L, -1);
      lua_rawget(L, -3);
      integer(L);
      break;
    }
    lua_rawget(L, -2);
    lua_remove(L, -2);
  }
  lua_settop(L, top);
}
#endif

/* integers(data, text) -> data: data decoded from the JSON text, its whole
 * numbers made integers in place (Lua 5.1, 5.2, LuaJIT: data as it is). */
static int l_integers(lua_State *L) {
  size_t n;
  const char *text = luaL_checklstring(L, 2, &n);
  lua_settop(L, 2);
#if LUA_VERSION_NUM >= 503
  if (lua_type(L, 1) == LUA_TTABLE) {
    numbers_ctx c;
    c.L = L, c.text = text, c.walk = 0;
    luaL_checkstack(L, 8, "basiq.core.integers");
    if (basiq_json_numbers(text, n, on_number, &c) > 0 || c.walk) {
      lua_pushvalue(L, 1);
      whole(L, 0);
    }
  }
#else
  (void)text, (void)n;
#endif
  lua_settop(L, 1);
  return 1;
}

void basiq_open_numbers(lua_State *L) {
  lua_pushcfunction(L, l_integers);
  lua_setfield(L, -2, "integers");
}
