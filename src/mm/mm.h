/*
 * The pager's interface (src/mm/): what the api layer (src/api/uswap.c) and
 * the tests call.  The pager owns the regions and their pte tables, the
 * fault handler threads, the swap-in protocol with its policies, the LRU
 * lists, the reclaimer and the swap-out path.  Its design, with the protocol
 * step names shared with the formal model, is in docs/pager.md; its lock
 * order in docs/locking.md ("## mm/ (pager)").
 */
#ifndef USWAP_MM_MM_H
#define USWAP_MM_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/policy.h"
#include "store/device.h"
#include "swap/entry.h"
#include "swap/swap.h"
#include "uswap.h"

struct mm;

/* Parameters of one pager instance; fixed at mm_create(). */
/* mm_params.zap_carry's default (USWAP_F_NO_CARRY: 0) */
#define ZAP_CARRY_RUN 8

struct mm_params {
	size_t budget_pages; /* resident + swap-cached pages, hard limit */
	/*
	 * Second-chance list (aging): evicted pages first stay uncompressed
	 * in the swap cache; only those not touched again before they reach
	 * its head are compressed.  0 = plain FIFO (compress at once).
	 * (size_t)-1 = choose (budget / 8).
	 */
	size_t cache_pages;
	enum swapin_policy policy;
	unsigned threads;	     /* handler threads, >= 1 */
	unsigned fault_around_pages; /* zero-fill window, 1 = off, <= 64 */
	unsigned readahead_pages;    /* swap-in window, 1 = off, <= 64 */
	bool no_reclaimer;	     /* tests: no background reclaimer thread */
	unsigned read_batch;	     /* events per read(2), 0 = 16; <= 16 */
	/*
	 * USWAP_F_SIGBUS: serve faults in the faulting thread (SIGBUS
	 * handler); system calls touching swapped-out pages get EFAULT.
	 */
	bool sigbus;
	/*
	 * The handler threads and the reclaimer all run on one CPU (the
	 * last the thread calling mm_create may use), the program's
	 * threads wherever the scheduler puts them.  For the SIGBUS
	 * mode: there the handlers only read events, and each range
	 * a window eviction drops is a round trip between the reclaimer
	 * (madvise waits until its remove event is read) and the reading
	 * handler; on two CPUs each leg wakes a halted vCPU, on one it is
	 * a context switch (docs/pager.md, "One CPU for uswap's threads").
	 */
	bool colocate;
	/*
	 * Handlers beyond the first wait (fault.c, handlers_active) while
	 * every fault comes from one thread: a second handler then only costs
	 * a wake-up per fault (it takes over the read while the first one
	 * serves).  Set when the user left the count to uswap.
	 */
	bool adaptive_handlers;
	/*
	 * Swap-in installs with UFFDIO_MOVE (the folio's page itself) instead
	 * of UFFDIO_COPY.  MOVE recycles the page but removes a pte from the
	 * staging area: a TLB shootdown on the fault path (docs/pager.md).
	 */
	bool swapin_move;
	/*
	 * Plain FIFO aging (the baseline of docs/pager.md): no second-chance
	 * list, no active list.
	 */
	bool fifo;
	/*
	 * Tests only: install without the remove fence (internal.h,
	 * install_lock), as before it existed, so that the replay that
	 * needs it (tests/replay/dontneed.c) can show it catches its absence.
	 */
	bool unfenced_installs;
	/*
	 * Tests only: fallback's winner takes out the first in-flight row
	 * with its entry, not the one with its folio (swapin.c,
	 * inflight_del), as before 9376429, so that
	 * tests/replay/fallback_rows.c can show it catches the stale row.
	 */
	bool inflight_del_by_entry;
	/*
	 * Tests only: take UFFDIO_MOVE's EEXIST at its word (mm_move,
	 * mm.c), as before the kernel's misreport was known, so that
	 * tests/mm/stress.c --pageout can show it catches the loss.
	 */
	bool move_unverified;
	/*
	 * Window eviction (zap.c): the reclaimer takes
	 * the inactive pages around the oldest one out of the process
	 * together: write-protect, copy, one drop (process_madvise), so
	 * that scattered pages share the TLB shootdowns a MOVE per page
	 * pays each.  Regions are then registered MODE_WP too (with sigbus
	 * a write to a protected page is a SIGBUS too: fault.c serves it).
	 * Off: every page leaves by its own UFFDIO_MOVE.
	 */
	bool wp_evict;
	/*
	 * Tests only: window eviction without the write-protect step, so
	 * that tests/mm/stress.c can show it catches the writes lost
	 * between the copy and the drop.
	 */
	bool zap_unprotected;
	/*
	 * Tests only: every window eviction's drop fails, as on a range the
	 * program mlocked (madvise refuses it): its pages must stay.
	 */
	bool zap_drop_fails;
	/*
	 * Fewest pages a window eviction takes (0 = 4); fewer go one MOVE
	 * each.  Tests lower it so that tiny budgets exercise windows.
	 */
	unsigned zap_min;
	/*
	 * Longest run of active pages between two victims that a window
	 * eviction carries (drops with the victims and puts back at once)
	 * instead of cutting its range there (zap.c, carry_isolate).
	 * 0: cut at every present page.  Default ZAP_CARRY_RUN.
	 */
	unsigned zap_carry;
	/*
	 * The in-thread mode's faults over the budget only sleep until the
	 * reclaimer thread made room, as before 2026-11-27, instead of
	 * compressing the swap cache themselves (reclaim.c,
	 * throttle_in_signal): a benchmark's baseline, and tests' mutant.
	 */
	bool throttle_sleeps;
	/*
	 * Most nanoseconds the reading handler polls the uffd for the next
	 * event before it sleeps in poll(2) (fault.c, handler_wait: adaptive
	 * up to this); 0 = sleep at once.
	 */
	unsigned spin_max_ns;
};

