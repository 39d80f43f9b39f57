/* libFuzzer: the answer parser of the nginx transport (src/reply.c) on
 * arbitrary bytes, fed whole and then split at points the input's first
 * bytes choose (reads off a socket come in any pieces). Besides ASan's and
 * UBSan's checks: both feedings must end the same (state, status, body,
 * keepalive, kind), a body never outgrows its cap, and an answer is only
 * complete once. The first input byte also picks a small body cap and HEAD. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../src/basiq.h"

static int run(basiq_reply *r, const uint8_t *data, size_t size, const uint8_t *cuts, size_t ncuts, int eof) {
  size_t at = 0, i;
  for (i = 0; i <= ncuts && at < size; i++) { /* the pieces, the last one all that is left */
    size_t n = i < ncuts ? 1 + cuts[i] % 64 : size - at;
    if (n > size - at) n = size - at;
    at += n;
    if (basiq_reply_feed(r, (const char *)data + at - n, n) != BASIQ_REPLY_MORE) break;
  }
  /* what came after an answer: seen (nginx finds it pending when the
   * connection would go back to its pool), and never kept alive */
  if (r->state == BASIQ_REPLY_DONE && at < size) basiq_reply_feed(r, (const char *)data + at, size - at);
  if (eof && r->state == BASIQ_REPLY_MORE) basiq_reply_eof(r);
  if (r->body.len + (r->direct ? r->direct_len : 0) > r->max_body) abort();
  return r->state;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  basiq_reply whole, split;
  size_t ncuts, max_body;
  int head, eof;
  const uint8_t *cuts;
  if (size < 2) return 0;
  max_body = data[0] & 1 ? 64 : (size_t)1 << 20;
  head = (data[0] >> 1) & 1;
  eof = (data[0] >> 2) & 1;
  ncuts = data[1] % 16;
  if ((size_t)2 + ncuts > size) return 0;
  cuts = data + 2;
  data += 2 + ncuts;
  size -= 2 + ncuts;
  memset(&whole, 0, sizeof whole);
  memset(&split, 0, sizeof split);
  basiq_reply_init(&whole, max_body, head);
  basiq_reply_init(&split, max_body, head);
  run(&whole, data, size, NULL, 0, eof);
  run(&split, data, size, cuts, ncuts, eof);
  if (whole.state != split.state) abort();
  if (whole.state == BASIQ_REPLY_DONE) {
    if (whole.status != split.status || whole.keepalive != split.keepalive) abort();
    size_t wl, sl;
    const char *wb = basiq_reply_body(&whole, &wl), *sb = basiq_reply_body(&split, &sl);
    if (wl != sl || (wl && memcmp(wb, sb, wl))) abort();
    if (whole.head.len != split.head.len || (whole.head.len && memcmp(whole.head.data, split.head.data, whole.head.len)))
      abort();
    /* fed more after the end: still done, and never kept alive */
    if (basiq_reply_feed(&whole, "x", 1) != BASIQ_REPLY_DONE || whole.keepalive) abort();
  }
  if (whole.state == BASIQ_REPLY_FAILED && strcmp(whole.kind, split.kind) != 0) abort();
  basiq_reply_free(&whole);
  basiq_reply_free(&split);
  basiq_reply_free(&whole); /* idempotent */
  return 0;
}
