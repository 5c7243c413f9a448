/*
 * Reclaim: the LRU lists, swap-out, aging, the background reclaimer and
 * direct reclaim (the kernel's mm/vmscan.c for uswap).
 *
 * Aging without accessed bits (docs/pager.md, "Aging"): two FIFO lists.
 *   resident list  pages present in the process, oldest first.
 *   cached list    folios evicted from the process but still uncompressed
 *                  in the swap cache (the second chance), oldest first.
 * Reclaim takes the oldest resident page and moves it out (UFFDIO_MOVE into
 * a folio's data page, in the swap cache, pte := entry): it now sits on the
 * cached list.  A touch while it is there is a minor fault: the folio's page
 * is moved straight back, nothing is compressed or decompressed, and the
 * page goes to the young end of the resident list.  Only folios that reach
 * the old end of the cached list untouched are compressed (store_page) and
 * leave the swap cache.  With cache_target = 0 this is plain FIFO.
 * Budget: resident + cached <= budget_pages.  The reclaimer keeps the total
 * between wmark_low and wmark_high; a fault that would pass the budget
 * reclaims first (direct reclaim, in the handler thread).
 *
 * Swap-out never loses a concurrent write: UFFDIO_MOVE takes the page out of
 * the process atomically (a thread writing it then takes a missing fault,
 * waits on the pte lock, and finds the folio in the swap cache: a minor
 * fault).  The staging area is registered (MODE_WP only) with a second uffd
 * without EVENT_REMOVE, so emptying folio pages with MADV_DONTNEED raises no
 * event and blocks nobody (docs/pager.md, "Staging").
 *
 * Lock order (internal.h): folio lock -> pte lock -> lru_lock -> cluster
 * lock (swap_*) -> pool lock.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <time.h>

#include "mm/internal.h"

/*
 * The reclaimer thread: only it evicts by windows (zap.c), which wait for
 * a handler to read their events; a handler in direct reclaim must not.
 */
static _Thread_local bool in_reclaimer;

/* ---- the resident list ---- */

/*
 * lru_add_locked - put @page at the young end of the inactive list, or of
 * the active list when @active (a page that came back from the second-
 * chance list: it was touched again soon after eviction).
 * Context: mm->lru_lock held.
 */
void lru_add_locked(struct mm *mm, struct mm_page *page, bool active)
{
	struct mm_page *head;

	if (page->lru_next)
		return;
	if (mm->p.fifo)
		active = false;
	head = active ? &mm->active_head : &mm->lru_head;
	page->active = active;
	page->lru_next = head;
	page->lru_prev = head->lru_prev;
	head->lru_prev->lru_next = page;
	head->lru_prev = page;
	if (active)
		mm->nr_active++;
	atomic_store_explicit(
		&mm->nr_resident,
		atomic_load_explicit(&mm->nr_resident, memory_order_relaxed) +
			1,
		memory_order_relaxed);
}

/* Context: mm->lru_lock held. */
void lru_del_locked(struct mm *mm, struct mm_page *page)
{
	if (!page->lru_next)
		return;
	page->lru_prev->lru_next = page->lru_next;
	page->lru_next->lru_prev = page->lru_prev;
	page->lru_next = page->lru_prev = NULL;
	if (page->active)
		mm->nr_active--;
	page->active = false;
	atomic_store_explicit(
		&mm->nr_resident,
		atomic_load_explicit(&mm->nr_resident, memory_order_relaxed) -
			1,
		memory_order_relaxed);
}

/* Context: takes lru_lock; callers may hold the page's pte lock. */
void lru_add(struct mm *mm, struct mm_page *page)
{
	pthread_mutex_lock(&mm->lru_lock);
	lru_add_locked(mm, page, false);
	pthread_mutex_unlock(&mm->lru_lock);
}

void lru_add_active(struct mm *mm, struct mm_page *page)
{
	pthread_mutex_lock(&mm->lru_lock);
	lru_add_locked(mm, page, true);
	pthread_mutex_unlock(&mm->lru_lock);
}

void lru_del(struct mm *mm, struct mm_page *page)
{
	pthread_mutex_lock(&mm->lru_lock);
	lru_del_locked(mm, page);
	pthread_mutex_unlock(&mm->lru_lock);
}

/*
 * lru_isolate - take the page to evict off its list, with a reference on
 * its pte table (table_put).  The oldest inactive page goes first; while the active list
 * is longer than the inactive one, its oldest page is first demoted to the
 * young end of the inactive list (the kernel's inactive_is_low balance:
 * without accessed bits a demoted page is not rescued in place, but if it
 * is still hot it comes back from the second-chance list as a minor fault
 * and is promoted again).  Return NULL when both lists are empty.
 * Context: takes lru_lock.  A page on the list belongs to a table with an
 * owner (a cut discards its pages, taking them off the list under
 * lru_lock, before the table can lose its last owner), and table_drop
 * waits for our reference before it frees the table.
 */
static struct mm_page *lru_isolate(struct mm *mm, struct pte_table **tp)
{
	struct mm_page *page;

