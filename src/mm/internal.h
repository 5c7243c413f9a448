/*
 * The pager's private structures, shared by the files of src/mm/:
 * region.c (regions, pte tables, remove/unmap events), fault.c (handler
 * threads and dispatch, zero faults), swapin.c (the swap-in protocol and its
 * policies), reclaim.c (LRU lists, the reclaimer, swap-out, aging) and
 * mm.c (create, destroy, statistics).
 *
 * Lock order (outermost first; docs/locking.md has the tree):
 *
 *   fork_lock       (fork.c: the instances, from atfork prepare to
 *                    parent/child; park_lock is a leaf)
 *   mm->map_lock    (region layout changes: region.c; a handler applying
 *                    an unmap event takes it after dropping read_lock)
 *   mm->read_lock   (a handler reading events and applying the remove
 *                    events of its batch: fault.c handler_main)
 *     mm->install_lock (write: the same handler, from before its read(2)
 *                    until the batch's remove events are applied)
 *       mm->active_lock (leaf: handlers_active's waiters; also taken
 *                    alone, and under fork_lock by fork_park)
 *   mm->region_lock (rwlock; held only to look a region up or to change the
 *                    region array, never while taking the others)
 *   folio lock      (swapin_*: the swap-in folio; reclaim: the new or the
 *                    cached folio being stored; evict_run: up to
 *                    EVICT_RUN new folios, all uncontended)
 *     scratch window (evict_run: a claimed bit, spun for with
 *                    sched_yield; its holder waits only for the pte lock
 *                    and the locks under it, whose holders never wait for
 *                    a window)
 *     pte lock      (tbl->lock: one mutex per pte table of 512 pages)
 *       install_lock read side: TRY only (swapin_install), never waited
 *       lru_lock    (mm->lru_lock: both LRU lists and their counters)
 *       zap_lock    (leaf: zap_evict's dropped ranges; also taken by
 *                    the event reader under read_lock, zap_event_ours)
 *   later_lock      (leaf: faulters to wake after an event; taken alone)
 *       cluster lock (inside swap_* calls)
 *         folio pool lock (inside folio_alloc/folio_put)
 *
 * Under a pte lock a folio is only ever try-locked (free_swap_and_cache),
 * never waited for.  The uffd ioctls (COPY, MOVE, ZEROPAGE, POISON,
 * WRITEPROTECT) are issued under the pte lock: they do not block on
 * anything of ours.  Nothing is held across a madvise that raises a
 * remove event, which waits until a handler has read it: zap_evict's
 * drop holds no lock, no folio, no region or table reference.
 */
#ifndef USWAP_MM_INTERNAL_H
#define USWAP_MM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/alloc.h"
#include "lib/thread.h"
#include "mm/mm.h"
#include "swap/folio.h"
#include "swap/swap.h"
#include "uffd/uffd.h"

#define PTRS_PER_TABLE 512 /* pages per pte table (one split pte lock) */
#define EVICT_RUN      16  /* pages per MOVE-out (reclaim.c, evict_run) */
#define SCRATCH_PAGES  64  /* pages per scratch window (evict_run) */
#define ZAP_WINDOW     128 /* pages per window eviction (zap.c) */
#define ZAP_VICTIMS    64  /* pages evicted at most per window */
#define ZAP_RANGES     8   /* ranges dropped at most per window */

/*
 * The pte: one atomic word per page.  Written only under the table's lock;
 * read locklessly as a hint (the fault path re-reads it under the lock).
 *   PTE_NONE     never touched, or discarded: the next touch reads zero
 *   PTE_PRESENT  the page is in the process's mapping
 *   PTE_POISON   a device read failed: accesses raise SIGBUS
 *   PTE_PLAIN    the page is in the process's mapping but not the pager's:
 *                it was there when the range was adopted (mm_adopt
 *                without take_present).  Never counted, evicted or
 *                dropped (a window's drop cuts at it); a discard makes it
 *                none, and so does a fault (it is gone then).
 *   PTE_SWAP|e   swap entry e (its folio may still be in the swap cache)
 */