/*
 * mm_create - start a pager on swap device @si (whose store is @dev): open
 * its userfaultfds, the staging area and folio pool, the handler threads
 * and the reclaimer.
 * Return: 0 and *out; -EPERM/-ENOSYS (userfaultfd unavailable); -ENOMEM;
 * -EINVAL (bad parameter).
 */
int mm_create(const struct mm_params *p, struct swap_info *si,
	      struct store_dev *dev, struct mm **out);

/*
 * mm_destroy - bring every swapped-out page back into its region, make the
 * regions ordinary memory (unregister them; they stay mapped), stop the
 * threads and free the pager.  Threads still faulting are served until the
 * regions are unregistered.  Context: may block; not on a handler thread.
 */
void mm_destroy(struct mm *mm);

/*
 * mm_map - a new region of @len bytes (page-rounded).  NULL, -errno in *err.
 * Context: any thread; takes map_lock, region_lock for writing.
 */
void *mm_map(struct mm *mm, size_t len, int *err);

/*
 * mm_mmap - uswap_mmap's work (include/uswap.h): a region at the kernel's
 * choice near @hint, or with @flags MAP_FIXED / MAP_FIXED_NOREPLACE at
 * @hint.  NULL and -errno in *err (-EINVAL, -ENOMEM, -EEXIST, -EAGAIN when
 * an unmap event of the place never came).
 * Context: any non-handler thread; takes map_lock.
 */
void *mm_mmap(struct mm *mm, void *hint, size_t len, int flags, int *err);

/*
 * mm_unmap - unmap [@addr, @addr+@len): the region parts in it are
 * discarded (every slot freed, pages off the LRU), the regions trimmed or
 * split, the whole range munmap(2)ed.
 * Return: 0; -EINVAL (unaligned, empty, or no region overlaps); -ENOMEM.
 * Context: any non-handler thread; waits for the regions' users in flight.
 */
int mm_unmap(struct mm *mm, void *addr, size_t len);

/*
 * mm_adopt - uswap_adopt's work (include/uswap.h): make [@addr, +@len),
 * private anonymous read-write memory mapped without uswap, a region.  The
 * pages the kernel maps now are taken (counted, on the LRU) when
 * @take_present, else left plain (PTE_PLAIN, internal.h).
 * Return: the pages taken; -EINVAL, -ENOMEM, -EEXIST, -EOPNOTSUPP (uswap.h).
 * Context: any non-handler thread; takes map_lock, then pte locks; may
 * reclaim directly afterwards (the budget).
 */
long mm_adopt(struct mm *mm, void *addr, size_t len, bool take_present);

/*
 * mm_mremap - uswap_mremap's work.  NULL and -errno in *err.
 * Context: any non-handler thread; takes map_lock, pte locks.
 */
void *mm_mremap(struct mm *mm, void *old_addr, size_t old_len, size_t new_len,
		int flags, void *new_addr, int *err);

/*
 * mm_disown - the pages of [@addr, +@len) leave the pager and stay in
 * memory as plain memory (PTE_PLAIN, internal.h): never counted, evicted
 * or dropped again, until the program discards them.  For data read where
 * uswap cannot serve a fault: in the SIGBUS mode, by a thread with SIGBUS
 * blocked (glibc's locale data, which every new thread reads at birth:
 * docs/preload.md).  A page not in memory is first brought in by a load
 * from the calling thread; pages in no region are skipped.  @addr page
 * aligned.
 * Return: the pages disowned (already plain ones too); -EINVAL (bad range),
 * -EIO (a poisoned page), -EBUSY (a page kept leaving, 100 times).
 * Context: a program thread that may fault (not a uswap thread, not with
 * SIGBUS blocked in the SIGBUS mode); takes pte locks and lru_lock.
 */