	pthread_mutex_lock(&mm->lru_lock);
	for (;;) {
		size_t resident = atomic_load_explicit(&mm->nr_resident,
						       memory_order_relaxed);

		if (mm->nr_active && mm->nr_active > resident - mm->nr_active) {
			page = mm->active_head.lru_next;
			lru_del_locked(mm, page);
			lru_add_locked(mm, page, false);
			continue;
		}
		page = mm->lru_head.lru_next;
		if (page == &mm->lru_head)
			page = mm->active_head.lru_next;
		if (page == &mm->active_head) {
			page = NULL;
			break;
		}
		isolated_add(mm, 1); /* first: never under-counted */
		lru_del_locked(mm, page);
		*tp = page_table(page);
		atomic_fetch_add(&(*tp)->refs, 1);
		break;
	}
	pthread_mutex_unlock(&mm->lru_lock);
	return page;
}

/*
 * lru_isolate_run - extend the run that starts at the isolated run[0]
 * with the pages after it in its pte table, as long as they are on the
 * inactive list (no active page is taken early: aging stands), up to
 * @max pages in all (at most EVICT_RUN).  A sequential sweep leaves its
 * oldest pages next to each other; evict_run moves such a run with one
 * ioctl.  Only called when run[0] continues the last run (mm->evict_next):
 * under random access the neighbours of the oldest page may be young, and
 * taking them would cost aging what it saves in ioctls.
 * Return: the run's length (>= 1).
 * Context: takes lru_lock; the caller holds a reference on the table.
 */
static size_t lru_isolate_run(struct mm *mm, struct mm_page **run, size_t max)
{
	struct pte_table *tbl = page_table(run[0]);
	size_t idx = (size_t)(run[0] - tbl->pages), n = 1;

	if (max > EVICT_RUN)
		max = EVICT_RUN;
	pthread_mutex_lock(&mm->lru_lock);
	while (n < max && idx + n < PTRS_PER_TABLE) {
		struct mm_page *page = &tbl->pages[idx + n];

		if (!page->lru_next || page->active)
			break;
		isolated_add(mm, 1);
		lru_del_locked(mm, page);
		run[n++] = page;
	}
	pthread_mutex_unlock(&mm->lru_lock);
	return n;
}

/*
 * page_keep_locked - a page isolated for eviction and not evicted: still
 * present, back to the young end of its list (the active one when
 * @active: a page a window meant to carry, zap.c); but a page the program
 * discarded (page->discarded) is dropped instead: its data must not come
 * back, and the kernel zaps it (or did).
 * Context: the page's pte lock held.
 */
void page_keep_locked(struct mm *mm, struct mm_page *page, bool active)
{
	if (atomic_load(&page->pte) != PTE_PRESENT)
		return;
	if (page->discarded) {
		page->discarded = false;
		atomic_store(&page->pte, PTE_NONE);
		return;
	}
	if (active)
		lru_add_active(mm, page);
	else
		lru_add(mm, page);
}

/* lru_putback - a page isolated for eviction stays: back to the young end. */
static void lru_putback(struct mm *mm, struct mm_page *page)
{
	struct pte_table *tbl = page_table(page);

	pthread_mutex_lock(&tbl->lock);
	page_keep_locked(mm, page, false);
	pthread_mutex_unlock(&tbl->lock);
}

/* ---- the cached (second-chance) list ---- */

static void cache_list_add(struct mm *mm, struct folio *folio)
{
	int32_t idx = (int32_t)folio_index(mm, folio);
	struct mm_folio_meta *m = &mm->fmeta[idx];

	pthread_mutex_lock(&mm->lru_lock);
	m->next = -1;
	m->prev = mm->cache_tail;
	if (mm->cache_tail >= 0)
		mm->fmeta[mm->cache_tail].next = idx;
	else
		mm->cache_head = idx;
	mm->cache_tail = idx;
	m->on_list = true;
	m->folio = folio;
	atomic_store_explicit(
		&mm->nr_cached,
		atomic_load_explicit(&mm->nr_cached, memory_order_relaxed) + 1,
		memory_order_relaxed);
	pthread_mutex_unlock(&mm->lru_lock);
}

static void cache_list_unlink_locked(struct mm *mm, int32_t idx)
{
	struct mm_folio_meta *m = &mm->fmeta[idx];

	if (m->prev >= 0)
		mm->fmeta[m->prev].next = m->next;
	else
		mm->cache_head = m->next;
	if (m->next >= 0)
		mm->fmeta[m->next].prev = m->prev;
	else
		mm->cache_tail = m->prev;
	m->prev = m->next = -1;
	m->on_list = false;
	atomic_store_explicit(
		&mm->nr_cached,
		atomic_load_explicit(&mm->nr_cached, memory_order_relaxed) - 1,
		memory_order_relaxed);
}

/*
 * cache_list_del - take @folio off the cached list.  Return: true if it was
 * on it; the caller then owns the list's folio reference and must put it.
 */
bool cache_list_del(struct mm *mm, struct folio *folio)
{
	int32_t idx = (int32_t)folio_index(mm, folio);
	bool was;

	pthread_mutex_lock(&mm->lru_lock);
	was = mm->fmeta[idx].on_list;
	if (was)
		cache_list_unlink_locked(mm, idx);
	pthread_mutex_unlock(&mm->lru_lock);
	return was;
}

static struct folio *cache_list_pop(struct mm *mm)
{
	struct folio *folio = NULL;

	pthread_mutex_lock(&mm->lru_lock);
	if (mm->cache_head >= 0) {
		int32_t idx = mm->cache_head;

		folio = mm->fmeta[idx].folio;
		cache_list_unlink_locked(mm, idx);
	}
	pthread_mutex_unlock(&mm->lru_lock);
	return folio;
}

/* ---- swap-out ---- */

