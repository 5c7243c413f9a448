/*
 * Receives that consume what they copy, through plain memory, in the
 * in-thread mode (`uswap run --sigbus`).
 *
 * There the kernel's copy into a page of a region that is not in memory
 * fails with EFAULT (io.c).  For most calls that loses nothing, and io.c
 * touches the pages and calls again.  Not for these, where the kernel
 * takes what it copies before the copy, and drops it when the copy fails:
 *  - a datagram (unix_dgram_recvmsg, udp_recvmsg: skb_free_datagram after
 *    the error), and with it the descriptors of an SCM_RIGHTS message;
 *  - an eventfd's count, a timerfd's expirations, a signalfd's signal, an
 *    inotify event (eventfd_read: eventfd_ctx_do_read, then copy_to_iter;
 *    timerfd_read, signalfd_read, inotify_read alike);
 *  - a connection, when accept's address cannot be written
 *    (do_accept: the new file is put, the connection closed);
 *  - a child's exit status (wait4, waitid: the child is reaped first), a
 *    signal's siginfo (sigtimedwait: dequeued first), a socket's pending
 *    error (getsockopt), a queue's message (msgrcv, mq_timedreceive);
 *    these are at the end of the file.
 * io.c's touch before the call made that rare, not impossible: the caller
 * sleeps in the call until something comes, and the reclaimer can take
 * the touched page meanwhile.  tests/run/sigbus_recv.c lost 59 of 3000
 * datagrams that way.
 *
 * So such a call gets plain memory in place of each of its buffers in
 * uswap memory (data buffers, address, control, lengths), and what came
 * is copied to the caller's buffers in user space, where a page not in
 * memory is a fault that uswap serves in this thread.  Nothing can fail
 * after the kernel took it.  Which calls: recv, recvfrom and recvmsg on a
 * datagram socket (SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW, SOCK_RDM); read
 * and readv on one, on a character device or on an anonymous inode
 * (eventfd, timerfd, signalfd, inotify...: fstat says neither file, pipe,
 * directory nor socket; fdkind.c tells, and remembers per number);
 * accept and accept4 with an address.  Regular files, pipes and stream
 * sockets leave what a failed copy did not take where it was: io.c's
 * retry is right for them, and cheaper.
 *
 * The plain memory is this thread's (bounce_buf), mapped by the raw
 * mmap, kept for the next call, grown when a call needs more, unmapped at
 * the thread's exit.  When it cannot serve a call, io.c's touch and retry
 * take it.  That happens when the buffers of uswap memory need more than
 * BOUNCE_MAX or are more than BOUNCE_IOV, when a buffer lies partly
 * outside uswap memory (a bad address must stay the kernel's EFAULT, not
 * a SIGSEGV in our copy), when a length we would have to read is not
 * uswap memory (same), or when a signal handler receives while the call
 * it interrupted is inside this file (bounce_busy).
 *
 * Context: any program thread, in the in-thread mode, for buffers in
 * uswap memory (io.c decides).  No lock.  The buffer is the thread's own;
 * a fork's child inherits it with its copy of the mapping.
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "preload/shim.h"

/* Bytes of plain memory one call may use: data, address and control. */
#define BOUNCE_MAX (1024 * 1024UL)
/* Buffers one call may name (the kernel's own limit is UIO_MAXIOV, 1024) */
#define BOUNCE_IOV   64

#define BOUNCE_ALIGN 16

static __thread char *bounce_buf;
static __thread size_t bounce_size;
static __thread bool bounce_busy;
static pthread_key_t bounce_key;
static bool bounce_key_ok;

static atomic_ulong n_bounced; /* statistics only: relaxed */

unsigned long bounce_count(void)
{
	return atomic_load_explicit(&n_bounced, memory_order_relaxed);
}

/* A thread's exit: its buffer goes (the key's value is the mapping). */
static void bounce_release(void *buf)
{
	if (buf == bounce_buf) {
		uswap_raw_munmap(bounce_buf, bounce_size);
		bounce_buf = NULL;
		bounce_size = 0;
	}
}

/* the next definitions of the calls at the end of the file */
static void *slot_wait4, *slot_waitid, *slot_sigtimedwait, *slot_getsockopt;
static void *slot_msgrcv, *slot_mq_timedreceive;

/*
 * bounce_init - the key, and the next definitions looked up now: waitpid
 * runs in SIGCHLD handlers, and dlsym must not run there.
 */
