/*
 * The words a thread sleeps on, kept in memory in the in-thread mode
 * (`uswap run --sigbus`).
 *
 * glibc's waits check their word in user space, then call
 * futex(FUTEX_WAIT), whose kernel side reads the word again.  In the
 * in-thread mode that read fails with EFAULT when the page is not in
 * memory, and glibc takes EFAULT there for a bug: it prints "The futex
 * facility returned an unexpected error code." and aborts.  The page need
 * not be out when the call begins: a window eviction can drop it between
 * glibc's check (which brought it in) and the system call, because every
 * resident page passes through the inactive list in turn (userfaultfd
 * gives no accessed bits: a page in use is dropped into the swap cache,
 * and its next touch is a minor fault).  A C program passing turns through
 * four condition variables and semaphores in malloc'd pages while its
 * main thread churns a 64 MiB heap, under `uswap run --budget 8M --sigbus`,
 * aborted so in 3 runs of 3, within 10 s (tests/run/sigbus_futex.c).
 *
 * So each call below, in that mode, makes the page(s) of its object plain
 * memory before it may sleep (uswap_disown, as locale.c does for the
 * locale data): never evicted again, not counted in the budget.  The
 * disown is safe against an eviction in flight (mm_disown brings the page
 * in and waits it out; a plain page cuts every window's drop).  A page the
 * program once waited on stays plain, like the locale's, until the
 * program discards it (mm_disown): a page or a few per object waited on,
 * not per wait, and the allocator's purge of freed memory (MADV_DONTNEED)
 * gives them back to uswap.
 *
 *   pthread_cond_wait, _timedwait, _clockwait   the condition variable
 *                                  and the mutex (taken back after it)
 *   sem_wait, _timedwait, _clockwait             the semaphore
 *   pthread_rwlock_rdlock, _wrlock, and their timed and clock forms
 *   pthread_mutex_lock, _timedlock, _clocklock   the mutex
 *   pthread_barrier_wait                         the barrier
 *
 * Where a try can take the object without sleeping (a semaphore, a
 * read-write lock, a mutex), it is tried first and nothing is disowned
 * when it succeeds: an uncontended sem_wait or rwlock costs a few atomic
 * instructions, and a disown (a region lookup, a pte lock) would be many
 * times that.  The try is what the call itself does first, so the result
 * is the same (a robust mutex's EOWNERDEAD included: returned, the mutex
 * taken).  A condition variable's wait always sleeps: always disowned.
 *
 * A contended pthread_mutex_lock too: glibc 2.36's __lll_lock_wait calls
 * __libc_fatal for any error of its futex but EAGAIN and EINTR
 * (disassembled), though its window is only the few instructions between
 * its atomic exchange, which brings the page in, and the system call: no
 * test here has hit it.  A condition variable's wait takes its mutex back
 * through the same function, unwrapped: so its wrapper keeps the mutex's
 * page as well.
 *
 * Needs nothing: wakes (a private FUTEX_WAKE reads no memory, and glibc
 * ignores its EFAULT), pthread_join (the thread's descriptor lies in its
 * stack, plain memory).
 *
 * futex(2) called through syscall(3) (C++20's std::atomic::wait in
 * libstdc++ throws on its EFAULT): the word of a wait, and the second
 * word of the operations that read or write one (FUTEX_CMP_REQUEUE,
 * FUTEX_WAKE_OP, FUTEX_WAIT_REQUEUE_PI), and the PI lock operations'.
 *
 * Not covered: futex(2) made without syscall(3) (inline, as glibc does
 * inside itself: a FILE's lock, which fopen mallocs with the FILE, has a
 * contended mutex's window of a few instructions), futex_waitv,
 * pthread_once on a control in uswap memory (nearly always static data).  The wrappers interpose the
 * default versions; a binary linked to glibc's pre-2.3.2 condition
 * variables (GLIBC_2.2.5, before 2003) would reach the new ones.
 *
 * Context: the program's thread, about to wait; uswap_disown loads the
 * pages first (served by uswap's SIGBUS handler in this thread).
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "preload/shim.h"

static atomic_ulong n_kept; /* waits that disowned; statistics: relaxed */

unsigned long futex_waits_kept(void)
{
	return atomic_load_explicit(&n_kept, memory_order_relaxed);
}

/*
 * from_shim - whether @ret, a wrapper's return address, lies in the shim:
 * uswap's own copy of the library is linked into it, and its locks,
 * condition variables and futexes reach these wrappers too.  They must go
 * straight through: keep's region lookup (shim_owned) takes uswap's
 * region_lock, whose read lock would come back here and, contended, again
 * and again; and a SIGBUS handler serving a fault holds pte locks while
 * it takes others.  The shim is built without sibling calls
 * (meson.build), so a call of its own always returns into it.
 */
extern const char __ehdr_start[] __attribute__((visibility("hidden")));
extern const char etext[] __attribute__((visibility("hidden")));

