/*
 * System calls into uswap memory in the in-thread mode (`uswap run
 * --sigbus`).
 *
 * In that mode the kernel's own access to a page of a region that is not
 * in memory does not wait for uswap: the copy of read(2) or write(2) fails
 * and the call returns EFAULT, for a never-touched page as for a
 * swapped-out one (docs/pager.md, "The in-thread mode").  Unmodified
 * programs read files into fresh heap buffers all the time: before this
 * file, `uswap run --budget 8M --sigbus -- python3 -c 'import json,
 * hashlib'` died importing `site` with "OSError: [Errno 14] Bad address"
 * in 11 runs of 12.
 *
 * So the shim interposes the I/O calls that take buffers.  In that mode
 * only, and only for buffers in uswap memory, each call first touches the
 * buffers' pages (a load per page; a page not in memory raises SIGBUS in
 * this thread and uswap's handler brings it in), then calls the next
 * definition (libc's).  If that still fails with EFAULT, a page left again
 * between the touch and the kernel's copy (the reclaimer runs on another
 * CPU): touch again and call again, up to IO_TRIES times.  In the
 * handler-thread mode, on uswap's own threads and for buffers outside
 * uswap memory every wrapper is a plain call to the next definition.
 *
 * Why calling again is right: the kernel returns EFAULT only when it moved
 * nothing; with partial progress it returns the count.
 *  - read side (read, pread, readv, preadv, recv, recvfrom, recvmsg): a
 *    regular file's position, a pipe's or a stream socket's data stay as
 *    they were (filemap_read, pipe_read, tcp_recvmsg, unix_stream_read).
 *    Not so a datagram, an eventfd's count, a connection accept could
 *    not write the address of...: the kernel drops what a failed copy
 *    took, and the touch cannot keep it (the page may leave while the
 *    receiver waits in the call).  Those calls go through plain memory
 *    first (bounce.c); the touch is what is left for the ones bounce.c
 *    does not take (over 1 MiB, over 64 buffers, a buffer partly outside
 *    uswap memory).
 *  - write side (write, pwrite, writev, pwritev, send, sendto, sendmsg):
 *    nothing was written; the data is still in the buffer.
 * A touch loads: a page uswap installs at a read fault is writable (or
 * the zero page, which the kernel's write then replaces as for any
 * anonymous page).  But a load does not clear a write-protect a window
 * eviction left on a present page (the kernel refused its un-protect):
 * the kernel's write there fails with EFAULT, so for buffers the kernel
 * writes, the touches after a failed try write (an atomic add of zero).
 * redis-server's epoll_wait met that 3 times in a BGSAVE run and died
 * ("Guru Meditation: aeApiPoll: epoll_wait, Bad address") before.
 *
 * Not covered (EFAULT as before, docs/pager.md lists them): the calls glibc
 * makes inside itself (but stdio's buffers are kept out of uswap memory:
 * stdio.c), and the other calls that read or write buffers (io_uring...;
 * stat, getrandom and their kin are fill.c's, the waits and getsockopt
 * bounce.c's).  A
 * thread with SIGBUS blocked that touches a page not in memory is killed
 * (the mode's limit): it would have got EFAULT here before.
 *
 * Context: any program thread, cancellation as libc's (the next definition
 * is called, not the system call).  No lock of our own; uswap_owns takes
 * the region table's read lock.
 */
/* as in shim.c: no asm-label redirection to the *64 names */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/msg.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "api/api.h"
#include "preload/shim.h"

/* Calls after the first touch; the next failure with EFAULT is returned. */
#define IO_TRIES 100

#define IO_PAGE	 4096UL

static atomic_ulong n_retried; /* statistics only: relaxed */

unsigned long io_retried(void)
{
	return atomic_load_explicit(&n_retried, memory_order_relaxed);
}

/*
 * The next definitions, looked up by io_init in the constructor before
 * uswap starts any thread; NULL before that, when a wrapper makes the
 * system call itself.  Written once, read-only afterwards.
 */
static ssize_t (*next_read)(int, void *, size_t);
static ssize_t (*next_pread)(int, void *, size_t, off_t);
static ssize_t (*next_readv)(int, const struct iovec *, int);
static ssize_t (*next_preadv)(int, const struct iovec *, int, off_t);
static ssize_t (*next_write)(int, const void *, size_t);
static ssize_t (*next_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*next_writev)(int, const struct iovec *, int);
static ssize_t (*next_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*next_recv)(int, void *, size_t, int);
static ssize_t (*next_recvfrom)(int, void *, size_t, int, struct sockaddr *,
				socklen_t *);
