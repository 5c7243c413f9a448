/*
 * The swap-in protocol (../shared/DESIGN.md, "The swap-in protocol") and its
 * policies: what uswap does on a fault whose pte holds a swap entry.  This
 * is the kernel's do_swap_page(); the step names are shared with the formal
 * model (model/) and listed in docs/pager.md:
 *
 *   swapin_lookup   step 1: swap_cache_get_folio(entry)
 *   swapin_prepare  step 2: swap_cache_prepare_and_add (unified), or
 *                   swapcache_prepare, the bypass pin (other policies)
 *   swapin_read     step 3: load_page into the folio, uptodate or error
 *   swapin_install  step 4: pte lock; pte still holds E?  UFFDIO_MOVE (or
 *                   COPY) the folio's page in, pte := present, swap_free(E),
 *                   the folio leaves the swap cache (slot freed); unlock
 *   swapin_release  the folio's end: drop out (pte changed) or done
 *
 * Policies (src/mm/policy.h), what the loser of a race on E does:
 *   unified    (7.0) a locked folio is inserted into the swap cache before
 *              the read; losers find it at step 1 or 2 and sleep on its
 *              lock; a loser that then finds the pte changed just wakes its
 *              faulter (who finds the page installed: no repeated fault).
 *   retry      (6.8 v3) bypass: pin, read into a private folio, install,
 *              swapcache_clear.  The loser (-EEXIST) wakes its faulter at
 *              once without installing: a repeated fault.
 *   sleep      (6.8) as retry, the loser sleeps one tick first (TICK_NS).
 *   waitqueue  (6.12) as sleep, but on a wait queue the pin holder wakes
 *              right after swapcache_clear.
 *   fallback   (the thread's proposal) bypass pin; the loser looks the
 *              winner's private folio up in the in-flight table and sleeps
 *              on its lock, which the winner releases after install and
 *              swapcache_clear; it then re-checks the pte (changed: wake).
 *   unsafe     (<= 6.7, test builds only) no pin: read, then trust the pte
 *              value.  Loses data when the slot is freed and reused between
 *              read and install (the ABA of the seed).
 *
 * Lock order: folio lock -> pte lock -> lru_lock / cluster lock.
 *
 * Race timeline (unified), two handlers H1, H2 on entry E, reclaimer R:
 *   H1: lookup miss; prepare_and_add(E, F) = 0 (F locked, slot pinned)
 *   H2: lookup hit F (or prepare_and_add -EEXIST, other = F); folio_lock
 *       sleeps
 *   H1: load_page(E) -> F; pte lock; pte == E; MOVE F's page in; pte :=
 *       present; swap_free(E) (count 0); folio_free_swap(F): F leaves the
 *       cache, the slot is freed only now; unlock pte; unlock F
 *   H2: wakes holding F; F no longer in the cache -> re-read pte: present
 *       -> wake its faulter (already woken by H1's MOVE): no repeat.
 *   R cannot reuse E while F is cached: the slot is pinned until
 *   folio_free_swap, which happens after the pte no longer holds E.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mm/internal.h"

#ifdef USWAP_TEST_HOOKS
_Atomic(mm_hook_fn) mm_hook_ptr;

void mm_set_hook(mm_hook_fn fn)
{
	atomic_store_explicit(&mm_hook_ptr, fn, memory_order_release);
}
#endif

static void sleep_ns(long ns)
{
	struct timespec ts = {ns / 1000000000L, ns % 1000000000L};

	nanosleep(&ts, NULL);
}

/*
 * mm_folio_alloc - a folio (its data page a hole or not: folio_populated).
 * When the pool is empty, compress the oldest cached folio to free one
 * (in a SIGBUS handler too: reclaim.c, throttle_in_signal, says why that
 * is safe), else wait a little.
 * Context: no folio or pte lock held (may lock a cached folio).
 */