static inline bool from_shim(const void *ret)
{
	return (const char *)ret >= __ehdr_start && (const char *)ret < etext;
}

#define CALLER_IS_SHIM() from_shim(__builtin_return_address(0))

/* keep - disown the pages of [@obj, +@len) if they are uswap memory. */
static void keep(const void *obj, size_t len)
{
	uintptr_t s, e;

	if (!shim_in_thread_mode() || !shim_owned(obj, len))
		return;
	s = (uintptr_t)obj & ~(uintptr_t)4095;
	e = ((uintptr_t)obj + len + 4095) & ~(uintptr_t)4095;
	shim_depth++;
	/* -EBUSY (an eviction that did not end in 100 tries): wait anyway */
	if (uswap_disown(shim_u, (void *)s, e - s) > 0)
		atomic_fetch_add_explicit(&n_kept, 1, memory_order_relaxed);
	shim_depth--;
}

/* NEXT(name) - name's next definition into `next` (a local), or ENOSYS */
#define NEXT(name)                                        \
	static void *name##_slot;                         \
	*(void **)&next = shim_next(&name##_slot, #name); \
	if (!next) {                                      \
		return ENOSYS;                            \
	}

SHIM_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	int (*next)(pthread_cond_t *, pthread_mutex_t *);

	NEXT(pthread_cond_wait);
	if (!CALLER_IS_SHIM()) {
		keep(c, sizeof(*c));
		keep(m, sizeof(*m));
	}
	return next(c, m);
}

SHIM_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				       const struct timespec *t)
{
	int (*next)(pthread_cond_t *, pthread_mutex_t *,
		    const struct timespec *);

	NEXT(pthread_cond_timedwait);
	if (!CALLER_IS_SHIM()) {
		keep(c, sizeof(*c));
		keep(m, sizeof(*m));
	}
	return next(c, m, t);
}

SHIM_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m,
				       clockid_t clock,
				       const struct timespec *t)
{
	int (*next)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
		    const struct timespec *);

	NEXT(pthread_cond_clockwait);
	if (!CALLER_IS_SHIM()) {
		keep(c, sizeof(*c));
		keep(m, sizeof(*m));
	}
	return next(c, m, clock, t);
}

SHIM_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
	int (*next)(pthread_barrier_t *);

	NEXT(pthread_barrier_wait);
	if (!CALLER_IS_SHIM())
		keep(b, sizeof(*b));
	return next(b);
}

/*
 * A call glibc refuses before it tries (EINVAL) is left to glibc whole:
 * the timed semaphore waits check their timeout first, the clock variants
 * their clock.  A try before would take the object and succeed instead.
 */
static bool clock_ok(clockid_t clock)
{
	return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC;
}

static bool timeout_ok(const struct timespec *t)
{
	return t && t->tv_nsec >= 0 && t->tv_nsec < 1000000000;
}

/*
 * The semaphore's calls return -1 and set errno; sem_trywait's EAGAIN
 * means it would sleep.  sem_wait is a cancellation point even when it
 * need not sleep (glibc tests for a cancellation first): so do we.
 */
#define SEM_TRY_FIRST(s)                 \
	do {                             \
		int saved_ = errno;      \
		pthread_testcancel();    \
		if (sem_trywait(s) == 0) \
			return 0;        \
		if (errno != EAGAIN)     \
			return -1;       \
		errno = saved_;          \
		keep(s, sizeof(*(s)));   \
	} while (0)

SHIM_EXPORT int sem_wait(sem_t *s)
{
	int (*next)(sem_t *);
	static void *sem_wait_slot;

	*(void **)&next = shim_next(&sem_wait_slot, "sem_wait");
	NONE_ENOSYS(next);
	if (!CALLER_IS_SHIM())
		SEM_TRY_FIRST(s);
	return next(s);
}

SHIM_EXPORT int sem_timedwait(sem_t *s, const struct timespec *t)
{
	int (*next)(sem_t *, const struct timespec *);
	static void *sem_timedwait_slot;

	*(void **)&next = shim_next(&sem_timedwait_slot, "sem_timedwait");
	NONE_ENOSYS(next);
	if (!CALLER_IS_SHIM() && timeout_ok(t))
		SEM_TRY_FIRST(s);
	return next(s, t);
}

SHIM_EXPORT int sem_clockwait(sem_t *s, clockid_t clock,
			      const struct timespec *t)
{
	int (*next)(sem_t *, clockid_t, const struct timespec *);
	static void *sem_clockwait_slot;

	*(void **)&next = shim_next(&sem_clockwait_slot, "sem_clockwait");
	NONE_ENOSYS(next);
	if (!CALLER_IS_SHIM() && clock_ok(clock) && timeout_ok(t))
		SEM_TRY_FIRST(s);
	return next(s, clock, t);
}

/* The locks return an error number; their try's EBUSY means it would sleep. */
#define TRY_FIRST(try, obj)                \
	do {                               \
		int r_ = try(obj);         \
		if (r_ != EBUSY)           \
			return r_;         \
		keep(obj, sizeof(*(obj))); \
	} while (0)

