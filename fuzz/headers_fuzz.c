/* libFuzzer: the response header parser (src/buf.c) on arbitrary bytes.
 * Besides ASan's bounds checks, every pair handed out must be what the
 * parser promises: inside the input, a non-empty name without ':' or a line
 * break, both trimmed of spaces and tabs. */
#include <stdint.h>
#include <string.h>
#include "../src/basiq.h"

static const char *lo, *hi;

static int edge_blank(const char *s, size_t n) {
  return n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t');
}

static void check(void *ud, const char *name, size_t nlen, const char *value, size_t vlen) {
  size_t *n = ud;
  if (name < lo || name + nlen > hi || value < lo || value + vlen > hi) __builtin_trap();
  if (nlen == 0 || memchr(name, ':', nlen) || memchr(name, '\n', nlen) || memchr(value, '\n', vlen)) __builtin_trap();
  if (edge_blank(name, nlen) || edge_blank(value, vlen)) __builtin_trap();
  (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t n = 0;
  lo = (const char *)data;
  hi = lo + size;
  basiq_parse_headers(lo, size, check, &n);
  return 0;
}