static ssize_t (*next_recvmsg)(int, struct msghdr *, int);
static ssize_t (*next_send)(int, const void *, size_t, int);
static ssize_t (*next_sendto)(int, const void *, size_t, int,
			      const struct sockaddr *, socklen_t);
static ssize_t (*next_sendmsg)(int, const struct msghdr *, int);
static int (*next_epoll_pwait)(int, struct epoll_event *, int, int,
			       const sigset_t *);
static int (*next_poll)(struct pollfd *, nfds_t, int);
static int (*next_ppoll)(struct pollfd *, nfds_t, const struct timespec *,
			 const sigset_t *);
static int (*next_accept4)(int, struct sockaddr *, socklen_t *, int);
static ssize_t (*next_preadv2)(int, const struct iovec *, int, off_t, int);
static ssize_t (*next_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*next_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
static int (*next_pselect)(int, fd_set *, fd_set *, fd_set *,
			   const struct timespec *, const sigset_t *);
static int (*next_sendmmsg)(int, struct mmsghdr *, unsigned, int);
static int (*next_setsockopt)(int, int, int, const void *, socklen_t);
static int (*next_msgsnd)(int, const void *, size_t, int);
static int (*next_mq_timedsend)(mqd_t, const char *, size_t, unsigned,
				const struct timespec *);
static int (*next_recvmmsg)(int, struct mmsghdr *, unsigned, int,
			    struct timespec *);

#define LOOKUP(var, name) (*(void **)&(var) = dlsym(RTLD_NEXT, name))

void io_init(void)
{
	LOOKUP(next_read, "read");
	LOOKUP(next_pread, "pread64");
	LOOKUP(next_readv, "readv");
	LOOKUP(next_preadv, "preadv64");
	LOOKUP(next_write, "write");
	LOOKUP(next_pwrite, "pwrite64");
	LOOKUP(next_writev, "writev");
	LOOKUP(next_pwritev, "pwritev64");
	LOOKUP(next_recv, "recv");
	LOOKUP(next_recvfrom, "recvfrom");
	LOOKUP(next_recvmsg, "recvmsg");
	LOOKUP(next_accept4, "accept4");
	LOOKUP(next_preadv2, "preadv64v2");
	LOOKUP(next_pwritev2, "pwritev64v2");
	LOOKUP(next_select, "select");
	LOOKUP(next_pselect, "pselect");
	LOOKUP(next_sendmmsg, "sendmmsg");
	LOOKUP(next_setsockopt, "setsockopt");
	LOOKUP(next_msgsnd, "msgsnd");
	LOOKUP(next_mq_timedsend, "mq_timedsend");
	LOOKUP(next_recvmmsg, "recvmmsg");
	LOOKUP(next_send, "send");
	LOOKUP(next_sendto, "sendto");
	LOOKUP(next_sendmsg, "sendmsg");
	LOOKUP(next_epoll_pwait, "epoll_pwait");
	LOOKUP(next_poll, "poll");
	LOOKUP(next_ppoll, "ppoll");
}

/* ---- touching ---- */

/*
 * How much of a call's buffers is touched: the front, at most half the
 * budget, last page first.  The kernel copies front to back and stops at
 * the first page it cannot reach, returning the count so far; so what
 * matters is that the front is in, and a buffer larger than the budget
 * could never be in whole.  Touched backwards, the front pages are the
 * youngest when the copy starts, the last the reclaimer would take.  Set
 * by the constructor (io_init's caller), before shim_ready.
 */
size_t io_touch_max;

/*
 * touch_page - one access to the page at @a: a load, or with @write an
 * atomic add of zero, a write that changes nothing even under a racing
 * writer.  A load does not clear a write-protect that a window eviction
 * left on a present page (its un-protect refused by the kernel: zap.c);
 * the kernel's own write there then fails with EFAULT, the next try
 * writes (do_lost_page clears it).
 */
static inline void touch_page(uintptr_t a, bool write)
{
	if (write)
		__atomic_fetch_add((char *)a, 0, __ATOMIC_RELAXED);
	else
		(void)*(const volatile char *)a;
}

/*
 * touch - bring in the uswap pages of [@p, +@len), last page first (in
 * the in-thread mode each access is served in this thread; @write: see
 * touch_page).  Pages outside uswap memory are left alone: a bad address
 * must stay the kernel's EFAULT, not our SIGSEGV.
 * Return: whether any page was uswap's.
 */
static bool touch_rw(const void *p, size_t len, bool write)
{
	uintptr_t first = (uintptr_t)p & ~(IO_PAGE - 1), a;
	bool any = false;

	if (!p || !len || (uintptr_t)p + len < (uintptr_t)p ||
	    !shim_owned(p, len))
		return false;
	a = ((uintptr_t)p + len - 1) & ~(IO_PAGE - 1);
	for (;; a -= IO_PAGE) {
		if (shim_owned((const void *)a, 1)) {
			touch_page(a, write);
			any = true;
		}
		if (a == first)
			break;
	}
	return any;
}

/* touch - a load from each page: for the buffers the kernel reads */
static bool touch(const void *p, size_t len)
{
	return touch_rw(p, len, false);
}

/*
 * touch_front - the first io_touch_max bytes of [@p, +@len); @write after
 * a first try failed, for buffers the kernel writes.
 */
static bool touch_front(const void *p, size_t len, bool write)
{
	return touch_rw(p, len < io_touch_max ? len : io_touch_max, write);
}

bool io_touch_front(const void *p, size_t len, bool write)
{
	return touch_front(p, len, write);
}

/*
 * touch_iov - the front io_touch_max bytes of the buffers, backwards from
 * the last of them (@write: see touch_front), then the array itself (the
 * kernel copies it in first).
 */
static bool touch_iov(const struct iovec *iov, int cnt, bool write)
{
	size_t left = io_touch_max, last_len = 0;
	bool any = false;
	int last = -1;

	if (!iov || cnt <= 0)
		return false;
	/* the first pass reads the array: its pages come in on the way */
	for (int i = 0; i < cnt && left; i++) {
		last = i;
		last_len = iov[i].iov_len < left ? iov[i].iov_len : left;
		left -= last_len;
	}
	for (int i = last; i >= 0; i--)
		any |= touch_rw(iov[i].iov_base,
				i == last ? last_len : iov[i].iov_len, write);
	return touch(iov, (size_t)cnt * sizeof(*iov)) || any;
}

/*
 * touch_msg - the buffers a msghdr names, then the msghdr (@write: see
 * touch_front; recvmsg writes them all).  The msghdr and its iovec array
 * are read here: a bad pointer to either is a SIGSEGV now, not the
 * kernel's EFAULT (so is touch_iov's array).
 */
static bool touch_msg(const struct msghdr *msg, bool write)
{
	bool any;

	if (!msg)
		return false;
	any = touch_rw(msg->msg_control, msg->msg_controllen, write);
	any |= touch_rw(msg->msg_name, msg->msg_namelen, write);
	any |= touch_iov(msg->msg_iov, (int)msg->msg_iovlen, write);
	return touch_rw(msg, sizeof(*msg), write) || any;
}

/*
 * touch_addr - recvfrom's address and its length, both written back (@write:
 * see touch_front).  The length is not read (it may be a bad pointer): the
 * largest address.
 */
static bool touch_addr(struct sockaddr *addr, socklen_t *len, bool write)
{
	bool any;

	if (!addr || !len)
		return false;
	any = touch_rw(addr, sizeof(struct sockaddr_storage), write);
	return touch_rw(len, sizeof(*len), write) || any;
}

bool io_again(long r, unsigned t, bool mine)
{
	if (r != -1 || errno != EFAULT || !mine || t >= IO_TRIES)
		return false;
	atomic_fetch_add_explicit(&n_retried, 1, memory_order_relaxed);
	return true;
}

bool io_touch(const void *p, size_t len, bool write)
{
	return touch_rw(p, len, write);
}

/* NEXT - libc's function, or before io_init the system call itself */
#define NEXT(fn, ...) \
	(next_##fn ? next_##fn(__VA_ARGS__) : SYSCALL_##fn(__VA_ARGS__))
#define SYSCALL_read(fd, b, n)	   syscall(SYS_read, fd, b, n)
#define SYSCALL_pread(fd, b, n, o) syscall(SYS_pread64, fd, b, n, o)
#define SYSCALL_readv(fd, v, c)	   syscall(SYS_readv, fd, v, c)
/* preadv(2)'s offset: two words, low then high (x86-64: all low) */
#define SYSCALL_preadv(fd, v, c, o) syscall(SYS_preadv, fd, v, c, o, 0)
#define SYSCALL_recv(fd, b, n, f)   syscall(SYS_recvfrom, fd, b, n, f, NULL, NULL)
#define SYSCALL_recvfrom(fd, b, n, f, a, l) \
	syscall(SYS_recvfrom, fd, b, n, f, a, l)
#define SYSCALL_recvmsg(fd, m, f)	syscall(SYS_recvmsg, fd, m, f)
#define SYSCALL_accept4(fd, a, l, f)	syscall(SYS_accept4, fd, a, l, f)
#define SYSCALL_preadv2(fd, v, c, o, f) syscall(SYS_preadv2, fd, v, c, o, 0, f)
#define SYSCALL_pwritev2(fd, v, c, o, f) \
	syscall(SYS_pwritev2, fd, v, c, o, 0, f)
#define SYSCALL_select(n, r, w, e, t) syscall(SYS_select, n, r, w, e, t)
/* pselect6's sixth argument is {mask, size}: glibc builds it */
#define SYSCALL_pselect(n, r, w, e, t, m) (errno = ENOSYS, -1)
#define SYSCALL_sendmmsg(fd, v, n, f)	  syscall(SYS_sendmmsg, fd, v, n, f)
#define SYSCALL_setsockopt(fd, l, o, v, n) \
	syscall(SYS_setsockopt, fd, l, o, v, n)
#define SYSCALL_msgsnd(id, m, n, f) syscall(SYS_msgsnd, id, m, n, f)
#define SYSCALL_mq_timedsend(q, m, n, p, t) \
	syscall(SYS_mq_timedsend, q, m, n, p, t)
#define SYSCALL_recvmmsg(fd, v, n, f, t)  syscall(SYS_recvmmsg, fd, v, n, f, t)
#define SYSCALL_write(fd, b, n)		  syscall(SYS_write, fd, b, n)
#define SYSCALL_pwrite(fd, b, n, o)	  syscall(SYS_pwrite64, fd, b, n, o)
#define SYSCALL_writev(fd, v, c)	  syscall(SYS_writev, fd, v, c)
#define SYSCALL_pwritev(fd, v, c, o)	  syscall(SYS_pwritev, fd, v, c, o, 0)
#define SYSCALL_send(fd, b, n, f)	  syscall(SYS_sendto, fd, b, n, f, NULL, 0)
#define SYSCALL_sendto(fd, b, n, f, a, l) syscall(SYS_sendto, fd, b, n, f, a, l)
#define SYSCALL_sendmsg(fd, m, f)	  syscall(SYS_sendmsg, fd, m, f)
#define SYSCALL_epoll_pwait(ep, e, m, to, s) \
	syscall(SYS_epoll_pwait, ep, e, m, to, s, 8)
#define SYSCALL_poll(f, n, to)	   syscall(SYS_poll, f, n, to)
#define SYSCALL_ppoll(f, n, ts, s) syscall(SYS_ppoll, f, n, ts, s, 8)

/*
 * ---- a regular file's short count, completed ----
 *
 * The kernel stops a copy at the first page it cannot reach and returns
 * the count so far, and a buffer larger than what is touched (half the
 * budget) has pages that left meanwhile: write(2) of 48 MiB of a heap
 * under an 8M budget returned about 4 MiB.  Legal, but programs take a
 * short count on a regular file for an error (tests/run/shim_ops.c did:
 * "write/pread: Success").  So for a regular file, when the buffer goes
 * on in uswap memory, the wrapper calls again for the rest (at the offset
 * that follows, for pread/pwrite) until it is done or a call moves
 * nothing (end of file; an error, whose errno is dropped: the count so
 * far is returned, as the kernel does).  Not atomic as one call: another
 * O_APPEND writer may come in between the pieces.  Pipes and sockets keep
 * their short counts (a second call could block), and so do the vector
 * calls.
 */

/*
 * once_fn - one wrapped call for @n bytes at @buf (at @off if positional);
 * the write side's buffer is only read, through a plain pointer here.
 */
typedef ssize_t (*once_fn)(int fd, void *buf, size_t n, off_t off);

static ssize_t read_once(int fd, void *buf, size_t n, off_t off)
{
	(void)off;
	IO_WRAP(ssize_t, touch_front(buf, n, t > 0), NEXT(read, fd, buf, n));
}

static ssize_t pread_once(int fd, void *buf, size_t n, off_t off)
{
	IO_WRAP(ssize_t, touch_front(buf, n, t > 0),
		NEXT(pread, fd, buf, n, off));
}

static ssize_t write_once(int fd, void *buf, size_t n, off_t off)
{
	(void)off;
	IO_WRAP(ssize_t, touch_front(buf, n, false), NEXT(write, fd, buf, n));
}

static ssize_t pwrite_once(int fd, void *buf, size_t n, off_t off)
{
	IO_WRAP(ssize_t, touch_front(buf, n, false),
		NEXT(pwrite, fd, buf, n, off));
}

static bool regular_file(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* whole - @once, then the rest of a regular file's short count */
static ssize_t whole(once_fn once, int fd, char *buf, size_t n, off_t off)
{
	ssize_t r = once(fd, buf, n, off), done = r;
	int saved = errno;

	if (r <= 0 || (size_t)r == n || !shim_in_thread_mode() ||
	    !shim_owned(buf + r, 1) || !regular_file(fd)) {
		errno = saved;
		return r;
	}
	while ((size_t)done < n) {
		r = once(fd, buf + done, n - (size_t)done, off + done);
		if (r <= 0)
			break;
		done += r;
	}
	errno = saved;
	return done;
}

/* ---- the read side: the kernel writes the buffers ---- */

/* libc's functions, for bounce.c (NEXT is a macro) */
static ssize_t calls_read(int fd, void *buf, size_t n)
{
	return NEXT(read, fd, buf, n);
}

static ssize_t calls_readv(int fd, const struct iovec *iov, int cnt)
{
	return NEXT(readv, fd, iov, cnt);
}

static ssize_t calls_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return NEXT(recvmsg, fd, msg, flags);
}

static ssize_t calls_recvfrom(int fd, void *buf, size_t n, int flags,
			      struct sockaddr *addr, socklen_t *addrlen)
{
	return NEXT(recvfrom, fd, buf, n, flags, addr, addrlen);
}

static int calls_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen,
			 int flags)
{
	return (int)NEXT(accept4, fd, addr, addrlen, flags);
}

static const struct bounce_calls calls = {
	.read = calls_read,
	.readv = calls_readv,
	.recvmsg = calls_recvmsg,
	.recvfrom = calls_recvfrom,
	.accept4 = calls_accept4,
};

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	ssize_t r;

	/* a datagram socket, an eventfd...: bounce.c */
	if (shim_in_thread_mode() && bounce_read(fd, buf, n, &calls, &r))
		return r;
	return whole(read_once, fd, buf, n, 0);
}

