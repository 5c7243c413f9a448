/*
 * Scenario: uswap_mmap.  MAP_FIXED over the middle of a region with
 * swapped-out pages replaces it (the new part reads zero, its old slots are
 * freed, the neighbours keep their bytes); MAP_FIXED_NOREPLACE over uswap
 * memory or a plain mapping is EEXIST; MAP_FIXED over a plain mapping takes
 * it; a hint works.  Then the application's own munmap(2) of a whole region
 * (an unmap event) followed at once by uswap_mmap of the same size (the
 * kernel hands out the same address before or after the event is applied):
 * the new region's pages survive eviction and the event.
 */
#include <sys/mman.h>

#include "mmtest.h"

#define NPAGES 64

static void fill(char *p, size_t npages, int seed)
{
	for (size_t i = 0; i < npages; i++)
		memset(p + i * PAGE_SIZE, seed + (int)i, PAGE_SIZE);
}

static void verify(char *p, size_t npages, int seed, const char *what)
{
	for (size_t i = 0; i < npages; i++)
		for (size_t b = 0; b < PAGE_SIZE; b += 97)
			CHECK(p[i * PAGE_SIZE + b] == (char)(seed + (int)i),
			      "%s: page %zu byte %zu: %d, want %d", what, i, b,
			      p[i * PAGE_SIZE + b], (char)(seed + (int)i));
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 512,
			    .nslots = 8 * NPAGES,
			    .cache_pages = 16};
	struct uswap *u = mt_open(&c);
	struct mm *mm = uswap_mm(u);
	char *a = uswap_mmap(u, NULL, NPAGES * PAGE_SIZE, 0), *p, *plain;

	CHECK(a != MAP_FAILED, "uswap_mmap: %s", strerror(errno));
	fill(a, NPAGES, 1);
	mm_evict_range(mm, a, NPAGES * PAGE_SIZE, true);
	CHECK(mt_slots_inuse(u) == NPAGES, "slots %llu",
	      (unsigned long long)mt_slots_inuse(u));

	/* MAP_FIXED over pages 16..31 */
	p = uswap_mmap(u, a + 16 * PAGE_SIZE, 16 * PAGE_SIZE, MAP_FIXED);
	CHECK(p == a + 16 * PAGE_SIZE, "MAP_FIXED: %p (%s)", (void *)p,
	      strerror(errno));
	CHECK(mt_slots_inuse(u) == NPAGES - 16, "slots after MAP_FIXED %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	for (size_t b = 0; b < 16 * PAGE_SIZE; b++)
		CHECK(p[b] == 0, "MAP_FIXED part not zero at %zu", b);
	fill(p, 16, 100);
	mm_evict_range(mm, a, NPAGES * PAGE_SIZE, true);
	verify(a, 16, 1, "head");
	verify(p, 16, 100, "fixed part");
	verify(a + 32 * PAGE_SIZE, 32, 33, "tail");

	/* MAP_FIXED_NOREPLACE: uswap memory, a plain mapping */
	errno = 0;
	CHECK(uswap_mmap(u, a + 8 * PAGE_SIZE, PAGE_SIZE,
			 MAP_FIXED_NOREPLACE) == MAP_FAILED &&
		      errno == EEXIST,
	      "NOREPLACE over uswap memory: errno %d", errno);
	plain = mmap(NULL, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(plain != MAP_FAILED, "mmap");
	errno = 0;
	CHECK(uswap_mmap(u, plain, 4 * PAGE_SIZE, MAP_FIXED_NOREPLACE) ==
			      MAP_FAILED &&
		      errno == EEXIST,
	      "NOREPLACE over a plain mapping: errno %d", errno);
	CHECK(uswap_mmap(u, plain, 4 * PAGE_SIZE, MAP_FIXED) == plain,
	      "MAP_FIXED over a plain mapping");
	CHECK(uswap_owns(u, plain, 1), "not owned after MAP_FIXED");
	fill(plain, 4, 50);
	mm_evict_range(mm, plain, 4 * PAGE_SIZE, true);
	verify(plain, 4, 50, "plain");
	CHECK(uswap_mmap(u, a, PAGE_SIZE, MAP_FIXED | MAP_FIXED_NOREPLACE) ==
			      MAP_FAILED &&
		      errno == EINVAL,
	      "both FIXED flags");
	CHECK(uswap_unmap(u, plain, 4 * PAGE_SIZE) == 0, "unmap plain");

	/* the application's own munmap(2), then the same address again */
	for (int round = 0; round < 20; round++) {
		char *r = uswap_mmap(u, NULL, 8 * PAGE_SIZE, 0), *n;

		CHECK(r != MAP_FAILED, "mmap round %d", round);
		fill(r, 8, round);
		mm_evict_range(mm, r, 8 * PAGE_SIZE, round & 1);
		CHECK(munmap(r, 8 * PAGE_SIZE) == 0, "munmap");
		n = uswap_mmap(u, NULL, 8 * PAGE_SIZE, 0);
		CHECK(n != MAP_FAILED, "mmap again round %d", round);
		fill(n, 8, 7 + round);
		mm_evict_range(mm, n, 8 * PAGE_SIZE, true);
		mm_quiesce(mm); /* the unmap event is applied by now */
		verify(n, 8, 7 + round, "new region after munmap");
		CHECK(uswap_unmap(u, n, 8 * PAGE_SIZE) == 0, "unmap n");
	}
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap a");
	CHECK(mt_slots_inuse(u) == 0, "slots at the end: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	uswap_close(u);
	return 0;
}
