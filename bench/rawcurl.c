/* The limit for `make bench`: the same GET as basiq.getUser, in a plain C
 * loop over one reused libcurl handle with the SDK's own transfer options
 * (src/xfer.c: every option it sets for a plain GET), keeping the reply in
 * memory as the SDK does.
 *   rawcurl URL   prints "ready" after a warm-up, then for each line "get N"
 *                 on stdin does N calls and prints the seconds they took;
 *                 "show" does one call and prints its body (one line: the
 *                 specs compare the request with the SDK's through an echo
 *                 server); "quit" (or the end of input) ends it.
 * A long-lived worker, so bench/run.lua can interleave short blocks of it
 * with the SDK's and compare neighbours on a noisy machine. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* what Debian's libcurl decodes (the core asks libcurl; bench_spec compares) */
#define ENCODINGS "deflate, gzip, br, zstd"

typedef struct { char *data; size_t len, cap; } buf;

static size_t keep(char *p, size_t size, size_t n, void *ud) {
  buf *b = ud;
  size_t len = size * n;
  if (b->len + len > b->cap) {
    size_t cap = (b->len + len) * 2;
    char *d = realloc(b->data, cap);
    if (d == NULL) return 0;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, len);
  b->len += len;
  return len;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static CURL *c;
static buf body, head;

/* n calls; 0 when all answered 200 */
static int calls(long n) {
  long i, status = 0;
  for (i = 0; i < n; i++) {
    body.len = head.len = 0;
    if (curl_easy_perform(c) != CURLE_OK || curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
        status != 200) {
      fprintf(stderr, "rawcurl: request %ld failed (status %ld)\n", i, status);
      return 1;
    }
  }
  return 0;
}

#define SET(o, v) do { if (curl_easy_setopt(c, o, v) != CURLE_OK) { fprintf(stderr, "setopt %d\n", (int)o); return 1; } } while (0)

int main(int argc, char **argv) {
  struct curl_slist *h = NULL, *h2;
  char line[64];
  int rc = 0;
  if (argc != 2) {
    fprintf(stderr, "usage: rawcurl URL\n");
    return 2;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (c = curl_easy_init()) == NULL) return 1;
  /* the headers basiq.getUser sends after basiq.auth("token"), then the
   * core's own two lines (src/xfer.c: fixed_lines, accept_encodings) */
  if ((h = curl_slist_append(NULL, "Accept: application/json")) == NULL) return 1;
  if ((h2 = curl_slist_append(h, "Authorization: Bearer token")) == NULL) return 1;
  if ((h2 = curl_slist_append(h2, "User-Agent: basiq-lua/" BASIQ_VERSION)) == NULL) return 1;
  if ((h2 = curl_slist_append(h2, "Accept-Encoding: " ENCODINGS)) == NULL) return 1;
  h = h2;
  SET(CURLOPT_URL, argv[1]);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  SET(CURLOPT_PATH_AS_IS, 1L);
  SET(CURLOPT_TIMEOUT_MS, 60000L);
  SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  SET(CURLOPT_ACCEPT_ENCODING, ENCODINGS);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_WRITEFUNCTION, keep);
  SET(CURLOPT_WRITEDATA, &body);
  SET(CURLOPT_HEADERFUNCTION, keep);
  SET(CURLOPT_HEADERDATA, &head);
  SET(CURLOPT_HTTPHEADER, h);
  SET(CURLOPT_HTTPGET, 1L);
  if (calls(50) != 0) return 1; /* warm up: the connection, the caches */
  printf("ready\n");
  fflush(stdout);
  while (rc == 0 && fgets(line, sizeof line, stdin) != NULL) {
    long n;
    double t0;
    if (strcmp(line, "quit\n") == 0) break;
    if (strcmp(line, "show\n") == 0) {
      rc = calls(1);
      if (rc == 0) {
        printf("%.*s\n", (int)body.len, body.len ? body.data : "");
        fflush(stdout);
      }
      continue;
    }
    if (sscanf(line, "get %ld", &n) != 1 || n <= 0) {
      fprintf(stderr, "rawcurl: unknown command %s", line);
      rc = 2;
      break;
    }
    t0 = now();
    rc = calls(n);
    if (rc == 0) {
      printf("%.6f\n", now() - t0);
      fflush(stdout);
    }
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  curl_global_cleanup();
  free(body.data);
  free(head.data);
  return rc;
}
