/*
 * libuswap-preload.so: the shim `uswap run` loads with LD_PRELOAD (see
 * tools/run.c and docs/preload.md).
 *
 * It interposes mmap/mmap64, munmap, mremap, madvise and the mlock family
 * here, and the I/O calls that take buffers in io.c (for the in-thread
 * mode).
 * A private anonymous read-write mapping the program asks for becomes a
 * uswap region (uswap_mmap); munmap, mremap and madvise of uswap memory go
 * to uswap; everything else goes to the kernel unchanged.  The heap comes
 * from mimalloc (libmimalloc.so.2, preloaded right after this library), so
 * that malloc and friends, small allocations included, get their memory
 * from mmap calls that land here.
 *
 * Load order: LD_PRELOAD="libuswap-preload.so libmimalloc.so.2 ...".  Both
 * come before libc in the global scope, so the program's malloc is
 * mimalloc's, and mimalloc's own mmap/munmap/madvise calls bind to this
 * library, which comes first.  mimalloc stays Debian's unmodified build
 * with its own preload discipline (calls before libc is initialised, its
 * own TLS); we do not forward any malloc entry point ourselves.
 *
 * Safety:
 *  - Until the constructor has started uswap (`shim_ready`), and on
 *    uswap's own threads, every call goes straight to the system call.
 *    The forwarding path uses only syscall(2) and errno, which need no
 *    libc initialisation.
 *  - uswap's own code in this library was compiled with raw.h: its mmap
 *    calls are system calls, its private heap is glibc's allocator found
 *    with dlsym (mimalloc exports __libc_malloc too), and the threads it
 *    creates are marked as its own (shim_depth never drops to 0 on them).
 *  - A thread-local guard (shim_depth, initial-exec TLS: it never goes
 *    through the dtv, which glibc allocates with the interposed malloc)
 *    sends every call made while uswap runs on the caller's thread (inside
 *    uswap_mmap and friends) straight to the kernel.
 *  - Memory mapped before the constructor ran stays plain if ld.so or
 *    libc mapped it; what was mapped through us (mimalloc's first
 *    segment) is adopted, its pages touched by then left plain (see
 *    "mappings made before uswap was up").
 *
 * The instance is never closed: at exit the kernel tears the process down
 * (closing would swap every page back in while other threads may still
 * run).  The destructor only prints the statistics (--stats).
 */
/* as in raw.h: no asm-label redirection of mmap to mmap64 */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "api/options.h"
#include "api/api.h"
#include "lib/alloc.h"
#include "preload/shim.h"
#include "uswap.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif

/* Shared with io.c: shim.h says what each is. */
struct uswap *shim_u;
atomic_bool shim_ready;
__thread unsigned shim_depth;

static int stats_fd = -1; /* --stats: where to write (-1: no stats) */
/*
 * Larger mappings stay plain: budget + swap_size is the most uswap could
 * ever hold of them, and the pager's pte tables cost 1.6% of a region's
 * size up front (an address-space reservation of many GB would cost GBs).
 */
static size_t route_max;

/* True on uswap's own threads (set for their whole life). */
static __thread bool shim_own_thread;

/* Counters for the exit report; relaxed atomics, statistics only. */
static atomic_ulong n_routed, n_fallback, n_large, n_unmapped, n_remapped,
	n_freed, n_adopted, n_adopted_bytes, n_adopt_failed;

/*
 * ---- mappings made before uswap was up: adopted once it is ----
 *
 * What the program (in practice mimalloc, for its first segment) maps
 * through us before the constructor has started uswap would have been a
 * region had we been ready.  We note each such mapping, follow munmap,
 * mremap and MAP_FIXED over it, and the constructor adopts what is left
 * (uswap_adopt without USWAP_ADOPT_PRESENT): the pages touched by then stay
 * ordinary memory, every other page is uswap's from its first touch.  The
 * pages touched by then must stay plain: they hold what the constructor
 * itself allocated, among it the dtv of uswap's own threads, which glibc
 * touches in a forked child before uswap's new threads there can serve a
 * fault (docs/preload.md).
 *
 * Before `shim_ready` only the constructor and threads started by earlier
 * constructors (none, in practice) map; a spinlock keeps the table whole
 * anyway.  A full table drops what does not fit: it stays plain.
 */
