/*
 * Compaction: fill the device with heap-like pages (many per zspage),
 * discard three in four at random so that zspages are left mostly empty,
 * then compact.  Memory must go down by what compaction reports (and the
 * resident set of the process with it: the pages go back to the OS), the
 * pages_compacted counter must say so, and every remaining page must load
 * intact; stores after compaction work as before.
 */
#include <errno.h>

#include "store_test.h"

#define NSLOTS 8192

static long rss_pages(void)
{
	long size, rss;
	FILE *f = fopen("/proc/self/statm", "r");

	CHECK(f);
	CHECK(fscanf(f, "%ld %ld", &size, &rss) == 2);
	fclose(f);
	return rss;
}

int main(void)
{
	static unsigned char page[PAGE_SIZE], back[PAGE_SIZE];
	static unsigned char live[NSLOTS];
	struct store_dev *dev = open_dev("zram", NSLOTS, 0);
	struct store_stats a, b;
	uint64_t seed = 7;
	uint32_t slot;
	long freed, rss0, rss1;

	for (slot = 0; slot < NSLOTS; slot++) {
		page_gen(page, slot % 8 ? PK_HEAP : PK_TEXT, slot);
		CHECK_EQ(store_page(dev, slot, page), 0);
		live[slot] = 1;
	}
	for (slot = 0; slot < NSLOTS; slot++)
		if (rnd_next(&seed) % 4) {
			discard_slot(dev, slot);
			live[slot] = 0;
		}
	get_stats(dev, &a);
	rss0 = rss_pages();
	freed = dev->ops->compact(dev);
	rss1 = rss_pages();
	get_stats(dev, &b);
	fprintf(stderr, "mem %lu -> %lu, freed %ld pages, rss %ld -> %ld\n",
		(unsigned long)a.mem_used_total,
		(unsigned long)b.mem_used_total, freed, rss0, rss1);
	CHECK(freed > 0);
	CHECK_EQ(b.pages_compacted, freed);
	CHECK_EQ(b.mem_used_total, a.mem_used_total - freed * PAGE_SIZE);
	/* most of the 3/4 that was freed comes back */
	CHECK(b.mem_used_total < a.mem_used_total / 2);
	CHECK(rss0 - rss1 >= freed / 2); /* DONTNEED'd: not resident */
	CHECK_EQ(b.compr_data_size, a.compr_data_size);

	/* a second compaction finds (almost) nothing to do */
	CHECK(dev->ops->compact(dev) <= 8);

	for (slot = 0; slot < NSLOTS; slot++) {
		if (!live[slot]) {
			CHECK_EQ(load_page(dev, slot, back), -ENOENT);
			page_gen(page, PK_HEAP, slot + NSLOTS);
			CHECK_EQ(store_page(dev, slot, page), 0);
			CHECK_EQ(load_page(dev, slot, back), 0);
			CHECK(memcmp(page, back, PAGE_SIZE) == 0);
			continue;
		}
		page_gen(page, slot % 8 ? PK_HEAP : PK_TEXT, slot);
		CHECK_EQ(load_page(dev, slot, back), 0);
		CHECK(memcmp(page, back, PAGE_SIZE) == 0);
	}
	store_close(dev);
	return 0;
}
