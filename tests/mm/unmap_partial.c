/*
 * Scenario: uswap_unmap of parts of a region (head, middle across a pte
 * table boundary, middle, tail) with pages in every state (present,
 * swap-cached, compressed on the device, never touched): after each cut
 * the slots in use are exactly those of the swapped-out pages left,
 * swap_validate is clean, resident memory counts only the pages left, the
 * cut ranges are unmapped and not owned, and every byte left is intact.
 * Finally one unmap over the whole original range (holes included) frees
 * everything.
 */
#include <sys/mman.h>

#include "mmtest.h"

#define NPAGES 1600

static char *a;
static bool gone[NPAGES];

static int state(size_t i)
{
	return (int)(i % 4); /* 0 present, 1 cached, 2 stored, 3 untouched */
}

static unsigned char byte_of(size_t i, size_t b)
{
	return state(i) == 3 ? 0 : (unsigned char)(i * 7 + b / 512 + 1);
}

static uint64_t swapped_left(void)
{
	uint64_t n = 0;

	for (size_t i = 0; i < NPAGES; i++)
		if (!gone[i] && (state(i) == 1 || state(i) == 2))
			n++;
	return n;
}

static void cut(struct uswap *u, size_t from, size_t to)
{
	struct uswap_stats st;
	uint64_t present = 0;
	unsigned char vec;

	CHECK(uswap_unmap(u, a + from * PAGE_SIZE, (to - from) * PAGE_SIZE) ==
		      0,
	      "unmap [%zu, %zu)", from, to);
	for (size_t i = from; i < to; i++)
		gone[i] = true;
	CHECK(mt_slots_inuse(u) == swapped_left(),
	      "after cut [%zu, %zu): %llu slots in use, want %llu", from, to,
	      (unsigned long long)mt_slots_inuse(u),
	      (unsigned long long)swapped_left());
	mt_validate(u);
	for (size_t i = 0; i < NPAGES; i++)
		if (!gone[i] && state(i) == 0)
			present++;
	uswap_stats(u, &st);
	CHECK(st.resident == present * PAGE_SIZE,
	      "resident %llu bytes, want %llu pages",
	      (unsigned long long)st.resident, (unsigned long long)present);
	CHECK(mincore(a + from * PAGE_SIZE, (to - from) * PAGE_SIZE, &vec) <
			      0 &&
		      errno == ENOMEM,
	      "[%zu, %zu) still mapped", from, to);
	CHECK(!uswap_owns(u, a + from * PAGE_SIZE, (to - from) * PAGE_SIZE),
	      "[%zu, %zu) still owned", from, to);
	if (from > 0)
		CHECK(uswap_owns(u, a + (from - 1) * PAGE_SIZE, PAGE_SIZE) ==
			      !gone[from - 1],
		      "page %zu ownership", from - 1);
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 4096,
			    .nslots = 2 * NPAGES,
			    .cache_pages = 2048};
	struct uswap *u = mt_open(&c);
	struct mm *mm = uswap_mm(u);

	a = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(a, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		if (state(i) != 3)
			for (size_t b = 0; b < PAGE_SIZE; b++)
				a[i * PAGE_SIZE + b] = (char)byte_of(i, b);
	for (size_t i = 2; i < NPAGES; i += 4)
		CHECK(mm_evict_range(mm, a + i * PAGE_SIZE, PAGE_SIZE, true) ==
			      1,
		      "evict %zu", i);
	for (size_t i = 1; i < NPAGES; i += 4)
		CHECK(mm_evict_range(mm, a + i * PAGE_SIZE, PAGE_SIZE, false) ==
			      1,
		      "evict %zu", i);
	{
		struct folio *f = NULL;

		if (pte_is_swap(mt_pte(u, a + PAGE_SIZE)))
			f = swap_cache_get_folio(
				pte_to_swp_entry(mt_pte(u, a + PAGE_SIZE)));
		CHECK(f, "page 1 not in the swap cache");
		folio_put(f);
	}
	CHECK(mt_slots_inuse(u) == swapped_left(), "slots in use: %llu",
	      (unsigned long long)mt_slots_inuse(u));

	cut(u, 0, 37);	    /* head */
	cut(u, 500, 530);   /* middle, across the table boundary at 512 */
	cut(u, 900, 1000);  /* middle */
	cut(u, 1550, 1600); /* tail */
	CHECK(uswap_unmap(u, a + 950 * PAGE_SIZE, PAGE_SIZE) == -EINVAL,
	      "unmap of a hole: not -EINVAL");

	for (size_t i = 0; i < NPAGES; i++) {
		if (gone[i])
			continue;
		for (size_t b = 0; b < PAGE_SIZE; b++)
			CHECK((unsigned char)a[i * PAGE_SIZE + b] ==
				      byte_of(i, b),
			      "page %zu byte %zu: %d, want %d", i, b,
			      (unsigned char)a[i * PAGE_SIZE + b],
			      byte_of(i, b));
	}
	CHECK(mt_slots_inuse(u) == 0, "slots after reading back: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	/* swap some out again, then one unmap over everything */
	mm_evict_range(mm, a + 100 * PAGE_SIZE, 200 * PAGE_SIZE, true);
	mm_evict_range(mm, a + 1100 * PAGE_SIZE, 100 * PAGE_SIZE, false);
	CHECK(mt_slots_inuse(u) == 300, "slots: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap all");
	CHECK(mt_slots_inuse(u) == 0, "slots after unmapping all: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	CHECK(!uswap_owns(u, a, NPAGES * PAGE_SIZE), "still owned");
	{
		struct uswap_stats st;

		uswap_stats(u, &st);
		CHECK(st.resident == 0 && st.mapped == 0,
		      "resident %llu mapped %llu after unmapping all",
		      (unsigned long long)st.resident,
		      (unsigned long long)st.mapped);
	}
	uswap_close(u);
	return 0;
}
