/*
 * Calls that fill a buffer of the caller's and take nothing, in the
 * in-thread mode (`uswap run --sigbus`): stat and its kin, statfs,
 * getrandom, getentropy, getcwd, readlink, getdents64, pipe, socketpair,
 * getsockname and getpeername.
 *
 * In that mode the kernel's copy into a page of a region that is not in
 * memory fails with EFAULT (io.c), a never-touched page included:
 * `python3 -c 'import os; os.urandom(3000000)'` under `uswap run --budget
 * 8M --sigbus` raised "OSError: [Errno 14] Bad address" (the bytes object
 * is fresh heap).  For these calls a failed copy takes nothing: the
 * kernel computes the answer, and a call again computes it again (stat,
 * getrandom's random bytes, a readlink's target).  pipe, pipe2 and
 * socketpair close the descriptors they made when the copy of their
 * numbers fails (do_pipe2, __sys_socketpair), getdents64 moves the
 * directory's position only past the entries it copied, getrandom
 * returns the count it copied before the page it could not reach.  So
 * io.c's way serves them: touch the buffer's pages first (IO_WRAP in
 * shim.h), call, and on EFAULT touch with writes and call again.
 *
 * The compat __xstat family (what binaries built before glibc 2.33 call)
 * goes to the wrappers of the plain names (x86-64: _STAT_VER_KERNEL 0 and
 * _STAT_VER_LINUX 1 name the same struct, and glibc takes both).
 *
 * Outside the mode, on uswap's own threads, and for buffers outside
 * uswap memory, each wrapper is a plain call to the next definition
 * (shim_next).  Context: any program thread.  No lock of our own.
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "preload/shim.h"

/*
 * The next definitions (shim_next), looked up by fill_init in the
 * constructor, so that a wrapper called in a signal handler (stat, pipe,
 * readlink... are async-signal-safe) does not run dlsym there; a call
 * before the constructor looks its own up.
 */
/* clang-format off */
#define FILL_CALLS(X)                                                      \
	X(stat) X(lstat) X(fstat) X(fstatat) X(statx) X(statfs) X(fstatfs) \
	X(getrandom) X(getentropy) X(readlink) X(readlinkat) X(getdents64) \
	X(getcwd) X(pipe) X(pipe2) X(socketpair) X(getsockname)            \
	X(getpeername)
/* clang-format on */
#define FILL_SLOT(name) static void *slot_##name;
FILL_CALLS(FILL_SLOT)

void fill_init(void)
{
#define FILL_LOOKUP(name) (void)shim_next(&slot_##name, #name);
	FILL_CALLS(FILL_LOOKUP)
}

/* NEXT - @fn's next definition, typed as @type; with none, ENOSYS */
#define NEXT(type, fn) ((type)shim_next(&slot_##fn, #fn))

/* touch_out - a result buffer of @len bytes: written after the first try */
#define touch_out(p, len) io_touch((p), (len), t > 0)

/* ---- stat ---- */

typedef int (*stat_fn)(const char *, struct stat *);
typedef int (*fstat_fn)(int, struct stat *);
typedef int (*fstatat_fn)(int, const char *, struct stat *, int);

SHIM_EXPORT int stat(const char *path, struct stat *st)
{
	stat_fn next = NEXT(stat_fn, stat);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(st, sizeof(*st)), next(path, st));
}

SHIM_EXPORT int lstat(const char *path, struct stat *st)
{
	stat_fn next = NEXT(stat_fn, lstat);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(st, sizeof(*st)), next(path, st));
}

SHIM_EXPORT int fstat(int fd, struct stat *st)
{
	fstat_fn next = NEXT(fstat_fn, fstat);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(st, sizeof(*st)), next(fd, st));
}

SHIM_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	fstatat_fn next = NEXT(fstatat_fn, fstatat);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(st, sizeof(*st)), next(dirfd, path, st, flags));
}

/* x86-64: struct stat64 is struct stat, and the *64 names the same calls */
_Static_assert(sizeof(struct stat64) == sizeof(struct stat), "stat64");
_Static_assert(sizeof(struct statfs64) == sizeof(struct statfs), "statfs64");