/*
 * page_really_gone - a MOVE-out said ENOENT (source hole): confirm it with
 * /proc/self/pagemap before we take the page for discarded.  An answer we
 * cannot confirm keeps the page (a wrong "gone" would silently replace its
 * data with zeros; a page the process did discard is cleared anyway when
 * its remove event is applied).
 */
static bool page_really_gone(struct mm *mm, uint64_t addr)
{
	return pagemap_state(mm, addr) == PM_NONE;
}

/*
 * pte_set_swapped - the pte of a page that has just been moved out: its
 * slot's count goes to 1 and the pte holds the entry.
 * Context: the page's pte lock held; the folio of @entry locked.
 */
void pte_set_swapped(struct mm *mm, struct mm_page *page, swp_entry_t entry)
{
	long ret = swap_duplicate(entry);

	if (ret < 0) {
		fprintf(stderr, "uswap: swap_duplicate(%#llx): %ld\n",
			(unsigned long long)entry.val, ret);
		STAT_INC(mm, errors);
	}
	atomic_store(&page->pte, swp_entry_to_pte(entry));
}

/*
 * evicted_folio_publish - @folio (locked, in the swap cache as @entry)
 * now holds the data of a page moved out: mark it, put it on the cached
 * list (our reference becomes the list's) and unlock it.
 * Context: after the pte lock is dropped.
 */
void evicted_folio_publish(struct mm *mm, struct folio *folio,
			   swp_entry_t entry)
{
	mm_hook(MM_HOOK_RECLAIM_AFTER_UNMAP, entry);
	folio_set_populated(mm, folio, true);
	folio_set_flag(folio, PG_uptodate);
	folio_set_flag(folio, PG_dirty);
	cache_list_add(mm, folio);
	folio_unlock(folio);
	STAT_INC(mm, evictions);
}

/*
 * swapout_folio_prepare - give @folio (ours, unlocked) a new swap entry:
 * swap_alloc (pinned, count 0), lock the folio, add it to the swap cache.
 * On failure the folio is put and nothing is left allocated.
 * Return: 0 and *@entry; -ENOSPC (swap full); another -errno (the swap
 * cache refused it: counted in errors).
 */
long swapout_folio_prepare(struct mm *mm, struct folio *folio,
			   swp_entry_t *entry)
{
	long ret = swap_alloc(mm->si, 0, entry);

	if (ret < 0) {
		folio_put(folio);
		return ret;
	}
	folio_lock(folio);
	ret = swap_cache_add_folio(*entry, folio, NULL);
	if (ret < 0) {
		fprintf(stderr, "uswap: swap_cache_add_folio(%#llx): %ld\n",
			(unsigned long long)entry->val, ret);
		STAT_INC(mm, errors);
		swapcache_clear(*entry);
		folio_unlock(folio);
		folio_put(folio);
	}
	return ret;
}

/*
 * evict_page - the reclaimer's swap-out of one resident page (isolated from
 * the LRU by the caller, which holds a reference on its table or region),
 * straight into the data page of its folio, which must be a hole (a run
 * of several pages goes through evict_run):
 *   folio := new folio (data page a hole), locked
 *   entry := swap_alloc (pinned, count 0); swap_cache_add_folio(entry)
 *   pte lock; pte still present?  UFFDIO_MOVE page -> folio data;
 *   swap_duplicate(entry) (count 1); pte := entry; pte unlock
 *   the folio joins the cached list (it is compressed later, or never if
 *   touched again first).
 * Return: 1 evicted; 0 skipped (page changed or discarded); -EBUSY (the
 * page is COW-shared with a forked child, or pinned: UFFDIO_MOVE refuses
 * it until it is written; or mlocked by the program: EINVAL until it is
 * unlocked; it went back to the young end of the list);
 * -ENOSPC (swap full); -ENOMEM (no folio).
 * Context: the reclaimer, a handler in direct reclaim, or a test thread;
 * no locks held on entry; takes the new folio's lock, then the pte lock.
 * Race: a thread touching the page during the MOVE takes a missing fault;
 * its handler waits on the pte lock, then finds the entry and the folio in
 * the swap cache (locked until we are done): a minor fault.  The write made
 * before the MOVE is inside the moved page.
 */
static int evict_page(struct mm *mm, struct mm_page *page, struct folio *folio)
{
	struct pte_table *tbl = page_table(page);
	uint64_t addr = page_addr(page);
	swp_entry_t entry;
	long ret;

	if (!folio)
		folio = mm_folio_alloc(mm);
	if (!folio) {
		lru_putback(mm, page);
		return -ENOMEM;
	}
	if (folio_populated(mm, folio)) {
		/* the MOVE destination must be a hole (off the fault path) */
		madvise(folio->data, PAGE_SIZE, MADV_DONTNEED);
		folio_set_populated(mm, folio, false);
	}
	ret = swapout_folio_prepare(mm, folio, &entry);
	if (ret < 0) {
		lru_putback(mm, page);
		return ret == -ENOSPC ? -ENOSPC : 0; /* swap full, or skipped */
	}
	pthread_mutex_lock(&tbl->lock);
	if (atomic_load(&page->pte) != PTE_PRESENT || page->discarded ||
	    atomic_load(&mm->closing)) {
		page_keep_locked(mm, page, false);
		ret = 0;
		goto undo;
	}
	ret = mm_move(mm, &mm->stage_uffd, (uint64_t)(uintptr_t)folio->data,
		      addr, 1, UFFD_DONTWAKE);
	if (ret < 0) {
		if (ret == -ENOENT && page_really_gone(mm, addr)) {
			/* the application discarded it: it reads zero */
			atomic_store(&page->pte, PTE_NONE);
		} else {
			/* pinned (EBUSY), mapping changing (EAGAIN), or an
			 * ENOENT that pagemap contradicts (counted) */
			if (ret == -ENOENT) {
				fprintf(stderr,
					"uswap: MOVE-out of %#llx: ENOENT, "
					"but the page is there: kept\n",
					(unsigned long long)addr);
				STAT_INC(mm, errors);
			}
			lru_add(mm, page);
		}
		/*
		 * busy: COW-shared with a fork's child, or pinned (EBUSY);
		 * mlocked by the program (EINVAL): it cannot leave now
		 */
		ret = ret == -EBUSY || ret == -EINVAL ? -EBUSY : 0;
		goto undo;
	}
	pte_set_swapped(mm, page, entry);
	pthread_mutex_unlock(&tbl->lock);
	evicted_folio_publish(mm, folio, entry);
	return 1;
undo:
	pthread_mutex_unlock(&tbl->lock);
	swap_cache_del_folio(folio, NULL); /* unpins: count 0, slot freed */
	folio_unlock(folio);
	folio_put(folio); /* data page still a hole */
	return (int)ret;
}

