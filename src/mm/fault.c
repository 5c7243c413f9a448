/*
 * Fault handler threads: read events from the regions' uffd (src/uffd/) and
 * dispatch them.  A missing fault goes by its pte:
 *   none     do_anonymous_page: zero fill (with fault-around: a window of
 *            untouched neighbours in the same ioctl)
 *   swap E   do_swap_page (swapin.c): minor from the swap cache, or major
 *            from the device
 *   present  the process lost the page (its own MADV_DONTNEED, whose
 *            remove event another handler may not have applied yet) or a
 *            duplicate message: zero fill; EEXIST means it is there
 *   poison   the poison marker was zapped: poison again
 * Remove and unmap events clear ptes and free slots (region.c).
 *
 * Stopping: handlers block in poll(2) then read(2) the nonblocking fd (one
 * syscall more than a blocking read, research notes Q2, so that the remove
 * fence (install_lock, internal.h) is held only around the read itself).  To stop them without signals, uswap_close sets handlers_stop
 * and discards one "doorbell" page per handler, a registered page outside
 * every region: the handler that reads its remove event exits.
 *
 * With USWAP_F_SIGBUS (mm_params.sigbus) faults are served in the faulting
 * thread's SIGBUS handler instead (see the end of this file).
 *
 * Lock order: see internal.h; this file takes pte locks (then lru_lock)
 * and region_lock (alone).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mm/internal.h"

/*
 * The calling thread's id, cached: in the in-thread mode every fault
 * asked gettid(2), 2% of the faulting thread's time on this VM (perf of
 * the uniform workload).  Only readahead streams and the repeated-fault
 * count use it.  fork_child forgets it: the child's one thread is new.
 */
static _Thread_local pid_t cached_tid;

pid_t mm_tid(void)
{
	if (!cached_tid)
		cached_tid = gettid();
	return cached_tid;
}

void mm_tid_forget(void)
{
	cached_tid = 0;
}

void wake_faulter(struct mm *mm, uint64_t addr)
{
	uffd_wake(&mm->uffd, addr & ~(PAGE_SIZE - 1), PAGE_SIZE);
}

/*
 * note_swap_fault - count a repeated fault: the same thread faulting again
 * on the same address while the pte holds the same entry, with no install
 * of the page in between (the page's gen: so a slot number reused by a
 * later swap-out of the same page does not count).  The price of the retry
 * policies.  Relaxed: statistics only.
 */
static void note_swap_fault(struct mm *mm, pid_t tid, uint64_t addr,
			    struct mm_page *page, uint64_t pte)
{
	struct repeat_slot *s = &mm->repeat[(uint32_t)tid % REPEAT_SLOTS];
	uint64_t gen = atomic_load_explicit(&page->gen, memory_order_relaxed);

	if (tid &&
	    atomic_load_explicit(&s->tid, memory_order_relaxed) ==
		    (uint64_t)tid &&
	    atomic_load_explicit(&s->addr, memory_order_relaxed) == addr &&
	    atomic_load_explicit(&s->pte, memory_order_relaxed) == pte &&
	    atomic_load_explicit(&s->gen, memory_order_relaxed) == gen)
		STAT_INC(mm, faults_repeat);
	atomic_store_explicit(&s->tid, (uint64_t)tid, memory_order_relaxed);
	atomic_store_explicit(&s->addr, addr, memory_order_relaxed);
	atomic_store_explicit(&s->pte, pte, memory_order_relaxed);
	atomic_store_explicit(&s->gen, gen, memory_order_relaxed);
}

/*
 * signal_backoff - in the SIGBUS mode, a fault that cannot be served yet
 * (an install refused while an event is pending: EAGAIN; a page being
 * dropped: PTE_ZAP) returns and is retried at once: there is no sleeping
 * faulter to wake later.  Each retry is another SIGBUS, and a thread that
 * retries without a pause keeps the CPU from the handler thread that must
 * read the event first (measured: 100-300 ms stalls with 2 program
 * threads, 4-5x the repeated faults).  So: give the CPU away (sched_yield)
 * the first few times at one address, then sleep 20 us each time.
 * Context: the faulting thread's SIGBUS handler; async-signal-safe.
 */
static void signal_backoff(uint64_t addr)
{
	static _Thread_local uint64_t last;
	static _Thread_local unsigned tries;
	const struct timespec nap = {.tv_nsec = 20000};

	if (addr != last) {
		last = addr;
		tries = 0;
	}
	if (tries++ < 8)
		sched_yield();
	else
		nanosleep(&nap, NULL);
}

/*
 * wake_later - an install for @addr failed with EAGAIN: an event (remove,
 * unmap) is queued, or was read and its sender has not run yet (the
 * kernel's mmap_changing, which the sender drops when it wakes).  Waking
 * the faulter now makes it fault again at once; the uffd hands out faults
 * before events, so with enough faulters the event would starve behind
 * their retries (a window eviction's drop does this to every fault in
 * flight).  So the faulter sleeps until wake_deferred: after a batch with
 * an event was applied, after a window eviction's drop returned, or when
 * the reader's poll times out (1 ms while anyone waits here).  A full list
 * wakes at once, as before.  In the SIGBUS mode the faulter is this
 * thread: it backs off and retries (signal_backoff).
 * Context: a handler thread, or a SIGBUS handler; no locks held.
 */
void wake_later(struct mm *mm, uint64_t addr)
{
	unsigned n;

	if (mm_in_signal) {
		signal_backoff(addr);
		return;
	}

	pthread_mutex_lock(&mm->later_lock);
	n = atomic_load(&mm->nlater);
	if (n < sizeof(mm->later) / sizeof(mm->later[0])) {
		mm->later[n] = addr;
		atomic_store(&mm->nlater, n + 1);
		addr = 0;
	}
	pthread_mutex_unlock(&mm->later_lock);
	if (addr) {
		wake_faulter(mm, addr);
	} else if (n == 0) {
		/*
		 * The first one: the reader may be in a poll without a
		 * timeout, begun before we added it (and the event we met
		 * read already): kick it, so that it polls again with one.
		 */
		uint64_t one = 1;

		if (write(mm->later_fd, &one, sizeof(one)) < 0)
			wake_deferred(mm);
	}
}

