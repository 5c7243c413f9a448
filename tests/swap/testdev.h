/*
 * A small RAM device for the swap core's tests: a real implementation of
 * struct store_ops (src/store/device.h) that keeps whole pages and records,
 * per slot, how many times it was discarded, so that tests can check that
 * the swap core discards each freed slot exactly once and never a slot in
 * use.  It enforces the device contract's per-slot rules with atomics: a
 * store into a slot that holds data, or a load of an empty one, fails (and
 * is counted as a violation), which is what a slot freed or reused too early
 * by the swap core would cause.
 *
 * Header-only (static functions) so the fuzz target can include it too.
 */
#ifndef USWAP_TESTS_SWAP_TESTDEV_H
#define USWAP_TESTS_SWAP_TESTDEV_H

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "store/device.h"

struct testdev {
	struct store_dev base;
	unsigned char *pages;	    /* nslots * PAGE_SIZE, or NULL */
	_Atomic uint8_t *stored;    /* 1 while the slot holds data */
	_Atomic uint32_t *discards; /* per slot */
	_Atomic uint64_t ndiscards; /* total */
	_Atomic uint64_t nstores, nloads;
	_Atomic uint64_t violations; /* store into a full slot, etc. */
};

static inline struct testdev *testdev_of(struct store_dev *dev)
{
	return (struct testdev *)dev;
}

static int testdev_store(struct store_dev *dev, uint32_t slot, const void *page)
{
	struct testdev *td = testdev_of(dev);
	uint8_t expect = 0;

	if (slot >= dev->nslots)
		return -EINVAL;
	if (!atomic_compare_exchange_strong(&td->stored[slot], &expect, 1)) {
		atomic_fetch_add(&td->violations, 1);
		return -EINVAL;
	}
	if (td->pages)
		memcpy(td->pages + (size_t)slot * PAGE_SIZE, page, PAGE_SIZE);
	atomic_fetch_add(&td->nstores, 1);
	return 0;
}

static int testdev_load(struct store_dev *dev, uint32_t slot, void *page)
{
	struct testdev *td = testdev_of(dev);

	if (slot >= dev->nslots)
		return -EINVAL;
	if (!atomic_load(&td->stored[slot]))
		return -ENOENT;
	if (td->pages)
		memcpy(page, td->pages + (size_t)slot * PAGE_SIZE, PAGE_SIZE);
	atomic_fetch_add(&td->nloads, 1);
	return 0;
}

static void testdev_discard(struct store_dev *dev, uint32_t slot)
{
	struct testdev *td = testdev_of(dev);

	if (slot >= dev->nslots || slot == 0) {
		atomic_fetch_add(&td->violations, 1);
		return;
	}
	atomic_store(&td->stored[slot], 0);
	atomic_fetch_add(&td->discards[slot], 1);
	atomic_fetch_add(&td->ndiscards, 1);
}

static void testdev_get_stats(struct store_dev *dev, struct store_stats *st)
{
	struct testdev *td = testdev_of(dev);

	memset(st, 0, sizeof(*st));
	st->loads = atomic_load(&td->nloads);
	st->stores = atomic_load(&td->nstores);
	st->discards = atomic_load(&td->ndiscards);
}

static long testdev_compact(struct store_dev *dev)
{
	(void)dev;
	return 0;
}

static void testdev_destroy(struct store_dev *dev)
{
	struct testdev *td = testdev_of(dev);

	free(td->pages);
	free((void *)td->stored);
	free((void *)td->discards);
	free(td);
}

static const struct store_ops testdev_ops = {
	.name = "testdev",
	.store = testdev_store,
	.load = testdev_load,
	.discard = testdev_discard,
	.get_stats = testdev_get_stats,
	.compact = testdev_compact,
	.destroy = testdev_destroy,
};

/* testdev_create - @nslots slots; @with_pages keeps page data. */
static inline struct testdev *testdev_create(uint32_t nslots, bool with_pages)
{
	struct testdev *td = calloc(1, sizeof(*td));

	if (!td)
		return NULL;
	td->base.ops = &testdev_ops;
	td->base.nslots = nslots;
	td->base.synchronous = true;
	td->stored = calloc(nslots, sizeof(*td->stored));
	td->discards = calloc(nslots, sizeof(*td->discards));
	if (with_pages)
		td->pages = malloc((size_t)nslots * PAGE_SIZE);
	if (!td->stored || !td->discards || (with_pages && !td->pages)) {
		testdev_destroy(&td->base);
		return NULL;
	}
	return td;
}

static inline uint32_t testdev_discards(struct testdev *td, uint64_t slot)
{
	return atomic_load(&td->discards[slot]);
}

#endif /* USWAP_TESTS_SWAP_TESTDEV_H */