SHIM_EXPORT int stat64(const char *path, struct stat64 *st)
{
	return stat(path, (struct stat *)st);
}

SHIM_EXPORT int lstat64(const char *path, struct stat64 *st)
{
	return lstat(path, (struct stat *)st);
}

SHIM_EXPORT int fstat64(int fd, struct stat64 *st)
{
	return fstat(fd, (struct stat *)st);
}

SHIM_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st,
			  int flags)
{
	return fstatat(dirfd, path, (struct stat *)st, flags);
}

/* the compat names: x86-64's _STAT_VER_KERNEL (0) or _STAT_VER_LINUX (1) */
#define STAT_VER_KERNEL 0
#define STAT_VER_LINUX	1

int __xstat(int ver, const char *path, struct stat *st);
int __xstat64(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __lxstat64(int ver, const char *path, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st);
int __fxstat64(int ver, int fd, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st,
	       int flags);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat *st,
		 int flags);

static bool stat_ver_ok(int ver)
{
	if (ver == STAT_VER_KERNEL || ver == STAT_VER_LINUX)
		return true;
	errno = EINVAL;
	return false;
}

SHIM_EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
	return stat_ver_ok(ver) ? stat(path, st) : -1;
}

SHIM_EXPORT int __xstat64(int ver, const char *path, struct stat *st)
{
	return __xstat(ver, path, st);
}

SHIM_EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
	return stat_ver_ok(ver) ? lstat(path, st) : -1;
}

SHIM_EXPORT int __lxstat64(int ver, const char *path, struct stat *st)
{
	return __lxstat(ver, path, st);
}

SHIM_EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
	return stat_ver_ok(ver) ? fstat(fd, st) : -1;
}

SHIM_EXPORT int __fxstat64(int ver, int fd, struct stat *st)
{
	return __fxstat(ver, fd, st);
}

SHIM_EXPORT int __fxstatat(int ver, int dirfd, const char *path,
			   struct stat *st, int flags)
{
	return stat_ver_ok(ver) ? fstatat(dirfd, path, st, flags) : -1;
}

SHIM_EXPORT int __fxstatat64(int ver, int dirfd, const char *path,
			     struct stat *st, int flags)
{
	return __fxstatat(ver, dirfd, path, st, flags);
}

typedef int (*statx_fn)(int, const char *, int, unsigned, struct statx *);

SHIM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask,
		      struct statx *stx)
{
	statx_fn next = NEXT(statx_fn, statx);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(stx, sizeof(*stx)),
		next(dirfd, path, flags, mask, stx));
}

typedef int (*statfs_fn)(const char *, struct statfs *);
typedef int (*fstatfs_fn)(int, struct statfs *);

SHIM_EXPORT int statfs(const char *path, struct statfs *sf)
{
	statfs_fn next = NEXT(statfs_fn, statfs);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(sf, sizeof(*sf)), next(path, sf));
}

SHIM_EXPORT int fstatfs(int fd, struct statfs *sf)
{
	fstatfs_fn next = NEXT(fstatfs_fn, fstatfs);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(sf, sizeof(*sf)), next(fd, sf));
}

SHIM_EXPORT int statfs64(const char *path, struct statfs64 *sf)
{
	return statfs(path, (struct statfs *)sf);
}

SHIM_EXPORT int fstatfs64(int fd, struct statfs64 *sf)
{
	return fstatfs(fd, (struct statfs *)sf);
}

/* ---- buffers the kernel fills ---- */

typedef ssize_t (*getrandom_fn)(void *, size_t, unsigned);
typedef int (*getentropy_fn)(void *, size_t);
typedef ssize_t (*readlink_fn)(const char *, char *, size_t);
typedef ssize_t (*readlinkat_fn)(int, const char *, char *, size_t);
typedef ssize_t (*getdents64_fn)(int, void *, size_t);
ssize_t getdents64(int fd, void *buf,
		   size_t n); /* <dirent.h> with _DEFAULT_SOURCE */

