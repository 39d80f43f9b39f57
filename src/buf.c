#include <stdlib.h>
#include <string.h>
#include "basiq.h"

int basiq_buf_append(basiq_buf *b, const char *p, size_t n) {
  if (n > (size_t)-1 - b->len - 1) return -1;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    char *d;
    while (cap < b->len + n + 1) {
      if (cap > (size_t)-1 / 2) { cap = b->len + n + 1; break; }
      cap *= 2;
    }
    d = realloc(b->data, cap);
    if (d == NULL) return -1;
    b->data = d;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

void basiq_buf_free(basiq_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

void basiq_parse_headers(const char *raw, size_t len, basiq_header_fn fn, void *ud) {
  size_t i = 0, start = 0;
  /* Only the last block counts: 1xx interim responses come before it. */
  for (i = 0; i + 4 < len; i++)
    if (raw[i] == 'H' && (i == 0 || raw[i - 1] == '\n') && memcmp(raw + i, "HTTP/", 5) == 0)
      start = i;
  i = start;
  while (i < len) {
    size_t eol = i, colon, ns, ne, vs, ve;
    while (eol < len && raw[eol] != '\n') eol++;
    ne = eol;
    if (ne > i && raw[ne - 1] == '\r') ne--;
    for (colon = i; colon < ne && raw[colon] != ':'; colon++) {}
    /* a line starting with a space or tab continues the previous one
     * (obs-fold, obsolete): skipped, never read as a header of its own */
    if (colon < ne && colon > i && !is_space(raw[i]) && !(colon - i >= 5 && memcmp(raw + i, "HTTP/", 5) == 0)) {
      ns = i;
      ve = ne;
      ne = colon;
      while (ne > ns && is_space(raw[ne - 1])) ne--;
      vs = colon + 1;
      while (vs < ve && is_space(raw[vs])) vs++;
      while (ve > vs && is_space(raw[ve - 1])) ve--;
      if (ne > ns) fn(ud, raw + ns, ne - ns, raw + vs, ve - vs);
    }
    i = eol + 1;
  }
}