#define EARLY_MAX 32
static struct early_range {
	uintptr_t start, end;
} early[EARLY_MAX];
static size_t nearly;
static atomic_flag early_lock = ATOMIC_FLAG_INIT;

static void early_lock_take(void)
{
	while (atomic_flag_test_and_set_explicit(&early_lock,
						 memory_order_acquire))
		;
}

static void early_lock_drop(void)
{
	atomic_flag_clear_explicit(&early_lock, memory_order_release);
}

/* early_forget - [s, e) is no longer what was noted.  early_lock held. */
static void early_forget_locked(uintptr_t s, uintptr_t e)
{
	for (size_t i = 0; i < nearly;) {
		struct early_range *r = &early[i];

		if (r->end <= s || e <= r->start) {
			i++;
		} else if (r->start < s && e < r->end) {
			/* split; if it does not fit, keep the head only */
			if (nearly < EARLY_MAX)
				early[nearly++] =
					(struct early_range){e, r->end};
			r->end = s;
			i++;
		} else if (r->start < s) {
			r->end = s;
			i++;
		} else if (e < r->end) {
			r->start = e;
			i++;
		} else {
			*r = early[--nearly];
		}
	}
}

static void early_forget(const void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr;

	early_lock_take();
	early_forget_locked(s, s + ((len + 4095) & ~(size_t)4095));
	early_lock_drop();
}

static void early_note(const void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr, e = s + ((len + 4095) & ~(size_t)4095);

	early_lock_take();
	early_forget_locked(s, e);
	if (nearly < EARLY_MAX)
		early[nearly++] = (struct early_range){s, e};
	early_lock_drop();
}

/* ---- the raw system calls (also uswap's own mmap, via raw.h) ---- */

void *uswap_raw_mremap(void *old, size_t old_len, size_t new_len, int flags,
		       ...);
int uswap_raw_madvise(void *addr, size_t len, int advice);

void *uswap_raw_mmap(void *addr, size_t len, int prot, int flags, int fd,
		     off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int uswap_raw_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

void *uswap_raw_mremap(void *old, size_t old_len, size_t new_len, int flags,
		       ...)
{
	void *new_addr = NULL;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags,
			       new_addr);
}

int uswap_raw_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

/* ---- glibc's own allocator, for the private heap (raw.h) ---- */

static void *(*libc_malloc)(size_t);
static void *(*libc_calloc)(size_t, size_t);
static void *(*libc_realloc)(void *, size_t);
static void *(*libc_memalign)(size_t, size_t);
static void (*libc_free)(void *);

void *uswap_shim_libc_malloc(size_t size);
void *uswap_shim_libc_calloc(size_t n, size_t size);
void *uswap_shim_libc_realloc(void *p, size_t size);
void *uswap_shim_libc_memalign(size_t align, size_t size);
void uswap_shim_libc_free(void *p);

void *uswap_shim_libc_malloc(size_t size)
{
	return libc_malloc(size);
}

void *uswap_shim_libc_calloc(size_t n, size_t size)
{
	return libc_calloc(n, size);
}

void *uswap_shim_libc_realloc(void *p, size_t size)
{
	return libc_realloc(p, size);
}

void *uswap_shim_libc_memalign(size_t align, size_t size)
{
	return libc_memalign(align, size);
}

void uswap_shim_libc_free(void *p)
{
	libc_free(p);
}

/*
 * find_libc_allocator - glibc's __libc_malloc and friends, looked up in
 * libc.so.6 itself: a plain reference would bind to libmimalloc.so.2,
 * which comes earlier in the global scope and exports them too.
 * Return: 0; -ENOENT.  Context: the constructor.
 */
