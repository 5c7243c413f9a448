/*
 * evict_batch: what taking scattered pages out of a process costs, per
 * page, by three methods (docs/pager.md, "Left / known"; issue 4's gap):
 *
 *   move    one UFFDIO_MOVE per page into a hole (uswap's single-page
 *           eviction today): a TLB flush per page
 *   run     one UFFDIO_MOVE over a run of consecutive pages (evict_run):
 *           a flush per run; shown for scale, random pages are not runs
 *   holes   one UFFDIO_MOVE with ALLOW_SRC_HOLES over the whole window:
 *           the scattered victims and the holes between them (evict_block)
 *   wp      the write-protect window: one UFFDIO_WRITEPROTECT over a
 *           window holding the victims, a copy of each, one
 *           process_madvise(MADV_DONTNEED) over all of them: two flushes
 *           per window, and a writer would be held by the WP fault; on a
 *           region whose uffd has no EVENT_REMOVE
 *   wp-ev   the same on a region whose uffd has EVENT_REMOVE, as uswap's
 *           regions must (the program's own MADV_DONTNEED): every page the
 *           madvise drops raises a remove event, and the madvise waits
 *           until a reader (a thread here, uswap's handlers there) has
 *           read it
 *
 * usage: evict_batch [ROUNDS] [--busy]
 *   A region of 4096 pages at 25% density (3 of every 4 pages a hole, as at
 *   4x the budget), victims = every resident page of a 256-page window (64
 *   pages).  Each round refills the window, then evicts it by each method
 *   in turn.  --busy: a second thread keeps touching other memory of the
 *   process on the other CPU, so that every flush is an IPI, as when the
 *   program runs.  Prints, per method, the median and min-max over the
 *   rounds of the microseconds per evicted page, and the ratio to `move`.
 * Root is not needed; userfaultfd must be allowed (vm.unprivileged_userfaultfd
 * or CAP_SYS_PTRACE).  Not a test: timings only.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "uffd/uffd.h"

#define PAGE	4096UL
#define NPAGES	4096
#define WINDOW	256
#define DENSITY 4 /* one page in DENSITY resident */
#define VICTIMS (WINDOW / DENSITY)
#define NM	6 /* methods */
static int memfd = -1;

static char *region, *region_ev, *staging, *busy_mem;
static struct uffd ru, rev, su; /* region's (WP), the same with
				   EVENT_REMOVE, staging's (MOVE dst) */
static _Atomic int stop;
static int pidfd = -1;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void *busy_main(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		for (size_t i = 0; i < 64 * PAGE; i += PAGE)
			((volatile char *)busy_mem)[i]++;
	return NULL;
}

/* wp-ev's event reader: reads and drops the remove events. */
static void *reader_main(void *arg)
{
	struct uffd_event ev[64];

	(void)arg;
	while (!atomic_load(&stop)) {
		int n = uffd_read_events(&rev, ev, 64);

		if (n < 0 && n != -EAGAIN && n != -EINTR)
			break;
	}
	return NULL;
}

static void die(const char *what, long err)
{
	fprintf(stderr, "evict_batch: %s: %s\n", what, strerror((int)-err));
	exit(1);
}

/* The window at @w: every DENSITY-th page resident (written), the rest holes. */
static void refill_in(char *r, size_t w)
{
	char *base = r + w * PAGE;

	madvise(base, WINDOW * PAGE, MADV_DONTNEED);
	for (size_t i = 0; i < WINDOW; i += DENSITY)
		base[i * PAGE] = (char)(i + 1);
}

static void refill(size_t w)
{
	refill_in(region, w);
	refill_in(region_ev, w);
	madvise(staging, WINDOW * PAGE, MADV_DONTNEED);
}

static double by_move(size_t w)
{
	double t0 = now_us();

	for (size_t i = 0; i < WINDOW; i += DENSITY) {
		long ret = uffd_move(
			&su, (uint64_t)(uintptr_t)(staging + i * PAGE),
			(uint64_t)(uintptr_t)(region + (w + i) * PAGE), PAGE,
			UFFD_DONTWAKE);

		if (ret < 0)
			die("UFFDIO_MOVE", ret);
	}
	return (now_us() - t0) / VICTIMS;
}

static double by_run(size_t w)
{
	double t0;
	long ret;

	/* the same number of pages, consecutive this time */
	madvise(region + w * PAGE, WINDOW * PAGE, MADV_DONTNEED);
	for (size_t i = 0; i < VICTIMS; i++)
		region[(w + i) * PAGE] = 1;
	t0 = now_us();
	ret = uffd_move(&su, (uint64_t)(uintptr_t)staging,
			(uint64_t)(uintptr_t)(region + w * PAGE),
			VICTIMS * PAGE, UFFD_DONTWAKE);
	if (ret < 0 || (ret > 0 && (size_t)ret != VICTIMS * PAGE))
		die("UFFDIO_MOVE (run)", ret < 0 ? ret : -EAGAIN);
	return (now_us() - t0) / VICTIMS;
}

static double by_holes(size_t w)
{
	double t0 = now_us();
	long ret =
		uffd_move(&su, (uint64_t)(uintptr_t)staging,
			  (uint64_t)(uintptr_t)(region + w * PAGE),
			  WINDOW * PAGE, UFFD_DONTWAKE | UFFD_ALLOW_SRC_HOLES);

	if (ret < 0 || (ret > 0 && (size_t)ret != WINDOW * PAGE))
		die("UFFDIO_MOVE (holes)", ret < 0 ? ret : -EAGAIN);
	return (now_us() - t0) / VICTIMS;
}