long mm_disown(struct mm *mm, void *addr, size_t len);

/* mm_owns - whether [@addr, +@len) overlaps a region: 1 or 0. */
int mm_owns(struct mm *mm, const void *addr, size_t len);

/*
 * mm_faults_in_thread - the in-thread (SIGBUS) mode is on: the kernel's own
 * access to a page not in memory (a system call's copy) fails with EFAULT
 * instead of waiting.  A forked child leaves the mode (fork.c).
 * Context: any thread; set at create, changed only in a fork child before
 * it runs anything else.
 */
bool mm_faults_in_thread(const struct mm *mm);

/*
 * mm_sigbus_chain - sigaction(SIGBUS, @act, @old) for the program while
 * uswap's SIGBUS handler is installed (the in-thread mode): ours stays,
 * @act becomes the handler it passes every other SIGBUS on to, @old gets
 * the one before.  The handler's mask and flags other than SA_SIGINFO do
 * not apply (it runs inside ours).
 * Return: 1 done; 0 no handler of ours installed (make the real call).
 * Context: any thread; takes sigbus_lock (not async-signal-safe).
 */
struct sigaction;
int mm_sigbus_chain(const struct sigaction *act, struct sigaction *old);

/* mm_get_stats - fill @st (relaxed reads).  Context: any thread. */
void mm_get_stats(struct mm *mm, struct uswap_stats *st);

/*
 * mm_evict_range - forced eviction (tests, the demo): evict every present
 * page of [addr, addr+len) into the swap cache, and when @store compress
 * them to the device at once.  Return: pages evicted, or -errno.
 * Context: any non-handler thread; takes map_lock (a fork waits for it),
 * pte locks and folio locks.
 */
long mm_evict_range(struct mm *mm, void *addr, size_t len, bool store);

/*
 * mm_quiesce - wait until no handler is in the middle of a fault.  A thread
 * resumes as soon as its page is installed, a little before the handler is
 * done with its bookkeeping (pte, slot, statistics): tests call this before
 * they count slots or read the statistics.
 */
void mm_quiesce(struct mm *mm);

/*
 * mm_reclaim - run reclaim until resident + cached <= @target pages, or
 * @max_scan pages were scanned (0: no bound).
 */
long mm_reclaim(struct mm *mm, size_t target, size_t max_scan);

/* ---- race-window hooks (test builds: a function pointer; else no-op) ---- */

enum mm_hook_point {
	MM_HOOK_SWAPIN_CACHE_MISS,	/* step 1 missed, before step 2 */
	MM_HOOK_SWAPIN_AFTER_READ,	/* step 3: device read done */
	MM_HOOK_SWAPIN_BEFORE_PTE_LOCK, /* step 4, before the pte lock */
	MM_HOOK_SWAPIN_AFTER_INSTALL,	/* step 4 done, folio still locked */
	MM_HOOK_RECLAIM_AFTER_UNMAP,	/* page moved out, pte = entry */
	MM_HOOK_RECLAIM_BEFORE_STORE,	/* folio locked, before store_page */
	/* race replay (tests/replay/, issue 5) */
	MM_HOOK_SWAPIN_LOSER,	   /* bypass loser (-EEXIST), before its wait */
	MM_HOOK_SWAPIN_FOLIO_WAIT, /* found a folio, before folio_lock */
	MM_HOOK_SWAPIN_DONE,	   /* do_swap_page returned (handler thread) */
	MM_HOOK_EVENTS_READ,	   /* a batch was read, its events not yet
				      applied (entry 0; the install fence is
				      held) */
	MM_HOOK_SWAPIN_CLEARED,	   /* bypass winner: swapcache_clear done,
				      before inflight_del */
	MM_HOOK_WP_FAULT,	   /* do_wp_page, before the pte lock
				      (entry 0) */
	MM_HOOK_ZAP_BEFORE_COPY,   /* a window eviction, pte lock held,
				      before it copies its pages (entry:
				      .val is the first one's address) */
	MM_HOOK_HANDLER_START,	   /* a new handler thread, before it
				      counts itself up (entry: .val is its
				      struct mm *) */
	MM_HOOK_NR,
};

typedef void (*mm_hook_fn)(enum mm_hook_point point, swp_entry_t entry);

#ifdef USWAP_TEST_HOOKS
/* mm_set_hook - install @fn (NULL to remove).  Test builds only. */
void mm_set_hook(mm_hook_fn fn);
#endif

/*
 * mm_page_pte - tests: the pte of the page at @addr (internal.h's PTE_*
 * encoding); *@entry gets its swap entry if it holds one.
 * Return: 0; -EINVAL when @addr is in no region.
 */
int mm_page_pte(struct mm *mm, void *addr, uint64_t *pte, swp_entry_t *entry);

#endif /* USWAP_MM_MM_H */
