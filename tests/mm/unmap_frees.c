/*
 * Scenario: uswap_unmap of a region with pages in every state (present,
 * swap-cached, compressed on the device, never touched) frees every swap
 * slot: the device's usage is 0 and the validation walk finds nothing.
 * An unaligned address, a zero length, or a range that overlaps no region
 * is -EINVAL and changes nothing (partial ranges are legal: unmap_partial).
 */
#include <sys/mman.h>

#include "mmtest.h"

#define NPAGES 512

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 64,
			    .nslots = 2 * NPAGES,
			    .cache_pages = 16};
	struct uswap *u = mt_open(&c);
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);
	char *b = uswap_map(u, 8 * PAGE_SIZE);

	CHECK(a && b, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES - 32; i++)
		a[i * PAGE_SIZE] = (char)i;
	b[0] = 1;
	mm_evict_range(uswap_mm(u), a, 100 * PAGE_SIZE, true);
	mm_evict_range(uswap_mm(u), a + 100 * PAGE_SIZE, 8 * PAGE_SIZE, false);
	CHECK(mm_evict_range(uswap_mm(u), b, PAGE_SIZE, true) == 1, "evict b");
	CHECK(mt_slots_inuse(u) > 100, "too few slots in use: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	{
		char *plain = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		CHECK(plain != MAP_FAILED, "mmap");
		CHECK(uswap_unmap(u, plain, PAGE_SIZE) == -EINVAL,
		      "unmap of a range in no region");
		plain[0] = 1; /* still mapped: nothing was unmapped */
		munmap(plain, PAGE_SIZE);
	}
	CHECK(uswap_unmap(u, a + 1, PAGE_SIZE) == -EINVAL, "unaligned unmap");
	CHECK(uswap_unmap(u, a, 0) == -EINVAL, "zero-length unmap");
	CHECK(mt_slots_inuse(u) > 100, "a failed unmap freed slots");
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	CHECK(mt_slots_inuse(u) == 1, "slots in use after unmap: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	CHECK(b[0] == 1, "the other region lost its page");
	CHECK(uswap_unmap(u, b, 8 * PAGE_SIZE) == 0, "unmap b");
	CHECK(mt_slots_inuse(u) == 0, "slots in use: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	uswap_close(u);
	return 0;
}
