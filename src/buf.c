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
  const char *end, *p, *line;
  if (raw == NULL || len == 0) return;
  end = raw + len;
  p = raw;
  /* Only the last block counts: 1xx interim responses come before it. */
  for (line = raw; line && line + 5 <= end; line = memchr(line, '\n', (size_t)(end - line)), line = line ? line + 1 : NULL)
    if (memcmp(line, "HTTP/", 5) == 0) p = line;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p)), *ne, *colon, *vs, *ve;
    if (eol == NULL) eol = end;
    ne = eol;
    if (ne > p && ne[-1] == '\r') ne--;
    colon = memchr(p, ':', (size_t)(ne - p));
    /* a line starting with a space or tab continues the previous one
     * (obs-fold, obsolete): skipped, never read as a header of its own */
    if (colon && colon > p && !is_space(*p) && !(colon - p >= 5 && memcmp(p, "HTTP/", 5) == 0)) {
      ve = ne;
      ne = colon;
      while (ne > p && is_space(ne[-1])) ne--;
      vs = colon + 1;
      while (vs < ve && is_space(*vs)) vs++;
      while (ve > vs && is_space(ve[-1])) ve--;
      if (ne > p) fn(ud, p, (size_t)(ne - p), vs, (size_t)(ve - vs));
    }
    p = eol + 1;
  }
}