SHIM_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	return whole(pread_once, fd, buf, n, off);
}

SHIM_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	return pread64(fd, buf, n, off);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	ssize_t r;

	if (shim_in_thread_mode() && bounce_readv(fd, iov, cnt, &calls, &r))
		return r;
	IO_WRAP(ssize_t, touch_iov(iov, cnt, t > 0), NEXT(readv, fd, iov, cnt));
}

SHIM_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt,
			     off_t off)
{
	IO_WRAP(ssize_t, touch_iov(iov, cnt, t > 0),
		NEXT(preadv, fd, iov, cnt, off));
}

SHIM_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return preadv64(fd, iov, cnt, off);
}

/* preadv2: preadv with flags (RWF_NOWAIT...), the same retry */
SHIM_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt,
			       off_t off, int flags)
{
	IO_WRAP(ssize_t, touch_iov(iov, cnt, t > 0),
		NEXT(preadv2, fd, iov, cnt, off, flags));
}

SHIM_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off,
			    int flags)
{
	return preadv64v2(fd, iov, cnt, off, flags);
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	ssize_t r;

	if (shim_in_thread_mode() &&
	    bounce_recvfrom(fd, buf, n, flags, NULL, NULL, &calls, &r))
		return r;
	IO_WRAP(ssize_t, touch_front(buf, n, t > 0),
		NEXT(recv, fd, buf, n, flags));
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			     struct sockaddr *addr, socklen_t *addrlen)
{
	ssize_t r;

	if (shim_in_thread_mode() &&
	    bounce_recvfrom(fd, buf, n, flags, addr, addrlen, &calls, &r))
		return r;
	IO_WRAP(ssize_t,
		either(touch_addr(addr, addrlen, t > 0),
		       touch_front(buf, n, t > 0)),
		NEXT(recvfrom, fd, buf, n, flags, addr, addrlen));
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t r;

	if (shim_in_thread_mode() && bounce_recvmsg(fd, msg, flags, &calls, &r))
		return r;
	IO_WRAP(ssize_t, touch_msg(msg, t > 0), NEXT(recvmsg, fd, msg, flags));
}

