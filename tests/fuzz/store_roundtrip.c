/*
 * Fuzz target: any page content survives a round trip through the
 * compressed RAM device.  Input: byte 0 picks the compressor (even lz4, odd
 * zstd) and how the rest fills the page (bit 1: repeated to fill the page,
 * else zero padded); the rest is page data.  Each input is stored into
 * slots of both devices, loaded back and compared, then discarded; the
 * counters must return to zero.  A mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/device.h"
#include "store/zspool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store_dev *devs[2];

static struct store_dev *dev_for(int zstd)
{
	static const char *const spec[2] = {"zram:lz4", "zram:zstd:1"};
	char err[128];

	if (!devs[zstd] &&
	    store_open(spec[zstd], 4, 0, &devs[zstd], err, sizeof(err))) {
		fprintf(stderr, "store_open: %s\n", err);
		abort();
	}
	return devs[zstd];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t page[PAGE_SIZE], back[PAGE_SIZE];
	struct store_dev *dev;
	struct store_stats st;
	size_t i, n;

	if (size < 1)
		return 0;
	dev = dev_for(data[0] & 1);
	n = size - 1 < PAGE_SIZE ? size - 1 : PAGE_SIZE;
	memset(page, 0, PAGE_SIZE);
	memcpy(page, data + 1, n);
	if ((data[0] & 2) && n)
		for (i = n; i < PAGE_SIZE; i++)
			page[i] = page[i % n];
	if (store_page(dev, 1, page) != 0)
		abort();
	memset(back, 0x5a, PAGE_SIZE);
	if (load_page(dev, 1, back) != 0 || memcmp(page, back, PAGE_SIZE))
		abort();
	discard_slot(dev, 1);
	dev->ops->get_stats(dev, &st);
	if (st.mem_used_total > ZSPOOL_CACHE_PAGES * PAGE_SIZE ||
	    st.orig_data_size || st.compr_data_size || st.same_pages ||
	    st.huge_pages)
		abort();
	return 0;
}
