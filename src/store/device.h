/*
 * The device interface: where swap slots keep their data.
 *
 * A device stores whole pages by slot number (0 .. nslots-1), loads them back,
 * and discards a slot when the swap core frees it.  It knows nothing of swap
 * entries, counts or the swap cache: the swap core (src/swap/) calls discard,
 * the pager (src/mm/) calls store and load.  This is the only place where the
 * two layers meet the devices.
 *
 * A synchronous device (compressed RAM, like zram) answers in the caller's
 * thread; an asynchronous one (file, remote) may block on I/O.
 *
 * Concurrency contract for every device: calls on *different* slots may run
 * concurrently from any threads and must scale (no global lock on the data
 * path).  Calls on the *same* slot are serialised by the caller (the swap
 * core guarantees that a slot is stored once after allocation, loaded only
 * while in use, and discarded exactly once when freed, never concurrently
 * with a store or load of the same slot).
 */
#ifndef USWAP_STORE_DEVICE_H
#define USWAP_STORE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE  4096UL
#define PAGE_SHIFT 12

struct store_dev;

/* Statistics with the meanings of zram's mm_stat, plus call counters. */
struct store_stats {
	uint64_t orig_data_size;  /* bytes of pages stored (uncompressed) */
	uint64_t compr_data_size; /* bytes of their compressed objects */
	uint64_t mem_used_total;  /* bytes of memory the device holds */
	uint64_t mem_limit;	  /* 0 = none */
	uint64_t mem_used_max;	  /* peak of mem_used_total */
	uint64_t same_pages;	  /* pages stored as one repeated word */
	uint64_t pages_compacted; /* pages given back by compaction */
	uint64_t huge_pages;	  /* incompressible pages stored whole */
	uint64_t loads, stores, discards; /* successful calls */
	uint64_t failed_loads, failed_stores;
	/*
	 * Bytes of bookkeeping outside mem_used_total (slot table, handle
	 * tables, zspage descriptors): zram does not count its own either.
	 */
	uint64_t meta_bytes;
};

struct store_ops {
	const char *name;
	/*
	 * store - keep one page (PAGE_SIZE bytes at @page) in @slot; the slot
	 * must be empty.  Return: 0; -ENOSPC when the device's memory limit
	 * would be passed (nothing stored before is touched); -ENOMEM;
	 * -EINVAL for a slot out of range or already holding data.
	 */
	int (*store)(struct store_dev *dev, uint32_t slot, const void *page);
	/*
	 * load - copy @slot's page into @page (PAGE_SIZE bytes).  The slot
	 * keeps its data.  Return: 0; -ENOENT when the slot holds nothing;
	 * -EIO when its data is corrupt (never writes outside @page);
	 * -EINVAL for a slot out of range.
	 */
	int (*load)(struct store_dev *dev, uint32_t slot, void *page);
	/* discard - forget @slot's data (no-op on an empty slot). */
	void (*discard)(struct store_dev *dev, uint32_t slot);
	void (*get_stats)(struct store_dev *dev, struct store_stats *st);
	/* compact - give free memory back to the OS; return pages freed. */
	long (*compact)(struct store_dev *dev);
	void (*destroy)(struct store_dev *dev);
};

/* Every device embeds this header first. Fields are written at setup only. */
struct store_dev {
	const struct store_ops *ops;
	uint32_t nslots;
	bool synchronous;
};

/*
 * store_open - make a device from a spec string.
 * @spec:      "zram" (lz4), "zram:lz4", "zram:zstd", "zram:zstd:LEVEL"
 *             (LEVEL from ZSTD_minCLevel() to ZSTD_maxCLevel(); "zstd" is 3).
 * @nslots:    number of slots (>= 1).
 * @mem_limit: bytes of memory the device may use (mem_used_total), 0 = no
 *             limit, else at least PAGE_SIZE.
 * @err/@errlen: on -EINVAL, a message naming the bad value.
 * Return: 0 and *out; -EINVAL (bad spec, nslots, mem_limit); -ENOMEM.
 * Context: any thread.  The compressed RAM device is described in
 * docs/store.md.
 */
int store_open(const char *spec, uint32_t nslots, size_t mem_limit,
	       struct store_dev **out, char *err, size_t errlen);

#ifdef USWAP_TEST_HOOKS
/*
 * Test hooks (builds with -Dtest_hooks=true, the default), for the "zram"
 * device only; other devices return -EOPNOTSUPP.
 *
 * store_inject_load_error - while @on, every load of @slot fails with -EIO
 * (counted in failed_loads) whatever the slot holds; the slot's data is kept
 * and comes back when @on is false.  Discarding the slot clears the error.
 * This is how a test makes a device read error happen (the pager turns it
 * into SIGBUS).  Return: 0; -EINVAL for a slot out of range.
 *
 * store_plant_object - make @slot (empty) hold @len raw bytes as if they
 * were its compressed object: @len == PAGE_SIZE plants an incompressible
 * ("huge") page, kept as is; 1 <= @len < PAGE_SIZE plants a compressed
 * object that a load will decompress (with the device's compressor), which
 * lets a fuzzer feed arbitrary bytes to the decompressor.  Return: 0;
 * -EINVAL (slot out of range or in use, bad @len); -ENOSPC; -ENOMEM.
 *
 * Context: as store and load: the caller serialises calls on one slot.
 */
int store_inject_load_error(struct store_dev *dev, uint32_t slot, bool on);
int store_plant_object(struct store_dev *dev, uint32_t slot, const void *obj,
		       size_t len);
#endif

static inline int store_page(struct store_dev *dev, uint32_t slot,
			     const void *page)
{
	return dev->ops->store(dev, slot, page);
}

static inline int load_page(struct store_dev *dev, uint32_t slot, void *page)
{
	return dev->ops->load(dev, slot, page);
}

static inline void discard_slot(struct store_dev *dev, uint32_t slot)
{
	dev->ops->discard(dev, slot);
}

static inline void store_close(struct store_dev *dev)
{
	if (dev)
		dev->ops->destroy(dev);
}

#endif /* USWAP_STORE_DEVICE_H */