/*
 * accept, accept4: the kernel writes the peer's address after it took the
 * connection, and closes the connection when that copy fails (bounce.c).
 * The touch is for an address bounce.c leaves (its length not in uswap
 * memory).
 */
SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen,
			int flags)
{
	int r;

	if (shim_in_thread_mode() &&
	    bounce_accept(fd, addr, addrlen, flags, &calls, &r))
		return r;
	IO_WRAP(int, touch_addr(addr, addrlen, t > 0),
		(int)NEXT(accept4, fd, addr, addrlen, flags));
}

SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return accept4(fd, addr, addrlen, 0);
}

/* ---- the write side: the kernel reads the buffers ---- */

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	return whole(write_once, fd, (char *)buf, n, 0);
}

SHIM_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return whole(pwrite_once, fd, (char *)buf, n, off);
}

SHIM_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite64(fd, buf, n, off);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	IO_WRAP(ssize_t, touch_iov(iov, cnt, false),
		NEXT(writev, fd, iov, cnt));
}

SHIM_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt,
			      off_t off)
{
	IO_WRAP(ssize_t, touch_iov(iov, cnt, false),
		NEXT(pwritev, fd, iov, cnt, off));
}

SHIM_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return pwritev64(fd, iov, cnt, off);
}

SHIM_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt,
				off_t off, int flags)
{
	IO_WRAP(ssize_t, touch_iov(iov, cnt, false),
		NEXT(pwritev2, fd, iov, cnt, off, flags));
}

