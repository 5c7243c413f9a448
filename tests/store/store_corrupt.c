/*
 * Corrupt data: loading a slot whose object was corrupted (bit flips,
 * truncation, garbage, a planted object that decompresses to more or less
 * than a page) returns -EIO and never writes outside the page (the page
 * sits between two PROT_NONE guard pages), for lz4 and zstd.  The test hook
 * store_inject_load_error() makes a good slot fail with -EIO and recover.
 */
#include <errno.h>
#include <lz4.h>
#include <sys/mman.h>
#include <zstd.h>

#include "store_test.h"

#ifndef USWAP_TEST_HOOKS
int main(void)
{
	fprintf(stderr, "store_corrupt: needs the test hooks "
			"(-Dtest_hooks=true)\n");
	return 77;
}
#else

static unsigned char *guarded_page(void)
{
	unsigned char *p = mmap(NULL, 3 * PAGE_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	CHECK(mprotect(p, PAGE_SIZE, PROT_NONE) == 0);
	CHECK(mprotect(p + 2 * PAGE_SIZE, PAGE_SIZE, PROT_NONE) == 0);
	return p + PAGE_SIZE;
}

static int compress(int zstd, const void *page, char *out)
{
	if (zstd)
		return (int)ZSTD_compress(out, 2 * PAGE_SIZE, page, PAGE_SIZE,
					  3);
	return LZ4_compress_default(page, out, PAGE_SIZE, 2 * PAGE_SIZE);
}

static void corrupt(const char *spec, int zstd)
{
	static unsigned char page[PAGE_SIZE], small[PAGE_SIZE / 2];
	static char obj[2 * PAGE_SIZE], bad[2 * PAGE_SIZE];
	unsigned char *dst = guarded_page();
	struct store_dev *dev = open_dev(spec, 4096, 0);
	struct store_stats st;
	uint64_t s = 42;
	uint32_t slot = 0;
	int n, i, eio = 0;

	page_gen(page, PK_HEAP, 1);
	n = compress(zstd, page, obj);
	CHECK(n > 0 && n < (int)PAGE_SIZE);

	/* the genuine object loads */
	CHECK_EQ(store_plant_object(dev, slot, obj, n), 0);
	CHECK_EQ(load_page(dev, slot, dst), 0);
	CHECK(memcmp(dst, page, PAGE_SIZE) == 0);
	slot++;

	/* a page's worth of compressed data that makes half a page */
	memset(small, 'x', sizeof(small));
	n = zstd ? (int)ZSTD_compress(bad, sizeof(bad), small, sizeof(small), 3)
		 : LZ4_compress_default((char *)small, bad, sizeof(small),
					sizeof(bad));
	CHECK_EQ(store_plant_object(dev, slot, bad, n), 0);
	CHECK_EQ(load_page(dev, slot++, dst), -EIO);

	/* truncated objects */
	n = compress(zstd, page, obj);
	for (i = 1; i < n; i += 1 + i / 4) {
		CHECK_EQ(store_plant_object(dev, slot, obj, i), 0);
		CHECK_EQ(load_page(dev, slot++, dst), -EIO);
	}

	/* bit flips: must not crash; most are caught */
	for (i = 0; i < 2000; i++) {
		int ret;

		memcpy(bad, obj, n);
		bad[rnd_next(&s) % n] ^= 1 << (rnd_next(&s) % 8);
		if (i % 3 == 0)
			bad[rnd_next(&s) % n] = (char)rnd_next(&s);
		discard_slot(dev, slot);
		CHECK_EQ(store_plant_object(dev, slot, bad, n), 0);
		ret = load_page(dev, slot, dst);
		CHECK(ret == 0 || ret == -EIO);
		eio += ret == -EIO;
	}
	CHECK(eio > 0);

	/* random garbage of every length */
	for (i = 1; i < (int)PAGE_SIZE; i += 37) {
		int k, ret;

		for (k = 0; k < i; k++)
			bad[k] = (char)rnd_next(&s);
		discard_slot(dev, slot);
		CHECK_EQ(store_plant_object(dev, slot, bad, i), 0);
		ret = load_page(dev, slot, dst);
		CHECK(ret == 0 || ret == -EIO);
	}
	get_stats(dev, &st);
	CHECK(st.failed_loads >= (uint64_t)eio);

	/* the injected error: -EIO while on, the data back when off */
	slot = 4000;
	CHECK_EQ(store_page(dev, slot, page), 0);
	CHECK_EQ(store_inject_load_error(dev, slot, true), 0);
	CHECK_EQ(load_page(dev, slot, dst), -EIO);
	CHECK_EQ(load_page(dev, slot, dst), -EIO);
	CHECK_EQ(store_inject_load_error(dev, slot, false), 0);
	CHECK_EQ(load_page(dev, slot, dst), 0);
	CHECK(memcmp(dst, page, PAGE_SIZE) == 0);
	/* a discard clears it */
	CHECK_EQ(store_inject_load_error(dev, slot, true), 0);
	discard_slot(dev, slot);
	CHECK_EQ(store_page(dev, slot, page), 0);
	CHECK_EQ(load_page(dev, slot, dst), 0);
	CHECK_EQ(store_inject_load_error(dev, 4096, true), -EINVAL);
	CHECK_EQ(store_plant_object(dev, slot, obj, 1), -EINVAL); /* in use */
	CHECK_EQ(store_plant_object(dev, 4001, obj, 0), -EINVAL);
	CHECK_EQ(store_plant_object(dev, 4001, obj, PAGE_SIZE + 1), -EINVAL);
	store_close(dev);
	munmap(dst - PAGE_SIZE, 3 * PAGE_SIZE);
}

int main(void)
{
	corrupt("zram:lz4", 0);
	corrupt("zram:zstd", 1);
	return 0;
}
#endif /* USWAP_TEST_HOOKS */
