/*
 * fork(2) of a process with open uswap instances (include/uswap.h, the
 * fork paragraph; docs/pager.md, "fork").
 *
 * The whole pager lives in the process: its regions' pte tables, the swap
 * core, the compressed store, the staging area with the swap cache's
 * folios.  fork copies all of it, so the child starts with a consistent
 * snapshot as long as no pager thread was in the middle of changing it.
 * What the child lacks are kernel objects and threads: the uffds, the
 * pidfd and the pagemap fd it inherits are the *parent's* (a
 * process_madvise through the old pidfd would discard the parent's pages),
 * and without UFFD_FEATURE_EVENT_FORK (we never ask for it) the kernel
 * drops the uffd registration of every vma in the child (dup_userfaultfd:
 * userfaultfd_reset_ctx), so its missing pages would read as zeros.
 *
 * So, with pthread_atfork handlers registered at the first mm_create:
 *   prepare  for each instance: park the reclaimer between batches (a
 *            window eviction in flight needs the handlers to read its
 *            events).  Fault in the FILEs glibc touches in the child
 *            and the NSS state it copies after us (fork_libc.c).  For
 *            each instance: park its handler threads (a doorbell each:
 *            the handler that reads it parks after its batch, holding no
 *            lock), take map_lock (no
 *            layout change, no forced eviction in flight), wait for
 *            SIGBUS-mode faults in flight.  Now no pager lock is held by
 *            anyone but read_lock (by a handler blocked in read(2), which
 *            guards no data) and map_lock (ours).  If a FILE's page went
 *            out again meanwhile (fork_files_present), unpark and start over,
 *            at most FILES_TRIES times.
 *   parent   unpark, unlock.
 *   child    for each instance: re-initialise its locks, close the
 *            inherited fds, open new uffds (same features but SIGBUS,
 *            below), pidfd and pagemap fd, register the regions
 *            (MODE_MISSING), the staging area (MODE_WP) and the
 *            doorbells again, reset the thread bookkeeping; then (every
 *            instance registered first) start new handlers, serve
 *            faults in this thread until all of them run (a new thread
 *            may fault in glibc before it runs our code, on any
 *            instance's memory: mm_serve_until_handlers_up), and start
 *            new reclaimers.
 * In the in-thread mode (USWAP_F_SIGBUS) the child leaves the mode: its
 * new uffd has no UFFD_FEATURE_SIGBUS and its handler threads serve every
 * fault.  A new thread can fault at birth (above), and in that mode the
 * fault is a SIGBUS while glibc still has every signal blocked there,
 * which the kernel answers by killing the process: a program that had
 * set a locale, with its data swapped out, lost every forked child so
 * (docs/pager.md, the in-thread mode's caveats).  The child keeps its
 * SIGBUS handler registration (sigbus_registered), which now sees no
 * fault of ours.
 * Nothing of ours touches region memory between fork and
 * re-registration: only the forking thread exists in the child, and it is
 * in this code.  glibc's own fork code does, before us: see
 * fork_libc.c.
 *
 * Present pages are COW-shared after fork: UFFDIO_MOVE refuses them
 * (EBUSY) until they are written, in the parent as in the child, so
 * eviction skips them (evict_page -EBUSY, rotated; mm_reclaim stops after
 * a lap of busy pages).  Swapped-out pages are each process's own (each
 * has its own copy of the slot and of the store).
 *
 * Lock order: fork_lock (the instance list) outermost, then per instance
 * park_lock (leaf), map_lock; glibc's _IO_list_lock under fork_lock, with
 * no pager lock held and the handlers running (fork_libc.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/internal.h"

static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mm *fork_list; /* fork_lock */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/*
 * Park @mm's handlers, take its map_lock (see the file comment).
 * Context: fork_lock held, the reclaimer parked.
 */
static void fork_park_handlers(struct mm *mm)
{
	atomic_store(&mm->park_faults, true);
	mm_handlers_wake_all(mm);
	/*
	 * One doorbell at a time: the next only once the reader of this one
	 * has parked.  The read(2) that dequeued a doorbell (and so released
	 * our madvise) goes on dequeuing whatever else is queued: a next
	 * doorbell rung at once could join its batch, and the other handler
	 * would wait in poll(2) while we wait for it to park (seen once:
	 * mm-fork_stress under ASan hung with nparked 1 of 2).
	 */
	for (unsigned i = 0; i < mm->nhandlers; i++) {
		madvise((char *)mm->bell + i * PAGE_SIZE, PAGE_SIZE,
			MADV_DONTNEED);
		pthread_mutex_lock(&mm->park_lock);
		while (mm->nparked <= i)
			pthread_cond_wait(&mm->park_cond, &mm->park_lock);
		pthread_mutex_unlock(&mm->park_lock);
	}
	pthread_mutex_lock(&mm->map_lock);
	while (atomic_load(&mm->sig_inflight) > 0)
		sched_yield();
}