static double wp_window(struct uffd *u, char *r, size_t w)
{
	static char copy[VICTIMS][PAGE];
	struct iovec iov[VICTIMS];
	double t0 = now_us();
	int ret, n = 0;

	ret = uffd_writeprotect(u, (uint64_t)(uintptr_t)(r + w * PAGE),
				WINDOW * PAGE, true, 0);
	if (ret < 0)
		die("UFFDIO_WRITEPROTECT", ret);
	for (size_t i = 0; i < WINDOW; i += DENSITY, n++) {
		memcpy(copy[n], r + (w + i) * PAGE, PAGE);
		iov[n] = (struct iovec){r + (w + i) * PAGE, PAGE};
	}
	if (syscall(SYS_process_madvise, pidfd, iov, (size_t)n, MADV_DONTNEED,
		    0) != (long)n * (long)PAGE)
		die("process_madvise", -errno);
	t0 = (now_us() - t0) / VICTIMS;
	/* off the clock: the window's holes lose their WP markers */
	uffd_writeprotect(u, (uint64_t)(uintptr_t)(r + w * PAGE), WINDOW * PAGE,
			  false, 0);
	return t0;
}

/* wp-ev1: WP the window, pread each victim, one madvise (one event) */
static double by_wp_ev1(size_t w)
{
	static char copy[VICTIMS][PAGE];
	char *r = region_ev;
	double t0 = now_us();
	int ret, n = 0;

	ret = uffd_writeprotect(&rev, (uint64_t)(uintptr_t)(r + w * PAGE),
				WINDOW * PAGE, true, 0);
	if (ret < 0)
		die("UFFDIO_WRITEPROTECT", ret);
	for (size_t i = 0; i < WINDOW; i += DENSITY, n++)
		if (pread(memfd, copy[n], PAGE,
			  (off_t)(uintptr_t)(r + (w + i) * PAGE)) != PAGE)
			die("pread", -errno);
	if (madvise(r + w * PAGE, WINDOW * PAGE, MADV_DONTNEED))
		die("madvise", -errno);
	return (now_us() - t0) / VICTIMS;
}

static double by_wp(size_t w)
{
	return wp_window(&ru, region, w);
}

static double by_wp_ev(size_t w)
{
	return wp_window(&rev, region_ev, w);
}

/* A uffd with @features, @addr's @len bytes registered with it (MODE_WP). */
static void open_register(struct uffd *u, uint64_t features, char *addr,
			  size_t len)
{
	long ret = uffd_open(u, features, 0);

	if (ret < 0)
		die("userfaultfd", ret);
	ret = uffd_register(u, addr, len, UFFD_REG_WP);
	if (ret < 0)
		die("UFFDIO_REGISTER (MODE_WP)", ret);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 && argv[1][0] != '-' ? atoi(argv[1]) : 200;
	bool busy = argc > 1 && !strcmp(argv[argc - 1], "--busy");
	const char *names[NM] = {"move", "run",	  "holes",
				 "wp",	 "wp-ev", "wp-ev1"};
	double (*fn[NM])(size_t) = {by_move, by_run,   by_holes,
				    by_wp,   by_wp_ev, by_wp_ev1};
	double *t[NM], med[NM];
	pthread_t th, rd;

	if (rounds < 1) {
		fprintf(stderr, "evict_batch: bad ROUNDS %s\n", argv[1]);
		return 2;
	}
	region = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	region_ev = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	staging = mmap(NULL, WINDOW * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	busy_mem = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || region_ev == MAP_FAILED ||
	    staging == MAP_FAILED || busy_mem == MAP_FAILED)
		die("mmap", -errno);
	madvise(region, NPAGES * PAGE, MADV_NOHUGEPAGE);
	madvise(region_ev, NPAGES * PAGE, MADV_NOHUGEPAGE);
	madvise(staging, WINDOW * PAGE, MADV_NOHUGEPAGE);
	open_register(&ru, UFFD_FEATURE_MOVE, region, NPAGES * PAGE);
	open_register(&rev, UFFD_FEATURE_EVENT_REMOVE, region_ev,
		      NPAGES * PAGE);
	open_register(&su, UFFD_FEATURE_MOVE, staging, WINDOW * PAGE);
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	memfd = open("/proc/self/mem", O_RDONLY);
	if (pidfd < 0)
		die("pidfd_open", -errno);
	if (busy)
		pthread_create(&th, NULL, busy_main, NULL);
	pthread_create(&rd, NULL, reader_main, NULL);
	for (int m = 0; m < NM; m++)
		t[m] = calloc((size_t)rounds, sizeof(double));
	for (int r = 0; r < rounds; r++) {
		size_t w = (size_t)(r % (NPAGES / WINDOW)) * WINDOW;

		for (int m = 0; m < NM; m++) {
			int k = (m + r) % NM; /* interleaved, rotating order */

			refill(w);
			t[k][r] = fn[k](w);
		}
	}
	atomic_store(&stop, 1);
	if (busy)
		pthread_join(th, NULL);
	/* wake the reader with one last remove event */
	madvise(region_ev, PAGE, MADV_DONTNEED);
	pthread_join(rd, NULL);
	printf("evict_batch: %d rounds, %d victims per round (a %d-page window "
	       "at 1/%d density)%s\n",
	       rounds, VICTIMS, WINDOW, DENSITY,
	       busy ? ", a second thread running" : "");
	printf("%-5s %10s %22s %8s\n", "how", "us/page", "(min-max)",
	       "vs move");
	for (int m = 0; m < NM; m++) {
		qsort(t[m], (size_t)rounds, sizeof(double), cmp);
		med[m] = t[m][rounds / 2];
	}
	for (int m = 0; m < NM; m++)
		printf("%-5s %10.2f   (%7.2f - %8.2f) %7.2fx\n", names[m],
		       med[m], t[m][0], t[m][rounds - 1], med[m] / med[0]);
	return 0;
}
