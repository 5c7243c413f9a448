/*
 * Regions and their pte tables: the layout calls (uswap_map, uswap_mmap,
 * uswap_unmap of any page range, uswap_mremap), region lookup for the fault
 * path, and the remove/unmap events (the application's own MADV_DONTNEED /
 * munmap of a range: its swap slots are freed and the next touch reads
 * zero).  "Splitting" below says how a region is trimmed, split and moved
 * while handlers and the reclaimer use it.
 *
 * A region is an anonymous private mapping registered MODE_MISSING with the
 * pager's uffd and marked MADV_NOHUGEPAGE (userfaultfd installs 4K ptes
 * only).  No MADV_DONTFORK: a forked child gets a copy (docs/pager.md,
 * "fork").
 *
 * Lock order: see internal.h.  Here: map_lock (every layout change), then
 * region_lock alone (lookup, insert, remove); then per page: folio lock (release_swap_entry) -> pte lock ->
 * lru_lock, never the other way round: ptes are cleared under the pte lock
 * and the swap entries released after it is dropped.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
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

/* ---- pte tables and region structs ---- */

static struct pte_table *table_alloc(uint64_t addr)
{
	struct pte_table *tbl = priv_aligned_alloc(TABLE_ALIGN, TABLE_ALIGN);

	if (!tbl)
		return NULL;
	memset(tbl, 0, sizeof(*tbl));
	pthread_mutex_init(&tbl->lock, NULL);
	tbl->addr = addr;
	atomic_store(&tbl->owners, 1);
	return tbl;
}

/* table_put - drop a reclaim reference taken by lru_isolate. */
void table_put(struct pte_table *tbl)
{
	atomic_fetch_sub_explicit(&tbl->refs, 1, memory_order_release);
}

/*
 * table_drop - a region struct lets go of @tbl; the last one frees it.
 * Every page of a table that loses its last owner was discarded (off the
 * LRU, pte none) by the cut that made it unowned; a reclaimer may still
 * hold one it isolated before (tbl->refs): wait for it.
 */
static void table_drop(struct pte_table *tbl)
{
	if (atomic_fetch_sub(&tbl->owners, 1) != 1)
		return;
	while (atomic_load_explicit(&tbl->refs, memory_order_acquire) > 0)
		sched_yield();
	pthread_mutex_destroy(&tbl->lock);
	priv_free(tbl);
}

/* region_release - free a region struct nobody uses any more. */
static void region_release(struct mm_region *r)
{
	for (size_t t = 0; t < r->ntables; t++)
		if (r->tables[t])
			table_drop(r->tables[t]);
	priv_free(r->tables);
	priv_free(r);
}

#define TABLE_SPAN ((uint64_t)PTRS_PER_TABLE * PAGE_SIZE)

/* region_alloc - a region struct of @len bytes with new tables at @start. */
static struct mm_region *region_alloc(uint64_t start, size_t len)
{
	struct mm_region *r = priv_calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->start = r->base = start;
	r->end = start + len;
	r->npages = len >> PAGE_SHIFT;
	r->ntables = (r->npages + PTRS_PER_TABLE - 1) / PTRS_PER_TABLE;
	r->tables = priv_calloc(r->ntables, sizeof(*r->tables));
	if (!r->tables) {
		priv_free(r);
		return NULL;
	}
	for (size_t t = 0; t < r->ntables; t++) {
		r->tables[t] = table_alloc(start + t * TABLE_SPAN);
		if (!r->tables[t]) {
			region_release(r);
			return NULL;
		}
	}
	return r;
}

/* region_place - give a region made by region_alloc its address. */
static void region_place(struct mm_region *r, uint64_t start)
{
	r->end = start + (r->end - r->start);
	r->start = r->base = start;
	for (size_t t = 0; t < r->ntables; t++)
		r->tables[t]->addr = start + t * TABLE_SPAN;
}

/*
 * region_share - a new region struct for [@start, @end) inside the span of
 * @r's tables, sharing them (no pte moves: the pages stay where they are).
 */
static struct mm_region *region_share(struct mm_region *r, uint64_t start,
				      uint64_t end)
{
	struct mm_region *n = priv_calloc(1, sizeof(*n));
	size_t first = (start - r->base) / TABLE_SPAN;
	size_t last = (end - 1 - r->base) / TABLE_SPAN;

	if (!n)
		return NULL;
	n->start = start;
	n->end = end;
	n->base = r->base + first * TABLE_SPAN;
	n->npages = (end - start) >> PAGE_SHIFT;
	n->ntables = last - first + 1;
	n->tables = priv_calloc(n->ntables, sizeof(*n->tables));
	if (!n->tables) {
		priv_free(n);
		return NULL;
	}
	for (size_t t = 0; t < n->ntables; t++) {
		n->tables[t] = r->tables[first + t];
		atomic_fetch_add(&n->tables[t]->owners, 1);
	}
	return n;
}

