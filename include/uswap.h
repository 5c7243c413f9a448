/*
 * uswap: swap for one process, in user space.
 *
 * Memory from uswap_map() behaves like private anonymous memory (zero on
 * first touch, shared by every thread, usable by system calls), but only
 * `budget` bytes of it stay resident: colder pages are compressed into RAM
 * (or written to another device) and come back on the next touch.  Faults
 * reach uswap through Linux userfaultfd; see docs/ and ../shared/DESIGN.md.
 *
 * Every function returns 0 (or a positive value) on success and a negative
 * errno on failure unless it says otherwise.  All functions are thread safe.
 */
#ifndef USWAP_H
#define USWAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define USWAP_API __attribute__((visibility("default")))

struct uswap;

/*
 * Options.  All zero means defaults; a zero or NULL field is then taken from
 * the USWAP_<NAME> environment variable of the same name (USWAP_BUDGET,
 * USWAP_DEVICE, USWAP_POLICY, USWAP_THREADS, ...), else from the default.
 * The option table in docs/options.md lists every option once.
 */
struct uswap_config {
	size_t budget;	    /* bytes of resident memory the regions may hold */
	const char *device; /* "zram" (lz4), "zram:zstd", "zram:zstd:3" */
	const char *policy; /* swap-in protocol: "unified" (default),
			       "fallback", "waitqueue", "sleep", "retry" */
	unsigned threads;   /* fault handler threads, 0 = choose */
	size_t swap_size;   /* bytes of swap slots, 0 = choose (8 x budget) */
	size_t store_limit; /* bytes the compressed store may use, 0 = none */
	unsigned flags;	    /* USWAP_F_* */
};

/* Flags (struct uswap_config.flags, or USWAP_<NAME>=1, or --<name>). */
#define USWAP_F_STATS (1u << 0) /* print the statistics at uswap_close */
#define USWAP_F_SIGBUS \
	(1u << 1) /* serve user-mode faults in the faulting
				    thread (UFFD_FEATURE_SIGBUS): about 2x
				    faster on this VM, but a system call that
				    touches a page not in memory (swapped out
				    or never touched) fails with EFAULT
				    instead of waiting */
#define USWAP_F_PUBLISH \
	(1u << 2) /* publish the statistics for `uswap stat
				    PID` (a memfd "uswap-stats" refreshed
				    every 250 ms by one more thread) */
#define USWAP_F_EVICT_MOVE \
	(1u << 3) /* evict every page with its own UFFDIO_MOVE,
				    not scattered cold pages together (window
				    eviction: write-protect, copy, one drop) */
#define USWAP_F_NO_SPIN \
	(1u << 4) /* a fault handler sleeps as soon as no fault is
				    queued, instead of polling for the next one
				    for up to 100 us (adaptive): less CPU, but
				    a wake-up per fault, slow on VMs */
#define USWAP_F_NO_COLOCATE \
	(1u << 5) /* with USWAP_F_SIGBUS: uswap's own threads
				    (fault handlers, reclaimer) run on any CPU,
				    instead of all on one, where each page drop's
				    hand-off between them is a context switch
				    rather than two cross-CPU wake-ups */
#define USWAP_F_NO_CARRY \
	(1u << 6) /* a window eviction cuts its drop at every page
				    in use between its cold ones, instead of
				    dropping up to 8 in a row with them and
				    putting them back at once (each cut is one
				    more remove event, during which the kernel
				    refuses every install) */

#define USWAP_F_NO_FAULT_COMPRESS \
	(1u << 7) /* with USWAP_F_SIGBUS: a fault over the budget
				    only waits for the reclaimer thread, instead
				    of compressing the oldest pages of the swap
				    cache itself first, as the kernel's direct
				    reclaim does */

/* Statistics: monotonic counters since uswap_open, and current sizes. */
struct uswap_stats {
	/* faults by kind */
	uint64_t faults;	/* fault messages handled */
	uint64_t faults_zero;	/* first touch: zero page installed */
	uint64_t faults_minor;	/* served from the swap cache */
	uint64_t faults_major;	/* read from a device */
	uint64_t faults_repeat; /* a thread faulted again on an entry it
				   already faulted on (the race's price) */
	uint64_t eexist;	/* install found the page already there */
	uint64_t swapins;	/* pages read from a device */
	uint64_t swapouts;	/* pages written to a device */
	uint64_t reclaim_scans; /* pages looked at by reclaim */
	uint64_t sigbus;	/* accesses failed with SIGBUS (read error) */
	/* sizes, bytes */
	uint64_t budget;
	uint64_t mapped;   /* bytes of all regions */
	uint64_t resident; /* bytes present in the process */
	uint64_t cached;   /* bytes in the swap cache (uncompressed) */
	uint64_t stored;   /* bytes of pages kept on devices (original size) */
	uint64_t compressed; /* bytes of their compressed data */
	uint64_t held;	     /* all memory uswap holds for data: resident +
				cached + device memory used */
};

