/*
 * What a descriptor is, for bounce.c: does a read of it take what it
 * copies (a datagram socket, a character device, an anonymous inode such
 * as an eventfd), so that a failed copy loses it?  Remembered per
 * descriptor number, and forgotten when the number is freed: close,
 * close_range, dup2 and dup3 are interposed here for that, and stdio.c's
 * fclose and pclose call fd_forget.
 *
 * Context: any thread; lock-free (one atomic byte per number).
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/shim.h"

/* datagram_socket - a socket that drops a message whose copy fails */
static bool datagram_socket(int fd)
{
	int type;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
		return false; /* not a socket: nothing is dropped */
	return type == SOCK_DGRAM || type == SOCK_SEQPACKET ||
	       type == SOCK_RAW || type == SOCK_RDM;
}

enum fd_kind { FD_UNKNOWN, FD_KEEPS, FD_TAKES };

/*
 * classify - whether a read of @fd takes what it copies (file comment):
 * a datagram socket, a character device, an anonymous inode.  Not a
 * regular file, pipe, directory, block device or stream socket.
 * FD_UNKNOWN when fstat fails (no such descriptor: the call will say so,
 * and nothing may be remembered for a number that is not open).
 */
static enum fd_kind classify(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return FD_UNKNOWN;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFDIR:
	case S_IFBLK:
		return FD_KEEPS;
	case S_IFSOCK:
		return datagram_socket(fd) ? FD_TAKES : FD_KEEPS;
	default:
		return FD_TAKES;
	}
}

/*
 * ---- remembered ----
 *
 * Telling costs an fstat and, for a socket, a getsockopt: told at every
 * call, a 64-byte read(2) of a pipe took 2.2x the time it took before
 * bounce.c, of a stream socket 1.76x; remembered, 1.06x and 1.00x
 * (bench/shim_read.c, docs/BENCHMARKS.md "The shim's read").
 * So the answer is kept per descriptor number, with a generation that
 * close, close_range, dup2 and dup3 (interposed below) and stdio.c's
 * fclose and pclose advance (fd_forget) once the number is free:
 * an answer found while the number was being closed is not stored
 * (compare-and-swap on the generation it started from).  Not exact: a
 * descriptor glibc closes inside itself (closedir, getaddrinfo...) keeps
 * its answer for the next one of that number, which then costs, at
 * worst, a copy it did not need, or io.c's touch alone (bounce.c's race,
 * as before bounce.c).  Numbers beyond FD_KINDS are told at every call.
 */
#define FD_KINDS 65536

/* gen << 2 | kind; relaxed is enough: each entry is one atomic byte */
static _Atomic uint8_t fd_kinds[FD_KINDS];

bool fd_takes(int fd)
{
	uint8_t e, k;

	if (fd < 0 || fd >= FD_KINDS)
		return classify(fd) == FD_TAKES;
	e = atomic_load_explicit(&fd_kinds[fd], memory_order_relaxed);
	if (e & 3)
		return (e & 3) == FD_TAKES;
	k = (uint8_t)classify(fd);
	/* not stored if the number was closed meanwhile (generation) */
	if (k != FD_UNKNOWN)
		atomic_compare_exchange_strong_explicit(
			&fd_kinds[fd], &e, (uint8_t)(e | k),
			memory_order_relaxed, memory_order_relaxed);
	return k == FD_TAKES;
}

void fd_forget(int fd)
{
	uint8_t e;

	if (fd < 0 || fd >= FD_KINDS)
		return;
	e = atomic_load_explicit(&fd_kinds[fd], memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(
		&fd_kinds[fd], &e, (uint8_t)(((e >> 2) + 1) << 2),
		memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---- numbers freed: forgotten ---- */

typedef int (*close_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*close_range_fn)(unsigned, unsigned, int);

/*
 * The next definitions, looked up by fdkind_init in the constructor.
 * uswap's own code closes descriptors too (a fork event's uffd in a
 * handler thread, the child's eventfd in fork.c's atfork handler), and
 * this library's internal calls bind to these wrappers: a first call
 * there would run dlsym, which may malloc, and the program's malloc is
 * uswap memory that thread may be the one to serve.
 */
static void *slot_close, *slot_dup2, *slot_dup3, *slot_close_range;

void fdkind_init(void)
{
	(void)shim_next(&slot_close, "close");
	(void)shim_next(&slot_dup2, "dup2");
	(void)shim_next(&slot_dup3, "dup3");
	(void)shim_next(&slot_close_range, "close_range");
}

/*
 * forgotten - after the call (@r) that freed @fd's number: forget it.
 * After, not before: a number freed meanwhile and taken again is then
 * told again, where before the call another thread could store the old
 * descriptor's answer for it.  errno as the call left it.
 */
static int forgotten(int r, int fd)
{
	int saved = errno;

	fd_forget(fd);
	errno = saved;
	return r;
}

SHIM_EXPORT int close(int fd)
{
	close_fn next = (close_fn)shim_next(&slot_close, "close");

	return forgotten(next ? next(fd) : (int)syscall(SYS_close, fd), fd);
}

SHIM_EXPORT int dup2(int old, int fd)
{
	dup2_fn next = (dup2_fn)shim_next(&slot_dup2, "dup2");

	return forgotten(next ? next(old, fd) : (int)syscall(SYS_dup2, old, fd),
			 fd);
}

SHIM_EXPORT int dup3(int old, int fd, int flags)
{
	dup3_fn next = (dup3_fn)shim_next(&slot_dup3, "dup3");

	return forgotten(next ? next(old, fd, flags)
			      : (int)syscall(SYS_dup3, old, fd, flags),
			 fd);
}

SHIM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	close_range_fn next =
		(close_range_fn)shim_next(&slot_close_range, "close_range");
	int r = next ? next(first, last, flags)
		     : (int)syscall(SYS_close_range, first, last, flags);
	int saved = errno;

	for (unsigned fd = first; fd <= last && fd < FD_KINDS; fd++)
		fd_forget((int)fd);
	errno = saved;
	return r;
}
