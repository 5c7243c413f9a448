/*
 * The machine layer: userfaultfd (see uffd.h).  Opens the fd and negotiates
 * features, registers ranges, reads and decodes events, and wraps the
 * ioctls that install (copy), zero, move, write-protect, wake and poison
 * pages.  Every ioctl result goes through uffd_classify(), the one place
 * that turns the kernel's answers into what src/mm/ acts on.
 *
 * Nothing here takes a lock: the fd is set at open and read-only after,
 * and the statistics are relaxed atomics.  Every function may be called
 * from any thread at the same time as any other, except uffd_open /
 * uffd_adopt / uffd_close, which own the struct.
 */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd/uffd.h"

#define UFFD_MAX_BATCH 64 /* messages per read(2) */
#define UFFD_PAGE_MASK (~(uint64_t)(4096 - 1))

static void stat_inc(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/*
 * uffd_classify - the one place that turns an ioctl's answer into ours.
 * @err: errno of the ioctl, 0 when it succeeded.
 * @done: the byte count the kernel wrote back (copy/zeropage/move/updated),
 *        or 0 for ioctls that have none.
 * @dst, @len: the destination range of the call (woken on EEXIST).
 * @flags: the caller's UFFD_* flags (UFFD_DONTWAKE: no wake on EEXIST).
 *
 * Return (see uffd.h): 0; a positive partial byte count; -EEXIST (after
 * waking the range); -EAGAIN; -ENOENT; -errno.
 *
 * Why EEXIST must wake (research Q4): thread T faults on page P; handler
 * H1 and H2 both read a message for P (one per faulting thread, or one per
 * signal-interrupted wait).  H1's COPY installs P and wakes T.  But if H1
 * used DONTWAKE, or T's second message arrived after H1's wake, the only
 * call left is H2's COPY, which fails with EEXIST and wakes nobody: T
 * would sleep forever.  So EEXIST always ends with UFFDIO_WAKE.  A spurious
 * wake is harmless: a thread whose page is still missing faults again.
 *
 * Context: any thread; does not block.
 */
static long uffd_classify(struct uffd *u, int err, int64_t done, uint64_t dst,
			  size_t len, unsigned flags)
{
	if (!err)
		return 0;
	if (err == EAGAIN && done > 0 && (uint64_t)done < len) {
		/* partial: the kernel installed and woke [dst, dst+done) */
		stat_inc(&u->stats.eagain);
		return (long)done;
	}
	switch (err) {
	case EEXIST:
		stat_inc(&u->stats.eexist);
		if (!(flags & UFFD_DONTWAKE))
			uffd_wake(u, dst, len);
		return -EEXIST;
	case EAGAIN:
		stat_inc(&u->stats.eagain);
		return -EAGAIN;
	case ENOENT:
	case ESRCH:
		return -ENOENT;
	default:
		stat_inc(&u->stats.errors);
		return -err;
	}
}

static void uffd_explain_eperm(void)
{
	fprintf(stderr,
		"uswap: userfaultfd is not permitted for this process.  Grant "
		"it "
		"one of these ways:\n"
		"  - sysctl vm.unprivileged_userfaultfd=1 (as root), or\n"
		"  - read/write access to /dev/userfaultfd (e.g. a group "
		"owning "
		"it, mode 0660), or\n"
		"  - run as root or with CAP_SYS_PTRACE.\n"
		"  (UFFD_USER_MODE_ONLY works unprivileged, but then system "
		"calls that touch a swapped-out page fail with EFAULT.)\n");
}

/* open_fd - the fd from userfaultfd(2), else /dev/userfaultfd. -errno. */
static int open_fd(unsigned flags)
{
	int oflags =
		O_CLOEXEC | ((flags & UFFD_OPEN_NONBLOCK) ? O_NONBLOCK : 0);
	int sflags = oflags |
		     ((flags & UFFD_OPEN_USER_ONLY) ? UFFD_USER_MODE_ONLY : 0);
	int fd, dev, err;

	fd = (int)syscall(SYS_userfaultfd, sflags);
	if (fd >= 0)
		return fd;
	err = errno;
	if (err != EPERM && err != ENOSYS)
		return -err;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return err == ENOSYS && errno == ENOENT ? -ENOSYS : -EPERM;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, sflags);
	if (fd < 0)
		fd = -errno;
	close(dev);
	return fd == -EACCES ? -EPERM : fd;
}

/*
 * api - UFFDIO_API enabling @features.  On success the kernel writes back
 * every feature it *supports* (not the ones enabled): that goes to *avail.
 * Return: 0; -errno.
 */
