/* libFuzzer: the response header parser (src/buf.c) on arbitrary bytes. */
#include <stdint.h>
#include <string.h>
#include "../src/basiq.h"

static void count(void *ud, const char *name, size_t nlen, const char *value, size_t vlen) {
  size_t *n = ud;
  /* touch every byte handed out, so ASan checks the bounds */
  if (nlen) *n += (unsigned char)name[nlen - 1];
  if (vlen) *n += (unsigned char)value[vlen - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t n = 0;
  basiq_parse_headers((const char *)data, size, count, &n);
  return 0;
}
