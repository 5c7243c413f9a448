/*
 * The swap core: what the kernel's mm/swapfile.c and its swap cache do for
 * uswap, knowing nothing of userfaultfd.  Devices are attached ("swapon"),
 * their slots are allocated in clusters of SWAP_CLUSTER_SLOTS, each slot has
 * a reference count and a cache pin (the swap map), and each cluster has a
 * swap table: one atomic word per slot holding nothing, a folio (the swap
 * cache) or a shadow value.
 *
 * A slot is in use while its count > 0 or its pin is set; it becomes free
 * when both are gone, and exactly then the device is told to discard it.
 * A folio sits in the swap cache only on a pinned slot, so a slot with a
 * cached folio can never be freed or reused: that is the invariant that makes
 * the swap-in protocol correct (../shared/DESIGN.md).
 *
 * Return values: 0 or a positive value on success, -errno on failure.
 * Context: every function may be called from any thread; none sleeps except
 * where it says so.  Locks: see docs/locking.md.
 */
#ifndef USWAP_SWAP_SWAP_H
#define USWAP_SWAP_SWAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/device.h"
#include "swap/entry.h"
#include "swap/folio.h"

#define SWAP_CLUSTER_SLOTS 512
#define SWAP_MAX_ORDER	   9 /* 1 << 9 = one whole cluster */

struct swap_info;

/* ---- devices ("swapon"/"swapoff") ---- */

/*
 * swapon - attach @dev with @nslots slots (slot 0 is reserved, as the kernel
 * reserves its header).  Return: 0 and *out; -EINVAL (nslots < 2 or more than
 * the device has); -EBUSY (MAX_SWAPFILES devices attached); -ENOMEM.
 */
int swapon(struct store_dev *dev, uint32_t nslots, struct swap_info **out);

/*
 * swapoff - detach.  Refuses (-EBUSY) while any slot is in use: uswap never
 * drains behind its users' backs; the pager empties a device first.
 * -EINVAL for NULL.  No other call on @si may run concurrently (it frees
 * @si); callers keep a device alive by holding a reference on a slot.
 */
int swapoff(struct swap_info *si);

/* swap_info_get - the device of @entry, or NULL if none is attached. */
struct swap_info *swap_info_get(swp_entry_t entry);
struct store_dev *swap_store(struct swap_info *si);
unsigned swap_type_of(struct swap_info *si);

/* swap_mark_bad - never allocate @offset (must be free).  -EBUSY if in use. */
int swap_mark_bad(struct swap_info *si, uint64_t offset);

struct swap_usage {
	uint64_t nslots; /* usable slots (bad ones excluded) */
	uint64_t inuse;	 /* slots with count > 0 or the pin */
	uint64_t cached; /* slots with a folio in the swap cache */
	uint64_t free_clusters, partial_clusters, full_clusters;
	uint64_t bad;		/* bad slots, slot 0 included */
	uint64_t continued;	/* slots whose count is above the inline max */
	uint64_t frag_clusters; /* of partial: failed an allocation of their
				   order, only order 0 uses them */
	uint64_t alloc_fast;	/* allocations from the thread's cluster */
	uint64_t alloc_slow;	/* allocations that took a cluster off a list */
	uint64_t alloc_fail;	/* -ENOSPC returned */
	uint64_t freed; /* slots freed (= discards sent to the device) */
};
void swap_get_usage(struct swap_info *si, struct swap_usage *usage);

/* ---- slot allocation ---- */

/*
 * swap_alloc - allocate 1 << @order contiguous slots, aligned to their size,
 * inside one cluster.  Each slot is returned pinned, with count 0 (the
 * kernel's SWAP_HAS_CACHE from get_swap_pages): the caller inserts its folio
 * into the swap cache, then takes one reference per pte (swap_duplicate).
 * Prefers the calling thread's current cluster.  Order > 0 uses free
 * clusters and clusters already serving that order (the kernel's policy):
 * -ENOSPC for it means "fall back to order 0", not "device full".
 * Return: 0 and *entry (the first slot); -ENOSPC when no cluster has room;
 * -EINVAL for an order above SWAP_MAX_ORDER.
 */
int swap_alloc(struct swap_info *si, unsigned order, swp_entry_t *entry);

/* ---- the swap map ---- */

/*
 * swap_duplicate - take one reference (a pte now holds @entry).  Works on a
 * slot that is pinned with count 0 (swap-out) and above the inline maximum
 * (continuations).  Return: 0; -ENOENT when the slot is free; -EINVAL for a
 * bad slot or an entry of no device; -ENOMEM (continuation);
 * -EOVERFLOW at 2^32 - 1 references.
 */
