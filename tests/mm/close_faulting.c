/*
 * Scenario: uswap_close while threads are faulting.  Threads keep writing
 * and verifying their own pages of a region 16 times the budget (so they
 * fault all the time) while the main thread closes the instance.  Close
 * must not hang or crash, must bring every page back (the region becomes
 * ordinary memory with its contents), and the threads, which go on for a
 * while after close, must find every one of their writes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "mmtest.h"

#define NPAGES	 512
#define NTHREADS 4

static char *region;
static _Atomic bool stop;
static _Atomic long bad;
static uint64_t counts[NTHREADS][NPAGES / NTHREADS];

static void *worker(void *arg)
{
	long id = (long)arg;
	uint64_t s = (uint64_t)id * 7919 + 1;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		size_t k, i;
		uint64_t *p;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		k = s % (NPAGES / NTHREADS);
		i = k * NTHREADS + (size_t)id; /* pages of this thread */
		p = (uint64_t *)(region + i * PAGE_SIZE);
		if (p[1] != i || p[0] != counts[id][k]) {
			if (atomic_fetch_add(&bad, 1) < 5)
				fprintf(stderr,
					"page %zu: stamp %llu counter %llu, "
					"want %zu, %llu\n",
					i, (unsigned long long)p[1],
					(unsigned long long)p[0], i,
					(unsigned long long)counts[id][k]);
		}
		p[0]++;
		counts[id][k]++;
	}
	return NULL;
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 32,
			    .nslots = 2 * NPAGES,
			    .threads = 2,
			    .cache_pages = 4};
	struct uswap *u = mt_open(&c);
	pthread_t w[NTHREADS];

	region = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(region, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		((uint64_t *)(region + i * PAGE_SIZE))[1] = i;
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&w[i], NULL, worker, (void *)i);
	mt_sleep_ms(300);
	uswap_close(u);	  /* while the workers fault */
	mt_sleep_ms(100); /* they go on, on ordinary memory now */
	atomic_store(&stop, true);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(w[i], NULL);
	for (size_t i = 0; i < NPAGES; i++) {
		uint64_t *p = (uint64_t *)(region + i * PAGE_SIZE);

		CHECK(p[1] == i, "page %zu stamp %llu after close", i,
		      (unsigned long long)p[1]);
		CHECK(p[0] == counts[i % NTHREADS][i / NTHREADS],
		      "page %zu counter %llu, want %llu", i,
		      (unsigned long long)p[0],
		      (unsigned long long)counts[i % NTHREADS][i / NTHREADS]);
	}
	CHECK(atomic_load(&bad) == 0, "%ld bad reads", (long)atomic_load(&bad));
	munmap(region, NPAGES * PAGE_SIZE);
	return 0;
}