struct folio *mm_folio_alloc(struct mm *mm)
{
	for (;;) {
		struct folio *folio = folio_alloc(mm->pool);

		if (folio)
			return folio;
		if ((mm_in_signal && mm->p.throttle_sleeps) ||
		    !shrink_cache_one(mm)) {
			mm_kick_reclaimer(mm);
			sleep_ns(50000);
		}
	}
}

static bool pte_holds(struct mm_region *r, uint64_t addr, swp_entry_t entry)
{
	struct pte_table *tbl;
	struct mm_page *page = region_page(r, addr, &tbl);

	return atomic_load(&page->pte) == swp_entry_to_pte(entry);
}

/*
 * swapin_read - step 3: read @entry from its device into the locked
 * @folio; mark it uptodate, or PG_error on a failed read.
 * Return: 0 or the device's -errno.
 */
int swapin_read(struct mm *mm, swp_entry_t entry, struct folio *folio)
{
	int ret = load_page(mm->dev, (uint32_t)swp_offset(entry), folio->data);

	mm_hook(MM_HOOK_SWAPIN_AFTER_READ, entry);
	folio_set_populated(mm, folio, true);
	if (ret == 0) {
		folio_set_flag(folio, PG_uptodate);
		STAT_INC(mm, swapins);
	} else {
		folio_set_flag(folio, PG_error);
	}
	return ret;
}

enum install_result {
	INSTALLED,	/* the page is in the process; pte present */
	POISONED,	/* read error: accesses raise SIGBUS */
	LOST,		/* the pte no longer holds E: someone else did it */
	INSTALL_FAILED, /* the ioctl failed (region gone): pte unchanged */
	INSTALL_AGAIN,	/* EAGAIN: an event pending (fault.c, wake_later) */
};

/* swapin_install's work under the pte lock and the fence. */
static enum install_result swapin_install_locked(struct mm *mm, uint64_t addr,
						 swp_entry_t entry,
						 struct folio *folio,
						 struct mm_page *page,
						 bool *moved, bool active)
{
	long ret;

	if (folio_test(folio, PG_error)) {
		/* free the slot first: the access fails as soon as we poison */
		atomic_store(&page->pte, PTE_POISON);
		swap_free(entry);
		if (folio_test(folio, PG_swapcache) && folio_free_swap(folio) &&
		    cache_list_del(mm, folio))
			folio_put(folio);
		ret = uffd_poison(&mm->uffd, addr, PAGE_SIZE, 0);
		if (ret < 0 && ret != -EEXIST)
			STAT_INC(mm, errors);
		STAT_INC(mm, sigbus);
		return POISONED;
	}
	if (mm->p.swapin_move) {
		ret = mm_move(mm, &mm->uffd, addr,
			      (uint64_t)(uintptr_t)folio->data, 1, 0);
		if (ret >= 0) {
			*moved = true;
			ret = 0;
		}
	} else {
		ret = -EINVAL; /* copy below */
	}
	if (ret < 0 && ret != -EEXIST && ret != -ENOENT) {
		/* e.g. EBUSY: the staging page is pinned; copy instead */
		ret = uffd_copy(&mm->uffd, addr, folio->data, PAGE_SIZE, 0);
	}
	if (ret == -EEXIST) {
		/* the process has a page there that we did not put: keep it */
		fprintf(stderr, "uswap: install at %#llx: page already there\n",
			(unsigned long long)addr);
		STAT_INC(mm, errors);
	} else if (ret < 0) {
		return ret == -EAGAIN ? INSTALL_AGAIN : INSTALL_FAILED;
	}
	atomic_store(&page->pte, PTE_PRESENT);
	page->discarded = false;
	atomic_fetch_add_explicit(&page->gen, 1, memory_order_relaxed);
	if (active)
		lru_add_active(mm, page);
	else
		lru_add(mm, page);
	swap_free(entry);
	if (folio_test(folio, PG_swapcache)) {
		if (cache_list_del(mm, folio))
			folio_put(
				folio); /* the list's; ours and the cache's remain */
		folio_free_swap(folio); /* count 0: the slot is freed now */
	}
	return INSTALLED;
}

