/*
 * Scenario: uswap_mremap with pages in every state (present, swap-cached,
 * compressed on the device, never touched), verified byte for byte after
 * each step: grow in place (free space after the region), shrink (the
 * tail's slots are freed), grow with MREMAP_MAYMOVE when another region
 * blocks the way (it moves; the old range is unmapped), MREMAP_FIXED over
 * a plain mapping, a move of a range from the middle of a region (the
 * region is split), and the errors (no MAYMOVE and no room: ENOMEM, nothing
 * changed; a range not inside one region: EINVAL).  Slots in use always
 * match the swapped-out pages, swap_validate is clean.
 */
#include <sys/mman.h>

#include "mmtest.h"

#define NPAGES 600

static struct uswap *u;
static struct mm *mm;

static unsigned char byte_of(size_t i, size_t b)
{
	return i % 4 == 3 ? 0 : (unsigned char)(i * 13 + b / 256 + 1);
}

/* fill pages [0, n) of p: i%4 = 0 present, 1 cached, 2 stored, 3 none */
static void fill_states(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (i % 4 != 3)
			for (size_t b = 0; b < PAGE_SIZE; b++)
				p[i * PAGE_SIZE + b] = (char)byte_of(i, b);
	for (size_t i = 2; i < n; i += 4)
		mm_evict_range(mm, p + i * PAGE_SIZE, PAGE_SIZE, true);
	for (size_t i = 1; i < n; i += 4)
		mm_evict_range(mm, p + i * PAGE_SIZE, PAGE_SIZE, false);
}

/* pages [0, n) of p hold page (first + i)'s bytes */
static void verify(char *p, size_t first, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		for (size_t b = 0; b < PAGE_SIZE; b++)
			CHECK((unsigned char)p[i * PAGE_SIZE + b] ==
				      byte_of(first + i, b),
			      "%s: page %zu byte %zu: %d, want %d", what, i, b,
			      (unsigned char)p[i * PAGE_SIZE + b],
			      byte_of(first + i, b));
}

static bool mapped(void *p, size_t len)
{
	unsigned char vec[NPAGES * 2];

	return mincore(p, len, vec) == 0;
}

