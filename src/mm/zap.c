/*
 * Window eviction: the reclaimer takes the cold pages of a window of the
 * region out of the process together (mm_params.wp_evict; docs/pager.md,
 * "Window eviction").
 *
 * Why: a MOVE-out costs a TLB shootdown, and UFFDIO_MOVE shares one only
 * among consecutive present pages (the kernel batches runs, not holes).
 * Under random access the pages to evict are scattered, so each paid its
 * own: on this VM 47 us per page while the program runs on the other CPU
 * (bench/evict_batch.c), most of the reclaimer's time.  The kernel's own
 * reclaim unmaps 32 pages per shootdown.  Here: write-protect the ranges
 * that hold them, copy them out, and drop the ranges with one
 * process_madvise(MADV_DONTNEED): two shootdowns and one remove event per
 * range for the whole window.  Each range's event is a round trip to the
 * reading handler, and while one is pending the kernel refuses every
 * install (mmap_changing): so the active pages between two victims do
 * not cut the range but are carried (C: dropped with the victims and put
 * back at once, as minor faults would; carry_isolate says why).
 *
 * The steps, for the inactive pages V around the oldest one, inside one
 * aligned ZAP_WINDOW of one pte table and of one region (window_isolate),
 * and the short runs C of active pages between them (carry_isolate), on
 * the reclaimer thread only (zap_evict); "V" below is V and C alike but
 * where C is named:
 *   zap_inflight := 1; a layout change in progress (layout_busy)?  back off
 *   each page of V: folio := new folio, locked; entry := swap_alloc,
 *     swap_cache_add_folio (swapout_folio_prepare)
 *   pte lock;
 *   ranges := runs of V's pages still present, the holes between them
 *     included (none or swapped pages: dropping them changes nothing),
 *     cut at every other present, poisoned or plain page (never dropped:
 *     pte_droppable), beginning and ending with a victim not carried
 *     (zap_plan_trim); at most ZAP_RANGES,
 *     each inside one vma (vma_covers: then it raises exactly one remove
 *     event with exactly its bounds)
 *   UFFDIO_WRITEPROTECT each range: a writer now waits in a WP fault
 *   copy each page of V into its folio (zap_copy): a page the program
 *     dropped meanwhile must not fault to our handlers (they would wait
 *     for our pte lock): pread(/proc/self/mem) reads EIO there, the
 *     in-thread mode's memcpy jumps back from its SIGBUS
 *   each page of V: swap_duplicate (count 1), pte := PTE_ZAP|entry; each
 *     hole of a range: pte |= PTE_ZAP
 *   register the ranges (mm->zap_ranges); pte unlock
 *   publish the folios (cached list, unlocked); drop the table reference
 *   -- from here we hold nothing --
 *   process_madvise(MADV_DONTNEED, ranges): each range raises a remove
 *     event and waits until a handler has read it; the reader knows it for
 *     ours (zap_event_ours, fault.c) and applies nothing
 *   wait until every read begun by then is applied (reads_done)
 *   zap_finish: forget the ranges; under the pte lock PTE_ZAP|e -> e,
 *     PTE_ZAP -> none; a page marked PTE_DISCARD meanwhile (the program's
 *     own remove event) is discarded now: entry released, none
 *   each page of C whose pte is still its entry e: installed from its
 *     folio, still in the swap cache, on the active list (zap_put_back,
 *     swapin_put_back: under the pte lock and the remove fence, as a
 *     minor fault); one that cannot be stays evicted
 *   wake the faulters of the ranges
 *   zap_inflight := 0
 *
 * Why nothing is held across the drop: it waits until a handler reads its
 * events, and a handler can be waiting meanwhile for a pte lock (applying
 * the program's remove event under read_lock, when nobody else reads), a
 * folio lock (a swap-in), or a region or table reference (applying an
 * unmap event: region_wait_unused, table_drop).  So the state in between
 * is in the ptes alone: PTE_ZAP (internal.h).  No install happens on a
 * PTE_ZAP pte (do_anonymous_page wants none, a swap-in its exact entry,
 * readahead skips it, do_lost_page refuses it, serve_fault and
 * do_wp_page leave the faulter asleep until the evictor wakes its ranges
 * after zap_finish), so the drop cannot take away a page installed after
 * we unlocked.  The reader must be free to read: the reclaimer is
 * not a handler, handler 0 always reads (adaptive handlers), fork parks
 * the reclaimer before the handlers (fork.c), close stops it first.
 *
 * Race timelines:
 *  - A thread writes a page of V.  Before the write-protect: the write is
 *    in the copy (the copy reads after the WP).  After: it waits in a WP
 *    fault; its handler (do_wp_page) finds PTE_ZAP and leaves it asleep;
 *    the evictor's wake after zap_finish sends it to fault again, now a
 *    missing fault that swaps the page in from the swap cache; then it
 *    writes.  Nothing written is lost: the write-protect is what makes
 *    the copy complete (stress-zap-unprotected-caught shows the loss
 *    without it).
 *  - A thread reads a page of V: it is mapped, with the copy's data, until
 *    the drop; then as above.
 *  - The program discards a page of V (MADV_DONTNEED) before the plan:
 *    the page is marked discarded (region.c, discard_table) and is not
 *    taken.  Between the plan and the copy (the kernel zaps after the
 *    event was read, not under our lock): the copy sees it gone, we back
 *    off (ranges un-protected, pages back on the LRU or dropped if
 *    discarded).
 *    After the copy: its remove event is applied under the pte lock, so
 *    after the marks: discard_table sets PTE_DISCARD, and zap_finish
 *    releases the entry: the page reads zero.  Its event for exactly one
 *    of our ranges may be taken for ours: then ours is taken for its, and
 *    every page of the range reads zero, as it asked.
 *  - A carried page: the same as a page of V until zap_finish (a write
 *    waits, a read sees the copy's data until the drop, a discard
 *    releases the entry).  Then whoever locks its folio first installs
 *    it: zap_put_back, or the program's own fault after the wake (a
 *    minor fault), and the other finds the pte present (LOST: no second
 *    install).  A discard applied before the put back leaves the pte
 *    none: nothing is installed.  A refused install (EAGAIN: an event
 *    pending; the remove fence: a reader mid-batch) leaves it evicted,
 *    its data in the swap cache: a minor fault later.  The budget never
 *    sees it twice: isolated, then cached, then resident again.
 *  - uswap_unmap/mmap/mremap over a range: layout_lock (region.c) waits
 *    for zap_inflight, or we back off before marking anything.  The
 *    program's own munmap(2): its unmap event clears the marks
 *    (discard_table, unmapped); zap_finish finds no region or no mark.
 *  - A drop that fails (a range the program mlocked: EINVAL): the pages
 *    still mapped are put back as they were (zap_unzap_locked), and
 *    windows pause for ZAP_PAUSE_NS.
 *  - The program changes the protection of part of a range (mprotect)
 *    between vma_covers and the drop: the range then spans two vmas and
 *    raises two events, neither ours: they mark the pages PTE_DISCARD and
 *    zap_finish finds its range unseen.  It keeps the data then (the
 *    marks were its own drop; a discard of the program at the same
 *    moment would read the old data) and reports it (stats.errors).
 *
 * Lock order (internal.h): folio locks (new, uncontended) -> pte lock ->
 * lru_lock, zap_lock (leaves).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mm/internal.h"

/* A window needs this many victims, else one MOVE per page is cheaper. */
#define ZAP_MIN 4
/* After a drop failed (an mlocked range), pages go one MOVE each a while */
#define ZAP_PAUSE_NS (100 * 1000 * 1000)