/* ---- scratch windows ---- */

/*
 * scratch_claim - a free scratch window (internal.h) with room for @n
 * pages: returns the window and sets *@slot to its first hole.  A full
 * window is emptied first: one madvise for up to SCRATCH_PAGES pages moved
 * out one run at a time.  Windows are held for one run only, never while
 * waiting on anything but a folio lock of our own, so a thread that finds
 * all of them taken just yields.
 */
static unsigned scratch_claim(struct mm *mm, size_t n, size_t *slot)
{
	for (;;) {
		uint64_t busy = atomic_load(&mm->scratch_busy);

		for (unsigned w = 0; w < mm->nscratch; w++) {
			uint64_t bit = UINT64_C(1) << w;

			if (busy & bit ||
			    !atomic_compare_exchange_weak(&mm->scratch_busy,
							  &busy, busy | bit))
				continue;
			if (mm->scratch_used[w] + n > SCRATCH_PAGES) {
				madvise(mm->scratch + (size_t)w *
							      SCRATCH_PAGES *
							      PAGE_SIZE,
					mm->scratch_used[w] * PAGE_SIZE,
					MADV_DONTNEED);
				mm->scratch_used[w] = 0;
			}
			*slot = mm->scratch_used[w];
			return w;
		}
		sched_yield();
	}
}

/* scratch_release - @used more pages of window @w hold data; free it. */
static void scratch_release(struct mm *mm, unsigned w, size_t used)
{
	mm->scratch_used[w] += (unsigned)used;
	atomic_fetch_and(&mm->scratch_busy, ~(UINT64_C(1) << w));
}

/*
 * evict_run - swap out @n resident pages at consecutive addresses of one
 * pte table (isolated from the LRU by the caller, which holds a reference
 * on the table), the kernel's shrink_folio_list + add_to_swap for a batch:
 *   for each page: folio := new folio, locked; entry := swap_alloc
 *     (pinned, count 0); swap_cache_add_folio(entry)
 *   pte lock; the run cut at the first page no longer present;
 *   UFFDIO_MOVE the run -> a scratch window, ONE ioctl (one TLB flush
 *     instead of one per page; mm_move puts the kernel's misreports right)
 *   for each page moved: swap_duplicate(entry) (count 1); pte := entry
 *   pte unlock; copy each page from the window into its folio, which then
 *   joins the cached list (compressed later, or never if touched again
 *   first) and is unlocked.  The window is emptied (one madvise) once
 *   runs have filled it.
 * Copying through the window, rather than moving into the folios' own
 * pages, leaves folio pages populated for good: they never need emptying
 * (a TLB shootdown each, or per batch of scattered pages) and a
 * decompression never first-touches them (a page fault).
 * Return: pages evicted (>= 0; pages that changed or were discarded are
 * skipped, and the rest of a run that stopped short goes back on the
 * LRU); -EBUSY when the first page is COW-shared with a forked child, or
 * pinned (UFFDIO_MOVE refuses it until it is written; it went back to
 * the young end of the list); -ENOSPC (swap full); -ENOMEM (no folio).
 * Context: the reclaimer, a handler in direct reclaim, or a test thread;
 * no locks held on entry; takes the new folios' locks, then the pte lock.
 * Race: a thread touching one of the pages during the MOVE takes a
 * missing fault; its handler waits on the pte lock, then finds the entry
 * and the folio in the swap cache, locked until its data is copied in: a
 * minor fault.  The write made before the MOVE is inside the moved page.
 */