/*
 * swapin_install - step 4, with @folio locked (in the swap cache or a
 * bypass's private folio).  *@moved tells whether the folio's data page was
 * moved into the process (it is a hole now).
 * Context: takes the pte lock; lru_lock and cluster locks inside.
 */
static enum install_result swapin_install(struct mm *mm, struct mm_region *r,
					  uint64_t addr, swp_entry_t entry,
					  struct folio *folio, bool *moved,
					  bool active)
{
	struct pte_table *tbl;
	struct mm_page *page = region_page(r, addr, &tbl);
	enum install_result res;

	*moved = false;
	mm_hook(MM_HOOK_SWAPIN_BEFORE_PTE_LOCK, entry);
	pthread_mutex_lock(&tbl->lock);
	if (atomic_load(&page->pte) != swp_entry_to_pte(entry)) {
		pthread_mutex_unlock(&tbl->lock);
		return LOST;
	}
	/*
	 * The remove fence (install_lock in internal.h).  Race without it:
	 *   handler A (us)            thread T2            handler R
	 *   read E (old data)
	 *                             madvise(DONTNEED)
	 *                              -> remove event     read(2): event
	 *                             (released) zap
	 *                             returns
	 *   pte still E: COPY old
	 *                             reads old data, not 0
	 *                                                  apply: pte NONE
	 * With it R holds the fence from before its read(2) until it has
	 * applied the event: we fail the try, install nothing, and the
	 * faulter faults again after the event was applied (pte NONE: zero;
	 * else the folio is still cached for E: a minor fault).
	 */
	if (!mm->p.unfenced_installs &&
	    pthread_rwlock_tryrdlock(&mm->install_lock) != 0) {
		pthread_mutex_unlock(&tbl->lock);
		STAT_INC(mm, install_fenced);
		return LOST;
	}
	res = swapin_install_locked(mm, addr, entry, folio, page, moved,
				    active);
	if (!mm->p.unfenced_installs)
		pthread_rwlock_unlock(&mm->install_lock);
	pthread_mutex_unlock(&tbl->lock);
	if (res == INSTALLED)
		mm_hook(MM_HOOK_SWAPIN_AFTER_INSTALL, entry);
	return res;
}

/*
 * swapin_release - unlock and put @folio after step 4.  A folio that
 * stayed in the swap cache with no user left (the pte changed) is deleted
 * (the kernel's out_page: folio_free_swap); one whose data page still holds
 * data and that leaves the cache is emptied.
 */
static void swapin_release(struct mm *mm, struct folio *folio, bool moved)
{
	if (folio_test(folio, PG_swapcache) && folio_free_swap(folio) &&
	    cache_list_del(mm, folio))
		folio_put(folio);
	/*
	 * A data page left populated stays so: emptying it here would cost a
	 * TLB shootdown on the fault path; swap-out empties it if it needs a
	 * hole (evict_page), decompression just overwrites it.
	 */
	folio_set_populated(mm, folio, !moved);
	folio_unlock(folio);
	folio_put(folio);
}

static void count_kind(struct mm *mm, int kind)
{
	if (kind == 1)
		STAT_INC(mm, faults_minor);
	else if (kind == 2)
		STAT_INC(mm, faults_major);
}

/*
 * swapin_finish - the end of every swap-in path: release the folio, then
 * count the fault by kind when this thread installed the page, else wake
 * the faulter (someone else resolved it, or the pte changed: it touches the
 * page again and finds the new state).
 * Context: @folio locked and referenced by the caller; both are dropped.
 */
static void swapin_finish(struct mm *mm, uint64_t addr, struct folio *folio,
			  bool moved, enum install_result res, int kind)
{
	swapin_release(mm, folio, moved);
	if (res == INSTALLED)
		count_kind(mm, kind);
	else if (res == INSTALL_AGAIN)
		wake_later(mm, addr);
	else
		wake_faulter(mm, addr);
}

