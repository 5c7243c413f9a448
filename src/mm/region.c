/*
 * Regions and their pte tables: uswap_map/uswap_unmap's work, region lookup
 * for the fault path, and the remove/unmap events (the application's own
 * MADV_DONTNEED / munmap of a range: its swap slots are freed and the next
 * touch reads zero).
 *
 * A region is an anonymous private mapping registered MODE_MISSING with the
 * pager's uffd, marked MADV_NOHUGEPAGE (userfaultfd installs 4K ptes only)
 * and MADV_DONTFORK (fork is out of scope: a child would see evicted pages as
 * zeros, and MOVE-out of pages COW-shared with a child fails with EBUSY).
 *
 * Lock order: see internal.h.  Here: region_lock alone (lookup, insert,
 * remove); then per page: folio lock (release_swap_entry) -> pte lock ->
 * lru_lock, never the other way round: ptes are cleared under the pte lock
 * and the swap entries released after it is dropped.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/internal.h"

static struct mm_region *region_find_locked(struct mm *mm, uint64_t addr,
					    size_t *posp)
{
	size_t lo = 0, hi = mm->nregions;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		struct mm_region *r = mm->regions[mid];

		if (addr < r->start) {
			hi = mid;
		} else if (addr >= r->end) {
			lo = mid + 1;
		} else {
			if (posp)
				*posp = mid;
			return r;
		}
	}
	if (posp)
		*posp = lo;
	return NULL;
}

/*
 * region_get - the live region containing @addr, with a reference, or NULL.
 * Context: any thread; takes region_lock for reading.
 */
struct mm_region *region_get(struct mm *mm, uint64_t addr)
{
	struct mm_region *r;

	pthread_rwlock_rdlock(&mm->region_lock);
	r = region_find_locked(mm, addr, NULL);
	if (r && !atomic_load(&r->dead))
		atomic_fetch_add(&r->refs, 1);
	else
		r = NULL;
	pthread_rwlock_unlock(&mm->region_lock);
	return r;
}

void region_put(struct mm_region *r)
{
	atomic_fetch_sub_explicit(&r->refs, 1, memory_order_release);
}

static void region_free(struct mm_region *r)
{
	for (size_t t = 0; t < r->ntables; t++) {
		if (r->tables[t]) {
			pthread_mutex_destroy(&r->tables[t]->lock);
			priv_free(r->tables[t]);
		}
	}
	priv_free(r->tables);
	priv_free(r);
}

void *mm_map(struct mm *mm, size_t len, int *err)
{
	struct mm_region *r = NULL;
	void *addr = MAP_FAILED;
	size_t pos;
	int ret;

	if (len == 0 || len > ((size_t)1 << 46)) {
		*err = -EINVAL;
		return NULL;
	}
	if (atomic_load(&mm->closing)) {
		*err = -EINVAL;
		return NULL;
	}
	len = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	r = priv_calloc(1, sizeof(*r));
	if (!r)
		goto nomem;
	r->npages = len >> PAGE_SHIFT;
	r->ntables = (r->npages + PTRS_PER_TABLE - 1) / PTRS_PER_TABLE;
	r->tables = priv_calloc(r->ntables, sizeof(*r->tables));
	if (!r->tables)
		goto nomem;
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (addr == MAP_FAILED)
		goto nomem;
	r->start = (uint64_t)(uintptr_t)addr;
	r->end = r->start + len;
	for (size_t t = 0; t < r->ntables; t++) {
		struct pte_table *tbl =
			priv_aligned_alloc(TABLE_ALIGN, TABLE_ALIGN);

		if (!tbl)
			goto nomem;
		memset(tbl, 0, sizeof(*tbl));
		pthread_mutex_init(&tbl->lock, NULL);
		tbl->region = r;
		tbl->first = t * PTRS_PER_TABLE;
		tbl->addr = r->start + tbl->first * PAGE_SIZE;
		r->tables[t] = tbl;
	}
	madvise(addr, len, MADV_NOHUGEPAGE);
	madvise(addr, len, MADV_DONTFORK);
	ret = uffd_register(&mm->uffd, addr, len, UFFD_REG_MISSING);
	if (ret < 0) {
		*err = ret;
		goto fail;
	}
	pthread_rwlock_wrlock(&mm->region_lock);
	if (mm->nregions == mm->cap_regions) {
		size_t cap = mm->cap_regions ? 2 * mm->cap_regions : 16;
		struct mm_region **n =
			priv_realloc(mm->regions, cap * sizeof(*n));

		if (!n) {
			pthread_rwlock_unlock(&mm->region_lock);
			uffd_unregister(&mm->uffd, addr, len);
			goto nomem;
		}
		mm->regions = n;
		mm->cap_regions = cap;
	}
	region_find_locked(mm, r->start, &pos);
	memmove(&mm->regions[pos + 1], &mm->regions[pos],
		(mm->nregions - pos) * sizeof(*mm->regions));
	mm->regions[pos] = r;
	mm->nregions++;
	pthread_rwlock_unlock(&mm->region_lock);
	atomic_fetch_add(&mm->mapped_pages, r->npages);
	return addr;
nomem:
	*err = -ENOMEM;
fail:
	if (addr != MAP_FAILED)
		munmap(addr, len);
	if (r) {
		if (r->tables)
			region_free(r);
		else
			priv_free(r);
	}
	return NULL;
}

