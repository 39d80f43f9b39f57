/* Webhook verification (Standard Webhooks, as Basiq signs) on OpenSSL's
 * libcrypto: HMAC-SHA256, base64 and a constant-time comparison.
 * basiq_webhook_check is plain C with no Lua in it, so a fuzzer can call it. */
#include <string.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "basiq.h"

static int b64_value(unsigned char ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+') return 62;
  if (ch == '/') return 63;
  return -1;
}

/* Strict base64: standard alphabet, '=' padding required, no whitespace,
 * and the bits after the last byte zero, so each byte string has exactly
 * one encoding. The decoded length, or -1. out must hold 3 * (len / 4) bytes. */
long basiq_b64decode(const char *in, size_t len, unsigned char *out) {
  size_t i, pad = 0;
  int n;
  if (len % 4 != 0 || len > 0x7ffffffc) return -1;
  if (len == 0) return 0;
  if (in[len - 1] == '=') pad = in[len - 2] == '=' ? 2 : 1;
  for (i = 0; i < len - pad; i++)
    if (b64_value((unsigned char)in[i]) < 0) return -1;
  if (pad && (b64_value((unsigned char)in[len - pad - 1]) & (pad == 2 ? 0x0f : 0x03)) != 0) return -1;
  n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
  if (n < 0) return -1;
  return (long)n - (long)pad; /* EVP_DecodeBlock counts the padding as zero bytes */
}

/* The HMAC key of a Standard Webhooks secret: base64 after an optional
 * "whsec_"; '=' padding may be left out, as the Python reference library
 * allows. The spec's secrets are 24 bytes or more, "512 maximum"; this
 * takes up to 512 bytes. The key length, or -1. */
#define WEBHOOK_KEY_MAX 512
#define WEBHOOK_SECRET_MAX (4 * ((WEBHOOK_KEY_MAX + 2) / 3))
static long webhook_key(const char *secret, size_t len, unsigned char key[3 * (WEBHOOK_SECRET_MAX / 4)]) {
  char padded[WEBHOOK_SECRET_MAX];
  long n;
  if (len > 6 && memcmp(secret, "whsec_", 6) == 0) { secret += 6; len -= 6; }
  if (len == 0 || len > WEBHOOK_SECRET_MAX || len % 4 == 1) return -1;
  memcpy(padded, secret, len);
  while (len % 4 != 0) padded[len++] = '=';
  n = basiq_b64decode(padded, len, key);
  OPENSSL_cleanse(padded, sizeof padded);
  return n > 0 && n <= WEBHOOK_KEY_MAX ? n : -1;
}

/* NULL when one of the space-separated "v1,<base64>" entries in sigs is
 * the HMAC-SHA256, keyed by the secret after "whsec_" (base64), of
 * "id.ts.body"; otherwise why not. Compares in constant time. */
const char *basiq_webhook_check(const char *secret, size_t secret_len, const char *id, size_t id_len,
                                const char *ts, size_t ts_len, const char *body, size_t body_len,
                                const char *sigs, size_t sigs_len) {
  unsigned char key[3 * (WEBHOOK_SECRET_MAX / 4)], mac[EVP_MAX_MD_SIZE], given[EVP_MAX_MD_SIZE + 3];
  unsigned int mac_len = 0;
  long key_len;
  size_t i = 0, candidates = 0, mlen;
  int match = 0;
  unsigned char *msg, *ok;

  key_len = webhook_key(secret, secret_len, key);
  if (key_len < 0) return "the secret is not a whsec_ base64 key";

  /* the signed content, "id.ts.body", in one piece for the one-shot HMAC() */
  if (body_len > (size_t)-1 - id_len - ts_len - 2) return "message too long";
  mlen = id_len + ts_len + body_len + 2;
  msg = malloc(mlen ? mlen : 1);
  if (msg == NULL) return "out of memory";
  memcpy(msg, id, id_len);
  msg[id_len] = '.';
  memcpy(msg + id_len + 1, ts, ts_len);
  msg[id_len + 1 + ts_len] = '.';
  if (body_len) memcpy(msg + id_len + ts_len + 2, body, body_len);
  ok = HMAC(EVP_sha256(), key, (int)key_len, msg, mlen, mac, &mac_len);
  free(msg);
  OPENSSL_cleanse(key, sizeof key);
  if (ok == NULL) return "HMAC failed";

  while (i < sigs_len) {
    size_t start, end;
    while (i < sigs_len && sigs[i] == ' ') i++;
    start = i;
    while (i < sigs_len && sigs[i] != ' ') i++;
    end = i;
    if (end - start > 3 && memcmp(sigs + start, "v1,", 3) == 0) {
      size_t blen = end - start - 3;
      candidates++;
      /* a SHA-256 MAC is 44 base64 characters; anything else cannot match */
      if (blen == 44 && basiq_b64decode(sigs + start + 3, blen, given) == (long)mac_len &&
          CRYPTO_memcmp(given, mac, mac_len) == 0)
        match = 1; /* keep going: the time taken does not depend on which entry matched */
    }
  }
  OPENSSL_cleanse(mac, sizeof mac);
  if (match) return NULL;
  return candidates ? "no signature matches" : "no v1 signature in webhook-signature";
}