static int find_libc_allocator(void)
{
	void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);

	if (!h)
		return -ENOENT;
	libc_malloc = (void *(*)(size_t))dlsym(h, "__libc_malloc");
	libc_calloc = (void *(*)(size_t, size_t))dlsym(h, "__libc_calloc");
	libc_realloc = (void *(*)(void *, size_t))dlsym(h, "__libc_realloc");
	libc_memalign = (void *(*)(size_t, size_t))dlsym(h, "__libc_memalign");
	libc_free = (void (*)(void *))dlsym(h, "__libc_free");
	dlclose(h);
	if (!libc_malloc || !libc_calloc || !libc_realloc || !libc_memalign ||
	    !libc_free)
		return -ENOENT;
	return 0;
}

/* ---- uswap's own threads ---- */

struct shim_thread {
	void *(*fn)(void *);
	void *arg;
};

static void *shim_thread_main(void *p)
{
	struct shim_thread t = *(struct shim_thread *)p;

	shim_depth = 1; /* for the thread's whole life */
	shim_own_thread = true;
	priv_free(p);
	return t.fn(t.arg);
}

int uswap_shim_pthread_create(pthread_t *th, const pthread_attr_t *attr,
			      void *(*fn)(void *), void *arg);

/*
 * The stack size of uswap's own threads: one no program thread is likely
 * to have.  Why it matters: in a forked child, uswap starts its threads
 * again from the atfork handler, before they can serve a fault, and
 * glibc's pthread_create reuses a stack the parent's threads left (the
 * smallest big enough, the same size first) and clears that thread's
 * dtv.  The dtv lives where malloc put it, in the program's heap, which
 * is uswap memory: had it been swapped out, the child would wait for a
 * fault nobody serves (redis BGSAVE hung so, in get_cached_stack).  With
 * a size of their own, uswap's threads in the child reuse the stacks of
 * uswap's threads in the parent, whose dtv were allocated by the
 * constructor before uswap was up: memory that stays plain (adopt_early).
 * The threads of a child's child reuse the same stacks and dtv again.
 */
#define SHIM_THREAD_STACK ((1u << 20) + 5 * 4096)

/*
 * uswap_shim_pthread_create - pthread_create for uswap's own threads
 * (raw.h): the new thread runs with the guard set, on a stack of
 * SHIM_THREAD_STACK bytes when @attr is NULL.
 * Context: uswap's code only (uswap_open, a forked child's atfork handler).
 */
int uswap_shim_pthread_create(pthread_t *th, const pthread_attr_t *attr,
			      void *(*fn)(void *), void *arg)
{
	struct shim_thread *t = priv_malloc(sizeof(*t));
	pthread_attr_t own;
	int ret;

	if (!t)
		return EAGAIN;
	t->fn = fn;
	t->arg = arg;
	if (!attr && pthread_attr_init(&own) == 0) {
		if (pthread_attr_setstacksize(&own, SHIM_THREAD_STACK) == 0)
			attr = &own;
		else
			pthread_attr_destroy(&own);
	}
	ret = pthread_create(th, attr, shim_thread_main, t);
	if (attr == &own)
		pthread_attr_destroy(&own);
	if (ret)
		priv_free(t);
	return ret;
}

/* ---- routing ---- */

/*
 * eligible - a mapping uswap can serve: private, anonymous, read-write,
 * not a stack, not huge pages, not locked, not below 2G.  MAP_NORESERVE,
 * MAP_POPULATE (pages come on demand instead) and MAP_FIXED /
 * MAP_FIXED_NOREPLACE (checked by the caller) are fine.
 */
static bool eligible(size_t len, int prot, int flags)
{
	const int bad = MAP_GROWSDOWN | MAP_STACK | MAP_HUGETLB | MAP_LOCKED |
			MAP_32BIT;

	return len && (flags & MAP_ANONYMOUS) &&
	       (flags & MAP_TYPE) == MAP_PRIVATE &&
	       prot == (PROT_READ | PROT_WRITE) && !(flags & bad);
}

