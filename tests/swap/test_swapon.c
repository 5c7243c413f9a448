/*
 * Unit test: the device table.  swapon's errors (no device, nslots < 2,
 * more slots than the device has, all MAX_SWAPFILES slots taken), slot 0
 * and the tail of the last cluster reserved, swap_mark_bad (its errors, and
 * a bad slot never allocated), swapoff refusing with -EBUSY while a slot is
 * in use, by count or by pin, and the type being reused after swapoff.
 */
#include <errno.h>

#include "swap/swap.h"
#include "check.h"
#include "testdev.h"

int main(void)
{
	struct testdev *td = testdev_create(1100, false);
	struct swap_info *si, *many[MAX_SWAPFILES], *extra;
	struct swap_usage u;
	swp_entry_t e;
	unsigned i, type;

	CHECK(td != NULL);
	CHECK_EQ(swapon(NULL, 10, &si), -EINVAL);
	CHECK_EQ(swapon(&td->base, 0, &si), -EINVAL);
	CHECK_EQ(swapon(&td->base, 1, &si), -EINVAL);
	CHECK_EQ(swapon(&td->base, 1101, &si), -EINVAL);

	/* the smallest device: one usable slot */
	CHECK_EQ(swapon(&td->base, 2, &si), 0);
	CHECK(swap_store(si) == &td->base);
	swap_get_usage(si, &u);
	CHECK_EQ(u.nslots, 1);
	CHECK_EQ(u.bad, 1);
	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	CHECK_EQ(swp_offset(e), 1);
	CHECK_EQ(swap_alloc(si, 0, &e), -ENOSPC);
	CHECK_EQ(swapoff(si), -EBUSY); /* pinned */
	CHECK_EQ(swap_duplicate(e), 0);
	swapcache_clear(e);
	CHECK_EQ(swapoff(si), -EBUSY); /* counted */
	swap_free(e);
	CHECK_VALID(si);
	CHECK_EQ(swapoff(si), 0);

	/* 1100 slots: three clusters, the last with 76 usable */
	CHECK_EQ(swapon(&td->base, 1100, &si), 0);
	type = swap_type_of(si);
	CHECK(swap_info_get(swp_entry(type, 1)) == si);
	swap_get_usage(si, &u);
	CHECK_EQ(u.nslots, 1099);
	CHECK_EQ(u.free_clusters, 3);
	CHECK_EQ(swap_mark_bad(si, 1100), -EINVAL);
	CHECK_EQ(swap_mark_bad(si, 0), 0); /* already bad */
	CHECK_EQ(swap_mark_bad(si, 2), 0);
	CHECK_EQ(swap_mark_bad(si, 2), 0);
	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	CHECK_EQ(swp_offset(e), 1);
	CHECK_EQ(swap_mark_bad(si, 1), -EBUSY);
	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	CHECK_EQ(swp_offset(e), 3); /* 2 is bad */
	swap_get_usage(si, &u);
	CHECK_EQ(u.nslots, 1098);
	CHECK_EQ(u.bad, 2);
	CHECK_EQ(u.inuse, 2);
	CHECK_VALID(si);
	swapcache_clear(swp_entry(type, 1));
	swapcache_clear(swp_entry(type, 3));
	CHECK_EQ(testdev_discards(td, 2), 0); /* bad: never discarded */

	/* the table holds MAX_SWAPFILES devices */
	for (i = 0; i < MAX_SWAPFILES - 1; i++)
		CHECK_EQ(swapon(&td->base, 10, &many[i]), 0);
	CHECK_EQ(swapon(&td->base, 10, &extra), -EBUSY);
	CHECK_EQ(swapoff(many[3]), 0);
	CHECK_EQ(swapon(&td->base, 10, &extra), 0); /* reuses the type */
	many[3] = extra;
	for (i = 0; i < MAX_SWAPFILES - 1; i++)
		CHECK_EQ(swapoff(many[i]), 0);
	CHECK_VALID(si);
	CHECK_EQ(swapoff(si), 0);
	CHECK(swap_info_get(swp_entry(type, 1)) == NULL);
	CHECK_EQ(swapoff(NULL), -EINVAL);
	CHECK_EQ(atomic_load(&td->violations), 0);
	store_close(&td->base);
	return check_exit("test_swapon");
}
