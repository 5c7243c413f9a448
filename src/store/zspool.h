/*
 * zspool: a dense allocator for compressed objects, in the spirit of the
 * kernel's zsmalloc.  Objects of 1..PAGE_SIZE bytes are rounded up to one of
 * 255 size classes (32, 48, ... 4096 bytes) and packed back to back into
 * "zspages" of 1..8 contiguous pages, so that an object may straddle a page
 * boundary and little space is lost at the end of each page.  A caller holds
 * a handle, not an address: compaction moves objects between zspages of the
 * same class and updates the handle's entry in the class's handle table, so
 * a handle stays valid for the object's whole life.  docs/store.md explains
 * the size classes, the packing, compaction and where the memory goes.
 *
 * The pool knows nothing of slots or compression: src/store/zram.c uses it.
 *
 * Thread safety: every function may be called from any thread.  Calls on
 * objects of different size classes never share a lock (except when a
 * zspage is created or freed, which takes the page-run lock briefly); calls
 * on one class take that class's mutex for a few hundred nanoseconds.  The
 * caller serialises calls on the same handle (no zspool_free() of a handle
 * while it is mapped).
 */
#ifndef USWAP_STORE_ZSPOOL_H
#define USWAP_STORE_ZSPOOL_H

#include <stddef.h>
#include <stdint.h>

struct zspool;

/*
 * Pages of emptied zspages the pool keeps populated for reuse (see the run
 * cache in zspool.c).  They count in the pool's pages; zspool_compact()
 * and a store at the memory limit give them back.
 */
#define ZSPOOL_CACHE_PAGES 32

/*
 * A pinned object: zspool_map() fills it, zspool_unmap() releases it.
 * While pinned, the object's zspage is neither moved nor freed.
 */
struct zspool_pin {
	const void *ptr; /* the object's bytes, contiguous */
	void *zspage;	 /* opaque */
};

/* Pool statistics, in pages and bytes. */
struct zspool_stats {
	uint64_t pages;		  /* pages held by zspages right now */
	uint64_t pages_max;	  /* peak of pages */
	uint64_t pages_compacted; /* pages given back by compaction, ever */
	uint64_t meta_bytes;	  /* handle tables and zspage descriptors */
};

/*
 * zspool_create - make an empty pool.
 * @limit_pages: most pages the pool may hold; 0 = no limit.
 * Return: the pool, or NULL when out of memory.
 * Context: any thread; may block (allocates).
 */
struct zspool *zspool_create(uint64_t limit_pages);

/*
 * zspool_destroy - free the pool and all its memory.  No call may be running
 * on it.  Context: any thread.
 */
void zspool_destroy(struct zspool *pool);

/*
 * zspool_huge_size - the largest object size that packs more than one object
 * per zspage (3632 bytes with 4 KiB pages).  Bigger objects take a whole
 * zspage of their own, so a caller storing compressed pages should store a
 * page whose compressed form is bigger than this as the raw page instead.
 * Context: any thread; constant.
 */
size_t zspool_huge_size(void);

/*
 * zspool_store - allocate an object of @size bytes and copy @src into it.
 * @size: 1..PAGE_SIZE.
 * @handle: out, the object's handle.
 * Return: 0; -ENOSPC when a new zspage is needed and would take the pool
 * past its limit (nothing else changes); -ENOMEM; -EINVAL for a bad size.
 * Context: takes the class lock; when the class is full, drops it to make
 * a zspage (page-run lock, mmap/madvise) and takes it again; may block.
 */
int zspool_store(struct zspool *pool, const void *src, size_t size,
		 uint64_t *handle);

/*
 * zspool_free - free the object of @handle; a zspage left empty goes back to
 * the OS (MADV_DONTNEED) at once.  Context: as zspool_store().
 */
void zspool_free(struct zspool *pool, uint64_t handle);

/*
 * zspool_map - pin the object of @handle and return its bytes in @pin->ptr
 * (contiguous, class size long).  Read them, then zspool_unmap().  Reading
 * happens outside any lock: other objects of the class stay available.
 * Context: takes the class lock briefly.
 */
void zspool_map(struct zspool *pool, uint64_t handle, struct zspool_pin *pin);

/* zspool_unmap - release a pin.  Context: no lock; never blocks. */
void zspool_unmap(struct zspool *pool, struct zspool_pin *pin);

/*
 * zspool_compact - move objects out of the emptiest zspages of each class
 * into fuller ones, and give every zspage so emptied back to the OS.
 * Return: the number of pages given back.
 * Context: takes each class lock in turn (and releases it between zspages);
 * may block.  Safe against concurrent store, free and map.
 */
long zspool_compact(struct zspool *pool);

/*
 * Where the pool's pages go, summed over the classes: object bytes (live
 * objects at their class size), free object space in zspages, and the
 * tails of zspages too short for one more object.  Their sum is
 * pages * PAGE_SIZE.  The caller knows its objects' real sizes, so it can
 * split obj_bytes into payload and rounding to the class size.
 */
struct zspool_usage {
	uint64_t obj_bytes;
	uint64_t free_bytes;
	uint64_t tail_bytes;
	uint64_t zspages;
};

/*
 * zspool_get_usage - fill @u.  Context: takes each class lock in turn; the
 * sum is exact only when no other call runs.
 */
void zspool_get_usage(struct zspool *pool, struct zspool_usage *u);

/* zspool_get_stats - a snapshot of the counters (each read atomically). */
void zspool_get_stats(struct zspool *pool, struct zspool_stats *st);

#endif /* USWAP_STORE_ZSPOOL_H */
