/* The limit for `make bench`: the same GET as basiq.getUser, in a plain C
 * loop over one reused libcurl handle with the SDK's own transfer options
 * (see src/xfer.c), keeping the reply in memory as the SDK does.
 *   rawcurl URL CALLS  -> prints the seconds the calls took */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#define SET(o, v) do { if (curl_easy_setopt(c, o, v) != CURLE_OK) { fprintf(stderr, "setopt %d\n", (int)o); return 1; } } while (0)

int main(int argc, char **argv) {
  CURL *c;
  struct curl_slist *h = NULL;
  buf body = {0}, head = {0};
  long i, calls, status = 0;
  double t0;
  if (argc != 3 || (calls = atol(argv[2])) <= 0) {
    fprintf(stderr, "usage: rawcurl URL CALLS\n");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  c = curl_easy_init();
  if (c == NULL) return 1;
  h = curl_slist_append(h, "Accept: application/json");
  h = curl_slist_append(h, "Authorization: Bearer token");
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
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_USERAGENT, "basiq-lua/0.1.0");
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_WRITEFUNCTION, keep);
  SET(CURLOPT_WRITEDATA, &body);
  SET(CURLOPT_HEADERFUNCTION, keep);
  SET(CURLOPT_HEADERDATA, &head);
  SET(CURLOPT_HTTPHEADER, h);
  SET(CURLOPT_HTTPGET, 1L);
  for (i = 0; i < 50; i++) { /* warm up: the connection */
    body.len = head.len = 0;
    if (curl_easy_perform(c) != CURLE_OK) { fprintf(stderr, "request failed\n"); return 1; }
  }
  t0 = now();
  for (i = 0; i < calls; i++) {
    body.len = head.len = 0;
    if (curl_easy_perform(c) != CURLE_OK || curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
        status != 200) {
      fprintf(stderr, "request %ld failed\n", i);
      return 1;
    }
  }
  printf("%.6f\n", now() - t0);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  curl_global_cleanup();
  free(body.data);
  free(head.data);
  return 0;
}
