/*
 * stdio's buffers kept out of uswap memory in the in-thread mode (`uswap
 * run --sigbus`).
 *
 * glibc gives a stream its buffer with malloc at the stream's first I/O,
 * so under the shim the buffer lies in uswap memory, and glibc reads into
 * it with its own internal read(2), which io.c's wrappers never see.  In
 * the in-thread mode the kernel's copy into a buffer page not in memory
 * fails with EFAULT (docs/pager.md, "The in-thread mode"): fgets then
 * returns NULL with the stream's error set, and the program takes it for
 * an I/O error or for the end of the file.  A program that reads a file
 * line by line while it builds something larger than the budget pushes
 * the buffer out between two reads: tests/run/sigbus_stdio.c failed so
 * before this file.
 *
 * So, in that mode only, each stream the program opens gets a buffer of
 * plain memory right after the open, before any I/O (setvbuf(3) with a
 * buffer of ours: glibc never frees such a buffer), of the size and mode
 * glibc itself would choose (_IO_file_doallocate: the file's block size
 * up to BUFSIZ; line-buffered on a terminal).  stdin and stdout get one
 * at start (the constructor, before main); stderr is unbuffered.  The
 * buffer is unmapped after the stream's fclose or pclose, and after a
 * freopen (which drops it and takes a new one).  A stream the program
 * gives its own buffer (setvbuf, setbuf) keeps it: ours is unmapped at
 * its close.
 *
 * fread and fwrite of more than a buffer move the data between the file
 * and the caller's memory directly; their wrappers touch the caller's
 * buffer first, as io.c does for read(2) and write(2).  Unlike there, a
 * failure with EFAULT cannot be retried: the stream keeps its error (a
 * page evicted between the touch and the kernel's copy, which needs the
 * reclaimer to take a page just touched).
 *
 * Not covered: streams opened before the shim's constructor, or by glibc
 * for itself, or by fopencookie, fmemopen and open_memstream (no kernel
 * I/O into their buffers), glibc's "m" streams (read through an mmap),
 * and wide-character streams' own buffers.
 *
 * Lock order: kept_lock is a leaf (no call made under it); fork holds it
 * across (atfork), so the child never inherits it taken.
 */
/* as in shim.c: no asm-label redirection to the *64 names */
#undef _FILE_OFFSET_BITS
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "preload/shim.h"

/* bits/stdio.h may make these macros; the shim defines the functions */
#undef fread_unlocked
#undef fwrite_unlocked

/* Streams with a buffer of ours at once: more keep glibc's. */
#define KEPT_MAX 1024

struct kept {
	FILE *fp; /* NULL: free slot */
	void *buf;
	size_t len;
};

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept kept[KEPT_MAX]; /* kept_lock */
static atomic_uint nkept;	   /* slots in use; read without the lock */
static atomic_ulong n_given;	   /* buffers given; statistics only */

unsigned long stdio_buffers_given(void)
{
	return atomic_load_explicit(&n_given, memory_order_relaxed);
}

static void kept_atfork_lock(void)
{
	pthread_mutex_lock(&kept_lock);
}

static void kept_atfork_unlock(void)
{
	pthread_mutex_unlock(&kept_lock);
}

/* kept_add - remember @fp's buffer.  Return: false when the table is full. */
static bool kept_add(FILE *fp, void *buf, size_t len)
{
	bool ok = false;

	pthread_mutex_lock(&kept_lock);
	for (size_t i = 0; i < KEPT_MAX; i++) {
		if (!kept[i].fp) {
			kept[i] = (struct kept){fp, buf, len};
			atomic_fetch_add(&nkept, 1);
			ok = true;
			break;
		}
	}
	pthread_mutex_unlock(&kept_lock);
	return ok;
}

