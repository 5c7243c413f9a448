/*
 * Round trip: pages of every kind (zero, same-filled, text-like, heap-like,
 * random) stored and loaded back bit for bit, for each compressor; and the
 * form each kind is kept in (same, compressed, huge) as the counters say.
 */
#include "store_test.h"

#define PER_KIND 64

static void roundtrip(const char *spec)
{
	uint32_t nslots = PK_NKINDS * PER_KIND;
	struct store_dev *dev = open_dev(spec, nslots, 0);
	struct store_stats st;
	static unsigned char page[PAGE_SIZE], back[PAGE_SIZE];
	uint32_t slot;

	CHECK(dev->synchronous);
	for (slot = 0; slot < nslots; slot++) {
		page_gen(page, slot / PER_KIND, slot);
		CHECK_EQ(store_page(dev, slot, page), 0);
	}
	/* load twice: loading keeps the data */
	for (int pass = 0; pass < 2; pass++)
		for (slot = 0; slot < nslots; slot++) {
			page_gen(page, slot / PER_KIND, slot);
			memset(back, 0xa5, sizeof(back));
			CHECK_EQ(load_page(dev, slot, back), 0);
			if (memcmp(page, back, PAGE_SIZE)) {
				fprintf(stderr, "%s: slot %u (%s) differs\n",
					spec, slot,
					page_kind_name[slot / PER_KIND]);
				exit(1);
			}
		}
	get_stats(dev, &st);
	CHECK_EQ(st.stores, nslots);
	CHECK_EQ(st.loads, 2 * nslots);
	CHECK_EQ(st.failed_loads + st.failed_stores, 0);
	CHECK_EQ(st.same_pages, 2 * PER_KIND); /* zero and same */
	CHECK_EQ(st.huge_pages, PER_KIND);     /* random */
	CHECK_EQ(st.orig_data_size, (uint64_t)nslots * PAGE_SIZE);
	/* random pages are kept whole; text and heap compress below 3/4 */
	CHECK(st.compr_data_size >= PER_KIND * PAGE_SIZE + 2 * PER_KIND * 64);
	CHECK(st.compr_data_size < PER_KIND * PAGE_SIZE + 2 * PER_KIND * 3072);
	CHECK(st.mem_used_total >= st.compr_data_size);
	CHECK(st.mem_used_total <=
	      st.compr_data_size * 11 / 10 + 8 * 8 * PAGE_SIZE);
	printf("%-12s compr %lu mem %lu\n", spec,
	       (unsigned long)st.compr_data_size,
	       (unsigned long)st.mem_used_total);
	store_close(dev);
}

int main(void)
{
	roundtrip("zram");
	roundtrip("zram:lz4");
	roundtrip("zram:zstd");
	roundtrip("zram:zstd:-5");
	roundtrip("zram:zstd:19");
	return 0;
}