/*
 * uswap_open - start a uswap instance (its handler threads and devices).
 * @cfg: options, NULL for all defaults.
 * @out: the instance on success.
 * Return: 0; -EINVAL for a bad option (a message naming it goes to stderr);
 * -EPERM when userfaultfd is not permitted; -ENOMEM.
 */
USWAP_API int uswap_open(const struct uswap_config *cfg, struct uswap **out);

/*
 * uswap_map - map @len bytes (rounded up to pages) of paged memory.
 * Return: the address, or NULL with errno set (EINVAL, ENOMEM).
 */
USWAP_API void *uswap_map(struct uswap *u, size_t len);

/*
 * uswap_unmap - like munmap(2) of [@addr, @addr+@len) (page-aligned @addr,
 * @len rounded up): the parts of uswap regions in the range are discarded
 * (every swap slot they held is freed) and the regions trimmed or split
 * around it; parts of the range outside any region are unmapped too.
 * Return: 0; -EINVAL when @addr is not page-aligned or the range overlaps
 * no region (then nothing is unmapped).
 */
USWAP_API int uswap_unmap(struct uswap *u, void *addr, size_t len);

/*
 * uswap_mmap - mmap(2) of @len bytes of private anonymous read-write memory
 * as a uswap region, for allocators and the `uswap run` shim.
 * @addr: NULL or a hint; with @flags MAP_FIXED, the place (whatever was
 * mapped there is unmapped first, uswap's parts as by uswap_unmap); with
 * MAP_FIXED_NOREPLACE, the place or EEXIST.  @flags: 0 or one of those two.
 * Return: the address, or MAP_FAILED with errno (EINVAL, ENOMEM, EEXIST).
 */
USWAP_API void *uswap_mmap(struct uswap *u, void *addr, size_t len, int flags);

/* uswap_adopt's flags */
#define USWAP_ADOPT_PRESENT (1u << 0) /* take the pages present now too */

/*
 * uswap_adopt - make [@addr, @addr+@len) of memory the program mapped
 * without uswap (private, anonymous, read-write, every page mapped: e.g.
 * from mmap(2) before uswap_open) uswap memory, contents kept.  From then
 * on it behaves like memory from uswap_mmap: every page not mapped yet is
 * uswap's from its first touch.  The pages the kernel maps now are taken
 * too with USWAP_ADOPT_PRESENT (they count against the budget, which may
 * make the call reclaim before it returns, and can be swapped out);
 * without it they stay ordinary memory, outside the budget, until the
 * program discards them (MADV_DONTNEED, munmap).
 * Return: 0; -EINVAL (@addr not page-aligned, @len 0, unknown @flags, or
 * part of the range is not private anonymous read-write memory: a file
 * mapping, shared, executable, the main thread's stack); -ENOMEM (part of
 * the range is not mapped, or no memory); -EEXIST (part of it is uswap
 * memory already); -EOPNOTSUPP (the kernel cannot tell uswap what it maps
 * there: Linux before 6.11, or /proc not mounted).  On error nothing
 * changed.
 */
USWAP_API int uswap_adopt(struct uswap *u, void *addr, size_t len,
			  unsigned flags);

/*
 * uswap_mremap - mremap(2) of a range lying inside one region (@flags: 0,
 * MREMAP_MAYMOVE, MREMAP_FIXED with @new_addr).  The contents move with it,
 * swapped-out pages included; shrinking discards the tail.
 * Return: the new address, or MAP_FAILED with errno (EINVAL when the old
 * range is not inside one region, ENOMEM when it cannot grow in place).
 */
USWAP_API void *uswap_mremap(struct uswap *u, void *old_addr, size_t old_len,
			     size_t new_len, int flags, void *new_addr);

/*
 * uswap_owns - whether [@addr, @addr+@len) overlaps a uswap region.
 * Return: 1 or 0.  Context: any thread; lock-free for the caller's purposes
 * (a read lock on the region table).
 */
USWAP_API int uswap_owns(struct uswap *u, const void *addr, size_t len);

/* uswap_stats - fill @st.  Return: 0. */
USWAP_API int uswap_stats(struct uswap *u, struct uswap_stats *st);

/*
 * fork(2): the child gets its own copy of every open instance, with the
 * parent's contents (swapped-out pages included), regions, options and
 * statistics, served by its own new threads; parent and child then go on
 * independently.  uswap registers pthread_atfork handlers for this at the
 * first uswap_open: while a fork is in progress the instances' threads are
 * parked between faults (so no lock of theirs is copied held).  A child made
 * with vfork(2) or clone(2) without them must only exec or _exit.
 */

/*
 * uswap_close - stop the instance.  Regions still mapped are first made
 * ordinary memory with their contents (nothing is lost), then released.
 */
USWAP_API void uswap_close(struct uswap *u);

#ifdef __cplusplus
}
#endif
#endif /* USWAP_H */
