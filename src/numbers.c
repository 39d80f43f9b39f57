/* Whole numbers of a decoded JSON answer as Lua integers (Lua 5.3 and 5.4,
 * where Debian's lua-cjson makes every JSON number a float: 500 would read
 * as 500.0 and print as "500.0"). Never changes anything but a whole float
 * within 2^53, which a double holds exactly. */
#include <string.h>
#include "basiq.h"

/* Bytes that end a bare JSON word (a number, true, false or null). */
static int ends_word(unsigned char c) {
  switch (c) {
  case '{': case '}': case '[': case ']': case ',': case ':': case '"':
  case ' ': case '\t': case '\r': case '\n':
    return 1;
  default:
    return 0;
  }
}

static int keyword(const char *w, size_t n) {
  return (n == 4 && (memcmp(w, "true", 4) == 0 || memcmp(w, "null", 4) == 0)) ||
         (n == 5 && memcmp(w, "false", 5) == 0);
}

/* The bare words of JSON text outside its strings that are not true, false
 * or null: at least as many as the numbers a decoder makes of it (any text;
 * a decoder refuses what is not JSON). Plain C: fuzzed directly. */
size_t basiq_json_numbers(const char *s, size_t n) {
  size_t i = 0, count = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') {
      /* a string ends at the next quote after an even run of backslashes */
      size_t from = i + 1;
      for (;;) {
        const char *q = from < n ? memchr(s + from, '"', n - from) : NULL;
        size_t k, run = 0;
        if (q == NULL) return count;
        k = (size_t)(q - s);
        while (k - run > i + 1 && s[k - run - 1] == '\\') run++;
        from = k + 1;
        if (run % 2 == 0) break;
      }
      i = from;
    } else if (ends_word(c)) {
      i++;
    } else {
      size_t j = i;
      while (j < n && !ends_word((unsigned char)s[j])) j++;
      if (!keyword(s + i, j - i)) count++;
      i = j;
    }
  }
  return count;
}

#if LUA_VERSION_NUM >= 503
/* cjson's own limit on nesting: deeper tables are not walked */
#define MAX_DEPTH 1000
#define EXACT 9007199254740992.0 /* 2^53 */

/* One number on top, its key below it and its table below that: made an
 * integer when it is a whole float within 2^53. */
static void integer(lua_State *L) {
  if (!lua_isinteger(L, -1)) {
    lua_Number x = lua_tonumber(L, -1);
    if (x >= -EXACT && x <= EXACT && (lua_Number)(lua_Integer)x == x) {
      lua_pushvalue(L, -2);
      lua_pushinteger(L, (lua_Integer)x);
      lua_rawset(L, -5); /* an existing key: allowed while lua_next walks */
    }
  }
}

enum { NUMBERS = 1, TABLES = 2 };

/* One pass over the table on top: its numbers made integers (what has
 * NUMBERS), its tables walked whole (what has TABLES). *left: the numbers
 * still to be seen; the pass stops at 0. Returns whether it met a table. */
static int pass(lua_State *L, int depth, size_t *left, int what) {
  int tables = 0;
  if (depth > MAX_DEPTH || !lua_checkstack(L, 4)) return 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    int t = lua_type(L, -1);
    if (t == LUA_TNUMBER && (what & NUMBERS)) {
      (*left)--;
      integer(L);
    } else if (t == LUA_TTABLE) {
      tables = 1;
      if (what & TABLES) pass(L, depth + 1, left, NUMBERS | TABLES);
    }
    lua_pop(L, 1);
    if (*left == 0) {
      lua_pop(L, 1);
      break;
    }
  }
  return tables;
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
    size_t left = basiq_json_numbers(text, n);
    if (left > 0) {
      lua_pushvalue(L, 1);
      /* the answer's own numbers first, then its tables: a list's size and
       * count are found before its items are walked (often the only
       * numbers of a whole page) */
      if (pass(L, 0, &left, NUMBERS) && left > 0) pass(L, 0, &left, TABLES);
    }
  }
#else
  (void)text;
#endif
  lua_settop(L, 1);
  return 1;
}

void basiq_open_numbers(lua_State *L) {
  lua_pushcfunction(L, l_integers);
  lua_setfield(L, -2, "integers");
}
