/*
 * Scenario: the application's own MADV_DONTNEED on uswap memory (a remove
 * event).  A page that is compressed on the device, one that is only swap
 * cached, and one that is present all read zero afterwards (nothing stale
 * comes back) and their slots are freed; the neighbours keep their data.
 * munmap(2) of part of a region (an unmap event) frees its slots too.
 */
#include <sys/mman.h>

#include "mmtest.h"

#define NPAGES 64

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 256,
			    .nslots = 4 * NPAGES,
			    .cache_pages = 16};
	struct uswap *u = mt_open(&c);
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);

	CHECK(a, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		memset(a + i * PAGE_SIZE, 1 + (int)i, PAGE_SIZE);
	mm_evict_range(uswap_mm(u), a + 10 * PAGE_SIZE, PAGE_SIZE, true);
	mm_evict_range(uswap_mm(u), a + 11 * PAGE_SIZE, PAGE_SIZE, false);
	CHECK(pte_is_swap(mt_pte(u, a + 10 * PAGE_SIZE)) &&
		      pte_is_swap(mt_pte(u, a + 11 * PAGE_SIZE)),
	      "pages 10, 11 not swapped out");
	CHECK(mt_slots_inuse(u) == 2, "slots in use: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	CHECK(madvise(a + 10 * PAGE_SIZE, 3 * PAGE_SIZE, MADV_DONTNEED) == 0,
	      "madvise");
	for (size_t i = 9; i < 14; i++) {
		int want = (i >= 10 && i < 13) ? 0 : 1 + (int)i;

		for (size_t b = 0; b < PAGE_SIZE; b++)
			CHECK(a[i * PAGE_SIZE + b] == (char)want,
			      "page %zu byte %zu: %d, want %d", i, b,
			      a[i * PAGE_SIZE + b], want);
	}
	CHECK(mt_slots_inuse(u) == 0, "slots in use after DONTNEED: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	/* munmap(2) of the tail of the region */
	mm_evict_range(uswap_mm(u), a + 60 * PAGE_SIZE, 4 * PAGE_SIZE, true);
	CHECK(mt_slots_inuse(u) == 4, "slots in use: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	CHECK(munmap(a + 60 * PAGE_SIZE, 4 * PAGE_SIZE) == 0, "munmap");
	CHECK(mt_slots_inuse(u) == 0, "slots in use after munmap: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	CHECK(a[59 * PAGE_SIZE] == 60, "page 59 lost");
	uswap_close(u);
	munmap(a, 60 * PAGE_SIZE);
	return 0;
}