static int evict_run(struct mm *mm, struct mm_page **pages, size_t n)
{
	struct pte_table *tbl = page_table(pages[0]);
	uint64_t addr = page_addr(pages[0]);
	struct folio *folios[EVICT_RUN];
	swp_entry_t entries[EVICT_RUN];
	size_t ready = 0, moved = 0, slot, i;
	unsigned w;
	char *win;
	long ret = 0;

	for (; ready < n; ready++) {
		struct folio *folio = folio_alloc(mm->pool);

		if (!folio) {
			ret = -ENOMEM;
			break;
		}
		ret = swapout_folio_prepare(mm, folio, &entries[ready]);
		if (ret < 0)
			break;
		folios[ready] = folio;
	}
	w = scratch_claim(mm, ready, &slot);
	win = mm->scratch + ((size_t)w * SCRATCH_PAGES + slot) * PAGE_SIZE;

	pthread_mutex_lock(&tbl->lock);
	while (moved < ready &&
	       atomic_load(&pages[moved]->pte) == PTE_PRESENT &&
	       !pages[moved]->discarded)
		moved++; /* here: the run still present, and its data wanted */
	if (moved && !atomic_load(&mm->closing)) {
		long got =
			mm_move(mm, &mm->stage_uffd, (uint64_t)(uintptr_t)win,
				addr, moved, UFFD_DONTWAKE);

		if (got == -EINVAL && moved > 1) /* the run spans two VMAs */
			got = mm_move(mm, &mm->stage_uffd,
				      (uint64_t)(uintptr_t)win, addr, 1,
				      UFFD_DONTWAKE);
		if (got < 0) {
			if (got == -ENOENT && page_really_gone(mm, addr)) {
				/* the application discarded it: it reads zero */
				atomic_store(&pages[0]->pte, PTE_NONE);
			} else if (got == -ENOENT) {
				fprintf(stderr,
					"uswap: MOVE-out of %#llx: ENOENT, "
					"but the page is there: kept\n",
					(unsigned long long)addr);
				STAT_INC(mm, errors);
			}
			/* busy: COW-shared, pinned, or mlocked (EINVAL) */
			ret = got == -EBUSY || got == -EINVAL ? -EBUSY : 0;
			got = 0;
		}
		moved = (size_t)got;
	} else {
		moved = 0;
	}
	for (i = 0; i < moved; i++)
		pte_set_swapped(mm, pages[i], entries[i]);
	/* the rest stay resident: back to the young end */
	for (i = moved; i < n; i++)
		page_keep_locked(mm, pages[i], false);
	pthread_mutex_unlock(&tbl->lock);

	for (i = 0; i < moved; i++) {
		memcpy(folios[i]->data, win + i * PAGE_SIZE, PAGE_SIZE);
		evicted_folio_publish(mm, folios[i], entries[i]);
	}
	STAT_ADD(mm, run_evictions, moved);
	scratch_release(mm, w, moved);
	for (i = moved; i < ready; i++) {
		/* unpins: count 0, slot freed; the folio's page is untouched */
		swap_cache_del_folio(folios[i], NULL);
		folio_unlock(folios[i]);
		folio_put(folios[i]);
	}
	if (moved)
		return (int)moved;
	return ret == -EBUSY || ret == -ENOSPC || ret == -ENOMEM ? (int)ret : 0;
}

/*
 * shrink_cache_one - compress the oldest folio of the cached list to its
 * device and drop it from the swap cache (swap_writepage + the kernel's
 * __remove_mapping).  Return: true if the list gave up a folio.
 * Race: a swap-in of the folio's entry that found it in the swap cache
 * waits on the folio lock while we store; then finds it gone from the cache
 * and reads the device (which holds the data by then).  A folio whose slot
 * lost its last pte (discard) is deleted without storing.
 * Context: takes a folio lock (may wait for a swap-in to finish).
 */
bool shrink_cache_one(struct mm *mm)
{
	struct folio *folio = cache_list_pop(mm);
	swp_entry_t entry;
	int ret;

	if (!folio)
		return false;
	folio_lock(folio);
	if (!folio_test(folio, PG_swapcache)) {
		/* swapped in or discarded meanwhile: data handled there */
		folio_unlock(folio);
		folio_put(folio);
		return true;
	}
	entry = folio->swap;
	if (swap_count(entry) == 0 && folio_free_swap(folio))
		goto drop;
	mm_hook(MM_HOOK_RECLAIM_BEFORE_STORE, entry);
	ret = store_page(mm->dev, (uint32_t)swp_offset(entry), folio->data);
	if (ret < 0) {
		/* device full: keep it cached, over budget (said in stats) */
		STAT_INC(mm, errors);
		folio_unlock(folio);
		cache_list_add(mm, folio);
		return false;
	}
	folio_clear_flag(folio, PG_dirty);
	swap_cache_del_folio(folio, NULL);
	STAT_INC(mm, swapouts);
drop:
	/*
	 * The data page stays populated: a swap-in decompresses over it, a
	 * swap-out empties it in a batch (stash_refill).
	 */
	folio_set_populated(mm, folio, true);
	folio_unlock(folio);
	folio_put(folio);
	return true;
}

/* What the budget counts: resident, cached, and isolated on the way. */
static size_t mm_total(struct mm *mm)
{
	return atomic_load_explicit(&mm->nr_resident, memory_order_relaxed) +
	       atomic_load_explicit(&mm->nr_cached, memory_order_relaxed) +
	       atomic_load_explicit(&mm->nr_isolated, memory_order_relaxed);
}

/*
 * A stash of folios whose data pages were emptied together: one
 * process_madvise(MADV_DONTNEED) over all of them costs one TLB shootdown
 * instead of one per page (+5 us each on this VM while application threads
 * run).  Swap-in leaves folio pages populated (COPY-in), so most folios
 * need emptying before they can receive a MOVE.
 */
#define HOLE_BATCH 32
struct hole_stash {
	struct folio *f[HOLE_BATCH];
	int n;
};

