/*
 * Readahead (docs/pager.md, "Readahead first"): a thread that sweeps swapped-out
 * pages in order takes about one fault per window of 8, whether the pages
 * are on the device or still in the swap cache; a thread that touches them
 * out of order takes one fault per page, and nothing is read ahead.
 *
 * usage: mm_readahead [--sigbus]
 *
 * NPAGES pages, each stamped with its index, are swapped out (no budget
 * pressure: only the test evicts), then read by one thread:
 *   1. in order, from the device (evicted and compressed): at most
 *      MAX_FAULTS faults, and the pages were read from the device.
 *      With the neighbours installed after the faulting page, the thread
 *      ran into them while they were being installed: many pages were a
 *      fault of their own.
 *   2. in order, from the swap cache (evicted, not compressed): at most
 *      MAX_FAULTS faults.  Without readahead taking cached folios,
 *      every page was a minor fault.
 *   3. with a stride of 37 pages (no stream): nothing read ahead.
 *   4. two regions in step (page i of one, then page i of the other, as
 *      Python's sum over a list reads the list and its int objects): at
 *      most 2 x MAX_FAULTS faults.  With one stream per thread, each fault
 *      broke the other region's stream: 512 faults, nothing read ahead.
 *   5. in reverse (page 0, then 255 down to 1, as CPython frees a list):
 *      at most MAX_FAULTS + 1.  With streams going up only, 256 faults.
 * Every stamp is checked.  --sigbus: the same, faults served in the thread.
 * In test builds every device read takes 100 us more (a slow device, as
 * the benchmarks' faulter is slow to wake): the sweep then runs into any
 * page installed after it was woken.
 */
#include <time.h>

#include "mmtest.h"

#define NPAGES 256
#define STRIDE 37 /* coprime with NPAGES, longer than two windows */
/*
 * In order, the stream is seen at the third fault and each window after
 * that takes one: 34 faults for 256 pages (34 or 35 measured).  Half of
 * that again is allowed; a sweep that runs into the pages being read
 * ahead took 87-93 (with the slow device below).
 */
#define MAX_FAULTS (NPAGES / 8 + NPAGES / 16)

static struct uswap *u;
static char *a, *b; /* b: the second region of case 4 */

#ifdef USWAP_TEST_HOOKS
static void slow_device(enum mm_hook_point point, swp_entry_t entry)
{
	struct timespec ts = {0, 100000};

	(void)entry;
	if (point == MM_HOOK_SWAPIN_AFTER_READ)
		nanosleep(&ts, NULL);
}
#endif

static uint64_t stat_readahead(void)
{
	return atomic_load(&uswap_mm(u)->stats.readahead);
}

/*
 * Evict every page of region @r (to the device if @store, else into the
 * swap cache).
 */
static void evict_all(char *r, bool store)
{
	long n = mm_evict_range(uswap_mm(u), r, NPAGES * PAGE_SIZE, store);

	CHECK(n == NPAGES, "evicted %ld of %d pages", n, NPAGES);
	mm_quiesce(uswap_mm(u));
	for (size_t i = 0; i < NPAGES; i++)
		CHECK(pte_is_swap(mt_pte(u, r + i * PAGE_SIZE)),
		      "page %zu not swapped out: pte %#llx", i,
		      (unsigned long long)mt_pte(u, r + i * PAGE_SIZE));
}

static void check_stamp(const char *what, char *r, size_t i)
{
	volatile uint64_t *p = (volatile uint64_t *)(r + i * PAGE_SIZE);

	CHECK(p[1] == i, "%s: page %zu has stamp %llu", what, i,
	      (unsigned long long)p[1]);
}

/*
 * Read every page of a once, in the order i * @stride mod NPAGES (and with
 * @both, page i of b after page i of a); return the faults it took, and
 * the pages read from the device in *@reads.
 */
static uint64_t sweep(const char *what, size_t stride, bool both,
		      uint64_t *reads)
{
	struct uswap_stats st0, st1;
	uint64_t ra0 = stat_readahead(), faults;

	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &st0);
	for (size_t k = 0; k < NPAGES; k++) {
		check_stamp(what, a, k * stride % NPAGES);
		if (both)
			check_stamp(what, b, k * stride % NPAGES);
	}
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &st1);
	faults = st1.faults - st0.faults;
	*reads = st1.swapins - st0.swapins;
	printf("%s: %llu faults (major %llu, minor %llu), %llu read ahead, "
	       "%llu pages read from the device\n",
	       what, (unsigned long long)faults,
	       (unsigned long long)(st1.faults_major - st0.faults_major),
	       (unsigned long long)(st1.faults_minor - st0.faults_minor),
	       (unsigned long long)(stat_readahead() - ra0),
	       (unsigned long long)*reads);
	return faults;
}

static void at_most(const char *what, uint64_t faults, int pages, int max)
{
	CHECK(faults <= (uint64_t)max,
	      "%s: %llu faults for %d pages (at most %d)", what,
	      (unsigned long long)faults, pages, max);
}

int main(int argc, char **argv)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 4 * NPAGES,
			    .nslots = 4 * NPAGES, /* a and b out at once */
			    .threads = 2,
			    .cache_pages = 2 * NPAGES, /* case 2 stays cached */
			    .readahead = 8,
			    .no_reclaimer = true,
			    .sigbus = argc > 1 && !strcmp(argv[1], "--sigbus")};
	uint64_t faults, reads, ra0;

	u = mt_open(&c);
	a = uswap_map(u, NPAGES * PAGE_SIZE);
	b = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(a && b, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++) {
		((uint64_t *)(a + i * PAGE_SIZE))[1] = i;
		((uint64_t *)(b + i * PAGE_SIZE))[1] = i;
	}
#ifdef USWAP_TEST_HOOKS
	mm_set_hook(slow_device);
#endif

	evict_all(a, true);
	faults = sweep("in order, from the device", 1, false, &reads);
	at_most("in order from the device", faults, NPAGES, MAX_FAULTS);
	CHECK(reads >= NPAGES, "only %llu pages read from the device",
	      (unsigned long long)reads);

	evict_all(a, false);
	faults = sweep("in order, from the swap cache", 1, false, &reads);
	at_most("in order from the swap cache", faults, NPAGES, MAX_FAULTS);

	evict_all(a, true);
	ra0 = stat_readahead();
	faults = sweep("stride 37, from the device", STRIDE, false, &reads);
	CHECK(stat_readahead() == ra0,
	      "stride %d: %llu pages read ahead, for no stream", STRIDE,
	      (unsigned long long)(stat_readahead() - ra0));
	CHECK(faults >= NPAGES, "stride %d: %llu faults for %d pages", STRIDE,
	      (unsigned long long)faults, NPAGES);

	evict_all(a, true);
	evict_all(b, true);
	faults = sweep("two regions in step", 1, true, &reads);
	at_most("two regions in step", faults, 2 * NPAGES, 2 * MAX_FAULTS);

	evict_all(a, true);
	faults = sweep("in reverse", NPAGES - 1, false, &reads);
	at_most("in reverse", faults, NPAGES, MAX_FAULTS + 1);

#ifdef USWAP_TEST_HOOKS
	mm_set_hook(NULL);
#endif
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	CHECK(uswap_unmap(u, b, NPAGES * PAGE_SIZE) == 0, "unmap");
	CHECK(mt_slots_inuse(u) == 0, "slots in use after unmap: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	uswap_close(u);
	return 0;
}
