/* Percent-encoding and form encoding, both on curl_easy_escape (RFC 3986:
 * everything but ALPHA, DIGIT, "-", ".", "_" and "~" is encoded). */
#include <curl/curl.h>
#include "basiq.h"

static int push_escaped(lua_State *L, const char *s, size_t n) {
  char *e;
  if (n > (size_t)0x7fffffff) return luaL_error(L, "basiq.core: string too long to encode");
  e = curl_easy_escape(NULL, s, (int)n);
  if (e == NULL) return luaL_error(L, "basiq.core: out of memory");
  lua_pushstring(L, e);   /* may raise on OOM: e would leak, acceptable */
  curl_free(e);
  return 1;
}

static int unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

/* escape(s) -> percent-encoded s; s itself when nothing needs encoding
 * (most ids: no copy, no allocation) */
static int l_escape(lua_State *L) {
  size_t n, i;
  const char *s = luaL_checklstring(L, 1, &n);
  for (i = 0; i < n && unreserved((unsigned char)s[i]); i++) {}
  if (i == n && lua_type(L, 1) == LUA_TSTRING) {
    lua_settop(L, 1);
    return 1;
  }
  return push_escaped(L, s, n);
}

/* form({k1, v1, k2, v2, ...}) -> "k1=v1&k2=v2" */
static int l_form(lua_State *L) {
  luaL_Buffer b;
  size_t i, n;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = lua_rawlen(L, 1);
  if (n % 2) return luaL_argerror(L, 1, "expected name/value pairs");
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *s;
    /* the separator first: luaL_addchar may grow the buffer, which needs
     * the stack as buffinit left it (only luaL_addvalue takes a value on top) */
    if (i > 1) luaL_addchar(&b, (i % 2) ? '&' : '=');
    lua_rawgeti(L, 1, (int)i);
    s = lua_tolstring(L, -1, &len);
    if (s == NULL) return luaL_error(L, "basiq.core: form item %d is not a string", (int)i);
    push_escaped(L, s, len);
    lua_remove(L, -2);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return 1;
}

/* The length of the valid UTF-8 prefix of s (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF); n when all of s is valid. */
size_t basiq_utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len, k;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return i;
    if (n - i < len) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (k = 2; k < len; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    i += len;
  }
  return n;
}

/* valid_utf8(s) -> true | false, byte position (1-based) of the first bad byte */
static int l_valid_utf8(lua_State *L) {
  size_t n, ok;
  const char *s = luaL_checklstring(L, 1, &n);
  ok = basiq_utf8_valid((const unsigned char *)s, n);
  lua_pushboolean(L, ok == n);
  if (ok == n) return 1;
  lua_pushinteger(L, (lua_Integer)ok + 1);
  return 2;
}

void basiq_open_encode(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"valid_utf8", l_valid_utf8}, {"escape", l_escape}, {"form", l_form}, {NULL, NULL}
  };
  luaL_setfuncs(L, fns, 0);
}