/*
 * release_swap_entry - a pte that held @entry was cleared (remove/unmap
 * event, uswap_unmap): drop its reference; a folio left in the swap cache
 * with no user is deleted (which frees the slot) and leaves the
 * second-chance list.
 *
 * Race: a swap-in of @entry may be between its steps.  If it already
 * inserted a folio, we wait for its lock; the swap-in found the pte changed
 * (we cleared it first) and dropped out, deleting the folio if our
 * swap_free had already brought the count to 0; else we delete it here.
 * A bypass swap-in holds the pin: swap_free leaves the slot pinned and its
 * swapcache_clear frees it.
 * Context: no pte lock held (we may wait on a folio lock).
 */
void release_swap_entry(struct mm *mm, swp_entry_t entry)
{
	struct folio *folio = swap_cache_get_folio(entry);

	if (!folio) {
		swap_free(entry);
		return;
	}
	folio_lock(folio);
	swap_free(entry);
	if (folio_test(folio, PG_swapcache) &&
	    swp_entry_same(folio->swap, entry) && folio_free_swap(folio)) {
		madvise(folio->data, PAGE_SIZE, MADV_DONTNEED);
		folio_set_populated(mm, folio, false);
		if (cache_list_del(mm, folio))
			folio_put(folio);
	}
	folio_unlock(folio);
	folio_put(folio);
}

/*
 * discard_table - clear the ptes of pages [from, to) of @tbl: swap entries
 * are released (next touch reads zero).  When @unmapped (munmap, or the
 * region going away) present pages also leave the LRU; for a remove event
 * (MADV_DONTNEED) they stay present: the kernel zaps them, a later fault on
 * a present pte is served as a zero fill, and reclaim drops a page whose
 * move-out finds a hole.
 */
static void discard_table(struct mm *mm, struct pte_table *tbl, size_t from,
			  size_t to, bool unmapped)
{
	swp_entry_t entries[PTRS_PER_TABLE];
	size_t n = 0;

	pthread_mutex_lock(&tbl->lock);
	for (size_t i = from; i < to; i++) {
		struct mm_page *page = &tbl->pages[i];
		uint64_t pte = atomic_load(&page->pte);

		if (pte_is_swap(pte)) {
			entries[n++] = pte_to_swp_entry(pte);
			atomic_store(&page->pte, PTE_NONE);
		} else if (pte == PTE_POISON) {
			/* discarded: the next touch reads zero */
			atomic_store(&page->pte, PTE_NONE);
		} else if (unmapped && pte == PTE_PRESENT) {
			lru_del(mm, page);
			atomic_store(&page->pte, PTE_NONE);
		} else if (unmapped) {
			atomic_store(&page->pte, PTE_NONE);
		}
	}
	pthread_mutex_unlock(&tbl->lock);
	for (size_t i = 0; i < n; i++)
		release_swap_entry(mm, entries[i]);
}

static void discard_region_range(struct mm *mm, struct mm_region *r,
				 uint64_t start, uint64_t end, bool unmapped)
{
	size_t first, last;

	if (start < r->start)
		start = r->start;
	if (end > r->end)
		end = r->end;
	if (start >= end)
		return;
	first = (start - r->start) >> PAGE_SHIFT;
	last = (end - r->start + PAGE_SIZE - 1) >> PAGE_SHIFT;
	while (first < last) {
		struct pte_table *tbl = r->tables[first / PTRS_PER_TABLE];
		size_t to = tbl->first + PTRS_PER_TABLE;

		if (to > last)
			to = last;
		discard_table(mm, tbl, first - tbl->first, to - tbl->first,
			      unmapped);
		first = to;
	}
}

/*
 * mm_discard_range - the application discarded [start, end) (remove event:
 * MADV_DONTNEED/FREE/REMOVE; unmap event: munmap, @unmapped).
 * Context: a handler thread (the application thread that caused the event
 * is blocked until the event was read, not until we are done).
 */