/* core.hmac_sha256(key, msg) -> 32 raw bytes */
static int l_hmac_sha256(lua_State *L) {
  size_t klen, mlen;
  const char *key = luaL_checklstring(L, 1, &klen);
  const char *msg = luaL_checklstring(L, 2, &mlen);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (klen > 0x7fffffff) return luaL_error(L, "basiq.core: key too long");
  if (HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, mac, &len) == NULL)
    return luaL_error(L, "basiq.core: HMAC failed");
  lua_pushlstring(L, (const char *)mac, len);
  return 1;
}

/* core.b64encode(s) -> base64 with padding */
static int l_b64encode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  unsigned char *out;
  int len;
  if (n > 0x5ffffff0) return luaL_error(L, "basiq.core: string too long to encode");
  out = lua_newuserdata(L, 4 * ((n + 2) / 3) + 1); /* scratch the GC frees, whatever raises */
  len = EVP_EncodeBlock(out, (const unsigned char *)s, (int)n);
  lua_pushlstring(L, (const char *)out, (size_t)len);
  return 1;
}

/* core.b64decode(s) -> bytes | nil, "invalid base64" */
static int l_b64decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  long len;
  unsigned char *out;
  if (n > 0x7ffffffc) return luaL_error(L, "basiq.core: string too long to decode");
  out = lua_newuserdata(L, 3 * (n / 4) + 1);
  len = basiq_b64decode(s, n, out);
  if (len < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "invalid base64");
    return 2;
  }
  lua_pushlstring(L, (const char *)out, (size_t)len);
  return 1;
}

/* core.equal(a, b) -> whether two strings are equal, in time that depends
 * on their lengths only */
static int l_equal(lua_State *L) {
  size_t an, bn;
  const char *a = luaL_checklstring(L, 1, &an);
  const char *b = luaL_checklstring(L, 2, &bn);
  lua_pushboolean(L, an == bn && CRYPTO_memcmp(a, b, an) == 0);
  return 1;
}

/* core.webhook_check(secret, id, timestamp, body, signatures) -> true | false, reason */
static int l_webhook_check(lua_State *L) {
  size_t sl, il, tl, bl, gl;
  const char *secret = luaL_checklstring(L, 1, &sl);
  const char *id = luaL_checklstring(L, 2, &il);
  const char *ts = luaL_checklstring(L, 3, &tl);
  const char *body = luaL_checklstring(L, 4, &bl);
  const char *sigs = luaL_checklstring(L, 5, &gl);
  const char *why = basiq_webhook_check(secret, sl, id, il, ts, tl, body, bl, sigs, gl);
  if (why == NULL) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushstring(L, why);
  return 2;
}

void basiq_open_crypto(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"hmac_sha256", l_hmac_sha256},
    {"b64encode", l_b64encode},
    {"b64decode", l_b64decode},
    {"equal", l_equal},
    {"webhook_check", l_webhook_check},
    {NULL, NULL}
  };
  luaL_setfuncs(L, fns, 0);
}