void bounce_init(void)
{
	bounce_key_ok = pthread_key_create(&bounce_key, bounce_release) == 0;
	(void)shim_next(&slot_wait4, "wait4");
	(void)shim_next(&slot_waitid, "waitid");
	(void)shim_next(&slot_sigtimedwait, "sigtimedwait");
	(void)shim_next(&slot_getsockopt, "getsockopt");
	(void)shim_next(&slot_msgrcv, "msgrcv");
	(void)shim_next(&slot_mq_timedreceive, "mq_timedreceive");
}

/* bounce_get - this thread's buffer, at least @need bytes; NULL if not */
static char *bounce_get(size_t need)
{
	void *p;
	size_t size;

	if (need <= bounce_size)
		return bounce_buf;
	if (!bounce_key_ok)
		return NULL;
	size = (need + 0xffff) & ~(size_t)0xffff;
	p = uswap_raw_mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (pthread_setspecific(bounce_key, p)) {
		uswap_raw_munmap(p, size);
		return NULL;
	}
	if (bounce_buf)
		uswap_raw_munmap(bounce_buf, bounce_size);
	bounce_buf = p;
	bounce_size = size;
	return bounce_buf;
}

/*
 * bounce_claim - this thread's buffer of at least @need bytes, marked
 * busy (bounce_busy = false gives it back); NULL when a call this signal
 * handler interrupted has it, or it cannot grow.
 */
static char *bounce_claim(size_t need)
{
	char *buf;

	if (bounce_busy)
		return NULL;
	bounce_busy = true;
	buf = bounce_get(need);
	if (!buf)
		bounce_busy = false;
	return buf;
}

/*
 * owned_whole - whether all of [@p, +@len) is uswap memory (then it is
 * mapped, and our copy into it cannot fail; unless the program made it
 * read-only with mprotect(2), where the kernel's EFAULT becomes our
 * SIGSEGV), none of it (the kernel's business), or part of it.
 */
enum owned { OWNED_NONE, OWNED_WHOLE, OWNED_PART };

static enum owned owned_whole(const void *p, size_t len)
{
	uintptr_t a, last;
	bool any = false, all = true;

	if (!p || !len)
		return OWNED_NONE;
	if ((uintptr_t)p + len < (uintptr_t)p)
		return OWNED_PART;
	if (!shim_owned(p, len))
		return OWNED_NONE;
	a = (uintptr_t)p & ~(uintptr_t)4095;
	last = ((uintptr_t)p + len - 1) & ~(uintptr_t)4095;
	for (;; a += 4096) {
		if (shim_owned((const void *)a, 1))
			any = true;
		else
			all = false;
		if (a == last)
			break;
	}
	return all ? OWNED_WHOLE : any ? OWNED_PART : OWNED_NONE;
}

/*
 * The plan of one call: the caller's buffers, and where in the bounce
 * buffer each one's plain copy goes (-1: the kernel writes the caller's
 * buffer itself, it is not uswap's).
 */
struct bounce_plan {
	struct iovec iov[BOUNCE_IOV];
	long at[BOUNCE_IOV];
	long name_at, control_at;
	size_t need;
};

/* plan_one - place [@p, +@len) if it is uswap's; false if partly */
static bool plan_one(struct bounce_plan *pl, const void *p, size_t len,
		     long *at)
{
	switch (owned_whole(p, len)) {
	case OWNED_NONE:
		*at = -1;
		return true;
	case OWNED_WHOLE:
		*at = (long)pl->need;
		pl->need +=
			(len + BOUNCE_ALIGN - 1) & ~(size_t)(BOUNCE_ALIGN - 1);
		return pl->need <= BOUNCE_MAX;
	default:
		return false;
	}
}

/*
 * plan_msg - place @msg's buffers (pl->need: 0 when none is uswap's).
 * Return: false if the call cannot be bounced.  Reads @msg and its iovec
 * array (a bad pointer to either is the caller's SIGSEGV, as in io.c's
 * touch_msg).
 */
static bool plan_msg(struct bounce_plan *pl, const struct msghdr *msg)
{
	size_t n = msg->msg_iovlen;

	if (n > BOUNCE_IOV || (n && !msg->msg_iov))
		return false;
	pl->need = 0;
	if (!plan_one(pl, msg->msg_name, msg->msg_name ? msg->msg_namelen : 0,
		      &pl->name_at) ||
	    !plan_one(pl, msg->msg_control,
		      msg->msg_control ? msg->msg_controllen : 0,
		      &pl->control_at))
		return false;
	for (size_t i = 0; i < n; i++) {
		pl->iov[i] = msg->msg_iov[i];
		if (!plan_one(pl, pl->iov[i].iov_base, pl->iov[i].iov_len,
			      &pl->at[i]))
			return false;
	}
	return true;
}

