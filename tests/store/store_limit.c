/*
 * The memory limit: a store that would take the pool past it fails with
 * -ENOSPC, counts a failed store, and leaves everything stored before (data
 * and counters) as it was; same-filled pages need no pool memory and still
 * go in; after a discard makes room, stores succeed again, also when the
 * room is in cached runs of another length.
 */
#include <errno.h>

#include "store_test.h"

#define NSLOTS 4096
#define LIMIT  (64 * PAGE_SIZE)

int main(void)
{
	static unsigned char page[PAGE_SIZE], back[PAGE_SIZE];
	struct store_dev *dev = open_dev("zram", NSLOTS, LIMIT);
	struct store_stats before, after;
	uint32_t slot, full = 0;
	int ret = 0;

	/* heap-like and random pages until the limit says no */
	for (slot = 0; slot < NSLOTS; slot++) {
		page_gen(page, slot % 3 ? PK_HEAP : PK_RANDOM, slot);
		ret = store_page(dev, slot, page);
		if (ret)
			break;
	}
	CHECK_EQ(ret, -ENOSPC);
	full = slot;
	CHECK(full > 64); /* heap pages pack: more pages than the limit */
	get_stats(dev, &before);
	CHECK(before.mem_used_total <= LIMIT);
	CHECK_EQ(before.mem_limit, LIMIT);
	CHECK_EQ(before.failed_stores, 1);

	/* more refusals change nothing but the failure count */
	for (slot = full; slot < full + 16; slot++) {
		page_gen(page, PK_RANDOM, slot);
		CHECK_EQ(store_page(dev, slot, page), -ENOSPC);
		CHECK_EQ(load_page(dev, slot, back), -ENOENT);
	}
	get_stats(dev, &after);
	CHECK_EQ(after.failed_stores, before.failed_stores + 16);
	CHECK_EQ(after.mem_used_total, before.mem_used_total);
	CHECK_EQ(after.compr_data_size, before.compr_data_size);
	CHECK_EQ(after.orig_data_size, before.orig_data_size);
	CHECK_EQ(after.stores, full);
	CHECK(after.mem_used_max <= LIMIT);

	/* same-filled pages take no pool memory: still accepted */
	page_gen(page, PK_ZERO, 0);
	CHECK_EQ(store_page(dev, full, page), 0);
	page_gen(page, PK_SAME, 7);
	CHECK_EQ(store_page(dev, full + 1, page), 0);

	/* everything stored before is intact */
	for (slot = 0; slot < full; slot++) {
		page_gen(page, slot % 3 ? PK_HEAP : PK_RANDOM, slot);
		CHECK_EQ(load_page(dev, slot, back), 0);
		CHECK(memcmp(page, back, PAGE_SIZE) == 0);
	}

	/* room again after discards (random pages: one page each) */
	for (slot = 0; slot < full; slot += 3)
		discard_slot(dev, slot);
	page_gen(page, PK_RANDOM, 12345);
	CHECK_EQ(store_page(dev, full + 2, page), 0);
	CHECK_EQ(load_page(dev, full + 2, back), 0);
	CHECK(memcmp(page, back, PAGE_SIZE) == 0);
	store_close(dev);

	/*
	 * Emptied zspages kept in the run cache count against the limit, but
	 * a store that needs a zspage of another length flushes them rather
	 * than fail: 40 one-page (random) zspages fill a 40-page limit; 10
	 * are discarded (cached, still counted); a text page needs a
	 * multi-page zspage and must get it.
	 */
	dev = open_dev("zram", 64, 40 * PAGE_SIZE);
	for (slot = 0; slot < 40; slot++) {
		page_gen(page, PK_RANDOM, slot);
		CHECK_EQ(store_page(dev, slot, page), 0);
	}
	page_gen(page, PK_RANDOM, 40);
	CHECK_EQ(store_page(dev, 40, page), -ENOSPC);
	for (slot = 0; slot < 10; slot++)
		discard_slot(dev, slot);
	get_stats(dev, &after);
	CHECK_EQ(after.mem_used_total, 40 * PAGE_SIZE); /* cached */
	page_gen(page, PK_TEXT, 41);
	CHECK_EQ(store_page(dev, 41, page), 0);
	CHECK_EQ(load_page(dev, 41, back), 0);
	CHECK(memcmp(page, back, PAGE_SIZE) == 0);
	get_stats(dev, &after);
	CHECK(after.mem_used_total <= 40 * PAGE_SIZE);
	CHECK(after.mem_used_max <= 40 * PAGE_SIZE);
	for (slot = 10; slot < 40; slot++) {
		page_gen(page, PK_RANDOM, slot);
		CHECK_EQ(load_page(dev, slot, back), 0);
		CHECK(memcmp(page, back, PAGE_SIZE) == 0);
	}
	store_close(dev);
	return 0;
}
