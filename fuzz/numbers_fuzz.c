/* libFuzzer: the numbers of JSON text and their paths (src/numbers.c), and
 * core.integers behind them. Every path handed out lies inside the input,
 * and no number a plain tokenizer (one that reads every escape in turn)
 * finds is missed. Whatever cjson decodes of the input, core.integers must
 * leave no whole float within 2^53. */
#include <stdint.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "../src/basiq.h"

int luaopen_basiq_core(lua_State *L);

static lua_State *L;

/* Number tokens outside strings, read byte by byte. */
static size_t reference(const char *s, size_t n) {
  size_t i, count = 0;
  int in_string = 0, in_word = 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = 0;
      continue;
    }
    if (c == '"') {
      in_string = 1;
      in_word = 0;
    } else if (c != '\0' && strchr("{}[],: \t\r\n", c)) {
      in_word = 0;
    } else if (!in_word) {
      in_word = 1;
      if (c == '-' || (c >= '0' && c <= '9')) count++;
    }
  }
  return count;
}

static const char *CHECK =
  "local cjson, core, text = ... "
  "local v = cjson.decode(text) "
  "if type(v) ~= 'table' then return end "
  "core.integers(v, text) "
  "local function walk(t, depth) "
  "  if depth > 900 then return end "
  "  for _, x in pairs(t) do "
  "    if type(x) == 'table' then walk(x, depth + 1) "
  "    elseif math.type(x) == 'float' and x % 1 == 0 and math.abs(x) <= 2^53 then error('a whole float is left') end "
  "  end "
  "end "
  "walk(v, 0)";

static const char *lo, *hi;

static void check(void *ud, const basiq_json_step *path, int depth, const char *word, size_t len) {
  int i;
  if (depth < 0 || depth > BASIQ_JSON_DEPTH || word < lo || word + len > hi || len == 0) __builtin_trap();
  for (i = 0; i < depth; i++) {
    if (path[i].array ? path[i].index == 0 : lo + path[i].key + path[i].len > hi) __builtin_trap();
  }
  (*(size_t *)ud)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  size_t seen = 0;
  lo = s;
  hi = s + size;
  size_t lost = basiq_json_numbers(s, size, check, &seen); /* the deep ones, only counted */
  seen += lost;
  if (seen < reference(s, size)) __builtin_trap();
  if (L == NULL) {
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "basiq.core", luaopen_basiq_core, 0);
    lua_pop(L, 1);
  }
  lua_settop(L, 0);
  if (luaL_loadstring(L, CHECK) != LUA_OK) __builtin_trap();
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cjson.safe");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) __builtin_trap(); /* Debian's lua-cjson */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_getfield(L, -1, "basiq.core");
  lua_replace(L, -3);
  lua_pop(L, 1);
  lua_pushlstring(L, s, size);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) __builtin_trap();
  lua_gc(L, LUA_GCCOLLECT, 0); /* what this input allocated is freed now: no leak for LSan to chase */
  return 0;
}