/*
 * copy_out - @got bytes came in through @sh (the plan's buffers): the
 * data, over the caller's buffers in order as the kernel would have put
 * them, the address and the control, and the lengths and flags the
 * kernel returned into @msg.  Each access to a caller's page not in
 * memory is served here (SIGBUS).
 */
static void copy_out(const struct bounce_plan *pl, const char *buf,
		     struct msghdr *msg, const struct msghdr *sh, size_t got)
{
	for (size_t i = 0; i < sh->msg_iovlen && got; i++) {
		size_t len =
			pl->iov[i].iov_len < got ? pl->iov[i].iov_len : got;

		if (pl->at[i] >= 0)
			memcpy(pl->iov[i].iov_base, buf + pl->at[i], len);
		got -= len;
	}
	if (pl->name_at >= 0) /* the kernel says the whole length */
		memcpy(msg->msg_name, buf + pl->name_at,
		       sh->msg_namelen < msg->msg_namelen ? sh->msg_namelen
							  : msg->msg_namelen);
	if (pl->control_at >= 0)
		memcpy(msg->msg_control, buf + pl->control_at,
		       sh->msg_controllen);
	msg->msg_namelen = sh->msg_namelen;
	msg->msg_controllen = sh->msg_controllen;
	msg->msg_flags = sh->msg_flags;
}

/* What a bounced call is: which of libc's functions takes @sh. */
enum bounce_how { HOW_READ, HOW_READV, HOW_RECVMSG };

/*
 * bounced - the call @how with @msg's buffers of uswap memory replaced by
 * this thread's plain memory as @pl placed them, then copy_out.  @msg
 * holds only data buffers for read and readv.
 * Return: 1 and the call's result in *@ret, errno as it left it; 0 when
 * the plain memory cannot be had (the caller goes on as before).
 */
static int bounced(int fd, struct msghdr *msg, int flags, enum bounce_how how,
		   struct bounce_plan *pl, const struct bounce_calls *calls,
		   ssize_t *ret)
{
	struct iovec kiov[BOUNCE_IOV];
	struct msghdr sh;
	char *buf;
	ssize_t r;
	int saved;

	bounce_busy = true;
	/* none of the buffers may be uswap's (a recvmsg's msghdr alone) */
	buf = pl->need ? bounce_get(pl->need) : NULL;
	if (pl->need && !buf) {
		bounce_busy = false;
		return 0;
	}
	sh = *msg;
	sh.msg_iov = kiov;
	for (size_t i = 0; i < sh.msg_iovlen; i++) {
		kiov[i] = pl->iov[i];
		if (pl->at[i] >= 0)
			kiov[i].iov_base = buf + pl->at[i];
	}
	if (pl->name_at >= 0)
		sh.msg_name = buf + pl->name_at;
	if (pl->control_at >= 0)
		sh.msg_control = buf + pl->control_at;
	switch (how) {
	case HOW_READ:
		r = calls->read(fd, kiov[0].iov_base, kiov[0].iov_len);
		break;
	case HOW_READV:
		r = calls->readv(fd, kiov, (int)sh.msg_iovlen);
		break;
	default:
		r = calls->recvmsg(fd, &sh, flags);
		break;
	}
	saved = errno;
	if (r >= 0) {
		copy_out(pl, buf, msg, &sh, (size_t)r);
		atomic_fetch_add_explicit(&n_bounced, 1, memory_order_relaxed);
	}
	bounce_busy = false;
	errno = saved;
	*ret = r;
	return 1;
}

int bounce_recvmsg(int fd, struct msghdr *msg, int flags,
		   const struct bounce_calls *calls, ssize_t *ret)
{
	struct bounce_plan pl;

	/*
	 * The kernel writes the msghdr too (msg_flags, the lengths) after
	 * it took the datagram: one in uswap memory is bounced even when its
	 * buffers are not (the kernel gets bounced()'s own).
	 */
	if (bounce_busy || !msg || !plan_msg(&pl, msg) ||
	    (!pl.need && !shim_owned(msg, sizeof(*msg))) || !fd_takes(fd))
		return 0;
	return bounced(fd, msg, flags, HOW_RECVMSG, &pl, calls, ret);
}