/* kept_take - forget @fp's buffer, into *@out.  Return: whether it had one. */
static bool kept_take(FILE *fp, struct kept *out)
{
	bool found = false;

	if (!fp || !atomic_load(&nkept))
		return false;
	pthread_mutex_lock(&kept_lock);
	for (size_t i = 0; i < KEPT_MAX; i++) {
		if (kept[i].fp == fp) {
			*out = kept[i];
			kept[i].fp = NULL;
			atomic_fetch_sub(&nkept, 1);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&kept_lock);
	return found;
}

static void kept_free(const struct kept *k)
{
	uswap_raw_munmap(k->buf, k->len);
}

static void *setvbuf_slot;

/*
 * give_buffer - @fp (just opened, no I/O yet, no buffer) gets a buffer of
 * plain memory, as glibc would size it.  Anything failing leaves glibc's
 * own (malloc'd at the first I/O) as without the shim.
 */
static void give_buffer(FILE *fp)
{
	int (*next_setvbuf)(FILE *, char *, int, size_t);
	int fd = fileno(fp), mode = _IOFBF;
	size_t len = BUFSIZ;
	struct stat st;
	void *buf;

	*(void **)&next_setvbuf = shim_next(&setvbuf_slot, "setvbuf");
	if (!next_setvbuf || fp->_IO_buf_base || fd < 0)
		return;
	if (fstat(fd, &st) == 0) {
		if (S_ISCHR(st.st_mode) && isatty(fd))
			mode = _IOLBF;
		if (st.st_blksize > 0 && (size_t)st.st_blksize < BUFSIZ)
			len = (size_t)st.st_blksize;
	}
	buf = uswap_raw_mmap(NULL, len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return;
	if (!kept_add(fp, buf, len)) {
		uswap_raw_munmap(buf, len);
		return;
	}
	if (next_setvbuf(fp, buf, mode, len) != 0) {
		struct kept k;

		if (kept_take(fp, &k))
			kept_free(&k);
		return;
	}
	atomic_fetch_add_explicit(&n_given, 1, memory_order_relaxed);
}

/*
 * opened - a stream the program just opened with @mode: give it a buffer
 * (in the mode).  Not to a glibc "m" stream (read through an mmap of the
 * file: no read(2) into a buffer).
 */
static FILE *opened(FILE *fp, const char *mode)
{
	if (fp && shim_in_thread_mode() && !(mode && strchr(mode, 'm')))
		give_buffer(fp);
	return fp;
}

void stdio_init(void)
{
	pthread_atfork(kept_atfork_lock, kept_atfork_unlock,
		       kept_atfork_unlock);
	if (!uswap_faults_in_thread(shim_u))
		return;
	give_buffer(stdin);
	give_buffer(stdout);
}

/* ---- the wrappers ---- */

#define NEXT_FN(type, name, args)                               \
	static void *name##_slot;                               \
	static type(*name##_next(void)) args                    \
	{                                                       \
		type(*fn) args;                                 \
                                                                \
		*(void **)&fn = shim_next(&name##_slot, #name); \
		return fn;                                      \
	}

NEXT_FN(FILE *, fopen, (const char *, const char *))
NEXT_FN(FILE *, fopen64, (const char *, const char *))
NEXT_FN(FILE *, fdopen, (int, const char *))
NEXT_FN(FILE *, freopen, (const char *, const char *, FILE *))
NEXT_FN(FILE *, freopen64, (const char *, const char *, FILE *))
NEXT_FN(FILE *, tmpfile, (void))
NEXT_FN(FILE *, tmpfile64, (void))
NEXT_FN(FILE *, popen, (const char *, const char *))
NEXT_FN(int, fclose, (FILE *))
NEXT_FN(int, pclose, (FILE *))
NEXT_FN(size_t, fread, (void *, size_t, size_t, FILE *))
NEXT_FN(size_t, fwrite, (const void *, size_t, size_t, FILE *))
NEXT_FN(size_t, fread_unlocked, (void *, size_t, size_t, FILE *))
NEXT_FN(size_t, fwrite_unlocked, (const void *, size_t, size_t, FILE *))

SHIM_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return opened(fopen_next()(path, mode), mode);
}

SHIM_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return opened(fopen64_next()(path, mode), mode);
}

SHIM_EXPORT FILE *fdopen(int fd, const char *mode)
{
	return opened(fdopen_next()(fd, mode), mode);
}

SHIM_EXPORT FILE *tmpfile(void)
{
	return opened(tmpfile_next()(), NULL);
}

SHIM_EXPORT FILE *tmpfile64(void)
{
	return opened(tmpfile64_next()(), NULL);
}

SHIM_EXPORT FILE *popen(const char *cmd, const char *mode)
{
	return opened(popen_next()(cmd, mode), mode);
}

/*
 * CLOSING - after @fp's close (or reopen: glibc drops the buffer before it
 * opens the new file), unmap the buffer it had from us, if any: glibc
 * flushed it and holds it no more.  Its descriptor's number is free:
 * fdkind.c forgets what it knew of it.
 */
#define CLOSING(fp, call)                       \
	do {                                    \
		struct kept k_;                 \
		bool had_ = kept_take(fp, &k_); \
		int fd_ = fp ? fileno(fp) : -1; \
		__typeof__(call) r_ = (call);   \
                                                \
		if (had_)                       \
			kept_free(&k_);         \
		fd_forget(fd_);                 \
		return r_;                      \
	} while (0)

SHIM_EXPORT int fclose(FILE *fp)
{
	CLOSING(fp, fclose_next()(fp));
}

SHIM_EXPORT int pclose(FILE *fp)
{
	CLOSING(fp, pclose_next()(fp));
}

/* reopened - freopen's work: the old buffer goes (see CLOSING), a new one */
static FILE *reopened(FILE *(*next)(const char *, const char *, FILE *),
		      const char *path, const char *mode, FILE *fp)
{
	struct kept k;
	bool had = kept_take(fp, &k);
	FILE *r = next(path, mode, fp);

	if (had)
		kept_free(&k);
	return opened(r, mode);
}

SHIM_EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp)
{
	return reopened(freopen_next(), path, mode, fp);
}

SHIM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	return reopened(freopen64_next(), path, mode, fp);
}

/*
 * fread, fwrite - the caller's buffer touched first (io_touch_front: the
 * front, at most half the budget), for the transfers glibc makes straight
 * between it and the file: those of a stream's buffer size or more.
 */
static void touch_user(const void *p, size_t size, size_t n, FILE *fp,
		       bool write)
{
	size_t bufsz;

	if (!size || !n || n > SIZE_MAX / size || !shim_in_thread_mode())
		return;
	/* less than the stream's buffer only ever moves through it */
	bufsz = fp && fp->_IO_buf_base
			? (size_t)(fp->_IO_buf_end - fp->_IO_buf_base)
			: 0;
	if (size * n >= bufsz)
		io_touch_front(p, size * n, write);
}

SHIM_EXPORT size_t fread(void *p, size_t size, size_t n, FILE *fp)
{
	touch_user(p, size, n, fp, true);
	return fread_next()(p, size, n, fp);
}

SHIM_EXPORT size_t fread_unlocked(void *p, size_t size, size_t n, FILE *fp)
{
	touch_user(p, size, n, fp, true);
	return fread_unlocked_next()(p, size, n, fp);
}

SHIM_EXPORT size_t fwrite(const void *p, size_t size, size_t n, FILE *fp)
{
	touch_user(p, size, n, fp, false);
	return fwrite_next()(p, size, n, fp);
}

SHIM_EXPORT size_t fwrite_unlocked(const void *p, size_t size, size_t n,
				   FILE *fp)
{
	touch_user(p, size, n, fp, false);
	return fwrite_unlocked_next()(p, size, n, fp);
}
