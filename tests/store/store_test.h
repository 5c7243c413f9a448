/*
 * Helpers shared by the store tests, the store fuzz targets and the store
 * benchmark: a seeded PRNG, page generators for the data kinds the device
 * must handle (zero, same-filled, text-like, heap-like, random) and a check
 * macro that names what failed.  Header only (static functions).
 */
#ifndef USWAP_TESTS_STORE_TEST_H
#define USWAP_TESTS_STORE_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/device.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                  \
	do {                                                            \
		long long ca_ = (long long)(a), cb_ = (long long)(b);   \
		if (ca_ != cb_) {                                       \
			fprintf(stderr,                                 \
				"%s:%d: %s == %lld, want %s == %lld\n", \
				__FILE__, __LINE__, #a, ca_, #b, cb_);  \
			exit(1);                                        \
		}                                                       \
	} while (0)

/* xorshift64*: small, seedable, good enough for test data. */
static inline uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

enum page_kind { PK_ZERO, PK_SAME, PK_TEXT, PK_HEAP, PK_RANDOM, PK_NKINDS };

static const char *const page_kind_name[PK_NKINDS] = {"zero", "same", "text",
						      "heap", "random"};

/* Fill @page with data of @kind, determined by @seed alone. */
static inline void page_gen(void *page, enum page_kind kind, uint64_t seed)
{
	static const char *const words[] = {
		"the ",	   "swap ",   "entry ",	 "page ",  "of ",      "cache ",
		"slot ",   "fault ",  "thread ", "and ",   "zram ",    "lz4 ",
		"def ",	   "return ", "self",	 ".\n",	   "(x) ",     "= ",
		"import ", "for ",    "in ",	 "range(", "):\n    ", "None"};
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + kind + 1;
	uint64_t *w = page;
	char *c = page;
	size_t i, n;

	switch (kind) {
	case PK_ZERO:
		memset(page, 0, PAGE_SIZE);
		break;
	case PK_SAME:
		n = rnd_next(&s) | 1; /* never zero */
		for (i = 0; i < PAGE_SIZE / 8; i++)
			w[i] = n;
		break;
	case PK_TEXT:
		for (i = 0; i < PAGE_SIZE;) {
			const char *wd = words[rnd_next(&s) % 24];

			n = strlen(wd);
			if (n > PAGE_SIZE - i)
				n = PAGE_SIZE - i;
			memcpy(c + i, wd, n);
			i += n;
		}
		break;
	case PK_HEAP:
		/* pointers into a few MiB, small integers, zeros, flags */
		for (i = 0; i < PAGE_SIZE / 8; i++) {
			uint64_t r = rnd_next(&s);

			switch (r % 5) {
			case 0:
			case 1:
				w[i] = 0x00007f3a12000000ULL +
				       ((r >> 8) & 0x3ffff0);
				break;
			case 2:
				w[i] = (r >> 16) % 1000;
				break;
			case 3:
				w[i] = 0;
				break;
			default:
				w[i] = (r >> 20) & 0xff000000ULL;
				break;
			}
		}
		break;
	default:
		for (i = 0; i < PAGE_SIZE / 8; i++)
			w[i] = rnd_next(&s);
		break;
	}
}

/* Open a device or fail the test, printing the device's message. */
static inline struct store_dev *open_dev(const char *spec, uint32_t nslots,
					 size_t limit)
{
	struct store_dev *dev = NULL;
	char err[256] = "";
	int ret = store_open(spec, nslots, limit, &dev, err, sizeof(err));

	if (ret) {
		fprintf(stderr, "store_open(%s): %d: %s\n", spec, ret, err);
		exit(1);
	}
	return dev;
}

static inline void get_stats(struct store_dev *dev, struct store_stats *st)
{
	dev->ops->get_stats(dev, st);
}

#endif /* USWAP_TESTS_STORE_TEST_H */
