/*
 * What the shim's files share: shim.c (the memory calls, start and exit),
 * io.c (system calls into uswap memory in the in-thread mode), stdio.c
 * (stdio's buffers out of uswap memory, in that mode), locale.c
 * (the locale data new threads read at birth, in that mode) and signals.c
 * (uswap's SIGBUS handler stays first, in that mode).
 * Hidden: exports.map exports only the interposed names.
 */
#ifndef USWAP_PRELOAD_SHIM_H
#define USWAP_PRELOAD_SHIM_H

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "api/api.h"
#include "uswap.h"

/* The instance; set once by the constructor before shim_ready. */
extern struct uswap *shim_u;
/* Release by the constructor: shim_u is set and uswap is up. */
extern atomic_bool shim_ready;
/*
 * >0: this thread is inside uswap (a call of the shim's) or is one of
 * uswap's own threads: every call goes to the kernel.  Per thread, no lock.
 */
extern __thread unsigned shim_depth;

/* shim_active - uswap is up and this thread is not inside it. */
static inline bool shim_active(void)
{
	return atomic_load_explicit(&shim_ready, memory_order_acquire) &&
	       !shim_depth;
}

/*
 * shim_in_thread_mode - shim_active() and uswap serves faults in the
 * faulting thread (`--sigbus`): there the kernel's own access to uswap
 * memory not in memory fails with EFAULT, and a SIGBUS is uswap's fault
 * path (io.c, stdio.c, locale.c, signals.c act only then).
 */
static inline bool shim_in_thread_mode(void)
{
	return shim_active() && uswap_faults_in_thread(shim_u);
}

/* shim_owned - [@addr, +@len) overlaps uswap memory.  After shim_ready. */
static inline bool shim_owned(const void *addr, size_t len)
{
	return uswap_owns(shim_u, addr, len ? len : 1) == 1;
}

/*
 * shim_next - the next definition of @name after the shim's (libc's, or
 * another preloaded library's), looked up at the first call and kept in
 * *@slot.  Threads racing on a first call each look it up and store the
 * same value (relaxed atomics: no data race).  NULL if there is none.
 */
static inline void *shim_next(void **slot, const char *name)
{
	void *fn = __atomic_load_n(slot, __ATOMIC_RELAXED);

	if (!fn) {
		fn = dlsym(RTLD_NEXT, name);
		__atomic_store_n(slot, fn, __ATOMIC_RELAXED);
	}
	return fn;
}

/*
 * io_init - look up the functions io.c wraps (the next definition after
 * the shim's: libc's, or another preloaded library's).
 * Context: the constructor, before uswap starts its threads.
 */
void io_init(void);

/* io.c: bytes of a call's buffers touched first (half the budget) */
extern size_t io_touch_max;

/*
 * io_touch_front - bring in the front of [@p, +@len) that is uswap memory
 * (at most io_touch_max bytes, last page first; @write: by atomic adds of
 * zero, for buffers the kernel writes).  Return: whether any was uswap's.
 */
bool io_touch_front(const void *p, size_t len, bool write);

/*
 * stdio_init - give stdin and stdout buffers out of uswap memory in the
 * in-thread mode (stdio.c).  Context: the constructor, shim_u set.
 */
void stdio_init(void);

/* stdio_buffers_given - stdio.c's buffers given, for the report */
unsigned long stdio_buffers_given(void);

/*
 * bounce.c: in the in-thread mode, a receive that takes what it copies (a
 * datagram, an eventfd's count, a connection...) gets plain memory in
 * place of the caller's buffers of uswap memory, then copies out: the
 * kernel drops what a failed copy took.  @calls: libc's functions (io.c's).
 * Return: 1 and the call's result in *@ret (errno as the call left it);
 * 0 when it does not apply (the descriptor loses nothing, nothing of
 * uswap's, too large, a buffer partly uswap's, a signal handler's call
 * inside another): the caller goes on as before.
 */
struct bounce_calls {
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*readv)(int fd, const struct iovec *iov, int cnt);
	ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);
	ssize_t (*recvfrom)(int fd, void *buf, size_t n, int flags,
			    struct sockaddr *addr, socklen_t *addrlen);
	int (*accept4)(int fd, struct sockaddr *addr, socklen_t *addrlen,
		       int flags);
};
void bounce_init(void);
/*
 * fdkind.c: fd_takes - a read of @fd takes what it copies (a datagram
 * socket, a character device, an anonymous inode); remembered per number.
 * fd_forget - @fd's number is free (close and dup2 are fdkind.c's own;
 * stdio.c's fclose and pclose call it).
 */