static void stash_refill(struct mm *mm, struct hole_stash *st)
{
	struct iovec iov[HOLE_BATCH];
	int niov = 0;
	long ret = -1;

	while (st->n < HOLE_BATCH) {
		struct folio *f = folio_alloc(mm->pool);

		if (!f)
			break;
		st->f[st->n++] = f;
		if (folio_populated(mm, f))
			iov[niov++] = (struct iovec){f->data, PAGE_SIZE};
	}
	if (!niov)
		return;
	if (mm->pidfd >= 0)
		ret = syscall(SYS_process_madvise, mm->pidfd, iov, (size_t)niov,
			      MADV_DONTNEED, 0);
	if (ret != (long)niov * (long)PAGE_SIZE) {
		for (int i = 0; i < niov; i++)
			madvise(iov[i].iov_base, PAGE_SIZE, MADV_DONTNEED);
	}
	for (int i = 0; i < st->n; i++)
		folio_set_populated(mm, st->f[i], false);
}

static struct folio *stash_get(struct mm *mm, struct hole_stash *st)
{
	if (!st->n)
		stash_refill(mm, st);
	return st->n ? st->f[--st->n] : NULL;
}

static void stash_drain(struct hole_stash *st)
{
	while (st->n)
		folio_put(st->f[--st->n]);
}

/*
 * mm_reclaim - evict and compress until resident + cached <= @target, or
 * @max_scan pages were taken off the LRU (0: no bound but a lap of pages
 * that cannot leave, see below).
 * Return: pages compressed or dropped (>= 0); it gave up short of @target
 * because nothing more could leave: -ENOSPC (swap or device full), -ENOMEM
 * (no folio), -EBUSY (a lap of pages shared with a forked child).
 * Context: the reclaimer, a handler (direct reclaim) or a test thread; no
 * locks held.
 */
long mm_reclaim(struct mm *mm, size_t target, size_t max_scan)
{
	struct hole_stash stash = {.n = 0};
	size_t busy = 0, busy_max = atomic_load(&mm->nr_resident) + 8;
	size_t scanned = 0;
	long done = 0;
	int fails = 0;

	while (mm_total(mm) > target && !atomic_load(&mm->closing) &&
	       !atomic_load(&mm->park) && (!max_scan || scanned < max_scan)) {
		size_t cached = atomic_load_explicit(&mm->nr_cached,
						     memory_order_relaxed);
		size_t total = mm_total(mm), n;
		struct mm_page *run[EVICT_RUN];
		struct pte_table *tbl;
		int ret;

		if (cached > mm->cache_target ||
		    (cached && !atomic_load_explicit(&mm->nr_resident,
						     memory_order_relaxed))) {
			if (shrink_cache_one(mm)) {
				done++;
				continue;
			}
			if (++fails > 8) {
				stash_drain(&stash);
				return -ENOSPC;
			}
		}
		run[0] = lru_isolate(mm, &tbl);
		if (!run[0]) {
			if (!atomic_load(&mm->nr_cached) || ++fails > 8)
				break;
			sched_yield();
			continue;
		}
		n = 1;
		if (page_addr(run[0]) ==
		    atomic_load_explicit(&mm->evict_next, memory_order_relaxed))
			n = lru_isolate_run(
				mm, run, total > target ? total - target : 1);
		atomic_store_explicit(&mm->evict_next,
				      page_addr(run[n - 1]) + PAGE_SIZE,
				      memory_order_relaxed);
		STAT_ADD(mm, reclaim_scans, n);
		scanned += n;
		if (n > 1)
			ret = evict_run(mm, run, n);
		else if (in_reclaimer && mm->p.wp_evict &&
			 zap_window(mm, run[0],
				    total > target ? total - target : 1) >= 0)
			continue; /* zap_window ended the isolation, the ref */
		else
			ret = evict_page(mm, run[0], stash_get(mm, &stash));
		isolated_add(mm, -(long)n); /* cached now, or back */
		table_put(tbl);
		/*
		 * Every resident page busy (shared with a child since a
		 * fork): stop rather than spin; they stay, over budget, until
		 * written (docs/pager.md, "fork").
		 */
		if ((ret == -EBUSY && ++busy > busy_max) ||
		    ((ret == -ENOSPC || ret == -ENOMEM) && ++fails > 8)) {
			stash_drain(&stash);
			return ret;
		}
	}
	stash_drain(&stash);
	return done;
}

static void reclaimer_kick(struct mm *mm)
{
	pthread_mutex_lock(&mm->reclaim_lock);
	mm->reclaim_kick = true;
	pthread_cond_signal(&mm->reclaim_cond);
	pthread_mutex_unlock(&mm->reclaim_lock);
}

/* mm_kick_reclaimer - wake the reclaimer (e.g. the folio pool ran dry). */
void mm_kick_reclaimer(struct mm *mm)
{
	if (mm->reclaimer_started)
		reclaimer_kick(mm);
}

/*
 * mm_reclaimer_park - set mm->park and wait until the reclaimer thread has
 * parked between batches (mm_park): no eviction or compression of its is
 * in flight, and none starts until mm_reclaimer_unpark.  For fork (which
 * also parks the handlers, fork.c) and for tests that need the swap core
 * quiet (mt_validate).  Handlers park only on a doorbell, so setting park
 * here alone leaves them serving.
 * Context: no pager lock held; not while the instance closes (the
 * reclaimer would wait parked instead of stopping).
 */
