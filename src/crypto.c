/* Webhook verification (Standard Webhooks, as Basiq signs) on OpenSSL's
 * libcrypto: HMAC-SHA256, base64 and a constant-time comparison. Secrets
 * and signatures are read as the scheme's reference libraries read them
 * (Python's and JavaScript's): accepted when both accept, refused when
 * either refuses. basiq_webhook_key and basiq_webhook_check are plain C
 * with no Lua in them, so a fuzzer can call them. */
#include <string.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
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

/* Python's reading of base64 (binascii.a2b_base64, not strict, which the
 * Python reference library's base64.b64decode uses): any byte above 127 is
 * refused (the str must be ASCII); bytes outside the alphabet are skipped;
 * '=' ends the input once it completes a quantum and is skipped elsewhere;
 * a last quantum of one character is refused, one of two or three too
 * unless pad_optional (the library decodes a secret with "==" appended,
 * which completes it); spare bits are ignored. The decoded length, or -1;
 * at most cap bytes of it are written to out. */
static long b64decode_lenient(const char *in, size_t len, unsigned char *out, size_t cap, int pad_optional) {
  size_t i, n = 0;
  int quad = 0, pads = 0, v;
  unsigned int left = 0, byte = 0;
  for (i = 0; i < len; i++)
    if ((unsigned char)in[i] > 127) return -1;
  for (i = 0; i < len; i++) {
    if (in[i] == '=') {
      if (quad >= 2 && quad + ++pads >= 4) return (long)n;
      continue;
    }
    if ((v = b64_value((unsigned char)in[i])) < 0) continue;
    pads = 0;
    switch (quad) {
      case 0: left = (unsigned int)v; quad = 1; continue;
      case 1: byte = (left << 2) | ((unsigned int)v >> 4); left = (unsigned int)v & 0x0f; quad = 2; break;
      case 2: byte = (left << 4) | ((unsigned int)v >> 2); left = (unsigned int)v & 0x03; quad = 3; break;
      default: byte = (left << 6) | (unsigned int)v; quad = 0; break;
    }
    if (n < cap) out[n] = (unsigned char)byte;
    n++;
  }
  if (quad == 1 || (quad > 1 && !pad_optional)) return -1;
  return (long)n;
}

/* Whether the JavaScript reference library's decoder (@stablelib/base64)
 * reads s without throwing: four characters or more, at most two '=' at the
 * end, the alphabet before them, except a last character left over after a
 * multiple of four, which it never looks at. (It returns an empty key for
 * "", which the library's own tests expect to be refused.) */
static int b64_js_reads(const char *s, size_t len) {
  size_t pad = 0, data, i;
  if (len < 4) return 0;
  while (pad < len && s[len - 1 - pad] == '=') pad++;
  if (pad > 2) return 0;
  data = len - pad;
  if (data % 4 == 1) data--;
  for (i = 0; i < data; i++)
    if (b64_value((unsigned char)s[i]) < 0) return 0;
  return 1;
}

/* The HMAC key of a Standard Webhooks secret ("whsec_" optional, then
 * base64) as both reference libraries, Python's and JavaScript's, read it:
 * a secret either one refuses is refused, and where both accept they agree
 * on the key. The key length, or -1; key must hold len bytes. */
long basiq_webhook_key(const char *secret, size_t len, unsigned char *key) {
  long n;
  if (len >= 6 && memcmp(secret, "whsec_", 6) == 0) { secret += 6; len -= 6; }
  if (!b64_js_reads(secret, len)) return -1;
  n = b64decode_lenient(secret, len, key, len, 1);
  return n > 0 ? n : -1;
}

/* One webhook-signature entry against the MAC, as each library judges
 * the header: entries are split at each single space (empty ones count).
 * JavaScript accepts when some entry's text between its first and second
 * comma, after "v1", is the MAC's base64 exactly; Python reads entries in
 * order and stops at the first that matches (accept) or that it cannot
 * read (refuse): one without exactly one comma, or a v1 one that is not
 * base64 by its lenient rules. */
typedef struct {
  int js, py; /* py: 0 still reading, 1 accepted, -1 refused */
  size_t candidates;
} sig_verdict;

static void judge_entry(const char *e, size_t len, const unsigned char *mac, sig_verdict *v) {
  unsigned char given[EVP_MAX_MD_SIZE + 3];
  const char *c1 = memchr(e, ',', len), *c2 = NULL;
  size_t commas = 0, i;
  int v1;
  for (i = 0; i < len; i++) commas += e[i] == ',';
  v1 = c1 != NULL && c1 - e == 2 && memcmp(e, "v1", 2) == 0;
  if (v1) {
    const char *sig = c1 + 1;
    size_t slen = len - 3;
    v->candidates++;
    if (commas > 1) {
      c2 = memchr(sig, ',', slen);
      slen = (size_t)(c2 - sig);
    }
    /* the exact canonical text: strict base64 has one encoding per MAC */
    if (slen == 44 && basiq_b64decode(sig, slen, given) == 32 && CRYPTO_memcmp(given, mac, 32) == 0) v->js = 1;
  }
  if (v->py != 0) return;
  if (commas != 1) { v->py = -1; return; }
  if (v1) {
    long n = b64decode_lenient(c1 + 1, len - 3, given, sizeof given, 0);
    if (n < 0) v->py = -1;
    else if (n == 32 && CRYPTO_memcmp(given, mac, 32) == 0) v->py = 1;
  }
}