/*
 * mmsg_owned - whether any of @vec's messages' buffers, or the array,
 * overlaps uswap memory (else recvmmsg keeps its one system call).
 */
static bool mmsg_owned(const struct mmsghdr *vec, unsigned n)
{
	if (shim_owned(vec, n * sizeof(*vec)))
		return true;
	for (unsigned i = 0; i < n; i++) {
		const struct msghdr *m = &vec[i].msg_hdr;

		if ((m->msg_name && shim_owned(m->msg_name, m->msg_namelen)) ||
		    (m->msg_control &&
		     shim_owned(m->msg_control, m->msg_controllen)) ||
		    (m->msg_iovlen &&
		     shim_owned(m->msg_iov,
				m->msg_iovlen * sizeof(*m->msg_iov))))
			return true;
		for (size_t k = 0; m->msg_iov && k < m->msg_iovlen; k++)
			if (m->msg_iov[k].iov_len &&
			    shim_owned(m->msg_iov[k].iov_base,
				       m->msg_iov[k].iov_len))
				return true;
	}
	return false;
}

/*
 * bounce_recvmmsg - recvmmsg as recvmsg calls, one message each, through
 * bounce_recvmsg when a message's buffers or the array are uswap's.  The
 * kernel's own semantics, message by message: MSG_WAITFORONE makes the
 * calls after the first nonblocking; @timeout is checked after each
 * message, as the kernel does; an error after the first message ends the
 * call with the count so far (the kernel keeps a socket error for the
 * next call, and so does the socket here: recvmsg did not take it).
 */
int bounce_recvmmsg(int fd, struct mmsghdr *vec, unsigned n, int flags,
		    struct timespec *timeout, const struct bounce_calls *calls,
		    int *ret)
{
	struct timespec end, now;
	int fl = flags & ~MSG_WAITFORONE, saved = errno;
	unsigned i;

	if (bounce_busy || !vec || !n || n > BOUNCE_IOV ||
	    !mmsg_owned(vec, n) || !fd_takes(fd))
		return 0;
	if (timeout) {
		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += timeout->tv_sec;
		end.tv_nsec += timeout->tv_nsec;
		if (end.tv_nsec >= 1000000000L) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000L;
		}
	}
	for (i = 0; i < n; i++) {
		ssize_t r;

		if (!bounce_recvmsg(fd, &vec[i].msg_hdr, fl, calls, &r))
			r = calls->recvmsg(fd, &vec[i].msg_hdr, fl);
		if (r < 0) {
			if (i == 0) {
				*ret = -1;
				return 1;
			}
			break;
		}
		saved = errno;
		vec[i].msg_len = (unsigned)r;
		if (flags & MSG_WAITFORONE)
			fl |= MSG_DONTWAIT;
		if (timeout) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > end.tv_sec ||
			    (now.tv_sec == end.tv_sec &&
			     now.tv_nsec >= end.tv_nsec)) {
				i++;
				break;
			}
		}
	}
	errno = saved;
	*ret = (int)i;
	return 1;
}

int bounce_read(int fd, void *buf, size_t n, const struct bounce_calls *calls,
		ssize_t *ret)
{
	struct iovec iov = {buf, n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct bounce_plan pl;

	/* cheap tests first: this is every read into uswap memory */
	if (bounce_busy || !n || n > BOUNCE_MAX || !shim_owned(buf, n) ||
	    !fd_takes(fd) || !plan_msg(&pl, &msg) || !pl.need)
		return 0;
	return bounced(fd, &msg, 0, HOW_READ, &pl, calls, ret);
}

int bounce_readv(int fd, const struct iovec *iov, int cnt,
		 const struct bounce_calls *calls, ssize_t *ret)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov,
			     .msg_iovlen = cnt > 0 ? (size_t)cnt : 0};
	struct bounce_plan pl;

	if (bounce_busy || cnt <= 0 || !plan_msg(&pl, &msg) || !pl.need ||
	    !fd_takes(fd))
		return 0;
	return bounced(fd, &msg, 0, HOW_READV, &pl, calls, ret);
}