/* getrandom: the front first, as read(2)'s (a short count is legal) */
SHIM_EXPORT ssize_t getrandom(void *buf, size_t n, unsigned flags)
{
	getrandom_fn next = NEXT(getrandom_fn, getrandom);

	NONE_ENOSYS(next);
	IO_WRAP(ssize_t, io_touch_front(buf, n, t > 0), next(buf, n, flags));
}

SHIM_EXPORT int getentropy(void *buf, size_t n)
{
	getentropy_fn next = NEXT(getentropy_fn, getentropy);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(buf, n), next(buf, n));
}

SHIM_EXPORT ssize_t readlink(const char *path, char *buf, size_t n)
{
	readlink_fn next = NEXT(readlink_fn, readlink);

	NONE_ENOSYS(next);
	IO_WRAP(ssize_t, touch_out(buf, n), next(path, buf, n));
}

SHIM_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
	readlinkat_fn next = NEXT(readlinkat_fn, readlinkat);

	NONE_ENOSYS(next);
	IO_WRAP(ssize_t, touch_out(buf, n), next(dirfd, path, buf, n));
}

SHIM_EXPORT ssize_t getdents64(int fd, void *buf, size_t n)
{
	getdents64_fn next = NEXT(getdents64_fn, getdents64);

	NONE_ENOSYS(next);
	IO_WRAP(ssize_t, io_touch_front(buf, n, t > 0), next(fd, buf, n));
}

typedef char *(*getcwd_fn)(char *, size_t);

/*
 * getcwd: a buffer of the caller's is touched.  getcwd(NULL, n) is left
 * to glibc, which mallocs the buffer and lets the kernel fill it: the
 * allocator writes the block's head when it hands it out (mimalloc its
 * free-list link, glibc's malloc its chunk header next to it), and a path
 * shorter than a page goes there.  sigbus_calls.c pushes the freed
 * blocks of that size out before each getcwd(NULL, 0), and it never
 * failed without a wrapper.
 */
SHIM_EXPORT char *getcwd(char *buf, size_t n)
{
	getcwd_fn next = NEXT(getcwd_fn, getcwd);
	char *r;

	if (!next) {
		errno = ENOSYS;
		return NULL;
	}
	if (!buf || !shim_in_thread_mode())
		return next(buf, n);
	for (unsigned t = 0;; t++) {
		bool mine = touch_out(buf, n);

		r = next(buf, n);
		if (!io_again(r ? 0 : -1, t, mine))
			return r;
	}
}

/* ---- descriptor numbers ---- */

typedef int (*pipe_fn)(int[2]);
typedef int (*pipe2_fn)(int[2], int);
typedef int (*socketpair_fn)(int, int, int, int[2]);
typedef int (*sockname_fn)(int, struct sockaddr *, socklen_t *);

SHIM_EXPORT int pipe(int fds[2])
{
	pipe_fn next = NEXT(pipe_fn, pipe);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(fds, 2 * sizeof(int)), next(fds));
}

SHIM_EXPORT int pipe2(int fds[2], int flags)
{
	pipe2_fn next = NEXT(pipe2_fn, pipe2);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(fds, 2 * sizeof(int)), next(fds, flags));
}

SHIM_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
	socketpair_fn next = NEXT(socketpair_fn, socketpair);

	NONE_ENOSYS(next);
	IO_WRAP(int, touch_out(sv, 2 * sizeof(int)),
		next(domain, type, proto, sv));
}

/*
 * getsockname, getpeername: the address (as long as any, its length is
 * not read: it may be a bad pointer) and the length, written back.
 */
SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	sockname_fn next = NEXT(sockname_fn, getsockname);

	NONE_ENOSYS(next);
	IO_WRAP(int,
		either(touch_out(addr, sizeof(struct sockaddr_storage)),
		       touch_out(len, sizeof(*len))),
		next(fd, addr, len));
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	sockname_fn next = NEXT(sockname_fn, getpeername);

	NONE_ENOSYS(next);
	IO_WRAP(int,
		either(touch_out(addr, sizeof(struct sockaddr_storage)),
		       touch_out(len, sizeof(*len))),
		next(fd, addr, len));
}
