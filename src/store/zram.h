/*
 * The compressed RAM device's entry points for store_open() (device.c) and
 * for tests.  Everything else goes through struct store_ops (device.h).
 */
#ifndef USWAP_STORE_ZRAM_H
#define USWAP_STORE_ZRAM_H

#include <stddef.h>
#include <stdint.h>

#include "store/device.h"

enum zram_algo { ZRAM_LZ4, ZRAM_ZSTD };

/*
 * zram_parse_spec - parse "zram", "zram:lz4", "zram:zstd" or
 * "zram:zstd:LEVEL" (LEVEL from ZSTD_minCLevel() to ZSTD_maxCLevel(); plain
 * "zstd" is level 3).  Return: 0; -EINVAL with a message naming the bad
 * value in @err.  Context: any thread.
 */
int zram_parse_spec(const char *spec, enum zram_algo *algo, int *level,
		    char *err, size_t errlen);

/* zram_open - store_open() for a "zram..." spec; same contract. */
int zram_open(const char *spec, uint32_t nslots, size_t mem_limit,
	      struct store_dev **out, char *err, size_t errlen);

struct zspool_usage;

/*
 * zram_pool_usage - where the device's pool memory goes (zspool_usage), for
 * benchmarks and tests.  Context: takes pool class locks in turn.
 */
void zram_pool_usage(struct store_dev *dev, struct zspool_usage *u);

#endif /* USWAP_STORE_ZRAM_H */