int bounce_recvfrom(int fd, void *data, size_t n, int flags,
		    struct sockaddr *addr, socklen_t *addrlen,
		    const struct bounce_calls *calls, ssize_t *ret)
{
	struct iovec iov = {data, n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct bounce_plan pl;
	int done;

	if (bounce_busy)
		return 0;
	if (!addr || (owned_whole(addr, 1) == OWNED_NONE &&
		      owned_whole(addrlen, sizeof(*addrlen)) == OWNED_NONE)) {
		/*
		 * The kernel writes the address itself: only the data comes
		 * here, and recv(2) is recvfrom without one.
		 */
		if (!n || n > BOUNCE_MAX || !shim_owned(data, n) ||
		    !fd_takes(fd) || !plan_msg(&pl, &msg) || !pl.need)
			return 0;
		bounce_busy = true;
		if (!bounce_get(pl.need)) {
			bounce_busy = false;
			return 0;
		}
		*ret = calls->recvfrom(fd, bounce_buf, n, flags, addr, addrlen);
		done = errno;
		if (*ret >= 0) {
			memcpy(data, bounce_buf,
			       (size_t)*ret < n ? (size_t)*ret : n);
			atomic_fetch_add_explicit(&n_bounced, 1,
						  memory_order_relaxed);
		}
		bounce_busy = false;
		errno = done;
		return 1;
	}
	/*
	 * The address or its length is uswap's: through a msghdr.  The
	 * length is read here, so only when it is uswap memory (mapped);
	 * otherwise a bad pointer would be our SIGSEGV, not the kernel's
	 * EFAULT.
	 */
	if (owned_whole(addrlen, sizeof(*addrlen)) != OWNED_WHOLE)
		return 0;
	msg.msg_name = addr;
	msg.msg_namelen = *addrlen;
	done = bounce_recvmsg(fd, &msg, flags, calls, ret);
	if (done && *ret >= 0)
		*addrlen = msg.msg_namelen;
	return done;
}

int bounce_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags,
		  const struct bounce_calls *calls, int *ret)
{
	struct sockaddr_storage ss;
	enum owned a;
	socklen_t len, want;
	int saved;

	/*
	 * The length is ours to read and write only when it is uswap memory
	 * (a bad pointer must stay the kernel's EFAULT); an address of uswap
	 * memory with a length elsewhere stays io.c's.
	 */
	if (!addr || owned_whole(addrlen, sizeof(*addrlen)) != OWNED_WHOLE)
		return 0;
	want = *addrlen;
	a = owned_whole(addr, want);
	if (a == OWNED_PART)
		return 0;
	len = a == OWNED_WHOLE && want > sizeof(ss) ? (socklen_t)sizeof(ss)
						    : want;
	*ret = calls->accept4(fd,
			      a == OWNED_WHOLE ? (struct sockaddr *)&ss : addr,
			      &len, flags);
	saved = errno;
	if (*ret >= 0) {
		/* the kernel says the whole length, and copied up to ours */
		if (a == OWNED_WHOLE)
			memcpy(addr, &ss, len < want ? len : want);
		*addrlen = len;
		atomic_fetch_add_explicit(&n_bounced, 1, memory_order_relaxed);
	}
	errno = saved;
	return 1;
}

/*
 * ---- a child's status, a signal ----
 *
 * wait4 and waitid reap the child before they write its status (and
 * rusage, siginfo): a failed copy leaves the status lost and the child
 * gone (kernel_wait4: put_user after do_wait), and the call again finds
 * no child.  sigtimedwait dequeues the signal before it writes its
 * siginfo.  So in the mode each result of uswap memory is taken into a
 * local variable and copied out; one partly uswap's is left to the kernel
 * (a bad address stays its EFAULT).  wait, waitpid and wait3 are wait4
 * with fewer arguments; sigwaitinfo is sigtimedwait without a timeout.
 */

/* want_local - whether @p's @len bytes go through a local (whole: yes) */
static bool want_local(const void *p, size_t len, bool *part)
{
	enum owned o = owned_whole(p, p ? len : 0);

	if (o == OWNED_PART)
		*part = true;
	return o == OWNED_WHOLE;
}

typedef pid_t (*wait4_fn)(pid_t, int *, int, struct rusage *);

