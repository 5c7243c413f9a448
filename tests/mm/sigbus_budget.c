/*
 * Scenario: the in-thread mode (USWAP_F_SIGBUS) keeps the budget.  Faults
 * are served in the faulting thread's SIGBUS handler, which may not reclaim
 * itself; it waits for the reclaimer thread instead (throttle_in_signal).
 * One thread writes a region 8 times the budget page by page, as fast as
 * it can, and after every 8 pages resident + cached must be within the
 * budget (plus the pages of one fault-around window in flight).  Then every
 * page is read back.
 */
#include "mmtest.h"

#define BUDGET 128
#define NPAGES (8 * BUDGET)
#define SLACK  16

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = BUDGET,
			    .nslots = 2 * NPAGES,
			    .threads = 1,
			    .cache_pages = 16,
			    .sigbus = true};
	struct uswap *u = mt_open(&c);
	struct uswap_stats st;
	uint64_t worst = 0;
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);

	CHECK(a, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++) {
		((uint64_t *)(a + i * PAGE_SIZE))[0] = i + 1;
		((uint64_t *)(a + i * PAGE_SIZE))[511] = ~i;
		if (i % 8 == 7) {
			uswap_stats(u, &st);
			if (st.resident + st.cached > worst)
				worst = st.resident + st.cached;
		}
	}
	printf("worst resident + cached: %llu pages (budget %d)\n",
	       (unsigned long long)worst / PAGE_SIZE, BUDGET);
	CHECK(worst <= (BUDGET + SLACK) * PAGE_SIZE,
	      "resident + cached reached %llu pages, budget %d",
	      (unsigned long long)worst / PAGE_SIZE, BUDGET);
	for (size_t i = 0; i < NPAGES; i++)
		CHECK(((uint64_t *)(a + i * PAGE_SIZE))[0] == i + 1 &&
			      ((uint64_t *)(a + i * PAGE_SIZE))[511] == ~i,
		      "page %zu came back wrong", i);
	uswap_stats(u, &st);
	CHECK(st.swapouts > 0 && st.faults_major > 0, "no swapping happened");
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	uswap_close(u);
	return 0;
}