/*
 * swapin_cached - steps 1/2 found @folio (with a reference) for @entry:
 * wait on its lock, check it is still E's, then step 4.
 * Return: 0 done; -EAGAIN when the folio left the cache (the caller looks
 * again: the pte may still hold E, with its data on the device now).
 */
static int swapin_cached(struct mm *mm, struct mm_region *r, uint64_t addr,
			 swp_entry_t entry, struct folio *folio, int kind)
{
	enum install_result res;
	bool moved;

	mm_hook(MM_HOOK_SWAPIN_FOLIO_WAIT, entry);
	folio_lock(folio);
	if (!folio_test(folio, PG_swapcache) ||
	    !swp_entry_same(folio->swap, entry)) {
		folio_unlock(folio);
		folio_put(folio);
		return -EAGAIN;
	}
	/* an evicted, still uncompressed folio (PG_dirty): second chance */
	res = swapin_install(mm, r, addr, entry, folio, &moved,
			     folio_test(folio, PG_dirty));
	swapin_finish(mm, addr, folio, moved, res, kind);
	return 0;
}

/* The unified policy's steps 2-4 after a cache miss. */
static int swapin_unified(struct mm *mm, struct mm_region *r, uint64_t addr,
			  swp_entry_t entry)
{
	struct folio *folio = mm_folio_alloc(mm), *other = NULL;
	enum install_result res;
	bool moved;
	int ret;

	folio_lock(folio);
	ret = swap_cache_prepare_and_add(entry, folio, &other);
	if (ret == 0) {
		swapin_read(mm, entry, folio);
		res = swapin_install(mm, r, addr, entry, folio, &moved, false);
		swapin_finish(mm, addr, folio, moved, res, 2);
		return 0;
	}
	folio_unlock(folio);
	folio_put(folio); /* data page still a hole */
	if (ret == -EEXIST && other)
		return swapin_cached(mm, r, addr, entry, other, 1);
	if (ret == -EEXIST) {
		/* pinned without a folio: a bypass in flight; look again */
		STAT_INC(mm, loser_waits);
		sched_yield();
		return -EAGAIN;
	}
	if (ret == -ENOENT)
		return -EAGAIN; /* slot freed: the pte changed */
	return ret;
}

/* ---- the bypass policies ---- */

static bool inflight_add(struct mm *mm, swp_entry_t entry, struct folio *f)
{
	bool ok = false;

	pthread_mutex_lock(&mm->inflight_lock);
	for (size_t i = 0; i < sizeof(mm->inflight) / sizeof(mm->inflight[0]);
	     i++) {
		if (swp_entry_none(mm->inflight[i].entry)) {
			mm->inflight[i].entry = entry;
			mm->inflight[i].folio = f;
			ok = true;
			break;
		}
	}
	pthread_mutex_unlock(&mm->inflight_lock);
	return ok;
}

/*
 * inflight_del - take the winner's own row out: the one with its @f, not
 * merely the first with @entry.  Two rows can hold one entry: our
 * swapcache_clear freed the slot before we got here, a swap-out reused it,
 * and the new page's winner listed the same entry with its folio in a row
 * before ours.  Deleting by entry took that row and left ours, whose folio
 * our swapin_finish then freed: the next loser's inflight_wait took a
 * reference on a free folio (TSan stress-fallback in CI, 2026-11-27:
 * "folio_get: folio 0x7b8000002630 had refcount 0"; 2 runs in 30 there).
 * tests/replay/fallback_rows.c replays it step by step.
 */