/* wake_deferred - wake the faulters wake_later left asleep. */
void wake_deferred(struct mm *mm)
{
	uint64_t addr[sizeof(mm->later) / sizeof(mm->later[0])];
	unsigned n;

	if (!atomic_load(&mm->nlater))
		return;
	pthread_mutex_lock(&mm->later_lock);
	n = atomic_load(&mm->nlater);
	memcpy(addr, mm->later, n * sizeof(addr[0]));
	atomic_store(&mm->nlater, 0);
	pthread_mutex_unlock(&mm->later_lock);
	for (unsigned i = 0; i < n; i++)
		wake_faulter(mm, addr[i]);
}

/*
 * install_zero - zero fill.  EAGAIN means an event (remove, unmap) is
 * queued and not read yet (the kernel's mmap_changing): retry a little,
 * then give up (the caller wakes the faulter, which faults again).  Never
 * spin until it is read: the reader may be this very thread (or all the
 * others are parked for a fork, waiting for a doorbell behind that event).
 */
static long install_zero(struct mm *mm, uint64_t addr, size_t len, bool write)
{
	int tries = 0;
	long ret;

	do {
		if (write)
			ret = uffd_copy(&mm->uffd, addr, mm->zero_page, len, 0);
		else
			ret = uffd_zeropage(&mm->uffd, addr, len, 0);
	} while (ret == -EAGAIN && ++tries < 16 &&
		 (sched_yield(), !atomic_load(&mm->closing)));
	return ret;
}

/*
 * signal_fence - the remove fence (install_lock, internal.h) for a zero
 * fill served in the faulting thread (the SIGBUS mode).  A handler thread
 * needs none: it reads the fault after the remove events before it, and
 * their reader applied them before releasing read_lock.  The faulting
 * thread reads nothing, so it can come between a remove event's read and
 * its application:
 *   thread T                       handler R
 *   madvise(DONTNEED) of page p     read(2): the remove event
 *    (released) zap; returns
 *   touches p: SIGBUS
 *   zero fill: pte PRESENT
 *                                   apply: p PRESENT, so "the kernel
 *                                   zaps it": p->discarded
 *   reclaim finds p discarded and forgets it: pte NONE over a page
 *   the program holds (seen as mm-adopt-sigbus's "the page is not
 *   uswap's: 0 evicted, pte 0", in 2 of 3 clean-clone CI runs and 1 of
 *   90 runs by hand under load).
 * So under the pte lock we try install_lock for reading, as swapin_install
 * does; failing, we install nothing and back off: the access faults again
 * once the event is applied.
 * Return: false when the fence is up (install nothing, back off); else
 * true, with *@fenced telling whether we hold install_lock for reading
 * (release it once the pte is updated, before the pte lock).
 */
static bool signal_fence(struct mm *mm, bool *fenced)
{
	*fenced = false;
	if (!mm_in_signal || mm->p.unfenced_installs)
		return true;
	if (pthread_rwlock_tryrdlock(&mm->install_lock) != 0) {
		STAT_INC(mm, install_fenced);
		return false;
	}
	*fenced = true;
	return true;
}

/*
 * do_anonymous_page - first touch of a page whose pte is none: install
 * zeros.  A write fault gets a copied zero page (a ZEROPAGE would cost a
 * second, copy-on-write fault); a read fault the shared zero page.
 * Fault-around: the untouched neighbours in the aligned window of
 * fault_around_pages are filled by the same ioctl.
 * Return: 0; -EAGAIN when the pte changed before we locked it.
 * Context: a handler thread; takes the pte lock.
 */
static int do_anonymous_page(struct mm *mm, struct mm_region *r, uint64_t addr,
			     bool write)
{
	unsigned win = mm->p.fault_around_pages;
	struct pte_table *tbl;
	struct mm_page *page = region_page(r, addr, &tbl);
	size_t i = (size_t)(page - tbl->pages), lo = i, hi = i + 1, wbase;
	bool fenced;
	uint64_t pte;
	long ret;

	mm_charge(mm, win);
	pthread_mutex_lock(&tbl->lock);
	pte = atomic_load(&page->pte);
	/* a plain page that faults is gone: the program dropped it */
	if (pte != PTE_NONE && pte != PTE_PLAIN) {
		pthread_mutex_unlock(&tbl->lock);
		return -EAGAIN;
	}
	if (!signal_fence(mm, &fenced)) {
		pthread_mutex_unlock(&tbl->lock);
		wake_later(mm, addr); /* in the signal: back off */
		return 0;
	}
	if (win > 1) {
		/* within the region: a shared table may reach beyond it */
		wbase = i & ~((size_t)win - 1);
		while (lo > wbase &&
		       tbl->addr + (lo - 1) * PAGE_SIZE >= r->start &&
		       atomic_load(&tbl->pages[lo - 1].pte) == PTE_NONE)
			lo--;
		while (hi < wbase + win &&
		       tbl->addr + hi * PAGE_SIZE < r->end &&
		       atomic_load(&tbl->pages[hi].pte) == PTE_NONE)
			hi++;
	}
	ret = install_zero(mm, tbl->addr + lo * PAGE_SIZE,
			   (hi - lo) * PAGE_SIZE, write);
	if (hi - lo > 1 && ret != 0 && ret != (long)((hi - lo) * PAGE_SIZE)) {
		/* partial or failed window: just the faulting page */
		if (ret > 0) {
			size_t done = (size_t)ret / PAGE_SIZE;

			for (size_t j = lo; j < lo + done; j++) {
				atomic_store(&tbl->pages[j].pte, PTE_PRESENT);
				tbl->pages[j].discarded = false;
				lru_add(mm, &tbl->pages[j]);
			}
			if (i < lo + done)
				goto out;
		}
		lo = i;
		hi = i + 1;
		ret = install_zero(mm, addr, PAGE_SIZE, write);
	}
	if (ret < 0 && ret != -EEXIST) {
		if (fenced)
			pthread_rwlock_unlock(&mm->install_lock);
		pthread_mutex_unlock(&tbl->lock);
		if (ret == -EAGAIN)
			wake_later(mm, addr);
		else
			wake_faulter(mm, addr);
		return 0;
	}
	for (size_t j = lo; j < hi; j++) {
		atomic_store(&tbl->pages[j].pte, PTE_PRESENT);
		tbl->pages[j].discarded = false;
		lru_add(mm, &tbl->pages[j]);
	}
out:
	if (fenced)
		pthread_rwlock_unlock(&mm->install_lock);
	pthread_mutex_unlock(&tbl->lock);
	STAT_INC(mm, faults_zero);
	return 0;
}