void mm_reclaimer_park(struct mm *mm)
{
	atomic_store(&mm->park, true);
	if (!mm->reclaimer_started)
		return;
	mm_kick_reclaimer(mm);
	pthread_mutex_lock(&mm->park_lock);
	while (!mm->reclaimer_parked)
		pthread_cond_wait(&mm->park_cond, &mm->park_lock);
	pthread_mutex_unlock(&mm->park_lock);
}

/*
 * mm_reclaimer_unpark - undo mm_reclaimer_park; returns once the reclaimer
 * has left its park, so that a next park waits for a new one.
 * Context: as mm_reclaimer_park; the handlers not parked (fork_unpark
 * releases both).
 */
void mm_reclaimer_unpark(struct mm *mm)
{
	pthread_mutex_lock(&mm->park_lock);
	atomic_store(&mm->park, false);
	pthread_cond_broadcast(&mm->park_cond);
	while (mm->reclaimer_parked)
		pthread_cond_wait(&mm->park_cond, &mm->park_lock);
	pthread_mutex_unlock(&mm->park_lock);
}

/*
 * throttle_in_signal - the in-thread mode's hard limit.  A SIGBUS handler
 * compresses the oldest pages of the swap cache itself while there are
 * any (shrink_cache_one: no page table changes, so no TLB shootdown; the
 * kernel's direct reclaim does the same work in the faulting thread), and
 * otherwise waits for the reclaimer thread: kick, sleep 50 us (nanosleep
 * is async-signal-safe), until the new pages fit.  It does not evict:
 * window evictions are the reclaimer's alone (zap.c), and a MOVE-out per
 * page from here would flush the TLB of the other CPU whenever one of
 * uswap's threads runs there.  A window run here instead was measured
 * (2026-11-28) and was slower: its drop still waits for a handler to read
 * the remove events, now on the fault's path (docs/BENCHMARKS.md, "Tried
 * and not kept", window evictions in the faulting thread).
 * Why compress here: the reclaimer alone, compressing and evicting, fell
 * behind even one program thread, which then slept here (0.6-1.1 s of
 * 4 under uniform access); compressing here instead gave uniform and
 * sequential access 1.00-1.65x the ops/s and 0.18-0.76x the p99, with
 * one thread or two, and zipf no change beyond the noise
 * (docs/BENCHMARKS.md, "Compressing in the faulting thread").
 * Compressing in a signal handler is safe: the store's work contexts
 * never call malloc or sleep (store/zram.c, ctx_claim), and our SIGBUS
 * interrupts only code that touches uswap memory, which no code does
 * while it holds the locks compression takes (folio, swap cache, store)
 * but a window's copy (zap_copy), whose SIGBUS jumps back before it
 * serves anything (mm_copy_page).
 * Without the throttle the budget held only as fast as the reclaimer
 * happened to run (the issue-4 note measured 4x the budget resident).
 * Bounded at about 100 ms of sleeps, after which the fault goes on over
 * budget rather than hang when nothing is left to evict.  Not at all
 * while the reclaimer's last pass gave up (reclaim_stalled: the swap
 * full, every page shared with a child): it retries at its timer, and
 * every fault waiting 100 ms meanwhile made a program that filled its
 * swap crawl (tests/run/shim_ops.c in this mode: 40 MB written at about
 * 10 pages per second; mm-reclaim_stall-sigbus counts the naps).
 * Context: a SIGBUS handler (mm_in_signal); no lock of ours held.
 */
static void throttle_in_signal(struct mm *mm, size_t npages)
{
	const struct timespec nap = {.tv_nsec = 50 * 1000};

	if (!mm->reclaimer_started)
		return;
	for (int i = 0; i < 2000 && !atomic_load(&mm->closing) &&
			!atomic_load_explicit(&mm->reclaim_stalled,
					      memory_order_relaxed) &&
			mm_total(mm) + npages > mm->p.budget_pages;) {
		if (!mm->p.throttle_sleeps && atomic_load(&mm->nr_cached) &&
		    shrink_cache_one(mm)) {
			STAT_INC(mm, throttle_shrinks);
			continue;
		}
		reclaimer_kick(mm);
		nanosleep(&nap, NULL);
		STAT_INC(mm, throttle_naps);
		i++;
	}
}

/*
 * Direct reclaim takes at most this many pages off the LRU per page over
 * the budget, plus the minimum, up to the maximum.
 */
#define DIRECT_SCAN_PER_PAGE 4
#define DIRECT_SCAN_MIN	     32
#define DIRECT_SCAN_MAX	     512

/*
 * mm_charge - a fault is about to make @npages resident.  Kicks the
 * reclaimer above wmark_high; reclaims in the calling thread when the
 * budget would be passed (direct reclaim).
 * Context: a handler thread, no locks held.
 */
void mm_charge(struct mm *mm, size_t npages)
{
	size_t total = mm_total(mm) + npages;

	if (total <= mm->wmark_high || atomic_load(&mm->closing))
		return;
	if (mm->reclaimer_started)
		reclaimer_kick(mm);
	if (total > mm->p.budget_pages && !mm_in_signal &&
	    mm->p.budget_pages > npages &&
	    !atomic_load_explicit(&mm->reclaim_stalled,
				  memory_order_relaxed)) { /* direct reclaim */
		size_t scan =
			DIRECT_SCAN_PER_PAGE * (total - mm->p.budget_pages) +
			DIRECT_SCAN_MIN;
		long ret;

		STAT_INC(mm, direct_reclaims);
		ret = mm_reclaim(mm, mm->p.budget_pages - npages,
				 scan < DIRECT_SCAN_MAX ? scan
							: DIRECT_SCAN_MAX);
		/* -ENOMEM (no folio) passes: the reclaimer frees some */
		if (ret == -EBUSY || ret == -ENOSPC)
			atomic_store(&mm->reclaim_stalled, true);
	} else if (total > mm->p.budget_pages && mm_in_signal) {
		throttle_in_signal(mm, npages);
	}
}