/* NULL when webhook-signature holds the HMAC-SHA256, keyed by key (from
 * basiq_webhook_key), of "id.ts.body" as both reference libraries accept
 * it; otherwise why not. The MAC is compared in constant time, and every
 * entry is read whichever matched. */
const char *basiq_webhook_check(const unsigned char *key, size_t key_len, const char *id, size_t id_len,
                                const char *ts, size_t ts_len, const char *body, size_t body_len,
                                const char *sigs, size_t sigs_len) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  size_t i = 0, mlen;
  sig_verdict v = { 0, 0, 0 };
  unsigned char *msg, *ok;

  if (key_len == 0 || key_len > 0x7fffffff) return "the key is not a webhook key";
  /* the signed content, "id.ts.body", in one piece for the one-shot HMAC() */
  if (body_len > (size_t)-1 - id_len - ts_len - 2) return "message too long";
  mlen = id_len + ts_len + body_len + 2;
  msg = malloc(mlen);
  if (msg == NULL) return "out of memory";
  memcpy(msg, id, id_len);
  msg[id_len] = '.';
  memcpy(msg + id_len + 1, ts, ts_len);
  msg[id_len + 1 + ts_len] = '.';
  if (body_len) memcpy(msg + id_len + ts_len + 2, body, body_len);
  ok = HMAC(EVP_sha256(), key, (int)key_len, msg, mlen, mac, &mac_len);
  free(msg);
  if (ok == NULL || mac_len != 32) return "HMAC failed";

  for (;;) {
    size_t start = i;
    while (i < sigs_len && sigs[i] != ' ') i++;
    judge_entry(sigs + start, i - start, mac, &v);
    if (i >= sigs_len) break;
    i++; /* past the space: "a b " ends in an empty entry, as split(" ") reads it */
  }
  OPENSSL_cleanse(mac, sizeof mac);
  if (v.js && v.py == 1) return NULL;
  if (v.candidates == 0) return "no v1 signature in webhook-signature";
  if (v.py < 0) return "malformed webhook-signature";
  return "no signature matches";
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

/* core.random(n) -> n bytes from OpenSSL's CSPRNG (seeded by the OS:
 * getrandom), for values an attacker must not guess (the Consent UI's
 * state). n from 1 to 1024; a generator that cannot answer raises, since
 * no caller should go on with weaker bytes. */
static int l_random(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  unsigned char buf[1024];
  luaL_argcheck(L, n >= 1 && n <= (lua_Integer)sizeof buf, 1, "from 1 to 1024 bytes");
  if (RAND_bytes(buf, (int)n) != 1) return luaL_error(L, "basiq.core: the random generator failed");
  lua_pushlstring(L, (const char *)buf, (size_t)n);
  OPENSSL_cleanse(buf, (size_t)n);
  return 1;
}

/* core.webhook_key(secret) -> the HMAC key | nil (not a secret both
 * reference libraries read) */
static int l_webhook_key(lua_State *L) {
  size_t n;
  const char *secret = luaL_checklstring(L, 1, &n);
  unsigned char *key = lua_newuserdata(L, n + 1); /* scratch the GC frees */
  long len = basiq_webhook_key(secret, n, key);
  if (len < 0) {
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, (const char *)key, (size_t)len);
  }
  OPENSSL_cleanse(key, n + 1);
  return 1;
}

/* core.webhook_check(key, id, timestamp, body, signatures) -> true | false, reason */
static int l_webhook_check(lua_State *L) {
  size_t kl, il, tl, bl, gl;
  const char *key = luaL_checklstring(L, 1, &kl);
  const char *id = luaL_checklstring(L, 2, &il);
  const char *ts = luaL_checklstring(L, 3, &tl);
  const char *body = luaL_checklstring(L, 4, &bl);
  const char *sigs = luaL_checklstring(L, 5, &gl);
  const char *why = basiq_webhook_check((const unsigned char *)key, kl, id, il, ts, tl, body, bl, sigs, gl);
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
    {"random", l_random},
    {"webhook_key", l_webhook_key},
    {"webhook_check", l_webhook_check},
    {NULL, NULL}
  };
  luaL_setfuncs(L, fns, 0);
}