/*
 * do_lost_page - a fault on a present or poisoned pte: see the file
 * comment.  In the SIGBUS mode it is also every write to a present page
 * left write-protected, which a SIGBUS does not tell apart: the install
 * finds the page there (EEXIST), so we un-protect it, as do_wp_page does
 * for a handler.  Under the pte lock a present pte is no eviction's
 * (window eviction holds the lock from its write-protect to its marks),
 * so the protection is a leftover: a back-off whose un-protect the kernel
 * refused while an event was pending (zap.c, zap_back_off).  Without it
 * the write faulted again for good (mm-sigbus_wp_left: 790,704 faults in
 * 5 s).  The un-protect of a page not protected (two threads faulted it)
 * changes no pte and flushes nothing; one refused again (EAGAIN) backs
 * off and is retried like a refused install.
 * Context: a handler thread or a SIGBUS handler; takes the pte lock.
 */
static int do_lost_page(struct mm *mm, struct mm_region *r, uint64_t addr,
			bool write, uint64_t pte)
{
	struct pte_table *tbl;
	struct mm_page *page = region_page(r, addr, &tbl);
	bool fenced;
	long ret;

	pthread_mutex_lock(&tbl->lock);
	if (atomic_load(&page->pte) != pte || pte_zapping(pte)) {
		pthread_mutex_unlock(&tbl->lock);
		return -EAGAIN;
	}
	if (!signal_fence(mm, &fenced)) {
		pthread_mutex_unlock(&tbl->lock);
		wake_later(mm, addr); /* in the signal: back off */
		return 0;
	}
	if (pte == PTE_POISON)
		ret = uffd_poison(&mm->uffd, addr, PAGE_SIZE, 0);
	else
		ret = install_zero(mm, addr, PAGE_SIZE, write);
	if (ret >= 0)
		page->discarded = false; /* a new page, after the zap */
	else if (ret == -EEXIST && mm_in_signal && pte == PTE_PRESENT)
		ret = uffd_writeprotect(&mm->uffd, addr, PAGE_SIZE, false, 0);
	if (fenced)
		pthread_rwlock_unlock(&mm->install_lock);
	pthread_mutex_unlock(&tbl->lock);
	if (ret == -EAGAIN)
		wake_later(mm, addr);
	else if (ret < 0 && ret != -EEXIST)
		wake_faulter(mm, addr);
	return 0;
}

/*
 * do_wp_page - a write to a write-protected page of a region.  Only a
 * window eviction write-protects region pages (zap.c), from before its
 * copy until the page is marked PTE_ZAP under the same pte lock, then
 * dropped.  So under the pte lock:
 *   PTE_ZAP: the page is on its way out; the writer stays asleep until
 *     the evictor wakes its ranges (then it faults again, missing, and
 *     swaps the copy in from the swap cache);
 *   present: an eviction that backed off (its un-protect may have been
 *     refused, below), or one in another table between its write-protect
 *     and its marks (we waited for its pte lock): un-protect, which wakes
 *     the writer;
 *   else: a stale message: wake the writer.
 * The kernel refuses an un-protect with EAGAIN while a remove or unmap
 * event is pending (mmap_changing), and then wakes nobody.  The writer
 * sleeps until wake_later wakes it, after the event was applied, and
 * faults again.  Race, when the result was ignored:
 *   writer           handler                    reclaimer
 *   write P (WP)
 *    -> WP fault                                 process_madvise(window)
 *                                                 -> remove event queued
 *                    read: the fault first
 *                    un-protect P: EAGAIN
 *                    read the remove event
 *   asleep for good                              wakes its own ranges only
 * (python3 under `uswap run` hung so in CI, stop 15; mm-wp_event_pending.)
 * Context: a handler thread, or the writer's own SIGBUS handler (there
 * the wake-ups are no-ops and wake_later backs off: the access is retried
 * on return); takes the pte lock.
 */
static void do_wp_page(struct mm *mm, struct mm_region *r, uint64_t addr)
{
	struct pte_table *tbl;
	struct mm_page *page = region_page(r, addr, &tbl);
	uint64_t pte;
	int ret = 0;

	mm_hook(MM_HOOK_WP_FAULT, (swp_entry_t){0});
	pthread_mutex_lock(&tbl->lock);
	pte = atomic_load(&page->pte);
	if (pte == PTE_PRESENT)
		ret = uffd_writeprotect(&mm->uffd, addr, PAGE_SIZE, false, 0);
	pthread_mutex_unlock(&tbl->lock);
	if (pte_zapping(pte)) {
		STAT_INC(mm, zap_waits);
	} else if (ret == -EAGAIN) {
		STAT_INC(mm, wp_again);
		wake_later(mm, addr);
	} else if (pte != PTE_PRESENT || ret < 0) {
		wake_faulter(mm, addr);
	}
}

/*
 * serve_fault - serve a missing fault at @ev->fault.addr in region @r.
 * Context: a handler thread, or the faulting thread itself in its SIGBUS
 * handler (USWAP_F_SIGBUS); holds a reference on @r, no locks.
 */
static void serve_fault(struct mm *mm, struct mm_region *r,
			const struct uffd_event *ev)
{
	uint64_t addr = ev->fault.addr & ~(PAGE_SIZE - 1);

	if (ev->fault.wp) {
		do_wp_page(mm, r, addr);
		return;
	}
	STAT_INC(mm, faults);
	atomic_fetch_add(&mm->faults_inflight, 1);
	for (int tries = 0;; tries++) {
		struct pte_table *tbl;
		struct mm_page *page = region_page(r, addr, &tbl);
		uint64_t pte = atomic_load(&page->pte);
		int ret;

		if (pte_zapping(pte)) {
			/*
			 * Being dropped by a window eviction: nothing may be
			 * installed until it is done (internal.h, PTE_ZAP).
			 * The faulter stays asleep: the evictor wakes every
			 * fault in its ranges once it cleared the marks
			 * (zap.c).  Waking it now would make it fault again
			 * at once, and the uffd hands out faults before
			 * events: the drop's own events would starve.
			 */
			STAT_INC(mm, zap_waits);
			if (mm_in_signal) /* no wake-up will come */
				signal_backoff(addr);
			break;
		}
		if (pte == PTE_NONE || pte == PTE_PLAIN) {
			ret = do_anonymous_page(mm, r, addr, ev->fault.write);
		} else if (pte_is_swap(pte)) {
			note_swap_fault(mm, ev->fault.tid, addr, page, pte);
			/*
			 * Readahead first, the faulting page last.  Its
			 * faulter sleeps until its own page is in, so it
			 * cannot run into the window's other pages while they
			 * are being installed.  With the faulting page first
			 * it did, almost page by page: installing a page takes
			 * this thread microseconds, touching one takes the
			 * program nanoseconds, so each neighbour became a fault
			 * of its own, with its hand-off and its wake-up
			 * (docs/pager.md, "Readahead first").  The kernel's
			 * swapin_readahead also reads the cluster before
			 * do_swap_page maps the page.
			 */
			swapin_readahead(mm, r, addr, ev->fault.tid);
			ret = do_swap_page(mm, r, addr, pte_to_swp_entry(pte));
			mm_hook(MM_HOOK_SWAPIN_DONE, pte_to_swp_entry(pte));
			ret = 0;
		} else {
			/*
			 * Present, or poisoned.  In the SIGBUS mode also a
			 * write to a write-protected page (a SIGBUS does not
			 * say which).  A window eviction protects region
			 * pages under their pte lock and, before unlocking,
			 * marks them PTE_ZAP or un-protects them; so
			 * do_lost_page waits for it and finds the pte
			 * changed (-EAGAIN: PTE_ZAP, wait above) or the page
			 * there (EEXIST).  On EEXIST it un-protects: the
			 * protection of a present pte is then one the kernel
			 * refused to lift (see do_lost_page).
			 */
			ret = do_lost_page(mm, r, addr, ev->fault.write, pte);
		}
		if (ret != -EAGAIN)
			break;
		if (tries > 1000) {
			wake_faulter(mm, addr);
			break;
		}
	}
	atomic_fetch_sub(&mm->faults_inflight, 1);
}