/* Make room for one more region.  Context: region_lock held for writing. */
static int regions_reserve(struct mm *mm, size_t more)
{
	size_t cap;
	struct mm_region **n;

	if (mm->nregions + more <= mm->cap_regions)
		return 0;
	cap = mm->cap_regions ? 2 * mm->cap_regions : 16;
	while (cap < mm->nregions + more)
		cap *= 2;
	n = priv_realloc(mm->regions, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	mm->regions = n;
	mm->cap_regions = cap;
	return 0;
}

/*
 * regions_replace - replace the @nold regions at index @pos by the @nnew
 * regions @new (sorted, disjoint).  The replaced ones are marked dead.
 * Context: map_lock; takes region_lock for writing.  Return: 0, -ENOMEM
 * (nothing changed).
 */
static int regions_replace(struct mm *mm, size_t pos, size_t nold,
			   struct mm_region **new, size_t nnew)
{
	pthread_rwlock_wrlock(&mm->region_lock);
	if (nnew > nold && regions_reserve(mm, nnew - nold) < 0) {
		pthread_rwlock_unlock(&mm->region_lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nold; i++)
		atomic_store(&mm->regions[pos + i]->dead, true);
	memmove(&mm->regions[pos + nnew], &mm->regions[pos + nold],
		(mm->nregions - pos - nold) * sizeof(*mm->regions));
	for (size_t i = 0; i < nnew; i++)
		mm->regions[pos + i] = new[i];
	mm->nregions = mm->nregions - nold + nnew;
	pthread_rwlock_unlock(&mm->region_lock);
	return 0;
}

/* region_insert - publish @r.  Context: map_lock.  Return: 0, -ENOMEM. */
static int region_insert(struct mm *mm, struct mm_region *r)
{
	size_t pos;

	region_find_locked(mm, r->start, &pos);
	return regions_replace(mm, pos, 0, &r, 1);
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
 * move-out finds a hole.  A page a window eviction is dropping (PTE_ZAP)
 * is only marked PTE_DISCARD, for the evictor to apply; when unmapped it
 * is cleared like any other (the evictor then finds no mark left).
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

		if (pte_zapping(pte) && !unmapped) {
			/*
			 * A window eviction is dropping the page: the
			 * evictor applies this discard once its drop is
			 * done (zap.c, zap_finish), so that no fault
			 * installs anything here meanwhile.
			 */
			atomic_store(&page->pte, pte | PTE_DISCARD);
		} else if (pte_is_swap(pte)) {
			entries[n++] = pte_to_swp_entry(pte);
			atomic_store(&page->pte, PTE_NONE);
		} else if (pte == PTE_POISON || pte == PTE_PLAIN) {
			/* discarded: the next touch reads zero */
			atomic_store(&page->pte, PTE_NONE);
		} else if (unmapped && pte == PTE_PRESENT) {
			lru_del(mm, page);
			atomic_store(&page->pte, PTE_NONE);
		} else if (pte == PTE_PRESENT) {
			/* the kernel zaps it once the event was read */
			page->discarded = true;
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
	if (start < r->start)
		start = r->start;
	if (end > r->end)
		end = r->end;
	while (start < end) {
		struct pte_table *tbl;
		struct mm_page *page = region_page(r, start, &tbl);
		size_t from = (size_t)(page - tbl->pages);
		size_t to = PTRS_PER_TABLE;

		if (tbl->addr + to * PAGE_SIZE > end)
			to = (end - tbl->addr) >> PAGE_SHIFT;
		discard_table(mm, tbl, from, to, unmapped);
		start = tbl->addr + to * PAGE_SIZE;
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

/* ---- layout changes: unmap, mmap, mremap (all under map_lock) ---- */

/*
 * Splitting.  A region is never resized in place: a trim or a split
 * replaces its struct, in one step under region_lock, by structs for the
 * surviving pieces that *share* its pte tables (region_share: no pte word
 * moves, no LRU node moves, the pages stay where they are).  Tables count
 * their owners and the last one frees them.  So a fault on a surviving
 * page is never lost nor served wrongly: before the swap it finds the old
 * struct (same tables), after it the piece; a fault in flight on the old
 * struct works on the same pte words.  Only mremap moves pte words, into a
 * new region (mm_mremap).
 *
 * Race timeline, thread T unmaps [s, e) from region R while handler H
 * faults at a surviving address x and reclaimer C evicts page p in [s, e):
 *   H: region_get(x) = R (ref)               C: lru_isolate(p) (table ref)
 *   T: region_lock(w): R -> head, tail; R dead; unlock
 *   H: serves x through R's tables = head's tables; region_put(R)
 *   T: region_wait_unused(R) (H's ref)
 *   C: pte lock; p present: MOVE out, pte := E; unlock; table_put
 *   T: discard [s, e): pte lock; p holds E: pte := none, E released
 *      (or C comes later: it finds pte none and drops its folio)
 *   T: unregister [s, e), munmap (no unmap event: it is unregistered)
 *   T: region_release(R): tables only R owned are freed once C's table
 *      reference is gone
 * A fault at an address in [s, e) after the swap finds no region and its
 * faulter is woken: it faults again until the range is unregistered and
 * unmapped (then it gets SIGSEGV, as with munmap(2)).
 *
 * The application's own munmap(2) (an unmap event) and uswap_mmap reusing
 * the address.  The kernel unmaps first and queues the event after; our
 * table still has the region (a "stale" part: in the table, not mapped)
 * until a handler applies the event.  Were a new region created over it
 * meanwhile, the event would then discard the new region's pages.  So:
 *   - nothing that creates a region (mm_mmap, mm_mremap) publishes it
 *     while its range overlaps a region of the table: a new mapping the
 *     kernel gave us over a stale part waits (map_lock dropped) until the
 *     handler has applied the event;
 *   - nothing that removes a region on the caller's behalf (mm_unmap,
 *     MAP_FIXED, an mremap destination) removes a stale part: it waits
 *     for the event instead (range_stale: mincore says ENOMEM);
 *   - the handler applies an unmap event under map_lock (mm_apply_unmap)
 *     to whatever the table still has in the range: by the two rules that
 *     is stale, never a newer region.
 * Every other layout change unregisters a range before unmapping or
 * moving it, so it raises no event and never waits for a handler while it
 * holds map_lock.
 */

/* The regions overlapping [s, e): index of the first, count.  map_lock. */
static size_t regions_overlapping(struct mm *mm, uint64_t s, uint64_t e,
				  size_t *posp)
{
	size_t pos, n = 0;

	if (region_find_locked(mm, s, &pos) == NULL && pos < mm->nregions &&
	    mm->regions[pos]->end <= s)
		pos++;
	while (pos + n < mm->nregions && mm->regions[pos + n]->start < e)
		n++;
	*posp = pos;
	return n;
}

/*
 * range_stale - whether a region part in [s, e) is no longer mapped (the
 * application munmap(2)ed it; its unmap event is not applied yet).
 * Context: map_lock.
 */
static bool range_stale(struct mm *mm, uint64_t s, uint64_t e)
{
	unsigned char vec[1024];
	size_t pos, n = regions_overlapping(mm, s, e, &pos);

	for (size_t i = 0; i < n; i++) {
		struct mm_region *r = mm->regions[pos + i];
		uint64_t a = r->start > s ? r->start : s;
		uint64_t b = r->end < e ? r->end : e;

		while (a < b) {
			uint64_t c = b - a > sizeof(vec) * PAGE_SIZE
					     ? a + sizeof(vec) * PAGE_SIZE
					     : b;

			if (mincore((void *)(uintptr_t)a, c - a, vec) < 0 &&
			    errno == ENOMEM)
				return true;
			a = c;
		}
	}
	return false;
}

/*
 * layout_wait - let a handler apply the unmap event of a stale part.
 * Context: map_lock held; dropped while sleeping.
 */
static void layout_wait(struct mm *mm)
{
	struct timespec ts = {0, 200000};

	pthread_mutex_unlock(&mm->map_lock);
	nanosleep(&ts, NULL);
	pthread_mutex_lock(&mm->map_lock);
}
#define LAYOUT_WAIT_MAX 25000 /* x 200 us: 5 s, then -EAGAIN */

/*
 * layout_lock - map_lock for one of uswap's own layout changes (unmap,
 * mmap, mremap: they unregister and unmap or move ranges), once no window
 * eviction (zap.c) is between marking its ranges and its drop, and with
 * none starting until layout_unlock: a drop that came after the range was
 * unmapped and mapped again would discard someone else's pages.  The
 * handshake, both sides sequentially consistent:
 *   here:     layout_busy++;  wait until zap_inflight == 0
 *   evictor:  zap_inflight = 1;  layout_busy?  back off (zap_inflight = 0)
 * Either we see its zap_inflight and wait, or it sees our layout_busy.
 * The wait needs no lock of ours and no handler of ours waits for us
 * here (we do not hold map_lock yet), so the drop's events get read.
 * Context: a program thread, never a handler.
 */
static void layout_lock(struct mm *mm)
{
	atomic_fetch_add(&mm->layout_busy, 1);
	while (atomic_load(&mm->zap_inflight))
		sched_yield();
	pthread_mutex_lock(&mm->map_lock);
}

static void layout_unlock(struct mm *mm)
{
	pthread_mutex_unlock(&mm->map_lock);
	atomic_fetch_sub(&mm->layout_busy, 1);
}

/*
 * detach_locked - take [s, e) out of region @r (at index @pos): publish
 * its pieces outside the range (sharing its tables), mark it dead, wait
 * for its users.  The caller owns @r then (discards, moves, releases).
 * Return: 0; -ENOMEM (nothing changed).
 * Context: map_lock.
 */
static int detach_locked(struct mm *mm, size_t pos, uint64_t s, uint64_t e)
{
	struct mm_region *r = mm->regions[pos], *pieces[2];
	size_t n = 0;
	int ret;

	if (r->start < s && !(pieces[n++] = region_share(r, r->start, s)))
		goto nomem;
	if (r->end > e && !(pieces[n++] = region_share(r, e, r->end)))
		goto nomem;
	ret = regions_replace(mm, pos, 1, pieces, n);
	if (ret < 0)
		goto fail;
	region_wait_unused(r);
	return 0;
nomem:
	n--;
	ret = -ENOMEM;
fail:
	for (size_t i = 0; i < n; i++)
		region_release(pieces[i]);
	return ret;
}

/*
 * cut_locked - unmap [s, e): every region part in it is detached and
 * discarded (slots freed, pages off the LRU).  @kernel: also unregister
 * and munmap(2) the range (uswap_unmap, MAP_FIXED); else the kernel
 * already unmapped it (an unmap event).
 * Return: the number of regions cut; -ENOMEM.
 * Context: map_lock; the caller checked that no part is stale (@kernel).
 */
static int cut_locked(struct mm *mm, uint64_t s, uint64_t e, bool kernel)
{
	int cut = 0;

	for (;;) {
		size_t pos, n = regions_overlapping(mm, s, e, &pos);
		struct mm_region *r;
		uint64_t a, b;
		int ret;

		if (!n)
			break;
		r = mm->regions[pos];
		a = r->start > s ? r->start : s;
		b = r->end < e ? r->end : e;
		ret = detach_locked(mm, pos, a, b);
		if (ret < 0)
			return ret;
		discard_region_range(mm, r, a, b, true);
		atomic_fetch_sub(&mm->mapped_pages, (b - a) >> PAGE_SHIFT);
		if (kernel)
			uffd_unregister(&mm->uffd, (void *)(uintptr_t)a, b - a);
		region_release(r);
		cut++;
	}
	if (kernel)
		munmap((void *)(uintptr_t)s, e - s);
	return cut;
}

static int check_range(void *addr, size_t len, uint64_t *s, uint64_t *e)
{
	*s = (uint64_t)(uintptr_t)addr;
	if ((*s & (PAGE_SIZE - 1)) || len == 0 || len > ((size_t)1 << 46))
		return -EINVAL;
	*e = *s + ((len + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1));
	if (*e < *s)
		return -EINVAL;
	return 0;
}

int mm_unmap(struct mm *mm, void *addr, size_t len)
{
	uint64_t s, e;
	size_t pos;
	int ret = check_range(addr, len, &s, &e);

	if (ret < 0)
		return ret;
	layout_lock(mm);
	for (int tries = 0;; tries++) {
		if (!regions_overlapping(mm, s, e, &pos)) {
			ret = -EINVAL;
			break;
		}
		if (!range_stale(mm, s, e)) {
			ret = cut_locked(mm, s, e, true);
			ret = ret < 0 ? ret : 0;
			break;
		}
		if (tries >= LAYOUT_WAIT_MAX) {
			ret = -EAGAIN;
			break;
		}
		layout_wait(mm);
	}
	layout_unlock(mm);
	return ret;
}

/*
 * mm_apply_unmap - the application munmap(2)ed [start, end) itself (an
 * unmap event): whatever the table has there is stale (see "Splitting"):
 * discard it and cut it out of its regions.
 * Context: a handler thread, after it dropped read_lock.
 */
void mm_apply_unmap(struct mm *mm, uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&mm->map_lock);
	while (cut_locked(mm, start, end, false) == -ENOMEM) {
		/* cannot split: retry rather than leave stale slots */
		pthread_mutex_unlock(&mm->map_lock);
		sched_yield();
		pthread_mutex_lock(&mm->map_lock);
	}
	pthread_mutex_unlock(&mm->map_lock);
}

/*
 * new_region_locked - publish and register a region over the fresh
 * mapping [p, p+len).  Return: the region, or NULL with *err.
 * Context: map_lock; nothing in the table overlaps the range.
 */
static struct mm_region *new_region_locked(struct mm *mm, uint64_t p,
					   size_t len, int *err)
{
	struct mm_region *r = region_alloc(p, len);
	int ret;

	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	madvise((void *)(uintptr_t)p, len, MADV_NOHUGEPAGE);
	/*
	 * Published, then registered: a fault can only come once the range
	 * is registered, and must find the region then.  A handler wakes a
	 * faulter whose region it cannot find (it faults again), but in the
	 * SIGBUS mode a fault outside every region is not ours: it goes to
	 * the program's SIGBUS handler, or kills it.  uswap_adopt's range is
	 * the program's, which may touch it meanwhile.
	 */
	ret = region_insert(mm, r);
	if (ret == 0) {
		ret = uffd_register(&mm->uffd, (void *)(uintptr_t)p, len,
				    mm_uffd_reg_modes(mm));
		if (ret < 0) {
			size_t pos;

			region_find_locked(mm, p, &pos);
			regions_replace(mm, pos, 1, NULL, 0); /* cannot fail */
			region_wait_unused(r);
		}
	}
	if (ret < 0) {
		region_release(r);
		*err = ret;
		return NULL;
	}
	atomic_fetch_add(&mm->mapped_pages, r->npages);
	return r;
}

#define MAP_PROT  (PROT_READ | PROT_WRITE)
#define MAP_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

void *mm_mmap(struct mm *mm, void *hint, size_t len, int flags, int *err)
{
	bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	void *p = MAP_FAILED;
	uint64_t s = 0, e = 0;
	size_t pos;
	int tries;

	if (flags & ~(MAP_FIXED | MAP_FIXED_NOREPLACE) ||
	    (flags & MAP_FIXED && flags & MAP_FIXED_NOREPLACE) ||
	    atomic_load(&mm->closing)) {
		*err = -EINVAL;
		return NULL;
	}
	if (fixed) {
		*err = check_range(hint, len, &s, &e);
		if (*err < 0)
			return NULL;
	} else if (len == 0 || len > ((size_t)1 << 46)) {
		*err = -EINVAL;
		return NULL;
	}
	len = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	layout_lock(mm);
	for (tries = 0;; tries++) {
		if (tries > LAYOUT_WAIT_MAX) {
			*err = -EAGAIN;
			goto fail;
		}
		if (!fixed) {
			/* a hint: the kernel picks the place */
			if (p == MAP_FAILED)
				p = mmap(hint, len, MAP_PROT, MAP_FLAGS, -1, 0);
			if (p == MAP_FAILED) {
				*err = -ENOMEM;
				goto fail;
			}
			s = (uint64_t)(uintptr_t)p;
			e = s + len;
			/* over a stale part: keep it, wait for the event */
			if (regions_overlapping(mm, s, e, &pos)) {
				layout_wait(mm);
				continue;
			}
			break;
		}
		if (regions_overlapping(mm, s, e, &pos)) {
			if (range_stale(mm, s, e)) {
				layout_wait(mm);
				continue;
			}
			if (flags & MAP_FIXED_NOREPLACE) {
				*err = -EEXIST;
				goto fail;
			}
			/* MAP_FIXED: unmap our part first, without events */
			*err = cut_locked(mm, s, e, true);
			if (*err < 0)
				goto fail;
		}
		p = mmap((void *)(uintptr_t)s, len, MAP_PROT,
			 MAP_FLAGS | (flags & MAP_FIXED ? MAP_FIXED
							: MAP_FIXED_NOREPLACE),
			 -1, 0);
		if (p == MAP_FAILED) {
			*err = errno == EEXIST ? -EEXIST : -ENOMEM;
			goto fail;
		}
		break;
	}
	if (!new_region_locked(mm, s, len, err)) {
		munmap(p, len);
		p = MAP_FAILED;
		goto fail;
	}
	layout_unlock(mm);
	return p;
fail:
	if (p != MAP_FAILED && !fixed)
		munmap(p, len);
	layout_unlock(mm);
	return NULL;
}

void *mm_map(struct mm *mm, size_t len, int *err)
{
	return mm_mmap(mm, NULL, len, 0, err);
}

/*
 * adopt_table - classify the pages of @tbl in [s, e) that the kernel maps
 * now: PTE_PRESENT on the inactive list (@take_present) or PTE_PLAIN.
 * Return: pages made PTE_PRESENT.
 *
 * Under the pte lock, so that nothing the pager does to these pages
 * interleaves with the classification.  The range is registered already,
 * so every kernel pte that appears from now on appears through a handler,
 * which takes the pte lock: a page missing in the pagemap read below is
 * either served by a fault before it (the pte is no longer none: left as
 * it is) or after it (none: served then).  A page that goes away after
 * the read does so by the program's own MADV_DONTNEED or munmap, whose
 * event a handler applies under the pte lock after us (discard_table
 * makes it none; the munmap cuts the region); if the kernel zapped it
 * after our read but the event was applied before our lock, the next
 * touch is a missing fault on a present pte: do_lost_page installs the
 * zeros the program asked for.  Pages in the kernel's own swap count as
 * present: the kernel swaps them in on the next touch without a fault.
 * If the pagemap cannot be read, every none page of the table becomes
 * PTE_PLAIN: safe whatever the kernel maps (a plain page is never dropped;
 * a fault on one that is not there serves it like a none page).
 * Context: map_lock; takes the pte lock, lru_lock.
 */
static size_t adopt_table(struct mm *mm, struct pte_table *tbl, uint64_t s,
			  uint64_t e, bool take_present)
{
	uint64_t ents[PTRS_PER_TABLE];
	size_t first = (s - tbl->addr) >> PAGE_SHIFT;
	size_t n = (e - s) >> PAGE_SHIFT, taken = 0;
	bool known;

	pthread_mutex_lock(&tbl->lock);
	known = pagemap_read(mm, s, n, ents) == 0;
	for (size_t i = 0; i < n; i++) {
		struct mm_page *page = &tbl->pages[first + i];

		if ((known && !(ents[i] >> 62)) ||
		    atomic_load(&page->pte) != PTE_NONE)
			continue;
		if (!take_present || !known) {
			atomic_store(&page->pte, PTE_PLAIN);
			continue;
		}
		atomic_store(&page->pte, PTE_PRESENT);
		page->discarded = false;
		lru_add(mm, page);
		taken++;
	}
	pthread_mutex_unlock(&tbl->lock);
	return taken;
}

long mm_adopt(struct mm *mm, void *addr, size_t len, bool take_present)
{
	struct mm_region *r;
	size_t pos, taken = 0;
	uint64_t s, e;
	int err;

	err = check_range(addr, len, &s, &e);
	if (err < 0 || atomic_load(&mm->closing))
		return err < 0 ? err : -EINVAL;
	if (take_present && mm->pagemap_fd < 0)
		return -EOPNOTSUPP; /* could not tell which pages to take */
	layout_lock(mm);
	if (regions_overlapping(mm, s, e, &pos)) {
		err = -EEXIST;
		goto out;
	}
	err = vma_check_adoptable(mm, s, e);
	if (err < 0)
		goto out;
	r = new_region_locked(mm, s, e - s, &err);
	if (!r)
		goto out;
	/* r is published: map_lock (ours) keeps its layout as it is */
	for (uint64_t a = s, b; a < e; a = b) {
		struct pte_table *tbl;

		region_page(r, a, &tbl);
		b = tbl->addr + TABLE_SPAN < e ? tbl->addr + TABLE_SPAN : e;
		taken += adopt_table(mm, tbl, a, b, take_present);
	}
out:
	layout_unlock(mm);
	if (err < 0)
		return err;
	/*
	 * Over the budget now: back under it before returning, as far as
	 * this pass gets (it stops early when folios run short); the
	 * reclaimer, woken, goes on.
	 */
	if (taken) {
		mm_kick_reclaimer(mm);
		mm_reclaim(mm, mm->p.budget_pages, 0);
	}
	return (long)taken;
}

#define DISOWN_TRIES 100 /* loads per page before mm_disown gives up */

/*
 * disown_page - make the page at @addr plain if it is in memory.
 * Return: 1 plain now (or already); 0 not in memory (none, swapped out,
 * discarded, under a window eviction, or an un-protect refused): bring it
 * in and call again; -ENOENT in no region; -EIO poisoned.
 * Context: takes a region reference, the pte lock, lru_lock.
 *
 * A page off the LRU (isolated by an eviction that has not taken the pte
 * lock yet) is made plain all the same: the evictor re-reads the pte under
 * the lock, finds it not present and leaves it (page_keep_locked).  A page
 * a window eviction is dropping carries PTE_ZAP: not present, skipped.
 */
static int disown_page(struct mm *mm, uint64_t addr)
{
	struct mm_region *r = region_get(mm, addr);
	struct pte_table *tbl;
	struct mm_page *page;
	uint64_t pte;
	int ret = 0;

	if (!r)
		return -ENOENT;
	page = region_page(r, addr, &tbl);
	pthread_mutex_lock(&tbl->lock);
	pte = atomic_load(&page->pte);
	if (pte == PTE_PLAIN) {
		ret = 1;
	} else if (pte == PTE_POISON) {
		ret = -EIO;
	} else if (pte == PTE_PRESENT && !page->discarded) {
		/*
		 * A write-protect a window left (its un-protect refused)
		 * would make the program's next write fault on a page the
		 * pager no longer serves: clear it first, or try again.
		 * Only when pagemap says the page is protected: the kernel
		 * refuses every un-protect while any remove event is
		 * pending, and under a churning reclaimer one nearly always
		 * is (CI, ASan build: mm-disown gave up with -EBUSY after
		 * 100 tries on a page that was not protected at all).
		 */
		uint64_t ent;
		bool wp = pagemap_read(mm, addr, 1, &ent) < 0 ||
			  (ent & PM_UFFD_WP) != 0;

		if (!wp || uffd_writeprotect(&mm->uffd, addr, PAGE_SIZE, false,
					     0) != -EAGAIN) {
			lru_del(mm, page);
			atomic_store(&page->pte, PTE_PLAIN);
			ret = 1;
		}
	}
	pthread_mutex_unlock(&tbl->lock);
	region_put(r);
	return ret;
}

long mm_disown(struct mm *mm, void *addr, size_t len)
{
	uint64_t s, e;
	long n = 0;
	int err = check_range(addr, len, &s, &e);

	if (err < 0)
		return err;
	for (uint64_t a = s; a < e; a += PAGE_SIZE) {
		int ret;

		for (int tries = 0; (ret = disown_page(mm, a)) == 0; tries++) {
			if (tries == DISOWN_TRIES)
				return -EBUSY;
			if (tries)
				sched_yield(); /* an eviction in flight */
			/* bring it in: served as any access of this thread */
			(void)*(const volatile char *)(uintptr_t)a;
		}
		if (ret == -ENOENT)
			continue; /* not uswap's: plain already */
		if (ret < 0)
			return ret;
		n++;
	}
	return n;
}

/*
 * restore_locked - an mremap failed after [s, e) was detached from @r:
 * put @r's whole span back as one region (its pieces are replaced by a
 * struct sharing the same tables, so nothing moves).  Context: map_lock.
 */
static void restore_locked(struct mm *mm, struct mm_region *r)
{
	struct mm_region *whole;
	size_t pos, n;

	while (!(whole = region_share(r, r->start, r->end)))
		sched_yield();
	n = regions_overlapping(mm, r->start, r->end, &pos);
	{
		struct mm_region *old[2] = {NULL, NULL};

		for (size_t i = 0; i < n && i < 2; i++)
			old[i] = mm->regions[pos + i];
		while (regions_replace(mm, pos, n, &whole, 1) < 0)
			sched_yield();
		for (size_t i = 0; i < n && i < 2; i++) {
			region_wait_unused(old[i]);
			region_release(old[i]);
		}
	}
}

/*
 * move_ptes - [@from, +@npages) of @r now lives at [@to, ...) of @n (the
 * kernel moved the pages): move each pte word (swap entries included: the
 * slot and its swap-cache folio follow the entry, not the address), its
 * install generation and its LRU node.  A present page off the LRU was
 * isolated by an eviction in flight, which will find the old pte none and
 * drop it: the new page joins the LRU instead.
 * Context: the old tables' pte locks held, @n unpublished; takes lru_lock.
 */
static void move_ptes(struct mm *mm, struct mm_region *r, uint64_t from,
		      struct mm_region *n, uint64_t to, size_t npages)
{
	pthread_mutex_lock(&mm->lru_lock);
	for (size_t i = 0; i < npages; i++) {
		struct pte_table *ot, *nt;
		struct mm_page *op = region_page(r, from + i * PAGE_SIZE, &ot);
		struct mm_page *np = region_page(n, to + i * PAGE_SIZE, &nt);
		uint64_t pte = atomic_load(&op->pte);

		atomic_store(&np->pte, pte);
		np->discarded = op->discarded;
		op->discarded = false;
		atomic_store_explicit(
			&np->gen,
			atomic_load_explicit(&op->gen, memory_order_relaxed),
			memory_order_relaxed);
		if (op->lru_next) {
			np->lru_prev = op->lru_prev;
			np->lru_next = op->lru_next;
			np->active = op->active;
			np->lru_prev->lru_next = np;
			np->lru_next->lru_prev = np;
			op->lru_next = op->lru_prev = NULL;
			op->active = false;
		} else if (pte == PTE_PRESENT) {
			lru_add_locked(mm, np, false);
		}
		atomic_store(&op->pte, PTE_NONE);
	}
	pthread_mutex_unlock(&mm->lru_lock);
}

/* Lock or unlock the pte tables of @r covering [s, e), in address order. */
static void tables_lock(struct mm_region *r, uint64_t s, uint64_t e, bool lock)
{
	size_t first = (s - r->base) / TABLE_SPAN;
	size_t last = (e - 1 - r->base) / TABLE_SPAN;

	for (size_t t = first; t <= last; t++) {
		if (lock)
			pthread_mutex_lock(&r->tables[t]->lock);
		else
			pthread_mutex_unlock(&r->tables[t]->lock);
	}
}

/*
 * mm_mremap - see mm.h.  The move is the kernel's own mremap(2) (present
 * pages move with their page tables, COW-shared ones included), on a range
 * first detached from its region and unregistered (so no remap event: we
 * hold map_lock), with the pte tables of the range locked so that no
 * eviction runs across it; then the pte words move into a new region at
 * the destination (move_ptes), which is registered and published.
 */
void *mm_mremap(struct mm *mm, void *old_addr, size_t old_len, size_t new_len,
		int flags, void *new_addr, int *err)
{
	uint64_t o, oe, n = 0, ne = 0, d;
	struct mm_region *r, *nr = NULL;
	size_t pos, dpos;
	void *p;
	int tries;

	*err = check_range(old_addr, old_len, &o, &oe);
	if (*err < 0 || new_len == 0 || new_len > ((size_t)1 << 46) ||
	    (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)) ||
	    ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))) {
		*err = -EINVAL;
		return NULL;
	}
	new_len = (new_len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (flags & MREMAP_FIXED) {
		*err = check_range(new_addr, new_len, &n, &ne);
		if (*err < 0)
			return NULL;
		if (n < oe && o < ne) {
			*err = -EINVAL;
			return NULL;
		}
	}
	layout_lock(mm);
	for (tries = 0;; tries++) {
		r = region_find_locked(mm, o, &pos);
		if (!r || r->end < oe) {
			*err = -EINVAL;
			goto out;
		}
		if (tries > LAYOUT_WAIT_MAX) {
			*err = -EAGAIN;
			goto out;
		}
		if (!(flags & MREMAP_FIXED) ||
		    !regions_overlapping(mm, n, ne, &dpos))
			break;
		if (range_stale(mm, n, ne)) {
			layout_wait(mm);
			continue;
		}
		/* the destination's uswap parts go first, without events */
		*err = cut_locked(mm, n, ne, true);
		if (*err < 0)
			goto out;
	}
	if (new_len < oe - o) {
		/* shrink: discard the tail, then go on with the rest */
		*err = cut_locked(mm, o + new_len, oe, true);
		if (*err < 0)
			goto out;
		oe = o + new_len;
		r = region_find_locked(mm, o, &pos);
	}
	if (!(flags & MREMAP_FIXED) && new_len == oe - o) {
		layout_unlock(mm);
		return old_addr;
	}
	nr = region_alloc(0, new_len);
	if (!nr || detach_locked(mm, pos, o, oe) < 0) {
		*err = -ENOMEM;
		goto out;
	}
	tables_lock(r, o, oe, true);
	uffd_unregister(&mm->uffd, old_addr, oe - o);
	p = mremap(old_addr, oe - o, new_len, flags, new_addr);
	if (p == MAP_FAILED) {
		*err = -errno;
		uffd_register(&mm->uffd, old_addr, oe - o,
			      mm_uffd_reg_modes(mm));
		tables_lock(r, o, oe, false);
		restore_locked(mm, r);
		region_release(r);
		goto out;
	}
	d = (uint64_t)(uintptr_t)p;
	region_place(nr, d);
	move_ptes(mm, r, o, nr, d, (oe - o) >> PAGE_SHIFT);
	tables_lock(r, o, oe, false);
	region_release(r);
	madvise(p, new_len, MADV_NOHUGEPAGE);
	*err = uffd_register(&mm->uffd, p, new_len, mm_uffd_reg_modes(mm));
	if (*err < 0) {
		fprintf(stderr, "uswap: mremap: register %p: %d\n", p, *err);
		STAT_INC(mm, errors);
	}
	/* the kernel may have placed it over a stale part: wait it out */
	for (tries = 0; regions_overlapping(mm, d, d + new_len, &dpos) &&
			tries < LAYOUT_WAIT_MAX;
	     tries++)
		layout_wait(mm);
	while (region_insert(mm, nr) < 0)
		sched_yield();
	atomic_fetch_add(&mm->mapped_pages, nr->npages);
	atomic_fetch_sub(&mm->mapped_pages, (oe - o) >> PAGE_SHIFT);
	layout_unlock(mm);
	return p;
out:
	if (nr)
		region_release(nr);
	layout_unlock(mm);
	return NULL;
}

int mm_owns(struct mm *mm, const void *addr, size_t len)
{
	uint64_t s = (uint64_t)(uintptr_t)addr, e = s + (len ? len : 1);
	size_t pos;
	int ret = 0;

	pthread_rwlock_rdlock(&mm->region_lock);
	if (region_find_locked(mm, s, &pos) ||
	    (pos < mm->nregions && mm->regions[pos]->start < e))
		ret = 1;
	pthread_rwlock_unlock(&mm->region_lock);
	return ret;
}

/*
 * mm_regions_destroy - uswap_close's work on the regions: bring every
 * swapped-out page back (handlers keep serving faults meanwhile; reclaim is
 * off), unregister each region so that it becomes ordinary memory with its
 * contents, and free the tables.  The mappings stay: the application owns
 * them now (munmap(2) them).
 * Context: takes map_lock (handlers applying unmap events wait).
 */
void mm_regions_destroy(struct mm *mm)
{
	pthread_mutex_lock(&mm->map_lock);
	for (size_t i = 0; i < mm->nregions; i++) {
		struct mm_region *r = mm->regions[i];

		for (uint64_t addr = r->start; addr < r->end;
		     addr += PAGE_SIZE) {
			struct pte_table *tbl;
			struct mm_page *page = region_page(r, addr, &tbl);
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
	pthread_rwlock_wrlock(&mm->region_lock);
	for (size_t i = 0; i < mm->nregions; i++)
		atomic_store(&mm->regions[i]->dead, true);
	pthread_rwlock_unlock(&mm->region_lock);
	for (size_t i = 0; i < mm->nregions; i++) {
		struct mm_region *r = mm->regions[i];

		region_wait_unused(r);
		/* pages left swapped out (poisoned or failed): free slots */
		discard_region_range(mm, r, r->start, r->end, true);
	}
	for (size_t i = 0; i < mm->nregions; i++)
		region_release(mm->regions[i]);
	mm->nregions = 0;
	pthread_mutex_unlock(&mm->map_lock);
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
