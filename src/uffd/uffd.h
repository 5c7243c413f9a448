/*
 * The machine layer: userfaultfd.  Opening, registration, reading events,
 * and the ioctls that install, zero, move, write-protect, wake and poison
 * pages.  Like the kernel's arch layer it traps faults and sets ptes, and
 * decides nothing: every policy lives in src/mm/.
 *
 * All ioctl results are classified in one place (uffd_classify in uffd.c):
 *   success         -> 0: the whole range was done (and woken, unless
 *                      UFFD_DONTWAKE).
 *   partial         -> a positive byte count N < len: the first N bytes were
 *                      installed (and woken); the kernel stopped at
 *                      dst + N (it says EAGAIN).  Continue from dst + N:
 *                      a page that already exists there then gives -EEXIST.
 *                      Only multi-page calls can be partial; a one-page call
 *                      returns 0 or a negative errno.  Counted in eagain.
 *   EEXIST          -> -EEXIST: someone else installed the page.  The
 *                      faulting thread is NOT woken by the kernel in that
 *                      case, so uffd.c issues UFFDIO_WAKE on the call's
 *                      range itself before returning (unless the caller
 *                      passed UFFD_DONTWAKE: then waking is the caller's
 *                      job), and counts it (uffd_stats.eexist).
 *   EAGAIN          -> -EAGAIN: the mapping is changing and nothing was
 *                      done; retry (the caller decides).  Counted.
 *   ENOENT/ESRCH    -> -ENOENT: the range is gone (unmapped, process exit,
 *                      move source hole).
 *   anything else   -> -errno, an error, counted.
 *
 * The 6.1 headers lack the constants of later kernels: they are defined
 * below, each under #ifndef, so that callers can ask for the features.
 */
#ifndef USWAP_UFFD_UFFD_H
#define USWAP_UFFD_UFFD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/userfaultfd.h>

/*
 * Constants of kernels after 6.1 (the installed headers).  Values from
 * upstream include/uapi/linux/userfaultfd.h (WP_UNPOPULATED and POISON:
 * 6.4/6.6; WP_ASYNC: 6.7; MOVE, struct uffdio_move: 6.8), checked against
 * the upstream header text and against this kernel (6.18): UFFDIO_API with
 * features = 0 reports 0x1ffff, bits 0-16 (research/userfaultfd-measured.md
 * section 1).  Beware: some code bases define WP_ASYNC as 1<<16; that is
 * MOVE.
 */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
#ifndef USERFAULTFD_IOC_NEW /* 6.1 has it; older headers do not */
#define USERFAULTFD_IOC	    0xAA
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif
#ifndef UFFDIO_MOVE
#define _UFFDIO_MOVE (0x05)
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
#define UFFDIO_MOVE_MODE_DONTWAKE	 ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
	__u64 mode;
	__s64 move; /* written by the kernel: bytes moved or -errno */
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif
#ifndef UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
struct uffdio_poison {
	struct uffdio_range range;
#define UFFDIO_POISON_MODE_DONTWAKE ((__u64)1 << 0)
	__u64 mode;
	__s64 updated; /* written by the kernel: bytes poisoned or -errno */
};
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

/* Registration modes. */
#define UFFD_REG_MISSING (1u << 0)
#define UFFD_REG_WP	 (1u << 1)

/* Open flags. */
#define UFFD_OPEN_USER_ONLY (1u << 0) /* UFFD_USER_MODE_ONLY */
#define UFFD_OPEN_SIGBUS    (1u << 1) /* UFFD_FEATURE_SIGBUS */
#define UFFD_OPEN_NONBLOCK  (1u << 2) /* O_NONBLOCK on the fd */

/* Ioctl flags. */
#define UFFD_DONTWAKE	     (1u << 0)
#define UFFD_WP		     (1u << 1) /* install write-protected (copy) */
#define UFFD_ALLOW_SRC_HOLES (1u << 2) /* move: skip holes in the source */

struct uffd_stats {
	_Atomic uint64_t eexist; /* installs that found the page there */
	_Atomic uint64_t eagain;
	_Atomic uint64_t errors;
	_Atomic uint64_t wakes;
};

struct uffd {
	int fd;		   /* set at open, read-only after */
	uint64_t features; /* UFFD_FEATURE_* enabled: asked for and granted
			      (UFFDIO_API reports all supported ones) */
	uint64_t refused;  /* wanted but refused for lack of privilege
			      (EVENT_FORK when unprivileged); set at open */
	struct uffd_stats stats; /* relaxed atomics: statistics only */
};

enum uffd_event_kind {
	UFFD_EV_FAULT,	/* a missing or write-protect fault */
	UFFD_EV_FORK,	/* the process forked: new uffd for the child */
	UFFD_EV_REMAP,	/* mremap moved [from, from+len) to [to, ...) */
	UFFD_EV_REMOVE, /* MADV_DONTNEED/FREE/REMOVE of [start, end) */
	UFFD_EV_UNMAP,	/* munmap of [start, end) */
};

