/*
 * Scenario: open and close an instance with two handler threads over and
 * over, with a fault served in between.  uswap_close rings one stop
 * doorbell per handler; rung back to back, two could land in one handler's
 * read(2), and the other handler never stopped: close hung in
 * pthread_join (fixed 2026-11-26; each doorbell now waits for its reader).
 * The race is narrow: with the old code 2000 rounds hung in about one run
 * of seven here (the test then fails by its timeout).
 */
#include <time.h>

#include "mmtest.h"

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 2000;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < rounds; i++) {
		struct mt_conf c = {.policy = SWAPIN_UNIFIED,
				    .budget_pages = 16,
				    .nslots = 64,
				    .threads = 2,
				    .cache_pages = 4};
		struct uswap *u = mt_open(&c);
		char *a = uswap_map(u, 4 * PAGE_SIZE);

		CHECK(a, "uswap_map: %s", strerror(errno));
		a[0] = 1;
		CHECK(a[0] == 1, "round %ld: lost a write", i);
		uswap_close(u);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%ld opens and closes in %.2f s\n", rounds,
	       (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
