/*
 * What glibc's fork(2) touches outside our atfork handlers, faulted in by
 * fork.c's prepare handler while the pager's handlers still serve: the
 * FILEs (which glibc resets in the child before any child handler) and
 * the NSS state (which it copies in the parent after every prepare
 * handler, ours included).  The fork protocol itself is in fork.c; this
 * file is the part that knows glibc's internals.
 *
 * Lock order: glibc's _IO_list_lock and NSS lock under fork_lock, with no
 * pager lock held (docs/locking.md).
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "mm/internal.h"

/*
 * The FILEs glibc's fork touches in the child.  In the child, before any
 * atfork child handler runs, glibc resets the lock of every FILE on its
 * list (fresetlockfiles: it reads fp->_flags, fp->_lock and fp->_chain and
 * writes *fp->_lock).  Our child handler has not registered the regions
 * again by then (the kernel dropped their registration at fork), so a
 * FILE in a swapped-out page of a region is a missing page there: the
 * kernel maps a zero page, the child's copy of that whole page is lost,
 * the FILE list ends at it and the FILE's next use crashes.  Under `uswap
 * run` every fopen'd FILE is in the program's heap, uswap memory; seen:
 * the child of tests/run/shim_ops.c fork_files died of SIGSEGV, 3 of 3
 * runs.
 *
 * So the prepare handler faults them in while the handlers still serve
 * faults, with the reclaimer already parked and park set: direct reclaim
 * stops on park (mm_reclaim), so from then on only a forced eviction
 * (mm_evict_range, called by another thread: tests, the demo) can take a
 * page out again.  fork_files_present checks that they are all still there
 * once everything is parked; if not, prepare unparks and tries again, and
 * after a few rounds says so and forks anyway (fork.c, FILES_TRIES).
 *
 * glibc exports the iterator fresetlockfiles uses (_IO_iter_*, GLIBC_2.2.5)
 * and the list lock.  Race: a thread that fopens a FILE after our walk
 * touched it itself (it is present unless evicted since, the same case as
 * above); one that fcloses it only shortens the list.
 */
#ifdef __GLIBC__
typedef void *io_iter; /* struct _IO_FILE_plus *, opaque here */
extern io_iter _IO_iter_begin(void);
extern io_iter _IO_iter_end(void);
extern io_iter _IO_iter_next(io_iter i);
extern FILE *_IO_iter_file(io_iter i);
extern void _IO_list_lock(void);
extern void _IO_list_unlock(void);

/* The bytes fresetlockfiles reads or writes: the FILE, its lock. */
#define FILE_LOCK_SIZE (2 * sizeof(int) + sizeof(void *)) /* _IO_lock_t */

/* Touch every page of [p, p + len): a read fault swaps a page in. */
static void touch_range(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(PAGE_SIZE - 1);

	for (; a < (uintptr_t)p + len; a += PAGE_SIZE)
		(void)*(volatile const char *)a;
}

/* Every page of [p, p + len) present (or not mapped: no fault for us). */
static bool range_present(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(PAGE_SIZE - 1);
	unsigned char vec;

	for (; a < (uintptr_t)p + len; a += PAGE_SIZE)
		if (mincore((void *)a, PAGE_SIZE, &vec) == 0 && !(vec & 1))
			return false;
	return true;
}

/* Context: fork_lock held, reclaimers parked, handlers running. */
void fork_files_fault_in(void)
{
	_IO_list_lock();
	for (io_iter i = _IO_iter_begin(); i != _IO_iter_end();
	     i = _IO_iter_next(i)) {
		FILE *fp = _IO_iter_file(i);

		touch_range(fp, sizeof(*fp));
		if (fp->_lock)
			touch_range(fp->_lock, FILE_LOCK_SIZE);
	}
	_IO_list_unlock();
}

/*
 * Context: fork_lock held, everything parked: a page that is not present
 * must not be read (nobody would serve the fault), so each is checked
 * before it is read.
 */
bool fork_files_present(void)
{
	bool ok = true;

	_IO_list_lock();
	for (io_iter i = _IO_iter_begin(); i != _IO_iter_end();
	     i = _IO_iter_next(i)) {
		FILE *fp = _IO_iter_file(i);

		if (!range_present(fp, sizeof(*fp)) ||
		    (fp->_lock && !range_present(fp->_lock, FILE_LOCK_SIZE))) {
			ok = false;
			break;
		}
	}
	_IO_list_unlock();
	return ok;
}
#else
void fork_files_fault_in(void)
{
}
bool fork_files_present(void)
{
	return true;
}
#endif

/*
 * NSS.  glibc's fork, after every prepare handler (so once the pager is
 * parked), copies its NSS configuration state
 * (__nss_database_fork_prepare_parent reads it under its lock), and the
 * child writes the copy back before any child handler.  The state is
 * malloc'd: under `uswap run`, uswap memory.  Swapped out, the parent's
 * fork waited forever for a fault no parked handler would serve (a program
 * that called getpwnam and forked later: 3 of 3 hung there, seen with gdb;
 * tests/run/shim_ops.c fork_nss).  Its address is static in libc and not
 * exported, so: __nss_database_get (GLIBC_PRIVATE since 2.33, looked up
 * with dlvsym, skipped when absent) reads the same state under the same
 * lock, which faults it in while the handlers still serve.  It creates the
 * state (and reads /etc/nsswitch.conf) in a process that never used NSS,
 * and stats the file at each fork: the price of not hanging.  The page
 * then stays, as the FILEs' do (above); unlike theirs its presence is not
 * checked, having no address.
 * Context: fork_lock held, reclaimers parked, handlers running.
 */
void fork_nss_fault_in(void)
{
#ifdef __GLIBC__
	static bool (*nss_get)(int db, void **actions);
	static bool looked;
	void *actions;

	if (!looked) {
		nss_get = (bool (*)(int, void **))dlvsym(
			RTLD_DEFAULT, "__nss_database_get", "GLIBC_PRIVATE");
		looked = true;
	}
	if (nss_get)
		(void)nss_get(0, &actions); /* 0: the first database, any */
#endif
}