SHIM_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	wait4_fn next = (wait4_fn)shim_next(&slot_wait4, "wait4");
	bool part = false, ls, lr;
	struct rusage r;
	int st, saved;
	pid_t ret;

	NONE_ENOSYS(next);
	if (!shim_in_thread_mode())
		return next(pid, status, options, ru);
	ls = want_local(status, sizeof(*status), &part);
	lr = want_local(ru, sizeof(*ru), &part);
	if (part || (!ls && !lr))
		return next(pid, status, options, ru);
	ret = next(pid, ls ? &st : status, options, lr ? &r : ru);
	saved = errno;
	if (ret > 0) {
		if (ls)
			*status = st;
		if (lr)
			*ru = r;
		atomic_fetch_add_explicit(&n_bounced, 1, memory_order_relaxed);
	}
	errno = saved;
	return ret;
}

SHIM_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	return wait4(pid, status, options, NULL);
}

SHIM_EXPORT pid_t wait(int *status)
{
	return wait4(-1, status, 0, NULL);
}

SHIM_EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
	return wait4(-1, status, options, ru);
}

/*
 * info_out - a siginfo the call wrote into our @si goes to the caller's
 * @info when @ok (the call's success); errno as the call left it.
 */
static void info_out(bool ok, siginfo_t *info, const siginfo_t *si)
{
	int saved = errno;

	if (ok) {
		*info = *si;
		atomic_fetch_add_explicit(&n_bounced, 1, memory_order_relaxed);
	}
	errno = saved;
}

typedef int (*waitid_fn)(idtype_t, id_t, siginfo_t *, int);

SHIM_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
	waitid_fn next = (waitid_fn)shim_next(&slot_waitid, "waitid");
	siginfo_t si;
	int ret;

	NONE_ENOSYS(next);
	if (!shim_in_thread_mode() ||
	    owned_whole(info, sizeof(*info)) != OWNED_WHOLE)
		return next(idtype, id, info, options);
	ret = next(idtype, id, &si, options);
	/* WNOHANG without a child also writes it (zeroes) */
	info_out(ret == 0, info, &si);
	return ret;
}

typedef int (*sigtimedwait_fn)(const sigset_t *, siginfo_t *,
			       const struct timespec *);

SHIM_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info,
			     const struct timespec *timeout)
{
	sigtimedwait_fn next =
		(sigtimedwait_fn)shim_next(&slot_sigtimedwait, "sigtimedwait");
	siginfo_t si;
	int ret;

	NONE_ENOSYS(next);
	if (!shim_in_thread_mode() ||
	    owned_whole(info, sizeof(*info)) != OWNED_WHOLE)
		return next(set, info, timeout);
	ret = next(set, &si, timeout);
	info_out(ret > 0, info, &si);
	return ret;
}

SHIM_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	return sigtimedwait(set, info, NULL);
}

/*
 * ---- a socket's option ----
 *
 * getsockopt(SO_ERROR) takes the socket's pending error before it writes
 * it (sock_getsockopt: sock_error's xchg), and a failed copy loses it: a
 * non-blocking connect's outcome, asked for once poll says the socket is
 * writable.  Other options compute their value and take nothing, but a
 * few read the value first as input (MCAST_MSFILTER...).  So in the mode
 * a value of uswap memory of up to SOCKOPT_LOCAL bytes goes through a
 * local, copied in before the call and out after it, when its length is
 * uswap memory too: then we read and write the length in user space (one
 * elsewhere may be a bad pointer, which must stay the kernel's EFAULT,
 * not our SIGSEGV; as bounce_accept's).  Otherwise the value is touched
 * and retried by io.c's way, its front SOCKOPT_LOCAL bytes when we may
 * not read the length (none of the options that large takes anything;
 * SO_ERROR's window is then the microseconds between the touch and the
 * copy).
 */
#define SOCKOPT_LOCAL 512

typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val,
			   socklen_t *len)
{
	getsockopt_fn next =
		(getsockopt_fn)shim_next(&slot_getsockopt, "getsockopt");
	_Alignas(16) char v[SOCKOPT_LOCAL];
	socklen_t in, out;
	int ret;

	NONE_ENOSYS(next);
	if (!shim_in_thread_mode() || !val ||
	    owned_whole(val, 1) != OWNED_WHOLE)
		return next(fd, level, name, val, len);
	/* a length elsewhere is not ours to read: the value's front */
	if (owned_whole(len, sizeof(*len)) != OWNED_WHOLE)
		IO_WRAP(int, io_touch(val, SOCKOPT_LOCAL, t > 0),
			next(fd, level, name, val, len));
	in = *len;
	if (in > SOCKOPT_LOCAL || owned_whole(val, in) != OWNED_WHOLE)
		IO_WRAP(int,
			either(io_touch(val, in, t > 0),
			       io_touch(len, sizeof(*len), t > 0)),
			next(fd, level, name, val, len));
	memcpy(v, val, in);
	out = in;
	ret = next(fd, level, name, v, &out);
	if (ret == 0) {
		int saved = errno;

		memcpy(val, v, out < in ? out : in);
		*len = out;
		atomic_fetch_add_explicit(&n_bounced, 1, memory_order_relaxed);
		errno = saved;
	}
	return ret;
}