static int64_t zap_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t zap_min(struct mm *mm)
{
	return mm->p.zap_min ? mm->p.zap_min : ZAP_MIN;
}

/*
 * carry_isolate - the active pages between two of the @n victims v[]
 * (address order) that the window carries: the drop takes them with the
 * victims, and zap_evict puts them back in the process at once
 * (swapin_put_back: a copy, no TLB shootdown, no event), on the active
 * list.  Why: every active page between two victims cut the range, and
 * each range of a drop is one remove event, a round trip to the reading
 * handler during which the kernel refuses every install (mmap_changing):
 * under uniform access 6.25 ranges per window of 16 victims, the drop
 * 86-90 us, and 30% of the program's faults were repeats of a refused
 * install (docs/pager.md, "Carried pages").  A run of more than
 * p.zap_carry active pages still cuts: putting them back would cost more
 * than the event.  They are taken off the LRU and isolated like the
 * victims; they go back to the active list whatever happens.
 * Return: the number of pages in v[] now (victims and carried, address
 * order, at most ZAP_WINDOW); *@a follows the anchor.
 * Context: mm->lru_lock held.
 */
static size_t carry_isolate(struct mm *mm, struct pte_table *tbl,
			    struct mm_page **v, bool *carry, size_t n,
			    size_t *a)
{
	struct mm_page *out[ZAP_WINDOW];
	bool out_carry[ZAP_WINDOW];
	struct mm_page *anchor = v[*a];
	size_t m = 0;

	for (size_t k = 0; k < n; k++) {
		size_t i = (size_t)(v[k] - tbl->pages), j, run = 0;
		size_t next = k + 1 < n ? (size_t)(v[k + 1] - tbl->pages) : i;

		out[m] = v[k];
		out_carry[m++] = false;
		if (!mm->p.zap_carry)
			continue;
		for (j = i + 1; j < next && run <= mm->p.zap_carry; j++) {
			struct mm_page *page = &tbl->pages[j];

			run += page->lru_next && page->active;
		}
		if (run == 0 || run > mm->p.zap_carry)
			continue;
		for (j = i + 1; j < next; j++) {
			struct mm_page *page = &tbl->pages[j];

			if (!page->lru_next || !page->active)
				continue;
			isolated_add(mm, 1); /* first: never under-counted */
			lru_del_locked(mm, page);
			out[m] = page;
			out_carry[m++] = true;
		}
	}
	for (size_t k = 0; k < m; k++) {
		v[k] = out[k];
		carry[k] = out_carry[k];
		if (out[k] == anchor)
			*a = k;
	}
	return m;
}

