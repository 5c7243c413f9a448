/*
 * Scenario: in the SIGBUS mode, a write to a present page left
 * write-protected lands.  A window eviction that backs off un-protects its
 * ranges, and the kernel refuses that while a remove or unmap event is
 * pending (EAGAIN, mmap_changing): the page then stays present and
 * write-protected (zap.c, zap_back_off and zap_unzap_locked).  In the
 * handler-thread mode the write's fault says it is a write-protect fault
 * and do_wp_page un-protects.  A SIGBUS does not say which: the handler
 * sees a present pte, its install finds the page there (EEXIST), and the
 * write is retried.  If nothing un-protects, it faults again, for good.
 *
 * The test write-protects present page P itself (the state a refused
 * un-protect leaves), then a thread writes P: the write must land within
 * 5 s, and P and its neighbours keep their data.
 */
#include <pthread.h>
#include <time.h>

#include "mmtest.h"

#define NPAGES 8
#define P      3

static char *a;
static _Atomic int written;

static void *writer(void *arg)
{
	(void)arg;
	*(volatile uint64_t *)(a + P * PAGE_SIZE) = 42;
	atomic_store(&written, 1);
	return NULL;
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 64,
			    .nslots = 64,
			    .threads = 1,
			    .cache_pages = 8,
			    .sigbus = true,
			    .no_reclaimer = true};
	struct uswap *u = mt_open(&c);
	struct mm *mm = uswap_mm(u);
	const struct timespec tick = {0, 10 * 1000 * 1000};
	pthread_t w;
	int ms;

	a = mt_map_wp_left(u, NPAGES, P);
	CHECK(pthread_create(&w, NULL, writer, NULL) == 0, "thread");
	for (ms = 0; ms < 5000 && !atomic_load(&written); ms += 10)
		nanosleep(&tick, NULL);
	CHECK(atomic_load(&written),
	      "the write to P has not landed after 5 s (%llu faults so far)",
	      (unsigned long long)atomic_load(&mm->stats.faults));
	pthread_join(w, NULL);
	printf("the write landed after %d ms\n", ms);
	for (size_t i = 0; i < NPAGES; i++) {
		uint64_t *p = (uint64_t *)(a + i * PAGE_SIZE);

		CHECK(p[0] == (i == P ? 42u : 0u) && p[1] == i + 1,
		      "page %zu: %llu %llu", i, (unsigned long long)p[0],
		      (unsigned long long)p[1]);
	}
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	uswap_close(u);
	return 0;
}