#define PTE_NONE    UINT64_C(0)
#define PTE_PRESENT UINT64_C(1)
#define PTE_POISON  UINT64_C(2)
#define PTE_PLAIN   UINT64_C(3)
#define PTE_SWAP    (UINT64_C(1) << 63) /* entries never use bit 63 */
/*
 * PTE_ZAP: the page lies in a range a window eviction (zap.c) is dropping
 * from the process: the kernel may still map it (write-protected) until
 * the drop is done.  With PTE_SWAP|e: the data is in e's slot or folio;
 * alone: none.  Nothing installs into such a pte (a fault on it sleeps
 * until the evictor wakes the range); the evictor clears the bit once its
 * drop is done (PTE_ZAP alone becomes PTE_NONE).  A discard of the range
 * meanwhile adds PTE_DISCARD.  Entries never use bit 62.
 */
#define PTE_ZAP (UINT64_C(1) << 62)
/*
 * PTE_DISCARD, only with PTE_ZAP: a remove event that was not the
 * evictor's own drop covered the page meanwhile; the evictor applies it
 * when its drop is done (zap.c, zap_finish).  Entries never use bit 61.
 */
#define PTE_DISCARD (UINT64_C(1) << 61)

static inline bool pte_is_swap(uint64_t pte)
{
	return pte & PTE_SWAP;
}

static inline bool pte_zapping(uint64_t pte)
{
	return pte & PTE_ZAP;
}

static inline swp_entry_t pte_to_swp_entry(uint64_t pte)
{
	return (swp_entry_t){pte & ~(PTE_SWAP | PTE_ZAP | PTE_DISCARD)};
}

static inline uint64_t swp_entry_to_pte(swp_entry_t entry)
{
	return entry.val | PTE_SWAP;
}

struct mm_region;

struct mm_page {
	_Atomic uint64_t pte; /* tbl->lock for writes; lockless reads */
	/* resident LRU list links: mm->lru_lock.  NULL = not on the list */
	struct mm_page *lru_prev, *lru_next;
	bool active; /* mm->lru_lock: on the active list (else inactive) */
	/*
	 * tbl->lock: a remove event (the program's MADV_DONTNEED) covered the
	 * page while present.  The kernel zaps it only after the event was
	 * read, so until the next install its data may still be mapped but
	 * is discarded: an eviction drops the page (pte := none) instead of
	 * keeping that data, which would come back on the next touch.
	 */
	bool discarded;
	/* installs of a swapped page so far: tbl->lock for writes (relaxed) */
	_Atomic uint32_t gen;
};

/*
 * A pte table: 512 pages and their split lock.  Allocated aligned to
 * TABLE_ALIGN so that a page finds its table (and so its region) by
 * masking its address: the LRU lists hold bare mm_page pointers.
 */
struct pte_table {
	pthread_mutex_t lock;
	uint64_t addr; /* address of pages[0]; set at creation */
	/*
	 * Region structs that reference this table: a split or trimmed
	 * region's pieces share the tables of the original (region.c,
	 * "Splitting").  The last one to drop it frees it.  Atomic.
	 */
	_Atomic int owners;
	/* reclaim users in flight (a page isolated by lru_isolate) */
	_Atomic int refs;
	struct mm_page pages[PTRS_PER_TABLE];
};
#define TABLE_ALIGN 32768
_Static_assert(sizeof(struct pte_table) <= TABLE_ALIGN, "pte table size");

static inline struct pte_table *page_table(struct mm_page *page)
{
	return (struct pte_table *)((uintptr_t)page &
				    ~(uintptr_t)(TABLE_ALIGN - 1));
}

static inline uint64_t page_addr(struct mm_page *page)
{
	struct pte_table *tbl = page_table(page);

	return tbl->addr + (uint64_t)(page - tbl->pages) * PAGE_SIZE;
}

/*
 * A region: [start, end), served by pte tables that cover [base, base +
 * ntables * 2 MiB).  base <= start: a region made by trimming or splitting
 * another keeps the original's tables (and base, rounded to a table),
 * shared with its sibling pieces; pages outside [start, end) in a shared
 * table belong to another piece or to nobody.  Set at creation; a region
 * is never resized in place (region.c replaces the struct).
 */
struct mm_region {
	uint64_t start, end;
	uint64_t base;
	size_t npages, ntables;
	struct pte_table **tables;
	_Atomic int refs;  /* users in flight (faults, reclaim) */
	_Atomic bool dead; /* being unmapped: take no new refs */
};

/* Per-folio pager state, indexed by the folio's page in the staging area. */
struct mm_folio_meta {
	/* cached (second-chance) list links: mm->lru_lock; -1 = none */
	int32_t prev, next;
	bool on_list;	     /* mm->lru_lock */
	struct folio *folio; /* mm->lru_lock; valid while on_list */
	/*
	 * The data page holds a page (else it is a hole, as a MOVE
	 * destination must be).  Written by the folio's owner (from
	 * allocation to its last put, under the folio lock while shared).
	 */
	bool populated;
};