/*
 * ---- a queue's message ----
 *
 * msgrcv and mq_timedreceive take the message off its queue before they
 * copy it, and free it when the copy fails (do_msgrcv: unlinked, then
 * msg_handler; do_mq_timedreceive: msg_get, then store_msg, and the
 * priority's put_user).  So in the mode a buffer of uswap memory goes
 * through this thread's plain memory (bounce_claim), and a priority and a
 * timeout of uswap memory through locals.  Beyond BOUNCE_MAX, or nested in a signal
 * handler (bounce_busy), io.c's touch and retry.  mq_receive is
 * mq_timedreceive without a timeout (glibc calls it inside itself, so
 * both are ours).
 */
typedef ssize_t (*msgrcv_fn)(int, void *, size_t, long, int);

SHIM_EXPORT ssize_t msgrcv(int id, void *msgp, size_t sz, long type, int flags)
{
	msgrcv_fn next = (msgrcv_fn)shim_next(&slot_msgrcv, "msgrcv");
	size_t n = sizeof(long) + sz;
	ssize_t r;
	char *buf;
	int saved;

	NONE_ENOSYS(next);
	if (!shim_in_thread_mode() || sz > BOUNCE_MAX ||
	    owned_whole(msgp, n) != OWNED_WHOLE)
		return next(id, msgp, sz, type, flags);
	if (!(buf = bounce_claim(n)))
		IO_WRAP(ssize_t, io_touch(msgp, n, t > 0),
			next(id, msgp, sz, type, flags));
	r = next(id, buf, sz, type, flags);
	saved = errno;
	if (r >= 0) {
		memcpy(msgp, buf, sizeof(long) + (size_t)r);
		atomic_fetch_add_explicit(&n_bounced, 1, memory_order_relaxed);
	}
	bounce_busy = false;
	errno = saved;
	return r;
}

/* mqd_t and the prototypes: shim.h */
typedef ssize_t (*mq_timedreceive_fn)(mqd_t, char *, size_t, unsigned *,
				      const struct timespec *);

SHIM_EXPORT ssize_t mq_timedreceive(mqd_t q, char *msg, size_t len,
				    unsigned *prio, const struct timespec *abs)
{
	mq_timedreceive_fn next = (mq_timedreceive_fn)shim_next(
		&slot_mq_timedreceive, "mq_timedreceive");
	bool part = false, lm, lp;
	struct timespec ts;
	unsigned pr;
	ssize_t r;
	char *buf = NULL;
	int saved;

	NONE_ENOSYS(next);
	if (!shim_in_thread_mode())
		return next(q, msg, len, prio, abs);
	lm = len <= BOUNCE_MAX && want_local(msg, len, &part);
	lp = want_local(prio, sizeof(*prio), &part);
	if (part || (!lm && !lp))
		return next(q, msg, len, prio, abs);
	/* read before the message is taken: a failure there would be ours */
	if (owned_whole(abs, sizeof(*abs)) == OWNED_WHOLE) {
		ts = *abs;
		abs = &ts;
	}
	if (lm && !(buf = bounce_claim(len)))
		IO_WRAP(ssize_t,
			either(io_touch(msg, len, t > 0),
			       io_touch(prio, sizeof(*prio), t > 0)),
			next(q, msg, len, prio, abs));
	r = next(q, lm ? buf : msg, len, lp ? &pr : prio, abs);
	saved = errno;
	if (r >= 0) {
		if (lm)
			memcpy(msg, buf, (size_t)r);
		if (lp)
			*prio = pr;
		atomic_fetch_add_explicit(&n_bounced, 1, memory_order_relaxed);
	}
	if (lm)
		bounce_busy = false;
	errno = saved;
	return r;
}

SHIM_EXPORT ssize_t mq_receive(mqd_t q, char *msg, size_t len, unsigned *prio)
{
	return mq_timedreceive(q, msg, len, prio, NULL);
}
