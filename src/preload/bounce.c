/*
 * Datagrams received through plain memory, in the in-thread mode (`uswap
 * run --sigbus`).
 *
 * There the kernel's copy into a page of a region that is not in memory
 * fails with EFAULT (io.c).  For most calls that loses nothing and io.c
 * touches the pages and calls again.  Not for a datagram: the kernel
 * takes it off the queue before it copies, and drops it when the copy
 * fails (unix_dgram_recvmsg, udp_recvmsg: skb_free_datagram after the
 * error).  io.c's touch before the call made that rare, not impossible:
 * the receiver sleeps in the call until a datagram comes, and the
 * reclaimer can take the touched page meanwhile.
 * tests/run/sigbus_dgram.c lost 3 of 3000 datagrams that way in each of
 * two runs.  The descriptors of an SCM_RIGHTS message whose control copy
 * fails are lost with it.
 *
 * So a receive on a datagram socket (SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW,
 * SOCK_RDM) hands the kernel plain memory in place of every buffer of
 * uswap memory: the data buffers, the address and the control buffer.
 * Then it copies what came to the caller's buffers in user space, where a
 * page not in memory is a fault that uswap serves in this thread.
 * Nothing can fail after the kernel took the datagram.
 *
 * The plain memory is this thread's (bounce_buf), mapped by the raw
 * mmap, kept for the next call, grown when a call needs more, unmapped at
 * the thread's exit.  When it cannot serve a call, io.c's touch and retry
 * take it.  That happens when the buffers of uswap memory need more than
 * BOUNCE_MAX, when a buffer lies partly outside uswap memory (a bad
 * address must stay the kernel's EFAULT, not a SIGSEGV in our copy), or
 * when a signal handler receives while the thread it interrupted is
 * inside this file (bounce_busy).
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

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

void bounce_init(void)
{
	bounce_key_ok = pthread_key_create(&bounce_key, bounce_release) == 0;
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

/* datagram_socket - @fd loses a message whose copy fails */
static bool datagram_socket(int fd)
{
	int type;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
		return false; /* not a socket: nothing is dropped */
	return type == SOCK_DGRAM || type == SOCK_SEQPACKET ||
	       type == SOCK_RAW || type == SOCK_RDM;
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
 * plan_msg - place @msg's buffers.  Return: true if the call can be
 * bounced and something of it is uswap's.  Reads @msg and its iovec
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
	return pl->need > 0;
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

int bounce_recvmsg(int fd, struct msghdr *msg, int flags,
		   const struct bounce_calls *calls, ssize_t *ret)
{
	struct iovec kiov[BOUNCE_IOV];
	struct bounce_plan pl;
	struct msghdr sh;
	char *buf;
	ssize_t r;
	int saved;

	if (bounce_busy || !msg || !plan_msg(&pl, msg) || !datagram_socket(fd))
		return 0;
	bounce_busy = true;
	if (!(buf = bounce_get(pl.need))) {
		bounce_busy = false;
		return 0;
	}
	sh = *msg;
	sh.msg_iov = kiov;
	for (size_t i = 0; i < sh.msg_iovlen; i++) {
		kiov[i] = pl.iov[i];
		if (pl.at[i] >= 0)
			kiov[i].iov_base = buf + pl.at[i];
	}
	if (pl.name_at >= 0)
		sh.msg_name = buf + pl.name_at;
	if (pl.control_at >= 0)
		sh.msg_control = buf + pl.control_at;
	r = calls->recvmsg(fd, &sh, flags);
	saved = errno;
	if (r >= 0) {
		copy_out(&pl, buf, msg, &sh, (size_t)r);
		atomic_fetch_add_explicit(&n_bounced, 1, memory_order_relaxed);
	}
	bounce_busy = false;
	errno = saved;
	*ret = r;
	return 1;
}

int bounce_recvfrom(int fd, void *data, size_t n, int flags,
		    struct sockaddr *addr, socklen_t *addrlen,
		    const struct bounce_calls *calls, ssize_t *ret)
{
	struct iovec iov = {data, n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	/* the address's first byte: its length is not known yet */
	enum owned a = owned_whole(addr, addr ? 1 : 0);
	enum owned l = owned_whole(addrlen, addr ? sizeof(*addrlen) : 0);
	char *buf;
	ssize_t r;
	int saved, done;

	if (a == OWNED_NONE && l == OWNED_NONE) {
		/* the kernel writes the address: only the data comes here */
		if (bounce_busy || !n || n > BOUNCE_MAX ||
		    !shim_owned(data, n) || !datagram_socket(fd) ||
		    owned_whole(data, n) != OWNED_WHOLE)
			return 0;
		bounce_busy = true;
		if (!(buf = bounce_get(n))) {
			bounce_busy = false;
			return 0;
		}
		r = calls->recvfrom(fd, buf, n, flags, addr, addrlen);
		saved = errno;
		if (r >= 0) {
			memcpy(data, buf, (size_t)r < n ? (size_t)r : n);
			atomic_fetch_add_explicit(&n_bounced, 1,
						  memory_order_relaxed);
		}
		bounce_busy = false;
		errno = saved;
		*ret = r;
		return 1;
	}
	/*
	 * The address or its length is uswap's: a msghdr.  The length is
	 * read here, so only when it is uswap memory (mapped); otherwise a
	 * bad pointer would be our SIGSEGV, not the kernel's EFAULT, and
	 * io.c goes on as before.
	 */
	if (l != OWNED_WHOLE)
		return 0;
	msg.msg_name = addr;
	msg.msg_namelen = *addrlen;
	done = bounce_recvmsg(fd, &msg, flags, calls, ret);
	if (done && *ret >= 0)
		*addrlen = msg.msg_namelen;
	return done;
}