static void handle_fault(struct mm *mm, const struct uffd_event *ev)
{
	struct mm_region *r = region_get(mm, ev->fault.addr);

	if (!r) {
		wake_faulter(mm, ev->fault.addr);
		return;
	}
	serve_fault(mm, r, ev);
	region_put(r);
}

/*
 * mm_quiesce - see mm.h.  An event (remove, unmap) releases the thread that
 * caused it as soon as it is read, before it is applied.  Batches are read
 * and applied one at a time under read_lock, and counted after they are
 * applied (batches_done).  Every event read before we start is in the
 * batch being applied now or an earlier one; we raise an event of our own
 * (a remove on our page: madvise returns once it is read) and wait until a
 * batch more than when we started is done.  Then the faults in flight.
 * Context: not a handler thread; serialised by quiesce_lock.
 */
void mm_quiesce(struct mm *mm)
{
	char *sync = (char *)mm->bell + mm->p.threads * PAGE_SIZE;
	uint64_t b0;

	pthread_mutex_lock(&mm->quiesce_lock);
	b0 = atomic_load(&mm->batches_done);
	madvise(sync, PAGE_SIZE, MADV_DONTNEED);
	while (atomic_load(&mm->batches_done) <= b0)
		sched_yield();
	pthread_mutex_unlock(&mm->quiesce_lock);
	while (atomic_load(&mm->unmaps_pending) > 0)
		sched_yield();
	while (atomic_load(&mm->faults_inflight) > 0)
		sched_yield();
}

enum { EV_NONE, EV_STOP, EV_PARK };

/*
 * zap_event_ours - whether the remove event of [start, end) is a window
 * eviction's own drop (zap.c): a range it registered,
 * exactly, not seen yet.  Each range raises one event: zap_evict drops
 * only ranges inside one vma (vma_covers).  The program's own discard of
 * exactly the same range at the same moment may be taken for ours; then
 * ours is taken for the program's, marks the pages PTE_DISCARD, and they
 * read zero: what the program asked for.  Any other event over a page
 * being dropped marks it too (discard_table).
 * Context: the event reader (read_lock); takes zap_lock.
 */
bool zap_event_ours(struct mm *mm, uint64_t start, uint64_t end)
{
	bool ours = false;

	pthread_mutex_lock(&mm->zap_lock);
	for (int i = 0; i < ZAP_RANGES && !ours; i++) {
		struct zap_range *z = &mm->zap_ranges[i];

		if (z->start == start && z->end == end && !z->seen &&
		    start != end)
			ours = z->seen = true;
	}
	pthread_mutex_unlock(&mm->zap_lock);
	return ours;
}

/*
 * handle_event - a remove, unmap, remap or fork event.  Return: EV_STOP
 * when it was a doorbell (a remove event on a doorbell page) and the
 * handler must stop, EV_PARK when it must park for a fork (fork.c).
 * Context: a handler thread holding mm->read_lock.
 */
static int handle_event(struct mm *mm, const struct uffd_event *ev)
{
	uint64_t bell = (uint64_t)(uintptr_t)mm->bell;

	switch (ev->kind) {
	case UFFD_EV_REMOVE:
		if (bell && ev->range.start >= bell &&
		    ev->range.start < bell + mm->p.threads * PAGE_SIZE) {
			if (atomic_load(&mm->handlers_stop))
				return EV_STOP;
			return atomic_load(&mm->park) ? EV_PARK : EV_NONE;
		}
		if (zap_event_ours(mm, ev->range.start, ev->range.end))
			break; /* a window eviction's own drop */
		mm_discard_range(mm, ev->range.start, ev->range.end, false);
		break;
	case UFFD_EV_UNMAP:
		/* applied after read_lock is dropped (handler_main) */
		atomic_fetch_add(&mm->unmaps_pending, 1);
		break;
	case UFFD_EV_REMAP:
		fprintf(stderr,
			"uswap: mremap of a uswap region is not supported "
			"(%#llx -> %#llx)\n",
			(unsigned long long)ev->remap.from,
			(unsigned long long)ev->remap.to);
		STAT_INC(mm, errors);
		break;
	case UFFD_EV_FORK:
		close(ev->fork.ufd);
		break;
	case UFFD_EV_FAULT:
		break;
	}
	return EV_NONE;
}

/*
 * mm_park - park the calling pager thread (a handler that read a fork
 * doorbell, or the reclaimer between batches) until the fork is done.
 * Context: holds no pager lock.
 */
void mm_park(struct mm *mm, bool reclaimer)
{
	pthread_mutex_lock(&mm->park_lock);
	if (reclaimer)
		mm->reclaimer_parked = true;
	else
		mm->nparked++;
	pthread_cond_broadcast(&mm->park_cond);
	while (atomic_load(&mm->park))
		pthread_cond_wait(&mm->park_cond, &mm->park_lock);
	if (reclaimer)
		mm->reclaimer_parked = false;
	else
		mm->nparked--;
	pthread_cond_broadcast(&mm->park_cond);
	pthread_mutex_unlock(&mm->park_lock);
}

/*
 * mm_handlers_wake_all - every handler reads events again (before a
 * doorbell must reach each of them: stop, fork).
 */