static void inflight_del(struct mm *mm, swp_entry_t entry, struct folio *f)
{
	pthread_mutex_lock(&mm->inflight_lock);
	for (size_t i = 0; i < sizeof(mm->inflight) / sizeof(mm->inflight[0]);
	     i++) {
		if ((mm->inflight[i].folio == f ||
		     mm->p.inflight_del_by_entry) &&
		    swp_entry_same(mm->inflight[i].entry, entry)) {
			mm->inflight[i].entry.val = 0;
			mm->inflight[i].folio = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&mm->inflight_lock);
}

/*
 * inflight_wait - fallback's loser: sleep on the lock of the winner's
 * private folio for @entry.  The winner holds that lock from before its
 * read until after its install and swapcache_clear, and keeps the folio in
 * the table (with its reference) until then, so our folio_get is safe
 * under inflight_lock.  Return: whether there was a winner to wait on.
 */
static bool inflight_wait(struct mm *mm, swp_entry_t entry)
{
	struct folio *folio = NULL;

	pthread_mutex_lock(&mm->inflight_lock);
	for (size_t i = 0; i < sizeof(mm->inflight) / sizeof(mm->inflight[0]);
	     i++) {
		if (swp_entry_same(mm->inflight[i].entry, entry)) {
			folio = mm->inflight[i].folio;
			folio_get(folio);
			break;
		}
	}
	pthread_mutex_unlock(&mm->inflight_lock);
	if (!folio)
		return false;
	folio_lock(folio);
	folio_unlock(folio);
	folio_put(folio);
	return true;
}

/* waitqueue's loser: sleep at most a tick; woken after swapcache_clear. */
static void wq_wait(struct mm *mm)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += TICK_NS;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mm->wq_lock);
	atomic_fetch_add(&mm->wq_waiters, 1);
	pthread_cond_timedwait(&mm->wq_cond, &mm->wq_lock, &ts);
	atomic_fetch_sub(&mm->wq_waiters, 1);
	pthread_mutex_unlock(&mm->wq_lock);
}

static void wq_wake_all(struct mm *mm)
{
	if (!atomic_load(&mm->wq_waiters))
		return;
	pthread_mutex_lock(&mm->wq_lock);
	pthread_cond_broadcast(&mm->wq_cond);
	pthread_mutex_unlock(&mm->wq_lock);
}

/*
 * swapin_loser - a bypass swap-in found E pinned by someone else.
 * Return: 0 (faulter woken: it faults again) or -EAGAIN (fallback waited
 * on the winner: look again).
 */
static int swapin_loser(struct mm *mm, uint64_t addr, swp_entry_t entry)
{
	mm_hook(MM_HOOK_SWAPIN_LOSER, entry);
	STAT_INC(mm, loser_waits);
	switch (mm->p.policy) {
	case SWAPIN_FALLBACK:
		if (inflight_wait(mm, entry))
			return -EAGAIN;
		sched_yield(); /* a swap-out's pin: its folio is cached */
		return -EAGAIN;
	case SWAPIN_SLEEP:
		sleep_ns(TICK_NS);
		break;
	case SWAPIN_WAITQUEUE:
		wq_wait(mm);
		break;
	default: /* retry */
		break;
	}
	STAT_INC(mm, loser_wakes);
	wake_faulter(mm, addr);
	return 0;
}

/* retry, sleep, waitqueue, fallback: the 6.8 bypass after a cache miss. */
static int swapin_bypass(struct mm *mm, struct mm_region *r, uint64_t addr,
			 swp_entry_t entry)
{
	enum install_result res;
	struct folio *folio;
	bool moved, listed = false;
	int ret;

	ret = swapcache_prepare(entry);
	if (ret == -ENOENT)
		return -EAGAIN; /* slot freed: the pte changed */
	if (ret == -EEXIST)
		return swapin_loser(mm, addr, entry);
	if (ret < 0)
		return ret;
	folio = mm_folio_alloc(mm);
	folio_lock(folio);
	if (mm->p.policy == SWAPIN_FALLBACK)
		listed = inflight_add(mm, entry, folio);
	swapin_read(mm, entry, folio);
	res = swapin_install(mm, r, addr, entry, folio, &moved, false);
	swapcache_clear(entry); /* the slot is freed here if count is 0 */
	mm_hook(MM_HOOK_SWAPIN_CLEARED, entry);
	if (listed)
		inflight_del(mm, entry, folio);
	if (mm->p.policy == SWAPIN_WAITQUEUE)
		wq_wake_all(mm);
	swapin_finish(mm, addr, folio, moved, res, 2);
	return 0;
}

