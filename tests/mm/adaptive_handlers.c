/*
 * Scenario: adaptive handlers (mm_params.adaptive_handlers, the default
 * when the user leaves the handler count to uswap).  While one program
 * thread faults, one handler reads events and the second waits; faults
 * from two threads call the second in; 100 ms with faults from one thread
 * only send it back; close returns with the second one waiting.  Every
 * page read back is right throughout.
 */
#include <pthread.h>
#include <time.h>

#include "mmtest.h"

#define NPAGES 512

static char *region;

/* Fault on pages [lo, hi): evict them, then read each back. */
static void touch(struct uswap *u, size_t lo, size_t hi)
{
	mm_evict_range(uswap_mm(u), region + lo * PAGE_SIZE,
		       (hi - lo) * PAGE_SIZE, true);
	for (size_t i = lo; i < hi; i++)
		CHECK(((volatile uint64_t *)(region + i * PAGE_SIZE))[0] == i,
		      "page %zu reads %llu", i,
		      (unsigned long long)((uint64_t *)(region +
							i * PAGE_SIZE))[0]);
}

struct half {
	struct uswap *u;
	size_t lo, hi;
};

static void *toucher(void *arg)
{
	struct half *h = arg;

	for (int round = 0; round < 20; round++)
		for (size_t i = h->lo; i < h->hi; i++)
			CHECK(((volatile uint64_t *)(region +
						     i * PAGE_SIZE))[0] == i,
			      "page %zu wrong", i);
	return NULL;
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 64, /* every pass faults */
			    .nslots = 2 * NPAGES,
			    .threads = 2,
			    .adaptive_handlers = true};
	struct uswap *u = mt_open(&c);
	struct mm *mm = uswap_mm(u);
	struct half h[2];
	pthread_t t[2];
	unsigned seen = 0;

	region = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(region, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		((uint64_t *)(region + i * PAGE_SIZE))[0] = i;
	touch(u, 0, NPAGES);
	CHECK(atomic_load(&mm->handlers_active) == 1,
	      "one program thread: %u handlers active, want 1",
	      atomic_load(&mm->handlers_active));

	for (int i = 0; i < 2; i++) {
		h[i] = (struct half){u, i * NPAGES / 2, (i + 1) * NPAGES / 2};
		pthread_create(&t[i], NULL, toucher, &h[i]);
	}
	while (seen < 2) {
		unsigned a = atomic_load(&mm->handlers_active);

		seen = a > seen ? a : seen;
		if (!pthread_tryjoin_np(t[0], NULL)) {
			pthread_join(t[1], NULL);
			break;
		}
	}
	if (seen >= 2) {
		pthread_join(t[0], NULL);
		pthread_join(t[1], NULL);
	}
	CHECK(seen == 2,
	      "two program threads faulting: at most %u handlers "
	      "active, want 2",
	      seen);

	/* one thread again: its first fault differs from the last (a
	 * toucher's), then 100 ms with faults from it alone */
	touch(u, 0, NPAGES);
	mt_sleep_ms(150);
	touch(u, 0, NPAGES);
	CHECK(atomic_load(&mm->handlers_active) == 1,
	      "back to one program thread: %u handlers active, want 1",
	      atomic_load(&mm->handlers_active));
	CHECK(uswap_unmap(u, region, NPAGES * PAGE_SIZE) == 0, "unmap");
	uswap_close(u); /* the waiting handler must hear its doorbell */
	printf("PASS\n");
	return 0;
}
