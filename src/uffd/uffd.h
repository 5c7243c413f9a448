/*
 * The machine layer: userfaultfd.  Opening, registration, reading events,
 * and the ioctls that install, zero, move, write-protect, wake and poison
 * pages.  Like the kernel's arch layer it traps faults and sets ptes, and
 * decides nothing: every policy lives in src/mm/.
 *
 * All ioctl results are classified in one place (uffd_classify in uffd.c):
 *   success         -> 0 (or bytes done for a partial multi-page call)
 *   EEXIST          -> -EEXIST: someone else installed the page.  The
 *                      faulting thread is NOT woken by the kernel in that
 *                      case, so uffd.c issues UFFDIO_WAKE itself before
 *                      returning, and counts it (uffd_stats.eexist).
 *   EAGAIN          -> -EAGAIN: the mapping is changing or the call was
 *                      partial; retry (the caller decides).
 *   ENOENT/ESRCH    -> -ENOENT: the range is gone (unmapped, process exit,
 *                      move source hole).
 *   anything else   -> -errno, an error, counted.
 *
 * The 6.1 headers lack the constants of later kernels: they are defined in
 * uffd.c and checked against the kernel's uapi header (see the comment
 * there).
 */
#ifndef USWAP_UFFD_UFFD_H
#define USWAP_UFFD_UFFD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Registration modes. */
#define UFFD_REG_MISSING (1u << 0)
#define UFFD_REG_WP      (1u << 1)

/* Open flags. */
#define UFFD_OPEN_USER_ONLY (1u << 0) /* UFFD_USER_MODE_ONLY */
#define UFFD_OPEN_SIGBUS    (1u << 1) /* UFFD_FEATURE_SIGBUS */
#define UFFD_OPEN_NONBLOCK  (1u << 2) /* O_NONBLOCK on the fd */

/* Ioctl flags. */
#define UFFD_DONTWAKE (1u << 0)
#define UFFD_WP       (1u << 1) /* install write-protected */

struct uffd_stats {
	_Atomic uint64_t eexist; /* installs that found the page there */
	_Atomic uint64_t eagain;
	_Atomic uint64_t errors;
	_Atomic uint64_t wakes;
};

struct uffd {
	int fd;            /* set at open, read-only after */
	uint64_t features; /* UFFD_FEATURE_* granted by UFFDIO_API */
	struct uffd_stats stats; /* relaxed atomics: statistics only */
};

enum uffd_event_kind {
	UFFD_EV_FAULT,  /* a missing or write-protect fault */
	UFFD_EV_FORK,   /* the process forked: new uffd for the child */
	UFFD_EV_REMAP,  /* mremap moved [from, from+len) to [to, ...) */
	UFFD_EV_REMOVE, /* MADV_DONTNEED/FREE/REMOVE of [start, end) */
	UFFD_EV_UNMAP,  /* munmap of [start, end) */
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
 * uffd_open - open a userfaultfd (syscall, else /dev/userfaultfd) and
 * negotiate @want features (UFFD_FEATURE_* bits; EVENT_FORK is dropped
 * silently when not permitted, see uffd->features).
 * Return: 0; -EPERM with a message on stderr saying how to grant access;
 * -ENOSYS; -EINVAL.
 */
int uffd_open(struct uffd *u, uint64_t want, unsigned flags);
/* uffd_adopt - wrap a uffd received in a fork event. */
void uffd_adopt(struct uffd *u, int fd, uint64_t features);
void uffd_close(struct uffd *u);

int uffd_register(struct uffd *u, void *addr, size_t len, unsigned modes);
int uffd_unregister(struct uffd *u, void *addr, size_t len);

/*
 * uffd_read_events - read up to @max events (blocking unless the fd is
 * nonblocking).  Return: the number read (>= 1); -EAGAIN (nonblocking, none);
 * -EINTR; -EBADF/-EINVAL once the fd is closed.
 */
int uffd_read_events(struct uffd *u, struct uffd_event *ev, int max);

/* Page installation and removal; results classified as above. */
long uffd_copy(struct uffd *u, uint64_t dst, const void *src, size_t len,
	       unsigned flags);
long uffd_zeropage(struct uffd *u, uint64_t dst, size_t len, unsigned flags);
long uffd_move(struct uffd *u, uint64_t dst, uint64_t src, size_t len,
	       unsigned flags);
int uffd_writeprotect(struct uffd *u, uint64_t addr, size_t len, bool wp,
		      unsigned flags);
int uffd_wake(struct uffd *u, uint64_t addr, size_t len);
/* uffd_poison - make accesses to [dst, dst+len) raise SIGBUS. */
long uffd_poison(struct uffd *u, uint64_t dst, size_t len, unsigned flags);

#endif /* USWAP_UFFD_UFFD_H */