/* Statistics: relaxed atomics, deliberately racy (counters only). */
struct mm_stats {
	_Atomic uint64_t faults, faults_zero, faults_minor, faults_major;
	_Atomic uint64_t faults_repeat, eexist, swapins, swapouts;
	_Atomic uint64_t reclaim_scans, sigbus, evictions, readahead;
	_Atomic uint64_t loser_waits, loser_wakes, errors;
	_Atomic uint64_t install_fenced; /* installs the remove fence refused */
	_Atomic uint64_t wp_again; /* un-protects refused: event pending */
	_Atomic uint64_t moves_misreported; /* EEXIST after a move: mm.c */
	_Atomic uint64_t run_evictions;	    /* pages evict_run moved */
	_Atomic uint64_t window_evictions;  /* pages window evictions dropped */
	_Atomic uint64_t zap_windows;	    /* zap_evict's drops */
	_Atomic uint64_t zap_carried;	    /* carried pages put back */
	_Atomic uint64_t zap_carry_missed;  /* carried, left evicted */
	_Atomic uint64_t zap_waits;	    /* faults left asleep for one */
	_Atomic uint64_t zap_failed;	    /* its ranges not dropped whole */
	_Atomic uint64_t direct_reclaims;   /* faults that reclaimed first */
	_Atomic uint64_t throttle_naps;	    /* throttle_in_signal's sleeps */
	_Atomic uint64_t throttle_shrinks;  /* ...and pages it compressed */
	_Atomic uint64_t spin_polled; /* handler waits that polled first */
	_Atomic uint64_t spin_caught; /* ...and ended while polling */
	_Atomic uint64_t spin_slept;  /* handler waits that slept */
};

#define STAT_INC(mm, field) \
	atomic_fetch_add_explicit(&(mm)->stats.field, 1, memory_order_relaxed)
#define STAT_ADD(mm, field, n) \
	atomic_fetch_add_explicit(&(mm)->stats.field, (n), memory_order_relaxed)

/* Last swap fault of a thread, to count repeated faults (hash on tid). */
#define REPEAT_SLOTS 1024
struct repeat_slot {
	_Atomic uint64_t tid, addr, pte, gen; /* relaxed: statistics only */
};

/*
 * A thread's last swap fault in a region, for sequential readahead
 * (swapin.c): one stream per faulting thread and region, so that two
 * threads sweeping the same region are each seen as sequential, and so is
 * one thread sweeping two regions in step.  Two slots per (tid, region)
 * hash, the one used longer ago taken for a new stream (swapin.c,
 * ra_slot_of); relaxed, a hint.
 */
#define RA_SLOTS 64
struct ra_slot {
	_Atomic uint64_t tid, region, page; /* page: index in the region */
	_Atomic unsigned run;  /* swap faults in a row that looked sequential */
	_Atomic bool down;     /* ...going down (a stream read from its end) */
	_Atomic uint64_t used; /* mm->ra_clock at its last use */
};