SHIM_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt,
			     off_t off, int flags)
{
	return pwritev64v2(fd, iov, cnt, off, flags);
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	IO_WRAP(ssize_t, touch_front(buf, n, false),
		NEXT(send, fd, buf, n, flags));
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			   const struct sockaddr *addr, socklen_t addrlen)
{
	IO_WRAP(ssize_t,
		either(touch(addr, addrlen), touch_front(buf, n, false)),
		NEXT(sendto, fd, buf, n, flags, addr, addrlen));
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	IO_WRAP(ssize_t, touch_msg(msg, false), NEXT(sendmsg, fd, msg, flags));
}

/*
 * touch_mmsg - recvmmsg's and sendmmsg's messages, then the array (the
 * kernel writes each msg_len back), @write as touch_msg.
 */
static bool touch_mmsg(struct mmsghdr *vec, unsigned n, bool write)
{
	bool any = false;

	if (!vec)
		return false;
	for (unsigned i = 0; i < n; i++)
		any |= touch_msg(&vec[i].msg_hdr, write);
	return touch_rw(vec, n * sizeof(*vec), write) || any;
}

/*
 * sendmmsg: the kernel returns the count of messages sent, and EFAULT only
 * when it sent none: calling again sends nothing twice.
 */
SHIM_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned n, int flags)
{
	IO_WRAP(int, touch_mmsg(vec, n, t > 0),
		(int)NEXT(sendmmsg, fd, vec, n, flags));
}