/*
 * window_isolate - the victims of a window eviction: @anchor (isolated by
 * the caller, the oldest inactive page) and the inactive pages of its
 * aligned ZAP_WINDOW, inside its region, up to @max in all (ZAP_VICTIMS
 * at most), taken off the LRU, in address order.  With them, in order,
 * the pages to carry (carry_isolate): v[k] is one when @carry[k].
 * Return: the number of pages in @v; *@a is the anchor's index there.
 * Fewer than zap_min victims: only the anchor (the others stay on the
 * list).
 * Context: the caller holds a reference on the anchor's table.
 */
static size_t window_isolate(struct mm *mm, struct mm_page *anchor,
			     struct mm_page **v, bool *carry, size_t max,
			     size_t *a)
{
	struct pte_table *tbl = page_table(anchor);
	size_t ai = (size_t)(anchor - tbl->pages);
	size_t lo = ai & ~(size_t)(ZAP_WINDOW - 1), hi = lo + ZAP_WINDOW;
	struct mm_region *r = region_get(mm, page_addr(anchor));
	size_t n = 0;

	v[0] = anchor;
	carry[0] = false;
	*a = 0;
	if (!r)
		return 1;
	while (tbl->addr + lo * PAGE_SIZE < r->start)
		lo++;
	while (tbl->addr + (hi - 1) * PAGE_SIZE >= r->end)
		hi--;
	region_put(r);
	if (max > ZAP_VICTIMS)
		max = ZAP_VICTIMS;
	pthread_mutex_lock(&mm->lru_lock);
	for (size_t i = lo; i < hi && n < max; i++) {
		struct mm_page *page = &tbl->pages[i];

		if (i == ai) {
			*a = n;
			v[n++] = anchor;
		} else if (page->lru_next && !page->active &&
			   n + (i < ai) < max) {
			isolated_add(mm, 1); /* first: never under-counted */
			lru_del_locked(mm, page);
			v[n++] = page;
		}
	}
	if (n < zap_min(mm)) {
		for (size_t i = 0; i < n; i++) {
			if (v[i] != anchor) {
				lru_add_locked(mm, v[i], false);
				isolated_add(mm, -1);
			}
		}
		v[0] = anchor;
		*a = 0;
		n = 1;
	} else {
		n = carry_isolate(mm, tbl, v, carry, n, a);
	}
	pthread_mutex_unlock(&mm->lru_lock);
	return n;
}