int swap_duplicate(swp_entry_t entry);

/*
 * swap_free - drop one reference.  Frees the slot when the count reaches 0
 * and no pin is held (the device discards it then).
 */
void swap_free(swp_entry_t entry);

/*
 * swapcache_prepare - set the cache pin.  Return: 0; -EEXIST when already
 * pinned (whatever the count); -ENOENT when the slot is free; -EINVAL for
 * a bad slot or an entry of no device.
 */
int swapcache_prepare(swp_entry_t entry);

/* swapcache_clear - clear the pin; frees the slot if its count is 0. */
void swapcache_clear(swp_entry_t entry);

/*
 * free_swap_and_cache - drop one reference and, if the folio in the swap
 * cache is now the slot's only user and it can be locked without waiting,
 * delete it from the cache and unpin (the slot is freed).  Used when a pte
 * holding @entry goes away (unmap, MADV_DONTNEED, close).
 * Return: true when the slot was freed.
 */
bool free_swap_and_cache(swp_entry_t entry);

/* swap_count - the count without the pin: a racy read (heuristics, tests). */
unsigned long swap_count(swp_entry_t entry);
/* swap_pinned - whether the pin is set: a racy read. */
bool swap_pinned(swp_entry_t entry);

/* ---- the swap cache (per-cluster swap table) ---- */

/*
 * swap_cache_get_folio - the folio cached for @entry, with a reference, or
 * NULL.  Lockless.  The folio may be locked (being read); callers wait with
 * folio_wait_locked / folio_lock and re-check folio->swap under the lock.
 */
struct folio *swap_cache_get_folio(swp_entry_t entry);

/*
 * swap_cache_add_folio - insert a locked @folio at @entry, whose slot the
 * caller pinned (swapcache_prepare or swap_alloc).  The cache takes its own
 * reference; sets PG_swapcache and folio->swap.  If @shadowp, the shadow
 * value that was there is returned in it (NULL if none).
 * Return: 0; -ENOENT when the slot is not in use; -EEXIST when a folio is
 * already cached there; -EINVAL for a bad slot, an entry of no device, or
 * a slot in use that is not pinned.
 */
int swap_cache_add_folio(swp_entry_t entry, struct folio *folio,
			 void **shadowp);

/*
 * swap_cache_prepare_and_add - the unified swap-in's step 2, atomically
 * under the cluster lock: if the slot is in use (count > 0) and holds no
 * folio and no pin, pin it and insert the locked @folio.
 * Return: 0 (the caller owns the swap-in); -ENOENT (slot no longer in use:
 * the pte changed); -EEXIST (another folio is cached: *other gets it, with a
 * reference; or the slot is pinned with no folio, by a bypassing swap-in:
 * *other = NULL); -EINVAL (bad slot, or an entry of no device).  A shadow
 * in the slot is dropped: read it first with swap_cache_get_shadow.
 */
int swap_cache_prepare_and_add(swp_entry_t entry, struct folio *folio,
			       struct folio **other);

/*
 * swap_cache_del_folio - remove a locked @folio from the swap cache, leave
 * @shadow (NULL for none) in its place, drop the cache's reference and the
 * pin: the slot is freed if its count is 0.
 */
void swap_cache_del_folio(struct folio *folio, void *shadow);

/*
 * folio_free_swap - if the locked @folio is in the swap cache and its slot's
 * count is 0, delete it from the cache (freeing the slot).  Return: whether
 * it did.
 */
bool folio_free_swap(struct folio *folio);

/* Shadows: an odd word stored where no folio is; value is 63 bits. */
void *swap_cache_get_shadow(swp_entry_t entry);
static inline void *make_shadow(uint64_t value)
{
	return (void *)(uintptr_t)((value << 1) | 1);
}
static inline uint64_t shadow_value(void *shadow)
{
	return (uint64_t)(uintptr_t)shadow >> 1;
}

/* ---- validation (debug tier) ---- */

/*
 * swap_validate - check every invariant of @si at a quiet point: counts
 * against pins against swap-table contents against the cluster lists and
 * counters.  Each violation is described in @report (may be NULL).
 * Return: the number of violations (0 = consistent).
 * Context: takes every cluster lock in turn; callers must be quiet.
 */
int swap_validate(struct swap_info *si, char *report, size_t len);

#endif /* USWAP_SWAP_SWAP_H */
