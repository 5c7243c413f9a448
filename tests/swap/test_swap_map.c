/*
 * Unit test: the swap map operations and their error returns, with the
 * boundaries: counts through the inline maximum into the continuation up to
 * 100,000 references and back down to 0, -ENOMEM when the continuation
 * table cannot be allocated (test hook), a pinned slot that is not freed
 * until unpinned, and the device's discard called exactly once per freed
 * slot and never for a slot in use.
 */
#include <errno.h>

#include "swap/swap.h"
#include "swap/swap_internal.h"
#include "check.h"
#include "testdev.h"

static void test_errors(struct swap_info *si, struct testdev *td)
{
	swp_entry_t e, none = swp_entry(MAX_SWAPFILES - 1, 5);
	swp_entry_t past = swp_entry(swap_type_of(si), 100000);
	swp_entry_t zero = swp_entry(swap_type_of(si), 0);

	/* entries of no device, past the end, and the reserved slot 0 */
	CHECK_EQ(swap_duplicate(none), -EINVAL);
	CHECK_EQ(swap_duplicate(past), -EINVAL);
	CHECK_EQ(swap_duplicate(zero), -EINVAL);
	CHECK_EQ(swapcache_prepare(none), -EINVAL);
	CHECK_EQ(swapcache_prepare(zero), -EINVAL);
	CHECK(swap_info_get(none) == NULL);
	CHECK(swap_info_get(zero) == si);
	CHECK_EQ(swap_count(none), 0);
	CHECK(!swap_pinned(zero));

	/* a free slot: no reference can be taken, no pin */
	e = swp_entry(swap_type_of(si), 7);
	CHECK_EQ(swap_duplicate(e), -ENOENT);
	CHECK_EQ(swapcache_prepare(e), -ENOENT);
	/* dropping what is not there is reported and ignored */
	swap_free(e);
	swapcache_clear(e);
	CHECK(!free_swap_and_cache(e));
	CHECK_EQ(testdev_discards(td, 7), 0);
	CHECK_VALID(si);
}

static void test_pin_lifecycle(struct swap_info *si, struct testdev *td)
{
	swp_entry_t e;
	uint64_t off;
	uint32_t d0;

	/* swap_alloc: pinned, count 0 */
	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	off = swp_offset(e);
	CHECK(swap_pinned(e));
	CHECK_EQ(swap_count(e), 0);
	CHECK_EQ(swapcache_prepare(e), -EEXIST);

	/* the pte's reference */
	CHECK_EQ(swap_duplicate(e), 0);
	CHECK_EQ(swap_count(e), 1);
	/* unpin (the folio left the cache): count 1 keeps it in use */
	swapcache_clear(e);
	CHECK(!swap_pinned(e));
	CHECK_EQ(swap_count(e), 1);
	CHECK_EQ(testdev_discards(td, off), 0);

	/* a swap-in pins it (bypass style) */
	CHECK_EQ(swapcache_prepare(e), 0);
	CHECK_EQ(swapcache_prepare(e), -EEXIST);
	/* the pte's reference goes: still pinned, not freed */
	swap_free(e);
	CHECK_EQ(swap_count(e), 0);
	CHECK(swap_pinned(e));
	CHECK_EQ(testdev_discards(td, off), 0);
	/* no reference left, so no new pin */
	CHECK_EQ(swap_duplicate(e), 0); /* pinned slot: a reference works */
	swap_free(e);
	/* unpinned: now it is free, discarded exactly once */
	swapcache_clear(e);
	CHECK(!swap_pinned(e));
	CHECK_EQ(testdev_discards(td, off), 1);
	CHECK_EQ(swap_duplicate(e), -ENOENT);
	CHECK_EQ(swapcache_prepare(e), -ENOENT);
	CHECK_VALID(si);

	/* the other order: pin goes first, then the last reference */
	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	off = swp_offset(e);
	d0 = testdev_discards(td, off);
	CHECK_EQ(swap_duplicate(e), 0);
	CHECK_EQ(swap_duplicate(e), 0);
	swapcache_clear(e);
	swap_free(e);
	CHECK_EQ(swap_count(e), 1);
	CHECK_EQ(testdev_discards(td, off), d0);
	CHECK(free_swap_and_cache(e));
	CHECK_EQ(testdev_discards(td, off), d0 + 1);
	CHECK_VALID(si);
}