/* Undo fork_park_*: unlock, unpark.  Context: fork_lock held. */
static void fork_unpark(struct mm *mm)
{
	pthread_mutex_unlock(&mm->map_lock);
	pthread_mutex_lock(&mm->park_lock);
	atomic_store(&mm->park_faults, false);
	atomic_store(&mm->park, false);
	pthread_cond_broadcast(&mm->park_cond);
	/* all out before a next fork can park them again */
	while (mm->nparked || mm->reclaimer_parked)
		pthread_cond_wait(&mm->park_cond, &mm->park_lock);
	pthread_mutex_unlock(&mm->park_lock);
}

/* prepare's rounds, at most, until the FILEs stay present (fork_libc.c) */
#define FILES_TRIES 3

static void fork_prepare(void)
{
	pthread_mutex_lock(&fork_lock);
	if (!fork_list)
		return; /* nothing to park, no uswap memory */
	for (int tries = 1;; tries++) {
		struct mm *mm;

		/* reclaimers before handlers: a window eviction in flight
		 * waits for a handler to read its drop's remove events */
		for (mm = fork_list; mm; mm = mm->fork_next)
			mm_reclaimer_park(mm);
		fork_files_fault_in();
		fork_nss_fault_in();
		for (mm = fork_list; mm; mm = mm->fork_next)
			fork_park_handlers(mm);
		if (fork_files_present())
			break;
		if (tries == FILES_TRIES) {
			fprintf(stderr,
				"uswap: fork: a FILE stays swapped out "
				"after %d tries; the child will find "
				"its page zeroed\n",
				tries);
			for (mm = fork_list; mm; mm = mm->fork_next)
				STAT_INC(mm, errors);
			break;
		}
		for (mm = fork_list; mm; mm = mm->fork_next)
			fork_unpark(mm);
	}
}

static void fork_parent(void)
{
	for (struct mm *mm = fork_list; mm; mm = mm->fork_next)
		fork_unpark(mm);
	pthread_mutex_unlock(&fork_lock);
}

/*
 * register_region - register @r in the child.  A part the parent had
 * munmap(2)ed itself, whose unmap event was not applied before the fork,
 * is not mapped here and never will raise its event: cut it now.
 */
static void register_region(struct mm *mm, struct mm_region *r, size_t *i)
{
	uint64_t a = r->start, e = r->end;
	unsigned char vec;

	if (uffd_register(&mm->uffd, (void *)(uintptr_t)a, e - a,
			  mm_uffd_reg_modes(mm)) == 0) {
		(*i)++;
		return;
	}
	for (; a < e; a += PAGE_SIZE) {
		uint64_t b = a;

		while (b < e &&
		       mincore((void *)(uintptr_t)b, PAGE_SIZE, &vec) &&
		       errno == ENOMEM)
			b += PAGE_SIZE;
		if (b > a) {
			/* the table changes: the caller looks again at *i */
			pthread_mutex_unlock(&mm->map_lock);
			mm_apply_unmap(mm, a, b);
			pthread_mutex_lock(&mm->map_lock);
			return;
		}
	}
	fprintf(stderr, "uswap: fork child: cannot register %#llx-%#llx\n",
		(unsigned long long)r->start, (unsigned long long)r->end);
	STAT_INC(mm, errors);
	(*i)++;
}

static void fork_child_fail(const char *what, int err)
{
	fprintf(stderr,
		"uswap: fork child %d: %s: %s; its swapped-out memory cannot "
		"be served\n",
		(int)getpid(), what, strerror(-err));
	abort();
}

/*
 * The child's half of one instance, up to its threads (fork_child): see
 * the file comment.  map_lock is ours.
 */