/*
 * setsockopt: the kernel reads the value (a struct linger, a filter
 * program...) and changes nothing when it cannot.
 */
SHIM_EXPORT int setsockopt(int fd, int level, int name, const void *val,
			   socklen_t len)
{
	IO_WRAP(int, touch(val, len),
		(int)NEXT(setsockopt, fd, level, name, val, len));
}

/*
 * msgsnd, mq_send, mq_timedsend: the kernel copies the message (and the
 * timeout) in before it queues anything (load_msg), and queues nothing
 * when it cannot.  mq_send is mq_timedsend without a timeout (glibc calls
 * it inside itself, so both are ours).
 */
SHIM_EXPORT int msgsnd(int id, const void *msg, size_t sz, int flags)
{
	IO_WRAP(int, touch(msg, sizeof(long) + sz),
		(int)NEXT(msgsnd, id, msg, sz, flags));
}

SHIM_EXPORT int mq_timedsend(mqd_t q, const char *msg, size_t len,
			     unsigned prio, const struct timespec *abs)
{
	IO_WRAP(int,
		either(touch(abs, abs ? sizeof(*abs) : 0), touch(msg, len)),
		(int)NEXT(mq_timedsend, q, msg, len, prio, abs));
}

SHIM_EXPORT int mq_send(mqd_t q, const char *msg, size_t len, unsigned prio)
{
	return mq_timedsend(q, msg, len, prio, NULL);
}

