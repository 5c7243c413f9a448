/*
 * Folios: page-sized buffers owned by uswap, outside the process's mapping:
 * a page on its way in (swap-in reads into one) or out (swap-out keeps one in
 * the swap cache while it is written).  The swap cache stores folios; the
 * pager allocates them.
 *
 * Memory is type-stable (the kernel's SLAB_TYPESAFE_BY_RCU idea): folio
 * structs come from a pool and are recycled but never returned to the OS
 * while the pool lives, so a lockless swap-cache lookup may touch a folio
 * that was freed and reused under it.  folio_try_get() refuses a folio whose
 * count is 0, and the lookup re-checks the swap table after taking its
 * reference (swap_cache_get_folio()).
 *
 * The page data lives in an area the pool's creator hands in (the pager gives
 * a staging area registered with its userfaultfd so that pages can be moved
 * in and out with UFFDIO_MOVE; tests give plain memory).
 */
#ifndef USWAP_SWAP_FOLIO_H
#define USWAP_SWAP_FOLIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swap/entry.h"

/* folio->flags bits */
enum {
	PG_locked = 1u << 0,	/* someone is filling or changing it */
	PG_waiters = 1u << 1,	/* a thread sleeps in folio_wait_locked */
	PG_uptodate = 1u << 2,	/* data valid */
	PG_error = 1u << 3,	/* the device read failed */
	PG_swapcache = 1u << 4, /* in the swap cache at folio->swap */
	PG_dirty = 1u << 5,	/* differs from its copy on the device */
};

struct folio {
	_Atomic uint32_t flags;	  /* PG_*; futex word for the folio lock */
	_Atomic int32_t refcount; /* 0 = free in the pool */
	/*
	 * The entry while PG_swapcache: set and cleared under the cluster lock
	 * by the swap cache, with the folio locked.
	 */
	swp_entry_t swap;
	void *data;    /* PAGE_SIZE bytes; fixed for the folio's life */
	void *private; /* the pager's: protected by the folio lock */
	struct folio *next_free; /* pool's: protected by the pool lock */
	struct folio_pool *pool; /* written at pool creation only */
};

struct folio_pool;

/*
 * folio_pool_create - a pool of @npages folios whose data pages are the
 * consecutive pages of @area (which the caller keeps mapped for the pool's
 * life).  Return: 0 and *out; -ENOMEM; -EINVAL for a misaligned area.
 */
int folio_pool_create(void *area, size_t npages, struct folio_pool **out);
void folio_pool_destroy(struct folio_pool *pool);
size_t folio_pool_free_count(struct folio_pool *pool);

/*
 * folio_alloc - a folio with refcount 1, flags 0.  Return NULL when the pool
 * is empty.  Context: any thread; takes the pool lock briefly.
 */
struct folio *folio_alloc(struct folio_pool *pool);

/* folio_get / folio_put - references; the last put returns it to its pool. */
void folio_get(struct folio *folio);
void folio_put(struct folio *folio);
/* folio_try_get - take a reference unless the count is 0 (lookups). */
bool folio_try_get(struct folio *folio);

/*
 * The folio lock: a bit lock on flags with a futex for sleepers.
 * folio_lock may sleep; folio_trylock never does; folio_unlock wakes.
 * folio_wait_locked sleeps until the lock bit is clear (without taking it).
 */
void folio_lock(struct folio *folio);
bool folio_trylock(struct folio *folio);
void folio_unlock(struct folio *folio);
void folio_wait_locked(struct folio *folio);

static inline bool folio_test(const struct folio *folio, uint32_t bit)
{
	return atomic_load_explicit(&((struct folio *)folio)->flags,
				    memory_order_acquire) &
	       bit;
}
void folio_set_flag(struct folio *folio, uint32_t bit);
void folio_clear_flag(struct folio *folio, uint32_t bit);

#endif /* USWAP_SWAP_FOLIO_H */