#ifdef USWAP_TEST_HOOKS
/*
 * The 6.7 bypass: nothing pins E.  If E is freed (by the winner's
 * swap_free) and reused by a swap-out while we read, our pte check passes
 * on the new E, we install stale data and drop the new owner's reference.
 * A freed slot reads as zeros, as zram's did.
 */
static int swapin_unsafe(struct mm *mm, struct mm_region *r, uint64_t addr,
			 swp_entry_t entry)
{
	struct folio *folio = mm_folio_alloc(mm);
	enum install_result res;
	bool moved;
	int ret;

	folio_lock(folio);
	ret = swapin_read(mm, entry, folio);
	if (ret == -ENOENT) {
		memset(folio->data, 0, PAGE_SIZE);
		folio_clear_flag(folio, PG_error);
		folio_set_flag(folio, PG_uptodate);
	}
	res = swapin_install(mm, r, addr, entry, folio, &moved, false);
	swapin_finish(mm, addr, folio, moved, res, 2);
	return 0;
}
#endif

/*
 * do_swap_page - see internal.h.  Loops on -EAGAIN (the folio it found
 * left the cache, or the slot changed): each round re-reads the pte first,
 * and a pte that no longer holds @entry ends it with a wake-up.
 * Context: a handler thread (or uswap_close), holding a reference on @r and
 * no locks.
 */
int do_swap_page(struct mm *mm, struct mm_region *r, uint64_t addr,
		 swp_entry_t entry)
{
	unsigned long rounds = 0;
	int ret;

	mm_charge(mm, 1);
	for (;;) {
		struct folio *folio;

		if (!pte_holds(r, addr, entry)) {
			wake_faulter(mm, addr);
			return 0;
		}
		folio = swap_cache_get_folio(entry); /* swapin_lookup */
		if (folio) {
			ret = swapin_cached(mm, r, addr, entry, folio, 1);
		} else {
			mm_hook(MM_HOOK_SWAPIN_CACHE_MISS, entry);
			switch (mm->p.policy) {
			case SWAPIN_UNIFIED:
				ret = swapin_unified(mm, r, addr, entry);
				break;
#ifdef USWAP_TEST_HOOKS
			case SWAPIN_UNSAFE:
				ret = swapin_unsafe(mm, r, addr, entry);
				break;
#endif
			default:
				ret = swapin_bypass(mm, r, addr, entry);
				break;
			}
		}
		if (ret != -EAGAIN)
			break;
		if (++rounds % 1024 == 0)
			sleep_ns(100000);
	}
	if (ret < 0) {
		STAT_INC(mm, errors);
		wake_faulter(mm, addr);
	}
	return ret;
}

static bool ra_slot_holds(struct ra_slot *s, pid_t tid,
			  const struct mm_region *r)
{
	return atomic_load_explicit(&s->tid, memory_order_relaxed) ==
		       (uint64_t)tid &&
	       atomic_load_explicit(&s->region, memory_order_relaxed) ==
		       (uint64_t)(uintptr_t)r;
}

/*
 * ra_slot_of - the readahead stream slot of thread @tid in region @r: one
 * of two slots the hash picks, the one that holds the stream, else the one
 * used longer ago.  With one slot per hash two streams in step that hashed
 * alike broke each other at every fault and nothing was read ahead, for
 * the process's whole life: 1 pair in 64 (the likely cause of one failure
 * of mm-readahead's two regions in about 300 runs).  With two choices
 * both of a stream's slots must be the other's one slot.
 */