/*
 * recvmmsg: on a datagram socket each message goes through bounce.c
 * (bounce_recvmmsg); otherwise as recvmsg.
 */
SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned n, int flags,
			 struct timespec *timeout)
{
	int r;

	if (shim_in_thread_mode() &&
	    bounce_recvmmsg(fd, vec, n, flags, timeout, &calls, &r))
		return r;
	IO_WRAP(int, touch_mmsg(vec, n, t > 0),
		(int)NEXT(recvmmsg, fd, vec, n, flags, timeout));
}

/*
 * ---- waiting for events ----
 *
 * The kernel writes the ready events (epoll) or revents (poll) into the
 * caller's array.  A failed copy-out leaves the event ready (epoll puts it
 * back on the ready list, ep_send_events; poll state is level): calling
 * again loses nothing, and returns at once, the event still being ready.
 */

/* epoll_wait is epoll_pwait without a mask (as in the kernel) */
SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max,
			   int timeout)
{
	return epoll_pwait(epfd, ev, max, timeout, NULL);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max,
			    int timeout, const sigset_t *mask)
{
	IO_WRAP(int,
		max > 0 && touch_front(ev, (size_t)max * sizeof(*ev), t > 0),
		(int)NEXT(epoll_pwait, epfd, ev, max, timeout, mask));
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	IO_WRAP(int, touch_rw(fds, n * sizeof(*fds), t > 0),
		(int)NEXT(poll, fds, n, timeout));
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		      const sigset_t *mask)
{
	IO_WRAP(int, touch_rw(fds, n * sizeof(*fds), t > 0),
		(int)NEXT(ppoll, fds, n, ts, mask));
}

/*
 * select, pselect: the kernel reads the sets before it waits and writes
 * them (and select's timeout, what is left of it) after; the readiness it
 * found is level, so calling again finds it again at once.  touch_sets:
 * the @n bits of each set (whole longs, as the kernel copies them).
 */
static bool touch_sets(int n, fd_set *r, fd_set *w, fd_set *e, bool write)
{
	size_t len = n > 0 ? ((size_t)n + 63) / 64 * 8 : 0;
	bool any = touch_rw(r, len, write);

	any |= touch_rw(w, len, write);
	return touch_rw(e, len, write) || any;
}

SHIM_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e,
		       struct timeval *tv)
{
	IO_WRAP(int,
		either(touch_sets(n, r, w, e, t > 0),
		       touch_rw(tv, tv ? sizeof(*tv) : 0, t > 0)),
		(int)NEXT(select, n, r, w, e, tv));
}

SHIM_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e,
			const struct timespec *ts, const sigset_t *mask)
{
	IO_WRAP(int, touch_sets(n, r, w, e, t > 0),
		(int)NEXT(pselect, n, r, w, e, ts, mask));
}

/*
 * ---- _FORTIFY_SOURCE's checked variants ----
 *
 * A program built with _FORTIFY_SOURCE calls these where the buffer's size
 * is known at compile time.  glibc's own reach its internal __read, not
 * the wrappers above, so they are interposed too: the same check, then
 * the wrapper.
 */
extern void __chk_fail(void) __attribute__((noreturn));
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *addrlen);

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return read(fd, buf, n);
}

SHIM_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off,
				  size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return pread64(fd, buf, n, off);
}

SHIM_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off,
				size_t buflen)
{
	return __pread64_chk(fd, buf, n, off, buflen);
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen,
			       int flags)
{
	if (n > buflen)
		__chk_fail();
	return recv(fd, buf, n, flags);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen,
				   int flags, struct sockaddr *addr,
				   socklen_t *addrlen)
{
	if (n > buflen)
		__chk_fail();
	return recvfrom(fd, buf, n, flags, addr, addrlen);
}