void mm_handlers_wake_all(struct mm *mm)
{
	pthread_mutex_lock(&mm->active_lock);
	atomic_store(&mm->handlers_active, mm->p.threads);
	pthread_cond_broadcast(&mm->active_cond);
	pthread_mutex_unlock(&mm->active_lock);
}

/*
 * handler_wait_active - a handler whose index is not below handlers_active
 * waits until it is (or a doorbell is coming: stop, fork park).  Timed
 * (10 ms): a wake-up lost between the check and the wait costs a tick.
 */
static void handler_wait_active(struct mm *mm, unsigned idx)
{
	struct timespec ts;

	pthread_mutex_lock(&mm->active_lock);
	while (idx >= atomic_load(&mm->handlers_active) &&
	       !atomic_load(&mm->handlers_stop) && !atomic_load(&mm->park)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&mm->active_cond, &mm->active_lock, &ts);
	}
	pthread_mutex_unlock(&mm->active_lock);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* faults from several threads this recently: several threads fault */
#define MULTI_NS (100 * 1000 * 1000LL)

/*
 * faults_note_threads - after a batch is read: remember when its faults
 * last came from another thread than the fault before did (multi_ns).
 * handlers_adapt and handler_wait ask whether that was in the last
 * MULTI_NS: several program threads faulting.
 * Context: read_lock held (last_fault_tid, multi_ns).
 */
static bool faults_note_threads(struct mm *mm, const struct uffd_event *ev,
				int n, int64_t now)
{
	bool multi = false;

	for (int i = 0; i < n; i++) {
		if (ev[i].kind != UFFD_EV_FAULT || !ev[i].fault.tid)
			continue;
		if (mm->last_fault_tid && ev[i].fault.tid != mm->last_fault_tid)
			multi = true;
		mm->last_fault_tid = ev[i].fault.tid;
	}
	if (multi)
		mm->multi_ns = now;
	return multi;
}

/*
 * handlers_adapt - with adaptive_handlers, after a batch is read: a batch
 * whose faults come from another thread than the last fault did
 * (@multi) calls in every handler for the next 100 ms; a quiet 100 ms
 * sends all but the first back to waiting.  One program thread faulting
 * keeps one handler, so no second handler is woken to take over the read
 * at every fault.
 * Race (lowering vs a doorbell): we read park/handlers_stop false; fork
 * prepare (or stop) sets park, then mm_handlers_wake_all sets every
 * handler active; we store 1.  Harmless: handler_wait_active's loop also
 * ends on park and handlers_stop, so every handler still goes on to read
 * its doorbell.
 * Context: read_lock held (multi_ns).
 */
static void handlers_adapt(struct mm *mm, bool multi, int64_t now)
{
	if (!mm->p.adaptive_handlers || mm->p.threads < 2)
		return;
	if (multi) {
		if (atomic_load(&mm->handlers_active) < mm->p.threads)
			mm_handlers_wake_all(mm);
	} else if (atomic_load(&mm->handlers_active) > 1 &&
		   now - mm->multi_ns > MULTI_NS &&
		   !atomic_load(&mm->handlers_stop) &&
		   !atomic_load(&mm->park)) {
		atomic_store(&mm->handlers_active, 1);
	}
}

/*
 * Handler spin: the reader polls the uffd for a while before it sleeps.
 *
 * Why.  A fault served by a handler thread crosses CPUs twice: the
 * faulting thread queues its message and wakes the handler, the handler
 * installs the page and wakes the faulter.  Each wake-up of a CPU that
 * went idle is an IPI, and on a VM whose idle vCPUs halt at once (this
 * one: cpuidle-haltpoll with guest_halt_poll_ns 0) also an exit to the
 * host and back: tens of us.  While the handler polls, the faulter's
 * wake_up finds nobody asleep on the uffd and sends nothing; the message
 * is read within a poll(2) call.  That is the first half of the round
 * trip; the second (waking the faulter, asleep in the kernel) stays.
 * Measured with one program thread, 64M budget: uniform 1.4-2.0x, zipf
 * 1.7-1.8x the ops/s without it, seq level (docs/pager.md, "Handler
 * spin").
 *
 * How long.  As the kernel's haltpoll governor (drivers/cpuidle/
 * governors/haltpoll.c, adjust_poll_limit): the window spin_ns adapts
 * to how soon events come.  A wait that ended in the window changes
 * nothing; one that slept but ended within spin_max_ns (a longer window
 * would have caught it) doubles the window (from SPIN_GROW_START_NS); one
 * longer than spin_max_ns (polling could not have caught it) halves it,
 * to 0 below SPIN_MIN_NS.  So a program that stops faulting costs one
 * window per wake-up, shrinking; an idle handler sleeps at once.
 *
 * Only while the faults come from one program thread (no other in the
 * last MULTI_NS, faults_note_threads).  With several, the program's own
 * threads keep the CPUs busy, the spinning handler takes a CPU from one
 * of them, and the wake-ups it saves are cheap: with 2 threads on this
 * 2-vCPU VM, level at best and down to 0.55x with a 100 us window.
 *
 * Only when the reader may run on more than one CPU (its affinity,
 * counted again every MULTI_NS): on one, the faulter it waits for needs
 * that CPU, and the spin only delays it.  Measured with the process on
 * one CPU (taskset -c 0), 4 s runs: uniform 29.5-30.5k ops/s spinning
 * against 40.9-44.7k not, zipf 97k against 141-153k.
 *
 * Cost.  The handler's CPU: up to the whole window per event when the
 * program faults at its pace.  The spin never holds off anyone else on
 * its CPU for long: poll(2) returns to user space after each look, and a
 * woken thread that should run (the reclaimer) preempts it there.
 *
 * Context: the reader (read_lock held), which owns spin_ns.
 */
#define SPIN_GROW_START_NS 10000u
#define SPIN_MIN_NS	   1000u

/* spin_cpus_ok - the reader may run on more than one CPU. */
static bool spin_cpus_ok(struct mm *mm, int64_t now)
{
	if (!mm->spin_cpus_ns || now - mm->spin_cpus_ns > MULTI_NS) {
		cpu_set_t set;

		mm->spin_cpus_ns = now;
		mm->spin_cpus = sched_getaffinity(0, sizeof(set), &set)
					? 1
					: CPU_COUNT(&set);
	}
	return mm->spin_cpus > 1;
}