void mm_discard_range(struct mm *mm, uint64_t start, uint64_t end,
		      bool unmapped)
{
	uint64_t addr = start;

	while (addr < end) {
		struct mm_region *r = region_get(mm, addr);

		if (!r) {
			/* skip to the next region above addr */
			uint64_t next = end;

			pthread_rwlock_rdlock(&mm->region_lock);
			for (size_t i = 0; i < mm->nregions; i++) {
				if (mm->regions[i]->start > addr) {
					next = mm->regions[i]->start;
					break;
				}
			}
			pthread_rwlock_unlock(&mm->region_lock);
			addr = next;
			continue;
		}
		discard_region_range(mm, r, addr, end, unmapped);
		addr = r->end;
		region_put(r);
	}
}

/* Wait until every user in flight of a dead region is gone. */
static void region_wait_unused(struct mm_region *r)
{
	while (atomic_load_explicit(&r->refs, memory_order_acquire) > 0)
		sched_yield();
}

int mm_unmap(struct mm *mm, void *addr, size_t len)
{
	uint64_t start = (uint64_t)(uintptr_t)addr;
	struct mm_region *r;
	size_t pos;

	len = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	pthread_rwlock_wrlock(&mm->region_lock);
	r = region_find_locked(mm, start, &pos);
	if (!r || r->start != start || r->end - r->start != len) {
		pthread_rwlock_unlock(&mm->region_lock);
		return -EINVAL;
	}
	atomic_store(&r->dead, true);
	memmove(&mm->regions[pos], &mm->regions[pos + 1],
		(mm->nregions - pos - 1) * sizeof(*mm->regions));
	mm->nregions--;
	pthread_rwlock_unlock(&mm->region_lock);

	region_wait_unused(r);
	discard_region_range(mm, r, r->start, r->end, true);
	/* a reclaimer that picked a page before it left the LRU */
	region_wait_unused(r);
	uffd_unregister(&mm->uffd, addr, len);
	munmap(addr, len);
	atomic_fetch_sub(&mm->mapped_pages, r->npages);
	region_free(r);
	return 0;
}

/*
 * mm_regions_destroy - uswap_close's work on the regions: bring every
 * swapped-out page back (handlers keep serving faults meanwhile; reclaim is
 * off), unregister each region so that it becomes ordinary memory with its
 * contents, and free the tables.  The mappings stay: the application owns
 * them now (munmap(2) them).
 */
void mm_regions_destroy(struct mm *mm)
{
	struct mm_region **snap;
	size_t n;

	/* a snapshot with references: handlers keep looking regions up */
	pthread_rwlock_rdlock(&mm->region_lock);
	n = mm->nregions;
	snap = priv_calloc(n ? n : 1, sizeof(*snap));
	for (size_t i = 0; snap && i < n; i++) {
		snap[i] = mm->regions[i];
		atomic_fetch_add(&snap[i]->refs, 1);
	}
	pthread_rwlock_unlock(&mm->region_lock);
	if (!snap)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		struct mm_region *r = snap[i];

		for (size_t idx = 0; idx < r->npages; idx++) {
			struct mm_page *page =
				&r->tables[idx / PTRS_PER_TABLE]
					 ->pages[idx % PTRS_PER_TABLE];
			uint64_t addr = r->start + idx * PAGE_SIZE;
			uint64_t pte;

			while (pte_is_swap(pte = atomic_load(&page->pte))) {
				if (do_swap_page(mm, r, addr,
						 pte_to_swp_entry(pte)) < 0)
					break;
			}
		}
		uffd_unregister(&mm->uffd, (void *)(uintptr_t)r->start,
				r->end - r->start);
	}
	for (size_t i = 0; i < n; i++)
		region_put(snap[i]);
	priv_free(snap);

	pthread_rwlock_wrlock(&mm->region_lock);
	for (size_t i = 0; i < mm->nregions; i++)
		atomic_store(&mm->regions[i]->dead, true);
	pthread_rwlock_unlock(&mm->region_lock);
	for (size_t i = 0; i < mm->nregions; i++) {
		struct mm_region *r = mm->regions[i];

		region_wait_unused(r);
		/* pages left swapped out (poisoned or failed): free slots */
		discard_region_range(mm, r, r->start, r->end, true);
		region_wait_unused(r);
		region_free(r);
	}
	mm->nregions = 0;
}

int mm_page_pte(struct mm *mm, void *addr, uint64_t *pte, swp_entry_t *entry)
{
	struct mm_region *r = region_get(mm, (uint64_t)(uintptr_t)addr);
	struct pte_table *tbl;

	if (!r)
		return -EINVAL;
	*pte = atomic_load(
		&region_page(r, (uint64_t)(uintptr_t)addr, &tbl)->pte);
	if (entry)
		*entry = pte_is_swap(*pte) ? pte_to_swp_entry(*pte)
					   : (swp_entry_t){0};
	region_put(r);
	return 0;
}
