/*
 * Unit test: the slot allocator.  An order above SWAP_MAX_ORDER; a device
 * filled to -ENOSPC and every slot handed out exactly once; a cluster
 * exhausted (moves to the full list) and refilled after frees (back to
 * nonfull, then free); order > 0 runs aligned to their size inside one
 * cluster, up to a whole cluster; -ENOSPC for an order that no cluster can
 * hold while order 0 still succeeds (the frag list).
 */
#include <errno.h>
#include <string.h>

#include "swap/swap.h"
#include "check.h"
#include "testdev.h"

#define NSLOTS (4 * SWAP_CLUSTER_SLOTS)

static unsigned char seen[NSLOTS];

static void release(swp_entry_t e, unsigned order)
{
	unsigned j;

	for (j = 0; j < (1u << order); j++)
		swapcache_clear(swp_entry(swp_type(e), swp_offset(e) + j));
}

static void test_fill(struct swap_info *si, struct testdev *td)
{
	struct swap_usage u;
	swp_entry_t e;
	unsigned n = 0, dup = 0, s;

	memset(seen, 0, sizeof(seen));
	while (swap_alloc(si, 0, &e) == 0) {
		dup += seen[swp_offset(e)]++;
		n++;
	}
	CHECK_EQ(swap_alloc(si, 0, &e), -ENOSPC);
	CHECK_EQ(n, NSLOTS - 1);
	CHECK_EQ(dup, 0);
	CHECK_EQ(seen[0], 0);
	swap_get_usage(si, &u);
	CHECK_EQ(u.inuse, NSLOTS - 1);
	CHECK_EQ(u.full_clusters, 4);
	CHECK_EQ(u.free_clusters, 0);
	CHECK(u.alloc_fail >= 2);
	CHECK_VALID(si);

	/* exhaust and refill: free 3 slots of cluster 2 */
	for (s = 1024 + 10; s < 1024 + 13; s++)
		swapcache_clear(swp_entry(swap_type_of(si), s));
	swap_get_usage(si, &u);
	CHECK_EQ(u.full_clusters, 3);
	CHECK_EQ(u.partial_clusters, 1);
	CHECK_VALID(si);
	for (s = 0; s < 3; s++) {
		CHECK_EQ(swap_alloc(si, 0, &e), 0);
		CHECK(swp_offset(e) >= 1034 && swp_offset(e) < 1037);
	}
	CHECK_EQ(swap_alloc(si, 0, &e), -ENOSPC);
	CHECK_VALID(si);

	/* free everything: every cluster back on the free list */
	for (s = 1; s < NSLOTS; s++)
		swapcache_clear(swp_entry(swap_type_of(si), s));
	swap_get_usage(si, &u);
	CHECK_EQ(u.inuse, 0);
	CHECK_EQ(u.free_clusters, 4);
	CHECK_EQ(u.full_clusters + u.partial_clusters, 0);
	for (s = 1; s < NSLOTS; s++)
		CHECK_EQ(testdev_discards(td, s),
			 (s >= 1034 && s < 1037) ? 2 : 1);
	CHECK_VALID(si);
}

static void test_orders(struct swap_info *si)
{
	static swp_entry_t small[NSLOTS / 4];
	struct swap_usage u;
	swp_entry_t e, big[4];
	unsigned order, k, j;

	CHECK_EQ(swap_alloc(si, SWAP_MAX_ORDER + 1, &e), -EINVAL);
	for (order = 1; order <= SWAP_MAX_ORDER; order++) {
		CHECK_EQ(swap_alloc(si, order, &e), 0);
		CHECK_EQ(swp_offset(e) % (1u << order), 0);
		CHECK_EQ(swp_offset(e) / SWAP_CLUSTER_SLOTS,
			 (swp_offset(e) + (1u << order) - 1) /
				 SWAP_CLUSTER_SLOTS);
		for (j = 0; j < (1u << order); j++) {
			swp_entry_t x =
				swp_entry(swap_type_of(si), swp_offset(e) + j);

			CHECK(swap_pinned(x));
			CHECK_EQ(swap_count(x), 0);
		}
		CHECK_VALID(si);
		release(e, order);
	}
	CHECK_VALID(si);

	/* whole clusters: only 3 (cluster 0 holds the reserved slot 0) */
	for (k = 0; k < 3; k++) {
		CHECK_EQ(swap_alloc(si, SWAP_MAX_ORDER, &big[k]), 0);
		CHECK(swp_offset(big[k]) >= SWAP_CLUSTER_SLOTS);
		CHECK_EQ(swp_offset(big[k]) % SWAP_CLUSTER_SLOTS, 0);
	}
	CHECK_EQ(swap_alloc(si, SWAP_MAX_ORDER, &e), -ENOSPC);
	/* order 0 still finds cluster 0 */
	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	CHECK(swp_offset(e) > 0 && swp_offset(e) < SWAP_CLUSTER_SLOTS);
	swap_get_usage(si, &u);
	CHECK_EQ(u.full_clusters, 3);
	CHECK_VALID(si);
	release(e, 0);
	for (k = 0; k < 3; k++)
		release(big[k], SWAP_MAX_ORDER);

	/* order 2 until full: aligned, distinct; slot 0 costs 0..3 */
	memset(seen, 0, sizeof(seen));
	for (k = 0; k < NSLOTS / 4 - 1; k++) {
		CHECK_EQ(swap_alloc(si, 2, &small[k]), 0);
		CHECK_EQ(swp_offset(small[k]) % 4, 0);
		CHECK(swp_offset(small[k]) >= 4);
		CHECK_EQ(seen[swp_offset(small[k])]++, 0);
	}
	CHECK_EQ(swap_alloc(si, 2, &e), -ENOSPC);
	CHECK_EQ(swap_alloc(si, 0, &e), 0); /* slots 1..3 */
	CHECK(swp_offset(e) >= 1 && swp_offset(e) <= 3);
	release(e, 0);
	CHECK_VALID(si);
	for (k = 0; k < NSLOTS / 4 - 1; k++)
		release(small[k], 2);
	swap_get_usage(si, &u);
	CHECK_EQ(u.inuse, 0);
	CHECK_EQ(u.free_clusters, 4);
	CHECK_VALID(si);
}

int main(void)
{
	struct testdev *td = testdev_create(NSLOTS, false);
	struct swap_info *si;

	if (!td || swapon(&td->base, NSLOTS, &si)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	test_fill(si, td);
	test_orders(si);
	CHECK_EQ(atomic_load(&td->violations), 0);
	CHECK_EQ(swapoff(si), 0);
	store_close(&td->base);
	return check_exit("test_alloc");
}