/* handler_wait - uffd_wait with the spin above: same results. */
static int handler_wait(struct mm *mm, int wait_ms)
{
	unsigned max = mm->p.spin_max_ns;
	int64_t t0, waited;
	int n;

	if (!max || wait_ms == 0)
		return uffd_wait(&mm->uffd, mm->later_fd, wait_ms);
	t0 = mono_ns();
	if (mm->spin_ns && t0 - mm->multi_ns > MULTI_NS &&
	    spin_cpus_ok(mm, t0)) {
		STAT_INC(mm, spin_polled);
		do {
			n = uffd_wait(&mm->uffd, mm->later_fd, 0);
			if (n != -ETIMEDOUT) {
				STAT_INC(mm, spin_caught);
				return n; /* in the window: keep it */
			}
		} while (mono_ns() - t0 < mm->spin_ns);
	}
	n = uffd_wait(&mm->uffd, mm->later_fd, wait_ms);
	STAT_INC(mm, spin_slept);
	waited = mono_ns() - t0;
	if (waited <= max) {
		unsigned grow =
			mm->spin_ns ? mm->spin_ns * 2 : SPIN_GROW_START_NS;

		mm->spin_ns = grow < max ? grow : max;
	} else {
		mm->spin_ns /= 2;
		if (mm->spin_ns < SPIN_MIN_NS)
			mm->spin_ns = 0;
	}
	return n;
}

/*
 * handler_main - a fault handler thread, in rounds (handler_round).  A
 * round waits for events, at most @wait_ms (-1: no limit; 1 ms anyway
 * while a faulter waits in wake_later) and reads a batch of events under
 * read_lock and applies its remove events before releasing it (see
 * read_lock in internal.h), then its unmap events (under map_lock, not
 * waited for under read_lock: events go on being read while a layout
 * change holds map_lock, which can take a while as it waits for the
 * regions' users), then serves its faults.
 * An unmap event needs no read_lock ordering: the range is unmapped, so
 * no later fault can be for it until a new region is created there, and
 * region.c creates none over a range whose event is not applied.
 * Race (remove): the application thread in madvise(MADV_DONTNEED) is
 * released as soon as the event is read, then zaps the range.  A fault it
 * raises afterwards is read after we released read_lock, so it finds the
 * ptes cleared and reads zero.  A swap-in already in flight for the range
 * finds its pte changed at step 4 and drops out.
 * A handler whose index is not below handlers_active waits first
 * (handler_wait_active; adaptive handlers, see handlers_adapt).
 * handler_round returns EV_STOP when the handler must stop (a stop
 * doorbell, or reading failed), EV_PARK when it must park for a fork,
 * else EV_NONE; with @try it returns EV_NONE at once if another thread
 * holds read_lock.  Context: a handler thread, or the thread that spawned
 * the handlers (mm_serve_until_handlers_up); no locks held.
 */
static int handler_round(struct mm *mm, int wait_ms, bool try)
{
	struct uffd_event ev[16];
	bool stop = false, park = false, events = false;
	int n;

	if (!try)
		pthread_mutex_lock(&mm->read_lock);
	else if (pthread_mutex_trylock(&mm->read_lock))
		return EV_NONE;
	/* a faulter waits in wake_later: look again within 1 ms */
	n = handler_wait(mm, atomic_load(&mm->nlater) ? 1 : wait_ms);
	if (n == 1) {
		/* wake_later's kick: poll again, with the timeout */
		uint64_t v;

		if (read(mm->later_fd, &v, sizeof(v)) < 0)
			v = 0;
		pthread_mutex_unlock(&mm->read_lock);
		return EV_NONE;
	}
	if (n == -ETIMEDOUT) {
		pthread_mutex_unlock(&mm->read_lock);
		wake_deferred(mm);
		return EV_NONE;
	}
	if (n == 0) {
		/* the remove fence: see install_lock in internal.h */
		pthread_rwlock_wrlock(&mm->install_lock);
		atomic_fetch_add(&mm->reads_started, 1);
		n = uffd_read_events(&mm->uffd, ev,
				     mm->p.read_batch ? (int)mm->p.read_batch
						      : 16);
		if (n > 0) {
			int64_t now = mono_ns();

			mm_hook(MM_HOOK_EVENTS_READ, (swp_entry_t){0});
			handlers_adapt(mm, faults_note_threads(mm, ev, n, now),
				       now);
		}
		for (int i = 0; i < n; i++) {
			int act = ev[i].kind == UFFD_EV_FAULT
					  ? EV_NONE
					  : handle_event(mm, &ev[i]);

			stop |= act == EV_STOP;
			park |= act == EV_PARK;
			events |= ev[i].kind != UFFD_EV_FAULT;
		}
		atomic_fetch_add(&mm->reads_done, 1);
		pthread_rwlock_unlock(&mm->install_lock);
	}
	if (n > 0)
		atomic_fetch_add(&mm->batches_done, 1);
	pthread_mutex_unlock(&mm->read_lock);
	if (events || stop)
		wake_deferred(mm); /* their installs may work now */
	if (n == -EINTR || n == -EAGAIN)
		return EV_NONE;
	if (n < 0) {
		fprintf(stderr, "uswap: handler: reading events: %d\n", n);
		return EV_STOP;
	}
	for (int i = 0; i < n; i++) {
		if (ev[i].kind != UFFD_EV_UNMAP)
			continue;
		mm_apply_unmap(mm, ev[i].range.start, ev[i].range.end);
		atomic_fetch_sub(&mm->unmaps_pending, 1);
	}
	for (int i = 0; i < n; i++)
		if (ev[i].kind == UFFD_EV_FAULT)
			handle_fault(mm, &ev[i]);
	return stop ? EV_STOP : park ? EV_PARK : EV_NONE;
}

static void *handler_main(void *arg)
{
	struct mm *mm = arg;
	unsigned idx;
	char name[16];

	mm_hook(MM_HOOK_HANDLER_START, (swp_entry_t){.val = (uintptr_t)mm});
	idx = atomic_fetch_add(&mm->handler_seq, 1);

	/* seen in top -H, perf, /proc/PID/task/TID/comm */
	snprintf(name, sizeof(name), "uswap-fault%u", idx);
	pthread_setname_np(pthread_self(), name);
	thread_pin_self(mm->home_cpu); /* p.colocate (mm.h); may fail: any */

	for (;;) {
		int act;

		if (idx >= atomic_load(&mm->handlers_active))
			handler_wait_active(mm, idx);
		act = handler_round(mm, -1, false);
		if (act == EV_STOP)
			break;
		/* a fork doorbell: park holding nothing (fork.c) */
		if (act == EV_PARK)
			mm_park(mm, false);
	}
	atomic_fetch_add(&mm->handlers_exited, 1);
	return NULL;
}

