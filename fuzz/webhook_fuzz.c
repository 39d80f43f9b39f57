/* libFuzzer: the webhook verifier and strict base64 (src/crypto.c). The
 * input is decoded as base64, then split at newlines into secret, id,
 * timestamp, body, signatures for the verifier. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "../src/basiq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size, *f[5];
  size_t len[5], i;
  unsigned char *out = malloc(size / 4 * 3 + 1), *again;
  long n;
  if (out == NULL) return 0;
  /* strict base64 has one encoding per byte string: whatever decodes must
   * encode back to exactly the input */
  n = basiq_b64decode(p, size, out);
  if (n >= 0 && (again = malloc(size + 1)) != NULL) {
    if (EVP_EncodeBlock(again, out, (int)n) != (int)size || memcmp(again, p, size) != 0) abort();
    free(again);
  }
  free(out);
  for (i = 0; i < 5; i++) {
    const char *nl = i < 4 ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    f[i] = p;
    len[i] = nl ? (size_t)(nl - p) : (size_t)(end - p);
    p = nl ? nl + 1 : end;
  }
  (void)basiq_webhook_check(f[0], len[0], f[1], len[1], f[2], len[2], f[3], len[3], f[4], len[4]);
  return 0;
}