/* The ranges of one window eviction, and what each page of it is. */
struct zap_plan {
	size_t nr;	       /* ranges */
	size_t lo[ZAP_RANGES]; /* first page (table index) */
	size_t hi[ZAP_RANGES]; /* one past the last victim */
	bool take[ZAP_WINDOW]; /* the page (victim or carried) is in a range */
	size_t ntake;	       /* victims taken */
};

/*
 * pte_droppable - whether a page between two victims may lie inside a
 * range the window drops: nothing there (none), or only in the swap
 * (a swap entry no window is dropping).  Present, poisoned and plain
 * pages, and pages another window is dropping, cut the range.
 */
static bool pte_droppable(uint64_t pte)
{
	return pte == PTE_NONE || (pte_is_swap(pte) && !pte_zapping(pte));
}

/*
 * zap_plan_trim - a range must begin and end with a victim: carried pages
 * at its ends (a cut fell between them and the next victim) are not
 * taken; a range left with no victim goes.
 */
static void zap_plan_trim(struct pte_table *tbl, struct mm_page **v,
			  const bool *carry, size_t n, struct zap_plan *pl)
{
	size_t nr = 0;

	for (size_t r = 0; r < pl->nr; r++) {
		size_t first = SIZE_MAX, last = 0;

		for (size_t k = 0; k < n; k++) {
			size_t i = (size_t)(v[k] - tbl->pages);

			if (!pl->take[k] || i < pl->lo[r] || i >= pl->hi[r])
				continue;
			if (!carry[k]) {
				if (first == SIZE_MAX)
					first = k;
				last = k;
			}
		}
		for (size_t k = 0; k < n; k++) {
			size_t i = (size_t)(v[k] - tbl->pages);

			if (pl->take[k] && carry[k] && i >= pl->lo[r] &&
			    i < pl->hi[r] &&
			    (first == SIZE_MAX || k < first || k > last))
				pl->take[k] = false;
		}
		if (first == SIZE_MAX)
			continue;
		pl->lo[nr] = (size_t)(v[first] - tbl->pages);
		pl->hi[nr++] = (size_t)(v[last] - tbl->pages) + 1;
	}
	pl->nr = nr;
}

/*
 * zap_plan_make - cut the victims and carried pages still present into
 * ranges (see the file comment).  Victims no longer present are not
 * taken (nothing to evict: discarded, or not ours any more); victims past
 * the last range neither.
 * Context: the pte lock of @tbl held.
 */
static void zap_plan_make(struct mm *mm, struct pte_table *tbl,
			  struct mm_page **v, const bool *carry, size_t n,
			  struct zap_plan *pl)
{
	size_t first = (size_t)(v[0] - tbl->pages);
	size_t last = (size_t)(v[n - 1] - tbl->pages);
	size_t k = 0;
	bool open = false;

	pl->nr = pl->ntake = 0;
	for (size_t i = first; i <= last; i++) {
		struct mm_page *page = &tbl->pages[i];
		uint64_t pte = atomic_load(&page->pte);

		if (k < n && page == v[k]) {
			pl->take[k] = false;
			if (pte == PTE_PRESENT && !page->discarded &&
			    (open || pl->nr < ZAP_RANGES)) {
				if (!open) {
					pl->lo[pl->nr++] = i;
					open = true;
				}
				pl->hi[pl->nr - 1] = i + 1;
				pl->take[k] = true;
				pl->ntake += !carry[k];
			} else {
				open = false;
			}
			k++;
		} else if (!pte_droppable(pte)) {
			open = false;
		}
	}
	zap_plan_trim(tbl, v, carry, n, pl);
	/* each range must raise exactly one remove event: one vma */
	for (size_t r = 0; r < pl->nr; r++) {
		if (vma_covers(mm, tbl->addr + pl->lo[r] * PAGE_SIZE,
			       tbl->addr + pl->hi[r] * PAGE_SIZE))
			continue;
		for (k = 0; k < n; k++)
			pl->take[k] = false;
		pl->nr = 0;
		pl->ntake = 0;
		return;
	}
}

/*
 * zap_protect - write-protect (@wp) or un-protect the plan's first @nr
 * ranges.  Return: 0 or the first error.
 */