static uint64_t swapped_in(char *p, size_t n)
{
	uint64_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (pte_is_swap(mt_pte(u, p + i * PAGE_SIZE)))
			k++;
	return k;
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 8192,
			    .nslots = 4 * NPAGES,
			    .cache_pages = 4096};
	char *a, *b, *q, *blk, *fixed;
	void *res;

	u = mt_open(&c);
	mm = uswap_mm(u);
	/* room: reserve 3x, release, map at its start */
	res = mmap(NULL, 3 * NPAGES * PAGE_SIZE, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(res != MAP_FAILED, "reserve");
	munmap(res, 3 * NPAGES * PAGE_SIZE);
	a = uswap_mmap(u, res, NPAGES * PAGE_SIZE, MAP_FIXED_NOREPLACE);
	CHECK(a == res, "map at the reserve: %s", strerror(errno));
	fill_states(a, NPAGES);
	CHECK(mt_slots_inuse(u) == NPAGES / 2, "slots %llu",
	      (unsigned long long)mt_slots_inuse(u));

	/* grow in place */
	b = uswap_mremap(u, a, NPAGES * PAGE_SIZE, 2 * NPAGES * PAGE_SIZE, 0,
			 NULL);
	CHECK(b == a, "grow in place: %p (%s)", (void *)b, strerror(errno));
	CHECK(mt_slots_inuse(u) == NPAGES / 2, "slots after grow %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	CHECK(swapped_in(a, NPAGES) == NPAGES / 2, "swap entries moved");
	for (size_t b2 = NPAGES * PAGE_SIZE; b2 < 2 * NPAGES * PAGE_SIZE;
	     b2 += 511)
		CHECK(a[b2] == 0, "grown tail not zero at %zu", b2);
	a[(2 * NPAGES - 1) * PAGE_SIZE] = 9;
	mm_evict_range(mm, a + (2 * NPAGES - 1) * PAGE_SIZE, PAGE_SIZE, true);
	CHECK(a[(2 * NPAGES - 1) * PAGE_SIZE] == 9, "grown tail page lost");

	/* shrink back: the tail's slot is freed */
	mm_evict_range(mm, a + (2 * NPAGES - 1) * PAGE_SIZE, PAGE_SIZE, true);
	CHECK(uswap_mremap(u, a, 2 * NPAGES * PAGE_SIZE, NPAGES * PAGE_SIZE, 0,
			   NULL) == a,
	      "shrink");
	CHECK(mt_slots_inuse(u) == NPAGES / 2, "slots after shrink %llu",
	      (unsigned long long)mt_slots_inuse(u));
	CHECK(!mapped(a + NPAGES * PAGE_SIZE, PAGE_SIZE), "tail still mapped");
	mt_validate(u);

	/* no room: a region right after; no MAYMOVE is ENOMEM */
	blk = uswap_mmap(u, a + NPAGES * PAGE_SIZE, PAGE_SIZE,
			 MAP_FIXED_NOREPLACE);
	CHECK(blk == a + NPAGES * PAGE_SIZE, "blocker");
	blk[0] = 42;
	errno = 0;
	CHECK(uswap_mremap(u, a, NPAGES * PAGE_SIZE, (NPAGES + 8) * PAGE_SIZE,
			   0, NULL) == MAP_FAILED &&
		      errno == ENOMEM,
	      "grow without room: errno %d", errno);
	CHECK(mt_slots_inuse(u) == NPAGES / 2, "failed grow changed slots");
	verify(a, 0, 8, "after a failed grow");
	fill_states(a, NPAGES); /* the verify brought 8 pages back */
	CHECK(mt_slots_inuse(u) == NPAGES / 2, "slots %llu",
	      (unsigned long long)mt_slots_inuse(u));
	errno = 0;
	CHECK(uswap_mremap(u, a, (NPAGES + 1) * PAGE_SIZE, NPAGES * PAGE_SIZE,
			   MREMAP_MAYMOVE, NULL) == MAP_FAILED &&
		      errno == EINVAL,
	      "a range over two regions: errno %d", errno);

	/* MAYMOVE: it moves */
	q = uswap_mremap(u, a, NPAGES * PAGE_SIZE, (NPAGES + 64) * PAGE_SIZE,
			 MREMAP_MAYMOVE, NULL);
	CHECK(q != MAP_FAILED && q != a, "maymove: %p (%s)", (void *)q,
	      strerror(errno));
	CHECK(!mapped(a, PAGE_SIZE) && !uswap_owns(u, a, NPAGES * PAGE_SIZE),
	      "old range still there");
	CHECK(mt_slots_inuse(u) == NPAGES / 2, "slots after move %llu",
	      (unsigned long long)mt_slots_inuse(u));
	CHECK(swapped_in(q, NPAGES) == NPAGES / 2, "entries not moved");
	mt_validate(u);
	verify(q, 0, NPAGES, "moved");
	CHECK(blk[0] == 42, "blocker lost");
	fill_states(q, NPAGES);

	/* MREMAP_FIXED over a plain mapping (replaced, as mremap(2) does) */
	fixed = mmap(NULL, NPAGES * PAGE_SIZE, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(fixed != MAP_FAILED, "reserve 2");
	CHECK(uswap_mremap(u, q, (NPAGES + 64) * PAGE_SIZE, NPAGES * PAGE_SIZE,
			   MREMAP_MAYMOVE | MREMAP_FIXED, fixed) == fixed,
	      "fixed: %s", strerror(errno));
	CHECK(mt_slots_inuse(u) == NPAGES / 2, "slots after fixed %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	verify(fixed, 0, NPAGES, "fixed");
	fill_states(fixed, NPAGES);

	/* a range from the middle moves out: the region is split */
	a = mmap(NULL, 200 * PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	CHECK(a != MAP_FAILED, "reserve 3");
	q = uswap_mremap(u, fixed + 100 * PAGE_SIZE, 200 * PAGE_SIZE,
			 200 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, a);
	CHECK(q == a, "middle move: %s", strerror(errno));
	CHECK(!mapped(fixed + 100 * PAGE_SIZE, PAGE_SIZE) &&
		      !uswap_owns(u, fixed + 100 * PAGE_SIZE, PAGE_SIZE),
	      "middle still there");
	CHECK(mt_slots_inuse(u) == NPAGES / 2, "slots after split %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	verify(fixed, 0, 100, "split head");
	verify(fixed + 300 * PAGE_SIZE, 300, NPAGES - 300, "split tail");
	verify(a, 100, 200, "split middle");

	CHECK(uswap_unmap(u, a, 200 * PAGE_SIZE) == 0, "unmap a");
	CHECK(uswap_unmap(u, fixed, NPAGES * PAGE_SIZE) == 0, "unmap fixed");
	CHECK(uswap_unmap(u, blk, PAGE_SIZE) == 0, "unmap blk");
	CHECK(mt_slots_inuse(u) == 0, "slots at the end %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	uswap_close(u);
	return 0;
}
