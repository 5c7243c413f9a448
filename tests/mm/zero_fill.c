/*
 * Scenario: zero-fill semantics.  Untouched pages read zero (read faults,
 * write faults, with fault-around filling neighbours); pages that were only
 * read stay zero through eviction and swap-in; written pages keep their
 * data; a fault-around window never overwrites a page already written.
 */
#include "mmtest.h"

#define NPAGES 256

static void check_zero(const char *p, size_t i)
{
	for (size_t b = 0; b < PAGE_SIZE; b++)
		CHECK(p[b] == 0, "page %zu byte %zu is %d, not zero", i, b,
		      p[b]);
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 512,
			    .nslots = 2 * NPAGES,
			    .cache_pages = 0,
			    .fault_around = 16};
	struct uswap *u = mt_open(&c);
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);

	CHECK(a, "uswap_map: %s", strerror(errno));
	/* read fault in the middle of a window, then its neighbours */
	check_zero(a + 20 * PAGE_SIZE, 20);
	for (size_t i = 16; i < 32; i++)
		check_zero(a + i * PAGE_SIZE, i);
	/* write faults: the written byte sticks, the rest is zero */
	for (size_t i = 64; i < NPAGES; i += 3)
		a[i * PAGE_SIZE + (i % PAGE_SIZE)] = (char)(i | 1);
	for (size_t i = 64; i < NPAGES; i++) {
		for (size_t b = 0; b < PAGE_SIZE; b++) {
			char want = (i % 3 == 64 % 3 && b == i % PAGE_SIZE)
					    ? (char)(i | 1)
					    : 0;

			CHECK(a[i * PAGE_SIZE + b] == want,
			      "page %zu byte %zu: %d, want %d", i, b,
			      a[i * PAGE_SIZE + b], want);
		}
	}
	/* evict everything (read-only zero pages too) and read it back */
	CHECK(mm_evict_range(uswap_mm(u), a, NPAGES * PAGE_SIZE, true) > 0,
	      "nothing evicted");
	for (size_t i = 0; i < 64; i++)
		check_zero(a + i * PAGE_SIZE, i);
	for (size_t i = 64; i < NPAGES; i += 3)
		CHECK(a[i * PAGE_SIZE + (i % PAGE_SIZE)] == (char)(i | 1),
		      "page %zu lost its byte", i);
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	CHECK(mt_slots_inuse(u) == 0, "slots left");
	uswap_close(u);
	return 0;
}