struct mm {
	struct mm_params p;	 /* set at creation */
	struct uffd uffd;	 /* the regions' uffd (events on) */
	struct uffd stage_uffd;	 /* staging: MODE_WP only, no events */
	struct swap_info *si;	 /* set at creation */
	struct store_dev *dev;	 /* set at creation */
	struct folio_pool *pool; /* set at creation */
	void *staging;		 /* the folios' data pages, then scratch */
	size_t nfolios;
	size_t staging_len; /* bytes: nfolios pages + the scratch windows */
	/*
	 * Scratch windows (reclaim.c, evict_run): SCRATCH_PAGES pages each,
	 * at the end of the staging area, where a swap-out MOVEs a run of
	 * pages in one ioctl before copying them into their folios.  A window
	 * is claimed with its bit in scratch_busy (atomic); its pages from
	 * scratch_used[w] on are holes, and it is emptied (one madvise) only
	 * when a run no longer fits.  scratch, nscratch: set at creation;
	 * scratch_used[w]: the window's claimer.
	 */
	char *scratch;
	unsigned nscratch;
	_Atomic uint64_t scratch_busy;
	unsigned scratch_used[64];
	/*
	 * Where the last run evicted ended (relaxed, a hint): a run is
	 * extended past its first page only when that page continues it, a
	 * sequential sweep, so that random access keeps its aging.
	 */
	_Atomic uint64_t evict_next;
	/*
	 * Window eviction (zap.c; only the reclaimer
	 * thread, one window at a time).  zap_ranges: the ranges its
	 * process_madvise is dropping, so that the handler reading their
	 * remove events knows them for ours (zap_event_ours, fault.c);
	 * zap_lock (a leaf).  zap_inflight / layout_busy: the handshake with
	 * uswap's own layout changes (region.c, layout_begin): a change never
	 * unmaps or moves a range whose drop is still to come.
	 */
	pthread_mutex_t zap_lock;
	struct zap_range {
		uint64_t start, end;
		bool seen;	  /* its remove event was read and recognised */
	} zap_ranges[ZAP_RANGES]; /* zap_lock; start == end: none */
	_Atomic int zap_inflight;
	_Atomic int layout_busy;
	int64_t zap_pause_ns; /* reclaimer: no windows before (a failed drop) */
	int mem_fd;	      /* /proc/self/mem, -1 = none; set at creation */
	int maps_fd; /* /proc/self/maps (PROCMAP_QUERY), -1 = none; ditto */
	struct mm_folio_meta *fmeta; /* nfolios entries */
	void *zero_page;	     /* 64 zero pages, read-only use */
	int pidfd; /* ours, for process_madvise; -1 = none; set at creation */
	int pagemap_fd; /* /proc/self/pagemap, -1 = none; set at creation */

	/*
	 * map_lock: serialises every change of the region layout (map, mmap,
	 * unmap, mremap, and the application's own munmap applied from its
	 * unmap event) with the kernel calls that go with it.  Taken before
	 * any other pager lock; never held while waiting for an event to be
	 * read (region.c: such calls unregister first, so raise none).
	 */
	pthread_mutex_t map_lock;
	_Atomic int unmaps_pending; /* unmap events read, not yet applied */
	/* regions: sorted by start, disjoint; region_lock */
	pthread_rwlock_t region_lock;
	struct mm_region **regions;
	size_t nregions, cap_regions;
	_Atomic uint64_t mapped_pages; /* relaxed */

	/* LRU lists: lru_lock */
	pthread_mutex_t lru_lock;
	struct mm_page lru_head;    /* inactive resident pages, oldest first */
	struct mm_page active_head; /* active resident pages, oldest first */
	size_t nr_active;	    /* lru_lock */
	int32_t cache_head, cache_tail; /* cached folios, oldest first */
	_Atomic size_t nr_resident;	/* writes under lru_lock */
	_Atomic size_t nr_cached;	/* writes under lru_lock */
	/*
	 * Pages a reclaim took off the LRU to evict and has not yet put
	 * in the swap cache or back on the LRU: neither resident nor
	 * cached above, but still held.  Counted in the total, or faults
	 * go past the budget while a window is in flight, and the first
	 * fault after it reclaims the excess directly.  Atomic adds, no
	 * lock.
	 */
	_Atomic size_t nr_isolated;
	/*
	 * The last reclaim gave up short of its target: nothing could leave
	 * (every page left shared with a forked child, or the swap full).
	 * Faults then go on over the budget without direct reclaim (or, in
	 * the SIGBUS mode, without waiting for the reclaimer), and the
	 * reclaimer retries at its timer (50 ms), not at every kick; its
	 * next pass sets or clears this.  Before 2026-11-26 every fault
	 * scanned up to a lap of the LRU meanwhile: shim_ops under `uswap
	 * run` (its heap adopted, the swap full, then a fork) took over
	 * 120 s instead of 4.  Relaxed atomic: a hint.
	 */
	atomic_bool reclaim_stalled;
	size_t cache_target;	      /* set at creation */
	size_t wmark_low, wmark_high; /* set at creation */

	/* the reclaimer thread */
	pthread_t reclaimer;
	bool reclaimer_started;
	pthread_mutex_t reclaim_lock; /* with reclaim_cond: the wake-up */
	pthread_cond_t reclaim_cond;
	bool reclaim_kick;     /* reclaim_lock */
	_Atomic bool stopping; /* reclaimer: exit */
	_Atomic bool closing;  /* no more eviction */