struct uffd_event {
	enum uffd_event_kind kind;
	union {
		struct {
			uint64_t addr; /* page-aligned */
			bool write;    /* a write access */
			bool wp;       /* a write-protect fault */
			pid_t tid;     /* faulting thread (THREAD_ID) */
		} fault;
		struct {
			int ufd; /* the child's uffd (caller owns it) */
		} fork;
		struct {
			uint64_t from, to, len;
		} remap;
		struct {
			uint64_t start, end;
		} range; /* REMOVE and UNMAP */
	};
};

/*
 * uffd_open - open a userfaultfd and negotiate @want features.
 * @want: UFFD_FEATURE_* bits.  EVENT_FORK is dropped when the kernel refuses
 *        it for lack of privilege (EPERM): then u->refused has the bit and
 *        u->features lacks it.  Any other wanted feature the kernel does not
 *        know is an error (-EINVAL, the missing bits on stderr).
 * @flags: UFFD_OPEN_*.  UFFD_OPEN_SIGBUS adds UFFD_FEATURE_SIGBUS.
 * The fd is O_CLOEXEC, and O_NONBLOCK with UFFD_OPEN_NONBLOCK.  It comes from
 * userfaultfd(2), else from /dev/userfaultfd (USERFAULTFD_IOC_NEW).
 * Return: 0; -EPERM (neither way permitted) with a message on stderr saying
 * how to grant access; -ENOSYS; -EINVAL; -EMFILE/-ENFILE/-ENOMEM.
 * Context: any thread; does not block.
 */
int uffd_open(struct uffd *u, uint64_t want, unsigned flags);
/*
 * uffd_adopt - wrap a uffd received in a fork event (the child's), with the
 * parent's @features; the kernel already did UFFDIO_API on it.
 */
void uffd_adopt(struct uffd *u, int fd, uint64_t features);
/* uffd_close - close the fd; blocked faulters then fault in zero pages. */
void uffd_close(struct uffd *u);

/*
 * uffd_register - register [addr, addr+len) (page aligned) with @modes
 * (UFFD_REG_*).  Return: 0; -EBUSY (another uffd has it); -EINVAL; -ENOMEM.
 */
int uffd_register(struct uffd *u, void *addr, size_t len, unsigned modes);
/* uffd_unregister - undo uffd_register.  Return: 0 or -errno. */
int uffd_unregister(struct uffd *u, void *addr, size_t len);

/*
 * uffd_read_events - read up to @max events (at most 64 per call) in one
 * read(2), blocking unless the fd is nonblocking.  Fault addresses are page
 * aligned.  A FORK event carries a new fd the caller must adopt or close.
 * Return: the number read (>= 1); -EAGAIN (nonblocking, none); -EINTR;
 * -EBADF/-EINVAL once the fd is closed.
 * Context: any thread, usually a fault handler thread; may block.
 */
int uffd_read_events(struct uffd *u, struct uffd_event *ev, int max);

/*
 * uffd_wait - block until an event can be read (poll(2) for POLLIN), or
 * @also_fd (when >= 0) is readable, for at most @timeout_ms (-1: no
 * limit).  With a nonblocking fd, uffd_read_events may still answer
 * -EAGAIN afterwards: a fault can be resolved (woken) before anyone read
 * its message.
 * Return: 0 (events); 1 (only @also_fd); -ETIMEDOUT; -EINTR; -errno.
 * Context: any thread; blocks.
 */
int uffd_wait(struct uffd *u, int also_fd, int timeout_ms);

/*
 * Page installation and removal; results classified as above (0, a partial
 * byte count, or -EEXIST / -EAGAIN / -ENOENT / -errno).  @flags:
 * UFFD_DONTWAKE (all), UFFD_WP (copy), UFFD_ALLOW_SRC_HOLES (move).
 * Context: any thread; thread safe; does not wait for other threads.  The
 * source buffer of a copy must be resident ordinary memory: if it were a
 * missing page of a registered range the ioctl would fault to us.
 */
long uffd_copy(struct uffd *u, uint64_t dst, const void *src, size_t len,
	       unsigned flags);
long uffd_zeropage(struct uffd *u, uint64_t dst, size_t len, unsigned flags);
/*
 * uffd_move - move the pages of [src, src+len) to [dst, dst+len), both
 * registered with this uffd (any mode), dst unpopulated.  -EBUSY when a
 * source page is pinned or shared after fork(); -ENOENT for a source hole
 * without UFFD_ALLOW_SRC_HOLES.
 */
long uffd_move(struct uffd *u, uint64_t dst, uint64_t src, size_t len,
	       unsigned flags);
/* uffd_writeprotect - set (@wp) or clear write protection.  0 or -errno. */
int uffd_writeprotect(struct uffd *u, uint64_t addr, size_t len, bool wp,
		      unsigned flags);
/* uffd_wake - wake the threads faulting in [addr, addr+len). 0 or -errno. */
int uffd_wake(struct uffd *u, uint64_t addr, size_t len);
/* uffd_poison - make accesses to [dst, dst+len) raise SIGBUS. */
long uffd_poison(struct uffd *u, uint64_t dst, size_t len, unsigned flags);

#endif /* USWAP_UFFD_UFFD_H */