static struct ra_slot *ra_slot_of(struct mm *mm, pid_t tid,
				  const struct mm_region *r)
{
	uint64_t h = ((uint64_t)(uint32_t)tid ^ (uint64_t)(uintptr_t)r) *
		     0x9e3779b97f4a7c15ULL;
	struct ra_slot *a = &mm->ra[h >> 58], *b = &mm->ra[(h >> 52) & 63];
	uint64_t now = atomic_fetch_add_explicit(&mm->ra_clock, 1,
						 memory_order_relaxed) +
		       1;
	struct ra_slot *s = b;

	_Static_assert(RA_SLOTS == 64, "ra_slot_of takes 6 bits twice");
	if (ra_slot_holds(a, tid, r) ||
	    (!ra_slot_holds(b, tid, r) &&
	     atomic_load_explicit(&a->used, memory_order_relaxed) <=
		     atomic_load_explicit(&b->used, memory_order_relaxed)))
		s = a;
	atomic_store_explicit(&s->used, now, memory_order_relaxed);
	return s;
}

/* readahead_install - swapin_install @folio (locked) at @addr, release it. */
static void readahead_install(struct mm *mm, struct mm_region *r, uint64_t addr,
			      swp_entry_t entry, struct folio *folio)
{
	bool moved;

	/* not active: a prefetch is no reference */
	if (swapin_install(mm, r, addr, entry, folio, &moved, false) ==
	    INSTALLED)
		STAT_INC(mm, readahead);
	swapin_release(mm, folio, moved);
}

/*
 * cached_install - install @folio (referenced), found in the swap cache
 * for @entry, at @addr, as a minor fault would, unless its lock is taken
 * (someone is reading, evicting or installing it: skip, never wait).
 * @active: onto the active list.
 * Return: swapin_install's result; LOST when skipped.
 * Context: no folio or pte lock held; @folio's reference is dropped.
 */
static enum install_result cached_install(struct mm *mm, struct mm_region *r,
					  uint64_t addr, swp_entry_t entry,
					  struct folio *folio, bool active)
{
	enum install_result res;
	bool moved;

	if (!folio_trylock(folio)) {
		folio_put(folio);
		return LOST;
	}
	/* as in swapin_cached: it may have left the cache before our lock */
	if (!folio_test(folio, PG_swapcache) ||
	    !swp_entry_same(folio->swap, entry) ||
	    folio_test(folio, PG_error)) {
		folio_unlock(folio);
		folio_put(folio);
		return LOST;
	}
	res = swapin_install(mm, r, addr, entry, folio, &moved, active);
	swapin_release(mm, folio, moved);
	return res;
}

/*
 * readahead_cached - readahead found @folio (referenced) in the swap cache
 * for the neighbour @addr's entry: install it (cached_install; not
 * active: a prefetch is no reference).  Without this a stream met each
 * folio still in the cache (evicted and not compressed yet, or read by a
 * swap-in whose install the remove fence refused) as a fault of its own:
 * 0.4 per window of 8 in the benchmark's sequential sweep.
 * Context: no folio or pte lock held; @folio's reference is dropped.
 */
static void readahead_cached(struct mm *mm, struct mm_region *r, uint64_t addr,
			     swp_entry_t entry, struct folio *folio)
{
	if (cached_install(mm, r, addr, entry, folio, false) == INSTALLED)
		STAT_INC(mm, readahead);
}

bool swapin_put_back(struct mm *mm, struct mm_region *r, uint64_t addr,
		     swp_entry_t entry)
{
	struct folio *folio = swap_cache_get_folio(entry);

	return folio &&
	       cached_install(mm, r, addr, entry, folio, true) == INSTALLED;
}

/*
 * swapin_readahead - at a swap fault at @addr, swap in the neighbours of
 * its window (readahead_pages, aligned, same pte table): an entry not
 * cached yet through the unified steps (insert into the swap cache first,
 * whatever the policy: a racing fault finds the folio at step 1), a cached
 * one by readahead_cached.  Never waits: a neighbour already being handled
 * is skipped.  Only when the faults of the region look sequential.
 * Context: the thread serving the fault, before it swaps in the faulting
 * page (fault.c says why).
 */