	/* handler threads */
	pthread_t *handlers;
	unsigned nhandlers;
	_Atomic unsigned handler_seq; /* a new handler's index (spawn) */
	/*
	 * handlers_active: handlers with an index below it read events; the
	 * others wait on active_cond (with active_lock; timed, so a missed
	 * signal costs at most a tick).  With adaptive_handlers it is 1 while
	 * every fault comes from one thread and all of them for 100 ms after
	 * a batch shows two (last_fault_tid, multi_ns: read_lock).  Raised to
	 * all by mm_handlers_wake_all before a doorbell must reach each.
	 */
	_Atomic unsigned handlers_active;
	pthread_mutex_t active_lock;
	pthread_cond_t active_cond;
	pid_t last_fault_tid; /* read_lock */
	int64_t multi_ns;     /* read_lock */
	/*
	 * handler_wait's poll window, 0..p.spin_max_ns, and the CPUs the
	 * reader may run on, as counted at spin_cpus_ns (fault.c): read_lock
	 */
	unsigned spin_ns;
	int spin_cpus;
	int64_t spin_cpus_ns;
	/*
	 * p.colocate: the CPU of uswap's threads, -1 = any.  Set before
	 * they start (mm_create; a fork child's fork_restart resets it),
	 * read by each as it starts.
	 */
	int home_cpu;
	/*
	 * read_lock: one handler at a time reads events, and applies the
	 * remove events of its batch before letting the next one read (its
	 * unmap events after, under map_lock: handler_main),
	 * so that a fault read after an event (the application thread that
	 * called madvise touching the range again) sees its effect.
	 */
	pthread_mutex_t read_lock;
	/*
	 * install_lock: the remove fence.  A thread's MADV_DONTNEED returns
	 * as soon as a handler has READ its remove event; the kernel then
	 * zaps the range, and the ptes are cleared only when the handler
	 * applies the event.  A swap-in installing in between would put the
	 * old data back after the zap, and the madvise caller would read it
	 * instead of zeros.  So the reader holds install_lock for writing
	 * from before its read(2) until the batch is applied, and
	 * swapin_install try-locks it for reading under the pte lock: when
	 * that fails it installs nothing and the faulter faults again (the
	 * folio stays in the swap cache: a minor fault).  Try only: the
	 * installer holds a folio lock the applying reader may wait for.
	 */
	pthread_rwlock_t install_lock;
	void *bell; /* doorbell pages, one per handler, then quiesce's page */
	pthread_mutex_t quiesce_lock;
	_Atomic bool handlers_stop;	  /* handlers: exit after a doorbell */
	_Atomic unsigned handlers_exited; /* since mm_handlers_spawn */
	_Atomic int faults_inflight;   /* faults being handled (mm_quiesce) */
	_Atomic uint64_t batches_done; /* event batches applied (read_lock) */
	/*
	 * Reads begun and reads whose remove events are applied (read_lock):
	 * reads_done >= a value of reads_started means every event read up
	 * to then is applied (zap_evict, before it forgets its ranges).
	 */
	_Atomic uint64_t reads_started, reads_done;
	/*
	 * Faulters whose install failed with EAGAIN (an event queued or just
	 * read: the kernel's mmap_changing), left asleep until wake_deferred
	 * (fault.c, wake_later).  later_lock (a leaf); nlater also read
	 * locklessly as a hint by the reader's poll.
	 */
	pthread_mutex_t later_lock;
	uint64_t later[64];
	_Atomic unsigned nlater;
	int later_fd; /* eventfd: wake_later's kick to the reader's poll */

	/*
	 * fork (fork.c): the pager's threads park where they hold no lock.
	 * park: set by the forking thread (atomic; also read as a hint by
	 * mm_reclaim).  park_faults: set by it once the reclaimer is parked
	 * and the FILEs are faulted in (fork_prepare): SIGBUS-mode faults
	 * wait outside the pager from then on, and it waits for those in
	 * flight (sig_inflight).  park_lock/park_cond: the parked threads'
	 * wait; nparked, reclaimer_parked under park_lock.
	 */
	_Atomic bool park;
	_Atomic bool park_faults;
	/*
	 * mm_sigbus_register done (the in-thread mode), undone by
	 * mm_destroy; stays set in a fork child, which leaves the mode
	 * (p.sigbus cleared, fork.c).  Set at create, read at destroy.
	 */
	bool sigbus_registered;
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	unsigned nparked;
	bool reclaimer_parked;
	_Atomic int sig_inflight; /* SIGBUS-mode faults being served */
	struct mm *fork_next;	  /* fork.c's instance list: its lock */