static int api(int fd, uint64_t features, uint64_t *got)
{
	struct uffdio_api a = {.api = UFFD_API, .features = features};

	if (ioctl(fd, UFFDIO_API, &a) < 0)
		return -errno;
	*got = a.features;
	return 0;
}

/* supported - the features this kernel knows, from a scratch fd. */
static uint64_t supported(unsigned flags)
{
	uint64_t got = 0;
	int fd = open_fd(flags);

	if (fd >= 0) {
		if (api(fd, 0, &got) < 0)
			got = 0;
		close(fd);
	}
	return got;
}

/*
 * Context: any thread; does not block.  Writes *u; no one else may use it
 * until it returns.
 */
int uffd_open(struct uffd *u, uint64_t want, unsigned flags)
{
	uint64_t got = 0;
	int fd, ret;

	memset(u, 0, sizeof(*u));
	u->fd = -1;
	if (flags & UFFD_OPEN_SIGBUS)
		want |= UFFD_FEATURE_SIGBUS;
	fd = open_fd(flags);
	if (fd < 0) {
		if (fd == -EPERM)
			uffd_explain_eperm();
		return fd;
	}
	/* After a failed UFFDIO_API the same fd can be retried (research 1) */
	ret = api(fd, want, &got);
	if (ret == -EPERM && (want & UFFD_FEATURE_EVENT_FORK)) {
		u->refused = UFFD_FEATURE_EVENT_FORK;
		want &= ~(uint64_t)UFFD_FEATURE_EVENT_FORK;
		ret = api(fd, want, &got);
	}
	if (ret == -EINVAL) {
		uint64_t missing = want & ~supported(flags);

		if (missing)
			fprintf(stderr,
				"uswap: this kernel lacks userfaultfd features "
				"0x%llx (wanted 0x%llx)\n",
				(unsigned long long)missing,
				(unsigned long long)want);
	}
	if (ret == -EPERM)
		uffd_explain_eperm();
	if (ret < 0) {
		close(fd);
		u->refused = 0;
		return ret;
	}
	u->fd = fd;
	u->features = want; /* enabled: what we asked for, minus refusals */
	return 0;
}

/* Context: the caller owns *u (a handler thread that read a FORK event). */
void uffd_adopt(struct uffd *u, int fd, uint64_t features)
{
	memset(u, 0, sizeof(*u));
	u->fd = fd;
	u->features = features;
}

/* Context: the caller owns *u; no other thread may use it any more. */
void uffd_close(struct uffd *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

/* Context: any thread; may block on the mmap lock. */
int uffd_register(struct uffd *u, void *addr, size_t len, unsigned modes)
{
	struct uffdio_register r = {
		.range = {.start = (uintptr_t)addr, .len = len},
	};

	if (modes & UFFD_REG_MISSING)
		r.mode |= UFFDIO_REGISTER_MODE_MISSING;
	if (modes & UFFD_REG_WP)
		r.mode |= UFFDIO_REGISTER_MODE_WP;
	if (!r.mode)
		return -EINVAL;
	if (ioctl(u->fd, UFFDIO_REGISTER, &r) < 0)
		return -errno;
	return 0;
}

/* Context: any thread; may block on the mmap lock. */
int uffd_unregister(struct uffd *u, void *addr, size_t len)
{
	struct uffdio_range r = {.start = (uintptr_t)addr, .len = len};

	if (ioctl(u->fd, UFFDIO_UNREGISTER, &r) < 0)
		return -errno;
	return 0;
}

/* decode - one message into @ev.  Return: true when it is an event we know. */
static bool decode(const struct uffd_msg *m, struct uffd_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		ev->kind = UFFD_EV_FAULT;
		ev->fault.addr = m->arg.pagefault.address & UFFD_PAGE_MASK;
		ev->fault.write =
			!!(m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE);
		ev->fault.wp =
			!!(m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP);
		ev->fault.tid = (pid_t)m->arg.pagefault.feat.ptid;
		return true;
	case UFFD_EVENT_FORK:
		ev->kind = UFFD_EV_FORK;
		ev->fork.ufd = (int)m->arg.fork.ufd;
		return true;
	case UFFD_EVENT_REMAP:
		ev->kind = UFFD_EV_REMAP;
		ev->remap.from = m->arg.remap.from;
		ev->remap.to = m->arg.remap.to;
		ev->remap.len = m->arg.remap.len;
		return true;
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		ev->kind = m->event == UFFD_EVENT_REMOVE ? UFFD_EV_REMOVE
							 : UFFD_EV_UNMAP;
		ev->range.start = m->arg.remove.start;
		ev->range.end = m->arg.remove.end;
		return true;
	default:
		return false;
	}
}

