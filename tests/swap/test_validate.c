/*
 * Unit test: swap_validate can fail.  A consistent device validates clean;
 * then the test breaks one invariant at a time behind the swap core's back
 * (through swap_internal.h) and checks that the walk reports it, then
 * repairs it: a count without the cluster counter, a leaked free bit, a
 * folio cached on an unpinned slot, a shadow on a free slot, a cluster on
 * the wrong list.
 */
#include <sys/mman.h>

#include "swap/swap_internal.h"
#include "check.h"
#include "testdev.h"

static int expect_violations(struct swap_info *si, const char *what)
{
	char rep[2048];
	int n = swap_validate(si, rep, sizeof(rep));

	if (n == 0) {
		fprintf(stderr, "swap_validate missed: %s\n", what);
		return 1;
	}
	printf("%s -> %d violation(s):\n%s", what, n, rep);
	return 0;
}

int main(void)
{
	struct testdev *td = testdev_create(1024, false);
	void *area = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct folio_pool *pool;
	struct swap_info *si;
	struct swap_cluster *ci;
	struct folio *f;
	swp_entry_t e;
	uint8_t m;

	if (!td || area == MAP_FAILED || swapon(&td->base, 1024, &si) ||
	    folio_pool_create(area, 1, &pool))
		return 1;
	CHECK_EQ(swap_validate(si, NULL, 0), 0);
	f = folio_alloc(pool);
	folio_lock(f);
	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	CHECK_EQ(swap_cache_add_folio(e, f, NULL), 0);
	CHECK_EQ(swap_duplicate(e), 0);
	CHECK_VALID(si);
	ci = swap_cluster_of(si, swp_offset(e));

	/* a slot marked in use behind the counters */
	atomic_store(&ci->map[5], 1);
	check_failures += expect_violations(si, "uncounted slot");
	atomic_store(&ci->map[5], 0);
	CHECK_VALID(si);

	/* the pin of a cached folio cleared */
	m = atomic_load(&ci->map[swp_offset(e)]);
	atomic_store(&ci->map[swp_offset(e)], m & ~SWAP_HAS_CACHE);
	check_failures += expect_violations(si, "folio cached without pin");
	atomic_store(&ci->map[swp_offset(e)], m);

	/* a shadow on a free slot */
	atomic_store(&si->table[9], (uintptr_t)make_shadow(1));
	check_failures += expect_violations(si, "shadow on a free slot");
	atomic_store(&si->table[9], 0);

	/* a cluster flagged for a list it is not on */
	ci->flags = CLUSTER_FULL;
	check_failures += expect_violations(si, "cluster on the wrong list");
	ci->flags = CLUSTER_NONFULL;
	CHECK_VALID(si);

	swap_free(e);
	CHECK(folio_free_swap(f));
	folio_unlock(f);
	folio_put(f);
	CHECK_VALID(si);
	CHECK_EQ(swapoff(si), 0);
	folio_pool_destroy(pool);
	store_close(&td->base);
	return check_exit("test_validate");
}