static void fork_restart(struct mm *mm)
{
	int ret;

	pthread_mutex_init(&mm->read_lock, NULL);
	pthread_mutex_init(&mm->park_lock, NULL);
	pthread_cond_init(&mm->park_cond, NULL);
	pthread_mutex_init(&mm->reclaim_lock, NULL);
	pthread_cond_init(&mm->reclaim_cond, NULL);
	pthread_mutex_init(&mm->wq_lock, NULL);
	pthread_cond_init(&mm->wq_cond, NULL);
	pthread_mutex_init(&mm->quiesce_lock, NULL);
	mm->nparked = 0;
	mm->reclaimer_parked = false;
	mm->reclaimer_started = false;
	mm->reclaim_kick = false;
	mm->nhandlers = 0;
	atomic_store(&mm->park, false);
	atomic_store(&mm->park_faults, false);
	atomic_store(&mm->wq_waiters, 0);
	atomic_store(&mm->faults_inflight, 0);
	atomic_store(&mm->unmaps_pending, 0);
	atomic_store(&mm->sig_inflight, 0);
	/* the reclaimer was parked outside a window eviction */
	pthread_mutex_init(&mm->zap_lock, NULL);
	/* the parent's sleeping faulters are the parent's */
	pthread_mutex_init(&mm->later_lock, NULL);
	atomic_store(&mm->nlater, 0);
	if (mm->later_fd >= 0)
		close(mm->later_fd);
	mm->later_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	memset(mm->zap_ranges, 0, sizeof(mm->zap_ranges));
	atomic_store(&mm->zap_inflight, 0);
	atomic_store(&mm->layout_busy, 0);
	/* a read the parent had begun ends in the parent */
	atomic_store(&mm->reads_done, atomic_load(&mm->reads_started));

	uffd_close(&mm->uffd);
	uffd_close(&mm->stage_uffd);
	mm_proc_close(mm);
	mm_proc_open(mm);
	/* the in-thread mode's child serves with handler threads: see above */
	mm->p.sigbus = false;
	/* ...placed by the scheduler, as handler threads must be (mm.h) */
	mm->p.colocate = false;
	mm->home_cpu = -1;
	ret = mm_uffds_open(mm);
	if (ret < 0)
		fork_child_fail("userfaultfd", ret);
	for (size_t i = 0; i < mm->nregions;)
		register_region(mm, mm->regions[i], &i);
	ret = uffd_register(&mm->stage_uffd, mm->staging, mm->staging_len,
			    UFFD_REG_WP);
	if (ret < 0)
		fork_child_fail("registering the staging area", ret);
	ret = mm_bells_register(mm);
	if (ret < 0)
		fork_child_fail("registering the doorbells", ret);
}

/*
 * fork_child - every instance's memory is registered before any new
 * thread runs, then every instance's handlers start, and this thread
 * serves every instance until all of them run (a new thread may fault in
 * glibc before it runs our code, on whichever instance's memory holds
 * what it reads: mm_serve_until_handlers_up), then the reclaimers start.
 * Until 2026-11-27 the instances restarted one after the other: a handler
 * of the first that faulted at birth on a later one's memory found it not
 * registered yet and read zeros (tests/mm/fork_instances.c).
 */
static void fork_child(void)
{
	struct mm *mm;
	bool up;
	int ret;

	mm_tid_forget();
	for (mm = fork_list; mm; mm = mm->fork_next)
		fork_restart(mm);
	for (mm = fork_list; mm; mm = mm->fork_next) {
		ret = mm_handlers_spawn(mm);
		if (ret < 0)
			fork_child_fail("starting handler threads", ret);
	}
	do {
		up = true;
		for (mm = fork_list; mm; mm = mm->fork_next)
			up &= mm_serve_handlers_round(mm);
	} while (!up);
	for (mm = fork_list; mm; mm = mm->fork_next) {
		if (!mm->p.no_reclaimer) {
			ret = mm_reclaimer_start(mm);
			if (ret < 0)
				fork_child_fail("starting the reclaimer", ret);
		}
		pthread_mutex_unlock(&mm->map_lock);
	}
	pthread_mutex_unlock(&fork_lock);
}

static void fork_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/*
 * mm_fork_register - put @mm on the list the fork handlers walk (once
 * started: its threads run).  Context: mm_create.
 */
void mm_fork_register(struct mm *mm)
{
	pthread_once(&fork_once, fork_init);
	pthread_mutex_lock(&fork_lock);
	mm->fork_next = fork_list;
	fork_list = mm;
	pthread_mutex_unlock(&fork_lock);
}

/* mm_fork_unregister - take @mm off the list.  Context: mm_destroy. */
void mm_fork_unregister(struct mm *mm)
{
	pthread_mutex_lock(&fork_lock);
	for (struct mm **p = &fork_list; *p; p = &(*p)->fork_next) {
		if (*p == mm) {
			*p = mm->fork_next;
			break;
		}
	}
	pthread_mutex_unlock(&fork_lock);
}