	/* waitqueue policy: woken at swapcache_clear (6.12's swapcache_wq) */
	pthread_mutex_t wq_lock;
	pthread_cond_t wq_cond;
	_Atomic int wq_waiters;

	/* fallback policy: the bypass swap-ins in flight, by entry */
	pthread_mutex_t inflight_lock;
	struct inflight {
		swp_entry_t entry;
		struct folio *folio;
	} inflight[64]; /* inflight_lock; entry 0 = free */

	struct repeat_slot repeat[REPEAT_SLOTS];
	struct ra_slot ra[RA_SLOTS];
	_Atomic uint64_t ra_clock; /* stamps ra[].used: relaxed, a hint */
	struct mm_stats stats;
};

#define BELL_PAGES(mm) ((mm)->p.threads + 1)

/* The tick of the sleep and waitqueue policies: Debian's HZ=250. */
#define TICK_NS 4000000L

/* ---- mm.c ---- */
int mm_uffds_open(struct mm *mm);
enum pm_state { PM_UNKNOWN, PM_NONE, PM_PRESENT, PM_SWAPPED };
/* a pagemap entry's bit: the pte is uffd write-protected (Linux 5.13) */
#define PM_UFFD_WP (UINT64_C(1) << 57)
enum pm_state pagemap_state(struct mm *mm, uint64_t addr);
bool vma_covers(struct mm *mm, uint64_t start, uint64_t end);
int pagemap_read(struct mm *mm, uint64_t addr, size_t n, uint64_t *out);
int vma_check_adoptable(struct mm *mm, uint64_t start, uint64_t end);
void mm_proc_open(struct mm *mm);
void mm_proc_close(struct mm *mm);
long mm_move(struct mm *mm, struct uffd *u, uint64_t dst, uint64_t src,
	     size_t npages, unsigned flags);

/* ---- region.c ---- */
struct mm_region *region_get(struct mm *mm, uint64_t addr);
void region_put(struct mm_region *r);
static inline struct mm_page *region_page(struct mm_region *r, uint64_t addr,
					  struct pte_table **tblp)
{
	size_t idx = (addr - r->base) >> PAGE_SHIFT;
	struct pte_table *tbl = r->tables[idx / PTRS_PER_TABLE];

	*tblp = tbl;
	return &tbl->pages[idx % PTRS_PER_TABLE];
}
void mm_discard_range(struct mm *mm, uint64_t start, uint64_t end,
		      bool unmapped);
unsigned mm_uffd_reg_modes(struct mm *mm);
void mm_apply_unmap(struct mm *mm, uint64_t start, uint64_t end);
void table_put(struct pte_table *tbl);
void release_swap_entry(struct mm *mm, swp_entry_t entry);
void mm_regions_destroy(struct mm *mm);

/* ---- fault.c ---- */
int mm_handlers_start(struct mm *mm);
void mm_handlers_wake_all(struct mm *mm);
int mm_handlers_spawn(struct mm *mm);
void mm_serve_until_handlers_up(struct mm *mm);
bool mm_serve_handlers_round(struct mm *mm);
int mm_bells_register(struct mm *mm);
void mm_park(struct mm *mm, bool reclaimer);
void mm_handlers_stop(struct mm *mm);
void wake_faulter(struct mm *mm, uint64_t addr);
bool zap_event_ours(struct mm *mm, uint64_t start, uint64_t end);
void wake_later(struct mm *mm, uint64_t addr);
void wake_deferred(struct mm *mm);
int mm_sigbus_register(struct mm *mm);
void mm_sigbus_unregister(struct mm *mm);

/* ---- swapin.c ---- */
/*
 * do_swap_page - resolve a fault at @addr whose pte held swap @entry.
 * Return: 0 when the page was installed (by us or someone else) or the
 * faulter was woken to fault again; -errno on an internal error (the
 * faulter is woken anyway).
 */
int do_swap_page(struct mm *mm, struct mm_region *r, uint64_t addr,
		 swp_entry_t entry);
/*
 * swapin_put_back - a page a window eviction carried (zap.c): install
 * @entry's folio, still in the swap cache, at @addr, on the active list,
 * as a minor fault would; skip it (never wait) if its folio is locked,
 * gone, or the pte moved on.  Return: whether it is back in the process;
 * if not, it stays an evicted page like any other (a minor fault later).
 * Context: no locks held.
 */
