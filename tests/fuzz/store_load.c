/*
 * Fuzz target: loading arbitrary bytes as a stored object returns 0 or
 * -EIO, never crashes and never writes outside the page (the page sits
 * between PROT_NONE guard pages; the sanitizers watch the rest).  Input:
 * byte 0 picks the compressor (bit 0: zstd) and whether the bytes are
 * planted as a whole raw page (bit 1, padded to PAGE_SIZE); the rest is the
 * object (test hook store_plant_object, device.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "store/device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef USWAP_TEST_HOOKS
/* Without the test hooks there is no way to plant an object: do nothing. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}
#else

static struct store_dev *devs[2];
static uint8_t *dst;

static struct store_dev *dev_for(int zstd)
{
	static const char *const spec[2] = {"zram:lz4", "zram:zstd"};
	char err[128];

	if (!devs[zstd] &&
	    store_open(spec[zstd], 4, 0, &devs[zstd], err, sizeof(err))) {
		fprintf(stderr, "store_open: %s\n", err);
		abort();
	}
	if (!dst) {
		uint8_t *p = mmap(NULL, 3 * PAGE_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED || mprotect(p, PAGE_SIZE, PROT_NONE) ||
		    mprotect(p + 2 * PAGE_SIZE, PAGE_SIZE, PROT_NONE))
			abort();
		dst = p + PAGE_SIZE;
	}
	return devs[zstd];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t obj[PAGE_SIZE];
	struct store_dev *dev;
	size_t n;
	int ret;

	if (size < 2)
		return 0;
	dev = dev_for(data[0] & 1);
	n = size - 1 < PAGE_SIZE ? size - 1 : PAGE_SIZE;
	memset(obj, 0, sizeof(obj));
	memcpy(obj, data + 1, n);
	if (data[0] & 2)
		n = PAGE_SIZE;
	else if (n == PAGE_SIZE)
		n--;
	if (store_plant_object(dev, 2, obj, n) != 0)
		abort();
	ret = load_page(dev, 2, dst);
	if (ret != 0 && ret != -EIO)
		abort();
	if ((data[0] & 2) && (ret != 0 || memcmp(dst, obj, PAGE_SIZE)))
		abort(); /* a raw page comes back as it is */
	discard_slot(dev, 2);
	return 0;
}
#endif /* USWAP_TEST_HOOKS */