/* unmap_owned - drop uswap's part of a range about to be replaced. */
static void unmap_owned(void *addr, size_t len)
{
	shim_depth++;
	(void)uswap_unmap(shim_u, addr, len);
	shim_depth--;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
		       off_t off)
{
	int ufl = 0, err;
	void *p;

	if (!shim_active()) {
		p = uswap_raw_mmap(addr, len, prot, flags, fd, off);
		if (p != MAP_FAILED && !shim_own_thread &&
		    !atomic_load_explicit(&shim_ready, memory_order_acquire)) {
			if (eligible(len, prot, flags))
				early_note(p, len);
			else if (flags & MAP_FIXED)
				early_forget(p, len);
		}
		return p;
	}
	if (!eligible(len, prot, flags)) {
		/* MAP_FIXED of something else over uswap memory */
		if ((flags & MAP_FIXED) && shim_owned(addr, len))
			unmap_owned(addr, len);
		return uswap_raw_mmap(addr, len, prot, flags, fd, off);
	}
	if (len > route_max) {
		atomic_fetch_add_explicit(&n_large, 1, memory_order_relaxed);
		if ((flags & MAP_FIXED) && shim_owned(addr, len))
			unmap_owned(addr, len);
		return uswap_raw_mmap(addr, len, prot, flags, fd, off);
	}
	if (flags & MAP_FIXED) {
		/* over plain memory: the program manages that place itself */
		if (!shim_owned(addr, len))
			return uswap_raw_mmap(addr, len, prot, flags, fd, off);
		ufl = MAP_FIXED;
	} else if (flags & MAP_FIXED_NOREPLACE) {
		ufl = MAP_FIXED_NOREPLACE;
	}
	shim_depth++;
	p = uswap_mmap(shim_u, addr, len, ufl);
	err = errno;
	shim_depth--;
	if (p != MAP_FAILED) {
		atomic_fetch_add_explicit(&n_routed, 1, memory_order_relaxed);
		return p;
	}
	if (ufl) {
		errno = err;
		return MAP_FAILED;
	}
	/* uswap could not take it: plain memory rather than a failure */
	atomic_fetch_add_explicit(&n_fallback, 1, memory_order_relaxed);
	return uswap_raw_mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
			 off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	int ret;

	if (!shim_active()) {
		if (!atomic_load_explicit(&shim_ready, memory_order_acquire))
			early_forget(addr, len);
		return uswap_raw_munmap(addr, len);
	}
	if (!shim_owned(addr, len))
		return uswap_raw_munmap(addr, len);
	shim_depth++;
	ret = uswap_unmap(shim_u, addr, len);
	shim_depth--;
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	atomic_fetch_add_explicit(&n_unmapped, 1, memory_order_relaxed);
	return 0;
}

SHIM_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags,
			 ...)
{
	void *new_addr = NULL, *p;
	va_list ap;
	int err;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (!shim_active() || !old_len) {
		p = uswap_raw_mremap(old, old_len, new_len, flags, new_addr);
		/* moved, grown or shrunk: not followed, left plain */
		if (p != MAP_FAILED &&
		    !atomic_load_explicit(&shim_ready, memory_order_acquire)) {
			early_forget(old, old_len);
			early_forget(p, new_len);
		}
		return p;
	}
	if (!shim_owned(old, old_len)) {
		/* a plain mapping moved over uswap memory */
		if ((flags & MREMAP_FIXED) && shim_owned(new_addr, new_len))
			unmap_owned(new_addr, new_len);
		return uswap_raw_mremap(old, old_len, new_len, flags, new_addr);
	}
	if (flags & MREMAP_DONTUNMAP) {
		errno = EINVAL; /* would leave a uswap range behind, empty */
		return MAP_FAILED;
	}
	shim_depth++;
	p = uswap_mremap(shim_u, old, old_len, new_len, flags, new_addr);
	err = errno;
	shim_depth--;
	if (p != MAP_FAILED)
		atomic_fetch_add_explicit(&n_remapped, 1, memory_order_relaxed);
	errno = err;
	return p;
}

