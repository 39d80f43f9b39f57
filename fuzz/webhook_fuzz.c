/* libFuzzer: the webhook verifier, its key derivation and strict base64
 * (src/crypto.c). The input is decoded as base64, then split at newlines
 * into secret, id, timestamp, body, signatures for the verifier. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "../src/basiq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size, *f[5];
  size_t len[5], i;
  unsigned char *out = malloc(size / 4 * 3 + 1), *again, *key, *key2;
  long n, klen;
  if (out == NULL) return 0;
  /* strict base64 has one encoding per byte string: whatever decodes must
   * encode back to exactly the input */
  n = basiq_b64decode(p, size, out);
  if (n >= 0 && (again = malloc(size + 1)) != NULL) {
    if (EVP_EncodeBlock(again, out, (int)n) != (int)size || memcmp(again, p, size) != 0) abort();
    free(again);
  }
  /* and every such encoding of a non-empty key is a secret of that key */
  if (n > 0 && (key = malloc(size + 1)) != NULL) {
    if (basiq_webhook_key(p, size, key) != n || memcmp(key, out, (size_t)n) != 0) abort();
    free(key);
  }
  free(out);
  for (i = 0; i < 5; i++) {
    const char *nl = i < 4 ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    f[i] = p;
    len[i] = nl ? (size_t)(nl - p) : (size_t)(end - p);
    p = nl ? nl + 1 : end;
  }
  key = malloc(len[0] + 1);
  if (key == NULL) return 0;
  klen = basiq_webhook_key(f[0], len[0], key);
  if (klen >= 0) {
    /* a key is never longer than its secret, and the secret's canonical
     * encoding (whsec_ and padded base64) gives the same key back */
    size_t clen = 6 + 4 * (((size_t)klen + 2) / 3);
    char *canon = malloc(clen + 1);
    if ((size_t)klen > len[0]) abort();
    key2 = malloc(clen + 1);
    if (canon != NULL && key2 != NULL) {
      memcpy(canon, "whsec_", 6);
      EVP_EncodeBlock((unsigned char *)canon + 6, key, (int)klen);
      if (basiq_webhook_key(canon, clen, key2) != klen || memcmp(key2, key, (size_t)klen) != 0) abort();
    }
    free(canon);
    free(key2);
    (void)basiq_webhook_check(key, (size_t)klen, f[1], len[1], f[2], len[2], f[3], len[3], f[4], len[4]);
  }
  free(key);
  return 0;
}
