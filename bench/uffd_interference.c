/*
 * uffd_interference: what a page install (UFFDIO_COPY, uswap's swap-in)
 * costs while another thread of the same process changes its page tables
 * on the other CPU, as uswap's reclaimer does while the program faults
 * (docs/BENCHMARKS.md, "Where one thread's time goes").
 *
 * The main thread, pinned to CPU 0, fills a registered region (MISSING and
 * WP, as uswap registers its regions) one UFFDIO_COPY per page and then
 * empties it; the other thread, pinned to CPU 1, does one of:
 *
 *   alone     nothing (sleeps)
 *   busy      a compute loop (no system call)
 *   dontneed  touches 32 pages of another mapping, drops them with one
 *             MADV_DONTNEED (one TLB flush), again and again
 *   wp-N      write-protects N present pages of another mapping (one
 *             UFFDIO_WRITEPROTECT, one flush), drops and re-touches them:
 *             a window eviction's first step; N = 1, 16, 64
 *
 * Every flush of the process's TLB must reach CPU 0 while the main thread
 * runs there: an IPI, which on this VM is a round trip through the
 * hypervisor.  The modes alternate within each round.  Prints, per mode,
 * the median (min-max) over the rounds of the ns per UFFDIO_COPY, its
 * ratio to `alone`, and for wp-N the median µs per UFFDIO_WRITEPROTECT.
 *
 * usage: uffd_interference [ROUNDS]   (default 15)
 * Needs 2 CPUs and userfaultfd (vm.unprivileged_userfaultfd or
 * CAP_SYS_PTRACE).  Not a test: timings only.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "uffd/uffd.h"

#define PAGE   4096UL
#define NPAGES 2048 /* region the main thread fills */
#define OTHER  4096 /* pages of the other thread's mapping */

enum mode { ALONE, BUSY, DONTNEED, WP1, WP16, WP64, NMODES };
static const char *const names[NMODES] = {"alone", "busy",  "dontneed",
					  "wp-1",  "wp-16", "wp-64"};
static const size_t wp_pages[NMODES] = {0, 0, 0, 1, 16, 64};

static struct uffd u;
static char *region, *other, *src;
static _Atomic int mode = -1; /* -1: idle; -2: exit */
static _Atomic long wp_ns, wp_n;

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
		fprintf(stderr, "uffd_interference: cannot pin to CPU %d\n",
			cpu);
		exit(1);
	}
}

static void *other_main(void *arg)
{
	size_t at = 0;
	int m;

	(void)arg;
	pin(1);
	while ((m = atomic_load(&mode)) != -2) {
		if (m == -1 || m == ALONE) {
			usleep(100);
		} else if (m == BUSY) {
			for (volatile int k = 0; k < 10000; k++)
				;
		} else if (m == DONTNEED) {
			for (size_t k = 0; k < 32; k++)
				other[((at + k) % OTHER) * PAGE] = 1;
			madvise(other + (at % OTHER) * PAGE, 32 * PAGE,
				MADV_DONTNEED);
			at = (at + 32) % (OTHER - 32);
		} else {
			size_t n = wp_pages[m];
			char *p = other + (at % (OTHER - 64)) * PAGE;
			long t0;

			for (size_t k = 0; k < n; k++)
				p[k * PAGE] = 1;
			t0 = now_ns();
			if (uffd_writeprotect(&u, (uint64_t)(uintptr_t)p,
					      n * PAGE, true, 0) < 0) {
				fprintf(stderr, "uffd_interference: "
						"UFFDIO_WRITEPROTECT failed\n");
				exit(1);
			}
			atomic_fetch_add(&wp_ns, now_ns() - t0);
			atomic_fetch_add(&wp_n, 1);
			uffd_writeprotect(&u, (uint64_t)(uintptr_t)p, n * PAGE,
					  false, 0);
			madvise(p, n * PAGE, MADV_DONTNEED);
			at += 64;
		}
	}
	return NULL;
}

/* One pass of the main thread: ns per UFFDIO_COPY over the region. */
static long fill_pass(void)
{
	long t0 = now_ns();

	for (size_t i = 0; i < NPAGES; i++) {
		long ret = uffd_copy(&u, (uint64_t)(uintptr_t)region + i * PAGE,
				     src, PAGE, UFFD_DONTWAKE);

		if (ret < 0) {
			fprintf(stderr, "uffd_interference: UFFDIO_COPY: %s\n",
				strerror((int)-ret));
			exit(1);
		}
	}
	t0 = (now_ns() - t0) / NPAGES;
	madvise(region, NPAGES * PAGE, MADV_DONTNEED);
	return t0;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	long *ns[NMODES], wp_us[NMODES][64];
	pthread_t t;

	if (rounds < 1 || rounds > 64) {
		fprintf(stderr, "uffd_interference: ROUNDS '%s': 1 to 64\n",
			argv[1]);
		return 2;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "uffd_interference: needs 2 CPUs\n");
		return 77;
	}
	if (uffd_open(&u, 0, 0) < 0)
		return 77;
	region = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	other = mmap(NULL, OTHER * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src = aligned_alloc(PAGE, PAGE);
	if (region == MAP_FAILED || other == MAP_FAILED || !src) {
		perror("uffd_interference: mmap");
		return 1;
	}
	memset(src, 7, PAGE);
	madvise(region, NPAGES * PAGE, MADV_NOHUGEPAGE);
	madvise(other, OTHER * PAGE, MADV_NOHUGEPAGE);
	if (uffd_register(&u, region, NPAGES * PAGE,
			  UFFD_REG_MISSING | UFFD_REG_WP) < 0 ||
	    uffd_register(&u, other, OTHER * PAGE, UFFD_REG_WP) < 0) {
		fprintf(stderr, "uffd_interference: register failed\n");
		return 77;
	}
	pin(0);
	pthread_create(&t, NULL, other_main, NULL);
	for (int m = 0; m < NMODES; m++)
		ns[m] = calloc((size_t)rounds, sizeof(long));
	for (int r = 0; r < rounds; r++) {
		for (int m = 0; m < NMODES; m++) {
			atomic_store(&wp_ns, 0);
			atomic_store(&wp_n, 0);
			atomic_store(&mode, m);
			usleep(2000); /* let it start */
			ns[m][r] = fill_pass();
			atomic_store(&mode, -1);
			wp_us[m][r] = atomic_load(&wp_n)
					      ? atomic_load(&wp_ns) /
							atomic_load(&wp_n) /
							1000
					      : 0;
		}
	}
	atomic_store(&mode, -2);
	pthread_join(t, NULL);

	printf("UFFDIO_COPY of one page, %d pages per pass, %d rounds; the "
	       "other thread on CPU 1:\n",
	       NPAGES, rounds);
	printf("| other thread | ns per COPY, median (min-max) | ratio to "
	       "alone | µs per WRITEPROTECT |\n|---|---|---|---|\n");
	qsort(ns[ALONE], (size_t)rounds, sizeof(long), cmp_long);
	for (int m = 0; m < NMODES; m++) {
		long med;

		qsort(ns[m], (size_t)rounds, sizeof(long), cmp_long);
		qsort(wp_us[m], (size_t)rounds, sizeof(long), cmp_long);
		med = ns[m][rounds / 2];
		printf("| %s | %ld (%ld-%ld) | %.2f | ", names[m], med,
		       ns[m][0], ns[m][rounds - 1],
		       (double)med / (double)ns[ALONE][rounds / 2]);
		if (wp_pages[m])
			printf("%ld |\n", wp_us[m][rounds / 2]);
		else
			printf("- |\n");
	}
	return 0;
}