static int zap_protect(struct mm *mm, struct pte_table *tbl,
		       const struct zap_plan *pl, size_t nr, bool wp)
{
	for (size_t r = 0; r < nr; r++) {
		int ret = uffd_writeprotect(
			&mm->uffd, tbl->addr + pl->lo[r] * PAGE_SIZE,
			(pl->hi[r] - pl->lo[r]) * PAGE_SIZE, wp, 0);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * zap_drop - drop the registered ranges from the process: one
 * process_madvise for all of them (one TLB shootdown on Linux >= 6.16),
 * the rest one madvise each if it stopped short (it stops at a whole
 * range).  @dropped[r]: range r was dropped whole.  One that failed
 * (unmapped meanwhile by the program; mlocked by it: EINVAL) may be
 * dropped in part or not at all: zap_finish looks at each page.
 * Context: holds nothing (see the file comment).
 */
static void zap_drop(struct mm *mm, struct iovec *iov, size_t nr, bool *dropped)
{
	long done;
	size_t r = 0;

	if (mm->p.zap_drop_fails) {
		for (; r < nr; r++)
			dropped[r] = false;
		return;
	}
	done = syscall(SYS_process_madvise, mm->pidfd, iov, nr, MADV_DONTNEED,
		       0);
	for (; done > 0 && r < nr; r++) {
		done -= (long)iov[r].iov_len;
		dropped[r] = true;
	}
	for (; r < nr; r++)
		dropped[r] = madvise(iov[r].iov_base, iov[r].iov_len,
				     MADV_DONTNEED) == 0;
}

/*
 * zap_unzap_locked - a page of a range whose drop failed (@dropped false
 * in zap_finish) that the process still maps: it stays, as it was before
 * (its folio was a copy; the write-protect kept it one): present again,
 * back on the LRU, writable; its entry goes (*@freed).
 * Return: whether the page was still mapped.
 * Context: the page's pte lock held.  The un-protect may be refused
 * (EAGAIN: an event pending) and cannot be retried under the lock (the
 * event's reader may want it): the page then stays write-protected, and
 * the next write's fault un-protects it (fault.c: do_wp_page, or
 * do_lost_page in the SIGBUS mode).
 */
static bool zap_unzap_locked(struct mm *mm, struct mm_page *page, uint64_t addr,
			     uint64_t pte, swp_entry_t *freed)
{
	enum pm_state pm = pagemap_state(mm, addr);

	if (pm != PM_PRESENT && pm != PM_SWAPPED)
		return false;
	if (pte_is_swap(pte))
		*freed = pte_to_swp_entry(pte);
	atomic_store(&page->pte, PTE_PRESENT);
	page->discarded = (pte & PTE_DISCARD) != 0;
	lru_add(mm, page);
	uffd_writeprotect(&mm->uffd, addr, PAGE_SIZE, false, 0);
	return true;
}

/*
 * zap_finish - the drop is done: clear the marks of [@start, @end), in
 * whatever regions hold it now (looked up again: we held no reference;
 * all in one pte table).  PTE_ZAP|e ->
 * e, PTE_ZAP -> none; a page the program discarded meanwhile
 * (PTE_DISCARD) is discarded now, unless the range's own event was not
 * seen (@seen false: a split range, see the file comment), when the
 * marks may be ours and the data is kept.  When the drop failed
 * (@dropped false), a page still mapped stays (zap_unzap_locked).
 * Return: the pages that stayed.
 */
static size_t zap_finish(struct mm *mm, uint64_t start, uint64_t end, bool seen,
			 bool dropped)
{
	swp_entry_t freed[ZAP_WINDOW];
	size_t n = 0, stayed = 0;

	/* the program's munmap may have split the region meanwhile */
	for (uint64_t a = start; a < end;) {
		struct mm_region *r = region_get(mm, a);
		struct pte_table *tbl;
		uint64_t e;

		if (!r) {
			a += PAGE_SIZE; /* unmapped: the unmap cleared it */
			continue;
		}
		e = end < r->end ? end : r->end;
		region_page(r, a, &tbl);
		pthread_mutex_lock(&tbl->lock);
		for (; a < e; a += PAGE_SIZE) {
			struct mm_page *page = region_page(r, a, &tbl);
			uint64_t pte = atomic_load(&page->pte);

			if (!pte_zapping(pte))
				continue;
			if (!dropped &&
			    zap_unzap_locked(mm, page, a, pte, &freed[n])) {
				n += pte_is_swap(pte);
				stayed++;
			} else if ((pte & PTE_DISCARD) && seen &&
				   pte_is_swap(pte)) {
				freed[n++] = pte_to_swp_entry(pte);
				atomic_store(&page->pte, PTE_NONE);
			} else if (pte_is_swap(pte)) {
				atomic_store(&page->pte,
					     swp_entry_to_pte(
						     pte_to_swp_entry(pte)));
			} else {
				atomic_store(&page->pte, PTE_NONE);
			}
		}
		pthread_mutex_unlock(&tbl->lock);
		region_put(r);
	}
	for (size_t i = 0; i < n; i++)
		release_swap_entry(mm, freed[i]);
	return stayed;
}

/*
 * zap_back_off - undo a window eviction that marked nothing: the first
 * @wp ranges are un-protected, the victims and carried pages still
 * present go back to their LRU list except v[@keep] (the caller evicts
 * it alone; SIZE_MAX: none), the @ready folios and entries are
 * released.  An un-protect the kernel
 * refuses (EAGAIN) leaves its range write-protected, as zap_unzap_locked
 * says.
 * Context: the pte lock held (dropped here); zap_inflight set (cleared).
 */
static void zap_back_off(struct mm *mm, struct pte_table *tbl,
			 struct mm_page **v, const bool *carry, size_t n,
			 size_t keep, const struct zap_plan *pl, size_t wp,
			 struct folio **folios, size_t ready)
{
	if (wp)
		zap_protect(mm, tbl, pl, wp, false);
	for (size_t i = 0; i < n; i++) {
		if (i != keep) {
			page_keep_locked(mm, v[i], carry[i]);
			isolated_add(mm, -1);
		}
	}
	pthread_mutex_unlock(&tbl->lock);
	atomic_store(&mm->zap_inflight, 0);
	for (size_t i = 0; i < ready; i++) {
		/* unpins: count 0, slot freed */
		swap_cache_del_folio(folios[i], NULL);
		folio_unlock(folios[i]);
		folio_put(folios[i]);
	}
}

/*
 * zap_copy - copy the present page @page into @folio.  A plain read of a
 * page the program dropped meanwhile would fault to our own handlers,
 * who would wait for the pte lock we hold.  With handler threads:
 * pread(/proc/self/mem), which reads EIO there instead of faulting: a
 * system call per page, most of what a window costs besides its drop
 * (bench/evict_batch.c, wp-ev1).  In the in-thread mode such a fault is
 * a SIGBUS in this thread: mm_copy_page copies with memcpy and jumps
 * back on one (tests/mm/zap_copy_gone.c makes it happen).
 * Return: false when the page was not there.
 */
static bool zap_copy(struct mm *mm, struct folio *folio, struct mm_page *page)
{
	if (mm->p.sigbus)
		return mm_copy_page(folio->data,
				    (const void *)(uintptr_t)page_addr(page));
	return pread(mm->mem_fd, folio->data, PAGE_SIZE,
		     (off_t)page_addr(page)) == (ssize_t)PAGE_SIZE;
}

/*
 * zap_put_back - the drop is done: the carried pages the plan took
 * (carry_isolate) go back into the process from their folios, still in
 * the swap cache, as minor faults would put them (swapin_put_back).  One
 * that cannot (its folio busy, the pte changed: the program faulted it
 * back first or discarded it; an install refused for an event pending)
 * stays evicted like a victim: its next touch is a minor fault.
 * Context: the reclaimer; no locks held, no references (as after the
 * drop: @addrs, not the pages, say where they were).
 */
static void zap_put_back(struct mm *mm, const bool *carry, size_t n,
			 const struct zap_plan *pl, const uint64_t *addrs,
			 const swp_entry_t *entries)
{
	for (size_t k = 0; k < n; k++) {
		struct mm_region *r;

		if (!carry[k] || !pl->take[k])
			continue;
		r = region_get(mm, addrs[k]);
		if (r && swapin_put_back(mm, r, addrs[k], entries[k]))
			STAT_INC(mm, zap_carried);
		else
			STAT_INC(mm, zap_carry_missed);
		if (r)
			region_put(r);
	}
}

/*
 * zap_evict - evict the victims @v[0..@n) of one window (window_isolate;
 * v[@a] is the anchor), as the file comment says.  On success the table
 * reference the caller holds (lru_isolate's) is dropped here, before the
 * drop.
 * Return: pages evicted (>= 0); -EAGAIN when it backed off: every victim
 * but the anchor went back to the LRU, the anchor is still isolated and
 * the table reference still held (the caller evicts the anchor alone).
 * Context: the reclaimer thread; no locks held.
 */
static int zap_evict(struct mm *mm, struct mm_page **v, const bool *carry,
		     size_t n, size_t a)
{
	struct pte_table *tbl = page_table(v[0]);
	struct folio *folios[ZAP_WINDOW];
	swp_entry_t entries[ZAP_WINDOW];
	uint64_t addrs[ZAP_WINDOW];
	struct iovec iov[ZAP_RANGES];
	struct zap_range done[ZAP_RANGES];
	bool dropped[ZAP_RANGES];
	struct zap_plan pl = {.nr = 0};
	uint64_t reads;
	size_t ready = 0, evicted = 0, carried = 0, k;

	atomic_store(&mm->zap_inflight, 1);
	if (atomic_load(&mm->layout_busy)) {
		pthread_mutex_lock(&tbl->lock);
		zap_back_off(mm, tbl, v, carry, n, a, &pl, 0, folios, 0);
		return -EAGAIN;
	}
	for (; ready < n; ready++) {
		struct folio *folio = folio_alloc(mm->pool);

		if (!folio ||
		    swapout_folio_prepare(mm, folio, &entries[ready]) < 0)
			break;
		folios[ready] = folio;
	}
	pthread_mutex_lock(&tbl->lock);
	if (ready < n || atomic_load(&mm->closing)) {
		zap_back_off(mm, tbl, v, carry, n, a, &pl, 0, folios, ready);
		return -EAGAIN;
	}
	zap_plan_make(mm, tbl, v, carry, n, &pl);
	if (pl.ntake < zap_min(mm)) {
		zap_back_off(mm, tbl, v, carry, n, a, &pl, 0, folios, ready);
		return -EAGAIN;
	}
	if (!mm->p.zap_unprotected &&
	    zap_protect(mm, tbl, &pl, pl.nr, true) < 0) {
		zap_back_off(mm, tbl, v, carry, n, a, &pl, pl.nr, folios,
			     ready);
		return -EAGAIN;
	}
	/* a range begins with a victim (zap_plan_trim) */
	mm_hook(MM_HOOK_ZAP_BEFORE_COPY,
		(swp_entry_t){.val = tbl->addr + pl.lo[0] * PAGE_SIZE});
	for (k = 0; k < n; k++) {
		if (pl.take[k] && !zap_copy(mm, folios[k], v[k]))
			break; /* dropped by the program */
	}
	if (k < n) {
		zap_back_off(mm, tbl, v, carry, n, a, &pl, pl.nr, folios,
			     ready);
		return -EAGAIN;
	}
	/* mark: from here the pages are on their way out */
	for (size_t r = 0; r < pl.nr; r++) {
		for (size_t i = pl.lo[r]; i < pl.hi[r]; i++) {
			struct mm_page *page = &tbl->pages[i];

			atomic_store(&page->pte,
				     atomic_load(&page->pte) | PTE_ZAP);
		}
		iov[r].iov_base =
			(void *)(uintptr_t)(tbl->addr + pl.lo[r] * PAGE_SIZE);
		iov[r].iov_len = (pl.hi[r] - pl.lo[r]) * PAGE_SIZE;
	}
	for (k = 0; k < n; k++) {
		if (!pl.take[k])
			continue;
		pte_set_swapped(mm, v[k], entries[k]);
		atomic_store(&v[k]->pte, atomic_load(&v[k]->pte) | PTE_ZAP);
	}
	pthread_mutex_lock(&mm->zap_lock);
	for (size_t r = 0; r < ZAP_RANGES; r++)
		mm->zap_ranges[r] = (struct zap_range){0, 0, false};
	for (size_t r = 0; r < pl.nr; r++)
		mm->zap_ranges[r] = (struct zap_range){
			(uint64_t)(uintptr_t)iov[r].iov_base,
			(uint64_t)(uintptr_t)iov[r].iov_base + iov[r].iov_len,
			false};
	pthread_mutex_unlock(&mm->zap_lock);
	/* pages not taken: back to their list if still present */
	for (k = 0; k < n; k++) {
		addrs[k] = page_addr(v[k]);
		if (!pl.take[k]) {
			page_keep_locked(mm, v[k], carry[k]);
			isolated_add(mm, -1);
		}
	}
	pthread_mutex_unlock(&tbl->lock);

	for (k = 0; k < n; k++) {
		if (pl.take[k]) {
			evicted_folio_publish(mm, folios[k], entries[k]);
			isolated_add(mm, -1); /* cached now */
			evicted++;
			carried += carry[k];
		} else {
			swap_cache_del_folio(folios[k], NULL);
			folio_unlock(folios[k]);
			folio_put(folios[k]);
		}
	}
	table_put(tbl); /* nothing held across the drop */

	zap_drop(mm, iov, pl.nr, dropped);
	/* the kernel's mmap_changing is down: their installs work now */
	wake_deferred(mm);
	/* the reader that read our events has applied its batch */
	reads = atomic_load(&mm->reads_started);
	while (atomic_load(&mm->reads_done) < reads)
		sched_yield();
	pthread_mutex_lock(&mm->zap_lock);
	for (size_t r = 0; r < ZAP_RANGES; r++) {
		done[r] = mm->zap_ranges[r];
		mm->zap_ranges[r] = (struct zap_range){0, 0, false};
	}
	pthread_mutex_unlock(&mm->zap_lock);
	for (size_t r = 0; r < pl.nr; r++) {
		if (!done[r].seen && dropped[r]) {
			fprintf(stderr,
				"uswap: window eviction: the drop of "
				"%#llx-%#llx raised no event of its own "
				"(range split or unmapped meanwhile)\n",
				(unsigned long long)done[r].start,
				(unsigned long long)done[r].end);
			STAT_INC(mm, errors);
		}
		if (!dropped[r]) {
			/* mlocked, most likely: no windows for a while */
			STAT_INC(mm, zap_failed);
			mm->zap_pause_ns = zap_now_ns() + ZAP_PAUSE_NS;
		}
		evicted -= zap_finish(mm, done[r].start, done[r].end,
				      done[r].seen, dropped[r]);
	}
	zap_put_back(mm, carry, n, &pl, addrs, entries);
	/* the faults that met PTE_ZAP sleep until now (serve_fault) */
	for (size_t r = 0; r < pl.nr; r++)
		uffd_wake(&mm->uffd, done[r].start,
			  done[r].end - done[r].start);
	atomic_store(&mm->zap_inflight, 0);
	/*
	 * The carried pages were not evicted.  (Those of a range whose drop
	 * failed zap_finish counted already: under-counted then, which
	 * only makes the reclaimer go on.)
	 */
	evicted = evicted > carried ? evicted - carried : 0;
	STAT_ADD(mm, window_evictions, evicted);
	STAT_INC(mm, zap_windows);
	return (int)evicted;
}

/*
 * zap_window - the reclaimer's eviction of the oldest inactive page
 * @anchor (isolated, its table referenced) with the cold pages around it,
 * if there are enough (window_isolate): @max of them, or a batch of up to
 * ZAP_VICTIMS (a quarter of the budget at most) if that is more.
 * Return: pages evicted (>= 0: the window was tried, the table reference
 * dropped, every victim's isolation ended (nr_isolated); 0 when its drop
 * failed and the pages stayed); -EAGAIN when
 * the window was not worth it, paused or backed off: only @anchor is
 * still isolated, the reference still held: evict it alone.
 * Context: the reclaimer thread; no locks held.
 */
int zap_window(struct mm *mm, struct mm_page *anchor, size_t max)
{
	struct mm_page *v[ZAP_WINDOW];
	bool carry[ZAP_WINDOW];
	size_t batch = mm->p.budget_pages / 4, a, n;

	if (mm->zap_pause_ns && zap_now_ns() < mm->zap_pause_ns)
		return -EAGAIN;
	/* a batch (the kernel reclaims 32 at a time) unless the budget is tiny */
	if (batch > ZAP_VICTIMS)
		batch = ZAP_VICTIMS;
	if (max < batch)
		max = batch;
	n = window_isolate(mm, anchor, v, carry, max, &a);

	if (n < zap_min(mm))
		return -EAGAIN;
	return zap_evict(mm, v, carry, n, a);
}
