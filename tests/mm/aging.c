/*
 * Aging: the same skewed workload under plain FIFO and under uswap's aging
 * (second-chance list + active list, docs/pager.md "Aging"), side by side.
 *
 * usage: mm_aging [ACCESSES] [SEED]
 *
 * A region 4 times the budget; 90% of the accesses go to a hot set of half
 * the budget, 10% anywhere.  One thread writes a counter in the page it
 * touches and checks the page's stamp; at the end every counter is checked
 * against a shadow count (the test fails on any difference).  Prints, for
 * each scheme: faults, major (decompressions), minor (second-chance hits),
 * swap-outs (compressions), and wall time.  The comparison is printed, not
 * asserted (timings and counts under a background reclaimer vary).
 */
#include <time.h>

#include "mmtest.h"

#define BUDGET 256
#define NPAGES (4 * BUDGET)
#define HOT    (BUDGET / 2)

static uint32_t shadow[NPAGES];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run(bool fifo, long accesses, uint64_t seed)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = BUDGET,
			    .nslots = 2 * NPAGES,
			    .threads = 2,
			    .cache_pages = (size_t)-1};
	struct uswap_options opt;
	struct mm_params mp;
	struct uswap_stats st;
	struct uswap *u;
	uint64_t s = seed;
	double t0, t1;
	char *a;
	int ret;

	memset(&opt, 0, sizeof(opt));
	opt.budget = c.budget_pages * PAGE_SIZE;
	strcpy(opt.device, "zram");
	opt.policy = c.policy;
	opt.threads = c.threads;
	uswap_default_params(&opt, &mp);
	mp.cache_pages = c.cache_pages;
	mp.fault_around_pages = 1;
	mp.readahead_pages = 1;
	mp.fifo = fifo;
	ret = uswap_open_params(&opt, &mp, c.nslots, &u);
	if (ret == -EPERM || ret == -ENOSYS) {
		fprintf(stderr, "SKIP: userfaultfd unavailable\n");
		exit(77);
	}
	CHECK(ret == 0, "open: %d", ret);
	a = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(a, "uswap_map");
	memset(shadow, 0, sizeof(shadow));
	for (size_t i = 0; i < NPAGES; i++)
		((uint64_t *)(a + i * PAGE_SIZE))[1] = i;
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &st);
	{
		struct uswap_stats base = st;

		t0 = now();
		for (long n = 0; n < accesses; n++) {
			size_t i;
			uint64_t *p;

			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			i = (s % 10) ? (s >> 16) % HOT
				     : HOT + (s >> 16) % (NPAGES - HOT);
			/* scatter the hot set over the region */
			i = (i * 769) % NPAGES;
			p = (uint64_t *)(a + i * PAGE_SIZE);
			CHECK(p[1] == i, "page %zu stamp %llu", i,
			      (unsigned long long)p[1]);
			p[0]++;
			shadow[i]++;
		}
		t1 = now();
		mm_quiesce(uswap_mm(u));
		uswap_stats(u, &st);
		printf("%-14s %9llu %9llu %9llu %9llu %8.0f\n",
		       fifo ? "fifo" : "second-chance",
		       (unsigned long long)(st.faults - base.faults),
		       (unsigned long long)(st.faults_major -
					    base.faults_major),
		       (unsigned long long)(st.faults_minor -
					    base.faults_minor),
		       (unsigned long long)(st.swapouts - base.swapouts),
		       (t1 - t0) * 1e3);
	}
	for (size_t i = 0; i < NPAGES; i++)
		CHECK(((uint64_t *)(a + i * PAGE_SIZE))[0] == shadow[i],
		      "page %zu: counter %llu, want %u", i,
		      (unsigned long long)((uint64_t *)(a + i * PAGE_SIZE))[0],
		      shadow[i]);
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	uswap_close(u);
}

int main(int argc, char **argv)
{
	long accesses = argc > 1 ? strtol(argv[1], NULL, 0) : 200000;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 12345;

	printf("aging: budget %d pages, region %d pages, hot set %d pages "
	       "(90%% of %ld accesses), seed %llu\n",
	       BUDGET, NPAGES, HOT, accesses, (unsigned long long)seed);
	printf("%-14s %9s %9s %9s %9s %8s\n", "scheme", "faults", "major",
	       "minor", "swapouts", "ms");
	run(true, accesses, seed);
	run(false, accesses, seed);
	return 0;
}