static void *reclaimer_main(void *arg)
{
	struct mm *mm = arg;

	in_reclaimer = true;
	pthread_setname_np(pthread_self(), "uswap-reclaim");
	thread_pin_self(mm->home_cpu); /* p.colocate (mm.h); may fail: any */

	while (!atomic_load(&mm->stopping)) {
		struct timespec ts;
		long ret;

		if (atomic_load(&mm->park))
			mm_park(mm, true); /* between batches (fork.c) */
		pthread_mutex_lock(&mm->reclaim_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		/* stalled: kicks wait for the timer; a fork or close not */
		while ((!mm->reclaim_kick ||
			atomic_load_explicit(&mm->reclaim_stalled,
					     memory_order_relaxed)) &&
		       !atomic_load(&mm->stopping) && !atomic_load(&mm->park))
			if (pthread_cond_timedwait(&mm->reclaim_cond,
						   &mm->reclaim_lock,
						   &ts) == ETIMEDOUT)
				break;
		mm->reclaim_kick = false;
		pthread_mutex_unlock(&mm->reclaim_lock);
		if (atomic_load(&mm->stopping))
			break;
		if (atomic_load(&mm->park))
			continue;
		/*
		 * A pass that gave up (reclaim_stalled, internal.h) is not
		 * retried at every kick: the next waits for the timer.
		 */
		ret = mm_total(mm) > mm->wmark_high
			      ? mm_reclaim(mm, mm->wmark_low, 0)
			      : 0;
		atomic_store(&mm->reclaim_stalled,
			     ret == -EBUSY || ret == -ENOSPC);
		/* above its target, or folios running out (in-thread mode) */
		while ((atomic_load(&mm->nr_cached) > mm->cache_target ||
			(atomic_load(&mm->nr_cached) &&
			 folio_pool_free_count(mm->pool) < 32)) &&
		       !atomic_load(&mm->stopping) &&
		       !atomic_load(&mm->closing) && !atomic_load(&mm->park)) {
			if (!shrink_cache_one(mm))
				break;
		}
	}
	return NULL;
}

int mm_reclaimer_start(struct mm *mm)
{
	int ret = thread_start(&mm->reclaimer, reclaimer_main, mm);

	if (ret)
		return -ret;
	mm->reclaimer_started = true;
	return 0;
}

void mm_reclaimer_stop(struct mm *mm)
{
	if (!mm->reclaimer_started)
		return;
	atomic_store(&mm->stopping, true);
	reclaimer_kick(mm);
	pthread_join(mm->reclaimer, NULL);
	mm->reclaimer_started = false;
}

/* mm_evict_range's run so far, if any, evicted: pages evicted. */
static long evict_pending(struct mm *mm, struct mm_page **run, size_t *n)
{
	int ret = 0;

	if (*n > 1)
		ret = evict_run(mm, run, *n);
	else if (*n == 1)
		ret = evict_page(mm, run[0], NULL);
	isolated_add(mm, -(long)*n);
	*n = 0;
	return ret > 0 ? ret : 0;
}

long mm_evict_range(struct mm *mm, void *addr, size_t len, bool store)
{
	uint64_t a = (uint64_t)(uintptr_t)addr & ~(PAGE_SIZE - 1);
	uint64_t end = (uint64_t)(uintptr_t)addr + len;
	long done = 0;

	/* map_lock: no layout change meanwhile, and a fork waits for us */
	pthread_mutex_lock(&mm->map_lock);
	while (a < end && !atomic_load(&mm->closing)) {
		struct mm_region *r = region_get(mm, a);
		struct mm_page *run[EVICT_RUN];
		size_t n = 0;

		if (!r) {
			pthread_mutex_unlock(&mm->map_lock);
			return done ? done : -EINVAL;
		}
		/* runs of consecutive resident pages in one table */
		for (; a < end && a < r->end; a += PAGE_SIZE) {
			struct pte_table *tbl;
			struct mm_page *page = region_page(r, a, &tbl);
			bool mine;

			if (n && (n == EVICT_RUN || page_table(run[0]) != tbl))
				done += evict_pending(mm, run, &n);
			/*
			 * Under the pte lock: a fault handler may still be
			 * between its install (the faulting thread already
			 * runs) and setting the pte present.
			 */
			pthread_mutex_lock(&tbl->lock);
			pthread_mutex_lock(&mm->lru_lock);
			mine = page->lru_next != NULL;
			if (mine) {
				isolated_add(mm, 1);
				lru_del_locked(mm, page);
			}
			pthread_mutex_unlock(&mm->lru_lock);
			pthread_mutex_unlock(&tbl->lock);
			if (!mine) {
				done += evict_pending(mm, run, &n);
				continue;
			}
			STAT_INC(mm, reclaim_scans);
			run[n++] = page;
		}
		done += evict_pending(mm, run, &n);
		region_put(r);
	}
	if (store) {
		while (atomic_load(&mm->nr_cached) > 0 &&
		       !atomic_load(&mm->closing)) {
			if (!shrink_cache_one(mm))
				break;
		}
	}
	pthread_mutex_unlock(&mm->map_lock);
	return done;
}