void swapin_readahead(struct mm *mm, struct mm_region *r, uint64_t addr,
		      pid_t tid)
{
	unsigned win = mm->p.readahead_pages;
	struct ra_slot *s;
	uint64_t idx = (addr - r->start) >> PAGE_SHIFT, prev, step, base, a;
	bool same, down;

	if (win <= 1 || atomic_load(&mm->closing))
		return;
	s = ra_slot_of(mm, tid, r);
	/*
	 * Only for sequential access: this fault of the thread lies just
	 * after its previous swap fault in the region (or that one's
	 * readahead window), or just before it, and so did the one before,
	 * in the same direction.  Down too: CPython frees a list from its
	 * end (list_dealloc), and paid a fault per page for it; the
	 * kernel's swap_ra_info reads below the fault when it is just
	 * below the previous one.  The aligned window serves both: a
	 * stream going down faults at the top of each.  Random access
	 * would swap in pages nobody wants, and evict others; one pair of
	 * neighbours is not a stream (Redis's random GETs met such pairs
	 * often enough to swap in 1.8 pages per fault when one pair was
	 * enough).  Per thread: two threads sweeping one region are two
	 * streams.  Per region too: a thread that sweeps two regions in step
	 * (Python's sum over a list reads the list's array and the int
	 * objects' arenas, each its own mapping) made each fault break the
	 * other's stream, and nothing was read ahead; the kernel keeps its
	 * swap readahead hint per vma (swap_vma_readahead).
	 */
	same = ra_slot_holds(s, tid, r);
	prev = atomic_exchange_explicit(&s->page, idx, memory_order_relaxed);
	atomic_store_explicit(&s->tid, (uint64_t)tid, memory_order_relaxed);
	atomic_store_explicit(&s->region, (uint64_t)(uintptr_t)r,
			      memory_order_relaxed);
	down = idx < prev;
	step = down ? prev - idx : idx - prev;
	if (!same || step == 0 || step > 2 * (uint64_t)win) {
		atomic_store_explicit(&s->run, 0, memory_order_relaxed);
		return;
	}
	if (atomic_exchange_explicit(&s->down, down, memory_order_relaxed) !=
	    down) {
		/* a step against the last one: the first of a new stream */
		atomic_store_explicit(&s->run, 1, memory_order_relaxed);
		return;
	}
	if (atomic_fetch_add_explicit(&s->run, 1, memory_order_relaxed) < 1)
		return;
	base = addr & ~((uint64_t)win * PAGE_SIZE - 1);
	if (base < r->start)
		base = r->start;
	for (a = base; a < base + (uint64_t)win * PAGE_SIZE && a < r->end;
	     a += PAGE_SIZE) {
		struct pte_table *tbl;
		struct mm_page *page = region_page(r, a, &tbl);
		uint64_t pte = atomic_load(&page->pte);
		struct folio *folio, *other = NULL;
		swp_entry_t entry;

		/* a page being dropped takes no install (PTE_ZAP) */
		if (a == addr || !pte_is_swap(pte) || pte_zapping(pte))
			continue;
		entry = pte_to_swp_entry(pte);
		folio = folio_alloc(mm->pool);
		if (!folio)
			return;
		mm_charge(mm, 1);
		folio_lock(folio);
		if (swap_cache_prepare_and_add(entry, folio, &other) != 0) {
			folio_unlock(folio);
			folio_put(folio);
			if (other)
				readahead_cached(mm, r, a, entry, other);
			continue;
		}
		swapin_read(mm, entry, folio);
		if (folio_test(folio, PG_error)) {
			/* leave it to a real fault (which will poison) */
			swap_cache_del_folio(folio, NULL);
			folio_unlock(folio);
			folio_put(folio);
			continue;
		}
		readahead_install(mm, r, a, entry, folio);
	}
}