SHIM_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	int (*next)(pthread_rwlock_t *);

	NEXT(pthread_rwlock_rdlock);
	if (!CALLER_IS_SHIM())
		TRY_FIRST(pthread_rwlock_tryrdlock, l);
	return next(l);
}

SHIM_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	int (*next)(pthread_rwlock_t *);

	NEXT(pthread_rwlock_wrlock);
	if (!CALLER_IS_SHIM())
		TRY_FIRST(pthread_rwlock_trywrlock, l);
	return next(l);
}

SHIM_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l,
					   const struct timespec *t)
{
	int (*next)(pthread_rwlock_t *, const struct timespec *);

	NEXT(pthread_rwlock_timedrdlock);
	if (!CALLER_IS_SHIM())
		TRY_FIRST(pthread_rwlock_tryrdlock, l);
	return next(l, t);
}

SHIM_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l,
					   const struct timespec *t)
{
	int (*next)(pthread_rwlock_t *, const struct timespec *);

	NEXT(pthread_rwlock_timedwrlock);
	if (!CALLER_IS_SHIM())
		TRY_FIRST(pthread_rwlock_trywrlock, l);
	return next(l, t);
}

SHIM_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clock,
					   const struct timespec *t)
{
	int (*next)(pthread_rwlock_t *, clockid_t, const struct timespec *);

	NEXT(pthread_rwlock_clockrdlock);
	if (!CALLER_IS_SHIM() && clock_ok(clock))
		TRY_FIRST(pthread_rwlock_tryrdlock, l);
	return next(l, clock, t);
}

SHIM_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clock,
					   const struct timespec *t)
{
	int (*next)(pthread_rwlock_t *, clockid_t, const struct timespec *);

	NEXT(pthread_rwlock_clockwrlock);
	if (!CALLER_IS_SHIM() && clock_ok(clock))
		TRY_FIRST(pthread_rwlock_trywrlock, l);
	return next(l, clock, t);
}

SHIM_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	int (*next)(pthread_mutex_t *);

	NEXT(pthread_mutex_lock);
	if (!CALLER_IS_SHIM())
		TRY_FIRST(pthread_mutex_trylock, m);
	return next(m);
}

SHIM_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m,
					const struct timespec *t)
{
	int (*next)(pthread_mutex_t *, const struct timespec *);

	NEXT(pthread_mutex_timedlock);
	if (!CALLER_IS_SHIM())
		TRY_FIRST(pthread_mutex_trylock, m);
	return next(m, t);
}

SHIM_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock,
					const struct timespec *t)
{
	int (*next)(pthread_mutex_t *, clockid_t, const struct timespec *);

	NEXT(pthread_mutex_clocklock);
	if (!CALLER_IS_SHIM() && clock_ok(clock))
		TRY_FIRST(pthread_mutex_trylock, m);
	return next(m, clock, t);
}

#if defined(__x86_64__)
/* futex_reads - whether futex op @op reads or writes *uaddr (and uaddr2). */
static bool futex_reads(int op, bool *second)
{
	switch (op & FUTEX_CMD_MASK) {
	case FUTEX_CMP_REQUEUE:
	case FUTEX_WAKE_OP:
	case FUTEX_WAIT_REQUEUE_PI:
	case FUTEX_CMP_REQUEUE_PI:
		*second = true;
		return true;
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
	case FUTEX_TRYLOCK_PI:
	case FUTEX_UNLOCK_PI:
		*second = false;
		return true;
	default: /* FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_REQUEUE: no read */
		*second = false;
		return false;
	}
}

/*
 * raw_syscall - what glibc's syscall(3) does: the system call, -errno on
 * failure.  Not glibc's through dlsym: syscall(3) is how the shim's own
 * raw mmap (shim.c) and the library's pidfd, process_madvise and futex
 * calls reach the kernel, also before the shim is set up, when a lookup
 * (which may allocate, and so map) would come back here.
 */
static long raw_syscall(long n, const long a[6])
{
	register long r10 __asm__("r10") = a[3];
	register long r8 __asm__("r8") = a[4];
	register long r9 __asm__("r9") = a[5];
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10),
			   "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/*
 * syscall - syscall(3), looking at futex first.  It takes six arguments
 * whatever the call, as glibc's does: the ones a call has not are
 * whatever the registers held, and the kernel ignores them.
 */
SHIM_EXPORT long syscall(long n, ...)
{
	long a[6], ret;
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_futex && !CALLER_IS_SHIM()) {
		bool second;

		if (futex_reads((int)a[1], &second)) {
			keep((const void *)a[0], sizeof(uint32_t));
			if (second)
				keep((const void *)a[4], sizeof(uint32_t));
		}
	}
	ret = raw_syscall(n, a);
	if ((unsigned long)ret > -4096UL) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}
#endif
