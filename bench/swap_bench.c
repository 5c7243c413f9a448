/*
 * Microbenchmark of the swap core (not a test): slot allocation + free (in
 * a steady state: each thread holds 256 slots and frees its oldest for each
 * new one, so clusters stay partly used as on a real device) and swap-cache
 * lookup hits, with 1 and 2 threads, in ns per operation per
 * thread (wall clock, and the thread's CPU time, which leaves out the
 * time the thread was descheduled on a shared machine), with baselines measured in the same run (an uncontended mutex
 * lock/unlock pair, the floor of an allocation's cluster lock; an atomic
 * load + reference get/put, the floor of a lookup).  Each case runs REPS
 * times; the median, min and max are printed.
 *
 * usage: swap_bench [ITERATIONS [REPS]]
 * Build without the debug tier for numbers that mean something:
 *   meson setup build-bench -Dbuildtype=release -Ddebug_checks=false \
 *       -Dtest_hooks=false && meson compile -C build-bench bench/swap_bench
 *   nice build-bench/bench/swap_bench
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "swap/swap.h"

#define NCACHED 1024
#define MAXREPS 31
#define RING	256

/* A device that keeps nothing: the bench measures the swap core only. */
static int null_store(struct store_dev *d, uint32_t s, const void *p)
{
	return 0;
}
static int null_load(struct store_dev *d, uint32_t s, void *p)
{
	return 0;
}
static void null_discard(struct store_dev *d, uint32_t s)
{
}
static void null_stats(struct store_dev *d, struct store_stats *st)
{
	memset(st, 0, sizeof(*st));
}
static long null_compact(struct store_dev *d)
{
	return 0;
}
static void null_destroy(struct store_dev *d)
{
}
static const struct store_ops null_ops = {
	"null",	    null_store,	  null_load,	null_discard,
	null_stats, null_compact, null_destroy,
};

static struct store_dev dev = {&null_ops, 1 << 16, true};
static struct swap_info *si;
static swp_entry_t cached[NCACHED];
static swp_entry_t ring[2][RING]; /* slots each allocating thread holds */
static unsigned long iters = 2000000;
static pthread_mutex_t base_mutex[2] = {PTHREAD_MUTEX_INITIALIZER,
					PTHREAD_MUTEX_INITIALIZER};
static _Atomic uintptr_t base_word[2][8];
static _Atomic int base_ref[2][16];

struct job {
	int kind, id, shared;
	double ns, cpu_ns; /* wall and thread CPU time per operation */
};

enum { ALLOC_FREE, LOOKUP, BASE_MUTEX, BASE_ATOMIC };

static double now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static pthread_barrier_t barrier;