static void test_continuation(struct swap_info *si, struct testdev *td)
{
	struct swap_usage u;
	swp_entry_t e;
	unsigned long i, n = 100000;
	uint64_t off;
	uint32_t d0;
	int bad = 0;

	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	off = swp_offset(e);
	d0 = testdev_discards(td, off);
	swapcache_clear(e); /* frees it: allocate again */
	CHECK_EQ(testdev_discards(td, off), d0 + 1);
	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	CHECK_EQ(swp_offset(e), off); /* lowest free slot again */
	for (i = 1; i <= n; i++) {
		if (swap_duplicate(e) || swap_count(e) != i) {
			bad++;
			break;
		}
		if (i == SWAP_MAP_MAX || i == SWAP_MAP_MAX + 1) {
			swap_get_usage(si, &u);
			CHECK_EQ(u.continued, i > SWAP_MAP_MAX);
			CHECK_VALID(si);
		}
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(swap_count(e), n);
	CHECK(swap_pinned(e));
	swapcache_clear(e);
	CHECK(!swap_pinned(e));
	CHECK_EQ(swap_count(e), n);
	CHECK_VALID(si);
	/* and back down, exactly, through the inline maximum */
	for (i = n; i > 1; i--) {
		swap_free(e);
		if (swap_count(e) != i - 1) {
			bad++;
			break;
		}
		if (i - 1 == SWAP_MAP_MAX) {
			swap_get_usage(si, &u);
			CHECK_EQ(u.continued, 0);
			CHECK_VALID(si);
		}
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(swap_count(e), 1);
	CHECK_EQ(testdev_discards(td, off), d0 + 1);
	swap_free(e);
	CHECK_EQ(swap_count(e), 0);
	CHECK_EQ(testdev_discards(td, off), d0 + 2);
	CHECK_EQ(swap_duplicate(e), -ENOENT);
	CHECK_VALID(si);
}

/* -ENOMEM from the first continuation in a cluster: nothing changes */
static void test_continuation_enomem(struct swap_info *si)
{
#ifdef USWAP_TEST_HOOKS
	swp_entry_t e;
	unsigned long i;

	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	for (i = 0; i < SWAP_MAP_MAX; i++)
		CHECK_EQ(swap_duplicate(e), 0);
	swap_test_fail_cont_alloc = true;
	CHECK_EQ(swap_duplicate(e), -ENOMEM);
	swap_test_fail_cont_alloc = false;
	CHECK_EQ(swap_count(e), SWAP_MAP_MAX);
	CHECK(swap_pinned(e));
	CHECK_VALID(si);
	CHECK_EQ(swap_duplicate(e), 0);
	CHECK_EQ(swap_count(e), SWAP_MAP_MAX + 1);
	for (i = 0; i < SWAP_MAP_MAX + 1; i++)
		swap_free(e);
	swapcache_clear(e);
	CHECK_EQ(swap_count(e), 0);
	CHECK_VALID(si);
#else
	(void)si;
	fprintf(stderr, "-ENOMEM case skipped: built without test hooks\n");
#endif
}

int main(void)
{
	struct testdev *td = testdev_create(2048, false);
	struct swap_info *si;
	struct swap_usage u;
	uint64_t s, total = 0;

	if (!td || swapon(&td->base, 2048, &si)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	test_errors(si, td);
	test_pin_lifecycle(si, td);
	test_continuation_enomem(si);
	test_continuation(si, td);

	/* every slot free again; discards only of slots that were freed */
	swap_get_usage(si, &u);
	CHECK_EQ(u.inuse, 0);
	CHECK_EQ(u.nslots, 2047);
	for (s = 0; s < 2048; s++)
		total += testdev_discards(td, s);
	CHECK_EQ(total, u.freed);
	CHECK_EQ(atomic_load(&td->violations), 0);
	CHECK_EQ(swapoff(si), 0);
	store_close(&td->base);
	return check_exit("test_swap_map");
}
