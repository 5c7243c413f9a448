/*
 * Slot life cycle: load of an empty slot is -ENOENT, store into a used slot
 * is -EINVAL and keeps the old data, slots out of range are -EINVAL,
 * discard empties a slot (and is a no-op on an empty one), and a discarded
 * slot takes new data of another kind; discarding everything gives all pool
 * memory back.
 */
#include <errno.h>

#include "store/zspool.h"
#include "store_test.h"

#define NSLOTS 512

int main(void)
{
	static unsigned char page[PAGE_SIZE], back[PAGE_SIZE];
	struct store_dev *dev = open_dev("zram", NSLOTS, 0);
	struct store_stats st;
	uint32_t slot;

	page_gen(page, PK_TEXT, 1);
	CHECK_EQ(load_page(dev, 0, back), -ENOENT);
	CHECK_EQ(store_page(dev, NSLOTS, page), -EINVAL);
	CHECK_EQ(load_page(dev, NSLOTS, back), -EINVAL);
	discard_slot(dev, NSLOTS); /* no-op, no crash */
	discard_slot(dev, 0);	   /* empty: no-op */

	CHECK_EQ(store_page(dev, 0, page), 0);
	page_gen(back, PK_HEAP, 2);
	CHECK_EQ(store_page(dev, 0, back), -EINVAL);
	CHECK_EQ(load_page(dev, 0, back), 0);
	CHECK(memcmp(page, back, PAGE_SIZE) == 0);
	discard_slot(dev, 0);
	CHECK_EQ(load_page(dev, 0, back), -ENOENT);
	get_stats(dev, &st);
	CHECK_EQ(st.discards, 1);
	CHECK_EQ(st.failed_stores, 2);
	CHECK_EQ(st.failed_loads, 3);
	/* the emptied zspage stays cached until compaction */
	CHECK(st.mem_used_total <= ZSPOOL_CACHE_PAGES * PAGE_SIZE);
	dev->ops->compact(dev);
	get_stats(dev, &st);
	CHECK_EQ(st.mem_used_total, 0);

	/* every slot goes through every kind, discarded in between */
	for (int round = 0; round < PK_NKINDS; round++) {
		for (slot = 0; slot < NSLOTS; slot++) {
			page_gen(page, (slot + round) % PK_NKINDS,
				 slot * 7 + round);
			CHECK_EQ(store_page(dev, slot, page), 0);
		}
		for (slot = 0; slot < NSLOTS; slot++) {
			page_gen(page, (slot + round) % PK_NKINDS,
				 slot * 7 + round);
			CHECK_EQ(load_page(dev, slot, back), 0);
			CHECK(memcmp(page, back, PAGE_SIZE) == 0);
			discard_slot(dev, slot);
		}
		get_stats(dev, &st);
		CHECK(st.mem_used_total <= ZSPOOL_CACHE_PAGES * PAGE_SIZE);
		dev->ops->compact(dev);
		get_stats(dev, &st);
		CHECK_EQ(st.mem_used_total, 0);
		CHECK_EQ(st.orig_data_size, 0);
		CHECK_EQ(st.compr_data_size, 0);
		CHECK_EQ(st.same_pages, 0);
		CHECK_EQ(st.huge_pages, 0);
	}
	CHECK(st.mem_used_max > 0);
	store_close(dev);
	return 0;
}
