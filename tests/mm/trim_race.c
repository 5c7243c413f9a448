/*
 * Scenario: a thread faults on a region (counters in the first 600 pages,
 * budget 48 pages, the reclaimer evicting all the time, a forced-eviction
 * thread too) while another thread trims the same region: it cuts the
 * rest away in pieces, from the tail and from the middle, across pte table
 * boundaries, and the pte tables are shared with the pages being cut.  No
 * counter goes backwards or is lost, every page keeps its stamp, and at
 * the end the slots in use are exactly the swapped-out pages left.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "mmtest.h"

#define NPAGES 2048
#define KEEP   600

static struct uswap *u;
static char *a;
static _Atomic bool stop;
static uint64_t shadow[KEEP];

struct pg {
	uint64_t stamp, count;
};

static void *worker(void *arg)
{
	unsigned seed = 1;

	(void)arg;
	while (!atomic_load(&stop)) {
		size_t i = (size_t)rand_r(&seed) % KEEP;
		struct pg *p = (struct pg *)(a + i * PAGE_SIZE);

		if (p->stamp != i + 1)
			FAIL("page %zu stamp %llu", i,
			     (unsigned long long)p->stamp);
		if (p->count != shadow[i])
			FAIL("page %zu count %llu, want %llu", i,
			     (unsigned long long)p->count,
			     (unsigned long long)shadow[i]);
		p->count++;
		shadow[i]++;
	}
	return NULL;
}

static void *evictor(void *arg)
{
	unsigned seed = 2;

	(void)arg;
	while (!atomic_load(&stop)) {
		size_t i = (size_t)rand_r(&seed) % KEEP;

		mm_evict_range(uswap_mm(u), a + i * PAGE_SIZE, 8 * PAGE_SIZE,
			       i & 1);
	}
	return NULL;
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 48,
			    .nslots = 4 * NPAGES,
			    .cache_pages = 8,
			    .threads = 2};
	pthread_t w, e;
	uint64_t sw = 0;

	u = mt_open(&c);
	a = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(a, "uswap_map");
	for (size_t i = 0; i < NPAGES; i++)
		((struct pg *)(a + i * PAGE_SIZE))->stamp = i + 1;
	pthread_create(&w, NULL, worker, NULL);
	pthread_create(&e, NULL, evictor, NULL);
	/* middle holes first (across the boundary at 1024), then the tail */
	for (size_t at = 1000; at + 24 <= 1200; at += 40) {
		CHECK(uswap_unmap(u, a + at * PAGE_SIZE, 24 * PAGE_SIZE) == 0,
		      "cut %zu", at);
		usleep(2000);
	}
	for (size_t end = NPAGES; end > KEEP; end -= 37) {
		size_t from = end - 37 < KEEP ? KEEP : end - 37;

		uswap_unmap(u, a + from * PAGE_SIZE, (end - from) * PAGE_SIZE);
		usleep(1000);
	}
	CHECK(!uswap_owns(u, a + KEEP * PAGE_SIZE, (NPAGES - KEEP) * PAGE_SIZE),
	      "cut part still owned");
	usleep(100000);
	atomic_store(&stop, true);
	pthread_join(w, NULL);
	pthread_join(e, NULL);
	/* let the reclaimer settle, the last faults' bookkeeping finish */
	usleep(100000);
	mm_quiesce(uswap_mm(u));
	for (size_t i = 0; i < KEEP; i++) {
		struct pg *p = (struct pg *)(a + i * PAGE_SIZE);

		if (pte_is_swap(mt_pte(u, p)))
			sw++;
	}
	mm_quiesce(uswap_mm(u));
	CHECK(mt_slots_inuse(u) == sw, "slots %llu, swapped pages %llu",
	      (unsigned long long)mt_slots_inuse(u), (unsigned long long)sw);
	for (size_t i = 0; i < KEEP; i++) {
		struct pg *p = (struct pg *)(a + i * PAGE_SIZE);

		CHECK(p->stamp == i + 1 && p->count == shadow[i],
		      "page %zu: stamp %llu count %llu want %llu", i,
		      (unsigned long long)p->stamp,
		      (unsigned long long)p->count,
		      (unsigned long long)shadow[i]);
	}
	mt_validate(u);
	CHECK(uswap_unmap(u, a, KEEP * PAGE_SIZE) == 0, "unmap");
	CHECK(mt_slots_inuse(u) == 0, "slots at the end");
	uswap_close(u);
	return 0;
}