/*
 * mm_serve_until_handlers_up - serve faults in the calling thread (the
 * one that spawned the handlers) until every handler mm_handlers_spawn
 * started runs handler_main.
 *
 * Why every handler, and in the parent too: a fork (fork.c) and
 * mm_handlers_stop ring one doorbell per handler and wait for each to be
 * read.  A handler not yet in handler_main cannot read its doorbell; if
 * its birth waits for a fault while the others are parked, nobody ever
 * will.  Timeline (run-shim-ops, hung in CI twice and in 2 full suites
 * of 5 here; the loaded machine starved the new thread):
 *
 *   opener       uswap-fault0           new handler (uswap-fault1)
 *   spawn both
 *   (returned)   serving                (not scheduled yet)
 *   setlocale(3): LC_CTYPE data in the heap, then swapped out
 *   fork(2): park reclaimer, doorbell 0
 *                reads it, parks
 *                                       start_thread: __ctype_init reads
 *                                       the locale data: a fault, queued
 *   doorbell 1: madvise waits for a reader, forever
 *
 * A new thread runs glibc code before its start routine that may touch
 * uswap memory: start_thread's __ctype_init reads the current locale's
 * LC_CTYPE data, which setlocale(3) allocated with the program's malloc,
 * so under `uswap run` it is in the heap.  In a fork child the handlers
 * are new threads with that data possibly swapped out: they wait at
 * birth for a fault only a handler can serve (a program that calls
 * setlocale, then forks: tests/run/shim_ops.c fork_locale; python3's
 * multiprocessing), so the calling thread serves until they are up (one
 * that is up serves the others too).  In the parent, at uswap_open,
 * nothing is uswap memory yet; waiting here makes a late handler's
 * birth happen before anything can need a doorbell.
 *
 * Race: we see a handler missing, a handler comes up and takes read_lock,
 * and waits in poll(2) for events that may never come; so we only try
 * read_lock: busy means a handler is up and serving, and we yield to it.
 * (Waiting with a plain lock hung the child in run-shim-ops 1 run of 10.)
 * Context: mm_handlers_start, or fork.c's child handler with every
 * instance's regions registered, no locks held but the map_locks (which
 * no event of the new threads needs: they map nothing before they run
 * our code).
 */
void mm_serve_until_handlers_up(struct mm *mm)
{
	while (!mm_serve_handlers_round(mm))
		;
}

/*
 * mm_serve_handlers_round - one round of mm_serve_until_handlers_up.
 * Return: true when every handler runs (or reading failed: said so).
 */
bool mm_serve_handlers_round(struct mm *mm)
{
	if (atomic_load(&mm->handler_seq) >= mm->nhandlers)
		return true;
	if (handler_round(mm, 1, true) == EV_STOP)
		return true;
	sched_yield();
	return false;
}

/* mm_bells_register - register the doorbell pages with mm->uffd. */
int mm_bells_register(struct mm *mm)
{
	return uffd_register(&mm->uffd, mm->bell, BELL_PAGES(mm) * PAGE_SIZE,
			     UFFD_REG_MISSING);
}

int mm_handlers_start(struct mm *mm)
{
	int ret;

	mm->handlers = priv_calloc(mm->p.threads, sizeof(*mm->handlers));
	if (!mm->handlers)
		return -ENOMEM;
	mm->bell =
		mmap(NULL, BELL_PAGES(mm) * PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mm->bell == MAP_FAILED) {
		mm->bell = NULL;
		return -ENOMEM;
	}
	ret = mm_bells_register(mm);
	if (ret < 0)
		return ret;
	ret = mm_handlers_spawn(mm);
	if (ret == 0)
		mm_serve_until_handlers_up(mm);
	return ret;
}

/* mm_handlers_spawn - start the handler threads (bells registered). */
int mm_handlers_spawn(struct mm *mm)
{
	int ret;

	atomic_store(&mm->handler_seq, 0);
	atomic_store(&mm->handlers_exited, 0);
	for (unsigned i = 0; i < mm->p.threads; i++) {
		ret = thread_start(&mm->handlers[i], handler_main, mm);
		if (ret)
			return -ret;
		mm->nhandlers++;
	}
	return 0;
}

/*
 * mm_handlers_stop - ring one doorbell per handler and join them.  A
 * doorbell is a remove event (MADV_DONTNEED of a registered page outside
 * every region): madvise returns once a handler has read it, and that
 * handler stops after its batch.  The next doorbell is rung only when it
 * has: madvise returns as soon as its event is dequeued, but the read(2)
 * that dequeued it goes on taking whatever else is queued, so a doorbell
 * rung at once can land in the same batch, and the handler that was to
 * read it would wait for events forever (found as a fork hang, fork.c).
 * Events work in both modes (with USWAP_F_SIGBUS faults never reach the
 * handlers).
 * Context: not a handler thread.
 */
void mm_handlers_stop(struct mm *mm)
{
	atomic_store(&mm->handlers_stop, true);
	mm_handlers_wake_all(mm);
	for (unsigned i = 0; i < mm->nhandlers; i++) {
		madvise((char *)mm->bell + i * PAGE_SIZE, PAGE_SIZE,
			MADV_DONTNEED);
		while (atomic_load(&mm->handlers_exited) <= i)
			sched_yield();
	}
	for (unsigned i = 0; i < mm->nhandlers; i++)
		pthread_join(mm->handlers[i], NULL);
	mm->nhandlers = 0;
	if (mm->bell) {
		/* unregister first: munmap would wait for an unmap event */
		uffd_unregister(&mm->uffd, mm->bell,
				BELL_PAGES(mm) * PAGE_SIZE);
		munmap(mm->bell, BELL_PAGES(mm) * PAGE_SIZE);
	}
	mm->bell = NULL;
	priv_free(mm->handlers);
	mm->handlers = NULL;
}

/* ---- USWAP_F_SIGBUS: faults served in the faulting thread ---- */

/*
 * With UFFD_FEATURE_SIGBUS a missing fault raises SIGBUS (si_code
 * BUS_ADRERR) in the faulting thread instead of queueing a message (so
 * does a write to a page a window eviction write-protected: serve_fault
 * serves both); our
 * handler serves it right there (no cross-thread wake-ups: about 2x faster
 * on this VM, research notes Q2/Q7) and returns, and the access is
 * retried.  The price: an access from the kernel (read(2) into a swapped
 * out page, futex, io_uring...) fails with EFAULT instead of waiting, and
 * a SIGBUS handler the application installs later replaces ours (unless
 * it goes through mm_sigbus_chain: the preload shim's sigaction).  Any
 * other SIGBUS (a poisoned page: BUS_MCEERR_AR; an address in no region)
 * goes to the handler that was installed before ours, or chained since.
 * Handler threads still read the events (remove, unmap).
 */