/*
 * madvise - MADV_FREE on uswap memory becomes MADV_DONTNEED: both raise the
 * remove event that discards uswap's copies, but a lazily freed page would
 * stay present behind the pager's back (resident, uncounted) until the
 * kernel happens to reclaim it.  Zeros are a valid result of MADV_FREE.
 */
SHIM_EXPORT int madvise(void *addr, size_t len, int advice)
{
	if (advice == MADV_FREE && shim_active() && shim_owned(addr, len)) {
		advice = MADV_DONTNEED;
		atomic_fetch_add_explicit(&n_freed, 1, memory_order_relaxed);
	}
	return uswap_raw_madvise(addr, len, advice);
}

/*
 * The mlock family: uswap memory cannot be locked (the pager must be able
 * to move its pages out).  It is kept in RAM, compressed or not, and never
 * written to disk, which is what mlock is mostly asked for; so mlock of
 * uswap memory succeeds without locking, and mlockall locks nothing.
 */
SHIM_EXPORT int mlock(const void *addr, size_t len)
{
	if (shim_active() && shim_owned(addr, len))
		return 0;
	return (int)syscall(SYS_mlock, addr, len);
}

SHIM_EXPORT int mlock2(const void *addr, size_t len, unsigned int flags)
{
	if (shim_active() && shim_owned(addr, len))
		return 0;
	return (int)syscall(SYS_mlock2, addr, len, flags);
}

SHIM_EXPORT int munlock(const void *addr, size_t len)
{
	if (shim_active() && shim_owned(addr, len))
		return 0;
	return (int)syscall(SYS_munlock, addr, len);
}

SHIM_EXPORT int mlockall(int flags)
{
	if (atomic_load_explicit(&shim_ready, memory_order_acquire))
		return 0;
	return (int)syscall(SYS_mlockall, flags);
}

SHIM_EXPORT int munlockall(void)
{
	if (atomic_load_explicit(&shim_ready, memory_order_acquire))
		return 0;
	return (int)syscall(SYS_munlockall);
}

/* ---- start and exit ---- */

/* shim_die - loud failure at start: the program does not run. */
static void shim_die(const char *what, int err)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "uswap run: cannot start uswap in process %d: %s: %s\n"
		     "uswap run: the program was not started (see uswap(1), "
		     "`uswap run --help`)\n",
		     (int)getpid(), what, strerror(err));
	if (n > 0)
		(void)!write(2, buf,
			     (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
	_exit(127);
}

/*
 * open_stats - USWAP_STATS_FILE (`uswap run --stats-file`), else stderr.
 * Context: the constructor.
 */
static void open_stats(void)
{
	const char *path = getenv("USWAP_STATS_FILE");

	if (path && *path) {
		stats_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				0644);
		if (stats_fd < 0)
			shim_die(path, errno);
	} else {
		/* a copy: coreutils and others close stderr at exit */
		stats_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	}
}

/*
 * adopt_early - adopt what was noted before uswap was up (see "mappings
 * made before uswap was up").  A range uswap_adopt refuses (it changed
 * behind our back, or is larger than route_max) stays plain.
 * Context: the constructor, shim_u set, before `shim_ready`.
 */
static void adopt_early(void)
{
	struct early_range r[EARLY_MAX];
	size_t n;

	early_lock_take();
	n = nearly;
	memcpy(r, early, n * sizeof(r[0]));
	nearly = 0;
	early_lock_drop();
	for (size_t i = 0; i < n; i++) {
		size_t len = r[i].end - r[i].start;

		if (len <= route_max &&
		    uswap_adopt(shim_u, (void *)r[i].start, len, 0) == 0) {
			atomic_fetch_add_explicit(&n_adopted, 1,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&n_adopted_bytes, len,
						  memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&n_adopt_failed, 1,
						  memory_order_relaxed);
		}
	}
}

