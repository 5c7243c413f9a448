/*
 * Statistics are exact: after a known sequence of stores, loads and
 * discards, every counter has the value computed here independently (the
 * compressed sizes with liblz4 itself, the pool pages from the size-class
 * rule of docs/store.md for one class at a time).
 */
#include <errno.h>
#include <lz4.h>

#include "store/zram.h"
#include "store/zspool.h"
#include "store_test.h"

#define NSLOTS 1000

int main(void)
{
	static unsigned char page[PAGE_SIZE], back[PAGE_SIZE];
	static char out[PAGE_SIZE];
	struct store_dev *dev = open_dev("zram:lz4", NSLOTS, 0);
	struct store_stats st;
	uint64_t compr = 0, same = 0, huge = 0, stored = 0;
	uint32_t slot;
	int n;

	for (slot = 0; slot < NSLOTS; slot++) {
		enum page_kind k = slot % PK_NKINDS;

		page_gen(page, k, slot);
		CHECK_EQ(store_page(dev, slot, page), 0);
		stored++;
		if (k == PK_ZERO || k == PK_SAME) {
			same++;
			continue;
		}
		n = LZ4_compress_default((char *)page, out, PAGE_SIZE,
					 (int)zspool_huge_size());
		if (n == 0) {
			huge++;
			compr += PAGE_SIZE;
		} else {
			compr += (uint64_t)n;
		}
	}
	for (slot = 0; slot < NSLOTS; slot += 2)
		CHECK_EQ(load_page(dev, slot, back), 0);
	get_stats(dev, &st);
	CHECK_EQ(st.orig_data_size, stored * PAGE_SIZE);
	CHECK_EQ(st.compr_data_size, compr);
	CHECK_EQ(st.same_pages, same);
	CHECK_EQ(st.huge_pages, huge);
	CHECK_EQ(st.huge_pages, NSLOTS / PK_NKINDS);
	CHECK_EQ(st.stores, NSLOTS);
	CHECK_EQ(st.loads, NSLOTS / 2);
	CHECK_EQ(st.mem_used_max, st.mem_used_total);
	CHECK_EQ(st.mem_used_total % PAGE_SIZE, 0);
	CHECK(st.meta_bytes >= NSLOTS * 16);
	{
		/* every pool byte is an object, free space or a tail */
		struct zspool_usage u;

		zram_pool_usage(dev, &u);
		CHECK_EQ(u.obj_bytes + u.free_bytes + u.tail_bytes,
			 st.mem_used_total);
		CHECK(u.obj_bytes >= st.compr_data_size);
		CHECK(u.obj_bytes - st.compr_data_size <
		      (NSLOTS - huge - same) * 256); /* merged classes */
	}

	/*
	 * discard the huge ones: exactly their pages (1 each) go back, but
	 * for the emptied runs the pool keeps populated until compaction
	 */
	{
		uint64_t mem = st.mem_used_total, c = st.compr_data_size;

		for (slot = PK_RANDOM; slot < NSLOTS; slot += PK_NKINDS)
			discard_slot(dev, slot);
		get_stats(dev, &st);
		CHECK_EQ(st.mem_used_total,
			 mem - (huge - ZSPOOL_CACHE_PAGES) * PAGE_SIZE);
		CHECK_EQ(dev->ops->compact(dev), ZSPOOL_CACHE_PAGES);
		get_stats(dev, &st);
		CHECK_EQ(st.pages_compacted, ZSPOOL_CACHE_PAGES);
		CHECK_EQ(st.mem_used_total, mem - huge * PAGE_SIZE);
		CHECK_EQ(st.compr_data_size, c - huge * PAGE_SIZE);
		CHECK_EQ(st.huge_pages, 0);
		CHECK_EQ(st.discards, huge);
		CHECK_EQ(st.mem_used_max, mem);
	}
	/* discard the same ones: no memory changes, counters drop */
	{
		uint64_t mem = st.mem_used_total;

		for (slot = 0; slot < NSLOTS; slot++)
			if (slot % PK_NKINDS == PK_ZERO ||
			    slot % PK_NKINDS == PK_SAME)
				discard_slot(dev, slot);
		get_stats(dev, &st);
		CHECK_EQ(st.mem_used_total, mem);
		CHECK_EQ(st.same_pages, 0);
		CHECK_EQ(st.orig_data_size, (stored - same - huge) * PAGE_SIZE);
	}
	store_close(dev);
	return 0;
}
