/*
 * fault_bench - what a fault costs through the pager (a benchmark, not a
 * test: it is built but not registered).  Side by side in one run:
 *   plain      first touch of ordinary anonymous memory (no uffd)
 *   zero       first touch of uswap memory (zero fill), fault-around 1/16
 *   minor      touch of pages evicted to the second-chance list (MOVE back)
 *   major      touch of pages compressed on the device (lz4 read + MOVE),
 *              sequential and random order, readahead 1 and 8
 * One application thread; handler threads as given.  Each cell: median
 * (min..max) of REPS runs, microseconds per page touched.
 *
 * usage: mm_fault_bench [PAGES] [REPS] [HANDLERS] [ROW-SUBSTRING]
 */
#include <sys/mman.h>
#include <time.h>

#include "mmtest.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t *order;
static double last_cpu; /* CPU time (all threads) of the last touch_all */

/*
 * Touch (write one word of) every page in @order; return wall us per page
 * and leave CPU us per page (every thread of the process: the application
 * thread and the handlers) in last_cpu.
 */
static double touch_all(char *a, size_t n)
{
	double t0 = now(), c0 = cpu_now();

	for (size_t k = 0; k < n; k++)
		((volatile uint64_t *)(a + order[k] * PAGE_SIZE))[3] += 1;
	last_cpu = (cpu_now() - c0) * 1e6 / (double)n;
	return (now() - t0) * 1e6 / (double)n;
}

static void fill_order(size_t n, bool random)
{
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	if (random) {
		uint64_t s = 88172645463325252ULL;

		for (size_t i = n - 1; i > 0; i--) {
			size_t j;
			size_t t;

			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			j = s % (i + 1);
			t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
	}
}

enum what { PLAIN, ZERO, MINOR, MAJOR };

static bool sigbus_mode, move_in;

static double measure(enum what w, size_t n, unsigned handlers, unsigned around,
		      unsigned ra, bool random)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 2 * n + 1024,
			    .nslots = (uint32_t)(2 * n + 16),
			    .threads = handlers,
			    .cache_pages = n,
			    .fault_around = around,
			    .readahead = ra,
			    .no_reclaimer = true,
			    .sigbus = sigbus_mode,
			    .swapin_move = move_in};
	struct uswap *u;
	double us;
	char *a;

	fill_order(n, random);
	if (w == PLAIN) {
		a = mmap(NULL, n * PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		madvise(a, n * PAGE_SIZE, MADV_NOHUGEPAGE);
		us = touch_all(a, n);
		munmap(a, n * PAGE_SIZE);
		return us;
	}
	u = mt_open(&c);
	a = uswap_map(u, n * PAGE_SIZE);
	CHECK(a, "map");
	if (w == ZERO) {
		us = touch_all(a, n);
	} else {
		/* populate with compressible data, then evict */
		for (size_t i = 0; i < n; i++)
			memset(a + i * PAGE_SIZE, (int)(i & 0x3f) + 1, 2048);
		mm_evict_range(uswap_mm(u), a, n * PAGE_SIZE, w == MAJOR);
		mm_quiesce(uswap_mm(u));
		us = touch_all(a, n);
	}
	uswap_unmap(u, a, n * PAGE_SIZE);
	uswap_close(u);
	return us;
}

static const char *only; /* run only rows whose name contains this */

static void row(const char *name, enum what w, size_t n, int reps,
		unsigned handlers, unsigned around, unsigned ra, bool random)
{
	double v[64], c[64];

	if (only && !strstr(name, only))
		return;

	for (int r = 0; r < reps; r++) {
		v[r] = measure(w, n, handlers, around, ra, random);
		c[r] = last_cpu;
	}
	qsort(v, (size_t)reps, sizeof(v[0]), cmp);
	qsort(c, (size_t)reps, sizeof(c[0]), cmp);
	printf("| %-30s | %7.2f (%.2f..%.2f) | %7.2f (%.2f..%.2f) |\n", name,
	       v[reps / 2], v[0], v[reps - 1], c[reps / 2], c[0], c[reps - 1]);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 4096;
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	unsigned h = argc > 3 ? (unsigned)atoi(argv[3]) : 2;

	only = argc > 4 ? argv[4] : NULL;

	if (reps < 1 || reps > 64)
		reps = 5;
	order = calloc(n, sizeof(*order));
	printf("fault_bench: %zu pages, %d runs, %u handler threads; "
	       "us per page touched, median (min..max)\n\n",
	       n, reps, h);
	printf("| %-30s | %-25s | %-25s |\n| --- | --- | --- |\n", "what",
	       "wall us/page", "CPU us/page (all threads)");
	row("plain first touch (no uffd)", PLAIN, n, reps, h, 1, 1, false);
	row("zero fill, fault-around 1", ZERO, n, reps, h, 1, 1, false);
	row("zero fill, fault-around 16", ZERO, n, reps, h, 16, 1, false);
	row("minor (second chance), seq", MINOR, n, reps, h, 1, 1, false);
	row("major, seq, readahead 1", MAJOR, n, reps, h, 1, 1, false);
	row("major, seq, readahead 8", MAJOR, n, reps, h, 1, 8, false);
	row("major, random, readahead 1", MAJOR, n, reps, h, 1, 1, true);
	row("major, random, readahead 8", MAJOR, n, reps, h, 1, 8, true);
	move_in = true;
	row("MOVE-in: minor, seq", MINOR, n, reps, h, 1, 1, false);
	row("MOVE-in: major, seq, ra 1", MAJOR, n, reps, h, 1, 1, false);
	row("MOVE-in: major, random, ra 1", MAJOR, n, reps, h, 1, 1, true);
	move_in = false;
	sigbus_mode = true;
	row("SIGBUS mode: zero fill, fa 1", ZERO, n, reps, h, 1, 1, false);
	row("SIGBUS mode: minor, seq", MINOR, n, reps, h, 1, 1, false);
	row("SIGBUS mode: major, seq, ra 1", MAJOR, n, reps, h, 1, 1, false);
	row("SIGBUS mode: major, random, ra 1", MAJOR, n, reps, h, 1, 1, true);
	return 0;
}