#define SIGBUS_MAX 8
static _Atomic(struct mm *) sigbus_mms[SIGBUS_MAX];
/*
 * The handler ours passes other SIGBUS on to: sigbus_prev[sigbus_cur].
 * Written under sigbus_lock, into the copy not current, then published by
 * flipping sigbus_cur; the handler reads it without a lock (it may run
 * anywhere).  A handler that loaded the index before two flips could read
 * a copy being rewritten: two sigaction(SIGBUS) calls of the program
 * during one SIGBUS that is not ours.
 */
static struct sigaction sigbus_prev[2];
static _Atomic unsigned sigbus_cur;
static pthread_mutex_t sigbus_lock = PTHREAD_MUTEX_INITIALIZER;
static int sigbus_users; /* sigbus_lock */

_Thread_local bool mm_in_signal;

/*
 * A copy that may meet a page not in memory (mm_copy_page): where its
 * SIGBUS jumps back to.  Set only around the copy, in the copying thread.
 */
static _Thread_local sigjmp_buf *volatile copy_env;

bool mm_copy_page(void *dst, const void *src)
{
	sigjmp_buf env;

	/*
	 * No mask saved (a system call per page): the jump leaves the
	 * handler's mask, SIGBUS blocked (sa_mask is empty), so the rare
	 * way back unblocks it.
	 */
	if (sigsetjmp(env, 0)) {
		sigset_t bus;

		copy_env = NULL;
		sigemptyset(&bus);
		sigaddset(&bus, SIGBUS);
		pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
		return false;
	}
	/* the fences keep the stores around the copy (the compiler would
	 * drop the first: nothing it knows of reads it before the second) */
	copy_env = &env;
	atomic_signal_fence(memory_order_seq_cst);
	memcpy(dst, src, PAGE_SIZE);
	atomic_signal_fence(memory_order_seq_cst);
	copy_env = NULL;
	return true;
}

static void sigbus_handler(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *prev;
	int saved = errno;

	if (copy_env && si->si_code == BUS_ADRERR) {
		errno = saved;
		siglongjmp(*copy_env, 1);
	}
	if (si->si_code == BUS_ADRERR) {
		uint64_t addr = (uint64_t)(uintptr_t)si->si_addr;

		for (int i = 0; i < SIGBUS_MAX; i++) {
			struct mm *mm = atomic_load(&sigbus_mms[i]);
			struct uffd_event ev;
			struct mm_region *r;

			if (!mm)
				continue;
			/* a fork parks the pager: wait outside it (fork.c) */
			for (;;) {
				atomic_fetch_add(&mm->sig_inflight, 1);
				if (!atomic_load(&mm->park_faults))
					break;
				atomic_fetch_sub(&mm->sig_inflight, 1);
				while (atomic_load(&mm->park_faults))
					sched_yield();
			}
			if (!(r = region_get(mm, addr))) {
				atomic_fetch_sub(&mm->sig_inflight, 1);
				continue;
			}
			memset(&ev, 0, sizeof(ev));
			ev.kind = UFFD_EV_FAULT;
			ev.fault.addr = addr & ~(PAGE_SIZE - 1);
			ev.fault.write = true; /* unknown: fill as a write */
			ev.fault.tid = mm_tid();
			mm_in_signal = true;
			serve_fault(mm, r, &ev);
			mm_in_signal = false;
			region_put(r);
			atomic_fetch_sub(&mm->sig_inflight, 1);
			errno = saved;
			return;
		}
	}
	prev = &sigbus_prev[atomic_load(&sigbus_cur) & 1];
	if (prev->sa_flags & SA_SIGINFO) {
		prev->sa_sigaction(sig, si, uc);
	} else if (prev->sa_handler == SIG_IGN && si->si_code <= 0) {
		/* sent (kill, raise, sigqueue: si_code <= 0) and ignored */
	} else if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN) {
		/*
		 * The default action: a fault is retried and dies of it (an
		 * ignored fault too, as the kernel does); a sent one is sent
		 * again, pending until we return (before 2026-11-27 it was
		 * lost: `kill -BUS` did not end the process).  sigaction,
		 * not signal: under the preload shim that is libc's own
		 * (raw.h).
		 */
		struct sigaction dfl;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGBUS, &dfl, NULL);
		if (si->si_code <= 0)
			raise(SIGBUS);
	} else {
		prev->sa_handler(sig);
	}
	errno = saved;
}

/* mm_sigbus_register - serve @mm's faults in SIGBUS handlers. -EBUSY. */
int mm_sigbus_register(struct mm *mm)
{
	int ret = -EBUSY;

	pthread_mutex_lock(&sigbus_lock);
	for (int i = 0; i < SIGBUS_MAX; i++) {
		if (!atomic_load(&sigbus_mms[i])) {
			atomic_store(&sigbus_mms[i], mm);
			ret = 0;
			break;
		}
	}
	if (ret == 0 && sigbus_users++ == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sigbus_handler;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, &sigbus_prev[atomic_load(&sigbus_cur)]);
	}
	pthread_mutex_unlock(&sigbus_lock);
	return ret;
}

void mm_sigbus_unregister(struct mm *mm)
{
	pthread_mutex_lock(&sigbus_lock);
	for (int i = 0; i < SIGBUS_MAX; i++) {
		if (atomic_load(&sigbus_mms[i]) == mm) {
			atomic_store(&sigbus_mms[i], NULL);
			if (--sigbus_users == 0) {
				unsigned cur = atomic_load(&sigbus_cur);

				sigaction(SIGBUS, &sigbus_prev[cur], NULL);
			}
			break;
		}
	}
	pthread_mutex_unlock(&sigbus_lock);
}

int mm_sigbus_chain(const struct sigaction *act, struct sigaction *old)
{
	unsigned cur;
	int ret = 0;

	pthread_mutex_lock(&sigbus_lock);
	if (sigbus_users) {
		cur = atomic_load(&sigbus_cur);
		if (old)
			*old = sigbus_prev[cur];
		if (act) {
			sigbus_prev[cur ^ 1] = *act;
			atomic_store(&sigbus_cur, cur ^ 1);
		}
		ret = 1;
	}
	pthread_mutex_unlock(&sigbus_lock);
	return ret;
}