bool fd_takes(int fd);
void fd_forget(int fd);
/* fdkind_init - look up close's, dup2's... next definitions (constructor) */
void fdkind_init(void);
/* fill.c: stat, getrandom, getcwd...; fill_init looks up the next ones */
void fill_init(void);
int bounce_read(int fd, void *buf, size_t n, const struct bounce_calls *calls,
		ssize_t *ret);
int bounce_readv(int fd, const struct iovec *iov, int cnt,
		 const struct bounce_calls *calls, ssize_t *ret);
int bounce_recvmsg(int fd, struct msghdr *msg, int flags,
		   const struct bounce_calls *calls, ssize_t *ret);
int bounce_recvfrom(int fd, void *data, size_t n, int flags,
		    struct sockaddr *addr, socklen_t *addrlen,
		    const struct bounce_calls *calls, ssize_t *ret);
int bounce_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags,
		  const struct bounce_calls *calls, int *ret);
int bounce_recvmmsg(int fd, struct mmsghdr *vec, unsigned n, int flags,
		    struct timespec *timeout, const struct bounce_calls *calls,
		    int *ret);
/* bounce_count - calls bounce.c served, for the report */
unsigned long bounce_count(void);

/* The shim's raw system calls (shim.c): never routed into uswap. */
void *uswap_raw_mmap(void *addr, size_t len, int prot, int flags, int fd,
		     off_t off);
int uswap_raw_munmap(void *addr, size_t len);

/* io_retried - system calls io.c retried after EFAULT, for the report. */
unsigned long io_retried(void);

/*
 * io_touch - bring in the pages of [@p, +@len) that are uswap memory,
 * last first (@write: by atomic adds of zero, see io.c's touch_page).
 * Return: whether any was uswap's.
 */
bool io_touch(const void *p, size_t len, bool write);

/*
 * io_again - a wrapped call returned @r on try @t (0 first): whether to
 * touch and call once more (EFAULT on uswap memory, @mine, at most 100
 * tries; counted in io_retried).
 */
bool io_again(long r, unsigned t, bool mine);

/* either - @a or @b, both evaluated (each touches pages) */
static inline bool either(bool a, bool b)
{
	return a || b;
}

/*
 * SHIM_EXPORT - a definition the shim interposes (also listed in
 * exports.map; everything else is hidden)
 */
#define SHIM_EXPORT __attribute__((visibility("default")))

/* NONE_ENOSYS - a wrapper whose next definition @f is missing fails so */
#define NONE_ENOSYS(f)          \
	if (!(f)) {             \
		errno = ENOSYS; \
		return -1;      \
	}

/*
 * IO_WRAP - the body of a wrapper of a call the kernel may fail with
 * EFAULT on uswap memory in the in-thread mode, having taken nothing
 * (io.c says why that holds for the calls wrapped so): in the mode,
 * @touch (an expression that may use the try number `t`: buffers the
 * kernel writes are touched with writes after the first try) before each
 * @call, and again while it fails with EFAULT on uswap memory.  @type:
 * the call's return type.
 */
#define IO_WRAP(type, touch, call)                     \
	do {                                           \
		bool mode_ = shim_in_thread_mode();    \
                                                       \
		for (unsigned t = 0;; t++) {           \
			bool mine_ = mode_ && (touch); \
			type r_ = (call);              \
                                                       \
			if (!io_again(r_, t, mine_))   \
				return r_;             \
		}                                      \
	} while (0)

/*
 * POSIX message queues, declared here and not from mqueue.h: it marks
 * the timeouts nonnull, and the compiler would drop our tests of them
 * (mq_send and mq_receive pass none).  mqd_t is glibc's (bits/mqueue.h).
 * bounce.c receives, io.c sends.
 */
typedef int mqd_t;
ssize_t mq_timedreceive(mqd_t q, char *msg, size_t len, unsigned *prio,
			const struct timespec *abs);
ssize_t mq_receive(mqd_t q, char *msg, size_t len, unsigned *prio);
int mq_timedsend(mqd_t q, const char *msg, size_t len, unsigned prio,
		 const struct timespec *abs);
int mq_send(mqd_t q, const char *msg, size_t len, unsigned prio);

/* locale_pages_kept - locale.c's pages taken out of uswap, for the report */
unsigned long locale_pages_kept(void);
/* futex_waits_kept - futex.c's waits that made their object's pages plain */
unsigned long futex_waits_kept(void);

#endif /* USWAP_PRELOAD_SHIM_H */
