/* Preloaded under callgrind only: a fixed time() makes each Lua's string
 * hash seed (time and addresses; valgrind's addresses do not move) the same
 * every run, so instruction counts repeat to within about 0.1% instead of
 * 1%. Nothing timed uses time(): the clocks are monotonic. */
#include <time.h>

time_t time(time_t *t) {
  if (t) *t = 1700000000;
  return 1700000000;
}
