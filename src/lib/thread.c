/*
 * thread_start: why uswap's threads block signals.
 *
 * A process-directed signal (kill(2) to the process: SIGCHLD, SIGTERM,
 * SIGUSR1, SIGALRM from alarm(2)...) goes to any one thread that does not
 * block it.  uswap's threads live in the program's process, so without a
 * mask of their own they are such threads, and the program's handler runs
 * on them:
 *
 *  - while the program's thread blocks the signal: programs block signals
 *    to keep a handler out of a critical section (PostgreSQL's postmaster
 *    runs all its work in handlers and keeps them blocked outside its
 *    wait; see the timeline below);
 *  - on a fault handler thread: if the handler touches a swapped-out page,
 *    that thread waits for a fault it may be the only one to serve; if it
 *    forks, the fork's prepare handler (src/mm/fork.c) parks the fault
 *    handlers and waits for the one it runs on;
 *  - and it is not there for sigwait(3) in the program's thread.
 *
 * Found so (2026-11-27): PostgreSQL under `uswap run --budget 4M`,
 * pgbench -C (a fork per connection) hung.  The postmaster is one thread
 * that blocks its signals while it works, and forks from its handlers.
 * Stacks (gdb, /proc/PID/task/TID/{stack,syscall}):
 *
 *   postmaster: uswap-fault1             a new backend (2 of them)
 *   read(2) on the uffd, interrupted:
 *   SIGUSR1 handler -> StartAutoVacWorker
 *   -> fork -> uswap's prepare handler
 *   rings fault1's own doorbell and
 *   waits until a handler reads it:      setlocale (write lock) waits
 *   the postmaster hangs (D state in     forever: __libc_setlocale_lock
 *   userfaultfd_event_wait_completion)   came with one reader and no
 *                                        thread to drop it
 *
 * How the backends got their lock held (inferred, not seen): a handler
 * forked on a uswap thread while the postmaster's own thread was in
 * gettext (it logs with its signals blocked), which holds that lock to
 * read; a child inherits the lock word, not the reader.
 *
 * Only the asynchronous signals are blocked.  The synchronous ones
 * (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS) are raised by the
 * thread's own instruction: the kernel forces them through a mask anyway,
 * and in the in-thread mode a SIGBUS is uswap's own fault path.  glibc
 * keeps its internal signals (cancellation, setxid) unblockable.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>

#include "lib/thread.h"

int thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	static const int synchronous[] = {SIGSEGV, SIGBUS,  SIGILL,
					  SIGFPE,  SIGTRAP, SIGSYS};
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	for (unsigned i = 0; i < sizeof(synchronous) / sizeof(*synchronous);
	     i++)
		sigdelset(&all, synchronous[i]);
	/* The new thread inherits the mask it is created with. */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

int thread_pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	if (cpu >= CPU_SETSIZE)
		return EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? errno : 0;
}

int thread_last_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2)
		return -1;
	for (int cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--)
		if (CPU_ISSET(cpu, &set))
			return cpu;
	return -1;
}