static void *run(void *arg)
{
	struct job *j = arg;
	unsigned long i, sink = 0;
	unsigned base = j->shared ? 0 : (unsigned)j->id * (NCACHED / 2);
	unsigned mask = j->shared ? NCACHED - 1 : NCACHED / 2 - 1;
	double t0, c0;

	if (j->kind == ALLOC_FREE) { /* fill the ring, untimed */
		for (i = 0; i < RING; i++)
			if (!ring[j->id][i].val &&
			    swap_alloc(si, 0, &ring[j->id][i]))
				exit(1);
	}
	pthread_barrier_wait(&barrier);
	t0 = now_ns(CLOCK_MONOTONIC);
	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	switch (j->kind) {
	case ALLOC_FREE:
		/* steady state: RING slots held, free the oldest each time */
		for (i = 0; i < iters; i++) {
			swp_entry_t *e = &ring[j->id][i % RING];

			if (e->val)
				swapcache_clear(*e);
			if (swap_alloc(si, 0, e)) {
				fprintf(stderr, "swap_alloc failed\n");
				exit(1);
			}
		}
		break;
	case LOOKUP:
		for (i = 0; i < iters; i++) {
			struct folio *f =
				swap_cache_get_folio(cached[base + (i & mask)]);

			sink += (uintptr_t)f;
			folio_put(f);
		}
		break;
	case BASE_MUTEX:
		for (i = 0; i < iters; i++) {
			pthread_mutex_lock(&base_mutex[j->id]);
			sink++;
			pthread_mutex_unlock(&base_mutex[j->id]);
		}
		break;
	case BASE_ATOMIC:
		for (i = 0; i < iters; i++) {
			sink += atomic_load_explicit(&base_word[j->id][i & 7],
						     memory_order_acquire);
			atomic_fetch_add(&base_ref[j->id][0], 1);
			atomic_fetch_sub(&base_ref[j->id][0], 1);
		}
		break;
	}
	j->ns = (now_ns(CLOCK_MONOTONIC) - t0) / (double)iters;
	j->cpu_ns = (now_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)iters;
	if (sink == 42)
		printf(" ");
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void bench(const char *name, int kind, int nthreads, int shared,
		  int reps)
{
	double v[MAXREPS * 2], c[MAXREPS * 2];
	int r, t, n = 0;

	for (r = 0; r < reps; r++) {
		pthread_t tid[2];
		struct job jobs[2];

		pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
		for (t = 0; t < nthreads; t++) {
			jobs[t] = (struct job){kind, t, shared, 0, 0};
			pthread_create(&tid[t], NULL, run, &jobs[t]);
		}
		for (t = 0; t < nthreads; t++) {
			pthread_join(tid[t], NULL);
			c[n] = jobs[t].cpu_ns;
			v[n++] = jobs[t].ns;
		}
		pthread_barrier_destroy(&barrier);
	}
	qsort(v, (size_t)n, sizeof(v[0]), cmp);
	qsort(c, (size_t)n, sizeof(c[0]), cmp);
	printf("| %-34s | %d | %7.1f | %7.1f | %7.1f | %7.1f | %7.1f | %7.1f "
	       "|\n",
	       name, nthreads, v[n / 2], v[0], v[n - 1], c[n / 2], c[0],
	       c[n - 1]);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct folio_pool *pool;
	void *area;
	int reps = 7, i;

	if (argc > 1)
		iters = strtoul(argv[1], NULL, 0);
	if (argc > 2)
		reps = atoi(argv[2]);
	if (reps < 1 || reps > MAXREPS)
		reps = 7;
	area = mmap(NULL, NCACHED * PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || swapon(&dev, dev.nslots, &si) ||
	    folio_pool_create(area, NCACHED, &pool)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	for (i = 0; i < NCACHED; i++) {
		struct folio *f = folio_alloc(pool);

		folio_lock(f);
		if (swap_alloc(si, 0, &cached[i]) ||
		    swap_cache_add_folio(cached[i], f, NULL) ||
		    swap_duplicate(cached[i])) {
			fprintf(stderr, "populate failed\n");
			return 1;
		}
		folio_unlock(f);
		folio_put(f); /* the cache keeps its reference */
	}
	printf("swap_bench: %lu iterations x %d repetitions, ns/op per "
	       "thread\n\n",
	       iters, reps);
	printf("| %-34s | threads | wall median | min | max | CPU median "
	       "| min | max |\n",
	       "case");
	printf("|---|---|---|---|---|---|---|---|\n");
	bench("baseline: mutex lock+unlock", BASE_MUTEX, 1, 0, reps);
	bench("swap_alloc + swapcache_clear", ALLOC_FREE, 1, 0, reps);
	bench("swap_alloc + swapcache_clear", ALLOC_FREE, 2, 0, reps);
	bench("baseline: atomic load + get/put", BASE_ATOMIC, 1, 0, reps);
	bench("swap_cache_get_folio + folio_put", LOOKUP, 1, 0, reps);
	bench("  same, 2 threads, disjoint slots", LOOKUP, 2, 0, reps);
	bench("  same, 2 threads, shared slots", LOOKUP, 2, 1, reps);
	return 0;
}