bool swapin_put_back(struct mm *mm, struct mm_region *r, uint64_t addr,
		     swp_entry_t entry);
void swapin_readahead(struct mm *mm, struct mm_region *r, uint64_t addr,
		      pid_t tid);
struct folio *mm_folio_alloc(struct mm *mm);
static inline size_t folio_index(struct mm *mm, struct folio *folio)
{
	return ((char *)folio->data - (char *)mm->staging) >> PAGE_SHIFT;
}
int swapin_read(struct mm *mm, swp_entry_t entry, struct folio *folio);
static inline void folio_set_populated(struct mm *mm, struct folio *folio,
				       bool populated)
{
	mm->fmeta[folio_index(mm, folio)].populated = populated;
}
static inline bool folio_populated(struct mm *mm, struct folio *folio)
{
	return mm->fmeta[folio_index(mm, folio)].populated;
}

/*
 * mm_in_signal: this thread is serving a fault in its SIGBUS handler
 * (USWAP_F_SIGBUS).  Then nothing may allocate memory or wait for memory
 * that the interrupted code could hold: no direct reclaim, no compression
 * (the store allocates), only the reclaimer thread frees folios.
 */
extern _Thread_local bool mm_in_signal;
/*
 * mm_copy_page - in the in-thread mode, copy the page at @src (in a
 * region) to @dst with a plain memcpy, for a thread that holds a pte
 * lock: a page not in memory raises SIGBUS in this thread, and uswap's
 * handler, instead of serving it (it would wait for our lock), jumps
 * back here.  Return: false if it met such a page (@dst partly written).
 * Not for the handler-thread mode: there the access would wait for a
 * handler.  Context: not in a signal handler.
 */
bool mm_copy_page(void *dst, const void *src);
/* mm_tid - gettid(), cached per thread; mm_tid_forget: fork's child */
pid_t mm_tid(void);
void mm_tid_forget(void);

/* ---- reclaim.c ---- */
void lru_add_locked(struct mm *mm, struct mm_page *page, bool active);
void lru_del_locked(struct mm *mm, struct mm_page *page);
void lru_add(struct mm *mm, struct mm_page *page);
void lru_add_active(struct mm *mm, struct mm_page *page);
void lru_del(struct mm *mm, struct mm_page *page);
void page_keep_locked(struct mm *mm, struct mm_page *page, bool active);
/* isolated_add - @n more (or fewer, n < 0) pages isolated (nr_isolated). */
static inline void isolated_add(struct mm *mm, long n)
{
	atomic_fetch_add_explicit(&mm->nr_isolated, (size_t)n,
				  memory_order_relaxed);
}
bool cache_list_del(struct mm *mm, struct folio *folio);
void mm_charge(struct mm *mm, size_t npages);
void mm_kick_reclaimer(struct mm *mm);
void mm_reclaimer_park(struct mm *mm);
void mm_reclaimer_unpark(struct mm *mm);
int mm_reclaimer_start(struct mm *mm);
void mm_reclaimer_stop(struct mm *mm);
bool shrink_cache_one(struct mm *mm);
/* swap-out steps shared by reclaim.c's evictions and zap.c's */
long swapout_folio_prepare(struct mm *mm, struct folio *folio,
			   swp_entry_t *entry);
void pte_set_swapped(struct mm *mm, struct mm_page *page, swp_entry_t entry);
void evicted_folio_publish(struct mm *mm, struct folio *folio,
			   swp_entry_t entry);

/* ---- zap.c ---- */
int zap_window(struct mm *mm, struct mm_page *anchor, size_t max);

/* ---- fork_libc.c (for fork.c) ---- */
void fork_files_fault_in(void);
bool fork_files_present(void);
void fork_nss_fault_in(void);

/* ---- fork.c ---- */
void mm_fork_register(struct mm *mm);
void mm_fork_unregister(struct mm *mm);

/* ---- hooks ---- */
#ifdef USWAP_TEST_HOOKS
extern _Atomic(mm_hook_fn) mm_hook_ptr;
static inline void mm_hook(enum mm_hook_point point, swp_entry_t entry)
{
	mm_hook_fn fn =
		atomic_load_explicit(&mm_hook_ptr, memory_order_acquire);

	if (fn)
		fn(point, entry);
}
#else
#define mm_hook(point, entry) \
	do {                  \
	} while (0)
#endif

#endif /* USWAP_MM_INTERNAL_H */