/*
 * Context: any thread, usually a fault handler thread; blocks in read(2)
 * unless the fd is nonblocking.  Several threads may read the same fd:
 * each message goes to one of them.
 */
int uffd_read_events(struct uffd *u, struct uffd_event *ev, int max)
{
	struct uffd_msg msg[UFFD_MAX_BATCH];
	ssize_t n;
	int i, out;

	if (max <= 0)
		return -EINVAL;
	if (max > UFFD_MAX_BATCH)
		max = UFFD_MAX_BATCH;
	do {
		n = read(u->fd, msg, sizeof(msg[0]) * (size_t)max);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADF;
		n /= (ssize_t)sizeof(msg[0]);
		for (i = 0, out = 0; i < n; i++)
			if (decode(&msg[i], &ev[out]))
				out++;
		/* an unknown event kind is dropped: read again */
	} while (out == 0);
	return out;
}

int uffd_wait(struct uffd *u, int also_fd, int timeout_ms)
{
	struct pollfd p[2] = {{.fd = u->fd, .events = POLLIN},
			      {.fd = also_fd, .events = POLLIN}};
	int n = poll(p, also_fd >= 0 ? 2 : 1, timeout_ms);

	if (n < 0)
		return -errno;
	if (p[0].revents)
		return 0;
	return n ? 1 : -ETIMEDOUT;
}

long uffd_copy(struct uffd *u, uint64_t dst, const void *src, size_t len,
	       unsigned flags)
{
	struct uffdio_copy c = {
		.dst = dst,
		.src = (uintptr_t)src,
		.len = len,
	};

	if (flags & UFFD_DONTWAKE)
		c.mode |= UFFDIO_COPY_MODE_DONTWAKE;
	if (flags & UFFD_WP)
		c.mode |= UFFDIO_COPY_MODE_WP;
	if (ioctl(u->fd, UFFDIO_COPY, &c) == 0)
		return 0;
	return uffd_classify(u, errno, c.copy, dst, len, flags);
}

long uffd_zeropage(struct uffd *u, uint64_t dst, size_t len, unsigned flags)
{
	struct uffdio_zeropage z = {.range = {.start = dst, .len = len}};

	if (flags & UFFD_DONTWAKE)
		z.mode |= UFFDIO_ZEROPAGE_MODE_DONTWAKE;
	if (ioctl(u->fd, UFFDIO_ZEROPAGE, &z) == 0)
		return 0;
	return uffd_classify(u, errno, z.zeropage, dst, len, flags);
}

long uffd_move(struct uffd *u, uint64_t dst, uint64_t src, size_t len,
	       unsigned flags)
{
	struct uffdio_move m = {.dst = dst, .src = src, .len = len};

	if (flags & UFFD_DONTWAKE)
		m.mode |= UFFDIO_MOVE_MODE_DONTWAKE;
	if (flags & UFFD_ALLOW_SRC_HOLES)
		m.mode |= UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES;
	if (ioctl(u->fd, UFFDIO_MOVE, &m) == 0)
		return 0;
	return uffd_classify(u, errno, m.move, dst, len, flags);
}

int uffd_writeprotect(struct uffd *u, uint64_t addr, size_t len, bool wp,
		      unsigned flags)
{
	struct uffdio_writeprotect w = {.range = {.start = addr, .len = len}};

	if (wp)
		w.mode |= UFFDIO_WRITEPROTECT_MODE_WP;
	if (flags & UFFD_DONTWAKE)
		w.mode |= UFFDIO_WRITEPROTECT_MODE_DONTWAKE;
	if (ioctl(u->fd, UFFDIO_WRITEPROTECT, &w) == 0)
		return 0;
	return (int)uffd_classify(u, errno, 0, addr, len, flags);
}

int uffd_wake(struct uffd *u, uint64_t addr, size_t len)
{
	struct uffdio_range r = {.start = addr, .len = len};

	stat_inc(&u->stats.wakes);
	if (ioctl(u->fd, UFFDIO_WAKE, &r) < 0) {
		stat_inc(&u->stats.errors);
		return -errno;
	}
	return 0;
}

long uffd_poison(struct uffd *u, uint64_t dst, size_t len, unsigned flags)
{
	struct uffdio_poison p = {.range = {.start = dst, .len = len}};

	if (flags & UFFD_DONTWAKE)
		p.mode |= UFFDIO_POISON_MODE_DONTWAKE;
	if (ioctl(u->fd, UFFDIO_POISON, &p) == 0)
		return 0;
	return uffd_classify(u, errno, p.updated, dst, len, flags);
}