__attribute__((constructor(101))) static void shim_init(void)
{
	struct uswap_config cfg = {0};
	struct uswap_options opt;
	char err[256];
	struct uswap *u;
	const char *s;
	int ret;

	shim_depth++;
	io_init();
	bounce_init();
	fill_init();
	fdkind_init();
	if (find_libc_allocator() < 0)
		shim_die("glibc's __libc_malloc not found", ENOENT);
	priv_heap_use_libc();
	/*
	 * --stats: the shim prints at exit (uswap_close is never called), so
	 * the flag is not passed on to the library.
	 */
	s = getenv("USWAP_STATS");
	if (s && *s && strcmp(s, "0") && strcasecmp(s, "no") &&
	    strcasecmp(s, "off") && strcasecmp(s, "false"))
		open_stats();
	ret = uswap_open(&cfg, &u);
	if (ret < 0)
		shim_die("uswap_open", -ret);
	/* the same options again, for the routing limit (uswap_open took them) */
	if (uswap_options_resolve(NULL, &opt, err, sizeof(err)) < 0)
		shim_die(err, EINVAL);
	route_max = opt.budget + opt.swap_size;
	io_touch_max = opt.budget / 2;
	shim_u = u;
	adopt_early();
	atomic_store_explicit(&shim_ready, true, memory_order_release);
	stdio_init();
	shim_depth--;
}

static const char *prog_name(char *buf, size_t len)
{
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		n = 0;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return buf;
}

/*
 * shim_report - --stats: this process's statistics, once (at exit() from
 * the destructor, or at _exit(), which forked workers often end with).
 */
static void shim_report(void)
{
	static atomic_bool done;
	struct uswap_stats st;
	char buf[1024], comm[32], prefix[64];
	int n;

	if (stats_fd < 0 || !atomic_load(&shim_ready) ||
	    atomic_exchange(&done, true))
		return;
	memset(&st, 0, sizeof(st));
	uswap_stats(shim_u, &st);
	snprintf(prefix, sizeof(prefix), "uswap[%d %s]", (int)getpid(),
		 prog_name(comm, sizeof(comm)));
	n = uswap_stats_format(&st, prefix, buf, sizeof(buf));
	if (n > 0 && (size_t)n < sizeof(buf))
		n += snprintf(
			buf + n, sizeof(buf) - (size_t)n,
			"%s: mmap routed %lu, plain fallbacks %lu, too "
			"large %lu, munmap %lu, mremap %lu, MADV_FREE as "
			"DONTNEED %lu, adopted %lu (%lu KiB), not "
			"adopted %lu, EFAULT retried %lu, locale pages "
			"kept %lu, futex waits kept %lu, stdio buffers given "
			"%lu, received through plain memory %lu\n",
			prefix, atomic_load(&n_routed),
			atomic_load(&n_fallback), atomic_load(&n_large),
			atomic_load(&n_unmapped), atomic_load(&n_remapped),
			atomic_load(&n_freed), atomic_load(&n_adopted),
			atomic_load(&n_adopted_bytes) >> 10,
			atomic_load(&n_adopt_failed), io_retried(),
			locale_pages_kept(), futex_waits_kept(),
			stdio_buffers_given(), bounce_count());
	if (n > 0)
		(void)!write(stats_fd, buf,
			     (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
}

__attribute__((destructor(101))) static void shim_fini(void)
{
	shim_report();
}

/*
 * _exit - report first (--stats), then end the process as glibc does.  A
 * vfork child that fails its exec shares the parent's instance: it reports
 * the parent's counters under its own pid.
 */
SHIM_EXPORT void _exit(int status)
{
	shim_report();
	for (;;)
		syscall(SYS_exit_group, status);
}
